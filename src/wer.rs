//! Word error rate, for measuring transcription against reference text (tests, benchmarks,
//! the model choice in the README).
//!
//! Both sides are normalised the way ASR evaluations usually are: lower case, punctuation
//! removed, a few English spellings folded ("mr" → "mister", "ok" → "okay", hyphens split), so
//! that the rate counts wrong words, not formatting. Chinese, written without spaces, is
//! compared character by character (character error rate).

/// Counts of an alignment between reference and hypothesis words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorCounts {
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    pub reference_words: usize,
}

impl ErrorCounts {
    pub fn errors(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }

    /// Errors per reference word; 0 for an empty reference with an empty hypothesis.
    pub fn rate(&self) -> f64 {
        if self.reference_words == 0 {
            return if self.insertions == 0 { 0.0 } else { 1.0 };
        }
        self.errors() as f64 / self.reference_words as f64
    }

    pub fn add(&mut self, other: ErrorCounts) {
        self.substitutions += other.substitutions;
        self.deletions += other.deletions;
        self.insertions += other.insertions;
        self.reference_words += other.reference_words;
    }
}

fn fold_word(word: &str) -> &str {
    match word {
        "mr" => "mister",
        "mrs" => "missus",
        "dr" => "doctor",
        "ok" => "okay",
        _ => word,
    }
}

fn is_cjk(character: char) -> bool {
    matches!(character as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF)
}

/// English words for a whole number below a million ("200" → "two hundred"), so that a
/// transcript writing digits and a reference spelling them compare equal.
fn number_words(number: u64) -> Option<String> {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    fn below_thousand(number: u64, words: &mut Vec<&'static str>) {
        if number >= 100 {
            words.push(ONES[(number / 100) as usize]);
            words.push("hundred");
        }
        let rest = number % 100;
        if rest >= 20 {
            words.push(TENS[(rest / 10) as usize]);
            if rest % 10 != 0 {
                words.push(ONES[(rest % 10) as usize]);
            }
        } else if rest > 0 || number == 0 {
            words.push(ONES[rest as usize]);
        }
    }
    if number >= 1_000_000 {
        return None;
    }
    let mut words = Vec::new();
    if number >= 1000 {
        below_thousand(number / 1000, &mut words);
        words.push("thousand");
        if number % 1000 != 0 {
            below_thousand(number % 1000, &mut words);
        }
    } else {
        below_thousand(number, &mut words);
    }
    Some(words.join(" "))
}

/// Spells out amounts and numbers the way a reference script writes them: "$200" →
/// "two hundred dollars", "4" → "four". Long digit runs (card numbers) are left as digits,
/// one word per digit group as written.
fn spell_numbers(text: &str) -> String {
    let mut spelled = String::with_capacity(text.len());
    let characters: Vec<char> = text.chars().collect();
    let mut index = 0;
    while index < characters.len() {
        let dollar = characters[index] == '$'
            && characters
                .get(index + 1)
                .is_some_and(|next| next.is_ascii_digit());
        let start = if dollar { index + 1 } else { index };
        if characters[start].is_ascii_digit() {
            let mut end = start;
            while end < characters.len()
                && (characters[end].is_ascii_digit() || characters[end] == ',')
            {
                end += 1;
            }
            let digits: String = characters[start..end]
                .iter()
                .filter(|character| **character != ',')
                .collect();
            let words = (digits.len() <= 6)
                .then(|| digits.parse().ok().and_then(number_words))
                .flatten();
            spelled.push(' ');
            spelled.push_str(&words.unwrap_or(digits));
            if dollar {
                spelled.push_str(" dollars");
            }
            spelled.push(' ');
            index = end;
        } else {
            spelled.push(characters[index]);
            index += 1;
        }
    }
    spelled
}

