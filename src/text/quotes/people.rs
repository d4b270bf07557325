//! The people (and organisations) an article names: capitalised runs of words with their
//! titles stripped, so that "Novillo", "the minister" and "he" can be led back to the fullest
//! name the article gives, "Edmundo Novillo".

use super::lexicon::{self, Lexicon};

/// A word of the text with its byte range.
#[derive(Debug, Clone, Copy)]
pub struct Word<'a> {
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
}

/// The words of `text[from..to]`: letters, digits, and inner `'’-.` (so "Ashby-Reyes",
/// "don't" and "Dr." stay whole).
pub fn words(text: &str, from: usize, to: usize) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    let slice = &text[from..to];
    let mut iter = slice.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let next_word = iter.peek().is_some_and(|&(_, n)| n.is_alphanumeric());
        let inner = "'’-".contains(c) && next_word && start.is_some();
        let abbrev = c == '.' && start.is_some_and(|s: usize| i - s <= 3) && !next_word;
        if c.is_alphanumeric() || inner {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            let end = if abbrev { i + 1 } else { i };
            out.push(word(slice, from, s, end));
        }
    }
    if let Some(s) = start {
        out.push(word(slice, from, s, slice.len()));
    }
    out
}

/// A word without its possessive ending ("Galván's" is "Galván").
fn word(slice: &str, from: usize, s: usize, e: usize) -> Word<'_> {
    let text = &slice[s..e];
    let bare = text
        .strip_suffix("'s")
        .or_else(|| text.strip_suffix("’s"))
        .filter(|b| !b.is_empty())
        .unwrap_or(text);
    Word {
        text: bare,
        start: from + s,
        end: from + s + bare.len(),
    }
}

fn capitalised(w: &str) -> bool {
    w.chars().next().is_some_and(char::is_uppercase)
}

/// Lower-case words allowed inside a name ("María de la Cruz", "Ludwig van Beethoven").
const PARTICLES: &[&str] = &[
    "de", "del", "la", "las", "los", "van", "von", "da", "di", "du", "le", "y", "e", "bin", "al",
    "of", "for", "the", "and",
];

/// Capitalised words that open sentences rather than names.
const NOT_NAMES: &[&str] = &[
    "The", "A", "An", "In", "On", "At", "After", "Asked", "Under", "But", "And", "As", "It", "Its",
    "This", "That", "These", "Those", "When", "While", "Nearby", "Several", "Some", "Many", "For",
    "Speaking", "Despite", "Yet", "If", "He", "She", "They", "We", "I", "You", "Our", "His", "Her",
    "El", "La", "Los", "Las", "Un", "Una", "En", "Con", "Tras", "Según", "Pero", "Y", "Al", "Del",
    "Por", "Para", "Desde", "Ante", "Sin", "Su", "Sus", "Este", "Esta", "Ese", "Esa", "Ya", "No",
    "Yes", "Sí", "Mientras", "Cuando", "Como", "A", "Ella", "Él",
];

/// One name as the article writes it, with the titles in front of it.
#[derive(Debug, Clone)]
pub struct Mention {
    /// The name, titles excluded ("Edmundo Novillo").
    pub name: String,
    /// Byte offset of the mention (titles included).
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
    /// Title words in front, lower case ("defense", "minister").
    pub titles: Vec<String>,
}

/// Whether the word starting at byte `at` opens a sentence, a paragraph or a quotation.
fn sentence_start(text: &str, at: usize) -> bool {
    let before = text[..at].trim_end_matches([' ', '\t']);
    if let Some(head) = before.strip_suffix('.') {
        // "Dr. Samuel", "J. Smith": a title or an initial, not a sentence end.
        let last: String = head
            .chars()
            .rev()
            .take_while(|c| c.is_alphabetic())
            .collect();
        let last: String = last.chars().rev().collect();
        let initial = last.chars().count() == 1 && last.chars().all(char::is_uppercase);
        return !(initial || lexicon::get().is_title(&last));
    }
    if before.is_empty() || before.ends_with(['!', '?', '\n', '“', '‘', '«', '„', '‹', '¿', '¡'])
    {
        return true;
    }
    // A straight mark or a dash opens something when a space or line start is before it.
    let mut rev = before.chars().rev();
    matches!(rev.next(), Some('"' | '\'' | '—' | '–')) && rev.next().is_none_or(char::is_whitespace)
}

