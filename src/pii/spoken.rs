//! Numbers spoken as words, in the six rulebook languages.
//!
//! Customers read card numbers digit by digit ("four one one one"), in pairs ("cuarenta y uno,
//! once"), or in phone-style groups ("девятьсот шестнадцать, сто двадцать три"); Whisper writes
//! whatever it heard, words or digits. This module turns a number expression starting at a token
//! into its digits: `["cuarenta", "y", "uno"] → "41"`, `["сто", "двадцать", "три"] → "123"`,
//! `["四", "百", "一", "十", "一"] → "411"`, `["double", "four"] → "44"`. Each expression
//! covers 0..=999, or more with a word for thousand; longer numbers are runs of expressions,
//! which `pii` joins.
//!
//! Numbers of four digits are read too, as customers read cards in groups of four: "cuatro mil
//! ciento once" → "4111", "одна тысяча сто одиннадцать" → "1111", `四千一百一十一` → "4111".
//!
//! Words that are also ordinary words ("for", "to", "oh" in English, "نه" (no) in Persian,
//! "un"/"una" in Spanish, "раз" in Russian) are *weak*: `pii` keeps them only next to other
//! digits or in a chain of them between digits. After a tens word and a connector a weak word
//! is a digit ("هفتاد و نه" is 79).
//!
//! The call has one language, but a customer may read a card in another: [`Reader`] also reads
//! the number words of the other five languages where at least [`FOREIGN_RUN_MIN`] expressions
//! follow each other ("cuatro uno uno uno …", "cuarenta y uno, once, once …" on an English
//! call), and never alone ("dos", "три", "sto", "once" stay words).
//!
//! All words are stored in normalised form (see [`crate::normalize::normalize_word`]); a test
//! checks that.

use crate::normalize::Language;

/// The number words of one language.
struct NumberWords {
    /// 0..=9.
    units: &'static [(&'static str, u8)],
    /// Digits that are also common words; only trusted next to other digits.
    weak_units: &'static [(&'static str, u8)],
    /// One-word numbers 10..=29 that are not "tens" (ten..nineteen, Spanish veintiuno..).
    teens: &'static [(&'static str, u8)],
    /// 20, 30 .. 90: can be followed by a unit ("forty one").
    tens: &'static [(&'static str, u8)],
    /// One-word hundreds ("двести", "cuatrocientos").
    hundreds: &'static [(&'static str, u16)],
    /// A word that multiplies the unit before it by 100 ("four hundred").
    hundred_word: Option<&'static str>,
    /// Words for 1000, alone ("mil") or multiplying the number before them ("cuatro mil",
    /// "четыре тысячи", "сто тысяч").
    thousand_words: &'static [&'static str],
    /// Words joining parts ("cuarenta y uno", "بیست و یک", "one hundred and five").
    connectors: &'static [&'static str],
    /// "double four" → 44.
    repeaters: &'static [(&'static str, usize)],
    /// A weak unit is a digit after a connector inside a number ("هفتاد و نه" is 79, "treinta
    /// y un" 31, "هزار و نه" 1009); not in English, where "twenty and for" is no number.
    weak_after_connector: bool,
}

const ENGLISH: NumberWords = NumberWords {
    units: &[
        ("zero", 0),
        ("nought", 0),
        ("one", 1),
        ("two", 2),
        ("three", 3),
        ("four", 4),
        ("five", 5),
        ("six", 6),
        ("seven", 7),
        ("eight", 8),
        ("nine", 9),
        ("niner", 9),
    ],
    // ASR garbles of spoken digits: "for 1111", "to", "oh".
    weak_units: &[
        ("oh", 0),
        ("o", 0),
        ("won", 1),
        ("to", 2),
        ("too", 2),
        ("for", 4),
        ("ate", 8),
    ],
    teens: &[
        ("ten", 10),
        ("eleven", 11),
        ("twelve", 12),
        ("thirteen", 13),
        ("fourteen", 14),
        ("fifteen", 15),
        ("sixteen", 16),
        ("seventeen", 17),
        ("eighteen", 18),
        ("nineteen", 19),
    ],
    tens: &[
        ("twenty", 20),
        ("thirty", 30),
        ("forty", 40),
        ("fourty", 40),
        ("fifty", 50),
        ("sixty", 60),
        ("seventy", 70),
        ("eighty", 80),
        ("ninety", 90),
    ],
    hundreds: &[],
    hundred_word: Some("hundred"),
    thousand_words: &["thousand"],
    connectors: &["and"],
    repeaters: &[("double", 2), ("triple", 3)],
    weak_after_connector: false,
};

