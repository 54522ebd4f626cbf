//! The rule language and engine: rulebooks in TOML, evaluated on a transcript and its
//! measurements into findings.
//!
//! A rules directory holds one file per language (`en.toml`, `es.toml`, `ru.toml`, `pl.toml`,
//! `zh.toml`, `fa.toml`), shared files that apply to every language (`shared/*.toml`: personal
//! data, timing) and lexicons (`lexicons/<lang>/<name>.txt`, `lexicons/shared/<name>.txt`, one
//! phrase per line). [`RuleSet::load`] reads and validates it once, before any audio is
//! touched; a bad file fails with `file:line: rule-id: message`. The [`Rulebook`] for a call's
//! language is the shared rules plus that language's file; a language without a file gets the
//! shared rules only, with a note saying so (scripts in another language would fail every
//! call unfairly).
//!
//! Rule kinds, one module each under `kinds/`: `must`, `must_not`, `order` (text, with phrase
//! lists, lexicons, patterns, proximity, speaker and time windows), `metric`, `event`, `tone`
//! (measurements) and `personal_data` (the `pii` detectors). See `rules/README.md` for the
//! language as a QA team writes it.
//!
//! Architecture invariant: evaluation is a pure function of rulebook, transcript and
//! measurements: no I/O, no clock, no randomness, deterministic order (rulebook order, then
//! time). Evidence is always redacted.

mod check;
mod compile;
mod context;
mod diagnostics;
mod example;
mod kinds;
mod load;
mod matcher;
pub mod schema;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::normalize::Language;
use crate::types::{CallTranscript, Measurements, Speaker};

pub use check::{CheckReport, check};
pub use context::{Quotes, Window};
pub use diagnostics::{Diagnostic, DiagnosticLevel, RulesError};
pub use kinds::event::{EventCondition, KNOWN_EVENTS};
pub use kinds::metric::{KNOWN_METRICS, MetricCondition};
pub use kinds::order::OrderCondition;
pub use kinds::personal_data::PersonalDataCondition;
pub use kinds::tone::ToneCondition;
pub use matcher::TextMatcher;
pub use schema::{Category, OrderRequired, Severity, SpeakerScope};

/// Who a finding is held against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingSpeaker {
    Agent,
    Customer,
    /// A mono call: the rule was about one speaker, but the call does not say who spoke.
    Unknown,
    /// Not about a speaker (dead air, a call-level metric).
    None,
}

impl FindingSpeaker {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingSpeaker::Agent => "agent",
            FindingSpeaker::Customer => "customer",
            FindingSpeaker::Unknown => "unknown",
            FindingSpeaker::None => "none",
        }
    }
}

impl From<Speaker> for FindingSpeaker {
    fn from(speaker: Speaker) -> FindingSpeaker {
        match speaker {
            Speaker::Agent => FindingSpeaker::Agent,
            Speaker::Customer => FindingSpeaker::Customer,
            Speaker::Unknown => FindingSpeaker::Unknown,
        }
    }
}

/// A rule outcome that failed: one row of the `findings` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    pub category: Category,
    pub severity: Severity,
    /// The rule's points; a rule that fails several times in a call costs them once.
    pub points: f64,
    pub speaker: FindingSpeaker,
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
    /// Redacted, human-readable: a quote with the matched words in «», or an explanation.
    pub evidence: String,
    pub description: String,
}

impl Finding {
    pub(crate) fn new(
        rule: &Rule,
        speaker: FindingSpeaker,
        (start_ms, end_ms): (Option<u64>, Option<u64>),
        evidence: String,
    ) -> Finding {
        Finding {
            rule_id: rule.id.clone(),
            category: rule.category,
            severity: rule.severity,
            points: rule.points,
            speaker,
            start_ms,
            end_ms,
            evidence,
            description: rule.description.clone(),
        }
    }

    /// Uncertain evidence (mono call, low-confidence transcript) is reported for review as
    /// `info` without points, with the reason in front of the evidence.
    pub(crate) fn unscored_if(mut self, reason: Option<String>) -> Finding {
        if let Some(reason) = reason {
            self.severity = Severity::Info;
            self.points = 0.0;
            self.evidence = format!("not scored ({reason}): {}", self.evidence);
        }
        self
    }

    /// Whether this finding lowers the call's score and counts as a failure: never for the
    /// customer's own words, never for `info`.
    pub fn counts_against_agent(&self) -> bool {
        self.speaker != FindingSpeaker::Customer && self.severity != Severity::Info
    }
}

/// Where a rule was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    pub path: PathBuf,
    pub line: usize,
}

