//! `metric`: a threshold on a call measurement.
//!
//! The metrics stage measures each call (answer delay, talk ratio, words per minute, number of
//! interruptions …, see [`KNOWN_METRICS`]); a metric rule fails when the value is below `min`
//! or above `max`. A metric that could not be measured on a call is absent and never fails a
//! rule: not knowing is not the agent's fault.
//!
//! ```toml
//! [[rule]]
//! id = "answer_delay.first_word"
//! category = "answer_delay"
//! description = "The agent speaks within 6 seconds of the call being answered"
//! severity = "minor"
//! points = 5
//! speaker = "agent"
//! metric = "answer_delay_ms"
//! max = 6000
//! ```

use crate::rules::context::CallContext;
use crate::rules::schema::SpeakerScope;
use crate::rules::{Finding, FindingSpeaker, Rule};

/// The metric names of `Measurements::metrics` (see `types.rs`).
pub const KNOWN_METRICS: &[&str] = crate::types::METRIC_NAMES;

/// The compiled metric condition.
#[derive(Debug, Clone)]
pub struct MetricCondition {
    pub name: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

pub(crate) fn evaluate(
    rule: &Rule,
    condition: &MetricCondition,
    context: &CallContext<'_>,
) -> Vec<Finding> {
    let Some(&value) = context.measurements.metrics.get(&condition.name) else {
        return Vec::new();
    };
    if !value.is_finite() {
        return Vec::new();
    }
    let broken = if let Some(max) = condition.max.filter(|&max| value > max) {
        Some(format!("above the maximum {}", show(&condition.name, max)))
    } else {
        condition
            .min
            .filter(|&min| value < min)
            .map(|min| format!("below the minimum {}", show(&condition.name, min)))
    };
    let Some(broken) = broken else {
        return Vec::new();
    };
    let speaker = match rule.speaker {
        SpeakerScope::Agent => FindingSpeaker::Agent,
        SpeakerScope::Customer => FindingSpeaker::Customer,
        SpeakerScope::Any => FindingSpeaker::None,
    };
    let mut evidence = format!(
        "{} = {}, {broken}",
        condition.name,
        show(&condition.name, value)
    );
    // Where the metric has a place in the call (the answer delay, the longest silence, the
    // customer's last utterances), the finding points there.
    let span = context.measurements.metric_spans.get(&condition.name);
    if let Some(&span) = span
        && condition.name.contains("sentiment")
        && let Some(quote) =
            telling_utterance(context, span, value < condition.min.unwrap_or(f64::MIN))
    {
        evidence.push_str("; ");
        evidence.push_str(&quote);
    }
    let times = span.map_or((None, None), |&(start_ms, end_ms)| {
        (Some(start_ms), Some(end_ms))
    });
    vec![Finding::new(rule, speaker, times, evidence)]
}

/// For a sentiment metric over the utterances inside `span`: the one that moved it most (the
/// most negative when the metric is too low, the most positive when too high), quoted with the
/// words that scored it, so that the auditor knows what to listen for.
fn telling_utterance(
    context: &CallContext<'_>,
    (start_ms, end_ms): (u64, u64),
    too_low: bool,
) -> Option<String> {
    let segments = &context.transcript.segments;
    let inside = context.measurements.utterances.iter().filter(|utterance| {
        segments
            .get(utterance.segment_index)
            .is_some_and(|segment| {
                segment.start_ms >= start_ms
                    && segment.end_ms <= end_ms
                    && !utterance.sentiment_terms.is_empty()
            })
    });
    let by_sentiment = |a: &&crate::types::UtteranceTone, b: &&crate::types::UtteranceTone| {
        a.sentiment.total_cmp(&b.sentiment)
    };
    let telling = if too_low {
        inside.min_by(by_sentiment)
    } else {
        inside.max_by(by_sentiment)
    }?;
    Some(format!(
        "{}: {} (words: {})",
        if too_low {
            "most negative"
        } else {
            "most positive"
        },
        context.quote(telling.segment_index, None),
        telling.sentiment_terms.join(", ")
    ))
}

/// A value for people: "8200 (8.2 s)" for milliseconds, two decimals at most otherwise.
fn show(name: &str, value: f64) -> String {
    let plain = if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    };
    if name.ends_with("_ms") {
        format!("{plain} ({:.1} s)", value / 1000.0)
    } else {
        plain
    }
}
