//! Turning a rule as written ([`RawRule`]) into a rule ready to evaluate ([`Rule`]) in one
//! language: the checks serde cannot make, lexicon lookup, phrase normalisation and regex
//! compilation.
//!
//! Every problem becomes a [`Diagnostic`] naming the file, the rule's line and its id. A rule
//! with an error is left out; the load as a whole then fails, so a broken rulebook is never
//! half-applied.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::{Regex, RegexBuilder};

use crate::normalize::{Language, normalize_text, normalize_word};
use crate::pii::PiiKind;

use super::context::Window;
use super::diagnostics::Diagnostic;
use super::kinds::event::{EventCondition, KNOWN_EVENTS};
use super::kinds::metric::{KNOWN_METRICS, MetricCondition};
use super::kinds::order::OrderCondition;
use super::kinds::personal_data::PersonalDataCondition;
use super::kinds::tone::ToneCondition;
use super::matcher::{Phrase, TextMatcher};
use super::schema::{OrderRequired, RawMatch, RawRule, RawWindow, SpeakerScope};
use super::{Condition, Rule, Severity, SourceLocation};

/// A lexicon file: one phrase per line.
#[derive(Debug, Clone)]
pub(crate) struct Lexicon {
    pub path: PathBuf,
    /// Phrase and 1-based line.
    pub entries: Vec<(String, usize)>,
}

/// Lexicon files, read once and shared by every rule and language that uses them.
pub(crate) struct LexiconStore {
    dir: PathBuf,
    cache: BTreeMap<PathBuf, Option<Lexicon>>,
    read_errors: Vec<Diagnostic>,
    /// Lexicon files some rule used (for the "unused lexicon" warning).
    pub used: BTreeSet<PathBuf>,
}

impl LexiconStore {
    pub fn new(dir: &Path) -> LexiconStore {
        LexiconStore {
            dir: dir.to_path_buf(),
            cache: BTreeMap::new(),
            read_errors: Vec::new(),
            used: BTreeSet::new(),
        }
    }

    /// Problems reading lexicon files (reported once per file).
    pub fn take_read_errors(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.read_errors)
    }

    /// `lexicons/<language>/<name>.txt`, else `lexicons/shared/<name>.txt`.
    fn resolve(&mut self, name: &str, language: Option<&str>) -> Result<Lexicon, Vec<PathBuf>> {
        let mut candidates = Vec::new();
        if let Some(language) = language {
            candidates.push(
                self.dir
                    .join("lexicons")
                    .join(language)
                    .join(format!("{name}.txt")),
            );
        }
        candidates.push(
            self.dir
                .join("lexicons")
                .join("shared")
                .join(format!("{name}.txt")),
        );
        for candidate in &candidates {
            if let Some(lexicon) = self.read(candidate) {
                self.used.insert(candidate.clone());
                return Ok(lexicon);
            }
        }
        Err(candidates)
    }

    fn read(&mut self, path: &Path) -> Option<Lexicon> {
        if let Some(cached) = self.cache.get(path) {
            return cached.clone();
        }
        let lexicon = if path.is_file() {
            match fs_err::read_to_string(path) {
                Ok(text) => Some(Lexicon {
                    path: path.to_path_buf(),
                    entries: parse_lexicon(&text),
                }),
                Err(error) => {
                    self.read_errors
                        .push(Diagnostic::error(path, None, None, error.to_string()));
                    None
                }
            }
        } else {
            None
        };
        self.cache.insert(path.to_path_buf(), lexicon.clone());
        lexicon
    }
}

/// One phrase per line; `#` starts a comment (whole line, or after a space).
pub(crate) fn parse_lexicon(text: &str) -> Vec<(String, usize)> {
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let without_comment = match line.find('#') {
                Some(0) => "",
                Some(position) if line[..position].ends_with(char::is_whitespace) => {
                    &line[..position]
                }
                _ => line,
            };
            let phrase = without_comment.trim();
            (!phrase.is_empty()).then(|| (phrase.to_string(), index + 1))
        })
        .collect()
}

/// Why a rule did not make it into a rulebook.
pub(crate) enum Compiled {
    Rule(Box<Rule>),
    /// The shared-only rulebook leaves out rules that need a language's lexicon.
    Skipped(String),
    /// Problems were reported.
    Invalid,
}

