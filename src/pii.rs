//! Personal data in transcript text: detection and redaction.
//!
//! Finds card numbers, IBANs, phone numbers, e-mail addresses and secrets (CVV, PIN, password,
//! one-time codes) in what Whisper wrote, and replaces them with `[CARD]`, `[IBAN]`, `[PHONE]`,
//! `[EMAIL]`, `[SECRET]`. Everything callqa writes (dataset, report, logs, finding evidence)
//! goes through [`redact`] or [`redact_sequence`].
//!
//! Transcripts do not hold clean numbers, so detection works on *digit runs*: consecutive
//! digits written as digits in any script (`4111`, `۴۱۱۱`, `４１１１`) or spoken as words in the
//! call's language (`four one one one`, `cuarenta y uno`, `四一一一`, `چهار یک`), joined across the
//! separators an ASR puts between groups (`4111-1111`, `41 11 11`, `4111, 1111.`). ASR garbles
//! such as "for 1111" count as digits only next to other digits. A run is then classified:
//!
//! - **card**: the run holds a Luhn-valid stretch of 13–19 digits (`verified`), or is 13–19
//!   digits long without one (a card the ASR garbled: redacted anyway, not `verified`);
//! - **IBAN**: letters and digits passing mod 97 (`ES91 2100 …`), or a long digit run that is a
//!   valid IBAN with the language's country code (Polish NRB read as 26 digits, Iranian Sheba);
//! - **secret**: 3–8 digits near a secret keyword ("cvv", "pin", "código de seguridad",
//!   "пин-код", "hasło", "密码", "رمز" …), or the word after "my password is";
//! - **phone**: 9–12 digits, 7–8 digits near a phone keyword, or anything after `+`.
//!
//! Redaction is conservative on purpose: a whole run is redacted when any part of it is a card,
//! so no digit of a card survives next to the placeholder.
//!
//! Promise: pure functions, no I/O, never panic; spans are sorted, never overlap and lie on
//! char boundaries.

mod spoken;

use std::ops::Range;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::normalize::{self, Language, Token};
use crate::types::{CallTranscript, Speaker};

/// The kinds of personal data callqa detects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    Card,
    Iban,
    Phone,
    Email,
    Secret,
}

impl PiiKind {
    pub const ALL: [PiiKind; 5] = [
        PiiKind::Card,
        PiiKind::Iban,
        PiiKind::Phone,
        PiiKind::Email,
        PiiKind::Secret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Card => "card",
            PiiKind::Iban => "iban",
            PiiKind::Phone => "phone",
            PiiKind::Email => "email",
            PiiKind::Secret => "secret",
        }
    }

    pub fn parse(text: &str) -> Option<PiiKind> {
        PiiKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// What replaces the data in redacted text.
    pub fn placeholder(self) -> &'static str {
        match self {
            PiiKind::Card => "[CARD]",
            PiiKind::Iban => "[IBAN]",
            PiiKind::Phone => "[PHONE]",
            PiiKind::Email => "[EMAIL]",
            PiiKind::Secret => "[SECRET]",
        }
    }

    /// Plain words for finding evidence.
    pub fn description(self) -> &'static str {
        match self {
            PiiKind::Card => "card number",
            PiiKind::Iban => "bank account (IBAN)",
            PiiKind::Phone => "phone number",
            PiiKind::Email => "e-mail address",
            PiiKind::Secret => "secret code or password",
        }
    }
}

/// One piece of personal data in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiSpan {
    pub kind: PiiKind,
    /// Where it lies in the text given to [`find`].
    pub byte_range: Range<usize>,
    /// A checksum confirmed it (Luhn for cards, mod 97 for IBANs). Unverified spans are
    /// redacted all the same: they are likely numbers the ASR garbled.
    pub verified: bool,
}

/// Finds personal data in one text. `language` is an ISO 639-1 code (`en`, `es`, `ru`, `pl`,
/// `zh`, `fa`); other codes get digits, e-mail and IBAN detection without spoken numbers.
pub fn find(text: &str, language: &str) -> Vec<PiiSpan> {
    find_in(text, Language::from_code(language))
}

/// Replaces personal data with placeholders (`[CARD]`, `[IBAN]`, `[PHONE]`, `[EMAIL]`,
/// `[SECRET]`).
pub fn redact(text: &str, language: &str) -> String {
    redact_spans(text, &find(text, language))
}

/// Replaces the given spans (sorted, non-overlapping, as [`find`] returns them).
pub fn redact_spans(text: &str, spans: &[PiiSpan]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut position = 0;
    for span in spans {
        if span.byte_range.start < position || text.get(span.byte_range.clone()).is_none() {
            continue;
        }
        out.push_str(&text[position..span.byte_range.start]);
        out.push_str(span.kind.placeholder());
        position = span.byte_range.end;
    }
    out.push_str(&text[position..]);
    out
}

