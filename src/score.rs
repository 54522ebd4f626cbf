//! Call scores and per-agent daily aggregates.
//!
//! A call starts at 100 (configurable); each failed rule subtracts its points once, however
//! many findings it produced; the score never drops below 0; a failed `critical` rule is an
//! auto-fail and makes it 0. Only findings that count against the agent are used: never the
//! customer's own words, never `info` findings (uncertain evidence, informational rules).
//!
//! A call that cannot be judged is `not_scorable` with a reason, never a silent 0 or 100: no
//! speech at all, a silent agent channel on a stereo call (usually the wrong `agent_channel`),
//! too little speech, or nothing transcribed with confidence.
//!
//! "Flagged" means auto-fail, a `major` finding, or a score below the threshold (default 70).
//! A not-scorable call is flagged only by a `critical` finding, so an agent reading a card
//! number aloud reaches the auditors even on a call too short to score, while the absences a
//! three-second call is bound to have (no greeting, no goodbye) do not.
//!
//! Promise: pure functions, deterministic, no panics.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::rules::{Category, Finding, Severity};
use crate::types::{CallTranscript, Layout, SegmentQuality, Speaker};

/// How calls are scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoringConfig {
    /// The score of a call without findings.
    pub start_score: f64,
    /// Scores below this are flagged.
    pub flag_threshold: f64,
    /// Calls with less speech than this (both sides together) are not scorable.
    pub min_speech_ms: u64,
}

impl Default for ScoringConfig {
    fn default() -> ScoringConfig {
        ScoringConfig {
            start_score: 100.0,
            flag_threshold: 70.0,
            min_speech_ms: 5_000,
        }
    }
}

/// Whether a call got a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    Scored,
    NotScorable,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Scored => "scored",
            CallStatus::NotScorable => "not_scorable",
        }
    }
}

/// The verdict on one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallScore {
    pub status: CallStatus,
    /// Why a call is not scorable.
    pub status_reason: Option<String>,
    /// 0..=start_score; `None` when not scorable.
    pub score: Option<f64>,
    pub flagged: bool,
    /// A `critical` rule failed.
    pub auto_fail: bool,
}

/// Scores one call from its findings.
pub fn score_call(
    transcript: &CallTranscript,
    findings: &[Finding],
    config: &ScoringConfig,
) -> CallScore {
    let counted: Vec<&Finding> = findings
        .iter()
        .filter(|finding| finding.counts_against_agent())
        .collect();
    if let Some(reason) = not_scorable_reason(transcript, config) {
        let critical = counted
            .iter()
            .any(|finding| finding.severity == Severity::Critical);
        return CallScore {
            status: CallStatus::NotScorable,
            status_reason: Some(reason),
            score: None,
            flagged: critical,
            auto_fail: false,
        };
    }

    // Each failed rule costs its points once.
    let mut points_by_rule: BTreeMap<&str, f64> = BTreeMap::new();
    for finding in &counted {
        let points = points_by_rule.entry(&finding.rule_id).or_insert(0.0);
        *points = points.max(finding.points);
    }
    let deducted: f64 = points_by_rule.values().sum();
    let auto_fail = counted
        .iter()
        .any(|finding| finding.severity == Severity::Critical);
    let score = if auto_fail {
        0.0
    } else {
        round_hundredths((config.start_score - deducted).max(0.0))
    };
    let major = counted
        .iter()
        .any(|finding| finding.severity >= Severity::Major);
    CallScore {
        status: CallStatus::Scored,
        status_reason: None,
        score: Some(score),
        flagged: auto_fail || major || score < config.flag_threshold,
        auto_fail,
    }
}

fn not_scorable_reason(transcript: &CallTranscript, config: &ScoringConfig) -> Option<String> {
    let spoken: Vec<_> = transcript
        .segments
        .iter()
        .filter(|segment| !segment.text.trim().is_empty())
        .collect();
    if spoken.is_empty() {
        return Some("no speech in the call".to_string());
    }
    if transcript.layout == Layout::Stereo
        && !spoken
            .iter()
            .any(|segment| segment.speaker == Speaker::Agent)
    {
        return Some(
            "the agent channel is silent on a stereo call (is agent_channel right?)".to_string(),
        );
    }
    let speech_ms: u64 = spoken
        .iter()
        .map(|segment| segment.end_ms.saturating_sub(segment.start_ms))
        .sum();
    if speech_ms < config.min_speech_ms {
        return Some(format!(
            "too short: {:.1} s of speech (minimum {:.1} s)",
            speech_ms as f64 / 1000.0,
            config.min_speech_ms as f64 / 1000.0
        ));
    }
    if spoken
        .iter()
        .all(|segment| segment.quality != SegmentQuality::Ok)
    {
        return Some("no utterance was transcribed with confidence".to_string());
    }
    None
}