const SPANISH: NumberWords = NumberWords {
    units: &[
        ("cero", 0),
        ("uno", 1),
        ("dos", 2),
        ("tres", 3),
        ("cuatro", 4),
        ("cinco", 5),
        ("seis", 6),
        ("siete", 7),
        ("ocho", 8),
        ("nueve", 9),
    ],
    weak_units: &[("un", 1), ("una", 1)],
    teens: &[
        ("diez", 10),
        ("once", 11),
        ("doce", 12),
        ("trece", 13),
        ("catorce", 14),
        ("quince", 15),
        ("dieciseis", 16),
        ("diecisiete", 17),
        ("dieciocho", 18),
        ("diecinueve", 19),
        ("veintiuno", 21),
        ("veintiuna", 21),
        ("veintidos", 22),
        ("veintitres", 23),
        ("veinticuatro", 24),
        ("veinticinco", 25),
        ("veintiseis", 26),
        ("veintisiete", 27),
        ("veintiocho", 28),
        ("veintinueve", 29),
    ],
    tens: &[
        ("veinte", 20),
        ("treinta", 30),
        ("cuarenta", 40),
        ("cincuenta", 50),
        ("sesenta", 60),
        ("setenta", 70),
        ("ochenta", 80),
        ("noventa", 90),
    ],
    hundreds: &[
        ("cien", 100),
        ("ciento", 100),
        ("doscientos", 200),
        ("doscientas", 200),
        ("trescientos", 300),
        ("trescientas", 300),
        ("cuatrocientos", 400),
        ("cuatrocientas", 400),
        ("quinientos", 500),
        ("quinientas", 500),
        ("seiscientos", 600),
        ("seiscientas", 600),
        ("setecientos", 700),
        ("setecientas", 700),
        ("ochocientos", 800),
        ("ochocientas", 800),
        ("novecientos", 900),
        ("novecientas", 900),
    ],
    hundred_word: None,
    thousand_words: &["mil"],
    connectors: &["y"],
    repeaters: &[],
    weak_after_connector: true,
};

const RUSSIAN: NumberWords = NumberWords {
    units: &[
        ("ноль", 0),
        ("нуль", 0),
        ("один", 1),
        ("одна", 1),
        ("одно", 1),
        ("два", 2),
        ("две", 2),
        ("три", 3),
        ("четыре", 4),
        ("пять", 5),
        ("шесть", 6),
        ("семь", 7),
        ("восемь", 8),
        ("девять", 9),
    ],
    // "раз" (once) for one when counting off digits: "раз два три четыре".
    weak_units: &[("раз", 1)],
    teens: &[
        ("десять", 10),
        ("одиннадцать", 11),
        ("двенадцать", 12),
        ("тринадцать", 13),
        ("четырнадцать", 14),
        ("пятнадцать", 15),
        ("шестнадцать", 16),
        ("семнадцать", 17),
        ("восемнадцать", 18),
        ("девятнадцать", 19),
    ],
    tens: &[
        ("двадцать", 20),
        ("тридцать", 30),
        ("сорок", 40),
        ("пятьдесят", 50),
        ("шестьдесят", 60),
        ("семьдесят", 70),
        ("восемьдесят", 80),
        ("девяносто", 90),
    ],
    hundreds: &[
        ("сто", 100),
        ("двести", 200),
        ("триста", 300),
        ("четыреста", 400),
        ("пятьсот", 500),
        ("шестьсот", 600),
        ("семьсот", 700),
        ("восемьсот", 800),
        ("девятьсот", 900),
    ],
    hundred_word: None,
    thousand_words: &["тысяча", "тысячи", "тысяч", "тысячу"],
    connectors: &[],
    repeaters: &[],
    weak_after_connector: false,
};

