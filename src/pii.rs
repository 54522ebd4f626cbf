//! Personal data in transcript text: detection and redaction.
//!
//! Finds card numbers, IBANs, phone numbers, e-mail addresses, secrets (CVV, PIN, password,
//! one-time codes) and postal addresses in what Whisper wrote, and replaces them with `[CARD]`,
//! `[IBAN]`, `[PHONE]`, `[EMAIL]`, `[SECRET]`, `[ADDRESS]`. Everything callqa writes (dataset,
//! report, logs, finding evidence) goes through [`redact`] or [`redact_sequence`].
//!
//! Transcripts do not hold clean numbers, so detection works on *digit runs*: consecutive
//! digits written as digits in any script (`4111`, `۴۱۱۱`, `４１１１`) or spoken as words in the
//! call's language (`four one one one`, `cuarenta y uno`, `mil ciento once`, `四一一一`,
//! `چهار یک`), joined across the separators an ASR puts between groups (`4111-1111`,
//! `41 11 11`, `4111, 1111.`). English and Chinese digits are read on every call, and so are
//! number words of the other languages, four expressions or more in a row (a Spanish-speaking
//! customer on an English queue: "cuatro uno uno uno …", "cuarenta y uno, once, once, once …";
//! see [`spoken::Reader`]). ASR garbles such as "for 1111" count as digits only next to other
//! digits, or in a chain of them between digits. A run is then classified:
//!
//! - **card**: the run holds a Luhn-valid stretch of 13–19 digits (`verified`), or is 13–19
//!   digits long without one (a card the ASR garbled: redacted anyway, not `verified`);
//! - **IBAN**: letters and digits passing mod 97 (`ES91 2100 …`), or a long digit run that is a
//!   valid IBAN with the language's country code (Polish NRB read as 26 digits, Iranian Sheba);
//! - **secret**: 3–8 digits near a secret keyword ("cvv", "pin", "código de seguridad",
//!   "пин-код", "hasło", "密码", "رمز", "پسورد" …) with no noun of another number between
//!   them ("your password, your case number is 58213" names a case), or the word after "my
//!   password is";
//! - **phone**: 9–12 digits, 7–8 digits near a phone keyword ("phone", "number", "call me
//!   at", "llámame al", "позвоните мне по"), or anything after `+`.
//!
//! E-mail addresses are found written (`a.b@c.com`) and spoken: "john dot smith at gmail dot
//! com", spelled "J-O-H-N dot S-M-I-T-H at …", "john underscore smith at …", "zhangsan艾特qq点com".
//!
//! Postal addresses ([`address`]) are a street word and a house number in the language's order
//! ("42 Baker Street, flat 3", "calle Mayor, 12, 3.º B", "ул. Ленина, д. 5, кв. 12", "ul.
//! Marszałkowska 10 m. 5", "建国路88号3号楼", "خیابان ولیعصر، پلاک ۵"), with the flat, postcode
//! and city that run on from them, and postcodes after their keyword ("zip code 90210", "کد
//! پستی ۱۲۳۴۵۶۷۸۹۰"). They are looked for last: a card, IBAN, e-mail, secret or phone number
//! keeps its span and label, and an address around one is cut into the parts beside it. The one
//! exception is a postcode right after its keyword that the length check took for a phone
//! number (a Persian postcode has ten digits): it is an address. Whose address it is does not
//! change the redaction; [`address_owner`] tells the rulebook whether the words around it make it
//! the customer's ("your address is …") or the company's ("our branch is at …"), since only the
//! first is a finding. [`PiiSpan`] carries no owner: the question belongs to the rule, and the
//! spans of the other kinds stay as they were.
//!
//! Redaction is conservative on purpose: a whole run is redacted when any part of it is a card,
//! so no digit of a card survives next to the placeholder.
//!
//! Promise: pure functions, no I/O, never panic; spans are sorted, never overlap and lie on
//! char boundaries.

mod address;
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
    Address,
    Account,
}

