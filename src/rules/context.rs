//! One call prepared for evaluation: normalised utterances, personal-data spans, speaker and
//! window scoping, and redacted evidence quotes.
//!
//! Everything here is computed once per call and shared by all rules, so a rulebook of fifty
//! rules normalises each utterance once.
//!
//! Two policies live here because every rule kind must apply them the same way:
//! - **Mono calls** (no agent/customer channels): a speaker-scoped rule looks at all speech
//!   (speaker `unknown`) instead of guessing who spoke. An absence ("the agent never greeted")
//!   still counts, because nobody said it; a presence ("someone said 'idiot'") might be the
//!   customer's words, so it is reported as `info`, costs nothing, and says why.
//! - **Uncertain segments** (`quality` not `ok`: low confidence, trimmed repetition): their
//!   words can satisfy a `must` rule (the agent gets the benefit of the doubt), and a presence
//!   found in them is reported as `info` for review, never scored silently.

use std::ops::Range;

use crate::normalize::{Language, NormalizedText, normalize_text};
use crate::pii::{self, PiiSpan};
use crate::types::{CallTranscript, Measurements, SegmentQuality, Speaker};

use super::FindingSpeaker;
use super::schema::SpeakerScope;

/// Which part of the call a text rule looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Window {
    FirstSeconds(f64),
    LastSeconds(f64),
    /// The first N utterances of the rule's speaker.
    FirstUtterances(usize),
    /// The last N utterances of the rule's speaker.
    LastUtterances(usize),
}

/// How findings in a scope are attributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attribution {
    /// A speaker-scoped rule on a call whose channels say who speaks.
    Known(Speaker),
    /// A speaker-scoped rule on a call without speaker labels: all speech, speaker unknown.
    Unknown,
    /// A rule for anyone: each finding names the utterance's speaker.
    Any,
}

/// The utterances a rule looks at.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// Indices into `CallTranscript::segments`, in time order.
    pub segments: Vec<usize>,
    pub attribution: Attribution,
    /// Utterances of the speaker (or anyone's, for `any`) before the window was applied.
    pub n_candidates: usize,
}

impl Scope {
    /// Who a finding about the scope as a whole (an absence) is held against.
    pub fn speaker(&self) -> FindingSpeaker {
        match self.attribution {
            Attribution::Known(speaker) => FindingSpeaker::from(speaker),
            Attribution::Unknown => FindingSpeaker::Unknown,
            Attribution::Any => FindingSpeaker::None,
        }
    }
}

/// Plain words for where a rule looked: "in the agent's first 3 utterances". An utterance
/// window says how many utterances it actually covered when that is not the rule's count: an
/// auditor who hears a greeting in the agent's second and last utterance must read that the
/// rule looked at the first only, not "the first 3".
pub(crate) fn describe_scope(
    speaker: SpeakerScope,
    window: Option<Window>,
    scope: &Scope,
) -> String {
    let whose = match (speaker, scope.attribution) {
        (SpeakerScope::Any, _) => "anyone's".to_string(),
        (_, Attribution::Unknown) => "the (mono, unattributed) call's".to_string(),
        (speaker, _) => format!("the {}'s", speaker.as_str()),
    };
    // "first utterance", "first 3 utterances".
    let utterances = |end: &str, n: usize| match n {
        1 => format!("{end} utterance"),
        n => format!("{end} {n} utterances"),
    };
    let counted = |end: &str, count: usize| {
        let (n, total) = (scope.segments.len(), scope.n_candidates);
        if n == count || total == 0 {
            format!("in {whose} {}", utterances(end, count))
        } else if total == 1 {
            format!("in {whose} only utterance")
        } else {
            // The window was cut so that the opening and the closing do not share an utterance.
            let (other_end, kept_for) = if end == "first" {
                ("last", "closing")
            } else {
                ("first", "opening")
            };
            format!(
                "in {whose} {} of {total} (the {other_end} is left to the {kept_for})",
                utterances(end, n)
            )
        }
    };
    match window {
        None => format!("in {whose} speech"),
        Some(Window::FirstUtterances(count)) => counted("first", count),
        Some(Window::LastUtterances(count)) => counted("last", count),
        Some(Window::FirstSeconds(seconds)) => {
            format!("in {whose} speech in the first {seconds} s of the call")
        }
        Some(Window::LastSeconds(seconds)) => {
            format!("in {whose} speech in the last {seconds} s of the call")
        }
    }
}

