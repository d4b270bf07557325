//! Q4_0: blocks of 32 values, an f16 scale `d` and 4-bit quants stored plus 8: `w = d * (q - 8)`.
//! Layout (18 bytes): d, then 16 bytes of nibbles (value `j` low, value `j + 16` high).

use super::block32::Block32;

/// The Q4_0 format.
pub(crate) struct Q4_0;

impl Block32 for Q4_0 {
    const BITS: u32 = 4;
    const HAS_MIN: bool = false;
    const OFFSET: f32 = 8.0;
}