impl PiiKind {
    pub const ALL: [PiiKind; 7] = [
        PiiKind::Card,
        PiiKind::Iban,
        PiiKind::Phone,
        PiiKind::Email,
        PiiKind::Secret,
        PiiKind::Address,
        PiiKind::Account,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Card => "card",
            PiiKind::Iban => "iban",
            PiiKind::Phone => "phone",
            PiiKind::Email => "email",
            PiiKind::Secret => "secret",
            PiiKind::Address => "address",
            PiiKind::Account => "account",
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
            PiiKind::Address => "[ADDRESS]",
            PiiKind::Account => "[ACCOUNT]",
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
            PiiKind::Address => "postal address",
            PiiKind::Account => "account number",
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
/// `[SECRET]`, `[ADDRESS]`).
pub fn redact(text: &str, language: &str) -> String {
    redact_spans(text, &find(text, language))
}

/// Whose postal address a text gives (see [`address_owner`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressOwner {
    /// A cue naming the address the customer's: "your address", "on file", "su domicilio",
    /// "ваш адрес", "Pana adres", "您的地址", "آدرس شما" (a bare "you" is none).
    Customer,
    /// A cue of the company or of a place the customer is sent to, anywhere in the sentence:
    /// "our branch is at", "pick it up at", "nuestra oficina", "пункт выдачи", "…的营业厅",
    /// "شعبه ما".
    Company,
    /// No cue in the sentence.
    Unknown,
}

/// Whose postal address `text` gives at `address` (a [`PiiKind::Address`] span's byte range,
/// as [`find`] returns it): a cue of the company or of a place to go to anywhere in the same
/// sentence makes it the company's; else the nearest customer cue before it, or after it ("…
/// is that still your address?"). `language` as for [`find`];
/// other languages give [`AddressOwner::Unknown`]. Redaction does not depend on it.
pub fn address_owner(text: &str, address: Range<usize>, language: &str) -> AddressOwner {
    address::owner(text, &address, Language::from_code(language))
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
    let asked = vec![None; texts.len()];
    find_in_utterances(texts, &asked, Language::from_code(language))
}

/// [`find_in_sequence`], where `asked[i]` is what the conversation just asked for before
/// `texts[i]` (a secret or a phone number), possibly in the other speaker's words.
fn find_in_utterances(
    texts: &[&str],
    asked: &[Option<PiiKind>],
    language: Language,
) -> Vec<Vec<PiiSpan>> {
    let mut joined = String::new();
    let mut pieces = Vec::with_capacity(texts.len());
    for (index, text) in texts.iter().enumerate() {
        if !joined.is_empty() {
            joined.push('\n');
        }
        pieces.push(Piece {
            start: joined.len(),
            asked: asked.get(index).copied().flatten(),
        });
        joined.push_str(text);
    }
    let spans = find_in_pieces(&joined, language, &pieces);
    texts
        .iter()
        .zip(&pieces)
        .map(|(text, piece)| {
            let start = piece.start;
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

/// Utterances of one speaker are read as one text (a number read across them is one number)
/// only when at most this long a pause lies between them…
const JOIN_GAP_MS: u64 = 5_000;
/// … and the others said nothing in between but a short backchannel ("mm-hmm", "okay, go on").
const BACKCHANNEL_MAX_WORDS: usize = 3;
/// A number of 3–8 digits answers a question for a secret (or 7–8 digits one for a phone
/// number) asked by either speaker at most this long before the utterance starts.
const ASKED_WITHIN_MS: u64 = 15_000;

/// Personal data in every segment of a call. Each speaker's utterances are read in chains of
/// consecutive utterances (see [`find_in_sequence`]) that no pause over [`JOIN_GAP_MS`] and no
/// more than a backchannel of the other speaker separates; a number that answers a question
/// for a secret or a phone number ("What is your PIN?" … "Four three two one.") is found by the
/// question, whoever asked it. One list per segment, in segment order.
pub fn find_in_transcript(transcript: &CallTranscript, language: &str) -> Vec<Vec<PiiSpan>> {
    let language = Language::from_code(language);
    let segments = &transcript.segments;
    let mut spans = vec![Vec::new(); segments.len()];
    let mut order: Vec<usize> = (0..segments.len()).collect();
    order.sort_by_key(|&index| (segments[index].start_ms, index));
    let questions: Vec<Option<PiiKind>> = segments
        .iter()
        .map(|segment| asked_for(&segment.text, language))
        .collect();
    // What the other side asked last, shortly before each utterance. The asker's own numbers
    // are not the answer ("What is your PIN?" … "your case number is 48213" from the same
    // agent is no secret, and would fail the agent for reading one out). Nor are the agent's
    // numbers an answer to the customer: "Can I reset my password?" … "your reference is
    // 58213" is no secret read out; an agent who does read one out names it ("your PIN is
    // 4321"), which the agent's own words show. On a mono call the speakers are not told
    // apart, and any question counts (speaker-scoped rules are not scored there).
    let asked: Vec<Option<PiiKind>> = (0..segments.len())
        .map(|index| {
            let segment = &segments[index];
            if segment.speaker == Speaker::Agent {
                return None;
            }
            order
                .iter()
                .rev()
                .filter(|&&other| other != index)
                .filter(|&&other| {
                    segment.speaker == Speaker::Unknown
                        || segments[other].speaker != segment.speaker
                })
                .filter(|&&other| {
                    let before = &segments[other];
                    before.start_ms <= segment.start_ms
                        && segment.start_ms.saturating_sub(before.end_ms) <= ASKED_WITHIN_MS
                })
                .find_map(|&other| questions[other])
        })
        .collect();
    // More than a backchannel: a question, more than a few words, or a number (an answer:
    // "737." between the agent's question and the agent's next words ends the agent's chain,
    // so the question does not make the agent's own amount a secret).
    let interrupts: Vec<bool> = segments
        .iter()
        .zip(&questions)
        .map(|(segment, question)| {
            let text = segment.text.as_str();
            let normalized = normalize::normalize_text(text, language);
            let words: Vec<&str> = normalized
                .tokens
                .iter()
                .map(|token| token.text.as_str())
                .collect();
            let reader = spoken::Reader::new(&words, language);
            question.is_some()
                || text.contains(['?', '？', '؟'])
                || words.len() > BACKCHANNEL_MAX_WORDS
                || text.chars().any(|character| character.is_numeric())
                || (0..words.len())
                    .any(|index| reader.parse(index).is_some_and(|number| !number.weak))
        })
        .collect();
    for speaker in [Speaker::Agent, Speaker::Customer, Speaker::Unknown] {
        let own: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&index| segments[index].speaker == speaker)
            .collect();
        let mut chain: Vec<usize> = Vec::new();
        let mut flush = |chain: &mut Vec<usize>| {
            let texts: Vec<&str> = chain
                .iter()
                .map(|&index| segments[index].text.as_str())
                .collect();
            let chain_asked: Vec<Option<PiiKind>> =
                chain.iter().map(|&index| asked[index]).collect();
            for (&index, found) in
                chain
                    .iter()
                    .zip(find_in_utterances(&texts, &chain_asked, language))
            {
                spans[index] = found;
            }
            chain.clear();
        };
        for &index in &own {
            if let Some(&previous) = chain.last() {
                let (before, after) = (&segments[previous], &segments[index]);
                let paused = after.start_ms.saturating_sub(before.end_ms) > JOIN_GAP_MS;
                let interrupted = order.iter().any(|&other| {
                    let between = &segments[other];
                    between.speaker != speaker
                        && between.start_ms > before.start_ms
                        && between.start_ms < after.start_ms
                        && interrupts[other]
                });
                if paused || interrupted {
                    flush(&mut chain);
                }
            }
            chain.push(index);
        }
        flush(&mut chain);
    }
    spans
}

/// What a text asks for or names last: a secret ("the three digit code on the back", "PIN")
/// or a phone number ("a good callback number").
fn asked_for(text: &str, language: Language) -> Option<PiiKind> {
    // A request, not a mention: a question, or a request phrase ("please confirm your PIN").
    // "I forgot my PIN." asks for nothing.
    let folded = text.to_lowercase();
    let is_request =
        text.contains(['?', '？', '؟']) || REQUEST_CUES.iter().any(|cue| folded.contains(cue));
    if !is_request {
        return None;
    }
    let keywords = compiled_keywords(language);
    let tokens = normalize::normalize_text(text, language).tokens;
    let last = |phrases: &[Vec<Token>]| {
        keyword_positions(&tokens, phrases)
            .into_iter()
            .map(|range| range.end)
            .max()
    };
    // "Account number please": its "number" is a phone keyword too; the account wins.
    let account = last(&keywords.account);
    let phone = last(&keywords.phone_asked).filter(|&phone| account.is_none_or(|end| phone > end));
    match (last(&keywords.secret), phone, account) {
        (Some(secret), Some(phone), _) if phone > secret => Some(PiiKind::Phone),
        (Some(secret), _, Some(account)) if account > secret => Some(PiiKind::Account),
        (Some(_), _, _) => Some(PiiKind::Secret),
        (None, Some(_), _) => Some(PiiKind::Phone),
        (None, None, Some(_)) => Some(PiiKind::Account),
        (None, None, None) => None,
    }
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
    /// Asking to be called ("call me at", "llámame al"): a number of 7–8 digits near these is
    /// a phone number, but they ask for none ("What's your PIN? I'll call you back." is a
    /// question for the PIN).
    phone_call: &'static [&'static str],
    /// Spoken e-mail addresses: "john dot smith at gmail dot com".
    email_at: &'static [&'static str],
    email_dot: &'static [&'static str],
    /// Words for "_" and "-" inside a spoken address ("john underscore smith").
    email_join: &'static [&'static str],
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
        "numbers on the back",
        "number on the back",
        "code on the back",
        "on the back of the card",
        "on the back of your card",
        "three digits",
        "three numbers",
        "security number",
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
        "landline*",
    ],
    phone_call: &[
        "call me",
        "call you",
        "reach me",
        "reach you",
        "ring me",
        "text me",
    ],
    email_at: &["at"],
    email_dot: &["dot"],
    email_join: &["underscore", "dash", "hyphen"],
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
    phone_call: &[
        "llamame*",
        "llameme*",
        "llamenme*",
        "marcame*",
        "localizarme",
    ],
    email_at: &["arroba"],
    email_dot: &["punto"],
    email_join: &["guion bajo", "barra baja", "guion"],
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
    phone_call: &[
        "позвоните*",
        "позвони мне",
        "перезвоните*",
        "перезвони мне",
        "звоните мне",
    ],
    email_at: &["собака", "собачка"],
    email_dot: &["точка"],
    email_join: &["нижнее подчёркивание", "подчёркивание", "дефис", "тире"],
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
    phone_call: &["zadzwon*", "oddzwon*"],
    email_at: &["malpa", "malpka"],
    email_dot: &["kropka"],
    email_join: &["podkreślenie", "podkreślnik", "podłoga", "myślnik"],
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
    phone_call: &["打给我", "回电", "致电"],
    // "zhangsan艾特qq点com": 点 is a common word, but a domain must follow it.
    email_at: &["艾特", "at"],
    email_dot: &["点", "dot"],
    email_join: &["下划线", "横杠", "underscore"],
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
        "پسورد*",
    ],
    password: &[
        "رمز",
        "رمزم",
        "رمزت",
        "رمزتون",
        "رمزتان",
        "پسورد",
        "پسوردم",
        "پسوردت",
        "پسوردتون",
        "پسوردتان",
        "کلمه عبور",
    ],
    copulas: &["من", "شما", "هم", ":"],
    copulas_after: &["است", "هست", "هستش", "اس"],
    not_passwords: &["نه", "اشتباه", "درست", "جدید"],
    phone: &["تلفن*", "شماره*", "موبایل*", "همراه*", "تماس*"],
    phone_call: &["زنگ بزن*"],
    email_at: &["ات", "اَت"],
    email_dot: &["دات", "نقطه"],
    email_join: &["آندرلاین", "زیرخط", "خط تیره"],
};

const NO_WORDS: ContextWords = ContextWords {
    secret: &[],
    password: &[],
    copulas: &[],
    copulas_after: &[],
    not_passwords: &[],
    phone: &[],
    phone_call: &[],
    email_at: &[],
    email_dot: &[],
    email_join: &[],
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

    /// Adds a postal address over `range`. Spans of other kinds inside it keep their place and
    /// label: the address is cut around them, each part trimmed of spaces and punctuation (a
    /// part with no letter or digit is dropped). Address spans it meets merge with it.
    fn add_address(&mut self, text: &str, range: Range<usize>) {
        if range.start >= range.end || text.get(range.clone()).is_none() {
            return;
        }
        let mut others: Vec<Range<usize>> = self
            .spans
            .iter()
            .filter(|span| span.kind != PiiKind::Address)
            .map(|span| span.byte_range.clone())
            .filter(|other| other.start < range.end && range.start < other.end)
            .collect();
        others.sort_by_key(|other| other.start);
        let mut parts = Vec::new();
        let mut position = range.start;
        for other in others
            .iter()
            .chain(std::iter::once(&(range.end..range.end)))
        {
            if other.start > position {
                parts.push(position..other.start.min(range.end));
            }
            position = position.max(other.end);
        }
        for part in parts {
            let Some(piece) = text.get(part.clone()) else {
                continue;
            };
            let trim = |character: char| !character.is_alphanumeric();
            let start = part.start + (piece.len() - piece.trim_start_matches(trim).len());
            let end = part.start + piece.trim_end_matches(trim).len();
            if start >= end {
                continue;
            }
            let mut merged = start..end;
            self.spans.retain(|span| {
                let meets = span.kind == PiiKind::Address
                    && span.byte_range.start <= merged.end
                    && merged.start <= span.byte_range.end;
                if meets {
                    merged = merged.start.min(span.byte_range.start)
                        ..merged.end.max(span.byte_range.end);
                }
                !meets
            });
            self.spans.push(PiiSpan {
                kind: PiiKind::Address,
                byte_range: merged,
                verified: false,
            });
        }
    }

    /// Adds a postcode named by its keyword as an address: the phone number the length check
    /// made of exactly these digits ("کد پستی ۱۲۳۴۵۶۷۸۹۰", ten digits) becomes an address; any
    /// other span over them stays.
    fn add_postcode(&mut self, range: Range<usize>) {
        if let Some(span) = self
            .spans
            .iter_mut()
            .find(|span| span.kind == PiiKind::Phone && span.byte_range == range)
        {
            span.kind = PiiKind::Address;
            span.verified = false;
            return;
        }
        self.add(PiiKind::Address, range, false);
    }

    fn into_sorted(mut self) -> Vec<PiiSpan> {
        self.spans.sort_by_key(|span| span.byte_range.start);
        self.spans
    }
}

fn find_in(text: &str, language: Language) -> Vec<PiiSpan> {
    find_in_pieces(
        text,
        language,
        &[Piece {
            start: 0,
            asked: None,
        }],
    )
}

/// One utterance of a text joined from several (see [`find_in_sequence`]).
#[derive(Debug, Clone, Copy)]
struct Piece {
    /// Where it starts in the joined text; the first piece starts at 0.
    start: usize,
    /// What the conversation asked for just before it (see [`find_in_transcript`]).
    asked: Option<PiiKind>,
}

