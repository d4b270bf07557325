//! llama.cpp's teacher-forced logits over our parity text, as `scripts/parity-fixtures.sh`
//! writes them: the top 32 logits of each position and the log-sum-exp of its whole row.

use serde::Deserialize;

#[derive(Deserialize)]
pub struct TeacherForced {
    pub tokens: Vec<u32>,
    pub top_ids: Vec<Vec<u32>>,
    pub top_logits: Vec<Vec<f64>>,
    pub lse: Vec<f64>,
}