/// Finds personal data in consecutive utterances of one speaker, so that a card number split
/// over two utterances ("4111 1111" … "1111 1111") is still found. Returns the spans of each
/// text, in that text's byte offsets.
pub fn find_in_sequence(texts: &[&str], language: &str) -> Vec<Vec<PiiSpan>> {
    let mut joined = String::new();
    let mut starts = Vec::with_capacity(texts.len());
    for text in texts {
        if !joined.is_empty() {
            joined.push('\n');
        }
        starts.push(joined.len());
        joined.push_str(text);
    }
    let spans = find(&joined, language);
    texts
        .iter()
        .zip(&starts)
        .map(|(text, &start)| {
            let end = start + text.len();
            spans
                .iter()
                .filter_map(|span| {
                    let piece_start = span.byte_range.start.max(start);
                    let piece_end = span.byte_range.end.min(end);
                    let piece = joined.get(piece_start..piece_end)?;
                    (piece_start < piece_end && !piece.trim().is_empty()).then(|| PiiSpan {
                        kind: span.kind,
                        byte_range: piece_start - start..piece_end - start,
                        verified: span.verified,
                    })
                })
                .collect()
        })
        .collect()
}

/// [`redact`] over consecutive utterances of one speaker (see [`find_in_sequence`]).
pub fn redact_sequence(texts: &[&str], language: &str) -> Vec<String> {
    find_in_sequence(texts, language)
        .iter()
        .zip(texts)
        .map(|(spans, text)| redact_spans(text, spans))
        .collect()
}

/// Personal data in every segment of a call, found over each speaker's consecutive
/// utterances (see [`find_in_sequence`]). One list per segment, in segment order.
pub fn find_in_transcript(transcript: &CallTranscript, language: &str) -> Vec<Vec<PiiSpan>> {
    let mut spans = vec![Vec::new(); transcript.segments.len()];
    for speaker in [Speaker::Agent, Speaker::Customer, Speaker::Unknown] {
        let indices: Vec<usize> = transcript
            .segments
            .iter()
            .enumerate()
            .filter(|(_, segment)| segment.speaker == speaker)
            .map(|(index, _)| index)
            .collect();
        let texts: Vec<&str> = indices
            .iter()
            .map(|&index| transcript.segments[index].text.as_str())
            .collect();
        for (&index, found) in indices.iter().zip(find_in_sequence(&texts, language)) {
            spans[index] = found;
        }
    }
    spans
}

/// The redacted text of every segment of a call, in segment order: what the `segments`
/// table, the report and logs may hold. A card split over two utterances is redacted in both.
pub fn redact_transcript(transcript: &CallTranscript, language: &str) -> Vec<String> {
    find_in_transcript(transcript, language)
        .iter()
        .zip(&transcript.segments)
        .map(|(spans, segment)| redact_spans(&segment.text, spans))
        .collect()
}

/// The Luhn checksum of a card number (digits only).
pub fn luhn_valid(digits: &str) -> bool {
    if digits.len() < 2 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(index, byte)| {
            let digit = u32::from(byte - b'0');
            if index % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// IBAN lengths of common countries; IBANs of other countries only need 15–34 characters.
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AT", 20),
    ("AZ", 28),
    ("BE", 16),
    ("BG", 22),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GR", 27),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IR", 26),
    ("IS", 26),
    ("IT", 27),
    ("KZ", 20),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MT", 31),
    ("NL", 18),
    ("NO", 15),
    ("PL", 28),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RU", 33),
    ("SA", 24),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("TR", 26),
    ("UA", 29),
];

/// The ISO 13616 check of an IBAN (spaces allowed, any case).
pub fn iban_valid(iban: &str) -> bool {
    let compact: String = iban
        .chars()
        .filter(|character| !character.is_whitespace() && *character != '-')
        .map(|character| character.to_ascii_uppercase())
        .collect();
    let bytes = compact.as_bytes();
    if !(15..=34).contains(&bytes.len())
        || !bytes[..2].iter().all(u8::is_ascii_uppercase)
        || !bytes[2..4].iter().all(u8::is_ascii_digit)
        || !bytes.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    if let Some(&(_, length)) = IBAN_LENGTHS
        .iter()
        .find(|(country, _)| country.as_bytes() == &bytes[..2])
        && length != bytes.len()
    {
        return false;
    }
    let mut remainder: u32 = 0;
    for &byte in bytes[4..].iter().chain(&bytes[..4]) {
        let value = if byte.is_ascii_digit() {
            u32::from(byte - b'0')
        } else {
            u32::from(byte - b'A') + 10
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// Keywords of one language, as phrases; `word*` matches any word starting with `word`.
struct ContextWords {
    /// A number of 3–8 digits near these is a secret.
    secret: &'static [&'static str],
    /// The word after these (and a copula) is a password even without digits.
    password: &'static [&'static str],
    /// Words between a password keyword and the password ("is", "es", "это", "是").
    copulas: &'static [&'static str],
    /// Words after a Persian password ("است").
    copulas_after: &'static [&'static str],
    /// Words that follow "password is" without being a password.
    not_passwords: &'static [&'static str],
    /// A number of 7–8 digits near these is a phone number.
    phone: &'static [&'static str],
    /// Spoken e-mail addresses: "john dot smith at gmail dot com".
    email_at: &'static [&'static str],
    email_dot: &'static [&'static str],
}

/// Keywords understood in every language: agents say "CVV" and "PIN" in any of them.
const COMMON_SECRET: &[&str] = &["cvv*", "cvc*", "pin", "pin code", "pincode", "otp"];

