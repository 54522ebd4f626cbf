//! Text normalisation for matching transcripts against rule phrases.
//!
//! Whisper writes the same words in many ways: "Buenos días," / "buenos dias", "Спасибо за
//! звонок" / "спасибо за звонок", Persian with Arabic `ي`/`ك`, Chinese in traditional or simplified
//! characters, digits in three scripts. Rules must match all of them without one regex per
//! spelling, so both the rule phrases and the transcript go through the same steps:
//!
//! 1. split into tokens (words; every Chinese character is a token of its own, so Chinese is
//!    matched without relying on spaces), remembering each token's byte range in the original
//!    text so that findings can quote the exact words;
//! 2. per token: Unicode NFKC (full-width letters and digits), lower case, Persian/Arabic letter
//!    forms unified (`ي ى ئ → ی`, `ك → ک`, `ة ۀ → ه`, `أ إ آ → ا`), harakat and tatweel removed,
//!    Persian and Arabic-Indic digits to ASCII, `ё → е`, Latin diacritics removed (`días → dias`,
//!    `dziękuję → dziekuje`, `ł → l`, which Unicode does not decompose), apostrophes dropped
//!    (`that's → thats`), a small set of traditional Chinese characters mapped to simplified;
//! 3. a stem per token: Snowball for English, Spanish and Russian, a small suffix stripper for
//!    Polish (there is no Snowball Polish), the word itself for Persian and Chinese.
//!
//! The zero-width non-joiner separates tokens, so Persian `می‌خواهم` and `می خواهم` give the same
//! tokens; the fully joined `میخواهم` is handled by the rule matcher's space-insensitive mode.
//!
//! Promise: pure functions, no I/O, never panic; token byte ranges always lie on char boundaries
//! of the input.

use std::ops::Range;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The languages with dedicated handling. Anything else is normalised generically (NFKC, case,
/// Latin diacritics) without stemming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    English,
    Spanish,
    Russian,
    Polish,
    Chinese,
    Persian,
    Other,
}

impl Language {
    /// Parses an ISO 639-1/639-2 code or English name, ignoring a region (`en-US`, `zh_TW`).
    pub fn from_code(code: &str) -> Language {
        let primary = code
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" | "eng" | "english" => Language::English,
            "es" | "spa" | "spanish" => Language::Spanish,
            "ru" | "rus" | "russian" => Language::Russian,
            "pl" | "pol" | "polish" => Language::Polish,
            "zh" | "zho" | "chi" | "cmn" | "chinese" | "mandarin" => Language::Chinese,
            "fa" | "fas" | "per" | "persian" | "farsi" => Language::Persian,
            _ => Language::Other,
        }
    }

    /// The ISO 639-1 code, `None` for [`Language::Other`].
    pub fn code(self) -> Option<&'static str> {
        match self {
            Language::English => Some("en"),
            Language::Spanish => Some("es"),
            Language::Russian => Some("ru"),
            Language::Polish => Some("pl"),
            Language::Chinese => Some("zh"),
            Language::Persian => Some("fa"),
            Language::Other => None,
        }
    }
}

/// One word (or one Chinese character) of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The normalised form: what phrases are compared with.
    pub text: String,
    /// The stem of the word; equal to `text` for languages without a stemmer.
    pub stem: String,
    /// Where the token lies in the original text.
    pub byte_range: Range<usize>,
    /// A CJK ideograph (one character per token).
    pub is_cjk: bool,
    /// In phrases only: `word*` matches any word starting with `word`.
    pub is_prefix: bool,
    /// In phrases only: a lone `*` matches any one word.
    pub is_wildcard: bool,
    /// Which sentence of the text the token lies in (0-based): sentences end at `.`, `!`, `?`,
    /// `;`, `…`, their Chinese, Persian and Arabic forms, and the Chinese full-width comma
    /// `，`. Negations are looked for in the sentence of a hit, not across sentences.
    pub sentence: usize,
}

