//! `tone`: the agent's tone over the call, or the sentiment/arousal of single utterances.
//!
//! The tone stage rates each utterance (text sentiment from lexicons, vocal arousal against the
//! speaker's own baseline) and the agent's tone over the call (`calm`, `tense`, `agitated`),
//! each with reasons. A tone rule turns those into findings that name the reasons:
//! - `tone = { agent_tone = "agitated" }`: one finding when the agent's tone is at least that;
//! - `tone = { sentiment_below = -0.6 }` and/or `arousal_above = 0.8`: one finding per
//!   utterance of the rule's speaker where every given condition holds. An utterance without a
//!   measured arousal (switched off for agents, as the EU AI Act may require) never meets an
//!   arousal condition.
//!
//! ```toml
//! [[rule]]
//! id = "tone.agent_agitated"
//! category = "tone"
//! description = "The agent sounds agitated"
//! severity = "major"
//! points = 10
//! tone = { agent_tone = "agitated" }
//! ```

use crate::rules::context::{Attribution, CallContext};
use crate::rules::schema::SpeakerScope;
use crate::rules::{Finding, FindingSpeaker, Rule};
use crate::types::AgentTone;

/// The compiled tone condition.
#[derive(Debug, Clone)]
pub enum ToneCondition {
    /// The agent's tone over the call is at least this.
    AgentTone(AgentTone),
    /// Per utterance: all given conditions hold.
    Utterance {
        sentiment_below: Option<f32>,
        arousal_above: Option<f32>,
    },
}

pub(crate) fn evaluate(
    rule: &Rule,
    condition: &ToneCondition,
    context: &CallContext<'_>,
) -> Vec<Finding> {
    match condition {
        ToneCondition::AgentTone(threshold) => agent_tone(rule, *threshold, context),
        ToneCondition::Utterance {
            sentiment_below,
            arousal_above,
        } => utterances(rule, *sentiment_below, *arousal_above, context),
    }
}

fn agent_tone(rule: &Rule, threshold: AgentTone, context: &CallContext<'_>) -> Vec<Finding> {
    let Some(tone) = context
        .measurements
        .agent_tone
        .filter(|tone| *tone >= threshold)
    else {
        return Vec::new();
    };
    let reasons: Vec<String> = context.measurements.agent_tone_reasons.clone();
    let mut evidence = format!("agent tone {}", tone.as_str());
    if !reasons.is_empty() {
        evidence.push_str(": ");
        evidence.push_str(&reasons.join("; "));
    }
    let scope = context.scope(SpeakerScope::Agent, None);
    // The utterances that made the verdict, so that an auditor can listen to them.
    let times = context
        .measurements
        .agent_tone_span
        .map_or((None, None), |(start_ms, end_ms)| {
            (Some(start_ms), Some(end_ms))
        });
    let finding = Finding::new(rule, FindingSpeaker::Agent, times, evidence);
    let unattributed = scope.attribution == Attribution::Unknown;
    vec![finding.unscored_if(unattributed.then(|| "speaker unknown on a mono call".to_string()))]
}

fn utterances(
    rule: &Rule,
    sentiment_below: Option<f32>,
    arousal_above: Option<f32>,
    context: &CallContext<'_>,
) -> Vec<Finding> {
    let scope = context.scope(rule.speaker, rule.window);
    let mut tones: Vec<_> = context
        .measurements
        .utterances
        .iter()
        .filter(|tone| scope.segments.contains(&tone.segment_index))
        .collect();
    tones.sort_by_key(|tone| tone.segment_index);
    let mut findings = Vec::new();
    for tone in tones {
        let sentiment_met = sentiment_below.is_none_or(|below| tone.sentiment < below);
        let arousal_met =
            arousal_above.is_none_or(|above| tone.arousal.is_some_and(|arousal| arousal > above));
        if !(sentiment_met && arousal_met) {
            continue;
        }
        let mut evidence = context.quote(tone.segment_index, None);
        if sentiment_below.is_some() {
            evidence.push_str(&format!("; sentiment {:.2}", tone.sentiment));
            if !tone.sentiment_terms.is_empty() {
                // Lexicon words, not call text: nothing to redact.
                evidence.push_str(&format!(" ({})", tone.sentiment_terms.join(", ")));
            }
        }
        if let (Some(_), Some(arousal)) = (arousal_above, tone.arousal) {
            evidence.push_str(&format!("; arousal {arousal:.2}"));
            if !tone.arousal_reasons.is_empty() {
                evidence.push_str(&format!(" ({})", tone.arousal_reasons.join("; ")));
            }
        }
        let segment = &context.transcript.segments[tone.segment_index];
        let finding = Finding::new(
            rule,
            context.finding_speaker(&scope, tone.segment_index),
            (Some(segment.start_ms), Some(segment.end_ms)),
            evidence,
        );
        findings.push(finding.unscored_if(context.uncertainty(&scope, tone.segment_index)));
    }
    findings
}