const POLISH: NumberWords = NumberWords {
    units: &[
        ("zero", 0),
        ("jeden", 1),
        ("jedna", 1),
        ("jedno", 1),
        ("dwa", 2),
        ("dwie", 2),
        ("trzy", 3),
        ("cztery", 4),
        ("piec", 5),
        ("szesc", 6),
        ("siedem", 7),
        ("osiem", 8),
        ("dziewiec", 9),
    ],
    weak_units: &[],
    teens: &[
        ("dziesiec", 10),
        ("jedenascie", 11),
        ("dwanascie", 12),
        ("trzynascie", 13),
        ("czternascie", 14),
        ("pietnascie", 15),
        ("szesnascie", 16),
        ("siedemnascie", 17),
        ("osiemnascie", 18),
        ("dziewietnascie", 19),
    ],
    tens: &[
        ("dwadziescia", 20),
        ("trzydziesci", 30),
        ("czterdziesci", 40),
        ("piecdziesiat", 50),
        ("szescdziesiat", 60),
        ("siedemdziesiat", 70),
        ("osiemdziesiat", 80),
        ("dziewiecdziesiat", 90),
    ],
    hundreds: &[
        ("sto", 100),
        ("dwiescie", 200),
        ("trzysta", 300),
        ("czterysta", 400),
        ("piecset", 500),
        ("szescset", 600),
        ("siedemset", 700),
        ("osiemset", 800),
        ("dziewiecset", 900),
    ],
    hundred_word: None,
    thousand_words: &["tysiac", "tysiace", "tysiecy"],
    connectors: &[],
    repeaters: &[],
    weak_after_connector: false,
};

const PERSIAN: NumberWords = NumberWords {
    units: &[
        ("صفر", 0),
        ("یک", 1),
        ("دو", 2),
        ("سه", 3),
        ("چهار", 4),
        ("پنج", 5),
        ("شش", 6),
        ("شیش", 6),
        ("هفت", 7),
        ("هشت", 8),
    ],
    // "نه" is nine, and also "no".
    weak_units: &[("نه", 9)],
    teens: &[
        ("ده", 10),
        ("یازده", 11),
        ("دوازده", 12),
        ("سیزده", 13),
        ("چهارده", 14),
        ("پانزده", 15),
        ("پونزده", 15),
        ("شانزده", 16),
        ("شونزده", 16),
        ("هفده", 17),
        ("هیفده", 17),
        ("هجده", 18),
        ("هیجده", 18),
        ("نوزده", 19),
    ],
    tens: &[
        ("بیست", 20),
        ("سی", 30),
        ("چهل", 40),
        ("پنجاه", 50),
        ("شصت", 60),
        ("هفتاد", 70),
        ("هشتاد", 80),
        ("نود", 90),
    ],
    hundreds: &[
        ("صد", 100),
        ("یکصد", 100),
        ("دویست", 200),
        ("سیصد", 300),
        ("چهارصد", 400),
        ("پانصد", 500),
        ("پونصد", 500),
        ("ششصد", 600),
        ("هفتصد", 700),
        ("هشتصد", 800),
        ("نهصد", 900),
    ],
    hundred_word: None,
    thousand_words: &["هزار"],
    connectors: &["و"],
    repeaters: &[],
    weak_after_connector: true,
};

/// Chinese digits; 十 and 百 are handled by [`parse_chinese`].
const CHINESE_UNITS: &[(&str, u8)] = &[
    ("零", 0),
    ("〇", 0),
    ("一", 1),
    ("幺", 1),
    ("二", 2),
    ("两", 2),
    ("三", 3),
    ("四", 4),
    ("五", 5),
    ("六", 6),
    ("七", 7),
    ("八", 8),
    ("九", 9),
];

/// A number expression read from tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SpokenNumber {
    /// The digits, with leading zeros kept ("oh five" → "05" as two expressions; "zero" → "0").
    pub digits: String,
    /// How many tokens the expression used.
    pub n_tokens: usize,
    /// Made only of words that are also ordinary words.
    pub weak: bool,
}

