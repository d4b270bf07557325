//! Abstractive summaries: the request the model answers (as much of the article as fits), what
//! it wrote kept behind the fact guard, and many articles' requests decoded together.

use std::time::Instant;

use super::{extract, guard, layout, plan, prompt, report::Work, Summariser, Summary};
use super::{Coverage, FactCheck, Mode, SummaryOptions, SummaryReport};
use crate::error::{Error, Result};
use crate::generate::{Generation, StopReason};
use crate::text::input::Article;

impl Summariser {
    /// The request for the model to summarise `text` (the cleaned `article`): as much of the
    /// article as fits the context, and how much that is.
    pub(super) fn request(
        &mut self,
        article: &Article,
        text: &str,
        options: &SummaryOptions,
    ) -> Result<(Vec<u32>, Coverage)> {
        let cap = self.context_cap;
        let l = self.loaded(Mode::Abstractive)?;
        let context = cap.map_or(l.model.info.context_length, |c| {
            c.min(l.model.info.context_length)
        });
        let answer = options.answer_budget();
        let overhead = {
            let empty = prompt::request(&l.spec.prompts, options, "");
            l.encode(&empty.system, &empty.user, &empty.answer)?.len()
        };
        let room = context.saturating_sub(overhead + answer);
        if room < 16 {
            return Err(Error::Input {
                source_name: article.source.clone(),
                message: format!(
                    "cannot be summarised in a context of {context} tokens: the instructions take \
                     {overhead} and the answer {answer}; allow more context or a shorter summary"
                ),
            });
        }
        let tokenizer = &l.model.tokenizer;
        let mut count = |t: &str| Ok(tokenizer.encode(t, false, false)?.len());
        let (used, coverage) = plan::fit(text, room, &mut count)?;
        let request = prompt::request(&l.spec.prompts, options, &used);
        let ids = l.encode(&request.system, &request.user, &request.answer)?;
        Ok((ids, coverage))
    }

    /// The token ids of the request the model answers for an abstractive summary of
    /// `article` (what a run with `options` would prefill), to run elsewhere.
    pub fn abstractive_prompt(
        &mut self,
        article: &Article,
        options: &SummaryOptions,
    ) -> Result<Vec<u32>> {
        let (text, _) = self.begin(article)?;
        Ok(self.request(article, &text, options)?.0)
    }

    /// Summarise every article of `articles` as [`Summariser::summarise`] does, in order, with
    /// up to `width` of the model's answers decoding together (abstractive summaries on an
    /// engine with batched steps; other modes go one by one). Each summary is the one the
    /// article gets alone; an article that fails gets its error and the others go on.
    pub fn summarise_batch(
        &mut self,
        articles: &[Article],
        options: &SummaryOptions,
        width: usize,
    ) -> Vec<Result<SummaryReport>> {
        let together = options.mode == Mode::Abstractive
            && width > 1
            && articles.len() > 1
            && options.validate().is_ok()
            && self.loaded.is_some();
        if !together {
            return articles
                .iter()
                .map(|a| self.summarise(a, options, &mut |_| {}))
                .collect();
        }
        let start = Instant::now();
        let prepared: Vec<Result<_>> = articles
            .iter()
            .map(|a| {
                let (text, removed) = self.begin(a)?;
                let (ids, coverage) = self.request(a, &text, options)?;
                Ok((text, removed, ids, coverage))
            })
            .collect();
        let prompts: Vec<Vec<u32>> = prepared
            .iter()
            .filter_map(|p| p.as_ref().ok().map(|p| p.2.clone()))
            .collect();
        let batch = prompts.len();
        let loaded = self.loaded.as_mut().expect("checked above");
        let gens = loaded.generate_batch(
            &prompts,
            options.answer_budget(),
            options.temperature,
            options.seed,
            width,
        );
        let mut gens = match gens {
            Ok(g) => g.into_iter(),
            Err(e) => {
                let message = format!("could not be summarised: batched decoding failed: {e}");
                return articles
                    .iter()
                    .zip(prepared)
                    .map(|(a, p)| {
                        p.and_then(|_| {
                            Err(Error::Input {
                                source_name: a.source.clone(),
                                message: message.clone(),
                            })
                        })
                    })
                    .collect();
            }
        };
        articles
            .iter()
            .zip(prepared)
            .map(|(article, p)| {
                let (text, removed, _, coverage) = p?;
                let gen = gens.next().expect("one generation per prompt")?;
                let mut work = Work::default();
                let (sentences, facts, stop) = written(gen, &text, options, &mut work);
                let summary = Summary {
                    sentences,
                    facts,
                    coverage,
                    stop,
                    removed,
                    batch,
                };
                Ok(self.report(article, options, summary, work, start))
            })
            .collect()
    }
}

/// The sentences of the model's answer `gen` that the fact guard keeps against `text`, the
/// guard's findings and why the answer ended; the model's work is added to `work`. When the
/// guard keeps nothing, the article's own leading sentences stand in.
pub(super) fn written(
    gen: Generation,
    text: &str,
    options: &SummaryOptions,
    work: &mut Work,
) -> (Vec<String>, FactCheck, StopReason) {
    work.prompt_tokens += gen.prompt_tokens;
    work.cached_tokens += gen.cached_tokens;
    work.generated_tokens += gen.generated_tokens;
    work.prefill_secs += gen.prefill_secs;
    work.decode_secs += gen.decode_secs;
    work.speculation.add(&gen.speculation);
    let whole = whole_sentences(gen.text.trim(), gen.stop);
    let sentences: Vec<String> = layout::lines(&whole)
        .iter()
        .flat_map(|line| crate::text::sentences::split(line))
        .collect();
    let (kept, facts) = guard::check(sentences, text);
    let kept = if kept.is_empty() {
        // Every sentence made something up: fall back to the article's own.
        let all = extract::split(text);
        extract::select(&all, options.sentences)
            .into_iter()
            .map(|i| all[i].clone())
            .collect()
    } else {
        kept
    };
    (kept, facts, gen.stop)
}

/// A summary cut short (by the token limit or a repetition) ends at its last complete sentence,
/// when it has one.
fn whole_sentences(text: &str, stop: StopReason) -> String {
    if matches!(stop, StopReason::Stop) {
        return text.to_string();
    }
    let mut sentences = crate::text::sentences::split(text);
    if sentences.len() > 1
        && !sentences
            .last()
            .is_some_and(|s| crate::text::sentences::ends_sentence(s))
    {
        sentences.pop();
        // Keep the writer's own spacing: cut the text at the end of the last whole sentence.
        if let Some(last) = sentences.last() {
            if let Some(at) = text.find(last.as_str()) {
                return text[..at + last.len()].to_string();
            }
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_summary_ends_at_its_last_whole_sentence() {
        let text = "The council voted to close the library. Residents will appeal. The county";
        assert_eq!(
            whole_sentences(text, StopReason::MaxTokens),
            "The council voted to close the library. Residents will appeal."
        );
        assert_eq!(whole_sentences(text, StopReason::Stop), text);
        // A single unfinished sentence is kept rather than emptied.
        assert_eq!(
            whole_sentences("The council voted", StopReason::MaxTokens),
            "The council voted"
        );
    }
}
