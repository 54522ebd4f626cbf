//! `event`: timed events at or above a duration (dead air, hold, overtalk, interruptions).
//!
//! The metrics stage reports every candidate span above a small floor (see [`KNOWN_EVENTS`]);
//! the rulebook holds the thresholds. One finding per event, with the event's own times, so an
//! auditor can jump to the second it happened. `speaker = "agent"` keeps only events held
//! against the agent (the agent interrupting, not the customer); an event of an unknown
//! speaker (mono call) is reported as `info` without points.
//!
//! ```toml
//! [[rule]]
//! id = "silence.dead_air"
//! category = "silence"
//! description = "Nobody speaks for 10 seconds or more"
//! severity = "minor"
//! points = 5
//! event = "silence"
//! min_duration_ms = 10000
//! ```

use crate::rules::context::CallContext;
use crate::rules::schema::SpeakerScope;
use crate::rules::{Finding, FindingSpeaker, Rule};
use crate::types::Speaker;

/// The event kinds of `Measurements::events` (see `TimingEvent` in `types.rs`).
pub const KNOWN_EVENTS: &[&str] = &[
    "silence",
    "hold",
    "overtalk",
    "interruption",
    "first_agent_word",
];

/// The compiled event condition.
#[derive(Debug, Clone)]
pub struct EventCondition {
    pub kind: String,
    pub min_duration_ms: u64,
}

pub(crate) fn evaluate(
    rule: &Rule,
    condition: &EventCondition,
    context: &CallContext<'_>,
) -> Vec<Finding> {
    let mut events: Vec<_> = context
        .measurements
        .events
        .iter()
        .filter(|event| event.kind == condition.kind)
        .filter(|event| event.duration_ms() >= condition.min_duration_ms)
        .filter(|event| match rule.speaker {
            SpeakerScope::Any => true,
            SpeakerScope::Agent => matches!(event.speaker, Some(Speaker::Agent | Speaker::Unknown)),
            SpeakerScope::Customer => {
                matches!(event.speaker, Some(Speaker::Customer | Speaker::Unknown))
            }
        })
        .collect();
    events.sort_by_key(|event| (event.start_ms, event.end_ms));
    events
        .into_iter()
        .map(|event| {
            let speaker = event
                .speaker
                .map_or(FindingSpeaker::None, FindingSpeaker::from);
            let detail = if event.detail.trim().is_empty() {
                format!(
                    "{} for {:.1} s",
                    event.kind,
                    event.duration_ms() as f64 / 1000.0
                )
            } else {
                // Machine-written times and lexicon phrases, never call text: a redaction pass
                // would take "at 1003.2 s … 1008.9 s" for a phone number.
                event.detail.trim().to_string()
            };
            let evidence = format!(
                "{detail} (threshold {:.1} s)",
                condition.min_duration_ms as f64 / 1000.0
            );
            let finding = Finding::new(
                rule,
                speaker,
                (Some(event.start_ms), Some(event.end_ms)),
                evidence,
            );
            let unattributed =
                rule.speaker != SpeakerScope::Any && event.speaker == Some(Speaker::Unknown);
            finding.unscored_if(unattributed.then(|| "speaker unknown on a mono call".to_string()))
        })
        .collect()
}