fn words_for(language: Language) -> Option<&'static NumberWords> {
    match language {
        Language::English => Some(&ENGLISH),
        Language::Spanish => Some(&SPANISH),
        Language::Russian => Some(&RUSSIAN),
        Language::Polish => Some(&POLISH),
        Language::Persian => Some(&PERSIAN),
        Language::Chinese | Language::Other => None,
    }
}

fn lookup<T: Copy>(table: &[(&str, T)], word: &str) -> Option<T> {
    table
        .iter()
        .find(|(entry, _)| *entry == word)
        .map(|&(_, value)| value)
}

/// Reads the number expression starting at `tokens[0]` (normalised token texts). Chinese
/// digits are read in every language (they are unambiguous); English digit words are read in
/// every language too, because agents and customers switch to English for card numbers. Runs
/// of digit words of the other languages are read by [`Reader`].
pub(super) fn parse(tokens: &[&str], language: Language) -> Option<SpokenNumber> {
    if let Some(number) = parse_chinese(tokens) {
        return Some(number);
    }
    if let Some(words) = words_for(language)
        && let Some(number) = parse_with(words, tokens)
    {
        return Some(number);
    }
    if language != Language::English {
        // Only the unambiguous English words: "for"/"to" are not digits in a Spanish sentence.
        let number = parse_with(&ENGLISH, tokens)?;
        return (!number.weak).then_some(number);
    }
    None
}

/// Fewest number expressions of another language than the call's, one right after another,
/// that are read as numbers. A Spanish-speaking customer on an English queue reads "cuatro uno
/// uno uno …" or "cuarenta y uno, once, once …", a Russian one "восемь девятьсот шестнадцать
/// …"; one to three such words in a row are ordinary words of a sentence ("dos o tres días",
/// "три дня", "dwa razy", "sto lat"), four in a row are a read-out.
pub(super) const FOREIGN_RUN_MIN: usize = 4;

/// The languages whose number words are read on calls of another language (English and
/// Chinese digits are read in every language by [`parse`]).
const FOREIGN: &[(Language, &NumberWords)] = &[
    (Language::Spanish, &SPANISH),
    (Language::Russian, &RUSSIAN),
    (Language::Polish, &POLISH),
    (Language::Persian, &PERSIAN),
];

/// Reads the number expressions of one text: [`parse`] at each token, and also the number
/// words of another of the six languages where at least [`FOREIGN_RUN_MIN`] expressions of
/// that language follow each other with no other word between (punctuation may lie between).
pub(super) struct Reader<'a> {
    tokens: &'a [&'a str],
    language: Language,
    /// The expressions of such runs, at the token each starts at.
    foreign: Vec<Option<SpokenNumber>>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(tokens: &'a [&'a str], language: Language) -> Self {
        let mut foreign: Vec<Option<SpokenNumber>> = vec![None; tokens.len()];
        for &(other, words) in FOREIGN {
            if other == language {
                continue;
            }
            let mut start = 0;
            while start < tokens.len() {
                let mut expressions: Vec<(usize, SpokenNumber)> = Vec::new();
                let mut position = start;
                while let Some(number) = parse_with(words, &tokens[position..]) {
                    let next = position + number.n_tokens.max(1);
                    expressions.push((position, number));
                    position = next;
                    if position >= tokens.len() {
                        break;
                    }
                }
                // Weak words ("نه", "un") count only between strong ones, not at the ends.
                while expressions.last().is_some_and(|(_, number)| number.weak) {
                    expressions.pop();
                }
                let first_strong = expressions
                    .iter()
                    .position(|(_, number)| !number.weak)
                    .unwrap_or(expressions.len());
                let strong = expressions
                    .iter()
                    .filter(|(_, number)| !number.weak)
                    .count();
                if strong >= FOREIGN_RUN_MIN {
                    for (at, mut number) in expressions.drain(first_strong..) {
                        number.weak = false;
                        foreign[at].get_or_insert(number);
                    }
                }
                start = position.max(start + 1);
            }
        }
        Reader {
            tokens,
            language,
            foreign,
        }
    }

    /// The number expression starting at `tokens[index]`.
    pub(super) fn parse(&self, index: usize) -> Option<SpokenNumber> {
        let own = parse(self.tokens.get(index..)?, self.language);
        if own.as_ref().is_some_and(|number| !number.weak) {
            return own;
        }
        self.foreign.get(index).cloned().flatten().or(own)
    }
}

