//! Property test of the quote finder: on any text at all (random mixes of quote marks, dashes,
//! apostrophes, letters, spaces and line breaks, and mangled versions of the annotated
//! passages), it never panics and every record's text is exactly the source at its byte and
//! char offsets.

use summarise::text::quotes;

/// A small deterministic generator (xorshift), so failures replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    "\"",
    "“",
    "”",
    "«",
    "»",
    "„",
    "‘",
    "’",
    "'",
    "‹",
    "›",
    "—",
    "–",
    "-",
    " ",
    " ",
    " ",
    "\n",
    "\n\n",
    ",",
    ".",
    "?",
    "¿",
    ":",
    "said",
    "dijo",
    "she",
    "Ana Ruiz",
    "the minister",
    "according to",
    "según",
    "Novillo",
    "don't",
    "’90s",
    "word",
    "palabra",
    "é",
    "ñ",
    "😀",
    "A",
    "b",
    "según la",
];

fn check(text: &str) {
    for q in quotes::find(text) {
        assert!(q.start <= q.end && q.end <= text.len(), "{text:?}");
        assert_eq!(&text[q.start..q.end], q.text, "{text:?}");
        let chars: Vec<char> = text.chars().collect();
        let by_chars: String = chars[q.char_start..q.char_end].iter().collect();
        assert_eq!(by_chars, q.text, "{text:?}");
        assert!(!q.text.trim().is_empty());
        if let Some(s) = &q.speaker {
            assert!(
                text.contains(s.name.as_str()),
                "speaker {:?} not in {text:?}",
                s.name
            );
        }
    }
}

#[test]
fn random_texts_never_yield_text_outside_the_source() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for _ in 0..20_000 {
        let n = 1 + rng.below(40);
        let text: String = (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        check(&text);
    }
}

#[test]
fn mangled_annotated_passages_never_yield_text_outside_the_source() {
    let passages = summarise::tasks::eval::quotes::load(None).unwrap();
    let mut rng = Rng(0xfeed_beef_0000_0002);
    for p in &passages {
        check(&p.text);
        let chars: Vec<char> = p.text.chars().collect();
        for _ in 0..200 {
            // Delete, duplicate or swap in a quote mark at a few random places.
            let mut c = chars.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(c.len().max(1));
                match rng.below(3) {
                    0 if !c.is_empty() => {
                        c.remove(at.min(c.len() - 1));
                    }
                    1 => c.insert(at, ['"', '“', '”', '«', '»', '\'', '’', '—'][rng.below(8)]),
                    _ => c.insert(at, '\n'),
                }
            }
            check(&c.into_iter().collect::<String>());
        }
    }
}
