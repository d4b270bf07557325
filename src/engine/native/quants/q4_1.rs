//! Q4_1: blocks of 32 values, an f16 scale `d` and minimum `m`, 4-bit quants: `w = d * q + m`.
//! Layout (20 bytes): d, m, then 16 bytes of nibbles (value `j` low, value `j + 16` high).

use super::block32::Block32;

/// The Q4_1 format.
pub(crate) struct Q4_1;

impl Block32 for Q4_1 {
    const BITS: u32 = 4;
    const HAS_MIN: bool = true;
    const OFFSET: f32 = 0.0;
}
