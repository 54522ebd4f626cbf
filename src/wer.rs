//! Word error rate, for measuring transcription against reference text (tests, benchmarks,
//! the model choice in the README).
//!
//! Both sides are normalised the way ASR evaluations usually are: lower case, punctuation
//! removed, a few English spellings folded ("mr" → "mister", "ok" → "okay", hyphens split), so
//! that the rate counts wrong words, not formatting. Chinese, written without spaces, is
//! compared character by character (character error rate).

/// Counts of an alignment between reference and hypothesis words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
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
            if !rest.is_multiple_of(10) {
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
        if !number.is_multiple_of(1000) {
            below_thousand(number % 1000, &mut words);
        }
    } else {
        below_thousand(number, &mut words);
    }
    Some(words.join(" "))
}

/// One run of digit groups as written: "4111 1111", "1, 2, 3", "21,000", "$200".
struct DigitRun {
    groups: Vec<String>,
    dollar: bool,
    /// Index of the first character after the run.
    end: usize,
}

/// Reads the digit groups starting at `start` (a digit): groups joined by a space, comma,
/// hyphen or full stop (with or without a space after it) belong to one run.
fn read_digit_run(characters: &[char], start: usize, dollar: bool) -> DigitRun {
    let mut groups = Vec::new();
    let mut index = start;
    loop {
        let group_start = index;
        while index < characters.len() && characters[index].is_ascii_digit() {
            index += 1;
        }
        groups.push(characters[group_start..index].iter().collect::<String>());
        let mut next = index;
        if next < characters.len() && matches!(characters[next], ',' | '-' | '.') {
            next += 1;
        }
        if next < characters.len() && characters[next] == ' ' {
            next += 1;
        }
        if next > index && next < characters.len() && characters[next].is_ascii_digit() {
            index = next;
        } else {
            return DigitRun {
                groups,
                dollar,
                end: index,
            };
        }
    }
}

fn spell_digit_by_digit(digits: &str, out: &mut Vec<String>) {
    for digit in digits.chars() {
        let value = u64::from(digit.to_digit(10).unwrap_or(0));
        out.extend(number_words(value));
    }
}

/// Words for a run of digit groups, spelled the way a reference script writes them:
/// - thousands separators join ("21,000" → "twenty one thousand"), and an amount is spelled as
///   a number ("$200" → "two hundred dollars", "5" → "five");
/// - single digits stay single ("1, 2, 3" → "one two three");
/// - a run of more than six digits is a card, account or phone number, read digit by digit
///   however it is grouped: "4111 1111 1111 1111" and "4111111111111111" both become sixteen
///   digit words, so a transcript that writes a number differently from the script is not
///   counted as wrong, and one with a digit too many counts one error, not a whole group.
fn spell_digit_run(run: &DigitRun) -> String {
    let mut groups = run.groups.clone();
    let thousands = groups.len() > 1
        && groups[0].len() <= 3
        && groups[1..].iter().all(|group| group.len() == 3);
    if thousands && groups.iter().map(String::len).sum::<usize>() <= 6 {
        groups = vec![groups.concat()];
    }
    let total_digits: usize = groups.iter().map(String::len).sum();
    let mut words = Vec::new();
    if total_digits > 6 {
        spell_digit_by_digit(&groups.concat(), &mut words);
    } else {
        for group in &groups {
            match group.parse().ok().and_then(number_words) {
                Some(spelled) => words.push(spelled),
                None => spell_digit_by_digit(group, &mut words),
            }
        }
    }
    if run.dollar {
        words.push("dollars".to_string());
    }
    words.join(" ")
}

/// Spells out the numbers of `text` as words (see [`spell_digit_run`]).
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
            let run = read_digit_run(&characters, start, dollar);
            spelled.push(' ');
            spelled.push_str(&spell_digit_run(&run));
            spelled.push(' ');
            index = run.end;
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

/// How two systems' word errors on the same utterances compare: the observed difference and
/// a paired bootstrap interval for it (Bisani and Ney, "Bootstrap estimates for confidence
/// intervals in ASR performance evaluation", ICASSP 2004).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PairedComparison {
    /// Utterances compared (each resample draws this many, with replacement).
    pub n_utterances: usize,
    /// Errors of the first system minus errors of the second.
    pub error_difference: i64,
    /// Word error rate of the first minus the second, in percentage points.
    pub rate_difference_points: f64,
    /// The central 95 % of the resampled rate differences, in points.
    pub interval_points: (f64, f64),
    /// Share of resamples in which the first system made fewer errors than the second.
    pub first_better_share: f64,
    /// Share of resamples in which it made more.
    pub first_worse_share: f64,
}

impl PairedComparison {
    /// The interval holds zero: this test set cannot tell the two systems apart.
    pub fn is_inconclusive(&self) -> bool {
        self.interval_points.0 <= 0.0 && self.interval_points.1 >= 0.0
    }
}