/// A text split into normalised tokens, plus the tokens joined into one string for regular
/// expressions (single spaces between words, none between Chinese characters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NormalizedText {
    pub tokens: Vec<Token>,
    pub joined: String,
    /// Byte offset of each token in `joined`.
    pub joined_starts: Vec<usize>,
}

impl NormalizedText {
    /// The tokens that a byte range of `joined` (e.g. a regex match) touches.
    pub fn tokens_for_joined_range(&self, range: Range<usize>) -> Option<Range<usize>> {
        let mut first = None;
        let mut last = None;
        for (token_index, token) in self.tokens.iter().enumerate() {
            let start = self.joined_starts[token_index];
            let end = start + token.text.len();
            if start < range.end.max(range.start + 1) && range.start < end {
                first.get_or_insert(token_index);
                last = Some(token_index);
            }
        }
        Some(first?..last? + 1)
    }

    /// The byte range in the original text covered by a range of tokens.
    pub fn original_range(&self, tokens: Range<usize>) -> Option<Range<usize>> {
        let first = self.tokens.get(tokens.start)?;
        let last = self.tokens.get(tokens.end.checked_sub(1)?)?;
        Some(first.byte_range.start..last.byte_range.end)
    }
}

/// Splits and normalises a transcript text.
pub fn normalize_text(text: &str, language: Language) -> NormalizedText {
    build(text, language, false)
}

/// Splits and normalises a rule phrase: like [`normalize_text`], but `*` is kept as a wildcard.
pub fn normalize_phrase(phrase: &str, language: Language) -> NormalizedText {
    build(phrase, language, true)
}

/// The normalised text as one string (what regular expressions in rules are run on).
pub fn normalize(text: &str, language: Language) -> String {
    normalize_text(text, language).joined
}

/// Normalises one word (no splitting): NFKC, case, letter forms, diacritics, digits. These
/// steps depend on the script, not the language, so every language gets the same result.
pub fn normalize_word(word: &str) -> String {
    let folded = fold_case(word);
    strip_marks(&folded)
}

/// The stem of a word already passed through [`normalize_word`]. For Spanish the stem is
/// taken from the word with its accents (Snowball's Spanish rules expect them), so pass the
/// original word as `accented` when you have it.
pub fn stem_word(normalized: &str, accented: &str, language: Language) -> String {
    match language {
        Language::English => snowball(rust_stemmers::Algorithm::English, normalized),
        Language::Russian => snowball(rust_stemmers::Algorithm::Russian, normalized),
        Language::Spanish => {
            let stem = snowball(rust_stemmers::Algorithm::Spanish, accented);
            strip_marks(&stem)
        }
        Language::Polish => polish_stem(normalized),
        Language::Chinese | Language::Persian | Language::Other => normalized.to_string(),
    }
}

fn snowball(algorithm: rust_stemmers::Algorithm, word: &str) -> String {
    // Digits and mixed tokens are left alone: "4111" must never be shortened.
    if word.chars().any(|character| character.is_ascii_digit()) {
        return word.to_string();
    }
    rust_stemmers::Stemmer::create(algorithm)
        .stem(word)
        .into_owned()
}

/// Inflectional endings of Polish, longest first, in their diacritic-free form. Polish has no
/// Snowball stemmer; stripping the common case and person endings is enough to make
/// `dziękuję`/`dziękujemy`/`dzięki`, `rozmowa`/`rozmowę`/`rozmowy` meet.
const POLISH_SUFFIXES: &[&str] = &[
    "owaniami", "owaniem", "owania", "owaniu", "owanie", "aniami", "eniami", "aniem", "eniem",
    "ujemy", "ujecie", "ujesz", "ujcie", "owali", "owala", "owany", "owana", "owane", "owac",
    "ywac", "iwac", "ania", "enia", "aniu", "eniu", "anie", "enie", "acie", "ecie", "icie", "amy",
    "emy", "imy", "asz", "esz", "isz", "ymi", "imi", "ych", "ich", "ego", "emu", "ami", "ach",
    "iej", "owi", "uje", "uja", "am", "em", "om", "ow", "uj", "ie", "ej", "ym", "im", "a", "e",
    "i", "o", "u", "y",
];