/// Compiles one rule for one language (`None`: the shared-only rulebook).
pub(crate) fn compile_rule(
    raw: &RawRule,
    path: &Path,
    line: usize,
    language: Option<&str>,
    lexicons: &mut LexiconStore,
    diagnostics: &mut Vec<Diagnostic>,
) -> Compiled {
    let mut compiler = RuleCompiler {
        path,
        line,
        rule_id: &raw.id,
        language,
        normalization: language.map_or(Language::Other, Language::from_code),
        lexicons,
        diagnostics,
        n_errors: 0,
        missing_lexicon_in_fallback: None,
    };
    let rule = compiler.rule(raw);
    if let Some(name) = compiler.missing_lexicon_in_fallback {
        return Compiled::Skipped(format!(
            "rule {} left out: lexicon '{name}' exists only per language",
            raw.id
        ));
    }
    match rule {
        Some(rule) if compiler.n_errors == 0 => Compiled::Rule(Box::new(rule)),
        _ => Compiled::Invalid,
    }
}

struct RuleCompiler<'a> {
    path: &'a Path,
    line: usize,
    rule_id: &'a str,
    language: Option<&'a str>,
    normalization: Language,
    lexicons: &'a mut LexiconStore,
    diagnostics: &'a mut Vec<Diagnostic>,
    n_errors: usize,
    missing_lexicon_in_fallback: Option<String>,
}