const ENGLISH_WORDS: ContextWords = ContextWords {
    secret: &[
        "security code",
        "verification code",
        "password*",
        "passcode*",
        "pin number",
        "one time code",
        "sms code",
        "three digit code",
        "digits on the back",
        "card verification",
    ],
    password: &["password", "passcode", "passphrase"],
    copulas: &["is", "its", "my", "the", ":"],
    copulas_after: &[],
    not_passwords: &[
        "not",
        "no",
        "wrong",
        "incorrect",
        "correct",
        "invalid",
        "expired",
        "blocked",
        "locked",
        "working",
        "the",
        "same",
        "still",
        "now",
        "changed",
        "reset",
        "required",
        "needed",
        "being",
        "very",
        "too",
        "also",
        "just",
        "that",
        "this",
        "what",
        "something",
        "different",
    ],
    phone: &[
        "phone*",
        "telephone*",
        "number*",
        "mobile*",
        "cell*",
        "callback",
        "call back",
        "contact*",
    ],
    email_at: &["at"],
    email_dot: &["dot"],
};

const SPANISH_WORDS: ContextWords = ContextWords {
    secret: &[
        "codigo de seguridad",
        "codigo de verificacion",
        "codigo secreto",
        "contrasena*",
        "clave*",
        "nip",
        "numero secreto",
        "digitos de atras",
        "digitos del reverso",
    ],
    password: &["contrasena", "clave"],
    copulas: &["es", "mi", "la", "su", ":"],
    copulas_after: &[],
    not_passwords: &[
        "no",
        "incorrecta",
        "incorrecto",
        "correcta",
        "correcto",
        "la",
        "el",
        "una",
        "un",
        "muy",
        "caducada",
        "bloqueada",
        "mala",
        "nueva",
        "otra",
        "diferente",
        "que",
    ],
    phone: &["telefono*", "numero*", "movil*", "celular*", "contacto*"],
    email_at: &["arroba"],
    email_dot: &["punto"],
};

const RUSSIAN_WORDS: ContextWords = ContextWords {
    secret: &[
        "пин*",
        "пинкод*",
        "код безопасности",
        "код подтверждения",
        "код из смс",
        "смс код",
        "парол*",
        "кодовое слово",
        "секретный код",
        "цифры на обороте",
    ],
    password: &["пароль", "кодовое слово"],
    copulas: &["это", "мой", "такой", ":"],
    copulas_after: &[],
    not_passwords: &[
        "не",
        "неправильный",
        "неверный",
        "правильный",
        "заблокирован",
        "другой",
        "новый",
        "старый",
        "такой",
        "что",
    ],
    phone: &["телефон*", "номер*", "мобильн*", "сотов*", "контакт*"],
    email_at: &["собака", "собачка"],
    email_dot: &["точка"],
};

const POLISH_WORDS: ContextWords = ContextWords {
    secret: &[
        "kod cvv",
        "kod bezpieczenstwa",
        "kod zabezpieczajacy",
        "kod weryfikacyjny",
        "kod sms",
        "kod z sms",
        "hasl*",
        "kod pin",
        "numer pin",
    ],
    password: &["haslo"],
    copulas: &["to", "jest", "moje", ":"],
    copulas_after: &[],
    not_passwords: &[
        "nie",
        "zle",
        "bledne",
        "poprawne",
        "zablokowane",
        "nowe",
        "stare",
        "inne",
        "takie",
    ],
    phone: &["telefon*", "numer*", "komork*", "kontakt*"],
    email_at: &["malpa", "malpka"],
    email_dot: &["kropka"],
};

const CHINESE_WORDS: ContextWords = ContextWords {
    secret: &[
        "密码",
        "验证码",
        "安全码",
        "校验码",
        "动态码",
        "背面三位数",
        "后三位",
    ],
    password: &["密码"],
    copulas: &["是", "为", ":"],
    copulas_after: &[],
    not_passwords: &["不", "错", "对"],
    phone: &["电话", "号码", "手机", "联系"],
    email_at: &[],
    email_dot: &[],
};

const PERSIAN_WORDS: ContextWords = ContextWords {
    secret: &[
        "رمز*",
        "کلمه عبور",
        "کد امنیتی",
        "کد تایید",
        "کد پویا",
        "پین*",
        "سی وی وی",
    ],
    password: &["رمز", "رمزم", "کلمه عبور"],
    copulas: &["من", "شما", "هم", ":"],
    copulas_after: &["است", "هست", "هستش", "اس"],
    not_passwords: &["نه", "اشتباه", "درست", "جدید"],
    phone: &["تلفن*", "شماره*", "موبایل*", "همراه*", "تماس*"],
    email_at: &["ات", "اَت"],
    email_dot: &["دات", "نقطه"],
};

const NO_WORDS: ContextWords = ContextWords {
    secret: &[],
    password: &[],
    copulas: &[],
    copulas_after: &[],
    not_passwords: &[],
    phone: &[],
    email_at: &[],
    email_dot: &[],
};

fn context_words(language: Language) -> &'static ContextWords {
    match language {
        Language::English => &ENGLISH_WORDS,
        Language::Spanish => &SPANISH_WORDS,
        Language::Russian => &RUSSIAN_WORDS,
        Language::Polish => &POLISH_WORDS,
        Language::Chinese => &CHINESE_WORDS,
        Language::Persian => &PERSIAN_WORDS,
        Language::Other => &NO_WORDS,
    }
}