/// A small Polish suffix stripper: removes the longest known ending that leaves at least
/// three characters.
pub fn polish_stem(word: &str) -> String {
    if word.chars().any(|character| character.is_ascii_digit()) {
        return word.to_string();
    }
    let n_chars = word.chars().count();
    for suffix in POLISH_SUFFIXES {
        let suffix_chars = suffix.chars().count();
        if word.ends_with(suffix) && n_chars >= suffix_chars + 3 {
            return word[..word.len() - suffix.len()].to_string();
        }
    }
    word.to_string()
}

/// NFKC then lower case: the part of normalisation that keeps accents (for Snowball).
fn fold_case(word: &str) -> String {
    let composed: String = word.nfkc().collect();
    let mut lowered = String::with_capacity(composed.len());
    for character in composed.chars() {
        match character {
            // German sharp s folds to "ss" (case folding, not lower-casing).
            'ß' | 'ẞ' => lowered.push_str("ss"),
            _ => lowered.extend(character.to_lowercase()),
        }
    }
    lowered
}

/// Letter forms, digits and diacritics; input is already case-folded.
fn strip_marks(folded: &str) -> String {
    let mut out = String::with_capacity(folded.len());
    for character in folded.chars() {
        if let Some(digit) = digit_value(character) {
            out.push(char::from(b'0' + digit));
            continue;
        }
        match character {
            // Apostrophes inside words ("that's"), zero-width joiner, tatweel (Arabic-script
            // elongation) and the soft hyphen carry no meaning for matching.
            '\'' | '\u{2019}' | '\u{02BC}' | '`' | '\u{200D}' | '\u{0640}' | '\u{00AD}' => {}
            // Russian: ё is written as е as often as not. й keeps its breve.
            'ё' => out.push('е'),
            'й' => out.push('й'),
            // Letters that Unicode does not decompose.
            'ł' => out.push('l'),
            'ø' => out.push('o'),
            'đ' => out.push('d'),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            // Arabic letter forms Persian writes differently.
            'ي' | 'ى' | 'ئ' => out.push('ی'),
            'ك' => out.push('ک'),
            'ة' | 'ۀ' | 'ە' | 'ھ' => out.push('ه'),
            'أ' | 'إ' | 'آ' | 'ٱ' => out.push('ا'),
            'ؤ' => out.push('و'),
            _ if is_cyrillic(character) => out.push(character),
            _ if is_cjk(character) => out.push(simplified(character)),
            _ => {
                // Decompose and drop the marks: Latin accents and Arabic harakat.
                for part in std::iter::once(character).nfd() {
                    if !is_combining_mark(part) {
                        out.push(part);
                    }
                }
            }
        }
    }
    out
}

/// The value of a decimal digit in ASCII, Persian, Arabic-Indic or full-width form.
pub fn digit_value(character: char) -> Option<u8> {
    let code = u32::from(character);
    let value = match code {
        0x30..=0x39 => code - 0x30,
        0x06F0..=0x06F9 => code - 0x06F0,
        0x0660..=0x0669 => code - 0x0660,
        0xFF10..=0xFF19 => code - 0xFF10,
        _ => return None,
    };
    u8::try_from(value).ok()
}

fn is_cyrillic(character: char) -> bool {
    matches!(u32::from(character), 0x0400..=0x052F)
}

/// CJK ideographs (and the ideographic zero 〇), each of which is a token of its own.
pub fn is_cjk(character: char) -> bool {
    matches!(
        u32::from(character),
        0x3007 | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2EBEF
    )
}