fn parse_with(words: &NumberWords, tokens: &[&str]) -> Option<SpokenNumber> {
    let first = *tokens.first()?;
    // "double four" → 44, "double oh" → 00: after "double" even a weak word is a digit.
    if let Some(times) = lookup(words.repeaters, first)
        && let Some(unit) = tokens
            .get(1)
            .and_then(|word| lookup(words.units, word).or_else(|| lookup(words.weak_units, word)))
    {
        return Some(SpokenNumber {
            digits: unit.to_string().repeat(times),
            n_tokens: 2,
            weak: false,
        });
    }
    // "cuatro mil ciento once" → 4111, "mil ciento once" → 1111, "четыре тысячи" → 4000: a
    // card read in groups of four. A thousand word multiplies the number before it, so an
    // amount stays one number ("сто тысяч" → 100000, not "100" and "1000").
    let is_thousand = |position: usize| {
        tokens
            .get(position)
            .is_some_and(|word| words.thousand_words.contains(word))
    };
    let head = below_thousand(words, tokens, false);
    let multiplier = if is_thousand(0) {
        Some((1, 1))
    } else {
        head.as_ref()
            .filter(|head| is_thousand(head.n_tokens) && (!head.weak || words.weak_after_connector))
            .and_then(|head| head.digits.parse::<u32>().ok())
            .filter(|&value| value > 0)
            .zip(head.as_ref().map(|head| head.n_tokens + 1))
    };
    let Some((multiplier, mut position)) = multiplier else {
        return head;
    };
    let connector = skip_connector(words, tokens, position);
    let mut value = multiplier * 1000;
    if let Some(rest) = below_thousand(words, &tokens[position + connector..], connector > 0)
        .filter(|rest| !rest.weak)
    {
        value += rest.digits.parse::<u32>().unwrap_or(0);
        position += connector + rest.n_tokens;
    }
    Some(SpokenNumber {
        digits: format!("{value:04}"),
        n_tokens: position,
        weak: false,
    })
}

/// A number of 0..=999 at `tokens[0]`; `connected`: a connector came just before ("هزار و
/// نه"), so a weak unit is a digit.
fn below_thousand(words: &NumberWords, tokens: &[&str], connected: bool) -> Option<SpokenNumber> {
    let first = *tokens.first()?;
    // A unit, or a weak unit right after a connector where the language allows it.
    let unit_at = |position: usize, connected: bool| {
        tokens.get(position).and_then(|word| {
            lookup(words.units, word).or_else(|| {
                (connected && words.weak_after_connector)
                    .then(|| lookup(words.weak_units, word))
                    .flatten()
            })
        })
    };
    let mut position = 0;
    let mut connected = connected;
    let mut hundreds: Option<u16> = None;
    if let Some(value) = lookup(words.hundreds, first) {
        hundreds = Some(value);
        position = 1;
    } else if let (Some(unit), Some(hundred_word)) =
        (lookup(words.units, first), words.hundred_word)
        && tokens.get(1) == Some(&hundred_word)
    {
        hundreds = Some(u16::from(unit) * 100);
        position = 2;
    }
    if hundreds.is_some() {
        let connector = skip_connector(words, tokens, position);
        position += connector;
        connected = connector > 0;
    }

    let word = tokens.get(position).copied();
    let mut rest: Option<(u16, usize)> = None; // value, digit count
    if let Some(tens) = word.and_then(|word| lookup(words.tens, word)) {
        position += 1;
        let connector = skip_connector(words, tokens, position);
        let unit = unit_at(position + connector, connector > 0).filter(|&unit| unit != 0);
        match unit {
            Some(unit) => {
                rest = Some((u16::from(tens) + u16::from(unit), 2));
                position += connector + 1;
            }
            None => rest = Some((u16::from(tens), 2)),
        }
    } else if let Some(teen) = word.and_then(|word| lookup(words.teens, word)) {
        position += 1;
        rest = Some((u16::from(teen), 2));
    } else if let Some(unit) = unit_at(position, connected) {
        position += 1;
        rest = Some((u16::from(unit), 1));
    } else if hundreds.is_none()
        && let Some(unit) = word.and_then(|word| lookup(words.weak_units, word))
    {
        return Some(SpokenNumber {
            digits: unit.to_string(),
            n_tokens: 1,
            weak: true,
        });
    }

    let digits = match (hundreds, rest) {
        (Some(hundreds), rest) => format!("{:03}", hundreds + rest.map_or(0, |(value, _)| value)),
        (None, Some((value, 2))) => format!("{value:02}"),
        (None, Some((value, _))) => value.to_string(),
        (None, None) => return None,
    };
    Some(SpokenNumber {
        digits,
        n_tokens: position,
        weak: false,
    })
}