/// Every name-like run of `text`. A capitalised word opening a sentence counts only if the
/// text also capitalises it elsewhere ("Later Novillo left" names Novillo, not "Later").
pub fn mentions(text: &str) -> Vec<Mention> {
    let lex = lexicon::get();
    let all = words(text, 0, text.len());
    let mid_caps: std::collections::HashSet<&str> = all
        .iter()
        .filter(|w| capitalised(w.text) && !sentence_start(text, w.start))
        .map(|w| w.text)
        .collect();
    let mut out: Vec<Mention> = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let w = all[i];
        let first_name = {
            let l = w.text.to_lowercase();
            lex.names.female_first.contains(&l) || lex.names.male_first.contains(&l)
        };
        let opener = sentence_start(text, w.start) && !mid_caps.contains(w.text) && !first_name;
        if !capitalised(w.text) || NOT_NAMES.contains(&w.text) || opener {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < all.len() {
            let gap = &text[all[j - 1].end..all[j].start];
            if !gap.trim().is_empty() {
                break;
            }
            if capitalised(all[j].text) {
                j += 1;
                continue;
            }
            // Particles inside a name: "de la" in "María de la Cruz".
            let mut k = j;
            while k < all.len()
                && PARTICLES.contains(&all[k].text)
                && text[all[k - 1].end..all[k].start].trim().is_empty()
            {
                k += 1;
            }
            if k > j
                && k < all.len()
                && capitalised(all[k].text)
                && text[all[k - 1].end..all[k].start].trim().is_empty()
            {
                j = k + 1;
            } else {
                break;
            }
        }
        // Lower-case titles just before ("la alcaldesa María Ortega", "resident Marcus").
        let mut titles: Vec<String> = Vec::new();
        let mut k = i;
        while k > 0
            && lex.is_title(all[k - 1].text)
            && text[all[k - 1].end..all[k].start].trim().is_empty()
        {
            k -= 1;
            titles.insert(0, all[k].text.trim_end_matches('.').to_lowercase());
        }
        // A title a few words back, across lower-case words and one comma: "La fiscal del
        // caso, Begoña Irazábal" and "the district's public health director, Dr. Samuel".
        let mut back = k;
        let mut commas = 0;
        while back > 0 && k - back < 6 {
            let gap = &text[all[back - 1].end..all[back].start];
            if gap.contains(['.', '!', '?', ';', ':', '"', '“', '”', '«', '»']) {
                break;
            }
            commas += gap.matches(',').count();
            if commas > 1 {
                break;
            }
            back -= 1;
            let t = all[back].text;
            if capitalised(t) && !lex.is_title(t) {
                break;
            }
            if lex.is_title(t) {
                let t = t.trim_end_matches('.').to_lowercase();
                if !titles.contains(&t) {
                    titles.push(t);
                }
            }
        }
        // Titles inside the run: the name is what follows the last of them.
        let mut first = i;
        for (m, w) in all.iter().enumerate().take(j).skip(i) {
            if lex.is_title(w.text) && m + 1 < j {
                titles.push(w.text.trim_end_matches('.').to_lowercase());
                first = m + 1;
            }
        }
        // Words before the last title ("Defense" of "Defense Minister") are part of it.
        for w in &all[i..first] {
            let t = w.text.trim_end_matches('.').to_lowercase();
            if !titles.contains(&t) {
                titles.push(t);
            }
        }
        let name = text[all[first].start..all[j - 1].end].to_string();
        // In apposition ("the minister of Finance, Lucía Barrenechea") the titles are the
        // person's too.
        if let Some(prev) = out.last() {
            let between: &str = &text[prev.end..all[k].start];
            if between.trim() == "," {
                for t in prev.titles.clone() {
                    if !titles.contains(&t) {
                        titles.push(t);
                    }
                }
            }
        }
        out.push(Mention {
            name,
            start: all[k].start,
            end: all[j - 1].end,
            titles,
        });
        i = j;
    }
    out
}

/// Whether a name holds a word of an organisation or place ("Kellerton Film Festival").
pub(super) fn organisation(full: &str, lex: &Lexicon) -> bool {
    full.split_whitespace()
        .any(|w| lex.names.organisations.contains(&w.to_lowercase()))
}

/// Gender a person's titles state, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Female,
    Male,
}

/// The people an article names, for resolving short forms.
pub struct People {
    pub mentions: Vec<Mention>,
    /// The fullest name of each mention, in the same order.
    full: Vec<String>,
}

impl People {
    pub fn of(text: &str) -> People {
        let mut people = People {
            mentions: mentions(text),
            full: Vec::new(),
        };
        people.full = people
            .mentions
            .iter()
            .map(|m| people.fullest(&m.name))
            .collect();
        people
    }

    /// The people named, by their fullest names, in order of first mention; organisations and
    /// places are left out.
    pub fn names(&self) -> Vec<String> {
        let lex = super::lexicon::get();
        let mut out: Vec<String> = Vec::new();
        for full in &self.full {
            if !organisation(full, lex) && !out.contains(full) {
                out.push(full.clone());
            }
        }
        out
    }

    /// Mentions with their fullest names, last first, up to byte `at`.
    fn before(&self, at: usize) -> impl Iterator<Item = (&Mention, &String)> {
        self.mentions
            .iter()
            .zip(&self.full)
            .rev()
            .filter(move |(m, _)| m.end <= at)
    }

