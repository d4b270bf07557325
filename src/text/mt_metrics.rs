//! Corpus-level chrF2 and BLEU of translations, computed exactly as sacrebleu 2.x's defaults do.
//!
//! Both metrics sum per-line match counts over the whole corpus and only then turn the sums into
//! a score, so a corpus score is not the mean of line scores. One reference per hypothesis;
//! hypotheses and references pair up in order and any surplus on the longer side is ignored, as
//! sacrebleu's `zip` does. An empty corpus, or one without any match, scores 0.
//!
//! chrF2 (sacrebleu `corpus_chrf` defaults: `nc:6|nw:0|space:no|eff:yes`, case kept): character
//! n-grams of orders 1 to 6 over each line with all whitespace removed. For every order the
//! corpus holds hypothesis, reference and matched (clipped) n-gram counts; a line whose reference
//! is too short to have n-grams of an order adds no hypothesis n-grams of that order. Precision
//! and recall are averaged over the orders where both the hypothesis and the reference counts are
//! non-zero, and the score is F-beta (beta 2) of the two averages, x100.
//!
//! BLEU (sacrebleu `corpus_bleu` defaults: `tok:13a|smooth:exp|case:mixed|eff:no`): lines are
//! tokenised as mteval-v13a does, then word n-grams of orders 1 to 4 are clipped against the
//! reference. The score is the brevity penalty times the geometric mean of the four corpus
//! precisions (in percent). Smoothing "exp" (NIST): the k-th order without any match counts as
//! precision 100 / (2^k x total); an order with no hypothesis n-grams at all stops the loop and it
//! and later orders count as log-precision -9999999999, which drives the score to 0.

use std::collections::HashMap;
use std::hash::Hash;

/// Character n-gram orders of chrF.
const CHAR_ORDER: usize = 6;
/// Weight of recall against precision in chrF's F-score.
const BETA: f64 = 2.0;
/// Word n-gram orders of BLEU.
const WORD_ORDER: usize = 4;
/// sacrebleu's floor for log(0) in BLEU's geometric mean.
const LOG_ZERO: f64 = -9_999_999_999.0;

/// Corpus chrF2 (x100) of `hyps` against `refs`, one reference per hypothesis.
pub fn chrf(hyps: &[&str], refs: &[&str]) -> f64 {
    let mut totals = [ChrfCounts::default(); CHAR_ORDER];
    for (hyp, reference) in hyps.iter().zip(refs) {
        let hyp = strip_whitespace(hyp);
        let reference = strip_whitespace(reference);
        let (hyp_bounds, ref_bounds) = (char_bounds(&hyp), char_bounds(&reference));
        for (n, total) in (1..=CHAR_ORDER).zip(totals.iter_mut()) {
            let hyp_grams = count(char_ngrams(&hyp, &hyp_bounds, n));
            let ref_grams = count(char_ngrams(&reference, &ref_bounds, n));
            let reference_count: usize = ref_grams.values().sum();
            // sacrebleu credits no hypothesis n-grams where the reference has none of this order.
            if reference_count > 0 {
                total.hyp += hyp_grams.values().sum::<usize>();
            }
            total.reference += reference_count;
            total.matched += clipped_matches(&hyp_grams, &ref_grams);
        }
    }
    chrf_score(&totals)
}

/// Corpus BLEU (x100) of `hyps` against `refs`, one reference per hypothesis, 13a tokenisation.
pub fn bleu(hyps: &[&str], refs: &[&str]) -> f64 {
    let mut totals = BleuCounts::default();
    for (hyp, reference) in hyps.iter().zip(refs) {
        let hyp = tokenize_13a(hyp);
        let reference = tokenize_13a(reference);
        let hyp_tokens: Vec<&str> = hyp.split(' ').filter(|t| !t.is_empty()).collect();
        let ref_tokens: Vec<&str> = reference.split(' ').filter(|t| !t.is_empty()).collect();
        totals.hyp_len += hyp_tokens.len();
        totals.ref_len += ref_tokens.len();
        for n in 1..=WORD_ORDER {
            let hyp_grams = count(hyp_tokens.windows(n));
            let ref_grams = count(ref_tokens.windows(n));
            totals.total[n - 1] += hyp_grams.values().sum::<usize>();
            totals.matched[n - 1] += clipped_matches(&hyp_grams, &ref_grams);
        }
    }
    bleu_score(&totals)
}

/// Corpus sums for one chrF order.
#[derive(Clone, Copy, Default, Debug)]
struct ChrfCounts {
    hyp: usize,
    reference: usize,
    matched: usize,
}

/// Corpus sums for BLEU: token counts and, per order, hypothesis and matched n-grams.
#[derive(Default, Debug)]
struct BleuCounts {
    hyp_len: usize,
    ref_len: usize,
    total: [usize; WORD_ORDER],
    matched: [usize; WORD_ORDER],
}