/// Top-level domains accepted at the end of a spoken e-mail address.
const SPOKEN_EMAIL_DOMAINS: &[&str] = &[
    "com", "net", "org", "edu", "gov", "info", "io", "ru", "es", "pl", "ir", "cn", "de", "uk",
    "mx", "ar", "co", "us", "eu", "fr", "it",
];

fn email_regex() -> &'static Regex {
    static REGEX: OnceLock<Regex> = OnceLock::new();
    REGEX.get_or_init(|| {
        Regex::new(r"(?i)[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}")
            .expect("constant regex compiles")
    })
}

fn iban_regex() -> &'static Regex {
    static REGEX: OnceLock<Regex> = OnceLock::new();
    REGEX.get_or_init(|| {
        Regex::new(r"(?i)\b[a-z]{2}[ \t]?[0-9]{2}(?:[ \t\-]?[a-z0-9]){10,32}")
            .expect("constant regex compiles")
    })
}

/// Collects spans, refusing any that overlaps one already taken (earlier detectors win).
#[derive(Default)]
struct SpanSet {
    spans: Vec<PiiSpan>,
}

impl SpanSet {
    fn overlaps(&self, range: &Range<usize>) -> bool {
        self.spans
            .iter()
            .any(|span| span.byte_range.start < range.end && range.start < span.byte_range.end)
    }

    fn add(&mut self, kind: PiiKind, byte_range: Range<usize>, verified: bool) {
        if byte_range.start < byte_range.end && !self.overlaps(&byte_range) {
            self.spans.push(PiiSpan {
                kind,
                byte_range,
                verified,
            });
        }
    }

    fn into_sorted(mut self) -> Vec<PiiSpan> {
        self.spans.sort_by_key(|span| span.byte_range.start);
        self.spans
    }
}

fn find_in(text: &str, language: Language) -> Vec<PiiSpan> {
    let words = context_words(language);
    let keywords = compiled_keywords(language);
    let mut spans = SpanSet::default();

    for found in email_regex().find_iter(text) {
        spans.add(PiiKind::Email, found.range(), true);
    }
    find_written_ibans(text, &mut spans);

    let normalized = normalize::normalize_text(text, language);
    let tokens = &normalized.tokens;
    find_spoken_emails(text, tokens, words, &mut spans);

    let secret_keywords = keyword_positions(tokens, &keywords.secret);
    let phone_keywords = keyword_positions(tokens, &keywords.phone);
    for run in digit_runs(text, tokens, language, &spans) {
        classify_run(
            &run,
            language,
            &secret_keywords,
            &phone_keywords,
            &mut spans,
        );
    }
    find_word_passwords(tokens, words, &keywords.password, &mut spans);
    spans.into_sorted()
}

/// The keyword phrases of one language, normalised once per process.
struct CompiledKeywords {
    secret: Vec<Vec<Token>>,
    password: Vec<Vec<Token>>,
    phone: Vec<Vec<Token>>,
}

fn compiled_keywords(language: Language) -> &'static CompiledKeywords {
    static CACHE: OnceLock<Vec<(Language, CompiledKeywords)>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        [
            Language::English,
            Language::Spanish,
            Language::Russian,
            Language::Polish,
            Language::Chinese,
            Language::Persian,
            Language::Other,
        ]
        .into_iter()
        .map(|language| {
            let words = context_words(language);
            let compile = |phrases: &mut dyn Iterator<Item = &&str>| -> Vec<Vec<Token>> {
                phrases
                    .map(|phrase| normalize::normalize_phrase(phrase, language).tokens)
                    .filter(|tokens| !tokens.is_empty())
                    .collect()
            };
            let compiled = CompiledKeywords {
                secret: compile(&mut COMMON_SECRET.iter().chain(words.secret)),
                password: compile(&mut words.password.iter()),
                phone: compile(&mut words.phone.iter()),
            };
            (language, compiled)
        })
        .collect()
    });
    all.iter()
        .find(|(cached, _)| *cached == language)
        .or_else(|| all.last())
        .map(|(_, compiled)| compiled)
        .expect("the cache holds every language")
}

/// IBANs written with letters: `ES91 2100 0418 4502 0005 1332`.
fn find_written_ibans(text: &str, spans: &mut SpanSet) {
    for candidate in iban_regex().find_iter(text) {
        // The regex may run into the next word; try the longest valid prefix.
        let positions: Vec<(usize, char)> = candidate
            .as_str()
            .char_indices()
            .filter(|(_, character)| character.is_ascii_alphanumeric())
            .collect();
        for length in (15..=positions.len().min(34)).rev() {
            let compact: String = positions[..length]
                .iter()
                .map(|(_, character)| *character)
                .collect();
            if iban_valid(&compact) {
                let (last_offset, last_char) = positions[length - 1];
                let start = candidate.start();
                spans.add(
                    PiiKind::Iban,
                    start..start + last_offset + last_char.len_utf8(),
                    true,
                );
                break;
            }
        }
    }
}