    /// Every mention of the person whose fullest name is `full`.
    fn mentions_of<'a>(&'a self, full: &'a str) -> impl Iterator<Item = &'a Mention> {
        self.mentions
            .iter()
            .zip(&self.full)
            .filter(move |(_, f)| *f == full)
            .map(|(m, _)| m)
    }

    /// The fullest name the article gives for `name`: the longest mentioned name that ends
    /// with its words or holds them ("Novillo" gives "Edmundo Novillo").
    pub fn fullest(&self, name: &str) -> String {
        let want: Vec<&str> = name.split_whitespace().collect();
        let mut best = name.to_string();
        for m in &self.mentions {
            let have: Vec<&str> = m.name.split_whitespace().collect();
            let holds = have.len() > want.len()
                && (have.ends_with(&want)
                    || have.windows(want.len()).any(|w| w == want.as_slice()));
            if holds && have.len() > best.split_whitespace().count() {
                best = m.name.clone();
            }
        }
        best
    }

    /// Whether any mention of the person `full` has a title.
    fn titled(&self, full: &str) -> bool {
        self.mentions_of(full).any(|m| !m.titles.is_empty())
    }

    /// Gender stated by any title of `name` (its fullest form), else by a common first name.
    pub fn gender(&self, name: &str, lex: &Lexicon) -> Option<Gender> {
        let full = self.fullest(name);
        let by_title = self.gender_by_title(&full, lex);
        if by_title.is_some() {
            return by_title;
        }
        let first = full.split_whitespace().next()?.to_lowercase();
        if full.split_whitespace().count() < 2 {
            return None;
        }
        if lex.names.female_first.contains(&first) {
            Some(Gender::Female)
        } else if lex.names.male_first.contains(&first) {
            Some(Gender::Male)
        } else {
            None
        }
    }

    fn gender_by_title(&self, full: &str, lex: &Lexicon) -> Option<Gender> {
        for m in self.mentions_of(full) {
            for t in &m.titles {
                if lex.names.female.contains(t) {
                    return Some(Gender::Female);
                }
                if lex.names.male.contains(t) {
                    return Some(Gender::Male);
                }
            }
        }
        None
    }

    /// The person last named before byte `at` who fits: holds the title `role`, has the
    /// gender `gender`, or, with neither, any person-like name (two words or more, or titled).
    pub fn last_before(
        &self,
        at: usize,
        role: Option<&str>,
        gender: Option<Gender>,
        lex: &Lexicon,
    ) -> Option<String> {
        if role.is_none() && gender.is_none() {
            // Anyone will do: first someone the text shows to be a person (a title, a known
            // first name), then any name of two words or more.
            let evident = self.before(at).find(|(_, full)| {
                let first = full.split_whitespace().next().unwrap_or("").to_lowercase();
                !organisation(full, lex)
                    && (self.titled(full)
                        || lex.names.female_first.contains(&first)
                        || lex.names.male_first.contains(&first))
            });
            if let Some((_, full)) = evident {
                return Some(full.clone());
            }
        }
        let mut fallback = None;
        for (m, full) in self.before(at) {
            let personlike = !organisation(full, lex)
                && (!m.titles.is_empty() || full.split_whitespace().count() >= 2);
            if !personlike {
                continue;
            }
            if let Some(role) = role {
                if self
                    .mentions_of(full)
                    .any(|o| o.titles.iter().any(|t| t == role))
                {
                    return Some(full.clone());
                }
                continue;
            }
            match (gender, self.gender(full, lex)) {
                (Some(g), Some(h)) if g == h => return Some(full.clone()),
                (Some(_), Some(_)) => continue,
                (Some(_), None) => {
                    fallback.get_or_insert_with(|| full.clone());
                }
                (None, _) => return Some(full.clone()),
            }
        }
        fallback
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_stripped_and_short_forms_lead_to_the_full_name() {
        let text = "Defense Minister Edmundo Novillo spoke. Later Novillo left. La alcaldesa María de la Cruz habló.";
        let people = People::of(text);
        let names: Vec<&str> = people.mentions.iter().map(|m| m.name.as_str()).collect();
        assert!(names.contains(&"Edmundo Novillo"), "{names:?}");
        assert!(names.contains(&"María de la Cruz"), "{names:?}");
        assert_eq!(people.fullest("Novillo"), "Edmundo Novillo");
        let lex = lexicon::get();
        assert_eq!(
            people
                .last_before(text.len(), Some("minister"), None, lex)
                .as_deref(),
            Some("Edmundo Novillo")
        );
        assert_eq!(
            people
                .last_before(text.len(), None, Some(Gender::Female), lex)
                .as_deref(),
            Some("María de la Cruz")
        );
    }
}