/// 1 when `tokens[position]` is a connector followed by another number word, else 0.
fn skip_connector(words: &NumberWords, tokens: &[&str], position: usize) -> usize {
    let is_connector = tokens
        .get(position)
        .is_some_and(|word| words.connectors.contains(word));
    let followed_by_number = tokens.get(position + 1).is_some_and(|word| {
        lookup(words.units, word).is_some()
            || lookup(words.tens, word).is_some()
            || lookup(words.teens, word).is_some()
            || lookup(words.hundreds, word).is_some()
            || (words.weak_after_connector && lookup(words.weak_units, word).is_some())
    });
    usize::from(is_connector && followed_by_number)
}

/// Chinese: one character per token. `四一一一` is four expressions; `四百一十一` is one (411);
/// `二十一` is 21, `十一` is 11, `四千一百一十一` is 4111.
fn parse_chinese(tokens: &[&str]) -> Option<SpokenNumber> {
    let unit_at = |position: usize| {
        tokens
            .get(position)
            .and_then(|word| lookup(CHINESE_UNITS, word))
    };
    let is_at = |position: usize, character: &str| tokens.get(position) == Some(&character);
    // 零 stands for skipped places: 四千零一十一 is 4011, 四百零五 405.
    let skip_zero =
        |position: usize| usize::from(is_at(position, "零") && unit_at(position + 1).is_some());

    let mut position = 0;
    let mut thousands: Option<u16> = None;
    if let Some(unit) = unit_at(0).filter(|&unit| unit != 0)
        && is_at(1, "千")
    {
        thousands = Some(u16::from(unit) * 1000);
        position = 2;
        position += skip_zero(position);
    }
    let mut hundreds: Option<u16> = None;
    if let Some(unit) = unit_at(position)
        && is_at(position + 1, "百")
    {
        hundreds = Some(u16::from(unit) * 100);
        position += 2;
        position += skip_zero(position);
    }
    let mut rest: Option<(u16, usize)> = None;
    if let Some(unit) = unit_at(position)
        && is_at(position + 1, "十")
    {
        let mut value = u16::from(unit) * 10;
        position += 2;
        if let Some(unit) = unit_at(position) {
            value += u16::from(unit);
            position += 1;
        }
        rest = Some((value, 2));
    } else if is_at(position, "十") {
        let mut value = 10;
        position += 1;
        if let Some(unit) = unit_at(position) {
            value += u16::from(unit);
            position += 1;
        }
        rest = Some((value, 2));
    } else if let Some(unit) = unit_at(position) {
        position += 1;
        rest = Some((u16::from(unit), 1));
    }
    let below = hundreds.unwrap_or(0) + rest.map_or(0, |(value, _)| value);
    let digits = match (thousands, hundreds, rest) {
        (Some(thousands), _, _) => format!("{:04}", thousands + below),
        (None, Some(_), _) => format!("{below:03}"),
        (None, None, Some((value, 2))) => format!("{value:02}"),
        (None, None, Some((value, _))) => value.to_string(),
        (None, None, None) => return None,
    };
    Some(SpokenNumber {
        digits,
        n_tokens: position,
        weak: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize_word;

    fn read(text: &str, language: Language) -> Vec<String> {
        let normalized = crate::normalize::normalize_text(text, language);
        let words: Vec<&str> = normalized
            .tokens
            .iter()
            .map(|token| token.text.as_str())
            .collect();
        let reader = Reader::new(&words, language);
        let mut out = Vec::new();
        let mut position = 0;
        while position < words.len() {
            match reader.parse(position) {
                Some(number) => {
                    out.push(number.digits);
                    position += number.n_tokens;
                }
                None => position += 1,
            }
        }
        out
    }

    #[test]
    fn every_table_word_is_in_normalised_form() {
        for words in [&ENGLISH, &SPANISH, &RUSSIAN, &POLISH, &PERSIAN] {
            let mut all: Vec<&str> = Vec::new();
            all.extend(words.units.iter().map(|(word, _)| *word));
            all.extend(words.weak_units.iter().map(|(word, _)| *word));
            all.extend(words.teens.iter().map(|(word, _)| *word));
            all.extend(words.tens.iter().map(|(word, _)| *word));
            all.extend(words.hundreds.iter().map(|(word, _)| *word));
            all.extend(words.thousand_words.iter().copied());
            all.extend(words.connectors.iter().copied());
            for word in all {
                assert_eq!(normalize_word(word), word, "{word} is not normalised");
            }
        }
    }

    #[test]
    fn digits_read_one_by_one() {
        assert_eq!(
            read("four one one one", Language::English),
            ["4", "1", "1", "1"]
        );
        assert_eq!(read("cuatro uno uno", Language::Spanish), ["4", "1", "1"]);
        assert_eq!(read("четыре один", Language::Russian), ["4", "1"]);
        assert_eq!(read("cztery jeden", Language::Polish), ["4", "1"]);
        assert_eq!(read("四一一一", Language::Chinese), ["4", "1", "1", "1"]);
        assert_eq!(read("幺三八", Language::Chinese), ["1", "3", "8"]);
        assert_eq!(read("چهار یک", Language::Persian), ["4", "1"]);
        // Arabic yeh in "یک" is normalised before lookup.
        assert_eq!(read("چهار يك", Language::Persian), ["4", "1"]);
    }

    #[test]
    fn compound_numbers() {
        assert_eq!(read("forty-one eleven", Language::English), ["41", "11"]);
        assert_eq!(read("four hundred and eleven", Language::English), ["411"]);
        assert_eq!(read("double four", Language::English), ["44"]);
        assert_eq!(
            read(
                "oh seven seven double oh nine double one two three",
                Language::English
            ),
            ["0", "7", "7", "00", "9", "11", "2", "3"]
        );
        assert_eq!(read("triple oh", Language::English), ["000"]);
        // "double" alone, or before an ordinary word, is no number.
        assert_eq!(
            read("double check the double room", Language::English),
            Vec::<String>::new()
        );
        assert_eq!(
            read("cuarenta y uno, once", Language::Spanish),
            ["41", "11"]
        );
        assert_eq!(read("veintidós", Language::Spanish), ["22"]);
        assert_eq!(read("девятьсот шестнадцать", Language::Russian), ["916"]);
        assert_eq!(read("сто двадцать три", Language::Russian), ["123"]);
        assert_eq!(read("czterdzieści jeden", Language::Polish), ["41"]);
        assert_eq!(read("dwieście pięć", Language::Polish), ["205"]);
        assert_eq!(read("四百一十一", Language::Chinese), ["411"]);
        assert_eq!(read("二十一", Language::Chinese), ["21"]);
        assert_eq!(read("بیست و یک", Language::Persian), ["21"]);
        assert_eq!(read("صد و بیست و سه", Language::Persian), ["123"]);
    }

    #[test]
    fn weak_words_are_marked() {
        let number = parse(&["for"], Language::English).unwrap();
        assert!(number.weak);
        // English garbles are not digits in other languages.
        assert_eq!(parse(&["for"], Language::Spanish), None);
        // But English digit words are.
        assert_eq!(parse(&["four"], Language::Spanish).unwrap().digits, "4");
    }
    #[test]
    fn thousands_make_groups_of_four() {
        assert_eq!(read("cuatro mil ciento once", Language::Spanish), ["4111"]);
        assert_eq!(read("mil ciento once", Language::Spanish), ["1111"]);
        assert_eq!(read("dos mil", Language::Spanish), ["2000"]);
        assert_eq!(
            read("four thousand one hundred eleven", Language::English),
            ["4111"]
        );
        assert_eq!(
            read("one thousand one hundred and eleven", Language::English),
            ["1111"]
        );
        assert_eq!(
            read("четыре тысячи сто одиннадцать", Language::Russian),
            ["4111"]
        );
        assert_eq!(
            read("одна тысяча сто одиннадцать", Language::Russian),
            ["1111"]
        );
        assert_eq!(
            read("cztery tysiące sto jedenaście", Language::Polish),
            ["4111"]
        );
        assert_eq!(read("tysiąc sto jedenaście", Language::Polish), ["1111"]);
        assert_eq!(read("چهار هزار و صد و یازده", Language::Persian), ["4111"]);
        assert_eq!(read("هزار و نه", Language::Persian), ["1009"]);
        assert_eq!(read("四千一百一十一", Language::Chinese), ["4111"]);
        assert_eq!(read("四千零一十一", Language::Chinese), ["4011"]);
        // A thousand word after a word that is no digit is a number of its own.
        assert_eq!(read("mil gracias", Language::Spanish), ["1000"]);
        // Amounts stay one number.
        assert_eq!(read("сто тысяч", Language::Russian), ["100000"]);
        assert_eq!(read("twenty thousand", Language::English), ["20000"]);
        assert_eq!(
            read("doscientos mil quinientos", Language::Spanish),
            ["200500"]
        );
        assert_eq!(read("دو هزار و پانصد", Language::Persian), ["2500"]);
    }

    #[test]
    fn weak_digit_after_tens_and_connector() {
        assert_eq!(read("هفتاد و نه", Language::Persian), ["79"]);
        assert_eq!(read("صد و نه", Language::Persian), ["109"]);
        assert_eq!(read("treinta y un", Language::Spanish), ["31"]);
        // Not in English: "twenty and for" is twenty, then a weak "for".
        let number = parse(&["twenty", "and", "for"], Language::English).unwrap();
        assert_eq!((number.digits.as_str(), number.n_tokens), ("20", 1));
        // Alone, "نه" (no) stays weak.
        assert!(parse(&["نه"], Language::Persian).unwrap().weak);
    }

    #[test]
    fn digit_words_of_other_languages_only_in_runs() {
        assert_eq!(
            read("cuatro uno uno uno", Language::English),
            ["4", "1", "1", "1"]
        );
        assert_eq!(
            read("четыре один один один", Language::Spanish),
            ["4", "1", "1", "1"]
        );
        assert_eq!(
            read("cztery jeden dwa trzy", Language::Persian),
            ["4", "1", "2", "3"]
        );
        assert_eq!(
            read("cuatro uno uno uno", Language::Other),
            ["4", "1", "1", "1"]
        );
        // A weak word inside the run is a digit, at its ends it is not.
        assert_eq!(
            read("نه چهار یک نه نه یک یک نه", Language::English),
            ["4", "1", "9", "9", "1", "1"]
        );
        // Three in a row, or single words, are words of a sentence.
        assert_eq!(
            read("uno dos tres, probando", Language::English),
            Vec::<String>::new()
        );
        assert_eq!(
            read("tengo dos preguntas, seis meses", Language::English),
            Vec::<String>::new()
        );
        assert_eq!(
            read("мне два раза обещали, сто рублей", Language::Polish),
            Vec::<String>::new()
        );
        assert_eq!(
            read("sto razy, raz dwa", Language::Russian),
            Vec::<String>::new()
        );
        // Compound numbers of another language, four in a row.
        assert_eq!(
            read("cuarenta y uno, once, once, once", Language::English),
            ["41", "11", "11", "11"]
        );
        // Three expressions are not yet a run.
        assert_eq!(
            read(
                "восемь девятьсот шестнадцать сто двадцать три",
                Language::English
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            read(
                "восемь девятьсот шестнадцать сто двадцать три сорок пять",
                Language::English
            ),
            ["8", "916", "123", "45"]
        );
        assert_eq!(
            read("llamé once veces, dos mil gracias", Language::English),
            Vec::<String>::new()
        );
        // The call's own words are read as before.
        assert_eq!(read("dos tres", Language::Spanish), ["2", "3"]);
    }
}