/// Where keyword phrases occur, as token ranges.
fn keyword_positions(tokens: &[Token], phrases: &[Vec<Token>]) -> Vec<Range<usize>> {
    let mut positions = Vec::new();
    for pattern in phrases {
        for start in 0..tokens.len() {
            let matches = pattern.iter().enumerate().all(|(offset, wanted)| {
                tokens.get(start + offset).is_some_and(|token| {
                    if wanted.is_prefix {
                        token.text.starts_with(&wanted.text)
                    } else {
                        token.text == wanted.text
                    }
                })
            });
            if matches {
                positions.push(start..start + pattern.len());
            }
        }
    }
    positions
}

/// One digit of a run, with the text it came from.
#[derive(Debug, Clone)]
struct DigitItem {
    digit: u8,
    byte_range: Range<usize>,
    /// Items of one spoken expression share a group: a card window never splits a group.
    group: usize,
    token_index: usize,
    strong: bool,
}

#[derive(Debug, Default)]
struct DigitRun {
    items: Vec<DigitItem>,
    /// Where a '+' right before the run is ("+7 916 …").
    plus_offset: Option<usize>,
}

/// Characters that may separate digit groups inside one number.
fn is_number_separator(character: char) -> bool {
    character.is_whitespace()
        || matches!(
            character,
            '-' | '\u{2010}'
                ..='\u{2015}'
                    | '.'
                    | ','
                    | '/'
                    | '('
                    | ')'
                    | '+'
                    | ':'
                    | ';'
                    | '、'
                    | '，'
                    | '。'
                    | '：'
                    | '\u{200C}'
                    | '\u{060C}'
        )
}

fn digit_runs(text: &str, tokens: &[Token], language: Language, taken: &SpanSet) -> Vec<DigitRun> {
    let token_texts: Vec<&str> = tokens.iter().map(|token| token.text.as_str()).collect();
    let mut runs = Vec::new();
    let mut current = DigitRun::default();
    let mut previous_end: Option<usize> = None;
    let mut group = 0;
    let mut index = 0;
    while index < tokens.len() {
        let token = &tokens[index];
        let mut consumed = 1;
        let mut new_items = Vec::new();
        if !taken.overlaps(&token.byte_range) {
            if !token.text.is_empty() && token.text.bytes().all(|byte| byte.is_ascii_digit()) {
                for (offset, character) in text[token.byte_range.clone()].char_indices() {
                    if let Some(digit) = normalize::digit_value(character) {
                        let start = token.byte_range.start + offset;
                        group += 1;
                        new_items.push(DigitItem {
                            digit,
                            byte_range: start..start + character.len_utf8(),
                            group,
                            token_index: index,
                            strong: true,
                        });
                    }
                }
            } else if let Some(number) = spoken::parse(&token_texts[index..], language) {
                consumed = number.n_tokens.max(1);
                let last = &tokens[(index + consumed - 1).min(tokens.len() - 1)];
                let byte_range = token.byte_range.start..last.byte_range.end;
                group += 1;
                for character in number.digits.bytes() {
                    new_items.push(DigitItem {
                        digit: character - b'0',
                        byte_range: byte_range.clone(),
                        group,
                        token_index: index,
                        strong: !number.weak,
                    });
                }
            }
        }
        if new_items.is_empty() {
            runs.push(std::mem::take(&mut current));
            previous_end = None;
        } else {
            let gap_is_separator = previous_end.is_some_and(|end| {
                text.get(end..token.byte_range.start)
                    .is_some_and(|gap| gap.chars().all(is_number_separator))
            });
            if !gap_is_separator {
                runs.push(std::mem::take(&mut current));
                // A '+' among the separators just before the run starts a phone number.
                let before = &text[..token.byte_range.start];
                let separators_start = before
                    .char_indices()
                    .rev()
                    .find(|&(_, character)| !is_number_separator(character))
                    .map_or(0, |(position, character)| position + character.len_utf8());
                current.plus_offset = before[separators_start..]
                    .find('+')
                    .map(|position| separators_start + position);
            }
            current.items.extend(new_items);
            previous_end = Some(tokens[index + consumed - 1].byte_range.end);
        }
        index += consumed;
    }
    runs.push(current);
    runs.into_iter()
        .flat_map(drop_lonely_weak_digits)
        .filter(|run| !run.items.is_empty())
        .collect()
}

/// Weak digits ("for", "to", "نه") count only next to a strong digit; the others split the run.
fn drop_lonely_weak_digits(run: DigitRun) -> Vec<DigitRun> {
    let groups: Vec<usize> = {
        let mut groups: Vec<usize> = run.items.iter().map(|item| item.group).collect();
        groups.dedup();
        groups
    };
    let strong_group = |group: usize| {
        run.items
            .iter()
            .any(|item| item.group == group && item.strong)
    };
    let keep = |position: usize| {
        let group = groups[position];
        strong_group(group)
            || (position > 0 && strong_group(groups[position - 1]))
            || groups
                .get(position + 1)
                .is_some_and(|&next| strong_group(next))
    };
    let mut pieces = Vec::new();
    let mut current = DigitRun {
        items: Vec::new(),
        plus_offset: run.plus_offset,
    };
    for (position, &group) in groups.iter().enumerate() {
        if keep(position) {
            current
                .items
                .extend(run.items.iter().filter(|item| item.group == group).cloned());
        } else {
            pieces.push(std::mem::take(&mut current));
        }
    }
    pieces.push(current);
    pieces
}

