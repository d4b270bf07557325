//! Plain loops compiled a second time for AVX2+FMA and picked at run time, so a portable
//! build vectorises the element-wise work eight lanes wide where the CPU allows.
//!
//! Rust never fuses a multiply and an add on its own, so both copies compute the same bits.

/// Whether the kernels' instruction set (which `SUMMARISE_ISA` can lower) has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn avx2() -> bool {
    use super::quants::Isa;
    matches!(Isa::current(), Isa::Avx2 | Isa::Vnni)
}

/// Define `fn name(args) -> ret { body }` so that the body runs compiled with AVX2 and FMA
/// when [`avx2`] holds, and as built otherwise. Plain (non-generic) functions only.
macro_rules! avx2_dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if $crate::engine::native::dispatch::avx2() {
                    // SAFETY: the CPU has AVX2 and FMA.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use avx2_dispatch;