/// The comparison units of a text: normalised words, and single characters for CJK text.
pub fn normalise_words(text: &str) -> Vec<String> {
    let text = spell_numbers(text);
    let mut cleaned = String::with_capacity(text.len());
    for character in text.chars() {
        if is_cjk(character) {
            cleaned.push(' ');
            cleaned.push(character);
            cleaned.push(' ');
        } else if character.is_alphanumeric() || character == '\'' {
            cleaned.extend(character.to_lowercase());
        } else {
            cleaned.push(' ');
        }
    }
    cleaned
        .split_whitespace()
        .map(|word| word.trim_matches('\''))
        .filter(|word| !word.is_empty())
        .map(|word| fold_word(word).to_string())
        .collect()
}

/// Aligns hypothesis to reference with the Levenshtein distance over words.
pub fn word_errors(reference: &str, hypothesis: &str) -> ErrorCounts {
    let reference = normalise_words(reference);
    let hypothesis = normalise_words(hypothesis);
    let columns = hypothesis.len() + 1;
    // cost[i][j] with (substitutions, deletions, insertions) to recover the kinds.
    let mut previous: Vec<(usize, ErrorCounts)> = (0..columns)
        .map(|j| {
            (
                j,
                ErrorCounts {
                    insertions: j,
                    ..ErrorCounts::default()
                },
            )
        })
        .collect();
    for (i, reference_word) in reference.iter().enumerate() {
        let mut current = Vec::with_capacity(columns);
        current.push((
            i + 1,
            ErrorCounts {
                deletions: i + 1,
                ..ErrorCounts::default()
            },
        ));
        for (j, hypothesis_word) in hypothesis.iter().enumerate() {
            let same = reference_word == hypothesis_word;
            let (diagonal_cost, mut diagonal) = previous[j];
            let diagonal_cost = diagonal_cost + usize::from(!same);
            if !same {
                diagonal.substitutions += 1;
            }
            let (up_cost, mut up) = previous[j + 1];
            up.deletions += 1;
            let (left_cost, mut left) = current[j];
            left.insertions += 1;
            let best = [
                (diagonal_cost, diagonal),
                (up_cost + 1, up),
                (left_cost + 1, left),
            ]
            .into_iter()
            .min_by_key(|(cost, _)| *cost)
            .expect("three candidates");
            current.push(best);
        }
        previous = current;
    }
    let mut counts = previous[columns - 1].1;
    counts.reference_words = reference.len();
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_is_not_an_error() {
        let counts = word_errors(
            "and mister john dashwood had then leisure",
            "And Mr. John Dashwood had then leisure.",
        );
        assert_eq!(counts.errors(), 0);
        assert_eq!(counts.reference_words, 7);
    }

    #[test]
    fn kinds_of_errors_are_counted() {
        let counts = word_errors(
            "he was not an ill disposed young man",
            "he was an ill disposed old man today",
        );
        assert_eq!(counts.deletions, 1);
        assert_eq!(counts.substitutions, 1);
        assert_eq!(counts.insertions, 1);
        assert!((counts.rate() - 3.0 / 8.0).abs() < 1e-9);
    }

    #[test]
    fn numbers_compare_with_their_spelling() {
        assert_eq!(
            word_errors("It is two hundred dollars.", "It is $200.").errors(),
            0
        );
        assert_eq!(word_errors("one two three four", "1, 2, 3, 4").errors(), 0);
        assert_eq!(
            word_errors("twenty one thousand and five", "21,000 and 5").errors(),
            0
        );
        assert_eq!(
            normalise_words("4111 1111"),
            vec![
                "four thousand one hundred eleven",
                "one thousand one hundred eleven"
            ]
            .join(" ")
            .split(' ')
            .collect::<Vec<_>>()
        );
    }

    #[test]
    fn chinese_is_compared_by_character() {
        let counts = word_errors("您好，请稍等", "您好 请稍候");
        assert_eq!(counts.reference_words, 5);
        assert_eq!(counts.substitutions, 1);
    }
}