pub(crate) struct CallContext<'a> {
    pub transcript: &'a CallTranscript,
    pub measurements: &'a Measurements,
    /// One per segment.
    pub normalized: Vec<NormalizedText>,
    /// Personal data per segment, found over each speaker's consecutive utterances so that a
    /// card number split in two is still found (and redacted) in both halves.
    pub pii: Vec<Vec<PiiSpan>>,
    pub duration_ms: u64,
    /// Whether evidence quotes show personal data as placeholders.
    pub quotes: Quotes,
}

/// How evidence quotes treat personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quotes {
    /// `[CARD]`, `[SECRET]` … in place of the data (the default everywhere).
    #[default]
    Redacted,
    /// The words as transcribed, for sites that keep personal data in their tables
    /// (`--keep-personal-data`): the segment text beside the quote is unredacted too.
    Verbatim,
}

impl<'a> CallContext<'a> {
    pub fn new(
        transcript: &'a CallTranscript,
        measurements: &'a Measurements,
        language: Language,
        quotes: Quotes,
    ) -> CallContext<'a> {
        let normalized = transcript
            .segments
            .iter()
            .map(|segment| normalize_text(&segment.text, language))
            .collect();
        let pii_spans = pii::find_in_transcript(transcript, language.code().unwrap_or(""));
        let last_end = transcript
            .segments
            .iter()
            .map(|segment| segment.end_ms)
            .max()
            .unwrap_or(0);
        CallContext {
            transcript,
            measurements,
            normalized,
            pii: pii_spans,
            duration_ms: transcript.duration_ms.max(last_end),
            quotes,
        }
    }

    /// The utterances of `speaker` inside `window`.
    pub fn scope(&self, speaker: SpeakerScope, window: Option<Window>) -> Scope {
        let spoken = |index: &usize| !self.transcript.segments[*index].text.trim().is_empty();
        let all = (0..self.transcript.segments.len()).filter(spoken);
        let of = |wanted: Speaker| {
            (0..self.transcript.segments.len())
                .filter(spoken)
                .filter(move |&index| self.transcript.segments[index].speaker == wanted)
                .collect::<Vec<_>>()
        };
        let (candidates, attribution) = match speaker {
            SpeakerScope::Any => (all.collect(), Attribution::Any),
            SpeakerScope::Agent | SpeakerScope::Customer => {
                let wanted = if speaker == SpeakerScope::Agent {
                    Speaker::Agent
                } else {
                    Speaker::Customer
                };
                let own = of(wanted);
                let unknown = of(Speaker::Unknown);
                if own.is_empty() && !unknown.is_empty() {
                    (unknown, Attribution::Unknown)
                } else {
                    (own, Attribution::Known(wanted))
                }
            }
        };
        let n_candidates = candidates.len();
        let segments = match window {
            None => candidates,
            // On a short call the opening and the closing must not see each other's words: a
            // first-N window never takes the speaker's last utterance and a last-N window never
            // their first, when they said more than one ("thank you for calling" opens and
            // closes calls).
            Some(Window::FirstUtterances(count)) => {
                let limit = count.min(candidates.len().saturating_sub(1)).max(1);
                candidates.into_iter().take(limit).collect()
            }
            Some(Window::LastUtterances(count)) => {
                let skip = candidates
                    .len()
                    .saturating_sub(count)
                    .max(usize::from(candidates.len() > 1));
                candidates.into_iter().skip(skip).collect()
            }
            Some(Window::FirstSeconds(seconds)) => {
                let limit = seconds_to_ms(seconds);
                candidates
                    .into_iter()
                    .filter(|&index| self.transcript.segments[index].start_ms < limit)
                    .collect()
            }
            Some(Window::LastSeconds(seconds)) => {
                let from = self.duration_ms.saturating_sub(seconds_to_ms(seconds));
                candidates
                    .into_iter()
                    .filter(|&index| self.transcript.segments[index].end_ms > from)
                    .collect()
            }
        };
        Scope {
            segments,
            attribution,
            n_candidates,
        }
    }

    /// The normalised texts of a scope, in its order.
    pub fn texts(&self, scope: &Scope) -> Vec<&NormalizedText> {
        scope
            .segments
            .iter()
            .map(|&index| &self.normalized[index])
            .collect()
    }

    /// Who a finding about this utterance is held against.
    pub fn finding_speaker(&self, scope: &Scope, segment_index: usize) -> FindingSpeaker {
        match scope.attribution {
            Attribution::Known(speaker) => FindingSpeaker::from(speaker),
            Attribution::Unknown => FindingSpeaker::Unknown,
            Attribution::Any => self
                .transcript
                .segments
                .get(segment_index)
                .map_or(FindingSpeaker::None, |segment| {
                    FindingSpeaker::from(segment.speaker)
                }),
        }
    }

    /// Why a presence found in this utterance cannot be scored, if it cannot.
    pub fn uncertainty(&self, scope: &Scope, segment_index: usize) -> Option<String> {
        let segment = self.transcript.segments.get(segment_index)?;
        // Under `speaker = "any"` a mono segment is as unattributed as under a speaker scope
        // that fell back to the unknown speech: the words may be the customer's.
        let unattributed = match scope.attribution {
            Attribution::Unknown => true,
            Attribution::Any => segment.speaker == Speaker::Unknown,
            Attribution::Known(_) => false,
        };
        if unattributed {
            return Some("speaker unknown on a mono call; the words may be the customer's".into());
        }
        let quality = segment.quality;
        (quality != SegmentQuality::Ok)
            .then(|| format!("{} transcript", quality.as_str().replace('_', " ")))
    }

    /// The time span a scope covers, for findings about absences.
    pub fn scope_extent(
        &self,
        scope: &Scope,
        window: Option<Window>,
    ) -> (Option<u64>, Option<u64>) {
        let segments = &self.transcript.segments;
        if let (Some(&first), Some(&last)) = (scope.segments.first(), scope.segments.last()) {
            return (Some(segments[first].start_ms), Some(segments[last].end_ms));
        }
        match window {
            Some(Window::FirstSeconds(seconds)) => {
                (Some(0), Some(seconds_to_ms(seconds).min(self.duration_ms)))
            }
            Some(Window::LastSeconds(seconds)) => (
                Some(self.duration_ms.saturating_sub(seconds_to_ms(seconds))),
                Some(self.duration_ms),
            ),
            _ => (None, None),
        }
    }

    /// A quote of one utterance, with the matched words in «» and personal data redacted
    /// unless [`Quotes::Verbatim`]: `agent 0:42: "Look, «calm down», I told you."`
    pub fn quote(&self, segment_index: usize, mark: Option<Range<usize>>) -> String {
        let Some(segment) = self.transcript.segments.get(segment_index) else {
            return String::new();
        };
        let spans = match self.quotes {
            Quotes::Redacted => self
                .pii
                .get(segment_index)
                .map(Vec::as_slice)
                .unwrap_or(&[]),
            Quotes::Verbatim => &[],
        };
        let text = redact_with_mark(&segment.text, spans, mark);
        format!(
            "{} {}: \"{}\"",
            segment.speaker,
            clock(segment.start_ms),
            shorten_around_mark(text.trim(), 120)
        )
    }

    /// The token range of a hit as a byte range of the utterance's original text.
    pub fn hit_range(&self, segment_index: usize, tokens: Range<usize>) -> Option<Range<usize>> {
        self.normalized.get(segment_index)?.original_range(tokens)
    }
}