fn find_in_pieces(text: &str, language: Language, pieces: &[Piece]) -> Vec<PiiSpan> {
    let words = context_words(language);
    let keywords = compiled_keywords(language);
    let mut spans = SpanSet::default();

    for found in email_regex().find_iter(text) {
        spans.add(PiiKind::Email, found.range(), true);
    }
    find_written_ibans(text, &mut spans);

    let normalized = normalize::normalize_text(text, language);
    let tokens = &normalized.tokens;
    find_spoken_emails(text, tokens, keywords, &mut spans);

    let secret_keywords = keyword_positions(tokens, &keywords.secret);
    let phone_keywords = keyword_positions(tokens, &keywords.phone);
    let phone_only_keywords = keyword_positions(tokens, &keywords.phone_only);
    let other_numbers = keyword_positions(tokens, &keywords.other_numbers);
    // An account noun reaches digits only within its clause: "my account number, I paid five
    // hundred thousand" names no number. Kept: the token range and the byte where it ends.
    let account_keywords: Vec<(Range<usize>, usize)> = keyword_positions(tokens, &keywords.account)
        .into_iter()
        .filter_map(|range| {
            let end_byte = tokens.get(range.end.checked_sub(1)?)?.byte_range.end;
            Some((range, end_byte))
        })
        .collect();
    let token_texts: Vec<&str> = tokens.iter().map(|token| token.text.as_str()).collect();
    let reader = spoken::Reader::new(&token_texts, language);
    let runs = digit_runs(text, tokens, &reader, &spans);
    let runs = bridge_runs(
        text,
        tokens,
        runs,
        &[&secret_keywords, &phone_keywords],
        &spans,
    );
    let classifier = Classifier {
        language,
        secret_keywords: &secret_keywords,
        phone_keywords: &phone_keywords,
        phone_only_keywords: &phone_only_keywords,
        other_numbers: &other_numbers,
        account_keywords: &account_keywords,
        text,
        pieces,
    };
    for run in &runs {
        if run.bridged {
            classifier.add_bridged(run, &mut spans);
        } else {
            classifier.classify(&run.items, run.plus_offset, &mut spans);
        }
    }
    find_word_passwords(text, tokens, words, &keywords.password, &mut spans);
    // Last, so that every other kind keeps its span (see the module docs).
    address::find(text, tokens, &reader, language, &mut spans);
    spans.into_sorted()
}

/// Spanish nouns of other numbers ([`other_number_nouns`]); the address detector's too.
const SPANISH_OTHER_NUMBERS: &[&str] = &[
    "pedido",
    "referencia",
    "caso",
    "incidencia",
    "factura",
    "expediente",
    "reserva",
    "seguimiento",
];

/// Polish nouns of other numbers ([`other_number_nouns`]), in normalised form as the address
/// detector, which shares them, compares words.
const POLISH_OTHER_NUMBERS: &[&str] = &[
    "zamowieni*",
    "zgloszeni*",
    "faktur*",
    "spraw*",
    "przesylk*",
    "rezerwacj*",
];

/// Nouns that name a number of another kind (an order, a case, a ticket): a secret keyword does
/// not reach a number past one of these. "Please change your password, your case number is
/// 58213." names a case, not the password, and the agent who says it breaks no rule.
fn other_number_nouns(language: Language) -> &'static [&'static str] {
    match language {
        Language::English => &[
            "case",
            "order",
            "reference",
            "ticket",
            "tracking",
            "invoice",
            "claim",
            "booking",
        ],
        Language::Spanish => SPANISH_OTHER_NUMBERS,
        Language::Russian => &["заказ*", "заявк*", "обращени*", "накладн*"],
        Language::Polish => POLISH_OTHER_NUMBERS,
        Language::Chinese => &["订单", "单号", "工单", "快递"],
        Language::Persian => &["پیگیری", "سفارش", "رهگیری", "پرونده", "فاکتور"],
        Language::Other => &[],
    }
}

/// Names of a customer's account number, in normalised form: 4–20 digits near one, or answering
/// a question for one ("Account number please." … "One, two, three, four, five, six."), are an
/// account number. Not "account" alone: "your account ending in 4567" names no number.
fn account_nouns(language: Language) -> &'static [&'static str] {
    match language {
        Language::English => &[
            "account number",
            "account no",
            "acct number",
            "customer number",
            "membership number",
        ],
        Language::Spanish => &[
            "numero de cuenta",
            "cuenta numero",
            "numero de cliente",
            "numero de socio",
        ],
        Language::Russian => &[
            "номер счета",
            "номер сч",
            "номер лицев* счет*",
            "лицев* счет*",
            "номер договор*",
            "номер клиент*",
        ],
        Language::Polish => &[
            "numer konta",
            "numer rachunku",
            "nr konta",
            "nr rachunku",
            "numer klienta",
        ],
        Language::Chinese => &["账 号", "帐 号", "账 户", "帐 户", "客 户 号", "会 员 号"],
        Language::Persian => &["شماره حساب", "شماره مشتری", "شماره اشتراک"],
        Language::Other => &["account number"],
    }
}

/// Phone keywords that name any number ("number", "номер", "شماره", "号码"): a secret asked for
/// just before is still a secret when one of these is next to it.
const GENERIC_NUMBER_WORDS: &[&str] = &["number", "numero", "номер", "numer", "شماره", "号码"];

/// The keyword phrases of one language, normalised once per process.
struct CompiledKeywords {
    secret: Vec<Vec<Token>>,
    password: Vec<Vec<Token>>,
    phone: Vec<Vec<Token>>,
    /// The phone keywords that ask for a number (not "call me").
    phone_asked: Vec<Vec<Token>>,
    /// The phone keywords that name nothing but a phone ("phone", not "number").
    phone_only: Vec<Vec<Token>>,
    /// Nouns of other numbers ([`other_number_nouns`]).
    other_numbers: Vec<Vec<Token>>,
    /// Names of an account number ([`account_nouns`]).
    account: Vec<Vec<Token>>,
    /// Spoken e-mail words: "at", "dot", and "dot" or "underscore" inside the local part.
    email_at: Vec<Vec<Token>>,
    email_dot: Vec<Vec<Token>>,
    email_local_join: Vec<Vec<Token>>,
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
                phone: compile(&mut words.phone.iter().chain(words.phone_call)),
                phone_asked: compile(&mut words.phone.iter()),
                phone_only: compile(&mut words.phone.iter().filter(|phrase| {
                    !GENERIC_NUMBER_WORDS.contains(&phrase.trim_end_matches('*'))
                })),
                other_numbers: compile(&mut other_number_nouns(language).iter()),
                account: compile(&mut account_nouns(language).iter()),
                email_at: compile(&mut words.email_at.iter()),
                email_dot: compile(&mut words.email_dot.iter()),
                email_local_join: compile(&mut words.email_dot.iter().chain(words.email_join)),
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
    /// Runs joined across a filler into one card (see [`bridge_runs`]).
    bridged: bool,
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
                    | '\u{066B}'
                    | '\u{066C}'
                    | '…'
                    | '；'
                    | '！'
                    | '？'
        )
}