/// The countries whose IBANs a speaker of the language reads as plain digits.
fn spoken_iban_country(language: Language) -> Option<&'static str> {
    match language {
        Language::Polish => Some("PL"),
        Language::Persian => Some("IR"),
        Language::Spanish => Some("ES"),
        _ => None,
    }
}

fn classify_run(
    run: &DigitRun,
    language: Language,
    secret_keywords: &[Range<usize>],
    phone_keywords: &[Range<usize>],
    spans: &mut SpanSet,
) {
    let items = &run.items;
    let Some((first, last)) = items.first().zip(items.last()) else {
        return;
    };
    let digits: String = items
        .iter()
        .map(|item| char::from(b'0' + item.digit))
        .collect();
    let whole = first.byte_range.start..last.byte_range.end;
    let n_digits = digits.len();
    // A card or account window may start or end only between groups.
    let boundary = |position: usize| {
        position == 0 || position >= n_digits || items[position].group != items[position - 1].group
    };

    // An account number read as digits (Polish NRB, Iranian Sheba): the whole run goes.
    if let Some(country) = spoken_iban_country(language)
        && let Some(&(_, length)) = IBAN_LENGTHS.iter().find(|(code, _)| *code == country)
    {
        let wanted = length - 2;
        let valid = (0..n_digits.saturating_sub(wanted) + 1).any(|start| {
            start + wanted <= n_digits
                && boundary(start)
                && boundary(start + wanted)
                && iban_valid(&format!("{country}{}", &digits[start..start + wanted]))
        });
        if valid {
            spans.add(PiiKind::Iban, whole, true);
            return;
        }
    }

    // A Luhn-valid stretch of 13–19 digits anywhere in the run: the whole run is a card.
    let has_card = (0..n_digits).any(|start| {
        boundary(start)
            && (13..=19).any(|length| {
                start + length <= n_digits
                    && boundary(start + length)
                    && luhn_valid(&digits[start..start + length])
            })
    });
    if has_card {
        spans.add(PiiKind::Card, whole, true);
        return;
    }

    let first_token = first.token_index;
    let last_token = last.token_index;
    let near = |keywords: &[Range<usize>], before: usize, after: usize| {
        keywords.iter().any(|keyword| {
            (keyword.end <= first_token && first_token - keyword.end <= before)
                || (keyword.start > last_token && keyword.start - last_token <= after)
        })
    };
    if (3..=8).contains(&n_digits) && near(secret_keywords, 6, 3) {
        spans.add(PiiKind::Secret, whole, false);
    } else if let Some(plus_offset) = run.plus_offset
        && (7..=15).contains(&n_digits)
    {
        spans.add(PiiKind::Phone, plus_offset..whole.end, false);
    } else if (13..=19).contains(&n_digits) {
        // Most likely a card the ASR garbled: redact it as one.
        spans.add(PiiKind::Card, whole, false);
    } else if n_digits > 19 {
        spans.add(PiiKind::Iban, whole, false);
    } else if (9..=12).contains(&n_digits)
        || ((7..=8).contains(&n_digits) && near(phone_keywords, 8, 2))
    {
        spans.add(PiiKind::Phone, whole, false);
    }
}

/// "my password is sunshine42", "mi contraseña es perro", "رمزم گل۱۲ است".
fn find_word_passwords(
    tokens: &[Token],
    words: &ContextWords,
    password_keywords: &[Vec<Token>],
    spans: &mut SpanSet,
) {
    for keyword in keyword_positions(tokens, password_keywords) {
        let mut position = keyword.end;
        let mut skipped_copula = false;
        while position < tokens.len()
            && position < keyword.end + 3
            && words.copulas.contains(&tokens[position].text.as_str())
        {
            position += 1;
            skipped_copula = true;
        }
        let Some(candidate) = tokens.get(position) else {
            continue;
        };
        let has_digit = candidate
            .text
            .chars()
            .any(|character| character.is_ascii_digit());
        let copula_after = tokens
            .get(position + 1)
            .is_some_and(|next| words.copulas_after.contains(&next.text.as_str()));
        let plain_word = candidate.text.chars().count() >= 3
            && !candidate.is_cjk
            && !words.not_passwords.contains(&candidate.text.as_str());
        if has_digit || (plain_word && (skipped_copula || copula_after)) {
            spans.add(PiiKind::Secret, candidate.byte_range.clone(), false);
        }
    }
}