/// What a rule checks.
#[derive(Debug, Clone)]
pub enum Condition {
    Must(TextMatcher),
    MustNot(TextMatcher),
    Order(OrderCondition),
    Metric(MetricCondition),
    Event(EventCondition),
    Tone(ToneCondition),
    PersonalData(PersonalDataCondition),
}

/// One compiled rule, ready to evaluate in one language.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub category: Category,
    pub description: String,
    pub severity: Severity,
    pub points: f64,
    pub speaker: SpeakerScope,
    pub window: Option<Window>,
    pub condition: Condition,
    pub source: SourceLocation,
}

impl Rule {
    fn evaluate(&self, context: &context::CallContext<'_>) -> Vec<Finding> {
        match &self.condition {
            Condition::Must(matcher) => kinds::must::evaluate(self, matcher, context),
            Condition::MustNot(matcher) => kinds::must_not::evaluate(self, matcher, context),
            Condition::Order(order) => kinds::order::evaluate(self, order, context),
            Condition::Metric(metric) => kinds::metric::evaluate(self, metric, context),
            Condition::Event(event) => kinds::event::evaluate(self, event, context),
            Condition::Tone(tone) => kinds::tone::evaluate(self, tone, context),
            Condition::PersonalData(personal_data) => {
                kinds::personal_data::evaluate(self, personal_data, context)
            }
        }
    }
}

/// All rules that apply to calls in one language.
#[derive(Debug, Clone)]
pub struct Rulebook {
    language: Option<String>,
    rules: Vec<Rule>,
    hash: String,
    notes: Vec<String>,
}

impl Rulebook {
    /// The ISO 639-1 code, `None` for the shared-only rulebook.
    pub fn language(&self) -> Option<&str> {
        self.language.as_deref()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// SHA-256 over the files this rulebook was built from.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// What a reader of the results should know, e.g. "no rulebook for language 'it': only
    /// shared rules apply". Empty for a complete rulebook.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

/// Everything loaded from a rules directory: one rulebook per language file, plus the
/// shared-only rulebook for other languages.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rulebooks: BTreeMap<String, Rulebook>,
    fallback: Rulebook,
    hash: String,
}

impl RuleSet {
    /// Reads and validates a rules directory. Any error (syntax, unknown key, bad regex,
    /// unknown lexicon or metric, duplicate id …) fails the load with every problem listed.
    /// Examples are not run here; `check` runs them.
    pub fn load(dir: &Path) -> Result<RuleSet, RulesError> {
        let (rule_set, diagnostics) = load::build(dir)?;
        let errors: Vec<Diagnostic> = diagnostics
            .into_iter()
            .filter(|diagnostic| diagnostic.level == DiagnosticLevel::Error)
            .collect();
        if errors.is_empty() {
            Ok(rule_set)
        } else {
            Err(RulesError::Invalid {
                dir: dir.to_path_buf(),
                diagnostics: errors,
            })
        }
    }

    /// The rulebook for a call's language (`en`, `es-MX`, `zh-TW` …), or the shared-only one.
    pub fn for_language(&self, language: Option<&str>) -> &Rulebook {
        language
            .and_then(|code| self.rulebooks.get(&language_key(code)))
            .unwrap_or(&self.fallback)
    }

    /// The languages with a rulebook of their own.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.rulebooks.keys().map(String::as_str)
    }

    /// SHA-256 over every rule and lexicon file (`*.toml`, `*.txt`), by relative path and
    /// content: stable across machines and directory order.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// The primary language subtag in lower case: `es-MX` → `es`.
fn language_key(code: &str) -> String {
    code.trim()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Applies every rule of a rulebook to a call. Findings come in rulebook order (shared files
/// by name, then the language file), each rule's in time order. Evidence quotes are redacted.
pub fn evaluate(
    rulebook: &Rulebook,
    transcript: &CallTranscript,
    measurements: &Measurements,
) -> Vec<Finding> {
    evaluate_with_quotes(rulebook, transcript, measurements, Quotes::Redacted)
}

/// [`evaluate`], with evidence quotes redacted or verbatim.
pub fn evaluate_with_quotes(
    rulebook: &Rulebook,
    transcript: &CallTranscript,
    measurements: &Measurements,
    quotes: Quotes,
) -> Vec<Finding> {
    let language = rulebook
        .language
        .as_deref()
        .or_else(|| transcript.language())
        .map_or(Language::Other, Language::from_code);
    let context = context::CallContext::new(transcript, measurements, language, quotes);
    rulebook
        .rules
        .iter()
        .flat_map(|rule| rule.evaluate(&context))
        .collect()
}