fn digit_runs(
    text: &str,
    tokens: &[Token],
    reader: &spoken::Reader<'_>,
    taken: &SpanSet,
) -> Vec<DigitRun> {
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
            } else if let Some(number) = reader.parse(index) {
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

/// Weak digits ("for", "to", "نه") count only next to a strong digit, or in a chain of weak
/// digits with strong digits on both sides ("چهار یک نه نه نه نه دو دو", 4199 9922); the others
/// split the run.
fn drop_lonely_weak_digits(run: DigitRun) -> Vec<DigitRun> {
    let groups: Vec<usize> = {
        let mut groups: Vec<usize> = run.items.iter().map(|item| item.group).collect();
        groups.dedup();
        groups
    };
    let strong: Vec<bool> = groups
        .iter()
        .map(|&group| {
            run.items
                .iter()
                .any(|item| item.group == group && item.strong)
        })
        .collect();
    let keep = |position: usize| {
        strong[position]
            || (position > 0 && strong[position - 1])
            || strong.get(position + 1) == Some(&true)
            // Inside a chain of weak digits with strong ones on both sides.
            || (strong[..position].contains(&true) && strong[position..].contains(&true))
    };
    let mut pieces = Vec::new();
    let mut current = DigitRun {
        items: Vec::new(),
        plus_offset: run.plus_offset,
        bridged: false,
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

/// Where a Luhn-valid stretch of 13–19 digits lies in a run (start, length), starting and
/// ending between groups.
fn luhn_window(items: &[DigitItem]) -> Option<(usize, usize)> {
    luhn_windows(items).next()
}

/// Every Luhn-valid stretch of 13–19 digits of a run, in order of start then length.
fn luhn_windows(items: &[DigitItem]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let digits = digits_of(items);
    let n_digits = digits.len();
    let boundary = move |position: usize| {
        position == 0 || position >= n_digits || items[position].group != items[position - 1].group
    };
    (0..n_digits)
        .filter(move |&start| boundary(start))
        .flat_map(move |start| (13..=19).map(move |length| (start, length)))
        .filter(move |&(start, length)| {
            start + length <= n_digits
                && boundary(start + length)
                && luhn_valid(&digits[start..start + length])
        })
}

fn digits_of(items: &[DigitItem]) -> String {
    items
        .iter()
        .map(|item| char::from(b'0' + item.digit))
        .collect()
}

fn whole_range(items: &[DigitItem]) -> Range<usize> {
    match (items.first(), items.last()) {
        (Some(first), Some(last)) => first.byte_range.start..last.byte_range.end,
        _ => 0..0,
    }
}

/// A decision on one run: what it is and which bytes go.
type Decision = (PiiKind, Range<usize>, bool);

struct Classifier<'a> {
    language: Language,
    secret_keywords: &'a [Range<usize>],
    phone_keywords: &'a [Range<usize>],
    phone_only_keywords: &'a [Range<usize>],
    /// Where nouns of other numbers are ([`other_number_nouns`]).
    other_numbers: &'a [Range<usize>],
    /// Where names of an account number are ([`account_nouns`]), and the byte each ends at.
    account_keywords: &'a [(Range<usize>, usize)],
    /// The text the byte offsets are in.
    text: &'a str,
    pieces: &'a [Piece],
}

impl Classifier<'_> {
    /// Whether an account noun names the digits starting at token `first_token` (byte
    /// `first_byte`): at most 6 tokens before them, with no clause break between ("Account
    /// number: 12345678" but not "my account number, I paid 500000").
    fn names_account(&self, first_token: usize, first_byte: usize) -> bool {
        self.account_keywords.iter().any(|(keyword, end_byte)| {
            keyword.end <= first_token
                && first_token - keyword.end <= 6
                && self.text.get(*end_byte..first_byte).is_some_and(|between| {
                    !between.contains([',', '.', ';', '!', '?', '\n', '，', '。', '،', '؛'])
                })
        })
    }

    /// Which utterance a byte of the joined text belongs to.
    fn piece_of(&self, byte: usize) -> usize {
        self.pieces
            .partition_point(|piece| piece.start <= byte)
            .saturating_sub(1)
    }

    /// A card read with a filler in the middle ("4111 1111, sorry, 1111 1111"): the whole
    /// stretch goes, fillers included.
    fn add_bridged(&self, run: &DigitRun, spans: &mut SpanSet) {
        let verified = luhn_valid(&digits_of(&run.items));
        spans.add(PiiKind::Card, whole_range(&run.items), verified);
    }

    /// Classifies a run and adds what it is. A run over several utterances is one number only
    /// when nothing else explains it: a card inside it takes its own utterances, and
    /// utterances that each hold a number of their own ("737." … "Four three two one.") are
    /// classified one by one.
    fn classify(&self, items: &[DigitItem], plus_offset: Option<usize>, spans: &mut SpanSet) {
        let (Some(first), Some(last)) = (items.first(), items.last()) else {
            return;
        };
        let first_piece = self.piece_of(first.byte_range.start);
        if first_piece == self.piece_of(last.byte_range.start) {
            if let Some((kind, range, verified)) = self.decide(items, plus_offset) {
                spans.add(kind, range, verified);
            }
            return;
        }
        if let Some((kind, range, verified)) = self.spoken_iban(items) {
            spans.add(kind, range, verified);
            return;
        }
        // The card that fills whole utterances, if one does: not "4321." plus the card after.
        let piece_edge = |position: usize| {
            position == 0
                || position >= items.len()
                || self.piece_of(items[position].byte_range.start)
                    != self.piece_of(items[position - 1].byte_range.start)
        };
        let window = luhn_windows(items)
            .find(|&(start, length)| piece_edge(start) && piece_edge(start + length))
            .or_else(|| luhn_window(items));
        if let Some((start, length)) = window {
            let from_piece = self.piece_of(items[start].byte_range.start);
            let to_piece = self.piece_of(items[start + length - 1].byte_range.start);
            let card_start = items
                .iter()
                .position(|item| self.piece_of(item.byte_range.start) >= from_piece)
                .unwrap_or(0);
            let card_end = items
                .iter()
                .position(|item| self.piece_of(item.byte_range.start) > to_piece)
                .unwrap_or(items.len());
            spans.add(
                PiiKind::Card,
                whole_range(&items[card_start..card_end]),
                true,
            );
            self.classify(&items[..card_start], plus_offset, spans);
            self.classify(&items[card_end..], None, spans);
            return;
        }
        let mut parts: Vec<&[DigitItem]> = Vec::new();
        let mut part_start = 0;
        for index in 1..=items.len() {
            if index == items.len()
                || self.piece_of(items[index].byte_range.start)
                    != self.piece_of(items[index - 1].byte_range.start)
            {
                parts.push(&items[part_start..index]);
                part_start = index;
            }
        }
        let one_by_one: Vec<Option<Decision>> = parts
            .iter()
            .enumerate()
            .map(|(index, part)| self.decide(part, plus_offset.filter(|_| index == 0)))
            .collect();
        let whole = if one_by_one.iter().all(Option::is_some) {
            None
        } else {
            // An unchecked card must be one read-out: groups of at least four digits in each
            // utterance, not "737." … "Four three two one." … "555 1234.".
            self.decide(items, plus_offset)
                .filter(|(kind, _, verified)| {
                    *kind != PiiKind::Card || *verified || parts.iter().all(|part| part.len() >= 4)
                })
        };
        let decisions: Vec<Decision> = match whole {
            Some(decision) => vec![decision],
            None => one_by_one.into_iter().flatten().collect(),
        };
        for (kind, range, verified) in decisions {
            spans.add(kind, range, verified);
        }
    }

    /// An account number read as digits (Polish NRB, Iranian Sheba): the whole run goes.
    fn spoken_iban(&self, items: &[DigitItem]) -> Option<Decision> {
        let country = spoken_iban_country(self.language)?;
        let &(_, length) = IBAN_LENGTHS.iter().find(|(code, _)| *code == country)?;
        let digits = digits_of(items);
        let n_digits = digits.len();
        let boundary = |position: usize| {
            position == 0
                || position >= n_digits
                || items[position].group != items[position - 1].group
        };
        let wanted = length - 2;
        let valid = (0..n_digits.saturating_sub(wanted) + 1).any(|start| {
            start + wanted <= n_digits
                && boundary(start)
                && boundary(start + wanted)
                && iban_valid(&format!("{country}{}", &digits[start..start + wanted]))
        });
        valid.then(|| (PiiKind::Iban, whole_range(items), true))
    }

    /// What one run is, read as one number.
    fn decide(&self, items: &[DigitItem], plus_offset: Option<usize>) -> Option<Decision> {
        let (first, last) = items.first().zip(items.last())?;
        let whole = whole_range(items);
        let n_digits = items.len();
        if let Some(decision) = self.spoken_iban(items) {
            return Some(decision);
        }
        // A Luhn-valid stretch of 13–19 digits anywhere in the run: the whole run is a card.
        if luhn_window(items).is_some() {
            return Some((PiiKind::Card, whole, true));
        }

        let first_token = first.token_index;
        let last_token = last.token_index;
        let near = |keywords: &[Range<usize>], before: usize, after: usize| {
            keywords.iter().any(|keyword| {
                (keyword.end <= first_token && first_token - keyword.end <= before)
                    || (keyword.start > last_token && keyword.start - last_token <= after)
            })
        };
        // A secret keyword with another number's noun between it and the run names that
        // number, not this one.
        let between = |from: usize, to: usize| {
            self.other_numbers
                .iter()
                .any(|noun| noun.start >= from && noun.end <= to)
        };
        let near_secret = self.secret_keywords.iter().any(|keyword| {
            (keyword.end <= first_token
                && first_token - keyword.end <= 6
                && !between(keyword.end, first_token))
                || (keyword.start > last_token
                    && keyword.start - last_token <= 3
                    && !between(last_token + 1, keyword.start))
        });
        let asked = self.pieces[self.piece_of(first.byte_range.start)].asked;
        if (3..=8).contains(&n_digits) && near_secret {
            Some((PiiKind::Secret, whole, false))
        } else if let Some(plus_offset) = plus_offset
            && (7..=15).contains(&n_digits)
        {
            Some((PiiKind::Phone, plus_offset..whole.end, false))
        } else if (4..=20).contains(&n_digits)
            && (self.names_account(first_token, first.byte_range.start)
                || asked == Some(PiiKind::Account))
            && !near(self.phone_only_keywords, 8, 2)
        {
            // "Your account number is 12345678", or the answer to "Account number please."
            // (a Luhn-valid card among the digits was taken as a card before).
            Some((PiiKind::Account, whole, false))
        } else if (13..=19).contains(&n_digits) {
            // Most likely a card the ASR garbled: redact it as one.
            Some((PiiKind::Card, whole, false))
        } else if n_digits > 19 {
            Some((PiiKind::Iban, whole, false))
        } else if (9..=12).contains(&n_digits)
            || ((7..=8).contains(&n_digits)
                && (near(self.phone_keywords, 8, 2) || asked == Some(PiiKind::Phone)))
        {
            Some((PiiKind::Phone, whole, false))
        } else if (3..=8).contains(&n_digits)
            && asked == Some(PiiKind::Secret)
            && !near(self.phone_only_keywords, 8, 2)
        {
            // The answer to "What is your PIN?", whoever asked.
            Some((PiiKind::Secret, whole, false))
        } else {
            None
        }
    }
}

/// Words a caller puts between the groups of a number they read ("4111 1111, sorry, 1111
/// 1111"), in every language; compared in normalised form.
const FILLERS: &[&str] = &[
    // Hesitations and apologies only: words that also join amounts, years or dates ("1200
    // and 1500 and 1800 and 2100 euros", "in 2019 and 2021") would make cards of them.
    "uh",
    "um",
    "er",
    "erm",
    "ah",
    "eh",
    "hmm",
    "mm",
    "mhm",
    "sorry",
    "okay",
    "ok",
    "wait",
    "este",
    "perdon",
    "espere",
    "так",
    "э",
    "ээ",
    "ну",
    "извините",
    "eee",
    "yyy",
    "przepraszam",
    "خب",
    "ببخشید",
    "呃",
    "嗯",
];

/// Words that make an utterance a request when it has no question mark, in every language
/// (lower-case, compared as substrings).
const REQUEST_CUES: &[&str] = &[
    "please",
    "tell me",
    "give me",
    "read me",
    "read out",
    "confirm",
    "i need your",
    "i'll need your",
    "por favor",
    "dígame",
    "digame",
    "necesito su",
    "confirme",
    "пожалуйста",
    "назовите",
    "скажите",
    "продиктуйте",
    "подтвердите",
    "proszę",
    "prosze",
    "podać",
    "podac",
    "poda pan",
    "poda pani",
    "لطفا",
    "لطفاً",
    "بفرمایید",
    "بگویید",
    "请",
    "告诉我",
    "提供",
];

/// Most words a card read-out may hold between two groups.
const BRIDGE_MAX_WORDS: usize = 3;

/// Joins runs that a few words split ("4111 1111, sorry, 1111 1111", "… так, один один …")
/// into one card run, when together they make a card: 13–19 digits that pass Luhn or come in
/// groups of four, with only hesitation words ([`FILLERS`]) between runs of four digits or
/// more. Neither side may hold a card of its own, and no keyword or question may lie between
/// them. Amounts, years and dates joined by ordinary words ("1200 and 1500 and 1800 and
/// 2100", "990.00 on 21/11/2026") are never bridged: a card read-out is a critical finding.
fn bridge_runs(
    text: &str,
    tokens: &[Token],
    mut runs: Vec<DigitRun>,
    keywords: &[&[Range<usize>]],
    taken: &SpanSet,
) -> Vec<DigitRun> {
    // The tokens between two runs, if they may be bridged; None if not.
    let gap_words = |left: &DigitRun, right: &DigitRun| -> Option<Vec<usize>> {
        let gap = whole_range(&left.items).end..whole_range(&right.items).start;
        let gap_text = text.get(gap.clone())?;
        if taken.overlaps(&gap) || gap_text.contains(['?', '!', '？', '！', '؟']) {
            return None;
        }
        let words: Vec<usize> = (0..tokens.len())
            .filter(|&index| {
                tokens[index].byte_range.start >= gap.start
                    && tokens[index].byte_range.end <= gap.end
            })
            .collect();
        let is_keyword = |index: usize| {
            keywords
                .iter()
                .any(|ranges| ranges.iter().any(|range| range.contains(&index)))
        };
        (words.len() <= BRIDGE_MAX_WORDS && !words.iter().any(|&index| is_keyword(index)))
            .then_some(words)
    };
    let is_filler = |index: usize| {
        FILLERS
            .iter()
            .any(|filler| normalize::normalize_word(filler) == tokens[index].text)
    };
    let has_card: Vec<bool> = runs
        .iter()
        .map(|run| luhn_window(&run.items).is_some())
        .collect();
    let mut out = Vec::with_capacity(runs.len());
    let mut index = 0;
    while index < runs.len() {
        let mut best: Option<usize> = None;
        if !has_card[index] && runs[index].items.len() >= 4 {
            let mut total = runs[index].items.len();
            let mut only_fillers = true;
            let mut groups_of_four = total.is_multiple_of(4);
            let mut end = index + 1;
            while end < runs.len() && !has_card[end] && runs[end].items.len() >= 4 {
                let Some(words) = gap_words(&runs[end - 1], &runs[end]) else {
                    break;
                };
                total += runs[end].items.len();
                if total > 19 {
                    break;
                }
                only_fillers &= words.iter().all(|&word| is_filler(word));
                if !only_fillers {
                    break;
                }
                groups_of_four &= runs[end].items.len().is_multiple_of(4);
                if total >= 13 {
                    let digits: String = runs[index..=end]
                        .iter()
                        .map(|run| digits_of(&run.items))
                        .collect();
                    if luhn_valid(&digits) {
                        best = Some(end);
                        break;
                    }
                    if only_fillers && groups_of_four {
                        best = Some(end);
                    }
                }
                end += 1;
            }
        }
        match best {
            Some(end) => {
                let mut merged = DigitRun {
                    items: Vec::new(),
                    plus_offset: None,
                    bridged: true,
                };
                for run in &runs[index..=end] {
                    merged.items.extend(run.items.iter().cloned());
                }
                out.push(merged);
                index = end + 1;
            }
            None => {
                out.push(std::mem::take(&mut runs[index]));
                index += 1;
            }
        }
    }
    out
}

/// "my password is sunshine42", "mi contraseña es perro", "رمزم گل۱۲ است".
fn find_word_passwords(
    text: &str,
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
        // The whole written word ("P@ssw0rd!" is one password, not "p", "ssw0rd"), less the
        // sentence's punctuation after it.
        let written_end = text[candidate.byte_range.start..]
            .find(char::is_whitespace)
            .map_or(text.len(), |offset| candidate.byte_range.start + offset);
        let written = text[candidate.byte_range.start..written_end]
            .trim_end_matches(['.', ',', '!', '?', ';', ':', '"', '\'', ')', '…']);
        let written_range = candidate.byte_range.start
            ..(candidate.byte_range.start + written.len()).max(candidate.byte_range.end);
        let has_symbol = written.chars().any(|character| {
            !character.is_alphanumeric() && !is_number_separator(character) && character != '\''
        });
        // Spelled out: "S U N S H I N E 4 2".
        let mut spelled_end = position;
        while tokens.get(spelled_end).is_some_and(|token| {
            !token.is_cjk
                && token.text.chars().count() == 1
                && text
                    .get(tokens[spelled_end.max(1) - 1].byte_range.end..token.byte_range.start)
                    .is_some_and(|gap| {
                        spelled_end == position || gap.chars().all(|c| c == ' ' || c == '-')
                    })
        }) {
            spelled_end += 1;
        }
        if spelled_end - position >= 3 {
            spans.add(
                PiiKind::Secret,
                candidate.byte_range.start..tokens[spelled_end - 1].byte_range.end,
                false,
            );
        } else if has_digit
            || (has_symbol && written.chars().count() >= 3)
            || (plain_word && (skipped_copula || copula_after))
        {
            spans.add(PiiKind::Secret, written_range, false);
        }
    }
}

