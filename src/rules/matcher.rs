//! Finding phrases, lexicon entries and patterns in normalised utterances.
//!
//! A [`TextMatcher`] is the compiled form of a `must`/`must_not`/`order` table. It matches
//! token sequences, not substrings, so "hell" never matches inside "hello" and Chinese phrases
//! match character by character whatever spacing Whisper used. A phrase word matches a
//! transcript word when
//! - the normalised forms are equal (`días` = `dias`, `ё` = `е`, `ي` = `ی`);
//! - or their stems are equal (`благодарю`/`благодарим`, `dziękuję`/`dziękujemy`), unless the
//!   rule says `stem = false`. In a `must_not` (forbidden words) the stems must be equal *and*
//!   the transcript word must keep the phrase word whole, only its final vowel may change
//!   (`idiota` → `idiotas`, `idioto`; `дурак` → `дураком`): a stem is shared by innocent words
//!   too ("ignorant"/"ignore", "ignorante"/"ignorar", "говорил"/"говорю"), and a false
//!   forbidden word costs an auto-fail;
//! - or, with `fuzzy = N`, both have 5+ characters and differ by at most N edits (ASR slips:
//!   "recieve", "grabada"/"grabado");
//! - `word*` matches any word starting with `word`; a lone `*` matches any one word.
//!
//! Persian is also matched space-insensitively (`می‌خواهم`, `می خواهم` and `میخواهم` are one
//! word written three ways). Outside `must_not`, and unless `stem = false`, the last word may
//! carry a personal or plural ending ([`PERSIAN_SUFFIXES`]: `ممنون` → `ممنونم`); forbidden words
//! never do, because a longer word is another word (`نفهم` "dimwit" / `نفهمیدم` "I did not
//! understand"; `گمشو` "get lost" / `گم شود` "gets lost"). Patterns are regular expressions run
//! on the normalised utterance (lower case, no punctuation, no diacritics), case-insensitively.
//!
//! Every hit carries its token range so findings can quote the words.

use std::ops::Range;

use regex::Regex;

use crate::normalize::{Language, NormalizedText, Token, normalize_phrase};

/// One phrase, normalised.
#[derive(Debug, Clone)]
pub(crate) struct Phrase {
    tokens: Vec<Token>,
    /// Persian: the phrase without spaces, for space-insensitive matching.
    compact: Option<String>,
}

impl Phrase {
    pub(crate) fn new(text: &str, language: Language) -> Phrase {
        let tokens = normalize_phrase(text, language).tokens;
        let plain = tokens
            .iter()
            .all(|token| !token.is_prefix && !token.is_wildcard);
        let compact = (language == Language::Persian && plain && !tokens.is_empty())
            .then(|| tokens.iter().map(|token| token.text.as_str()).collect());
        Phrase { tokens, compact }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The normalised phrase as text (Chinese characters without spaces), for tests.
    #[cfg(test)]
    pub(crate) fn normalized(&self) -> String {
        let mut text = String::new();
        for (index, token) in self.tokens.iter().enumerate() {
            if index > 0 && !(token.is_cjk && self.tokens[index - 1].is_cjk) {
                text.push(' ');
            }
            text.push_str(&token.text);
        }
        text
    }
}

/// A compiled text condition.
#[derive(Debug, Clone)]
pub struct TextMatcher {
    pub(crate) phrases: Vec<Phrase>,
    pub(crate) patterns: Vec<Regex>,
    pub(crate) fuzzy: u8,
    pub(crate) stem: bool,
    /// The phrases are forbidden words (`must_not`): inflected forms must keep the phrase word
    /// whole, and Persian words take no suffix (see the module documentation).
    pub(crate) forbidden: bool,
    /// Another condition that must be close by, in the same utterance, and how many words may
    /// lie between.
    pub(crate) near: Option<(Box<TextMatcher>, usize)>,
    /// Cancels a hit when it overlaps it or lies at most [`EXCEPT_WORDS`] words before or after
    /// it in the same sentence of the same utterance: negations ("never tell anyone your PIN",
    /// Persian `رمز را به هیچ کس نگویید`, Chinese `密码不要告诉别人`).
    pub(crate) except: Option<Box<TextMatcher>>,
    /// A few of the phrases, for evidence ("hello, good morning, …").
    pub(crate) summary: String,
}

/// How many words may lie between an `except` match and the hit it cancels, before or after
/// it, within one sentence: "Acme will **never**, under any circumstances, ask you to
/// confirm your PIN".
pub(crate) const EXCEPT_WORDS: usize = 8;

/// The same for Chinese, whose tokens are single characters (a word is one to three):
/// `我们的工作人员**不会**以任何理由要求您提供密码`.
pub(crate) const EXCEPT_CHARACTERS: usize = 16;

/// Endings a Persian word may carry outside `must_not`: personal (possessive or verbal)
/// endings, the plural `ها`, the indefinite or linking `ی`.
pub(crate) const PERSIAN_SUFFIXES: &[&str] = &[
    "م", "ت", "ش", "مان", "تان", "شان", "ها", "ی", "یم", "ید", "ند",
];

/// Where a matcher matched, in a list of utterances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    /// Index into the list of utterances given to [`TextMatcher::find_all`].
    pub utterance: usize,
    /// Token range within that utterance.
    pub tokens: Range<usize>,
    /// Token range counted over all utterances, for distances.
    pub stream: Range<usize>,
}