/// Traditional characters common in service speech, aligned with their simplified forms.
/// Whisper writes either script for Mandarin; this small table covers the words of the default
/// rulebooks and common service vocabulary, not the whole language.
const TRADITIONAL: &str = "請謝對們電話錄歡來號碼見為務問題幫說嗎這個記會員滿質與還專業氣閉滾腦樣煩聽沒關係條讓費帳戶驗證誤錯該癡經聲處隨時興後給過諮詢復製將監熱線麼愛買賣辦靜點媽讀報數額銀郵機實認應頭憤罵爭壞瘋傳轉邊聯絡單據護貴雙兩萬億丟體餘凍幾則複屬廢開惡換掛無豬禮離稱簡筆約終結絕統網範規計訴語貨貫責賬賴進裡裏鐘鍾錢長門間馬顧臥著釋內別於爲麽説當態資訊";
const SIMPLIFIED: &str = "请谢对们电话录欢来号码见为务问题帮说吗这个记会员满质与还专业气闭滚脑样烦听没关系条让费账户验证误错该痴经声处随时兴后给过咨询复制将监热线么爱买卖办静点妈读报数额银邮机实认应头愤骂争坏疯传转边联络单据护贵双两万亿丢体余冻几则复属废开恶换挂无猪礼离称简笔约终结绝统网范规计诉语货贯责账赖进里里钟钟钱长门间马顾卧着释内别于为么说当态资讯";

/// The traditional → simplified pairs of the table above, for matchers outside this module that
/// keep their own per-character fold (the tone and metrics tokenizer): one table, two users.
pub(crate) fn traditional_to_simplified() -> impl Iterator<Item = (char, char)> {
    TRADITIONAL.chars().zip(SIMPLIFIED.chars())
}

fn simplified(character: char) -> char {
    TRADITIONAL
        .chars()
        .position(|traditional| traditional == character)
        .and_then(|index| SIMPLIFIED.chars().nth(index))
        .unwrap_or(character)
}

fn is_word_char(character: char) -> bool {
    character.is_alphanumeric() || is_combining_mark(character) || character == '\u{200D}'
}

fn is_apostrophe(character: char) -> bool {
    matches!(character, '\'' | '\u{2019}' | '\u{02BC}')
}

fn build(text: &str, language: Language, keep_wildcards: bool) -> NormalizedText {
    let mut tokens = Vec::new();
    let characters: Vec<(usize, char)> = text.char_indices().collect();
    let mut word_start: Option<usize> = None;
    // Byte offsets of sentence-ending punctuation ("3.5" is a number, not two sentences).
    let mut sentence_ends = Vec::new();
    let mut index = 0;
    while index < characters.len() {
        let (offset, character) = characters[index];
        let next = characters.get(index + 1).map(|&(_, next)| next);
        let previous = index.checked_sub(1).map(|previous| characters[previous].1);
        if ends_sentence(character)
            && !(character == '.'
                && previous.is_some_and(|previous| previous.is_ascii_digit())
                && next.is_some_and(|next| next.is_ascii_digit()))
        {
            sentence_ends.push(offset);
        }
        if is_cjk(character) {
            flush(text, &mut word_start, offset, language, &mut tokens);
            push_token(
                text,
                offset..offset + character.len_utf8(),
                language,
                &mut tokens,
            );
            if let Some(token) = tokens.last_mut() {
                token.is_cjk = true;
            }
        } else if is_word_char(character) && character != '\u{200C}' {
            word_start.get_or_insert(offset);
        } else if is_apostrophe(character)
            && word_start.is_some()
            && next.is_some_and(|next| is_word_char(next) && !is_cjk(next))
        {
            // "that's": keep going, the apostrophe is dropped by normalisation.
        } else if keep_wildcards && character == '*' {
            if word_start.is_some() {
                flush(text, &mut word_start, offset, language, &mut tokens);
                if let Some(token) = tokens.last_mut() {
                    token.is_prefix = true;
                }
            } else {
                tokens.push(Token {
                    text: "*".to_string(),
                    stem: "*".to_string(),
                    byte_range: offset..offset + 1,
                    is_cjk: false,
                    is_prefix: false,
                    is_wildcard: true,
                    sentence: 0,
                });
            }
        } else {
            flush(text, &mut word_start, offset, language, &mut tokens);
        }
        index += 1;
    }
    flush(text, &mut word_start, text.len(), language, &mut tokens);
    for token in &mut tokens {
        token.sentence = sentence_ends.partition_point(|&end| end < token.byte_range.start);
    }

    let mut joined = String::new();
    let mut joined_starts = Vec::with_capacity(tokens.len());
    for (token_index, token) in tokens.iter().enumerate() {
        let glue = token_index > 0 && !(token.is_cjk && tokens[token_index - 1].is_cjk);
        if glue {
            joined.push(' ');
        }
        joined_starts.push(joined.len());
        joined.push_str(&token.text);
    }
    NormalizedText {
        tokens,
        joined,
        joined_starts,
    }
}