fn chrf_score(orders: &[ChrfCounts]) -> f64 {
    let (mut precision, mut recall, mut effective) = (0.0, 0.0, 0usize);
    for c in orders.iter().filter(|c| c.hyp > 0 && c.reference > 0) {
        precision += c.matched as f64 / c.hyp as f64;
        recall += c.matched as f64 / c.reference as f64;
        effective += 1;
    }
    if effective == 0 {
        return 0.0;
    }
    let precision = precision / effective as f64;
    let recall = recall / effective as f64;
    if precision + recall == 0.0 {
        return 0.0;
    }
    let factor = BETA * BETA;
    100.0 * ((1.0 + factor) * precision * recall / (factor * precision + recall))
}

fn bleu_score(c: &BleuCounts) -> f64 {
    if c.matched.iter().all(|&m| m == 0) {
        return 0.0;
    }
    let brevity = if c.hyp_len >= c.ref_len {
        1.0
    } else if c.hyp_len == 0 {
        0.0
    } else {
        (1.0 - c.ref_len as f64 / c.hyp_len as f64).exp()
    };
    let mut precisions = [0.0f64; WORD_ORDER];
    let mut smoothing = 1.0f64;
    for (p, (&total, &matched)) in precisions.iter_mut().zip(c.total.iter().zip(&c.matched)) {
        if total == 0 {
            break;
        }
        *p = if matched == 0 {
            smoothing *= 2.0;
            100.0 / (smoothing * total as f64)
        } else {
            100.0 * matched as f64 / total as f64
        };
    }
    let log_sum = precisions
        .iter()
        .map(|&p| if p == 0.0 { LOG_ZERO } else { p.ln() })
        .fold(0.0, |acc, l| acc + l);
    brevity * (log_sum / WORD_ORDER as f64).exp()
}

/// Python's `str.isspace`, which sacrebleu's `split()` and `rstrip()` use: Unicode White_Space
/// plus the ASCII information separators U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn strip_whitespace(text: &str) -> String {
    text.chars().filter(|&c| !is_py_space(c)).collect()
}

/// Byte offsets of every char start in `text`, then its length.
fn char_bounds(text: &str) -> Vec<usize> {
    text.char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect()
}

/// The n-char substrings of `text`, given its `char_bounds`.
fn char_ngrams<'a>(
    text: &'a str,
    bounds: &'a [usize],
    n: usize,
) -> impl Iterator<Item = &'a str> + 'a {
    bounds.windows(n + 1).map(move |w| &text[w[0]..w[n]])
}

fn count<K: Eq + Hash>(items: impl Iterator<Item = K>) -> HashMap<K, usize> {
    let mut counts = HashMap::new();
    for item in items {
        *counts.entry(item).or_insert(0) += 1;
    }
    counts
}

/// Hypothesis n-grams found in the reference, each counted at most as often as there.
fn clipped_matches<K: Eq + Hash>(hyp: &HashMap<K, usize>, reference: &HashMap<K, usize>) -> usize {
    hyp.iter()
        .map(|(gram, &n)| reference.get(gram).map_or(0, |&r| n.min(r)))
        .sum()
}

/// sacrebleu's "13a" tokenizer (mteval-v13a.pl): tokens joined by single spaces.
fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .trim_end_matches(is_py_space)
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        for (entity, plain) in [
            ("&quot;", "\""),
            ("&amp;", "&"),
            ("&lt;", "<"),
            ("&gt;", ">"),
        ] {
            line = line.replace(entity, plain);
        }
    }

    // Symbols other than ' , - . and alphanumerics stand apart.
    let mut spaced: Vec<char> = Vec::with_capacity(line.len() + 2);
    for c in std::iter::once(' ')
        .chain(line.chars())
        .chain(std::iter::once(' '))
    {
        if matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/') {
            spaced.extend([' ', c, ' ']);
        } else {
            spaced.push(c);
        }
    }
    let not_digit = |c: char| !c.is_ascii_digit();
    let period_or_comma = |c: char| matches!(c, '.' | ',');
    // A period or comma splits off unless a digit precedes it ...
    let spaced = split_pairs(&spaced, not_digit, period_or_comma, |a, b| [a, ' ', b, ' ']);
    // ... or follows it.
    let spaced = split_pairs(&spaced, period_or_comma, not_digit, |a, b| [' ', a, ' ', b]);
    // A dash after a digit splits off.
    let spaced = split_pairs(
        &spaced,
        |c| c.is_ascii_digit(),
        |c| c == '-',
        |a, b| [a, ' ', b, ' '],
    );

    let spaced: String = spaced.into_iter().collect();
    spaced
        .split(is_py_space)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A regex substitution of a two-char pattern `(first)(second)`: scanning left to right, each