/// "john dot smith at gmail dot com", "juan punto perez arroba gmail punto com".
fn find_spoken_emails(text: &str, tokens: &[Token], words: &ContextWords, spans: &mut SpanSet) {
    let is_dot_between = |left: usize, right: usize| {
        let gap = text
            .get(tokens[left].byte_range.end..tokens[right].byte_range.start)
            .unwrap_or_default();
        gap.contains('.') || gap.contains('_')
    };
    for (at_index, token) in tokens.iter().enumerate() {
        if !words.email_at.contains(&token.text.as_str()) || at_index == 0 {
            continue;
        }
        // Domain: word (dot word)+ ending with a known top-level domain.
        let mut position = at_index + 1;
        let mut domain_end = None;
        if position < tokens.len() {
            let mut last_word = position;
            position += 1;
            loop {
                if position < tokens.len()
                    && words.email_dot.contains(&tokens[position].text.as_str())
                {
                    position += 1;
                } else if position < tokens.len() && is_dot_between(last_word, position) {
                    // "gmail.com" split by the tokenizer.
                } else {
                    break;
                }
                let Some(part) = tokens.get(position) else {
                    break;
                };
                last_word = position;
                if SPOKEN_EMAIL_DOMAINS.contains(&part.text.as_str()) {
                    domain_end = Some(position);
                }
                position += 1;
            }
        }
        let Some(domain_end) = domain_end else {
            continue;
        };
        // Local part: up to four words joined by "dot" or written dots.
        let mut start = at_index - 1;
        let mut n_parts = 1;
        while start >= 2
            && n_parts < 4
            && words.email_dot.contains(&tokens[start - 1].text.as_str())
        {
            start -= 2;
            n_parts += 1;
        }
        while start >= 1 && n_parts < 4 && is_dot_between(start - 1, start) {
            start -= 1;
            n_parts += 1;
        }
        spans.add(
            PiiKind::Email,
            tokens[start].byte_range.start..tokens[domain_end].byte_range.end,
            false,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str, language: &str) -> Vec<PiiKind> {
        find(text, language)
            .into_iter()
            .map(|span| span.kind)
            .collect()
    }

    /// Redacts and checks that no digit of the card survives.
    fn assert_card_redacted(text: &str, language: &str) {
        let redacted = redact(text, language);
        assert!(redacted.contains("[CARD]"), "{text:?} → {redacted:?}");
        assert!(
            !redacted.chars().any(|character| character.is_ascii_digit()),
            "{text:?} → {redacted:?}"
        );
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("5500005555555559"));
        assert!(luhn_valid("378282246310005"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(!luhn_valid("41111111111x1111"));
    }

    #[test]
    fn iban_mod_97() {
        assert!(iban_valid("ES91 2100 0418 4502 0005 1332"));
        assert!(iban_valid("GB82WEST12345698765432"));
        assert!(iban_valid("pl61 1090 1014 0000 0712 1981 2874"));
        assert!(iban_valid("DE89370400440532013000"));
        assert!(!iban_valid("ES91 2100 0418 4502 0005 1333"));
        assert!(!iban_valid("GB82WEST1234569876543"));
    }

    #[test]
    fn written_cards_in_asr_shapes() {
        for text in [
            "My card is 4111 1111 1111 1111.",
            "it's 4111-1111-1111-1111 okay",
            "41 11 11 11 11 11 11 11",
            "4111111111111111",
            "for 1111 1111 1111 1111",
        ] {
            assert_card_redacted(text, "en");
        }
        assert_eq!(
            redact("The number is 4111, 1111, 1111, 1111, expiry 12 25.", "en"),
            "The number is [CARD], expiry 12 25."
        );
    }

    #[test]
    fn spoken_cards_in_every_language() {
        assert_card_redacted(
            "four one one one one one one one one one one one one one one one",
            "en",
        );
        assert_card_redacted(
            "cuatro uno uno uno, uno uno uno uno, uno uno uno uno, uno uno uno uno",
            "es",
        );
        assert_card_redacted(
            "Номер карты: четыре один один один один один один один один один один один один один один один.",
            "ru",
        );
        assert_card_redacted(
            "cztery jeden jeden jeden jeden jeden jeden jeden jeden jeden jeden jeden jeden jeden jeden jeden",
            "pl",
        );
        assert_card_redacted("我的卡号是四一一一一一一一一一一一一一一一。", "zh");
        assert_card_redacted("چهار یک یک یک یک یک یک یک یک یک یک یک یک یک یک یک", "fa");
        assert_card_redacted("شماره کارتم ۴۱۱۱ ۱۱۱۱ ۱۱۱۱ ۱۱۱۱ است", "fa");
        // Pairs and mixed words and digits.
        assert_card_redacted("cuarenta y uno once 11 11 once once 11 11", "es");
        assert_card_redacted("four one one one 1111 1111 one one one one", "en");
    }

    #[test]
    fn card_split_over_two_utterances() {
        let spans = find_in_sequence(&["It's 4111 1111", "1111 1111, yes."], "en");
        assert_eq!(spans[0].len(), 1);
        assert_eq!(spans[1].len(), 1);
        assert_eq!(spans[0][0].kind, PiiKind::Card);
        let redacted = redact_sequence(&["It's 4111 1111", "1111 1111, yes."], "en");
        assert_eq!(redacted, vec!["It's [CARD]", "[CARD], yes."]);
    }

    #[test]
    fn transcript_redaction_follows_each_speaker() {
        use crate::types::{Layout, Segment, SegmentQuality};
        let segment = |speaker: Speaker, start_ms: u64, text: &str| Segment {
            speaker,
            channel: u16::from(speaker == Speaker::Customer),
            start_ms,
            end_ms: start_ms + 1000,
            text: text.to_string(),
            confidence: 0.9,
            quality: SegmentQuality::Ok,
        };
        let transcript = CallTranscript {
            duration_ms: 10_000,
            layout: Layout::Stereo,
            source_sample_rate: 8000,
            channels: Vec::new(),
            segments: vec![
                segment(Speaker::Customer, 0, "It's 4111 1111"),
                segment(Speaker::Agent, 1000, "Mm-hmm."),
                segment(Speaker::Customer, 2000, "1111 1111."),
            ],
        };
        assert_eq!(
            redact_transcript(&transcript, "en"),
            vec!["It's [CARD]", "Mm-hmm.", "[CARD]."]
        );
    }

    #[test]
    fn ibans_written_and_read_as_digits() {
        assert_eq!(
            redact("IBAN ES91 2100 0418 4502 0005 1332 thanks", "es"),
            "IBAN [IBAN] thanks"
        );
        assert_eq!(
            kinds("numer konta 61 1090 1014 0000 0712 1981 2874", "pl"),
            vec![PiiKind::Iban]
        );
    }

    #[test]
    fn secrets_by_context() {
        assert_eq!(redact("my pin is 1234", "en"), "my pin is [SECRET]");
        assert_eq!(
            redact("the CVV is four five six", "en"),
            "the CVV is [SECRET]"
        );
        assert_eq!(
            redact("el código de seguridad es 123", "es"),
            "el código de seguridad es [SECRET]"
        );
        assert_eq!(redact("Пин-код 4321.", "ru"), "Пин-код [SECRET].");
        assert_eq!(redact("kod CVV to 987", "pl"), "kod CVV to [SECRET]");
        assert_eq!(redact("密码是一二三四", "zh"), "密码是[SECRET]");
        assert_eq!(redact("رمز دوم ۱۲۳۴۵", "fa"), "رمز دوم [SECRET]");
        assert_eq!(
            redact("my password is sunshine", "en"),
            "my password is [SECRET]"
        );
        assert_eq!(
            redact("my password is not working", "en"),
            "my password is not working"
        );
        assert_eq!(
            redact("mi contraseña es perro42", "es"),
            "mi contraseña es [SECRET]"
        );
        // A short number without a keyword is not a secret.
        assert_eq!(redact("I waited 20 minutes", "en"), "I waited 20 minutes");
    }

    #[test]
    fn phones_and_emails() {
        assert_eq!(
            redact("call me on 07700 900123", "en"),
            "call me on [PHONE]"
        );
        assert_eq!(redact("+7 916 123-45-67", "ru"), "[PHONE]");
        assert_eq!(
            redact("mi teléfono es 612 34 56 78", "es"),
            "mi teléfono es [PHONE]"
        );
        assert_eq!(
            redact("write to anna.k@example.com please", "en"),
            "write to [EMAIL] please"
        );
        assert_eq!(
            redact("it's john dot smith at gmail dot com", "en"),
            "it's [EMAIL]"
        );
        assert_eq!(redact("juan arroba gmail punto com", "es"), "[EMAIL]");
        // Amounts and times are not phone numbers.
        assert_eq!(
            redact("that is 1,250 dollars at 10:30", "en"),
            "that is 1,250 dollars at 10:30"
        );
    }

    #[test]
    fn weak_words_alone_are_not_digits() {
        assert!(find("I waited for two hours to get through", "en").is_empty());
        assert!(find("نه، ممنون", "fa").is_empty());
    }

    /// Random text from a palette of every script and separator the detectors care about:
    /// nothing may panic, spans must lie on char boundaries, in order, without overlap.
    #[test]
    fn random_input_never_breaks_the_detectors() {
        const PALETTE: &[&str] = &[
            "4",
            "1",
            "۴",
            "١",
            "４",
            " ",
            "-",
            ",",
            ".",
            "+",
            "@",
            "'",
            "’",
            "\u{200C}",
            "\n",
            "four",
            "one",
            "for",
            "to",
            "oh",
            "double",
            "hundred",
            "and",
            "cuatro",
            "uno",
            "y",
            "четыре",
            "один",
            "сто",
            "cztery",
            "jeden",
            "四",
            "一",
            "十",
            "百",
            "幺",
            "چهار",
            "یک",
            "نه",
            "و",
            "pin",
            "cvv",
            "password",
            "is",
            "密码",
            "是",
            "رمز",
            "ES91",
            "PL61",
            "dot",
            "at",
            "gmail",
            "com",
            "é",
            "ł",
            "ё",
            "ي",
            "ك",
            "\u{064B}",
            "*",
            "«",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..600 {
            let length = (next() % 40) as usize;
            let text: String = (0..length)
                .map(|_| PALETTE[(next() % PALETTE.len() as u64) as usize])
                .collect();
            for language in ["en", "es", "ru", "pl", "zh", "fa", "xx"] {
                let spans = find(&text, language);
                let mut end = 0;
                for span in &spans {
                    assert!(span.byte_range.start >= end, "{text:?}: {spans:?}");
                    assert!(
                        text.get(span.byte_range.clone()).is_some(),
                        "{text:?}: {spans:?}"
                    );
                    end = span.byte_range.end;
                }
                let _ = redact(&text, language);
                let normalized =
                    crate::normalize::normalize_text(&text, Language::from_code(language));
                for token in &normalized.tokens {
                    assert!(text.get(token.byte_range.clone()).is_some());
                }
            }
        }
    }

    #[test]
    fn spans_lie_on_char_boundaries() {
        let text = "شماره من ۰۹۱۲ ۳۴۵ ۶۷۸۹ است";
        for span in find(text, "fa") {
            assert!(text.get(span.byte_range.clone()).is_some());
            assert_eq!(span.kind, PiiKind::Phone);
        }
    }
}
