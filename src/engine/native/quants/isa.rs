//! Which instruction set the kernels use: the best this CPU has, found once at run time, so one
//! binary is fast on every machine it runs on. `SUMMARISE_ISA` picks a lower one (for tests and
//! benchmarks of each path); a set the CPU lacks is refused, never run.

use std::sync::OnceLock;

/// A kernel path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Plain Rust, any CPU: the reference the others are tested against.
    Scalar,
    /// x86-64 with AVX2, FMA and F16C (Haswell, Zen 1 and later).
    Avx2,
    /// AVX2 plus VNNI byte dot products on 256-bit vectors (AVX512-VNNI with AVX512-VL, or
    /// AVX-VNNI): Ice Lake, Sapphire Rapids, Alder Lake, Zen 4 and later. One instruction
    /// (`vpdpbusd`) replaces AVX2's multiply-add pair in every integer dot product.
    Vnni,
    /// Arm64 NEON (every aarch64 CPU).
    Neon,
}

impl Isa {
    /// Name as `SUMMARISE_ISA` and the benchmarks spell it.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Vnni => "vnni",
            Isa::Neon => "neon",
        }
    }

    /// Parse a `SUMMARISE_ISA` value.
    pub fn parse(s: &str) -> Option<Isa> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "scalar" => Isa::Scalar,
            "avx2" => Isa::Avx2,
            "vnni" | "avx512" | "avx512-vnni" | "avx-vnni" => Isa::Vnni,
            "neon" => Isa::Neon,
            _ => return None,
        })
    }

    /// Every path this CPU can run, the scalar one first.
    pub fn available() -> Vec<Isa> {
        let mut v = vec![Isa::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("f16c");
            if avx2 {
                v.push(Isa::Avx2);
                if Isa::vnni512() || std::arch::is_x86_feature_detected!("avxvnni") {
                    v.push(Isa::Vnni);
                }
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            if std::arch::is_aarch64_feature_detected!("neon") {
                v.push(Isa::Neon);
            }
        }
        v
    }

    /// Whether the CPU has AVX512-VNNI with the AVX-512 sets its 256-bit kernels are compiled
    /// with (F, BW, VL): [`Isa::Vnni`] then takes those, else AVX-VNNI's.
    #[cfg(target_arch = "x86_64")]
    pub(crate) fn vnni512() -> bool {
        std::arch::is_x86_feature_detected!("avx512vnni")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512f")
    }

    /// Whether this CPU can run `self`.
    pub fn runs_here(self) -> bool {
        Isa::available().contains(&self)
    }

    /// The path the kernels use: `SUMMARISE_ISA` when set (and runnable), else the best.
    pub fn current() -> Isa {
        static CURRENT: OnceLock<Isa> = OnceLock::new();
        *CURRENT.get_or_init(|| {
            let best = *Isa::available().last().expect("scalar is always there");
            match std::env::var("SUMMARISE_ISA") {
                Ok(want) => match Isa::parse(&want) {
                    Some(isa) if isa.runs_here() => isa,
                    Some(isa) => {
                        eprintln!(
                            "summarise: SUMMARISE_ISA={want}: this CPU cannot run {}; using {}",
                            isa.name(),
                            best.name()
                        );
                        best
                    }
                    None => {
                        eprintln!(
                            "summarise: SUMMARISE_ISA={want} is not one of scalar, avx2, vnni, neon; using {}",
                            best.name()
                        );
                        best
                    }
                },
                Err(_) => best,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_scalar_always_runs() {
        for isa in [Isa::Scalar, Isa::Avx2, Isa::Vnni, Isa::Neon] {
            assert_eq!(Isa::parse(isa.name()), Some(isa));
        }
        assert_eq!(Isa::parse("sse9"), None);
        assert!(Isa::Scalar.runs_here());
        assert!(Isa::current().runs_here());
    }
}