impl RuleCompiler<'_> {
    fn error(&mut self, message: impl Into<String>) {
        self.n_errors += 1;
        self.diagnostics.push(Diagnostic::error(
            self.path,
            Some(self.line),
            Some(self.rule_id),
            message,
        ));
    }

    fn warning(&mut self, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::warning(
            self.path,
            Some(self.line),
            Some(self.rule_id),
            message,
        ));
    }

    fn rule(&mut self, raw: &RawRule) -> Option<Rule> {
        self.check_header(raw);
        let condition = self.condition(raw)?;
        let default_speaker = match condition {
            Condition::Metric(_) | Condition::Event(_) | Condition::Tone(_) => SpeakerScope::Any,
            _ => SpeakerScope::Agent,
        };
        let speaker = raw.speaker.unwrap_or(default_speaker);
        if speaker == SpeakerScope::Customer && (raw.severity != Severity::Info || raw.points > 0.0)
        {
            self.error(
                "the customer's speech never counts against the agent: a customer rule needs \
                 severity = \"info\" and points = 0",
            );
        }
        if matches!(condition, Condition::Tone(ToneCondition::AgentTone(_)))
            && speaker == SpeakerScope::Customer
        {
            self.error("`agent_tone` is about the agent; remove `speaker = \"customer\"`");
        }
        let window = match &raw.window {
            Some(window) => {
                let text_kind = matches!(
                    condition,
                    Condition::Must(_)
                        | Condition::MustNot(_)
                        | Condition::Order(_)
                        | Condition::PersonalData(_)
                        | Condition::Tone(ToneCondition::Utterance { .. })
                );
                if !text_kind {
                    self.error("`window` applies to rules about utterances, not to metric, event or agent_tone rules");
                }
                self.window(window)
            }
            None => None,
        };
        if let Some(languages) = &raw.skip_languages {
            for code in languages {
                let valid = (2..=3).contains(&code.len())
                    && code.bytes().all(|byte| byte.is_ascii_lowercase());
                if !valid {
                    self.error(format!(
                        "`skip_languages`: '{code}' is not an ISO 639-1 code"
                    ));
                }
            }
        }
        Some(Rule {
            id: raw.id.clone(),
            category: raw.category,
            description: raw.description.trim().to_string(),
            severity: raw.severity,
            points: raw.points,
            speaker,
            window,
            condition,
            source: SourceLocation {
                path: self.path.to_path_buf(),
                line: self.line,
            },
        })
    }

    fn check_header(&mut self, raw: &RawRule) {
        let id_ok = !raw.id.is_empty()
            && raw.id.bytes().all(|byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._-".contains(&byte)
            });
        if !id_ok {
            self.error("`id` must be lower-case letters, digits, '.', '_' or '-' (it is a stable key in the findings table)");
        }
        if raw.description.trim().is_empty() {
            self.error("`description` is empty");
        }
        if !raw.points.is_finite() || raw.points < 0.0 || raw.points > 100.0 {
            self.error("`points` must be between 0 and 100");
        }
        if raw.severity == Severity::Info && raw.points > 0.0 {
            self.error("an `info` rule never costs points: set points = 0 or raise the severity");
        }
    }

    fn condition(&mut self, raw: &RawRule) -> Option<Condition> {
        let present: Vec<&str> = [
            ("must", raw.must.is_some()),
            ("must_not", raw.must_not.is_some()),
            ("order", raw.order.is_some()),
            ("metric", raw.metric.is_some()),
            ("event", raw.event.is_some()),
            ("tone", raw.tone.is_some()),
            ("personal_data", raw.personal_data.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, is_set)| is_set.then_some(key))
        .collect();
        if present.len() != 1 {
            self.error(format!(
                "a rule needs exactly one of `must`, `must_not`, `order`, `metric`, `event`, `tone`, `personal_data` (found {})",
                if present.is_empty() { "none".to_string() } else { present.join(", ") }
            ));
            return None;
        }
        if raw.metric.is_none() && (raw.min.is_some() || raw.max.is_some()) {
            self.error("`min`/`max` belong to `metric` rules");
        }
        if raw.event.is_none() && raw.min_duration_ms.is_some() {
            self.error("`min_duration_ms` belongs to `event` rules");
        }

        if let Some(must) = &raw.must {
            return self.text_matcher(must).map(Condition::Must);
        }
        if let Some(must_not) = &raw.must_not {
            return self.text_matcher(must_not).map(|mut matcher| {
                matcher.forbidden = true;
                Condition::MustNot(matcher)
            });
        }
        if let Some(order) = &raw.order {
            let first = self.text_matcher(&order.first);
            let then = self.text_matcher(&order.then);
            return Some(Condition::Order(OrderCondition {
                first: first?,
                then: then?,
                required: order.required.unwrap_or(OrderRequired::First),
            }));
        }
        if let Some(name) = &raw.metric {
            if !KNOWN_METRICS.contains(&name.as_str()) {
                self.error(format!(
                    "unknown metric '{name}' (known: {})",
                    KNOWN_METRICS.join(", ")
                ));
            }
            if raw.min.is_none() && raw.max.is_none() {
                self.error("a metric rule needs `min`, `max` or both");
            }
            if let (Some(min), Some(max)) = (raw.min, raw.max)
                && min > max
            {
                self.error("`min` is above `max`: the rule could never pass");
            }
            if raw.min.is_some_and(|min| !min.is_finite())
                || raw.max.is_some_and(|max| !max.is_finite())
            {
                self.error("`min`/`max` must be finite numbers");
            }
            return Some(Condition::Metric(MetricCondition {
                name: name.clone(),
                min: raw.min,
                max: raw.max,
            }));
        }
        if let Some(kind) = &raw.event {
            if !KNOWN_EVENTS.contains(&kind.as_str()) {
                self.error(format!(
                    "unknown event kind '{kind}' (known: {})",
                    KNOWN_EVENTS.join(", ")
                ));
            }
            return Some(Condition::Event(EventCondition {
                kind: kind.clone(),
                min_duration_ms: raw.min_duration_ms.unwrap_or(0),
            }));
        }
        if let Some(tone) = &raw.tone {
            if let Some(agent_tone) = tone.agent_tone {
                if tone.sentiment_below.is_some() || tone.arousal_above.is_some() {
                    self.error("`tone.agent_tone` is a call-level condition: write `sentiment_below`/`arousal_above` in another rule");
                }
                return Some(Condition::Tone(ToneCondition::AgentTone(agent_tone)));
            }
            if tone.sentiment_below.is_none() && tone.arousal_above.is_none() {
                self.error("`tone` needs `agent_tone`, `sentiment_below` or `arousal_above`");
            }
            if tone
                .sentiment_below
                .is_some_and(|value| !(-1.0..=1.0).contains(&value))
            {
                self.error("`tone.sentiment_below` must be between -1 and 1");
            }
            if tone
                .arousal_above
                .is_some_and(|value| !(0.0..=1.0).contains(&value))
            {
                self.error("`tone.arousal_above` must be between 0 and 1");
            }
            return Some(Condition::Tone(ToneCondition::Utterance {
                sentiment_below: tone.sentiment_below,
                arousal_above: tone.arousal_above,
            }));
        }
        if let Some(personal_data) = &raw.personal_data {
            if personal_data.kinds.is_empty() {
                self.error(format!(
                    "`personal_data.kinds` is empty (known: {})",
                    PiiKind::ALL.map(PiiKind::as_str).join(", ")
                ));
            }
            return Some(Condition::PersonalData(PersonalDataCondition {
                kinds: personal_data.kinds.clone(),
                language: self.normalization,
            }));
        }
        None
    }

    fn window(&mut self, raw: &RawWindow) -> Option<Window> {
        let mut windows = Vec::new();
        for (key, seconds, make) in [
            (
                "first_seconds",
                raw.first_seconds,
                Window::FirstSeconds as fn(f64) -> Window,
            ),
            ("last_seconds", raw.last_seconds, Window::LastSeconds),
        ] {
            if let Some(seconds) = seconds {
                if !(seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0) {
                    self.error(format!(
                        "`window.{key}` must be a positive number of seconds"
                    ));
                }
                windows.push(make(seconds));
            }
        }
        for (key, count, make) in [
            (
                "first_utterances",
                raw.first_utterances,
                Window::FirstUtterances as fn(usize) -> Window,
            ),
            (
                "last_utterances",
                raw.last_utterances,
                Window::LastUtterances,
            ),
        ] {
            if let Some(count) = count {
                if count == 0 {
                    self.error(format!("`window.{key}` must be at least 1"));
                }
                windows.push(make(count as usize));
            }
        }
        if windows.len() != 1 {
            self.error("`window` needs exactly one of first_seconds, last_seconds, first_utterances, last_utterances");
            return None;
        }
        windows.pop()
    }

    fn text_matcher(&mut self, raw: &RawMatch) -> Option<TextMatcher> {
        let fuzzy = raw.fuzzy.unwrap_or(0);
        if fuzzy > 2 {
            self.error("`fuzzy` allows 0, 1 or 2 edits per word");
        }
        let mut phrases = Vec::new();
        let mut shown = Vec::new();
        // Each phrase's text and, for a lexicon entry, its file and line.
        let mut written: Vec<(String, Option<(PathBuf, usize)>)> = Vec::new();
        for text in &raw.phrases {
            let phrase = Phrase::new(text, self.normalization);
            if phrase.is_empty() {
                self.error(format!("phrase \"{text}\" has no words"));
            } else {
                phrases.push(phrase);
                shown.push(format!("\"{text}\""));
                written.push((text.clone(), None));
            }
        }
        for name in &raw.lexicons {
            let name_ok = !name.is_empty()
                && name.bytes().all(|byte| {
                    byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"_-".contains(&byte)
                });
            if !name_ok {
                self.error(format!(
                    "lexicon name '{name}' must be lower-case letters, digits, '_' or '-' (the file is lexicons/<lang>/<name>.txt)"
                ));
                continue;
            }
            match self.lexicons.resolve(name, self.language) {
                Ok(lexicon) => {
                    if lexicon.entries.is_empty() {
                        self.diagnostics.push(Diagnostic::error(
                            &lexicon.path,
                            None,
                            Some(self.rule_id),
                            format!("lexicon '{name}' has no entries"),
                        ));
                        self.n_errors += 1;
                    }
                    for (text, line) in &lexicon.entries {
                        let phrase = Phrase::new(text, self.normalization);
                        if phrase.is_empty() {
                            self.diagnostics.push(Diagnostic::error(
                                &lexicon.path,
                                Some(*line),
                                Some(self.rule_id),
                                format!("lexicon entry \"{text}\" has no words"),
                            ));
                            self.n_errors += 1;
                        } else {
                            phrases.push(phrase);
                            shown.push(format!("\"{text}\""));
                            written.push((text.clone(), Some((lexicon.path.clone(), *line))));
                        }
                    }
                }
                Err(_) if self.language.is_none() => {
                    // The shared-only rulebook has no language lexicons to offer.
                    self.missing_lexicon_in_fallback = Some(name.clone());
                }
                Err(looked_at) => {
                    let looked_at: Vec<String> = looked_at
                        .iter()
                        .map(|path| path.display().to_string())
                        .collect();
                    self.error(format!(
                        "unknown lexicon '{name}' (looked for {})",
                        looked_at.join(" and ")
                    ));
                }
            }
        }
        let mut patterns = Vec::new();
        for pattern in &raw.patterns {
            match compile_pattern(pattern) {
                Ok(regex) => {
                    patterns.push(regex);
                    shown.push(format!("/{pattern}/"));
                    if let Some((written, normalized)) = non_normalized_letter(pattern) {
                        self.warning(format!(
                            "pattern /{pattern}/ contains '{written}', but patterns run on normalised text where it is '{normalized}'"
                        ));
                    }
                }
                Err(message) => self.error(format!("bad regex /{pattern}/: {message}")),
            }
        }
        if raw.phrases.is_empty() && raw.lexicons.is_empty() && raw.patterns.is_empty() {
            self.error("empty phrase list: give `phrases`, `lexicons` or `patterns`");
        }
        let near = match (&raw.near, raw.within_words) {
            (Some(near), Some(within_words)) => {
                let near = self.text_matcher(near)?;
                Some((Box::new(near), within_words as usize))
            }
            (Some(_), None) => {
                self.error("`near` needs `within_words`");
                None
            }
            (None, Some(_)) => {
                self.error("`within_words` needs `near`");
                None
            }
            (None, None) => None,
        };
        let except = match &raw.except {
            Some(except) => Some(Box::new(self.text_matcher(except)?)),
            None => None,
        };
        if let Some(except) = &except {
            self.warn_self_cancelling(except, &written);
        }
        let mut summary = summarize(&shown);
        if let Some((near, within_words)) = &near {
            summary = format!("{summary} within {within_words} words of {}", near.summary);
        }
        Some(TextMatcher {
            phrases,
            patterns,
            fuzzy,
            stem: raw.stem.unwrap_or(true),
            forbidden: false,
            near,
            except,
            summary,
        })
    }
}

