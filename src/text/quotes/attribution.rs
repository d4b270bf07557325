//! Who said it: the cue verb next to a quotation and the speaker next to the cue, resolved
//! from a surname, a pronoun or a role ("the minister") to the fullest name in the article.

use super::lexicon::{self, Lexicon};
use super::marks::Span;
use super::people::{organisation, words, Gender, People, Word};

/// A quotation's speaker and how it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    /// The speaker as the text writes it next to the cue ("the minister", "she", "Novillo").
    pub as_written: String,
    /// The fullest name the article gives that speaker.
    pub name: String,
    /// The cue ("said", "según"), or empty when carried over from a quotation before.
    pub cue: String,
    /// How sure the rules are, 0 to 1.
    pub confidence: f32,
}

/// What the writer's words around a quotation are.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub before: (usize, usize),
    pub after: (usize, usize),
}

/// The writer's words before and after span `n` within its sentence.
pub fn context(text: &str, spans: &[Span], n: usize, paragraph: (usize, usize)) -> Context {
    let s = &spans[n];
    let prev_close = n
        .checked_sub(1)
        .map(|k| &spans[k])
        .filter(|p| p.paragraph == s.paragraph)
        .map_or(paragraph.0, |p| p.close_at.max(paragraph.0));
    let before_from = last_sentence_start(text, prev_close, s.open_at.max(prev_close));
    let after = match s.narration {
        Some(range) => range,
        None => {
            let next_open = spans
                .get(n + 1)
                .filter(|x| x.paragraph == s.paragraph)
                .map_or(paragraph.1, |x| x.open_at);
            let to = next_open.max(s.close_at);
            // A quotation ending a sentence inside its marks, followed by a capital, ends the
            // writer's sentence too: what follows is not its attribution.
            let inner = text[s.start..s.end].trim_end_matches(['"', '\'', '’', '”']);
            let next = text[s.close_at..to].trim_start();
            let ended = inner.ends_with(['.', '!', '?'])
                && next.chars().next().is_some_and(char::is_uppercase);
            let end = if ended {
                s.close_at
            } else {
                first_sentence_end(text, s.close_at, to)
            };
            (s.close_at, end)
        }
    };
    Context {
        before: (before_from, s.open_at.max(before_from)),
        after,
    }
}

fn last_sentence_start(text: &str, from: usize, to: usize) -> usize {
    let slice = &text[from..to];
    let mut start = from;
    let chars: Vec<(usize, char)> = slice.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        if ".!?".contains(c)
            && chars.get(k + 1).is_some_and(|&(_, n)| n.is_whitespace())
            && !abbreviation(slice, i)
        {
            start = from + i + c.len_utf8();
        }
    }
    start
}

fn first_sentence_end(text: &str, from: usize, to: usize) -> usize {
    let slice = &text[from..to];
    let chars: Vec<(usize, char)> = slice.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        if ".!?".contains(c)
            && chars.get(k + 1).is_none_or(|&(_, n)| n.is_whitespace())
            && !abbreviation(slice, i)
        {
            return from + i;
        }
    }
    to
}

/// "Dr." and other short capitalised abbreviations do not end a sentence.
fn abbreviation(slice: &str, dot: usize) -> bool {
    let word: String = slice[..dot]
        .chars()
        .rev()
        .take_while(|c| c.is_alphabetic())
        .collect();
    (1..=3).contains(&word.chars().count()) && word.chars().last().is_some_and(char::is_uppercase)
}

