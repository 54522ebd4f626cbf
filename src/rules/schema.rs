//! The rule files as written: strict serde types for `rules/*.toml` and `rules/shared/*.toml`.
//!
//! Every table denies unknown keys, so a typo (`must_nto`, `first_utterance`) is an error with
//! file and line instead of a rule that silently never fires. These types say only what may be
//! written; `compile` checks what must go together (exactly one condition per rule, `near`
//! with `within_words`, …) and turns them into [`super::Rule`]s. `rules/schema.json` describes
//! the same format for editors; a test keeps the two in step.

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::pii::PiiKind;
use crate::types::AgentTone;

/// What a rule checks, as the `findings` table reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Greeting,
    Closing,
    Courtesy,
    ForbiddenLanguage,
    Disclosure,
    PersonalData,
    Tone,
    Silence,
    Overtalk,
    SpeechRate,
    AnswerDelay,
}

impl Category {
    pub const ALL: [Category; 11] = [
        Category::Greeting,
        Category::Closing,
        Category::Courtesy,
        Category::ForbiddenLanguage,
        Category::Disclosure,
        Category::PersonalData,
        Category::Tone,
        Category::Silence,
        Category::Overtalk,
        Category::SpeechRate,
        Category::AnswerDelay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Greeting => "greeting",
            Category::Closing => "closing",
            Category::Courtesy => "courtesy",
            Category::ForbiddenLanguage => "forbidden_language",
            Category::Disclosure => "disclosure",
            Category::PersonalData => "personal_data",
            Category::Tone => "tone",
            Category::Silence => "silence",
            Category::Overtalk => "overtalk",
            Category::SpeechRate => "speech_rate",
            Category::AnswerDelay => "answer_delay",
        }
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// How bad a failed rule is. `critical` fails the whole call (score 0); `major` flags it;
/// `info` is reported but never costs points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Minor,
    Major,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Whose speech a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpeakerScope {
    Agent,
    Customer,
    Any,
}

impl SpeakerScope {
    pub fn as_str(self) -> &'static str {
        match self {
            SpeakerScope::Agent => "agent",
            SpeakerScope::Customer => "customer",
            SpeakerScope::Any => "any",
        }
    }
}

/// One rule file: a language file (`en.toml`, with `language = "en"`) or a shared file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    /// Must equal the file name's stem for language files; absent in shared files.
    pub language: Option<String>,
    /// Free text for people reading the file.
    #[allow(dead_code)]
    pub description: Option<String>,
    #[serde(default)]
    pub rule: Vec<Spanned<RawRule>>,
}

/// One `[[rule]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub id: String,
    pub category: Category,
    pub description: String,
    pub severity: Severity,
    pub points: f64,
    /// `false` keeps a rule in the file (and its examples checked) without applying it.
    pub enabled: Option<bool>,
    /// Default: `agent` for text and personal-data rules, `any` for metric, event and tone.
    pub speaker: Option<SpeakerScope>,
    pub window: Option<RawWindow>,
    /// Shared rules only: languages whose rulebooks leave this rule out (they define their own).
    pub skip_languages: Option<Vec<String>>,

    // Conditions: exactly one of these groups per rule.
    pub must: Option<RawMatch>,
    pub must_not: Option<RawMatch>,
    pub order: Option<RawOrder>,
    pub metric: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub event: Option<String>,
    pub min_duration_ms: Option<u64>,
    pub tone: Option<RawTone>,
    pub personal_data: Option<RawPersonalData>,

    pub examples: Option<RawExamples>,
}

/// Which part of the call a text rule looks at; exactly one key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWindow {
    pub first_seconds: Option<f64>,
    pub last_seconds: Option<f64>,
    pub first_utterances: Option<u32>,
    pub last_utterances: Option<u32>,
}

/// What to look for in text: any of the phrases, lexicon entries or patterns; with `near`,
/// only where something from `near` is at most `within_words` words away.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMatch {
    #[serde(default)]
    pub phrases: Vec<String>,
    #[serde(default)]
    pub lexicons: Vec<String>,
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Edits allowed per word of 5+ characters (0–2), for ASR misspellings.
    pub fuzzy: Option<u8>,
    /// Match inflected forms through the stem (default true); in `must_not`, only forms that
    /// keep the word whole or change its final vowel.
    pub stem: Option<bool>,
    pub near: Option<Box<RawMatch>>,
    pub within_words: Option<u32>,
    /// Cancels hits it overlaps or lies at most 8 words (16 Chinese characters) before or
    /// after, in the same sentence (negations).
    pub except: Option<Box<RawMatch>>,
}

/// Two things that must come in order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOrder {
    pub first: RawMatch,
    pub then: RawMatch,
    pub required: Option<OrderRequired>,
}

/// Which half of an order rule is the obligation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderRequired {
    /// Whenever `then` is said, `first` must have been said before it (default).
    First,
    /// Whenever `first` is said, `then` must follow it.
    Then,
}

/// Tone conditions: `agent_tone` alone (call level), or per utterance `sentiment_below` and/or
/// `arousal_above` (all given must hold).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTone {
    pub agent_tone: Option<AgentTone>,
    pub sentiment_below: Option<f32>,
    pub arousal_above: Option<f32>,
}

/// Personal data the speaker must not say.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPersonalData {
    pub kinds: Vec<PiiKind>,
}

/// Small transcripts `rules check` runs: each positive one must produce a finding of this
/// rule, each negative one none.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExamples {
    #[serde(default)]
    pub positive: Vec<String>,
    #[serde(default)]
    pub negative: Vec<String>,
}

/// The keys of a rule, for the schema test.
#[cfg(test)]
pub(crate) const RULE_KEYS: &[&str] = &[
    "id",
    "category",
    "description",
    "severity",
    "points",
    "enabled",
    "speaker",
    "window",
    "skip_languages",
    "must",
    "must_not",
    "order",
    "metric",
    "min",
    "max",
    "event",
    "min_duration_ms",
    "tone",
    "personal_data",
    "examples",
];

#[cfg(test)]
pub(crate) const MATCH_KEYS: &[&str] = &[
    "phrases",
    "lexicons",
    "patterns",
    "fuzzy",
    "stem",
    "near",
    "within_words",
    "except",
];
