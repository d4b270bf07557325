//! Q8_0: blocks of 32 values, an f16 scale `d` and signed 8-bit quants: `w = d * q`.
//! Layout (34 bytes): d, then the 32 quants.

use super::block32::Block32;

/// The Q8_0 format.
pub(crate) struct Q8_0;

impl Block32 for Q8_0 {
    const BITS: u32 = 8;
    const HAS_MIN: bool = false;
    const OFFSET: f32 = 0.0;
}