fn seconds_to_ms(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        // Window lengths are small positive numbers checked at load time.
        (seconds * 1000.0).round() as u64
    } else {
        0
    }
}

/// `m:ss`, or `h:mm:ss` past an hour.
pub(crate) fn clock(ms: u64) -> String {
    let seconds = ms / 1000;
    let (hours, minutes, seconds) = (seconds / 3600, (seconds / 60) % 60, seconds % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// Replaces personal data with placeholders and wraps `mark` in «». A mark edge inside a
/// personal-data span moves to the span's edge, so the placeholder is never split.
fn redact_with_mark(text: &str, spans: &[PiiSpan], mark: Option<Range<usize>>) -> String {
    let mark = mark.map(|mark| {
        let mut start = mark.start;
        let mut end = mark.end;
        for span in spans {
            if span.byte_range.start < start && start < span.byte_range.end {
                start = span.byte_range.start;
            }
            if span.byte_range.start < end && end < span.byte_range.end {
                end = span.byte_range.end;
            }
        }
        start..end
    });
    let mut out = String::with_capacity(text.len() + 8);
    let mut position = 0;
    let emit_plain = |out: &mut String, from: usize, to: usize| {
        let Some(piece) = text.get(from..to) else {
            return;
        };
        for (offset, character) in piece.char_indices() {
            let at = from + offset;
            if let Some(mark) = &mark {
                if at == mark.start {
                    out.push('«');
                }
                if at == mark.end && mark.end > mark.start {
                    out.push('»');
                }
            }
            out.push(character);
        }
    };
    for span in spans {
        if span.byte_range.start < position || span.byte_range.end > text.len() {
            continue;
        }
        emit_plain(&mut out, position, span.byte_range.start);
        if let Some(mark) = &mark {
            if mark.start == span.byte_range.start {
                out.push('«');
            }
            if mark.end == span.byte_range.start && mark.end > mark.start {
                out.push('»');
            }
        }
        out.push_str(span.kind.placeholder());
        position = span.byte_range.end;
    }
    emit_plain(&mut out, position, text.len());
    if let Some(mark) = &mark
        && mark.end >= text.len()
        && mark.end > mark.start
    {
        out.push('»');
    }
    out
}

/// Keeps at most `context` characters on each side of the «» mark (or of the start).
fn shorten_around_mark(text: &str, context: usize) -> String {
    let characters: Vec<char> = text.chars().collect();
    if characters.len() <= context * 2 + 40 {
        return text.to_string();
    }
    let open = characters.iter().position(|&character| character == '«');
    let close = characters.iter().position(|&character| character == '»');
    let (from, to) = match (open, close) {
        (Some(open), Some(close)) => (
            open.saturating_sub(context),
            (close + context).min(characters.len()),
        ),
        _ => (0, (context * 2).min(characters.len())),
    };
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    out.extend(&characters[from..to]);
    if to < characters.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::PiiKind;

    #[test]
    fn marks_and_placeholders() {
        let text = "so 4111 1111 1111 1111 is your card";
        let spans = vec![PiiSpan {
            kind: PiiKind::Card,
            byte_range: 3..22,
            verified: true,
        }];
        assert_eq!(
            redact_with_mark(text, &spans, Some(3..22)),
            "so «[CARD]» is your card"
        );
        // A mark ending inside the card is widened to the whole placeholder.
        assert_eq!(
            redact_with_mark(text, &spans, Some(0..10)),
            "«so [CARD]» is your card"
        );
        assert_eq!(
            redact_with_mark(text, &spans, Some(31..35)),
            "so [CARD] is your «card»"
        );
    }

    #[test]
    fn an_utterance_window_says_what_it_covered() {
        let scope = |n: usize, n_candidates: usize| Scope {
            segments: (0..n).collect(),
            attribution: Attribution::Known(Speaker::Agent),
            n_candidates,
        };
        let describe =
            |window, n, total| describe_scope(SpeakerScope::Agent, Some(window), &scope(n, total));
        let first_3 = Window::FirstUtterances(3);
        assert_eq!(describe(first_3, 3, 9), "in the agent's first 3 utterances");
        // Two utterances: the first 3 is the first one, the last being the closing's.
        assert_eq!(
            describe(first_3, 1, 2),
            "in the agent's first utterance of 2 (the last is left to the closing)"
        );
        assert_eq!(
            describe(first_3, 2, 3),
            "in the agent's first 2 utterances of 3 (the last is left to the closing)"
        );
        assert_eq!(describe(first_3, 1, 1), "in the agent's only utterance");
        assert_eq!(describe(first_3, 0, 0), "in the agent's first 3 utterances");
        assert_eq!(
            describe(Window::LastUtterances(2), 1, 2),
            "in the agent's last utterance of 2 (the first is left to the opening)"
        );
        assert_eq!(
            describe(Window::LastUtterances(1), 1, 5),
            "in the agent's last utterance"
        );
    }

    #[test]
    fn clock_format() {
        assert_eq!(clock(65_400), "1:05");
        assert_eq!(clock(3_725_000), "1:02:05");
    }

    #[test]
    fn long_quotes_are_cut_around_the_mark() {
        let text = format!("{}«calm down»{}", "a".repeat(400), "b".repeat(400));
        let short = shorten_around_mark(&text, 20);
        assert!(short.starts_with('…') && short.ends_with('…'));
        assert!(short.contains("«calm down»"));
    }
}