impl RuleCompiler<'_> {
    /// A phrase that contains one of the rule's own exceptions ("not my problem" with
    /// `except = { phrases = ["not"] }`) is cancelled by itself and can never match.
    fn warn_self_cancelling(
        &mut self,
        except: &TextMatcher,
        written: &[(String, Option<(PathBuf, usize)>)],
    ) {
        for (text, source) in written {
            let normalized = normalize_text(text, self.normalization);
            let Some(hit) = except.find_all(&[&normalized]).into_iter().next() else {
                continue;
            };
            let words = normalized
                .original_range(hit.tokens)
                .and_then(|range| text.get(range));
            let message = format!(
                "\"{text}\" contains the rule's exception \"{}\", which cancels it: it can never match",
                words.unwrap_or_default()
            );
            match source {
                Some((path, line)) => self.diagnostics.push(Diagnostic::warning(
                    path,
                    Some(*line),
                    Some(self.rule_id),
                    message,
                )),
                None => self.warning(message),
            }
        }
    }
}

fn summarize(shown: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut summary = shown
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if shown.len() > SHOWN {
        summary.push_str(&format!(" … ({} more)", shown.len() - SHOWN));
    }
    summary
}

/// Patterns are matched case-insensitively on normalised text; the size limit keeps a
/// pathological pattern from eating memory.
pub(crate) fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 22)
        .build()
        .map_err(|error| {
            error
                .to_string()
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
}

/// A non-ASCII letter in a pattern that normalisation would change (`á`, `ё`, `ي`): the
/// pattern could never match it.
fn non_normalized_letter(pattern: &str) -> Option<(char, String)> {
    let mut characters = pattern.chars();
    while let Some(character) = characters.next() {
        if character == '\\' {
            characters.next();
            continue;
        }
        if character.is_ascii() || !character.is_alphabetic() {
            continue;
        }
        let lowered: String = character.to_lowercase().collect();
        let normalized = normalize_word(&lowered);
        if normalized != lowered {
            return Some((character, normalized));
        }
    }
    None
}
