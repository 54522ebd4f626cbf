//! `must`: something the speaker has to say, in a window of the call.
//!
//! Fails (one finding) when nothing in the scope matches. This is how scripts are checked:
//! greet in the first utterances, name the company, announce the recording, say goodbye at
//! the end. Absences are never downgraded on mono calls (nobody said it, so the agent did not
//! either), and uncertain segments may satisfy the rule, giving the agent the benefit of the
//! doubt over an ASR slip.
//!
//! ```toml
//! [[rule]]
//! id = "greeting.hello"
//! category = "greeting"
//! description = "The agent greets the customer in the first utterances"
//! severity = "minor"
//! points = 5
//! speaker = "agent"
//! window = { first_utterances = 3 }
//! must = { lexicons = ["greetings"], fuzzy = 1 }
//! ```

use crate::rules::context::{CallContext, describe_scope};
use crate::rules::matcher::TextMatcher;
use crate::rules::{Finding, Rule};

pub(crate) fn evaluate(
    rule: &Rule,
    matcher: &TextMatcher,
    context: &CallContext<'_>,
) -> Vec<Finding> {
    let scope = context.scope(rule.speaker, rule.window);
    if !matcher.find_all(&context.texts(&scope)).is_empty() {
        return Vec::new();
    }
    let speaker = scope
        .segments
        .first()
        .map(|&index| context.finding_speaker(&scope, index))
        .unwrap_or_else(|| scope.speaker());
    let mut evidence = format!(
        "not said {} (looked for: {})",
        describe_scope(rule.speaker, rule.window, &scope),
        matcher.summary
    );
    match scope.segments.first() {
        Some(&first) => {
            evidence.push_str("; first utterance there: ");
            evidence.push_str(&context.quote(first, None));
        }
        None => evidence.push_str("; no speech there"),
    }
    vec![Finding::new(
        rule,
        speaker,
        context.scope_extent(&scope, rule.window),
        evidence,
    )]
}