/// non-overlapping pair that matches is replaced by `rewrite(first, second)`, like Python's
/// `re.sub` with such a pattern.
fn split_pairs(
    chars: &[char],
    first: impl Fn(char) -> bool,
    second: impl Fn(char) -> bool,
    rewrite: impl Fn(char, char) -> [char; 4],
) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len() + chars.len() / 4);
    let mut i = 0;
    while i < chars.len() {
        match chars.get(i + 1) {
            Some(&next) if first(chars[i]) && second(next) => {
                out.extend(rewrite(chars[i], next));
                i += 2;
            }
            _ => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn identical_lines_score_100() {
        let lines = [
            "The council approved the budget on Tuesday.",
            "Prices rose 3.5% in May.",
        ];
        assert!(close(chrf(&lines, &lines), 100.0));
        assert!(close(bleu(&lines, &lines), 100.0));
    }

    #[test]
    fn empty_hypotheses_and_corpora_score_0() {
        assert_eq!(chrf(&[""], &["The museum reopens."]), 0.0);
        assert_eq!(bleu(&[""], &["The museum reopens."]), 0.0);
        assert_eq!(chrf(&[], &[]), 0.0);
        assert_eq!(bleu(&[], &[]), 0.0);
        assert_eq!(chrf(&[""], &[""]), 0.0);
        assert_eq!(bleu(&[""], &[""]), 0.0);
        assert_eq!(chrf(&["   "], &["\t"]), 0.0);
        assert_eq!(bleu(&["Rain."], &[]), 0.0);
    }

    #[test]
    fn chrf_averages_precision_and_recall_over_orders_with_counts() {
        // "ab" vs "abc": order 1 P 2/2 R 2/3, order 2 P 1/1 R 1/2, order 3 has no hypothesis
        // n-gram and orders 4-6 no reference n-gram, so they are left out of the averages:
        // P = 1, R = 7/12, F2 = 5PR / (4P + R) = 7/11.
        assert!(close(chrf(&["ab"], &["abc"]), 700.0 / 11.0));
        // Whitespace is removed before n-grams are taken.
        assert!(close(chrf(&["a b"], &[" ab c"]), 700.0 / 11.0));
    }

    #[test]
    fn chrf_sums_counts_over_the_corpus() {
        // Order 1: P 3/4, R 3/4 over both lines. Order 2: the "x" reference has no bigram, so the
        // "xy" bigram is not counted: P 1/1, R 1/2. Order 3: no hypothesis trigram, left out.
        // P = 7/8, R = 5/8, F2 = 5PR / (4P + R) = 175/264.
        let score = chrf(&["ab", "xy"], &["abc", "x"]);
        assert!(close(score, 17500.0 / 264.0), "{score}");
    }

    #[test]
    fn bleu_geometric_mean_of_clipped_precisions() {
        // 1-grams 5/6 ("the" clipped to one), 2-grams 3/5, 3-grams 2/4, 4-grams 1/3: (1/12)^(1/4).
        let score = bleu(&["the cat sat on the mat"], &["the cat sat on a mat"]);
        assert!(close(score, 100.0 * (1.0f64 / 12.0).powf(0.25)), "{score}");
    }

    #[test]
    fn bleu_exp_smoothing_halves_each_order_without_a_match() {
        // 1-grams 3/4, 2-grams 2/3, 3-grams 1/2, 4-grams 0/1 -> 1/(2*1): (1/8)^(1/4).
        let score = bleu(&["a b c d"], &["a b c e"]);
        assert!(close(score, 100.0 * (1.0f64 / 8.0).powf(0.25)), "{score}");
        // No 4-gram at all in a three-token hypothesis: the score collapses to 0.
        assert_eq!(bleu(&["a b c"], &["a b c"]), 0.0);
    }

    #[test]
    fn bleu_brevity_penalty() {
        // Every precision is 1, 4 tokens against 6: exp(1 - 6/4).
        let score = bleu(&["a b c d"], &["a b c d e f"]);
        assert!(close(score, 100.0 * (-0.5f64).exp()), "{score}");
    }

    #[test]
    fn tokenizer_13a() {
        assert_eq!(tokenize_13a("Hello, world!"), "Hello , world !");
        assert_eq!(tokenize_13a("It costs $1,200.50."), "It costs $ 1,200.50 .");
        assert_eq!(
            tokenize_13a("AT&amp;T said &quot;no&quot;"),
            "AT & T said \" no \""
        );
        assert_eq!(
            tokenize_13a("A well-known 3-4 don't"),
            "A well-known 3 - 4 don't"
        );
        assert_eq!(tokenize_13a("Wait... (what?)  "), "Wait . . . ( what ? )");
        assert_eq!(tokenize_13a("3,5\u{a0}% y 2,1%"), "3,5 % y 2,1 %");
        assert_eq!(tokenize_13a("«Sí», dijo."), "«Sí» , dijo .");
        assert_eq!(tokenize_13a("   "), "");
    }
}