/// Where a cue sits in a range: the word indices it covers.
fn find_cue(ws: &[Word<'_>], lex: &Lexicon) -> Option<(usize, usize, String)> {
    let lower: Vec<String> = ws.iter().map(|w| w.text.to_lowercase()).collect();
    let mut best: Option<(usize, usize, String)> = None;
    for cue in lex.all_cues() {
        let parts: Vec<&str> = cue.split_whitespace().collect();
        if let Some(i) = (0..lower.len()).find(|&i| {
            parts.len() <= lower.len() - i
                && parts.iter().enumerate().all(|(k, p)| lower[i + k] == *p)
        }) {
            let better = best
                .as_ref()
                .is_none_or(|(b, e, _)| i < *b || (i == *b && i + parts.len() > *e));
            if better {
                best = Some((i, i + parts.len(), cue.to_string()));
            }
        }
    }
    best
}

/// A speaker as written at word `i` of `ws`: a name (its whole capitalised run), a pronoun,
/// or an article plus role ("the minister", "la ministra").
#[derive(Debug, Clone)]
enum Who {
    Name(String),
    Pronoun(Option<Gender>, String),
    Role(String, String),
}

fn who_at(text: &str, ws: &[Word<'_>], i: usize, people: &People, lex: &Lexicon) -> Option<Who> {
    let w = ws[i].text;
    let lw = w.to_lowercase();
    if lex.pronouns.female.contains(&lw) {
        return Some(Who::Pronoun(Some(Gender::Female), w.to_string()));
    }
    if lex.pronouns.male.contains(&lw) {
        return Some(Who::Pronoun(Some(Gender::Male), w.to_string()));
    }
    if let Some(m) = people
        .mentions
        .iter()
        .find(|m| m.start <= ws[i].start && ws[i].end <= m.end)
    {
        if !m.name.is_empty() && text[ws[i].start..ws[i].end] != *"" {
            return Some(Who::Name(m.name.clone()));
        }
    }
    let article =
        i > 0 && ["the", "la", "el", "a", "an"].contains(&ws[i - 1].text.to_lowercase().as_str());
    if article && lex.is_title(w) && !w.chars().next().is_some_and(char::is_uppercase) {
        return Some(Who::Role(lw, format!("{} {}", ws[i - 1].text, w)));
    }
    None
}

/// Words that end the noun phrase after a cue ("said Mayor Ruiz at a briefing").
const PHRASE_ENDS: &[&str] = &[
    "at", "in", "on", "during", "after", "before", "while", "when", "from", "as", "of", "about",
    "to", "en", "durante", "tras", "ante", "a", "al", "desde", "sobre", "mientras", "con", "that",
    "que", "who", "quien", "which",
];

/// Determiners that open a subject the text does not name ("a neighbour", "its staff"), for
/// English and Spanish cues. Spanish "a" is left out: after a cue it is the preposition
/// ("dijo a los periodistas").
const UNNAMED_EN: &[&str] = &[
    "a", "an", "its", "their", "one", "some", "several", "another",
];
const UNNAMED_ES: &[&str] = &[
    "un", "una", "unos", "unas", "otro", "otra", "varios", "varias", "algunos", "algunas",
];

/// The speaker named in the noun phrase after a cue: the last name before the phrase ends, so
/// that "said Corvane spokesman Patrick Ndiaye" gives Patrick Ndiaye and "advirtió el director
/// de Protección Civil, Jacinto Olmedo" gives Jacinto Olmedo.
fn phrase_after(
    text: &str,
    ws: &[Word<'_>],
    from: usize,
    people: &People,
    lex: &Lexicon,
) -> Option<Who> {
    let mut last: Option<Who> = None;
    let mut i = from;
    while i < ws.len() && i < from + 14 {
        if i > from {
            let gap = &text[ws[i - 1].end..ws[i].start];
            let lower = ws[i].text.chars().next().is_some_and(|c| !c.is_uppercase());
            if gap.contains([',', ';', ':', '(', ')', '.'])
                && (lower || last.is_some() && !gap.contains(','))
            {
                break;
            }
        }
        let lw = ws[i].text.to_lowercase();
        if i > from && (PHRASE_ENDS.contains(&lw.as_str()) || find_cue(&ws[i..=i], lex).is_some()) {
            break;
        }
        if let Some(w) = who_at(text, ws, i, people, lex) {
            let is_name = matches!(w, Who::Name(_));
            // Skip to the end of the name.
            if let Who::Name(ref n) = w {
                let end = people
                    .mentions
                    .iter()
                    .find(|m| m.start <= ws[i].start && ws[i].end <= m.end && m.name == *n)
                    .map_or(ws[i].end, |m| m.end);
                while i + 1 < ws.len() && ws[i + 1].end <= end {
                    i += 1;
                }
            }
            if is_name || last.is_none() {
                last = Some(w);
            }
        }
        i += 1;
    }
    last
}

/// What a quotation's own sentence says of its speaker.
#[derive(Debug, Clone, PartialEq)]
pub enum FromCue {
    Speaker(Attribution),
    /// A cue whose subject the text gives but does not name ("said a neighbour"): nobody to
    /// attribute it to, by rule or by model.
    Unnamed,
    Nothing,
}

impl FromCue {
    pub fn speaker(self) -> Option<Attribution> {
        match self {
            FromCue::Speaker(a) => Some(a),
            _ => None,
        }
    }
}

/// Attribute span `n` from its own sentence. `previous` is the speaker of the quotation
/// before in the paragraph, for a cue with its subject left out ("Y agregó: «...»").
pub fn from_cue(
    text: &str,
    ctx: Context,
    open_at: usize,
    people: &People,
    previous: Option<&Attribution>,
) -> FromCue {
    let lex = lexicon::get();
    let after = words(text, ctx.after.0, ctx.after.1);
    let before = words(text, ctx.before.0, ctx.before.1);
    let subject = |ws: &[Word<'_>], upto: usize| {
        (0..upto)
            .rev()
            .find_map(|i| who_at(text, ws, i, people, lex))
    };
    // Whether `word` is a determiner of a subject the text does not name, in `cue`'s language.
    let unnamed_det = |word: &str, cue: &str| {
        let list = match lex.cues.en.iter().any(|c| c == cue) {
            true => UNNAMED_EN,
            false => UNNAMED_ES,
        };
        list.contains(&word.to_lowercase().as_str())
    };
    // The speaker, the cue, and whether the cue's subject is someone the text does not name
    // ("a neighbour said", "its staff called it", "—le preguntó un periodista"): such a
    // quotation has no speaker to give, rather than the speaker before.
    let found = |ws: &[Word<'_>], after_side: bool| -> Option<(Option<Who>, String, bool)> {
        let (c0, c1, cue) = find_cue(ws, lex)?;
        let subject_before = subject(ws, c0);
        let according = cue == "according to" || cue == "según";
        let who = if according {
            phrase_after(text, ws, c1, people, lex)
        } else if after_side {
            // `"...," she said` / `"...," said the minister`.
            subject_before.or_else(|| phrase_after(text, ws, c1, people, lex))
        } else {
            subject_before
        };
        let det = |i: usize| ws.get(i).is_some_and(|w| unnamed_det(w.text, &cue));
        // One before the cue must open its clause ("A neighbour said", not "En un comunicado,
        // señaló").
        let opens_clause =
            |i: usize| i == 0 || text[ws[i - 1].end..ws[i].start].contains([',', ';', ':']);
        // "said a spokesman": a role after an indefinite article is no one in particular.
        let indefinite_role = matches!(&who, Some(Who::Role(_, w))
            if w.split_whitespace().next().is_some_and(|a| unnamed_det(a, &cue)));
        let unnamed = indefinite_role
            || who.is_none() && (c0 >= 2 && det(c0 - 2) && opens_clause(c0 - 2) || det(c1));
        let who = who.filter(|_| !indefinite_role);
        Some((who, cue, unnamed))
    };
    let colon = text[ctx.before.0..ctx.before.1].trim_end().ends_with(':');
    let (who, cue, unnamed) = match found(&after, true).or_else(|| found(&before, false)) {
        Some(hit) => hit,
        // "la ministra fue tajante: «...»": a colon introduces speech by the clause's subject.
        None if colon => (subject(&before, before.len()), String::new(), false),
        None => return FromCue::Nothing,
    };
    if unnamed {
        return FromCue::Unnamed;
    }
    resolve(who, cue, open_at, people, previous, lex).map_or(FromCue::Nothing, FromCue::Speaker)
}

/// The fullest name of the speaker `who` of a cue; with none written, the speaker `previous`
/// or the last person named.
fn resolve(
    who: Option<Who>,
    cue: String,
    open_at: usize,
    people: &People,
    previous: Option<&Attribution>,
    lex: &Lexicon,
) -> Option<Attribution> {
    let Some(who) = who else {
        // A cue with no subject ("agregó", "—explicó—"): the speaker before, or the last person.
        let name = previous
            .map(|p| p.name.clone())
            .or_else(|| people.last_before(open_at, None, None, lex))?;
        return Some(Attribution {
            as_written: String::new(),
            name,
            cue,
            confidence: 0.7,
        });
    };
    let (as_written, name, confidence) = match who {
        Who::Name(n) => (n.clone(), people.fullest(&n), 0.95),
        Who::Pronoun(g, w) => (w, people.last_before(open_at, None, g, lex)?, 0.8),
        Who::Role(role, w) => {
            let name = people
                .last_before(open_at, Some(&role), None, lex)
                .or_else(|| people.last_before(open_at, None, None, lex))?;
            (w, name, 0.8)
        }
    };
    Some(Attribution {
        as_written,
        name,
        cue,
        confidence,
    })
}

/// Pronouns that can be a sentence's subject.
const SUBJECT_PRONOUNS: &[&str] = &["he", "she", "él", "ella"];

/// Attribute a quotation from the sentence just before it, in its paragraph, when that
/// sentence has no cue but opens with a person as its subject: the "action beat" of news
/// writing ("Leal pointed at the cranes. \"We ordered them in March.\""). A name gives that
/// person; a pronoun the last person of its gender. Less sure than a cue, so a lower confidence.
pub fn from_beat(
    text: &str,
    sentence: (usize, usize),
    open_at: usize,
    people: &People,
) -> Option<Attribution> {
    let lex = lexicon::get();
    let ws = words(text, sentence.0, sentence.1);
    let first = ws.first()?;
    // The subject opens the sentence: a name, not the possessive of one ("Achebe's deputy"); a
    // subject pronoun, not an object one ("Her husband"); or "the minister".
    let subject = |i: usize| match who_at(text, &ws, i, people, lex)? {
        Who::Name(n) => {
            let m = people
                .mentions
                .iter()
                .find(|m| m.start <= ws[i].start && ws[i].end <= m.end);
            let end = m.map_or(ws[i].end, |m| m.end);
            let possessive = text[end..].starts_with("'s") || text[end..].starts_with("’s");
            (!possessive).then_some(Who::Name(n))
        }
        Who::Pronoun(g, w) => SUBJECT_PRONOUNS
            .contains(&w.to_lowercase().as_str())
            .then_some(Who::Pronoun(g, w)),
        role => Some(role),
    };
    let who = match subject(0) {
        Some(who) => who,
        None if ["the", "la", "el"].contains(&first.text.to_lowercase().as_str()) => {
            match ws.get(1).and_then(|_| who_at(text, &ws, 1, people, lex)) {
                Some(role @ Who::Role(..)) => role,
                _ => return None,
            }
        }
        // "Fire chief Rosalind Achebe": a name right after a title, within the first words
        // (so not "After Ruiz left" or "Unlike Leal").
        None => (1..ws.len().min(4))
            .find(|&i| lex.is_title(ws[i - 1].text) && who_at(text, &ws, i, people, lex).is_some())
            .and_then(subject)
            .filter(|w| matches!(w, Who::Name(_)))?,
    };
    let (as_written, name, confidence) = match who {
        Who::Name(n) => {
            let full = people.fullest(&n);
            // Only people: an organisation or a place opening the sentence says nothing, and a
            // one-word name may be either.
            if organisation(&full, lex) || full.split_whitespace().count() < 2 {
                return None;
            }
            (n, full, 0.6)
        }
        // "She" points back past the sentence it opens, not to a name later in it.
        Who::Pronoun(g, w) => (w, people.last_before(sentence.0, None, g, lex)?, 0.55),
        Who::Role(role, w) => (
            w,
            people.last_before(open_at, Some(&role), None, lex)?,
            0.55,
        ),
    };
    Some(Attribution {
        as_written,
        name,
        cue: String::new(),
        confidence,
    })
}

/// Whether the words just before the quotation make it a name, title or word, not speech.
pub fn names_not_speech(text: &str, ctx: Context) -> bool {
    let lex = lexicon::get();
    let before = text[ctx.before.0..ctx.before.1].trim_end().to_lowercase();
    let ends_with = |p: &str| {
        before.ends_with(p)
            && before[..before.len() - p.len()]
                .chars()
                .last()
                .is_none_or(|c| !c.is_alphanumeric())
    };
    if lex.not_speech.before.iter().any(|p| ends_with(p)) {
        return true;
    }
    // "known among readers as «...»", "conocido entre sus lectores como «...»".
    let recent: Vec<&str> = before.split_whitespace().rev().take(6).collect();
    (ends_with("as") || ends_with("como"))
        && recent.iter().any(|w| {
            [
                "known",
                "nicknamed",
                "conocido",
                "conocida",
                "apodado",
                "apodada",
            ]
            .contains(w)
        })
}

/// Whether any cue occurs in the quotation's sentence (from its start in the paragraph
/// that begins at `paragraph_start`).
pub fn has_cue(text: &str, ctx: Context, paragraph_start: usize) -> bool {
    let lex = lexicon::get();
    let from = last_sentence_start(text, paragraph_start, ctx.before.1);
    find_cue(&words(text, from, ctx.before.1), lex).is_some()
        || find_cue(&words(text, ctx.after.0, ctx.after.1), lex).is_some()
}

#[cfg(test)]
mod tests {
    /// Speaker (fullest name) of each quotation `find` keeps, in order.
    fn speakers(text: &str) -> Vec<(String, String)> {
        super::super::find(text)
            .into_iter()
            .map(|q| (q.text, q.speaker.map(|s| s.name).unwrap_or_default()))
            .collect()
    }

    #[test]
    fn a_sentence_opened_by_a_person_attributes_the_quotation_after_it() {
        let text = "The port reopened on Monday.\n\nPort director Tomas Leal pointed at the \
                    cranes. \"We ordered them in March and they came early.\"\n\nHe thanked \
                    the crews, and Mayor Ana Ruiz. \"Nobody went home before midnight.\"";
        let got = speakers(text);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.iter().all(|(_, who)| who == "Tomas Leal"), "{got:?}");
    }

    #[test]
    fn an_organisation_or_a_phrase_inside_the_sentence_gets_no_speaker() {
        // The council is no speaker; a short phrase in the writer's own sentence is not speech.
        let text = "Flooding closed the road.\n\nThe county council published its figures at \
                    noon. \"Residents should not return until the water has gone down.\"\n\n\
                    Ana Ruiz toured the shelter. A \"small miracle\" banner hung above its \
                    door.";
        assert_eq!(speakers(text), Vec::<(String, String)>::new());
    }

    #[test]
    fn a_subject_the_text_does_not_name_gives_no_speaker() {
        let text = "Corvane cut 300 jobs.\n\n\"We had no choice,\" said a spokesman for Corvane, \
                    Patrick Ndiaye.\n\n\"It is a disgrace,\" said a neighbour. \"He told us \
                    nothing.\"\n\nA resident said: \"The plant is a ghost town now.\"\n\n\
                    —¿Habrá más despidos? —le preguntó un periodista.\n\n«Nadie nos avisó», \
                    dijo un vecino. «Ni una carta», añadió.";
        let got = speakers(text);
        assert_eq!(
            got,
            [(
                "We had no choice,".to_string(),
                "Patrick Ndiaye".to_string()
            )]
        );
        // Nor is the model asked who said them.
        let left: Vec<String> = super::super::scan(text)
            .unattributed
            .into_iter()
            .map(|q| q.text)
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_subject_left_out_still_takes_the_speaker_before() {
        // Spanish "a" after a cue is a preposition, and "un" inside the clause is no subject.
        let text = "La ministra Ana Ruiz visitó el puerto el lunes.\n\n«Vamos a bajar las \
                    tasas», dijo a los periodistas.\n\nEn un comunicado, señaló: «El muelle \
                    abrirá en marzo».";
        let got = speakers(text);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got.iter().all(|(_, who)| who == "Ana Ruiz"), "{got:?}");
    }

    #[test]
    fn a_beat_needs_a_person_as_its_subject() {
        // A possessive, an object pronoun, a name after a preposition, a one-word place, and a
        // sentence that is itself a quotation are no beats.
        let text = "Mayor Ana Ruiz and harbour master Tomas Leal met on Monday.\n\n\
                    Leal's deputy checked the pumps. \"We have fuel for two days.\"\n\n\
                    Her husband drove the truck. \"The road is open again.\"\n\n\
                    After Ruiz left, the crowd stayed on. \"Nobody wanted to go home.\"\n\n\
                    Ashgrove lies upriver. \"The water reached the church steps.\"\n\n\
                    \"We will rebuild,\" Ruiz said. \"It will take a year.\"";
        let got = speakers(text);
        assert_eq!(
            got,
            [
                ("We will rebuild,".to_string(), "Ana Ruiz".to_string()),
                ("It will take a year.".to_string(), "Ana Ruiz".to_string()),
            ]
        );
    }
}