impl TextMatcher {
    /// All hits, in utterance and token order.
    pub(crate) fn find_all(&self, utterances: &[&NormalizedText]) -> Vec<Hit> {
        let mut hits = self.find_terms(utterances);
        if let Some((near, within_words)) = &self.near {
            let others = near.find_all(utterances);
            hits = hits
                .into_iter()
                .filter_map(|hit| {
                    // Within the utterance: the word that makes a request must be said in it
                    // ("…tell me your ID number." / "Never give anyone your PIN.").
                    let partner = others
                        .iter()
                        .filter(|other| other.utterance == hit.utterance)
                        .filter(|other| words_between(&hit.stream, &other.stream) <= *within_words)
                        .min_by_key(|other| words_between(&hit.stream, &other.stream))?;
                    if partner.utterance == hit.utterance {
                        let tokens = hit.tokens.start.min(partner.tokens.start)
                            ..hit.tokens.end.max(partner.tokens.end);
                        let stream = hit.stream.start.min(partner.stream.start)
                            ..hit.stream.end.max(partner.stream.end);
                        Some(Hit {
                            utterance: hit.utterance,
                            tokens,
                            stream,
                        })
                    } else {
                        Some(hit)
                    }
                })
                .collect();
        }
        if let Some(except) = &self.except {
            let exceptions = except.find_all(utterances);
            hits.retain(|hit| {
                let tokens = &utterances[hit.utterance].tokens;
                !exceptions.iter().any(|exception| {
                    exception.utterance == hit.utterance
                        && cancels(tokens, &exception.tokens, &hit.tokens)
                })
            });
        }
        hits.sort_by_key(|hit| (hit.stream.start, hit.stream.end));
        hits.dedup();
        hits
    }

    fn find_terms(&self, utterances: &[&NormalizedText]) -> Vec<Hit> {
        let mut hits = Vec::new();
        let mut offset = 0;
        for (utterance, text) in utterances.iter().enumerate() {
            let mut push = |tokens: Range<usize>| {
                hits.push(Hit {
                    utterance,
                    stream: offset + tokens.start..offset + tokens.end,
                    tokens,
                });
            };
            for start in 0..text.tokens.len() {
                for phrase in &self.phrases {
                    if let Some(end) = self.match_phrase_at(phrase, &text.tokens, start) {
                        push(start..end);
                    }
                }
            }
            for pattern in &self.patterns {
                for found in pattern.find_iter(&text.joined) {
                    if found.start() == found.end() {
                        continue;
                    }
                    if let Some(tokens) = text.tokens_for_joined_range(found.range()) {
                        push(tokens);
                    }
                }
            }
            offset += text.tokens.len();
        }
        hits
    }