/// Paired bootstrap over utterances: `pairs` holds, per utterance, the errors of the first and
/// of the second system against the same reference. Utterances are drawn with replacement
/// `resamples` times (seeded, so a report can be reproduced) and the difference of the two
/// word error rates is taken on each draw. Word errors cluster in hard utterances (a card
/// number read digit by digit), so a difference of a few words on a small set is often
/// noise; the interval says how much. `None` when there is nothing to compare.
pub fn paired_bootstrap(
    pairs: &[(ErrorCounts, ErrorCounts)],
    resamples: usize,
    seed: u64,
) -> Option<PairedComparison> {
    let total = |draw: &mut dyn Iterator<Item = usize>| {
        let (mut first, mut second, mut words) = (0_i64, 0_i64, 0_usize);
        for index in draw {
            let (a, b) = &pairs[index];
            first += a.errors() as i64;
            second += b.errors() as i64;
            words += a.reference_words;
        }
        (first - second, words)
    };
    let points = |difference: i64, words: usize| 100.0 * difference as f64 / words as f64;
    let (error_difference, words) = total(&mut (0..pairs.len()));
    if pairs.is_empty() || words == 0 || resamples == 0 {
        return None;
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut differences = Vec::with_capacity(resamples);
    let (mut better, mut worse) = (0_usize, 0_usize);
    for _ in 0..resamples {
        let (difference, words) = total(&mut (0..pairs.len()).map(|_| rng.usize(..pairs.len())));
        // A draw of nothing but empty references (silent channels) has no rate: left out.
        if words == 0 {
            continue;
        }
        better += usize::from(difference < 0);
        worse += usize::from(difference > 0);
        differences.push(points(difference, words));
    }
    if differences.is_empty() {
        return None;
    }
    differences.sort_by(f64::total_cmp);
    let quantile = |q: f64| differences[(q * (differences.len() - 1) as f64).round() as usize];
    let n_draws = differences.len() as f64;
    Some(PairedComparison {
        n_utterances: pairs.len(),
        error_difference,
        rate_difference_points: points(error_difference, words),
        interval_points: (quantile(0.025), quantile(0.975)),
        first_better_share: better as f64 / n_draws,
        first_worse_share: worse as f64 / n_draws,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(errors: usize, reference_words: usize) -> ErrorCounts {
        ErrorCounts {
            substitutions: errors,
            reference_words,
            ..ErrorCounts::default()
        }
    }

    #[test]
    fn a_difference_of_two_words_on_a_small_set_is_inconclusive() {
        // 16 utterances of 12 words; the first system errs twice more, in two of them.
        let mut pairs = vec![(counts(1, 12), counts(1, 12)); 16];
        pairs[3].0 = counts(2, 12);
        pairs[9].0 = counts(2, 12);
        let comparison = paired_bootstrap(&pairs, 10_000, 7).expect("pairs");
        assert_eq!(comparison.n_utterances, 16);
        assert_eq!(comparison.error_difference, 2);
        assert!((comparison.rate_difference_points - 100.0 * 2.0 / 192.0).abs() < 1e-9);
        let (low, high) = comparison.interval_points;
        assert!(low <= 0.0 && high > 1.0, "{comparison:?}");
        assert!(comparison.is_inconclusive());
        // The first can never be better here: it only ever errs more or the same.
        assert_eq!(comparison.first_better_share, 0.0);
        // A draw misses both utterances with chance (14/16)^16, about 12 %.
        assert!(
            (0.80..0.92).contains(&comparison.first_worse_share),
            "{comparison:?}"
        );
        // Seeded: the same report twice.
        assert_eq!(paired_bootstrap(&pairs, 10_000, 7), Some(comparison));
    }

    #[test]
    fn a_consistent_difference_is_conclusive() {
        // The second system errs once more in every one of 40 utterances.
        let pairs = vec![(counts(1, 10), counts(2, 10)); 40];
        let comparison = paired_bootstrap(&pairs, 2_000, 1).expect("pairs");
        assert_eq!(comparison.error_difference, -40);
        assert_eq!(comparison.interval_points, (-10.0, -10.0));
        assert!(!comparison.is_inconclusive());
        assert_eq!(comparison.first_better_share, 1.0);
        assert!(paired_bootstrap(&[], 100, 1).is_none());
        // A silent channel (no reference words, an invented "Thank you." in the second system)
        // beside a spoken one: draws of the silent channel alone have no rate and are left out.
        let with_silence = [(counts(0, 0), counts(2, 0)), (counts(1, 10), counts(1, 10))];
        let comparison = paired_bootstrap(&with_silence, 1_000, 3).expect("pairs");
        let (low, high) = comparison.interval_points;
        assert!(low >= -20.0 && high <= 0.0, "{comparison:?}");
        assert_eq!(comparison.error_difference, -2);
    }

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
        // Card numbers compare digit by digit, however they are grouped.
        let card = "four one one one one one one one one one one one one one one one";
        assert_eq!(word_errors(card, "4111 1111 1111 1111").errors(), 0);
        assert_eq!(word_errors(card, "4111-1111-1111-1111.").errors(), 0);
        assert_eq!(word_errors("4111111111111111", card).errors(), 0);
        assert_eq!(
            word_errors("4111111111111111", "4111, 1111, 1111, 1111, 1111").insertions,
            4
        );
        assert_eq!(
            word_errors("it takes 5 days", "it takes five days").errors(),
            0
        );
        assert_eq!(word_errors("one thousand", "1.000").errors(), 0);
    }

    #[test]
    fn chinese_is_compared_by_character() {
        let counts = word_errors("您好，请稍等", "您好 请稍候");
        assert_eq!(counts.reference_words, 5);
        assert_eq!(counts.substitutions, 1);
    }
}
