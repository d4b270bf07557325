//! Q5_0: blocks of 32 values, an f16 scale `d` and 5-bit quants stored plus 16: `w = d * (q - 16)`.
//! Layout (22 bytes): d, 4 bytes of fifth bits (bit `j` for value `j`), 16 bytes of nibbles.

use super::block32::Block32;

/// The Q5_0 format.
pub(crate) struct Q5_0;

impl Block32 for Q5_0 {
    const BITS: u32 = 5;
    const HAS_MIN: bool = false;
    const OFFSET: f32 = 16.0;
}