    /// The end (exclusive) of a match of `phrase` starting at token `start`.
    fn match_phrase_at(&self, phrase: &Phrase, tokens: &[Token], start: usize) -> Option<usize> {
        let sequence = phrase.tokens.iter().enumerate().all(|(offset, wanted)| {
            tokens
                .get(start + offset)
                .is_some_and(|token| self.word_matches(wanted, token))
        });
        if sequence && !phrase.tokens.is_empty() {
            return Some(start + phrase.tokens.len());
        }
        let compact = phrase.compact.as_deref()?;
        let suffixes = self.stem && !self.forbidden;
        compact_match_at(compact, phrase, tokens, start, suffixes)
    }

    fn word_matches(&self, wanted: &Token, token: &Token) -> bool {
        if wanted.is_wildcard {
            return true;
        }
        if wanted.is_prefix {
            return token.text.starts_with(&wanted.text);
        }
        if token.text == wanted.text {
            return true;
        }
        if self.stem
            && !wanted.is_cjk
            && token.stem == wanted.stem
            && !wanted.stem.is_empty()
            && (!self.forbidden || keeps_word_whole(&wanted.text, &token.text))
        {
            return true;
        }
        if self.fuzzy > 0 && !wanted.is_cjk && !token.is_cjk {
            let wanted_chars = wanted.text.chars().count();
            let token_chars = token.text.chars().count();
            let has_digit = |text: &str| text.chars().any(|character| character.is_ascii_digit());
            if wanted_chars >= 5
                && token_chars >= 5
                && !has_digit(&wanted.text)
                && !has_digit(&token.text)
                && wanted_chars.abs_diff(token_chars) <= usize::from(self.fuzzy)
            {
                return strsim::levenshtein(&wanted.text, &token.text) <= usize::from(self.fuzzy);
            }
        }
        false
    }
}

/// Persian: the phrase's letters, ignoring spaces, starting at a word boundary. With
/// `suffixes`, the last transcript word may be the phrase's last word (of three or more
/// letters) plus one of [`PERSIAN_SUFFIXES`]: `ممنونم`, `کارتتان`, but never `گم شود` for
/// `گمشو` or `نفهمیدم` for `نفهم`.
fn compact_match_at(
    compact: &str,
    phrase: &Phrase,
    tokens: &[Token],
    start: usize,
    suffixes: bool,
) -> Option<usize> {
    let last_word = &phrase.tokens.last()?.text;
    let mut joined = String::new();
    for (index, token) in tokens.iter().enumerate().skip(start) {
        joined.push_str(&token.text);
        if joined == compact {
            return Some(index + 1);
        }
        if let Some(extra) = joined.strip_prefix(compact) {
            let ok = suffixes
                && last_word.chars().count() >= 3
                && PERSIAN_SUFFIXES.contains(&extra)
                && token
                    .text
                    .strip_suffix(extra)
                    .is_some_and(|stem| stem.ends_with(last_word.as_str()));
            return ok.then_some(index + 1);
        }
        if !compact.starts_with(joined.as_str()) {
            return None;
        }
    }
    None
}

/// Whether an `except` match at `exception` cancels the hit at `hit` (token ranges of one
/// utterance): it overlaps the hit, or lies in the hit's sentence at most [`EXCEPT_WORDS`]
/// words ([`EXCEPT_CHARACTERS`] Chinese characters) before or after it.
fn cancels(tokens: &[Token], exception: &Range<usize>, hit: &Range<usize>) -> bool {
    if exception.start < hit.end && hit.start < exception.end {
        return true;
    }
    let sentence = |index: usize| tokens.get(index).map(|token| token.sentence);
    let (gap, from, to) = if exception.end <= hit.start {
        (
            hit.start - exception.end,
            exception.end.saturating_sub(1),
            hit.start,
        )
    } else {
        (
            exception.start - hit.end,
            hit.end.saturating_sub(1),
            exception.start,
        )
    };
    let chinese = tokens.get(hit.start).is_some_and(|token| token.is_cjk);
    let limit = if chinese {
        EXCEPT_CHARACTERS
    } else {
        EXCEPT_WORDS
    };
    gap <= limit && sentence(from).is_some() && sentence(from) == sentence(to)
}