fn flush(
    text: &str,
    word_start: &mut Option<usize>,
    end: usize,
    language: Language,
    tokens: &mut Vec<Token>,
) {
    if let Some(start) = word_start.take() {
        push_token(text, start..end, language, tokens);
    }
}

fn push_token(text: &str, byte_range: Range<usize>, language: Language, tokens: &mut Vec<Token>) {
    let Some(original) = text.get(byte_range.clone()) else {
        return;
    };
    let folded = fold_case(original);
    let normalized = strip_marks(&folded);
    if normalized.is_empty() {
        return;
    }
    let stem = stem_word(&normalized, &folded, language);
    tokens.push(Token {
        text: normalized,
        stem,
        byte_range,
        is_cjk: false,
        is_prefix: false,
        is_wildcard: false,
        sentence: 0,
    });
}

/// Punctuation that ends a sentence (or a clause that stands alone: `;`). The Chinese
/// full-width comma ends a clause too: Chinese strings clauses with it where English would
/// start a sentence (`您不要着急，请把密码告诉我`).
fn ends_sentence(character: char) -> bool {
    matches!(
        character,
        '.' | '!' | '?' | ';' | '…' | '。' | '！' | '？' | '；' | '，' | '｡' | '؟' | '؛' | '\n'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str, language: Language) -> Vec<String> {
        normalize_text(text, language)
            .tokens
            .into_iter()
            .map(|token| token.text)
            .collect()
    }

    #[test]
    fn spanish_accents_and_punctuation_are_removed() {
        assert_eq!(
            normalize("¡Buenos días! ¿En qué le puedo ayudar?", Language::Spanish),
            "buenos dias en que le puedo ayudar"
        );
        assert_eq!(normalize("buenos dias", Language::Spanish), "buenos dias");
    }

    #[test]
    fn polish_diacritics_including_l_stroke() {
        assert_eq!(
            normalize("Dziękuję za rozmowę, miłego dnia.", Language::Polish),
            "dziekuje za rozmowe milego dnia"
        );
        assert_eq!(normalize("ŁÓDŹ", Language::Polish), "lodz");
    }

    #[test]
    fn polish_stems_meet_across_inflections() {
        let stem = |word: &str| polish_stem(&normalize_word(word));
        assert_eq!(stem("dziękuję"), stem("dziękujemy"));
        assert_eq!(stem("dziękuję"), stem("dzięki"));
        assert_eq!(stem("rozmowę"), stem("rozmowa"));
        assert_eq!(stem("nagrywana"), stem("nagrywane"));
        assert_eq!(stem("przepraszam"), stem("przepraszamy"));
    }

    #[test]
    fn russian_yo_and_case_but_short_i_kept() {
        assert_eq!(
            normalize("Всё ХОРОШО, Пётр!", Language::Russian),
            "все хорошо петр"
        );
        assert_eq!(normalize("Здравствуйте", Language::Russian), "здравствуйте");
    }

    #[test]
    fn russian_stems_meet_across_inflections() {
        let tokens = normalize_text(
            "благодарю благодарим обращение обращения",
            Language::Russian,
        )
        .tokens;
        assert_eq!(tokens[0].stem, tokens[1].stem);
        assert_eq!(tokens[2].stem, tokens[3].stem);
    }

    #[test]
    fn spanish_stems_come_from_accented_words() {
        let tokens =
            normalize_text("grabación grabaciones grabada grabadas", Language::Spanish).tokens;
        assert_eq!(tokens[0].stem, tokens[1].stem);
        assert_eq!(tokens[2].stem, tokens[3].stem);
    }

    #[test]
    fn persian_letter_forms_digits_and_harakat() {
        // Arabic yeh and kaf, a fatha, Persian and Arabic-Indic digits.
        assert_eq!(normalize("كيف", Language::Persian), "کیف");
        assert_eq!(normalize("مَرسی", Language::Persian), "مرسی");
        assert_eq!(normalize("۱۲۳٤", Language::Persian), "1234");
        assert_eq!(normalize("خانۀ", Language::Persian), "خانه");
        // The zero-width non-joiner separates like a space.
        assert_eq!(
            words("می‌خواهم", Language::Persian),
            words("می خواهم", Language::Persian)
        );
    }

    #[test]
    fn chinese_is_one_token_per_character_and_simplified() {
        let normalized = normalize_text("您好，請稍等。", Language::Chinese);
        assert_eq!(
            normalized
                .tokens
                .iter()
                .map(|token| token.text.as_str())
                .collect::<Vec<_>>(),
            vec!["您", "好", "请", "稍", "等"]
        );
        assert_eq!(normalized.joined, "您好请稍等");
        assert_eq!(normalize("您好 请 稍等", Language::Chinese), "您好请稍等");
    }

    #[test]
    fn traditional_and_simplified_tables_are_aligned() {
        assert_eq!(TRADITIONAL.chars().count(), SIMPLIFIED.chars().count());
        let mut seen = std::collections::BTreeSet::new();
        for character in TRADITIONAL.chars() {
            assert!(seen.insert(character), "{character} listed twice");
        }
    }

    #[test]
    fn full_width_and_apostrophes() {
        assert_eq!(
            normalize("ＨＥＬＬＯ １２３", Language::English),
            "hello 123"
        );
        assert_eq!(
            normalize("That’s not my problem", Language::English),
            "thats not my problem"
        );
    }

    #[test]
    fn token_ranges_point_into_the_original() {
        let text = "¡Buenos días, señor!";
        let normalized = normalize_text(text, Language::Spanish);
        let quoted: Vec<&str> = normalized
            .tokens
            .iter()
            .map(|token| &text[token.byte_range.clone()])
            .collect();
        assert_eq!(quoted, vec!["Buenos", "días", "señor"]);
        let range = normalized.tokens_for_joined_range(7..11).unwrap();
        assert_eq!(&text[normalized.original_range(range).unwrap()], "días");
    }

    #[test]
    fn phrase_wildcards() {
        let phrase = normalize_phrase("my name is *", Language::English);
        assert!(phrase.tokens[3].is_wildcard);
        let phrase = normalize_phrase("apolog* for", Language::English);
        assert!(phrase.tokens[0].is_prefix);
        assert_eq!(phrase.tokens[0].text, "apolog");
    }

    #[test]
    fn language_codes() {
        assert_eq!(Language::from_code("en-US"), Language::English);
        assert_eq!(Language::from_code("zh_TW"), Language::Chinese);
        assert_eq!(Language::from_code("FA"), Language::Persian);
        assert_eq!(Language::from_code("it"), Language::Other);
    }
}
