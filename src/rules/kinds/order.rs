//! `order`: two things that must come in a given order.
//!
//! With `required = "first"` (the default), whenever `then` is said, `first` must have been
//! said earlier: announce the recording before taking card details, ask permission before
//! putting the customer on hold. With `required = "then"`, whenever `first` is said, `then`
//! must follow: after "please hold", thank the customer for waiting. One finding, at the
//! first utterance that breaks the order.
//!
//! ```toml
//! [[rule]]
//! id = "courtesy.thanks_after_hold"
//! category = "courtesy"
//! description = "After asking the customer to hold, the agent thanks them for waiting"
//! severity = "minor"
//! points = 5
//! order = { first = { phrases = ["please hold"] }, then = { phrases = ["thank you for waiting"] }, required = "then" }
//! ```

use crate::rules::context::CallContext;
use crate::rules::matcher::TextMatcher;
use crate::rules::schema::OrderRequired;
use crate::rules::{Finding, Rule};

/// The compiled `order` table.
#[derive(Debug, Clone)]
pub struct OrderCondition {
    pub first: TextMatcher,
    pub then: TextMatcher,
    pub required: OrderRequired,
}

pub(crate) fn evaluate(
    rule: &Rule,
    condition: &OrderCondition,
    context: &CallContext<'_>,
) -> Vec<Finding> {
    let scope = context.scope(rule.speaker, rule.window);
    let texts = context.texts(&scope);
    let firsts = condition.first.find_all(&texts);
    let thens = condition.then.find_all(&texts);
    let (trigger, explanation) = match condition.required {
        OrderRequired::First => {
            let unprepared = thens.iter().find(|then| {
                !firsts
                    .iter()
                    .any(|first| first.stream.start < then.stream.start)
            });
            (
                unprepared,
                format!("without first saying any of: {}", condition.first.summary),
            )
        }
        OrderRequired::Then => {
            let unanswered = firsts.iter().find(|first| {
                !thens
                    .iter()
                    .any(|then| then.stream.start >= first.stream.end)
            });
            (
                unanswered,
                format!("never followed by any of: {}", condition.then.summary),
            )
        }
    };
    let Some(hit) = trigger else {
        return Vec::new();
    };
    let segment_index = scope.segments[hit.utterance];
    let segment = &context.transcript.segments[segment_index];
    let mark = context.hit_range(segment_index, hit.tokens.clone());
    let finding = Finding::new(
        rule,
        context.finding_speaker(&scope, segment_index),
        (Some(segment.start_ms), Some(segment.end_ms)),
        format!("{}, {explanation}", context.quote(segment_index, mark)),
    );
    vec![finding.unscored_if(context.uncertainty(&scope, segment_index))]
}