/// A forbidden word's inflected form keeps the word whole, or changes only its final vowel,
/// after at least three letters: `idiot` → `idiots`, `idiota` → `idioto`, `тупой` → `тупого`,
/// `дура` → `дуры`; but not `ignorant` → `ignore`, `ignorante` → `ignorar`, `mówiłem` → `mówił`,
/// `говорил` → `говорю`.
fn keeps_word_whole(wanted: &str, word: &str) -> bool {
    if word.starts_with(wanted) {
        return true;
    }
    let mut characters = wanted.chars();
    let Some(last) = characters.next_back() else {
        return false;
    };
    let body = characters.as_str();
    let vowel = matches!(
        last,
        'a' | 'e'
            | 'i'
            | 'o'
            | 'u'
            | 'y'
            | 'а'
            | 'е'
            | 'и'
            | 'о'
            | 'у'
            | 'ы'
            | 'э'
            | 'ю'
            | 'я'
            | 'й'
            | 'ь'
    );
    vowel && body.chars().count() >= 3 && word.starts_with(body)
}

/// Words strictly between two token ranges (0 when they touch or overlap).
fn words_between(first: &Range<usize>, second: &Range<usize>) -> usize {
    // At most one of the two gaps is non-zero; both are zero when the ranges overlap.
    second
        .start
        .saturating_sub(first.end)
        .max(first.start.saturating_sub(second.end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize_text;

    fn matcher(phrases: &[&str], language: Language, fuzzy: u8) -> TextMatcher {
        TextMatcher {
            phrases: phrases
                .iter()
                .map(|phrase| Phrase::new(phrase, language))
                .collect(),
            patterns: Vec::new(),
            fuzzy,
            stem: true,
            forbidden: false,
            near: None,
            except: None,
            summary: String::new(),
        }
    }

    fn matches(matcher: &TextMatcher, text: &str, language: Language) -> bool {
        let normalized = normalize_text(text, language);
        !matcher.find_all(&[&normalized]).is_empty()
    }

    #[test]
    fn words_not_substrings() {
        let hell = matcher(&["hell"], Language::English, 0);
        assert!(!matches(&hell, "Hello there", Language::English));
        assert!(matches(&hell, "What the hell?", Language::English));
    }

    #[test]
    fn inflections_through_stems() {
        let russian = matcher(&["благодарю за обращение"], Language::Russian, 0);
        assert!(matches(
            &russian,
            "Благодарим за обращение!",
            Language::Russian
        ));
        let polish = matcher(&["dziękuję za rozmowę"], Language::Polish, 0);
        assert!(matches(&polish, "Dziękujemy za rozmowę.", Language::Polish));
        let spanish = matcher(&["buenos días"], Language::Spanish, 0);
        assert!(matches(
            &spanish,
            "Buenos dias, le atiende Ana",
            Language::Spanish
        ));
    }

    #[test]
    fn fuzzy_only_for_long_words() {
        let fuzzy = matcher(&["recorded"], Language::English, 1);
        assert!(matches(&fuzzy, "this call is recordid", Language::English));
        assert!(!matches(
            &matcher(&["hello"], Language::English, 1),
            "hellish",
            Language::English
        ));
    }

    #[test]
    fn chinese_without_spaces() {
        let chinese = matcher(&["请稍等"], Language::Chinese, 0);
        assert!(matches(&chinese, "好的，请稍等一下。", Language::Chinese));
        assert!(matches(&chinese, "好的 請 稍 等", Language::Chinese));
    }

    #[test]
    fn persian_space_insensitive() {
        let persian = matcher(&["خوش آمدید"], Language::Persian, 0);
        assert!(matches(&persian, "به شرکت ما خوشآمدید", Language::Persian));
        assert!(matches(&persian, "خوش‌آمدید", Language::Persian));
        let thanks = matcher(&["ممنون"], Language::Persian, 0);
        assert!(matches(&thanks, "خیلی ممنونم", Language::Persian));
        let no = matcher(&["نه"], Language::Persian, 0);
        assert!(!matches(&no, "نهایت", Language::Persian));
    }

    #[test]
    fn wildcards() {
        let name = matcher(&["my name is *"], Language::English, 0);
        assert!(matches(&name, "Hi, my name is Anna.", Language::English));
        assert!(!matches(&name, "my name is", Language::English));
        let prefix = matcher(&["apolog*"], Language::English, 0);
        assert!(matches(&prefix, "I apologise", Language::English));
    }

    #[test]
    fn proximity() {
        let mut recorded = matcher(&["recorded"], Language::English, 0);
        recorded.near = Some((Box::new(matcher(&["call"], Language::English, 0)), 3));
        assert!(matches(
            &recorded,
            "this call may be recorded",
            Language::English
        ));
        assert!(!matches(
            &recorded,
            "this call is about the show that we recorded",
            Language::English
        ));
    }

    #[test]
    fn except_cancels_negated_hits() {
        let mut asks = matcher(&["tell me your pin"], Language::English, 0);
        asks.except = Some(Box::new(matcher(&["dont", "never"], Language::English, 0)));
        assert!(matches(
            &asks,
            "Could you tell me your PIN?",
            Language::English
        ));
        assert!(!matches(
            &asks,
            "Please don't tell me your PIN.",
            Language::English
        ));
        assert!(!matches(
            &asks,
            "never, ever, tell me your PIN",
            Language::English
        ));
        // Another sentence is out of reach of the negation.
        assert!(matches(
            &asks,
            "Never mind that part. Now please tell me your PIN.",
            Language::English
        ));
    }

    fn forbidden(phrases: &[&str], language: Language) -> TextMatcher {
        TextMatcher {
            forbidden: true,
            ..matcher(phrases, language, 0)
        }
    }

    #[test]
    fn forbidden_words_keep_their_inflections_not_their_stems() {
        let en = forbidden(&["ignorant", "idiot"], Language::English);
        assert!(matches(&en, "You are so ignorant.", Language::English));
        assert!(matches(&en, "You idiots.", Language::English));
        assert!(!matches(
            &en,
            "Please ignore the reminder.",
            Language::English
        ));
        assert!(!matches(&en, "I ignored your message.", Language::English));
        assert!(!matches(&en, "Excuse my ignorance.", Language::English));
        // Outside must_not, stems still meet (a greeting said in another form counts).
        let lenient = matcher(&["ignorant"], Language::English, 0);
        assert!(matches(&lenient, "Please ignore it", Language::English));

        let es = forbidden(&["ignorante", "idiota", "estúpido"], Language::Spanish);
        assert!(!matches(
            &es,
            "Puede ignorar el mensaje.",
            Language::Spanish
        ));
        assert!(matches(&es, "Son unos ignorantes.", Language::Spanish));
        assert!(matches(&es, "Son unos idiotas.", Language::Spanish));
        assert!(matches(&es, "¡Qué estúpida es usted!", Language::Spanish));
        assert!(!matches(&es, "¿En qué idioma prefiere?", Language::Spanish));

        let pl = forbidden(&["już mówiłem", "idiota", "kretyn"], Language::Polish);
        assert!(!matches(
            &pl,
            "Jak pan już mówił, karta jest zablokowana.",
            Language::Polish
        ));
        assert!(matches(&pl, "Już mówiłem panu.", Language::Polish));
        assert!(matches(&pl, "Ty idioto!", Language::Polish));
        assert!(matches(&pl, "Ty kretynie!", Language::Polish));

        let ru = forbidden(&["я уже говорил", "дурак", "тупой"], Language::Russian);
        assert!(!matches(&ru, "Я уже говорю с коллегой.", Language::Russian));
        assert!(matches(&ru, "Я уже говорил вам.", Language::Russian));
        assert!(matches(&ru, "Не будьте дураком.", Language::Russian));
        assert!(matches(&ru, "Что с тупого взять.", Language::Russian));
    }

    #[test]
    fn persian_forbidden_words_take_no_suffix() {
        let insults = forbidden(&["گمشو", "نفهم"], Language::Persian);
        assert!(!matches(
            &insults,
            "اگر کارت شما گم شود، تماس بگیرید",
            Language::Persian
        ));
        assert!(!matches(&insults, "ببخشید، نفهمیدم.", Language::Persian));
        assert!(matches(&insults, "گم شو!", Language::Persian));
        assert!(matches(&insults, "گمشو", Language::Persian));
        assert!(matches(&insults, "تو نفهم هستی", Language::Persian));
        // Elsewhere, only the listed endings on the phrase's whole last word.
        let card = matcher(&["کارت"], Language::Persian, 0);
        assert!(matches(&card, "کارتتان", Language::Persian));
        assert!(matches(&card, "کارت‌ها", Language::Persian));
        assert!(!matches(&card, "کارتون", Language::Persian));
        let exact = TextMatcher {
            stem: false,
            ..matcher(&["ممنون"], Language::Persian, 0)
        };
        assert!(!matches(&exact, "خیلی ممنونم", Language::Persian));
    }

    #[test]
    fn except_reaches_the_whole_sentence_both_ways() {
        let mut asks = matcher(&["confirm your pin"], Language::English, 0);
        asks.except = Some(Box::new(matcher(
            &["never", "no one"],
            Language::English,
            0,
        )));
        assert!(!matches(
            &asks,
            "Acme will never, under any circumstances, ask you to confirm your PIN.",
            Language::English
        ));
        assert!(!matches(
            &asks,
            "No one from Acme will ever ask you to confirm your PIN.",
            Language::English
        ));
        assert!(matches(
            &asks,
            "No one else is on the line. Please confirm your PIN.",
            Language::English
        ));

        let mut persian = matcher(&["رمز"], Language::Persian, 0);
        persian.except = Some(Box::new(matcher(&["نگویید"], Language::Persian, 0)));
        assert!(!matches(
            &persian,
            "رمز کارت را به هیچ کس نگویید.",
            Language::Persian
        ));
        assert!(matches(
            &persian,
            "به هیچ کس نگویید. رمز کارت چیه؟",
            Language::Persian
        ));

        let mut chinese = matcher(&["提供密码"], Language::Chinese, 0);
        chinese.except = Some(Box::new(matcher(&["不会", "不要"], Language::Chinese, 0)));
        assert!(!matches(
            &chinese,
            "我们的工作人员不会以任何理由要求您提供密码。",
            Language::Chinese
        ));
        let mut secret = matcher(&["密码"], Language::Chinese, 0);
        secret.except = Some(Box::new(matcher(&["不要"], Language::Chinese, 0)));
        assert!(!matches(&secret, "密码不要告诉别人。", Language::Chinese));
        assert!(matches(
            &secret,
            "不要着急。密码是多少？",
            Language::Chinese
        ));
        assert!(matches(
            &chinese,
            "不会的。请您提供密码。",
            Language::Chinese
        ));
    }

    #[test]
    fn near_stays_in_its_utterance() {
        let mut secret = matcher(&["密码"], Language::Chinese, 0);
        secret.near = Some((Box::new(matcher(&["说一下"], Language::Chinese, 0)), 4));
        let first = normalize_text("好的，请把身份证号码说一下。", Language::Chinese);
        let second = normalize_text("密码不要告诉别人。", Language::Chinese);
        assert!(secret.find_all(&[&first, &second]).is_empty());
        let asked = normalize_text("请把密码说一下。", Language::Chinese);
        assert_eq!(secret.find_all(&[&first, &asked]).len(), 1);
    }
}
