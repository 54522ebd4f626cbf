//! `personal_data`: the speaker says personal data aloud.
//!
//! Uses the detectors of [`crate::pii`] (Luhn-checked card numbers, IBANs, secrets near "PIN",
//! "CVV", "password" …, in digits or spoken words) on the speaker's utterances. An agent who
//! reads a card number back, or says the customer's PIN, breaks PCI DSS and most banks' rules;
//! a customer who reads their own card to pay does not, so the default scope is the agent.
//! A card split over two consecutive utterances is found too. The evidence quotes the
//! utterance with the data replaced by `[CARD]`, `[SECRET]` …: never a digit of it.
//!
//! ```toml
//! [[rule]]
//! id = "personal_data.card_read_out"
//! category = "personal_data"
//! description = "The agent reads a card number or bank account aloud"
//! severity = "critical"
//! points = 50
//! speaker = "agent"
//! personal_data = { kinds = ["card", "iban"] }
//! ```

use crate::pii::PiiKind;
use crate::rules::context::CallContext;
use crate::rules::{Finding, Rule};

/// The compiled personal-data condition.
#[derive(Debug, Clone)]
pub struct PersonalDataCondition {
    pub kinds: Vec<PiiKind>,
}

pub(crate) fn evaluate(
    rule: &Rule,
    condition: &PersonalDataCondition,
    context: &CallContext<'_>,
) -> Vec<Finding> {
    let scope = context.scope(rule.speaker, rule.window);
    let mut findings = Vec::new();
    for &segment_index in &scope.segments {
        let Some(span) = context.pii[segment_index]
            .iter()
            .find(|span| condition.kinds.contains(&span.kind))
        else {
            continue;
        };
        let segment = &context.transcript.segments[segment_index];
        let evidence = format!(
            "{} said aloud: {}",
            span.kind.description(),
            context.quote(segment_index, Some(span.byte_range.clone()))
        );
        let finding = Finding::new(
            rule,
            context.finding_speaker(&scope, segment_index),
            (Some(segment.start_ms), Some(segment.end_ms)),
            evidence,
        );
        findings.push(finding.unscored_if(context.uncertainty(&scope, segment_index)));
    }
    findings
}
