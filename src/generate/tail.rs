//! One sequence's output as it grows: the tokens and text so far, and the stop rules that end
//! it (stop token, stop text, a repeated tail, the token limit, the context). Token-by-token and
//! batched decoding both feed their picks through it.

use super::{find_stop_text, repeated_tail, GenerateConfig, StopReason};
use crate::error::{Error, Result};

/// `tokenizers`' incremental decoder for the crate's tokenizer type.
type Stream<'t> = tokenizers::DecodeStream<
    't,
    tokenizers::ModelWrapper,
    tokenizers::NormalizerWrapper,
    tokenizers::PreTokenizerWrapper,
    tokenizers::PostProcessorWrapper,
    tokenizers::DecoderWrapper,
>;

/// The generated tokens and text of one sequence.
pub(super) struct Tail<'t> {
    stream: Stream<'t>,
    pub(super) text: String,
    pub(super) generated: Vec<u32>,
    /// Length of `text` after each generated token, to cut a repeated tail.
    text_ends: Vec<usize>,
    pub(super) prompt_len: usize,
    context: usize,
    max_tokens: usize,
}

impl<'t> Tail<'t> {
    /// An empty output after a prompt of `prompt_len` tokens, in a context of `context`, of
    /// at most `max_tokens` tokens.
    pub(super) fn new(
        tokenizer: &'t crate::engine::Tokenizer,
        prompt_len: usize,
        context: usize,
        max_tokens: usize,
    ) -> Tail<'t> {
        Tail {
            stream: tokenizer.inner().decode_stream(true),
            text: String::new(),
            generated: Vec::with_capacity(max_tokens),
            text_ends: Vec::with_capacity(max_tokens),
            prompt_len,
            context,
            max_tokens,
        }
    }

    /// Take the picked token `next`, passing any new text to `on_text`; returns why the
    /// sequence ends, if it does. When it goes on, the next pass runs `next` at
    /// [`Tail::position`].
    pub(super) fn push(
        &mut self,
        next: u32,
        config: &GenerateConfig,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Option<StopReason>> {
        if config.stop_ids.contains(&next) {
            return Ok(Some(StopReason::Stop));
        }
        self.generated.push(next);
        let piece = self
            .stream
            .step(next)
            .map_err(|e| Error::Decode(format!("token {next}: {e}")))?;
        if let Some(piece) = piece {
            let before = self.text.len();
            self.text.push_str(&piece);
            if let Some(cut) = find_stop_text(&self.text, before, &config.stop_texts) {
                on_text(&self.text[before..cut.max(before)]);
                self.text.truncate(cut);
                return Ok(Some(StopReason::Stop));
            }
            on_text(&piece);
        }
        self.text_ends.push(self.text.len());
        if let Some(keep) = repeated_tail(&self.generated) {
            self.text.truncate(self.text_ends[keep - 1]);
            return Ok(Some(StopReason::Repetition));
        }
        if self.generated.len() >= self.max_tokens {
            return Ok(Some(StopReason::MaxTokens));
        }
        if self.position() + 1 >= self.context {
            return Ok(Some(StopReason::Context));
        }
        Ok(None)
    }

    /// The position of the last token taken: where it runs to give the next one's logits.
    pub(super) fn position(&self) -> usize {
        self.prompt_len + self.generated.len() - 1
    }
}
