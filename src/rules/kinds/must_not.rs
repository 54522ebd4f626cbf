//! `must_not`: something the speaker must never say.
//!
//! One finding per utterance that matches, quoting the words. This is how insults, profanity,
//! arguing with the customer and asking for a PIN are caught. With the default
//! `speaker = "agent"`, the customer's words are never looked at: a customer who says "idiot"
//! leaves the agent's score alone. On a mono call, or in an uncertain segment, a match is
//! reported as `info` without points, because it may be the customer's words or an ASR slip.
//!
//! ```toml
//! [[rule]]
//! id = "forbidden.arguing"
//! category = "forbidden_language"
//! description = "The agent argues with the customer"
//! severity = "major"
//! points = 15
//! must_not = { phrases = ["calm down", "that's not my problem"] }
//! ```

use crate::rules::context::CallContext;
use crate::rules::matcher::TextMatcher;
use crate::rules::{Finding, Rule};

pub(crate) fn evaluate(
    rule: &Rule,
    matcher: &TextMatcher,
    context: &CallContext<'_>,
) -> Vec<Finding> {
    let scope = context.scope(rule.speaker, rule.window);
    let hits = matcher.find_all(&context.texts(&scope));
    let mut findings = Vec::new();
    let mut last_utterance = None;
    for hit in hits {
        // One finding per utterance: repeating a word does not multiply the evidence.
        if last_utterance == Some(hit.utterance) {
            continue;
        }
        last_utterance = Some(hit.utterance);
        let segment_index = scope.segments[hit.utterance];
        let segment = &context.transcript.segments[segment_index];
        let mark = context.hit_range(segment_index, hit.tokens.clone());
        let finding = Finding::new(
            rule,
            context.finding_speaker(&scope, segment_index),
            (Some(segment.start_ms), Some(segment.end_ms)),
            context.quote(segment_index, mark),
        );
        findings.push(finding.unscored_if(context.uncertainty(&scope, segment_index)));
    }
    findings
}
