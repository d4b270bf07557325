//! Drafts for speculative decoding, taken from the text itself: summaries, quote attributions
//! and translations copy long runs of their article, so the tokens that followed the last
//! occurrence of what was just written are a good guess at what comes next. The model checks a
//! draft in one pass and keeps only what it would have written anyway (see `super::generate`).

/// Proposes the tokens likely to come next.
pub trait Drafter {
    /// Replace `out` with up to `max` tokens guessed to follow `seq` (prompt and output so far,
    /// last token included); leave it empty to make no guess.
    fn draft(&mut self, seq: &[u32], max: usize, out: &mut Vec<u32>);
    /// Learn how many of the last draft's tokens the model kept.
    fn accepted(&mut self, _drafted: usize, _kept: usize) {}
}

/// Prompt lookup: find the most recent earlier occurrence of the longest tail of `seq` (from
/// `max_ngram` tokens down to `min_ngram`) and propose what followed it. Allocates nothing.
///
/// A draft the model rejects still costs its rows in the checking pass (0.4 of a step a row
/// for Qwen2.5 1.5B on a Zen 3 core), so the draft length adapts: it shrinks after a rejected
/// draft and grows back while drafts are kept; and after a draft rejected whole, the next
/// 1, 2, 4 .. 16 passes (doubling while rejections go on) make no guess, so text that does not
/// copy spends fewer rows on drafts (on an article whose drafts kept 28% the checks fell from
/// 36 drafted tokens to 19; its time stayed within the machine's noise, see README.md).
#[derive(Debug, Clone)]
pub struct PromptLookup {
    /// Longest tail matched.
    pub max_ngram: usize,
    /// Shortest tail matched: one-token matches are mostly noise.
    pub min_ngram: usize,
    /// Draft length now, at most the caller's `max`.
    len: usize,
    /// Passes left without a guess, and how many the next whole rejection gives.
    pause: usize,
    next_pause: usize,
}

/// The longest pause after drafts rejected whole, in passes.
const MAX_PAUSE: usize = 16;

impl Default for PromptLookup {
    fn default() -> Self {
        PromptLookup {
            max_ngram: 4,
            min_ngram: 2,
            len: usize::MAX,
            pause: 0,
            next_pause: 1,
        }
    }
}

impl Drafter for PromptLookup {
    fn draft(&mut self, seq: &[u32], max: usize, out: &mut Vec<u32>) {
        out.clear();
        let max = max.min(self.len);
        let n = seq.len();
        if max == 0 {
            return;
        }
        if self.pause > 0 {
            self.pause -= 1;
            return;
        }
        for g in (self.min_ngram.max(1)..=self.max_ngram).rev() {
            if g >= n {
                continue;
            }
            let tail = &seq[n - g..];
            // Most recent first: the nearest context is the likeliest to go on the same way.
            if let Some(i) = (0..n - g).rev().find(|&i| seq[i..i + g] == *tail) {
                let from = i + g;
                out.extend_from_slice(&seq[from..(from + max).min(n)]);
                return;
            }
        }
    }

    fn accepted(&mut self, drafted: usize, kept: usize) {
        if drafted > 0 && kept == 0 {
            self.pause = self.next_pause;
            self.next_pause = (2 * self.next_pause).min(MAX_PAUSE);
        } else if kept > 0 {
            self.next_pause = 1;
        }
        self.len = match kept {
            k if k == drafted => self.len.saturating_mul(2).max(drafted + 1),
            0 => (drafted / 2).max(1),
            k => k + 1,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(seq: &[u32], max: usize) -> Vec<u32> {
        let mut out = vec![99];
        PromptLookup::default().draft(seq, max, &mut out);
        out
    }

    #[test]
    fn the_longest_recent_match_gives_what_followed_it() {
        // "1 2 3" occurred twice; the later occurrence is followed by 7 8.
        let seq = [1, 2, 3, 4, 5, 1, 2, 3, 7, 8, 9, 1, 2, 3];
        assert_eq!(draft(&seq, 2), vec![7, 8]);
        assert_eq!(draft(&seq, 10), vec![7, 8, 9, 1, 2, 3]);
        // A two-token tail is enough; one token is not.
        assert_eq!(draft(&[5, 6, 0, 5, 6], 3), vec![0, 5, 6]);
        assert_eq!(draft(&[5, 6, 0, 6], 3), Vec::<u32>::new());
    }

    #[test]
    fn no_match_short_input_or_no_room_gives_no_draft() {
        assert!(draft(&[], 4).is_empty());
        assert!(draft(&[1], 4).is_empty());
        assert!(draft(&[1, 2, 3, 4], 4).is_empty());
        assert!(draft(&[1, 2, 1, 2], 0).is_empty());
    }

    #[test]
    fn the_draft_length_adapts_to_what_is_kept() {
        let seq: Vec<u32> = (0..20).chain(0..3).collect();
        let mut d = PromptLookup::default();
        let mut out = Vec::new();
        d.draft(&seq, 6, &mut out);
        assert_eq!(out.len(), 6);
        d.accepted(6, 0);
        // A whole rejection pauses drafting for one pass, then the draft is shorter.
        d.draft(&seq, 6, &mut out);
        assert!(out.is_empty());
        d.draft(&seq, 6, &mut out);
        assert_eq!(out.len(), 3);
        d.accepted(3, 1);
        d.draft(&seq, 6, &mut out);
        assert_eq!(out.len(), 2);
        d.accepted(2, 2);
        d.draft(&seq, 6, &mut out);
        assert_eq!(out.len(), 4);
    }

    #[test]
    fn pauses_double_while_drafts_are_rejected_and_reset_when_one_is_kept() {
        let seq: Vec<u32> = (0..20).chain(0..3).collect();
        let mut d = PromptLookup::default();
        let mut out = Vec::new();
        let mut silent = |d: &mut PromptLookup| {
            let mut n = 0;
            loop {
                d.draft(&seq, 6, &mut out);
                if !out.is_empty() {
                    return n;
                }
                n += 1;
            }
        };
        let mut pauses = Vec::new();
        for _ in 0..7 {
            d.accepted(1, 0);
            pauses.push(silent(&mut d));
        }
        assert_eq!(pauses, vec![1, 2, 4, 8, 16, 16, 16]);
        d.accepted(1, 1);
        d.accepted(2, 0);
        assert_eq!(silent(&mut d), 1);
    }
}
