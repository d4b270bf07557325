//! Q5_1: blocks of 32 values, an f16 scale `d` and minimum `m`, 5-bit quants: `w = d * q + m`.
//! Layout (24 bytes): d, m, 4 bytes of fifth bits (bit `j` for value `j`), 16 bytes of nibbles.

use super::block32::Block32;

/// The Q5_1 format.
pub(crate) struct Q5_1;

impl Block32 for Q5_1 {
    const BITS: u32 = 5;
    const HAS_MIN: bool = true;
    const OFFSET: f32 = 0.0;
}
