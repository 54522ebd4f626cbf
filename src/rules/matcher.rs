//! Finding phrases, lexicon entries and patterns in normalised utterances.
//!
//! A [`TextMatcher`] is the compiled form of a `must`/`must_not`/`order` table. It matches
//! token sequences, not substrings, so "hell" never matches inside "hello" and Chinese phrases
//! match character by character whatever spacing Whisper used. A phrase word matches a
//! transcript word when
//! - the normalised forms are equal (`días` = `dias`, `ё` = `е`, `ي` = `ی`);
//! - or their stems are equal (`благодарю`/`благодарим`, `dziękuję`/`dziękujemy`), unless the
//!   rule says `stem = false`;
//! - or, with `fuzzy = N`, both have 5+ characters and differ by at most N edits (ASR slips:
//!   "recieve", "grabada"/"grabado");
//! - `word*` matches any word starting with `word`; a lone `*` matches any one word.
//!
//! Persian is also matched space-insensitively (`می‌خواهم`, `می خواهم` and `میخواهم` are one
//! word written three ways) with up to three letters of suffix on the last word (`ممنون` →
//! `ممنونم`). Patterns are regular expressions run on the normalised utterance (lower case,
//! no punctuation, no diacritics), case-insensitively.
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
}

/// A compiled text condition.
#[derive(Debug, Clone)]
pub struct TextMatcher {
    pub(crate) phrases: Vec<Phrase>,
    pub(crate) patterns: Vec<Regex>,
    pub(crate) fuzzy: u8,
    pub(crate) stem: bool,
    /// Another condition that must be close by, and how many words may lie between.
    pub(crate) near: Option<(Box<TextMatcher>, usize)>,
    /// Cancels a hit when it overlaps it or ends at most [`EXCEPT_WORDS_BEFORE`] words before
    /// it, in the same utterance: negations ("never tell anyone your PIN").
    pub(crate) except: Option<Box<TextMatcher>>,
    /// A few of the phrases, for evidence ("hello, good morning, …").
    pub(crate) summary: String,
}

/// How far before a hit an `except` match still cancels it ("do not ever tell me your PIN").
pub(crate) const EXCEPT_WORDS_BEFORE: usize = 3;

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
                    let partner = others
                        .iter()
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
                !exceptions.iter().any(|exception| {
                    exception.utterance == hit.utterance
                        && exception.tokens.start < hit.tokens.end
                        && hit.tokens.start <= exception.tokens.end + EXCEPT_WORDS_BEFORE
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
        compact_match_at(compact, phrase, tokens, start)
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
        if self.stem && !wanted.is_cjk && token.stem == wanted.stem && !wanted.stem.is_empty() {
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

/// Persian: the phrase's letters, ignoring spaces, starting at a word boundary; the last word
/// may carry up to three more letters of suffix when the phrase's last word has three or more.
fn compact_match_at(
    compact: &str,
    phrase: &Phrase,
    tokens: &[Token],
    start: usize,
) -> Option<usize> {
    let last_word_chars = phrase.tokens.last()?.text.chars().count();
    let mut joined = String::new();
    for (index, token) in tokens.iter().enumerate().skip(start) {
        joined.push_str(&token.text);
        if joined == compact {
            return Some(index + 1);
        }
        if let Some(extra) = joined.strip_prefix(compact) {
            let extra_chars = extra.chars().count();
            let ok = last_word_chars >= 3 && extra_chars <= 3 && token.text.len() > extra.len();
            return ok.then_some(index + 1);
        }
        if !compact.starts_with(joined.as_str()) {
            return None;
        }
    }
    None
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
        assert!(matches(
            &asks,
            "Never mind that part, now please tell me your PIN.",
            Language::English
        ));
    }
}
