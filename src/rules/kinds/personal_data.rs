//! `personal_data`: the speaker says personal data aloud.
//!
//! Uses the detectors of [`crate::pii`] (Luhn-checked card numbers, IBANs, secrets near "PIN",
//! "CVV", "password" …, in digits or spoken words) on the speaker's utterances. An agent who
//! reads a card number back, or says the customer's PIN, breaks PCI DSS and most banks' rules;
//! a customer who reads their own card to pay does not, so the default scope is the agent.
//! A card split over two consecutive utterances is found too. The evidence quotes the
//! utterance with the data replaced by `[CARD]`, `[SECRET]` …: never a digit of it.
//!
//! `address` counts only the customer's postal address: one with a cue in its sentence that
//! names it theirs ("your address is …", "on file", "su domicilio", "ваш адрес", "Pana adres",
//! "您的地址", "آدرس شما"; a bare "you" is none; see [`crate::pii::address_owner`]). An agent giving the
//! company's address ("Our branch is at 10 Main Street", "您可以到建国路88号的营业厅") breaks no
//! rule, and an address without any cue is not held against the agent either (precision
//! first). Ownership is decided here, per span, in the rulebook's language, not by the
//! detector: every address is redacted, whoever's it is, and [`crate::pii::PiiSpan`] stays as
//! the other kinds use it.
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

use crate::normalize::Language;
use crate::pii::{self, AddressOwner, PiiKind, PiiSpan};
use crate::rules::context::CallContext;
use crate::rules::{Finding, Rule};

/// The compiled personal-data condition.
#[derive(Debug, Clone)]
pub struct PersonalDataCondition {
    pub kinds: Vec<PiiKind>,
    /// The rulebook's language, which tells whose an address is ([`Language::Other`] for the
    /// shared-only rulebook: the call's own language is used, as for detection).
    pub language: Language,
}

impl PersonalDataCondition {
    /// Whether a span of `text` is what the rule is about: one of its kinds, and for an
    /// address, the customer's.
    fn counts(&self, span: &PiiSpan, text: &str, language: Language) -> bool {
        self.kinds.contains(&span.kind)
            && (span.kind != PiiKind::Address
                || pii::address_owner(
                    text,
                    span.byte_range.clone(),
                    language.code().unwrap_or_default(),
                ) == AddressOwner::Customer)
    }
}

pub(crate) fn evaluate(
    rule: &Rule,
    condition: &PersonalDataCondition,
    context: &CallContext<'_>,
) -> Vec<Finding> {
    let scope = context.scope(rule.speaker, rule.window);
    // The language the detector read the call in (see `rules::evaluate_with_quotes`).
    let language = match condition.language {
        Language::Other => context
            .transcript
            .language()
            .map_or(Language::Other, Language::from_code),
        language => language,
    };
    let mut findings = Vec::new();
    for &segment_index in &scope.segments {
        let segment = &context.transcript.segments[segment_index];
        let Some(span) = context.pii[segment_index]
            .iter()
            .find(|span| condition.counts(span, &segment.text, language))
        else {
            continue;
        };
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