/// Whether the words of `phrase` lie at `tokens[position..]`.
fn phrase_at(tokens: &[Token], position: usize, phrase: &[Token]) -> bool {
    !phrase.is_empty()
        && phrase.iter().enumerate().all(|(offset, wanted)| {
            tokens
                .get(position + offset)
                .is_some_and(|token| token.text == wanted.text)
        })
}

/// Where a phrase starting at `tokens[position]` ends (the longest one).
fn phrase_end_at(tokens: &[Token], position: usize, phrases: &[Vec<Token>]) -> Option<usize> {
    phrases
        .iter()
        .filter(|phrase| phrase_at(tokens, position, phrase))
        .map(|phrase| position + phrase.len())
        .max()
}

/// Where a phrase ending right before `tokens[end]` starts (the longest one).
fn phrase_start_before(tokens: &[Token], end: usize, phrases: &[Vec<Token>]) -> Option<usize> {
    phrases
        .iter()
        .filter(|phrase| phrase.len() <= end && phrase_at(tokens, end - phrase.len(), phrase))
        .map(|phrase| end - phrase.len())
        .min()
}

/// Most tokens of one spelled or hyphenated part of a spoken address ("J-O-H-N").
const EMAIL_PART_MAX_TOKENS: usize = 40;

/// "john dot smith at gmail dot com", "juan punto perez arroba gmail punto com",
/// "J-O-H-N dot S-M-I-T-H at gmail dot com", "john underscore smith at …", "zhangsan艾特qq点com".
fn find_spoken_emails(
    text: &str,
    tokens: &[Token],
    keywords: &CompiledKeywords,
    spans: &mut SpanSet,
) {
    let gap = |left: usize, right: usize| {
        text.get(tokens[left].byte_range.end..tokens[right].byte_range.start)
            .unwrap_or_default()
    };
    // "gmail.com", "gmail. com": a written dot in the domain.
    let is_dot_between = |left: usize, right: usize| {
        let gap = gap(left, right);
        gap.contains('.') || gap.contains('_')
    };
    // "john.smith", "john_smith": written punctuation inside one written word (not the end of
    // the sentence before: "Thanks. john at …").
    let is_joined_between = |left: usize, right: usize| {
        let gap = gap(left, right);
        !gap.is_empty()
            && gap
                .chars()
                .all(|character| matches!(character, '.' | '_' | '-'))
            && gap.chars().any(|character| matches!(character, '.' | '_'))
    };
    // Where the part of the address that ends at `tokens[last]` starts: a word, a word
    // written with hyphens ("mary-jane"), or letters spelled one by one ("J-O-H-N", "j o h n").
    let part_start = |last: usize| -> Option<usize> {
        if tokens[last].is_cjk {
            return None;
        }
        let mut start = last;
        while start > 0 && last - start < EMAIL_PART_MAX_TOKENS && !tokens[start - 1].is_cjk {
            let gap = gap(start - 1, start);
            let single = |index: usize| tokens[index].text.chars().count() == 1;
            let hyphenated = !gap.is_empty() && gap.chars().all(|character| character == '-');
            let spelled = single(start - 1)
                && single(start)
                && !gap.is_empty()
                && gap
                    .chars()
                    .all(|character| character == ' ' || character == '-');
            if !(hyphenated || spelled) {
                break;
            }
            start -= 1;
        }
        Some(start)
    };
    for at_index in 1..tokens.len() {
        let Some(at_end) = phrase_end_at(tokens, at_index, &keywords.email_at) else {
            continue;
        };
        // Domain: word (dot word)+ ending with a known top-level domain.
        let mut position = at_end;
        let mut domain_end = None;
        if position < tokens.len() && !tokens[position].is_cjk {
            let mut last_word = position;
            position += 1;
            loop {
                if let Some(end) = phrase_end_at(tokens, position, &keywords.email_dot) {
                    position = end;
                } else if position < tokens.len() && is_dot_between(last_word, position) {
                    // "gmail.com" split by the tokenizer.
                } else {
                    break;
                }
                let Some(part) = tokens.get(position) else {
                    break;
                };
                if part.is_cjk {
                    break;
                }
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
        // Local part: up to four parts joined by "dot", "underscore" or written dots.
        let Some(mut start) = part_start(at_index - 1) else {
            continue;
        };
        let mut n_parts = 1;
        while n_parts < 4 && start > 0 {
            let joiner_start = if is_joined_between(start - 1, start) {
                start
            } else if let Some(joiner) =
                phrase_start_before(tokens, start, &keywords.email_local_join)
            {
                joiner
            } else {
                break;
            };
            let Some(part) = joiner_start.checked_sub(1).and_then(&part_start) else {
                break;
            };
            start = part;
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

    /// A call of (speaker, start ms, end ms, text) utterances; mono when no speaker is known.
    fn call(utterances: &[(Speaker, u64, u64, &str)]) -> CallTranscript {
        use crate::types::Layout;
        let mono = utterances
            .iter()
            .all(|(speaker, ..)| *speaker == Speaker::Unknown);
        CallTranscript::from_lines(utterances, if mono { Layout::Mono } else { Layout::Stereo })
    }

    #[test]
    fn transcript_redaction_follows_each_speaker() {
        let transcript = call(&[
            (Speaker::Customer, 0, 1000, "It's 4111 1111"),
            (Speaker::Agent, 1000, 2000, "Mm-hmm."),
            (Speaker::Customer, 2000, 3000, "1111 1111."),
        ]);
        assert_eq!(
            redact_transcript(&transcript, "en"),
            vec!["It's [CARD]", "Mm-hmm.", "[CARD]."]
        );
    }

    /// An account number asked for and answered, or named where it is said, is redacted as one;
    /// "account" alone names no number, and a Luhn-valid card stays a card.
    #[test]
    fn account_numbers_asked_for_or_named_are_redacted() {
        let transcript = call(&[
            (Speaker::Agent, 0, 1500, "Account number please."),
            (
                Speaker::Customer,
                1600,
                4000,
                "One, two, three, four, five, six.",
            ),
            (Speaker::Agent, 4100, 6000, "Thank you, it is 25 euros."),
        ]);
        assert_eq!(
            redact_transcript(&transcript, "en"),
            vec![
                "Account number please.",
                "[ACCOUNT].",
                "Thank you, it is 25 euros."
            ]
        );
        assert_eq!(
            redact("Your account number is 12345678, correct?", "en"),
            "Your account number is [ACCOUNT], correct?"
        );
        assert_eq!(
            redact("Su número de cuenta es 12345678.", "es"),
            "Su número de cuenta es [ACCOUNT]."
        );
        assert_eq!(
            redact("Номер счёта 40817810.", "ru"),
            "Номер счёта [ACCOUNT]."
        );
        assert_eq!(
            redact("The account ending in 4567 is closed.", "en"),
            "The account ending in 4567 is closed."
        );
        let card = find("The account number is 4111 1111 1111 1111.", "en");
        assert_eq!(card.len(), 1);
        assert_eq!((card[0].kind, card[0].verified), (PiiKind::Card, true));
    }

    /// The agent asks, the customer answers in an utterance of its own (reviewer's call).
    /// The asker's own numbers are not the answer: an agent who asked for a code and then
    /// states an amount or a case number must not be failed for reading out a secret.
    #[test]
    fn the_askers_own_numbers_are_not_the_answer() {
        let transcript = call(&[
            (
                Speaker::Agent,
                0,
                2500,
                "Can you confirm the three digits on the back of the card?",
            ),
            (Speaker::Customer, 2600, 3200, "737."),
            (
                Speaker::Agent,
                3300,
                6000,
                "Thank you, your payment of 1250 euros is confirmed.",
            ),
            (Speaker::Agent, 7000, 8000, "And what is your PIN?"),
            (Speaker::Customer, 8100, 9000, "I will not tell you."),
            (
                Speaker::Agent,
                9100,
                11000,
                "Fine, your case number is 48213.",
            ),
        ]);
        assert_eq!(
            redact_transcript(&transcript, "en"),
            vec![
                "Can you confirm the three digits on the back of the card?",
                "[SECRET].",
                "Thank you, your payment of 1250 euros is confirmed.",
                "And what is your PIN?",
                "I will not tell you.",
                "Fine, your case number is 48213.",
            ]
        );
        // A customer's mention or question is no request for the agent to read a secret out.
        let transcript = call(&[
            (Speaker::Customer, 0, 2000, "I forgot my PIN."),
            (Speaker::Agent, 2100, 4000, "Your reference is 58213."),
            (
                Speaker::Customer,
                4100,
                6000,
                "Can I reset my password online?",
            ),
            (Speaker::Agent, 6100, 8000, "Yes, the fee is 1500 pesos."),
        ]);
        assert_eq!(
            redact_transcript(&transcript, "en"),
            vec![
                "I forgot my PIN.",
                "Your reference is 58213.",
                "Can I reset my password online?",
                "Yes, the fee is 1500 pesos.",
            ]
        );
        // Amounts and years joined by ordinary words are no card.
        for text in [
            "Your last payments were 1200 and 1500 and 1800 and 2100 euros.",
            "We changed the tariff in 2019 and 2021 and 2023 and 2025.",
        ] {
            assert_eq!(redact(text, "en"), text);
        }
        // A backchannel of the other side ("Oh, okay.") does not split a card read in halves.
        let transcript = call(&[
            (Speaker::Customer, 0, 2000, "My card is 4111 1111"),
            (Speaker::Agent, 2100, 2600, "Oh, okay."),
            (Speaker::Customer, 2700, 4500, "1111 1111."),
        ]);
        assert_eq!(
            redact_transcript(&transcript, "en"),
            vec!["My card is [CARD]", "Oh, okay.", "[CARD]."]
        );
    }

    #[test]
    fn answers_to_the_other_speakers_question_are_secrets() {
        let transcript = call(&[
            (
                Speaker::Agent,
                104,
                2632,
                "Union Bank Maria speaking. Can I have the three digit code on the back of the card?",
            ),
            (Speaker::Customer, 2712, 3500, "Sure, one moment."),
            (Speaker::Customer, 3600, 5000, "737."),
            (
                Speaker::Agent,
                5100,
                7000,
                "Thank you. And what is your PIN?",
            ),
            (
                Speaker::Customer,
                7100,
                8000,
                "Hold on, I have it written down.",
            ),
            (Speaker::Customer, 8100, 9000, "Four three two one."),
            (
                Speaker::Agent,
                9100,
                12000,
                "What is a good callback number?",
            ),
            (Speaker::Customer, 12100, 13000, "Well, my landline is"),
            (Speaker::Customer, 13100, 14000, "555 1234."),
            (Speaker::Agent, 14100, 16000, "And the card?"),
            (Speaker::Customer, 16100, 16900, "Yes, here it is."),
            (Speaker::Customer, 17000, 18000, "4111… 1111… 1111… 1111"),
        ]);
        assert_eq!(
            redact_transcript(&transcript, "en"),
            vec![
                "Union Bank Maria speaking. Can I have the three digit code on the back of the card?",
                "Sure, one moment.",
                "[SECRET].",
                "Thank you. And what is your PIN?",
                "Hold on, I have it written down.",
                "[SECRET].",
                "What is a good callback number?",
                "Well, my landline is",
                "[PHONE].",
                "And the card?",
                "Yes, here it is.",
                "[CARD]",
            ]
        );
        // A question more than 15 s old makes no secret; nor does a number with no question.
        let transcript = call(&[
            (Speaker::Agent, 0, 2000, "And what is your PIN?"),
            (Speaker::Customer, 2100, 4000, "Sorry, I need to find it."),
            (Speaker::Agent, 30_000, 32_000, "Are you still there?"),
            (
                Speaker::Customer,
                32_100,
                34_000,
                "Yes. I waited 20 minutes, it is 2024 now.",
            ),
        ]);
        assert_eq!(
            redact_transcript(&transcript, "en")[3],
            "Yes. I waited 20 minutes, it is 2024 now."
        );
        // The last digits of a phone number are not the PIN asked for before.
        let transcript = call(&[
            (
                Speaker::Agent,
                9100,
                12000,
                "Thanks. So your PIN is 4321, correct?",
            ),
            (Speaker::Customer, 12100, 14000, "Yes."),
            (
                Speaker::Agent,
                14100,
                16000,
                "And your phone, the one ending in double oh seven?",
            ),
        ]);
        assert_eq!(
            redact_transcript(&transcript, "en"),
            vec![
                "Thanks. So your PIN is [SECRET], correct?",
                "Yes.",
                "And your phone, the one ending in double oh seven?"
            ]
        );
        // "The number is …" after "What is your PIN?" is the PIN.
        let transcript = call(&[
            (Speaker::Agent, 0, 2000, "What is your PIN?"),
            (Speaker::Customer, 2100, 4000, "The number is 4321."),
        ]);
        assert_eq!(
            redact_transcript(&transcript, "en")[1],
            "The number is [SECRET]."
        );
    }

    #[test]
    fn secret_wordings_about_the_back_of_the_card() {
        assert_eq!(
            redact("the three numbers on the back are 123", "en"),
            "the three numbers on the back are [SECRET]"
        );
        assert_eq!(
            redact("the code on the back is 123", "en"),
            "the code on the back is [SECRET]"
        );
    }

    /// Short answers in a row are each what was asked, not one card (reviewer's call); a card
    /// needs 13–19 digits of one read-out or a Luhn check.
    #[test]
    fn short_numbers_in_a_row_are_not_a_card() {
        let transcript = call(&[
            (
                Speaker::Agent,
                104,
                2632,
                "Union Bank Maria speaking. Can I have the three digit code on the back of the card?",
            ),
            (Speaker::Customer, 2712, 5000, "Sure, it is 737."),
            (Speaker::Agent, 5100, 7000, "And what is your PIN?"),
            (Speaker::Customer, 7100, 9000, "Four three two one."),
            (
                Speaker::Agent,
                9100,
                12000,
                "What is a good callback number?",
            ),
            (Speaker::Customer, 12100, 14000, "555 1234."),
            (Speaker::Agent, 14100, 16000, "And the card?"),
            (Speaker::Customer, 16100, 18000, "4111… 1111… 1111… 1111"),
        ]);
        let redacted = redact_transcript(&transcript, "en");
        assert_eq!(redacted[1], "Sure, it is [SECRET].");
        assert_eq!(redacted[3], "[SECRET].");
        assert_eq!(redacted[5], "[PHONE].");
        assert_eq!(redacted[7], "[CARD]");
        // The same answers with no question between them, and none before.
        let texts = ["Sure, it is 737.", "Four three two one.", "555 1234."];
        assert_eq!(redact_sequence(&texts, "en"), texts.to_vec());
        // A card after a short number, in the next utterance: only the card is a card.
        assert_eq!(
            redact_sequence(&["My PIN is 4321.", "4111 1111 1111 1111"], "en"),
            vec!["My PIN is [SECRET].", "[CARD]"]
        );
        // A card the ASR garbled (no Luhn), read over two utterances, is still a card.
        assert_eq!(
            redact_sequence(&["It's 4111 1111", "1111 1112."], "en"),
            vec!["It's [CARD]", "[CARD]."]
        );
    }

    #[test]
    fn cards_read_with_a_filler_between_groups() {
        assert_eq!(
            redact("My card is 4111 1111, sorry, 1111 1111.", "en"),
            "My card is [CARD]."
        );
        assert_eq!(
            redact(
                "four one one one, one one one one, uh, one one one one, one one one one",
                "en"
            ),
            "[CARD]"
        );
        assert_eq!(
            redact(
                "mi tarjeta cuarenta y uno, once, once, once, eh, once, once, once, once",
                "es"
            ),
            "mi tarjeta [CARD]"
        );
        assert_eq!(
            redact(
                "номер карты четыре один один один, так, один один один один, один один один один, один один один один",
                "ru"
            ),
            "номер карты [CARD]"
        );
        // A card without a Luhn check, with a filler: groups of four.
        assert_eq!(redact("it's 4111 1111, um, 1111 1112", "en"), "it's [CARD]");
        // Mono call: one speaker reads, the other says "Okay." in between.
        let transcript = call(&[
            (
                Speaker::Unknown,
                100,
                2000,
                "Union Bank, can you read me the card?",
            ),
            (Speaker::Unknown, 2100, 4000, "4111 1111"),
            (Speaker::Unknown, 4100, 4500, "Okay."),
            (Speaker::Unknown, 4600, 7000, "1111 1111"),
        ]);
        assert_eq!(
            redact_transcript(&transcript, "en"),
            vec![
                "Union Bank, can you read me the card?",
                "[CARD]",
                "[CARD]",
                "[CARD]"
            ]
        );
        // Numbers that words other than fillers split stay apart.
        assert_eq!(
            redact("born 1980 0512, and order 1234 5678", "en"),
            "born 1980 0512, and order 1234 5678"
        );
        assert_eq!(
            redact("on 12 05 1980 I paid 1,299.99", "en"),
            "on 12 05 1980 I paid 1,299.99"
        );
        assert_eq!(
            redact("My card number is 4111 1111 1111 1111 and I'm 42", "en"),
            "My card number is [CARD] and I'm 42"
        );
    }

    #[test]
    fn ellipses_and_wide_punctuation_separate_groups() {
        assert_eq!(redact("4111… 1111… 1111… 1111", "en"), "[CARD]");
        assert_eq!(
            redact("我的卡号是4111……1111……1111……1111", "zh"),
            "我的卡号是[CARD]"
        );
        assert_eq!(
            redact("我的卡号是4111；1111；1111；1111", "zh"),
            "我的卡号是[CARD]"
        );
        assert_eq!(
            redact("我的卡号是4111！1111？1111，1111", "zh"),
            "我的卡号是[CARD]"
        );
        assert_eq!(
            redact("شماره کارتم ۴۱۱۱٬۱۱۱۱٬۱۱۱۱٬۱۱۱۱", "fa"),
            "شماره کارتم [CARD]"
        );
        assert_eq!(
            redact("شماره کارتم ۴۱۱۱٫۱۱۱۱٫۱۱۱۱٫۱۱۱۱", "fa"),
            "شماره کارتم [CARD]"
        );
    }

    #[test]
    fn written_and_spelled_passwords() {
        assert_eq!(
            redact("the password is P@ssw0rd!", "en"),
            "the password is [SECRET]!"
        );
        assert_eq!(
            redact("My password is P@ssw0rd! Thanks.", "en"),
            "My password is [SECRET]! Thanks."
        );
        assert_eq!(
            redact("my password is S U N S H I N E 4 2", "en"),
            "my password is [SECRET]"
        );
        assert_eq!(
            redact("my password is hunter2.", "en"),
            "my password is [SECRET]."
        );
        // Nothing after the keyword that looks like a password.
        assert_eq!(
            redact("my password is not working, I tried it 3 times", "en"),
            "my password is not working, I tried it 3 times"
        );
        assert_eq!(
            redact("the password is a problem", "en"),
            "the password is a problem"
        );
    }

    #[test]
    fn double_and_triple_oh() {
        assert_eq!(
            redact(
                "my number is oh seven seven double oh nine double one two three",
                "en"
            ),
            "my number is [PHONE]"
        );
        assert_eq!(
            redact(
                "call me on oh seven seven triple oh nine one two three",
                "en"
            ),
            "call me on [PHONE]"
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
            "Street",
            "St.",
            "Flat",
            "NW1 6XE",
            "IL",
            "zip code",
            "calle",
            "c/",
            "nº",
            "3.º",
            "B",
            "улица",
            "ул.",
            "д.",
            "кв.",
            "Ленина",
            "ulica",
            "m.",
            "00-590",
            "/",
            "路",
            "号",
            "楼",
            "单元",
            "室",
            "市",
            "邮编",
            "خیابان",
            "پلاک",
            "واحد",
            "کد پستی",
            "،",
            "your",
            "شما",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // The palette must reach the address detector, not only the checks before it.
        let mut n_addresses = 0;
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
                // Whose address: on every span, and on ranges that need not lie on a char
                // boundary nor inside the text.
                for span in &spans {
                    let _ = address_owner(&text, span.byte_range.clone(), language);
                    n_addresses += usize::from(span.kind == PiiKind::Address);
                }
                let a = (next() % (text.len() as u64 + 3)) as usize;
                let b = (next() % (text.len() as u64 + 3)) as usize;
                let _ = address_owner(&text, a..b, language);
                let normalized =
                    crate::normalize::normalize_text(&text, Language::from_code(language));
                for token in &normalized.tokens {
                    assert!(text.get(token.byte_range.clone()).is_some());
                }
            }
        }
        assert!(n_addresses > 0, "no address in the random texts");
    }

    #[test]
    fn spans_lie_on_char_boundaries() {
        let text = "شماره من ۰۹۱۲ ۳۴۵ ۶۷۸۹ است";
        for span in find(text, "fa") {
            assert!(text.get(span.byte_range.clone()).is_some());
            assert_eq!(span.kind, PiiKind::Phone);
        }
    }

    /// A customer reads a card or phone in another language than the call's.
    #[test]
    fn digit_words_of_another_language_in_a_run() {
        let cases = [
            (
                "en",
                "cuatro uno uno uno uno uno uno uno uno uno uno uno uno uno uno uno",
                "[CARD]",
            ),
            (
                "en",
                "my card is четыре один один один, один один один один, один один один один, один один один один",
                "my card is [CARD]",
            ),
            (
                "en",
                "cztery jeden jeden jeden jeden jeden jeden jeden jeden jeden jeden jeden jeden jeden jeden jeden",
                "[CARD]",
            ),
            (
                "en",
                "چهار یک نه نه نه نه دو دو دو دو سه سه سه سه یک یک",
                "[CARD]",
            ),
            (
                "ru",
                "номер карты cuatro uno uno uno uno uno uno uno uno uno uno uno uno uno uno uno",
                "номер карты [CARD]",
            ),
            (
                "es",
                "mi tarjeta es четыре один один один один один один один один один один один один один один один",
                "mi tarjeta es [CARD]",
            ),
            (
                "zh",
                "我的卡号是cuatro uno uno uno uno uno uno uno uno uno uno uno uno uno uno uno",
                "我的卡号是[CARD]",
            ),
            (
                "pl",
                "numer karty چهار یک یک یک یک یک یک یک یک یک یک یک یک یک یک یک",
                "numer karty [CARD]",
            ),
            ("en", "my pin is cuatro tres dos uno", "my pin is [SECRET]"),
            (
                "en",
                "mi número es seis uno dos, tres cuatro cinco, seis siete ocho",
                "mi número es [PHONE]",
            ),
            (
                "en",
                "мой телефон восемь девять один шесть один два три четыре пять шесть семь",
                "мой телефон [PHONE]",
            ),
            (
                "en",
                "мой телефон восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь",
                "мой телефон [PHONE]",
            ),
            (
                "en",
                "mi tarjeta cuarenta y uno, once, once, once, once, once, once, once",
                "mi tarjeta [CARD]",
            ),
            (
                "en",
                "mi tarjeta es cuatro mil ciento once, mil ciento once, mil ciento once, mil ciento once",
                "mi tarjeta es [CARD]",
            ),
            (
                "ru",
                "numer karty czterdzieści jeden jedenaście jedenaście jedenaście jedenaście jedenaście jedenaście jedenaście",
                "numer karty [CARD]",
            ),
        ];
        for (language, text, expected) in cases {
            assert_eq!(redact(text, language), expected, "{language}: {text}");
        }
        // Ordinary sentences with a few number words, on a call of every language.
        let sentences = [
            "Tengo dos o tres preguntas sobre mi cuenta, y seis meses esperando.",
            "Mi hermano tiene seis hijos, dos perros y tres gatos.",
            "Я жду уже три дня, мне два раза обещали перезвонить, один раз даже сто рублей вернули.",
            "Два или три раза звонил, ноль реакции.",
            "Dzwoniłem dwa razy, sto razy mówiłem, raz dwa i po sprawie.",
            "Mam dwa koty i trzy psy, sto lat!",
            "سه روز است که منتظرم، نه؟ دو بار زنگ زدم.",
            "uno dos tres, probando",
            "I waited two hours, then three more, for one answer.",
            "Llamé once veces, mil gracias por nada, cien por cien seguro.",
            "Sto lat, sto lat, niech żyje nam!",
            "Tengo treinta y dos años, dos hijos, y llevo cien días esperando; mil veces he llamado.",
            "Мне сорок пять лет, я звонил три раза, сто раз объяснял, два дня ждал.",
            "Mam czterdzieści lat, dwa razy dzwoniłem, sto razy tłumaczyłem, trzy dni czekałem.",
            "من سی و پنج سال دارم، سه بار زنگ زدم، دو روز منتظر ماندم.",
        ];
        for language in ["en", "es", "ru", "pl", "fa", "zh", "xx"] {
            for text in sentences {
                assert_eq!(redact(text, language), text, "{language}: {text}");
            }
        }
    }

    #[test]
    fn thousands_in_words_make_groups_of_four() {
        let cases = [
            (
                "es",
                "mi tarjeta es cuatro mil ciento once, mil ciento once, mil ciento once, mil ciento once",
                "mi tarjeta es [CARD]",
            ),
            (
                "ru",
                "номер карты четыре тысячи сто одиннадцать, одна тысяча сто одиннадцать, одна тысяча сто одиннадцать, одна тысяча сто одиннадцать",
                "номер карты [CARD]",
            ),
            (
                "pl",
                "numer karty cztery tysiące sto jedenaście, tysiąc sto jedenaście, tysiąc sto jedenaście, tysiąc sto jedenaście",
                "numer karty [CARD]",
            ),
            (
                "en",
                "four thousand one hundred eleven, one thousand one hundred eleven, one thousand one hundred eleven, one thousand one hundred eleven",
                "[CARD]",
            ),
            (
                "fa",
                "شماره کارتم چهار هزار و صد و یازده، هزار و صد و یازده، هزار و صد و یازده، هزار و صد و یازده است",
                "شماره کارتم [CARD] است",
            ),
            (
                "zh",
                "我的卡号是四千一百一十一，一千一百一十一，一千一百一十一，一千一百一十一",
                "我的卡号是[CARD]",
            ),
        ];
        for (language, text, expected) in cases {
            assert_eq!(redact(text, language), expected, "{language}: {text}");
        }
        for (language, text) in [
            ("en", "It cost four thousand one hundred eleven dollars"),
            ("es", "mil gracias, son dos mil pesos"),
            ("ru", "на номер карты пришло сто тысяч"),
            ("en", "my account number, I paid five hundred thousand"),
            ("ru", "Я заплатил две тысячи триста рублей"),
            ("pl", "Zapłaciłem tysiąc dwieście złotych"),
            ("fa", "دو هزار و پانصد تومان پرداخت کردم"),
            ("zh", "我付了两千五百块"),
        ] {
            assert_eq!(redact(text, language), text, "{language}: {text}");
        }
    }

    /// Persian callers say "پسورد" (the loanword) as often as "رمز", and both with
    /// possessive endings: "رمزتون" (your, polite), "رمزت" (your), "پسوردم" (my).
    #[test]
    fn persian_passwords_by_loanword_and_possessive() {
        let cases = [
            ("پسورد من ۴۵۶۷ است", "پسورد من [SECRET] است"),
            ("پسوردم ۴۵۶۷ است", "پسوردم [SECRET] است"),
            ("رمزتون ۴۵۶۷ هست", "رمزتون [SECRET] هست"),
            ("رمزتون گل۱۲ است", "رمزتون [SECRET] است"),
            ("رمزت آفتاب است", "رمزت [SECRET] است"),
            ("پسوردتون sunshine42 هست", "پسوردتون [SECRET] هست"),
            // Not a password: "your new password" is not said, only asked about.
            ("پسورد جدید لازم دارید؟", "پسورد جدید لازم دارید؟"),
            (
                "لطفا پسوردتون رو عوض کنید، شماره پیگیری ۵۸۲۱۳ است",
                "لطفا پسوردتون رو عوض کنید، شماره پیگیری ۵۸۲۱۳ است",
            ),
        ];
        assert_eq!(
            redact(
                "Please change your password, your case number is 58213.",
                "en"
            ),
            "Please change your password, your case number is 58213."
        );
        for (text, expected) in cases {
            assert_eq!(redact(text, "fa"), expected, "{text}");
        }
    }

    #[test]
    fn persian_nine_in_pairs_and_chains() {
        let cases = [
            (
                "شماره کارتم چهار یک نه نه نه نه دو دو دو دو سه سه سه سه یک یک است",
                "شماره کارتم [CARD] است",
            ),
            (
                "شماره کارتم شصت و دو، هفتاد و نه، بیست و نه، سی و یک، چهل و دو، پنجاه و سه، شصت و چهار، هفتاد و پنج است",
                "شماره کارتم [CARD] است",
            ),
            (
                "شماره موبایلم صفر نه دوازده سیصد و چهل و پنج شصت و هفت هشتاد و نه",
                "شماره موبایلم [PHONE]",
            ),
            ("بیست و نه سال دارم", "بیست و نه سال دارم"),
            ("نه، ممنون. نه نه نه!", "نه، ممنون. نه نه نه!"),
            ("نه نه نه نه نه", "نه نه نه نه نه"),
        ];
        for (text, expected) in cases {
            assert_eq!(redact(text, "fa"), expected, "{text}");
        }
        // Russian "раз" counting off a PIN.
        assert_eq!(
            redact("пин-код: раз два три четыре", "ru"),
            "пин-код: [SECRET]"
        );
        assert_eq!(
            redact("ещё раз спасибо, пин-код не помню", "ru"),
            "ещё раз спасибо, пин-код не помню"
        );
    }

    #[test]
    fn spoken_emails_with_spelled_and_joined_local_parts() {
        let cases = [
            ("en", "J-O-H-N dot S-M-I-T-H at gmail dot com", "[EMAIL]"),
            ("en", "john underscore smith at gmail dot com", "[EMAIL]"),
            ("en", "it's j o h n at gmail dot com", "it's [EMAIL]"),
            ("en", "mary-jane dash 42 at yahoo dot co dot uk", "[EMAIL]"),
            ("en", "Thanks. John at gmail dot com", "Thanks. [EMAIL]"),
            (
                "es",
                "es juan guion bajo perez arroba gmail punto com",
                "es [EMAIL]",
            ),
            (
                "ru",
                "почта иван нижнее подчёркивание петров собака mail точка ru",
                "почта [EMAIL]",
            ),
            (
                "pl",
                "mail jan podkreślenie kowalski małpa onet kropka pl",
                "mail [EMAIL]",
            ),
            ("zh", "我的邮箱是zhangsan艾特qq点com", "我的邮箱是[EMAIL]"),
            (
                "zh",
                "我的邮箱是zhang下划线san艾特qq点com，谢谢",
                "我的邮箱是[EMAIL]，谢谢",
            ),
        ];
        for (language, text, expected) in cases {
            assert_eq!(redact(text, language), expected, "{language}: {text}");
        }
        for (language, text) in [
            ("zh", "我一点都不知道，你在哪里点的餐？"),
            ("zh", "我艾特你了，你看一下"),
            ("en", "I'll see you at five, dash over there"),
            ("en", "the underscore at the end of the line"),
        ] {
            assert_eq!(redact(text, language), text, "{language}: {text}");
        }
    }

    #[test]
    fn call_me_at_is_phone_context() {
        let cases = [
            ("en", "call me at 555-1234", "call me at [PHONE]"),
            ("en", "call me at 123-4567", "call me at [PHONE]"),
            (
                "en",
                "you can reach me on 555 1234 after five",
                "you can reach me on [PHONE] after five",
            ),
            ("es", "llámame al 612 34 56", "llámame al [PHONE]"),
            (
                "ru",
                "позвоните мне по 123-45-67",
                "позвоните мне по [PHONE]",
            ),
            (
                "pl",
                "zadzwoń do mnie 600 700 80",
                "zadzwoń do mnie [PHONE]",
            ),
        ];
        for (language, text, expected) in cases {
            assert_eq!(redact(text, language), expected, "{language}: {text}");
        }
        for (language, text) in [
            ("en", "call me at 10:30 tomorrow"),
            ("en", "call me back in 20 minutes"),
            ("en", "I called 3 times about order 1234567"),
            ("es", "llámame a las 5"),
        ] {
            assert_eq!(redact(text, language), text, "{language}: {text}");
        }
        // Asking to be called is no question for a number: the PIN asked before stays a secret.
        let transcript = call(&[
            (
                Speaker::Agent,
                0,
                3000,
                "What's your PIN? I'll call you back if it fails.",
            ),
            (Speaker::Customer, 3100, 4000, "4321."),
        ]);
        assert_eq!(redact_transcript(&transcript, "en")[1], "[SECRET].");
    }
}