fn round_hundredths(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// One call as aggregation needs it: agent id, call date, its score and its findings.
pub type CallForAggregation<'a> = (&'a str, NaiveDate, &'a CallScore, &'a [Finding]);

/// A call's score and findings, grouped under its agent and date.
type ScoredCall<'a> = (&'a CallScore, &'a [Finding]);

/// One row of the `agents` table: an agent on one call date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentDay {
    pub agent_id: String,
    pub call_date: NaiveDate,
    pub calls: u32,
    pub scorable: u32,
    pub mean_score: Option<f64>,
    pub median_score: Option<f64>,
    /// Nearest-rank 10th percentile: the score that 90% of the agent's calls beat or match.
    pub p10_score: Option<f64>,
    /// Share of scorable calls that were not flagged.
    pub pass_rate: Option<f64>,
    pub flagged: u32,
    /// Failed rules (counted once per call) of scored calls, by category.
    pub failures_by_category: BTreeMap<Category, u32>,
}

/// Groups calls by agent and date, sorted by agent then date.
pub fn aggregate_agents(calls: &[CallForAggregation<'_>]) -> Vec<AgentDay> {
    let mut groups: BTreeMap<(&str, NaiveDate), Vec<ScoredCall<'_>>> = BTreeMap::new();
    for &(agent_id, call_date, score, findings) in calls {
        groups
            .entry((agent_id, call_date))
            .or_default()
            .push((score, findings));
    }
    groups
        .into_iter()
        .map(|((agent_id, call_date), calls)| {
            let scorable: Vec<ScoredCall<'_>> = calls
                .iter()
                .copied()
                .filter(|(score, _)| score.status == CallStatus::Scored)
                .collect();
            let mut scores: Vec<f64> = scorable
                .iter()
                .filter_map(|(score, _)| score.score)
                .collect();
            scores.sort_by(f64::total_cmp);
            let passed = scorable.iter().filter(|(score, _)| !score.flagged).count();
            let mut failures_by_category = BTreeMap::new();
            for (_, findings) in &scorable {
                let failed_rules: BTreeSet<(&str, Category)> = findings
                    .iter()
                    .filter(|finding| finding.counts_against_agent())
                    .map(|finding| (finding.rule_id.as_str(), finding.category))
                    .collect();
                for (_, category) in failed_rules {
                    *failures_by_category.entry(category).or_insert(0) += 1;
                }
            }
            AgentDay {
                agent_id: agent_id.to_string(),
                call_date,
                calls: count(calls.len()),
                scorable: count(scorable.len()),
                mean_score: mean(&scores),
                median_score: median(&scores),
                p10_score: nearest_rank(&scores, 0.10),
                pass_rate: (!scorable.is_empty()).then(|| passed as f64 / scorable.len() as f64),
                flagged: count(calls.iter().filter(|(score, _)| score.flagged).count()),
                failures_by_category,
            }
        })
        .collect()
}

fn count(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// Mean of scores, rounded to hundredths (as the `agents` table holds it).
pub fn mean(sorted: &[f64]) -> Option<f64> {
    (!sorted.is_empty()).then(|| round_hundredths(sorted.iter().sum::<f64>() / sorted.len() as f64))
}

/// Median of sorted scores.
pub fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    Some(if n % 2 == 1 {
        sorted[n / 2]
    } else {
        round_hundredths((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0)
    })
}

/// The smallest value with at least `fraction` of the values at or below it.
pub fn nearest_rank(sorted: &[f64], fraction: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (fraction * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::FindingSpeaker;

    fn transcript(lines: &[(Speaker, u64, u64, &str)], layout: Layout) -> CallTranscript {
        CallTranscript::from_lines(lines, layout)
    }

    fn normal_call() -> CallTranscript {
        transcript(
            &[
                (Speaker::Agent, 0, 4000, "Hello, Acme, Anna speaking."),
                (Speaker::Customer, 4500, 9000, "Hi, I have a question."),
            ],
            Layout::Stereo,
        )
    }

    fn finding(rule_id: &str, severity: Severity, points: f64, speaker: FindingSpeaker) -> Finding {
        Finding {
            rule_id: rule_id.to_string(),
            category: Category::Greeting,
            severity,
            points,
            speaker,
            start_ms: None,
            end_ms: None,
            evidence: String::new(),
            description: String::new(),
        }
    }

    #[test]
    fn deducts_each_rule_once_and_flags_below_threshold() {
        let findings = vec![
            finding("a", Severity::Minor, 20.0, FindingSpeaker::Agent),
            finding("a", Severity::Minor, 20.0, FindingSpeaker::Agent),
            finding("b", Severity::Minor, 15.0, FindingSpeaker::Unknown),
        ];
        let score = score_call(&normal_call(), &findings, &ScoringConfig::default());
        assert_eq!(score.score, Some(65.0));
        assert!(score.flagged);
        assert!(!score.auto_fail);
    }

    #[test]
    fn customer_and_info_findings_cost_nothing() {
        let findings = vec![
            finding("c", Severity::Critical, 50.0, FindingSpeaker::Customer),
            finding("d", Severity::Info, 0.0, FindingSpeaker::Agent),
        ];
        let score = score_call(&normal_call(), &findings, &ScoringConfig::default());
        assert_eq!(score.score, Some(100.0));
        assert!(!score.flagged);
    }

    #[test]
    fn critical_is_auto_fail_and_major_flags() {
        let critical = vec![finding("e", Severity::Critical, 5.0, FindingSpeaker::Agent)];
        let score = score_call(&normal_call(), &critical, &ScoringConfig::default());
        assert_eq!(
            (score.score, score.auto_fail, score.flagged),
            (Some(0.0), true, true)
        );
        let major = vec![finding("f", Severity::Major, 5.0, FindingSpeaker::Agent)];
        let score = score_call(&normal_call(), &major, &ScoringConfig::default());
        assert_eq!((score.score, score.flagged), (Some(95.0), true));
        let many = vec![
            finding("g", Severity::Minor, 100.0, FindingSpeaker::Agent),
            finding("h", Severity::Minor, 30.0, FindingSpeaker::Agent),
        ];
        assert_eq!(
            score_call(&normal_call(), &many, &ScoringConfig::default()).score,
            Some(0.0)
        );
    }

    #[test]
    fn not_scorable_reasons() {
        let config = ScoringConfig::default();
        let empty = transcript(&[], Layout::Stereo);
        assert_eq!(
            score_call(&empty, &[], &config).status_reason.as_deref(),
            Some("no speech in the call")
        );
        let customer_only = transcript(
            &[(Speaker::Customer, 0, 9000, "hello? hello?")],
            Layout::Stereo,
        );
        let score = score_call(&customer_only, &[], &config);
        assert_eq!(score.status, CallStatus::NotScorable);
        assert!(
            score
                .status_reason
                .unwrap()
                .contains("agent channel is silent")
        );
        let short = transcript(&[(Speaker::Agent, 0, 2000, "Hello?")], Layout::Stereo);
        let score = score_call(&short, &[], &config);
        assert!(score.status_reason.unwrap().starts_with("too short: 2.0 s"));
        assert_eq!(score.score, None);
        // A serious finding still flags a call too short to score.
        let card = vec![finding(
            "p",
            Severity::Critical,
            50.0,
            FindingSpeaker::Agent,
        )];
        assert!(score_call(&short, &card, &config).flagged);
        // Mono calls have no agent channel to be silent.
        let mono = transcript(
            &[(Speaker::Unknown, 0, 9000, "Hello, Acme, how can I help?")],
            Layout::Mono,
        );
        assert_eq!(score_call(&mono, &[], &config).status, CallStatus::Scored);
    }

    #[test]
    fn aggregates_per_agent_and_day() {
        let date = NaiveDate::from_ymd_opt(2025, 3, 14).unwrap();
        let scored = |score: f64, flagged: bool| CallScore {
            status: CallStatus::Scored,
            status_reason: None,
            score: Some(score),
            flagged,
            auto_fail: false,
        };
        let not_scorable = CallScore {
            status: CallStatus::NotScorable,
            status_reason: Some("too short".into()),
            score: None,
            flagged: false,
            auto_fail: false,
        };
        let scores = [
            scored(100.0, false),
            scored(60.0, true),
            scored(90.0, false),
            not_scorable,
        ];
        let greeting = vec![
            finding(
                "greeting.hello",
                Severity::Minor,
                5.0,
                FindingSpeaker::Agent,
            ),
            finding(
                "greeting.hello",
                Severity::Minor,
                5.0,
                FindingSpeaker::Agent,
            ),
        ];
        let calls: Vec<CallForAggregation<'_>> = scores
            .iter()
            .enumerate()
            .map(|(index, score)| {
                let findings: &[Finding] = if index == 1 { &greeting } else { &[] };
                ("a7", date, score, findings)
            })
            .collect();
        let days = aggregate_agents(&calls);
        assert_eq!(days.len(), 1);
        let day = &days[0];
        assert_eq!((day.calls, day.scorable, day.flagged), (4, 3, 1));
        assert_eq!(day.mean_score, Some(83.33));
        assert_eq!(day.median_score, Some(90.0));
        assert_eq!(day.p10_score, Some(60.0));
        assert!((day.pass_rate.unwrap() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(day.failures_by_category.get(&Category::Greeting), Some(&1));
    }
}
