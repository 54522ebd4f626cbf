//! Timing metrics of a call — answer delay, talk time, silence and holds, overtalk and
//! interruptions, speech rate, loudness — from the speech regions, segments and region
//! acoustics of a [`CallTranscript`].
//!
//! Promises:
//! - **Pure and cheap**: a function of the transcript and [`MetricsOptions`]; no I/O; tens of
//!   microseconds for a fifteen-minute call.
//! - **Never nonsense**: no panics on any input (regions out of order, overlapping, reversed,
//!   past the end of the call), no negative durations (saturating arithmetic on `u64`
//!   milliseconds), no NaN or infinity in `metrics`.
//! - **Absent, not zero, when unmeasurable**: overtalk needs two channels, interruptions and
//!   per-speaker metrics need a known agent and customer, silence metrics need some speech.
//!   A known speaker whose channel is silent has talk time 0 and no speech rate or loudness.
//! - **Events are candidates**: every span above a small floor is reported (silence ≥ 1 s,
//!   overtalk ≥ 300 ms); rulebooks choose the thresholds that fail.
//!
//! Definitions (ms unless named otherwise):
//! - `answer_delay_ms`: `ring_ms` (ringing before the recording began, from metadata, else 0)
//!   plus the call time of the agent's first word: the first agent segment with words, else
//!   the first agent speech region, at or after `answered_at_ms` when that is known (agent-side
//!   audio before pickup is a recorded prompt, not the agent). Where the agent's speech cannot
//!   be measured (mono, unassigned channels, silent agent channel), `answered_at_ms` stands in;
//!   without it the metric is absent.
//! - `agent_talk_ms`, `customer_talk_ms`: the union of that speaker's speech regions;
//!   `agent_talk_ratio` = agent / (agent + customer).
//! - Silence is a gap where no channel has speech, between the first speech and the last.
//!   Everything up to the end of the answer delay (the agent's first word, else the pickup) is
//!   the answer delay's to judge, so a late answer is charged once, not also as dead air or a
//!   hold: the stretch before the first speech (ringing, a queue, a prompt) is no gap, nor is
//!   a gap between a customer's early "hello?" and the agent's first word, and a gap that
//!   straddles the end of the answer delay counts from there. Where there is no answer delay
//!   (no agent speech, no pickup time) the stretch before the first speech is a gap like the
//!   others. Trailing silence after the last word is the call winding down.
//!   `longest_silence_ms` is the longest gap of any kind, announced holds included.
//! - A gap is a **hold** when the agent announced it or when it lasts at least `hold_min_ms`.
//!   A hold phrase in an agent segment announces the longest gap of at least
//!   [`ANNOUNCED_HOLD_MIN_MS`] that begins within `hold_announcement_window_ms` of the
//!   segment's end: the customer's "sure" and the pause before it are not the hold, the
//!   silence after them is. Every other gap of at least `silence_event_min_ms` is **dead
//!   air**: a `silence` event. An unannounced gap of a minute or more is both (dead air that
//!   long is also a hold). `dead_air_total_ms` and `n_dead_air` count the dead-air gaps of at least
//!   `dead_air_min_ms`; `hold_total_ms` and `n_holds` count the holds.
//! - `overtalk_ms`: time both channels speak at once; an `overtalk` event per span of at least
//!   `overtalk_event_min_ms`, held against whoever started speaking second.
//! - `interruption`: the agent starts speaking inside a customer speech region and both speak
//!   for at least `overtalk_event_min_ms`; an agent region no longer than
//!   `backchannel_max_ms` that ends while the customer goes on ("mm-hm", "yes") is a
//!   backchannel, not an interruption.
//! - `agent_words_per_minute`, `customer_words_per_minute`: words over the summed duration of
//!   that speaker's `Ok` segments (at least one second of them). Han and kana characters count
//!   one each, so for Chinese the metric is characters per minute; rulebooks set
//!   per-language thresholds.
//! - `agent_loudness_db`, `customer_loudness_db`: the energy mean (power averaged, weighted by
//!   duration, back to dB) of the speaker's region loudness, dBFS.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::tone::text;
use crate::types::{
    CallTranscript, ChannelTranscript, Layout, Measurements, SegmentQuality, Speaker, SpeechRegion,
    TimingEvent,
};

/// Event kinds, the strings rulebooks refer to.
pub const EVENT_SILENCE: &str = "silence";
pub const EVENT_HOLD: &str = "hold";
pub const EVENT_OVERTALK: &str = "overtalk";
pub const EVENT_INTERRUPTION: &str = "interruption";
pub const EVENT_FIRST_AGENT_WORD: &str = "first_agent_word";

/// A speech rate over less speech than this says little.
const MIN_SPEECH_FOR_RATE_MS: u64 = 1_000;

/// The shortest gap a hold phrase can announce. "Please hold" is followed by pauses of a second
/// or two (the customer's "sure", the agent reaching for the keyboard) before the hold itself;
/// a pause that short is a turn gap, never the hold.
pub const ANNOUNCED_HOLD_MIN_MS: u64 = 3_000;

/// Phrases an agent uses to put the customer on hold, in the six rulebook languages. Matched
/// on whole words after light normalisation (lowercase, accents, Persian letter forms), and as
/// substrings in Chinese. Kept short and specific: "moment" alone or "chwila" ("w tej
/// chwili", "at the moment") would mark ordinary pauses as holds.
pub const DEFAULT_HOLD_PHRASES: &[&str] = &[
    // English
    "please hold",
    "hold on",
    "hold the line",
    "on hold",
    "one moment",
    "just a moment",
    "one second",
    "just a second",
    "bear with me",
    "stay on the line",
    // Spanish
    "un momento",
    "un momentito",
    "un segundo",
    "espere",
    "aguarde",
    "no cuelgue",
    "permanezca en linea",
    // Russian
    "подождите",
    "минуточку",
    "одну минуту",
    "секундочку",
    "одну секунду",
    "оставайтесь на линии",
    "не кладите трубку",
    // Polish
    "proszę czekać",
    "proszę poczekać",
    "proszę zaczekać",
    "chwileczkę",
    "momencik",
    "proszę się nie rozłączać",
    "proszę nie rozłączać",
    // Chinese
    "请稍等",
    "请稍候",
    "稍等",
    "请不要挂机",
    "请别挂断",
    "请不要挂断",
    // Persian
    "لطفا منتظر بمانید",
    "منتظر بمانید",
    "لطفا صبر کنید",
    "چند لحظه",
    "یک لحظه",
    "لحظه ای صبر کنید",
    "پشت خط بمانید",
    "گوشی دستتان باشد",
];

/// Settings of the metrics stage. `ring_ms` and `answered_at_ms` are per-call metadata set by
/// the caller; the rest are per-batch settings, deserialisable from the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsOptions {
    /// How long the caller heard ringing before the recording began (telephony metadata).
    pub ring_ms: Option<u64>,
    /// When the agent's leg was answered, in call time (telephony metadata).
    pub answered_at_ms: Option<u64>,
    /// The shortest gap reported as a `silence` event (dead air).
    pub silence_event_min_ms: u64,
    /// The shortest gap counted in `dead_air_total_ms` and `n_dead_air`.
    pub dead_air_min_ms: u64,
    /// A gap at least this long is a hold even when no one announced it.
    pub hold_min_ms: u64,
    /// How long after the end of an agent's hold phrase the silence may begin and still count
    /// as the announced hold (the customer's "sure, thanks" often comes in between).
    pub hold_announcement_window_ms: u64,
    /// Phrases that announce a hold; see [`DEFAULT_HOLD_PHRASES`].
    pub hold_phrases: Vec<String>,
    /// The shortest overtalk span reported as an event, and the least overlap of an
    /// interruption.
    pub overtalk_event_min_ms: u64,
    /// An agent region no longer than this, ending while the customer is still speaking, is a
    /// backchannel ("mm-hm"), not an interruption.
    pub backchannel_max_ms: u64,
    /// The margin voice activity detection puts around each speech region so that Whisper
    /// hears whole words ([`crate::vad::VadConfig::padding_ms`]). Timing is measured on the
    /// speech inside it: padded, two turns 300 ms apart overlapped by 100 ms (overtalk on every
    /// stereo call, and an interruption where turns were 200 ms apart), and every talk time,
    /// silence and hold was off by twice the margin.
    pub region_padding_ms: u64,
}

impl Default for MetricsOptions {
    fn default() -> Self {
        MetricsOptions {
            ring_ms: None,
            answered_at_ms: None,
            silence_event_min_ms: 1_000,
            dead_air_min_ms: 10_000,
            hold_min_ms: 60_000,
            hold_announcement_window_ms: 15_000,
            hold_phrases: DEFAULT_HOLD_PHRASES
                .iter()
                .map(|&phrase| phrase.to_owned())
                .collect(),
            overtalk_event_min_ms: 300,
            backchannel_max_ms: 1_000,
            region_padding_ms: crate::vad::VadConfig::default().padding_ms,
        }
    }
}

/// Measures the timing metrics and events of a call. `utterances`, `agent_tone` and
/// `agent_tone_reasons` are left empty for the tone stage (`tone::assess_tone`).
pub fn measure(transcript: &CallTranscript, options: &MetricsOptions) -> Measurements {
    let call_end_ms = call_end_ms(transcript);
    let channel_spans: Vec<Vec<SpeechRegion>> = transcript
        .channels
        .iter()
        .map(|channel| {
            merged_spans(
                channel.regions.iter().map(|region| SpeechRegion {
                    start_ms: region.start_ms.saturating_add(options.region_padding_ms),
                    end_ms: region.end_ms.saturating_sub(options.region_padding_ms),
                }),
                call_end_ms,
            )
        })
        .collect();
    let agent_channel = channel_index_of(transcript, Speaker::Agent);
    let customer_channel = channel_index_of(transcript, Speaker::Customer);

    let mut metrics = BTreeMap::new();
    let mut metric_spans = BTreeMap::new();
    let mut events = Vec::new();

    let answer_delay_end_ms = measure_answer_delay(
        transcript,
        options,
        agent_channel.map(|index| channel_spans[index].as_slice()),
        &mut metrics,
        &mut metric_spans,
        &mut events,
    );
    measure_talk_time(
        agent_channel.map(|index| channel_spans[index].as_slice()),
        customer_channel.map(|index| channel_spans[index].as_slice()),
        &mut metrics,
    );
    measure_silence(
        transcript,
        options,
        &channel_spans,
        answer_delay_end_ms,
        &mut metrics,
        &mut metric_spans,
        &mut events,
    );
    measure_overtalk(
        transcript,
        options,
        &channel_spans,
        agent_channel,
        customer_channel,
        &mut metrics,
        &mut events,
    );
    for (speaker, channel_index, rate_name, loudness_name) in [
        (
            Speaker::Agent,
            agent_channel,
            "agent_words_per_minute",
            "agent_loudness_db",
        ),
        (
            Speaker::Customer,
            customer_channel,
            "customer_words_per_minute",
            "customer_loudness_db",
        ),
    ] {
        let Some(channel_index) = channel_index else {
            continue;
        };
        if let Some(rate) = words_per_minute(transcript, speaker) {
            metrics.insert(rate_name.to_owned(), rate);
        }
        if let Some(loudness) = energy_mean_loudness_db(&transcript.channels[channel_index]) {
            metrics.insert(loudness_name.to_owned(), loudness);
        }
    }

    // Whatever happened above, nothing unmeasurable leaves this stage as a number.
    metrics.retain(|_, value: &mut f64| value.is_finite());
    metric_spans
        .retain(|name, (start_ms, end_ms)| metrics.contains_key(name) && *end_ms >= *start_ms);
    events.sort_by(|left: &TimingEvent, right: &TimingEvent| {
        (left.start_ms, left.end_ms, &left.kind).cmp(&(right.start_ms, right.end_ms, &right.kind))
    });
    Measurements {
        metrics,
        events,
        metric_spans,
        ..Measurements::default()
    }
}

/// The end of the call: its duration, or, when the transcript does not know it, the end of the
/// last region or segment.
fn call_end_ms(transcript: &CallTranscript) -> u64 {
    if transcript.duration_ms > 0 {
        return transcript.duration_ms;
    }
    let last_region_end = transcript
        .channels
        .iter()
        .flat_map(|channel| channel.regions.iter().map(|region| region.end_ms))
        .max()
        .unwrap_or(0);
    let last_segment_end = transcript
        .segments
        .iter()
        .map(|segment| segment.end_ms)
        .max()
        .unwrap_or(0);
    last_region_end.max(last_segment_end)
}

/// The channel carrying `speaker`, when the layout has one. Mono calls never do, even if a
/// channel claims a speaker: one channel cannot separate two voices.
fn channel_index_of(transcript: &CallTranscript, speaker: Speaker) -> Option<usize> {
    if transcript.layout == Layout::Mono {
        return None;
    }
    transcript
        .channels
        .iter()
        .position(|channel| channel.speaker == speaker)
}

/// Regions clipped to the call, empty ones dropped, sorted and merged where they overlap or
/// touch: disjoint spans in time order.
fn merged_spans(
    regions: impl Iterator<Item = SpeechRegion>,
    call_end_ms: u64,
) -> Vec<SpeechRegion> {
    let mut spans: Vec<SpeechRegion> = regions
        .map(|region| SpeechRegion {
            start_ms: region.start_ms.min(call_end_ms),
            end_ms: region.end_ms.min(call_end_ms),
        })
        .filter(|region| region.end_ms > region.start_ms)
        .collect();
    spans.sort_by_key(|span| (span.start_ms, span.end_ms));
    let mut merged: Vec<SpeechRegion> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start_ms <= last.end_ms => {
                last.end_ms = last.end_ms.max(span.end_ms)
            }
            _ => merged.push(span),
        }
    }
    merged
}

fn total_ms(spans: &[SpeechRegion]) -> u64 {
    spans.iter().map(SpeechRegion::duration_ms).sum()
}

/// Measures the answer delay; returns the call time where it ends (the agent's first word,
/// else the pickup), `None` where there is no answer delay.
fn measure_answer_delay(
    transcript: &CallTranscript,
    options: &MetricsOptions,
    agent_spans: Option<&[SpeechRegion]>,
    metrics: &mut BTreeMap<String, f64>,
    metric_spans: &mut BTreeMap<String, (u64, u64)>,
    events: &mut Vec<TimingEvent>,
) -> Option<u64> {
    let ring_ms = options.ring_ms.unwrap_or(0);
    let answered_at_ms = options.answered_at_ms.unwrap_or(0);
    let first_word_ms = agent_spans.and_then(|agent_spans| {
        let from_segments = transcript
            .segments_of(Speaker::Agent)
            .filter(|segment| segment.end_ms.max(segment.start_ms) > answered_at_ms)
            .filter(|segment| text::count_spoken_units(&segment.text) > 0)
            .map(|segment| segment.start_ms.max(answered_at_ms))
            .min();
        // Without a transcribed agent word (say, it was dropped as low quality), the first
        // speech region still tells when the agent started speaking.
        from_segments.or_else(|| {
            agent_spans
                .iter()
                .find(|span| span.end_ms > answered_at_ms)
                .map(|span| span.start_ms.max(answered_at_ms))
        })
    });

    if let Some(first_word_ms) = first_word_ms {
        let delay_ms = ring_ms.saturating_add(first_word_ms);
        metrics.insert("answer_delay_ms".to_owned(), delay_ms as f64);
        // The part of the delay that is in the recording: pickup (or its start) → first word.
        metric_spans.insert(
            "answer_delay_ms".to_owned(),
            (answered_at_ms.min(first_word_ms), first_word_ms),
        );
        let ring_note = if ring_ms > 0 {
            format!(" after {} s of ringing", format_seconds(ring_ms))
        } else {
            String::new()
        };
        events.push(TimingEvent {
            kind: EVENT_FIRST_AGENT_WORD.to_owned(),
            speaker: Some(Speaker::Agent),
            start_ms: first_word_ms,
            end_ms: first_word_ms,
            detail: format!(
                "the agent's first word came at {} s{ring_note}: answer delay {} s",
                format_seconds(first_word_ms),
                format_seconds(delay_ms)
            ),
        });
        Some(first_word_ms)
    } else if let Some(answered_at_ms) = options.answered_at_ms {
        metrics.insert(
            "answer_delay_ms".to_owned(),
            ring_ms.saturating_add(answered_at_ms) as f64,
        );
        metric_spans.insert("answer_delay_ms".to_owned(), (0, answered_at_ms));
        Some(answered_at_ms)
    } else {
        None
    }
}

fn measure_talk_time(
    agent_spans: Option<&[SpeechRegion]>,
    customer_spans: Option<&[SpeechRegion]>,
    metrics: &mut BTreeMap<String, f64>,
) {
    let agent_talk_ms = agent_spans.map(total_ms);
    let customer_talk_ms = customer_spans.map(total_ms);
    if let Some(agent_talk_ms) = agent_talk_ms {
        metrics.insert("agent_talk_ms".to_owned(), agent_talk_ms as f64);
    }
    if let Some(customer_talk_ms) = customer_talk_ms {
        metrics.insert("customer_talk_ms".to_owned(), customer_talk_ms as f64);
    }
    if let (Some(agent_talk_ms), Some(customer_talk_ms)) = (agent_talk_ms, customer_talk_ms) {
        let both_ms = agent_talk_ms.saturating_add(customer_talk_ms);
        if both_ms > 0 {
            metrics.insert(
                "agent_talk_ratio".to_owned(),
                agent_talk_ms as f64 / both_ms as f64,
            );
        }
    }
}

/// A stretch where no channel has speech.
struct Gap {
    start_ms: u64,
    end_ms: u64,
    /// The speaker whose speech ended the stretch before the gap; `None` before the first word.
    after: Option<Speaker>,
}

fn measure_silence(
    transcript: &CallTranscript,
    options: &MetricsOptions,
    channel_spans: &[Vec<SpeechRegion>],
    answer_delay_end_ms: Option<u64>,
    metrics: &mut BTreeMap<String, f64>,
    metric_spans: &mut BTreeMap<String, (u64, u64)>,
    events: &mut Vec<TimingEvent>,
) {
    let all_speech = merged_spans(channel_spans.iter().flatten().copied(), u64::MAX);
    if all_speech.is_empty() {
        // With no speech at all there is no telling dead air from a dead line: unmeasurable.
        return;
    }

    let speaker_ending_at = |end_ms: u64| -> Option<Speaker> {
        channel_spans
            .iter()
            .zip(&transcript.channels)
            .find(|(spans, _)| {
                spans
                    .binary_search_by_key(&end_ms, |span| span.end_ms)
                    .is_ok()
            })
            .map(|(_, channel)| channel.speaker)
    };
    // Everything up to the end of the answer delay is the answer delay's to judge (ringing, a
    // queue, a recorded prompt, a customer's "hello? hello?" before the agent's first word):
    // counting it here too would charge one late answer twice, or three times when it lasts
    // long enough to pass for an unannounced hold. Where there is no answer delay (no agent
    // speech to time, no pickup time given) the stretch before the first speech stays a gap.
    let mut gaps = Vec::with_capacity(all_speech.len() + 1);
    if answer_delay_end_ms.is_none() && all_speech[0].start_ms > 0 {
        gaps.push(Gap {
            start_ms: 0,
            end_ms: all_speech[0].start_ms,
            after: None,
        });
    }
    let answer_delay_end_ms = answer_delay_end_ms.unwrap_or(0);
    for pair in all_speech.windows(2) {
        let (start_ms, end_ms) = (pair[0].end_ms, pair[1].start_ms);
        if end_ms <= answer_delay_end_ms {
            continue;
        }
        gaps.push(Gap {
            // A gap that straddles the first word is silence only after it.
            start_ms: start_ms.max(answer_delay_end_ms),
            end_ms,
            after: speaker_ending_at(start_ms),
        });
    }

    // The first of equally long gaps: deterministic.
    let longest_gap = gaps
        .iter()
        .rev()
        .max_by_key(|gap| gap.end_ms - gap.start_ms);
    let longest_silence_ms = longest_gap.map_or(0, |gap| gap.end_ms - gap.start_ms);
    metrics.insert("longest_silence_ms".to_owned(), longest_silence_ms as f64);
    if let Some(gap) = longest_gap {
        metric_spans.insert("longest_silence_ms".to_owned(), (gap.start_ms, gap.end_ms));
    }

    // Dead air is the agent's to manage; on mono or unassigned calls no one can be named.
    let held_against = if channel_index_of(transcript, Speaker::Agent).is_some() {
        Speaker::Agent
    } else {
        Speaker::Unknown
    };
    let announcements = hold_announcements(transcript, options, &gaps);

    let mut dead_air_total_ms = 0_u64;
    let mut n_dead_air = 0_u64;
    let mut hold_total_ms = 0_u64;
    let mut n_holds = 0_u64;
    for (gap, announcement) in gaps.iter().zip(&announcements) {
        let duration_ms = gap.end_ms - gap.start_ms;
        if duration_ms < options.silence_event_min_ms.max(1) {
            continue;
        }
        let context = match gap.after {
            None => "at the start of the call".to_owned(),
            Some(Speaker::Unknown) => "after speech".to_owned(),
            Some(speaker) => format!("after the {speaker} spoke"),
        };
        let is_long = duration_ms >= options.hold_min_ms;
        if let Some(phrase) = announcement {
            n_holds += 1;
            hold_total_ms = hold_total_ms.saturating_add(duration_ms);
            events.push(TimingEvent {
                kind: EVENT_HOLD.to_owned(),
                speaker: Some(held_against),
                start_ms: gap.start_ms,
                end_ms: gap.end_ms,
                detail: format!(
                    "no one spoke for {} s after the agent asked the customer to hold ('{phrase}')",
                    format_seconds(duration_ms)
                ),
            });
            continue;
        }
        events.push(TimingEvent {
            kind: EVENT_SILENCE.to_owned(),
            speaker: Some(held_against),
            start_ms: gap.start_ms,
            end_ms: gap.end_ms,
            detail: format!(
                "no one spoke for {} s {context}",
                format_seconds(duration_ms)
            ),
        });
        if duration_ms >= options.dead_air_min_ms {
            n_dead_air += 1;
            dead_air_total_ms = dead_air_total_ms.saturating_add(duration_ms);
        }
        if is_long {
            n_holds += 1;
            hold_total_ms = hold_total_ms.saturating_add(duration_ms);
            events.push(TimingEvent {
                kind: EVENT_HOLD.to_owned(),
                speaker: Some(held_against),
                start_ms: gap.start_ms,
                end_ms: gap.end_ms,
                detail: format!(
                    "no one spoke for {} s {context}, without a hold being announced",
                    format_seconds(duration_ms)
                ),
            });
        }
    }
    metrics.insert("dead_air_total_ms".to_owned(), dead_air_total_ms as f64);
    metrics.insert("n_dead_air".to_owned(), n_dead_air as f64);
    metrics.insert("hold_total_ms".to_owned(), hold_total_ms as f64);
    metrics.insert("n_holds".to_owned(), n_holds as f64);
}

/// For each gap, the hold phrase that announced it, if any: the longest gap of at least
/// [`ANNOUNCED_HOLD_MIN_MS`] (the first of equally long ones) that begins within the
/// announcement window after an agent (or, on mono calls, unknown speaker's) segment holding a
/// hold phrase. Not the first gap: "please hold" – pause – "sure" – the hold itself.
fn hold_announcements(
    transcript: &CallTranscript,
    options: &MetricsOptions,
    gaps: &[Gap],
) -> Vec<Option<String>> {
    let mut announcements: Vec<Option<String>> = vec![None; gaps.len()];
    let min_gap_ms = options
        .silence_event_min_ms
        .max(ANNOUNCED_HOLD_MIN_MS)
        .max(1);
    if !gaps
        .iter()
        .any(|gap| gap.end_ms - gap.start_ms >= min_gap_ms)
    {
        // Nothing to classify: skip the text work.
        return announcements;
    }
    let phrases: Vec<(&str, Vec<String>)> = options
        .hold_phrases
        .iter()
        .map(|phrase| (phrase.as_str(), text::phrase_units(phrase)))
        .filter(|(_, units)| !units.is_empty())
        .collect();
    for segment in &transcript.segments {
        if segment.speaker == Speaker::Customer {
            continue;
        }
        let clauses = text::clauses(&segment.text);
        let Some((phrase, _)) = phrases
            .iter()
            .find(|(_, units)| text::clauses_contain(&clauses, units))
        else {
            continue;
        };
        // Segment timestamps and region edges disagree by a few hundred ms, so the gap may
        // start a little before the segment's end; it must not start before the segment.
        let window_end_ms = segment
            .end_ms
            .max(segment.start_ms)
            .saturating_add(options.hold_announcement_window_ms);
        let announced = gaps
            .iter()
            .enumerate()
            .filter(|(_, gap)| {
                gap.start_ms >= segment.start_ms
                    && gap.start_ms <= window_end_ms
                    && gap.end_ms - gap.start_ms >= min_gap_ms
            })
            .max_by_key(|&(index, gap)| (gap.end_ms - gap.start_ms, std::cmp::Reverse(index)))
            .map(|(index, _)| index);
        if let Some(gap_index) = announced
            && announcements[gap_index].is_none()
        {
            announcements[gap_index] = Some((*phrase).to_owned());
        }
    }
    announcements
}

/// Which pair of channels overtalk is measured between: agent and customer, else the two
/// channels of an unassigned stereo call. `None` for mono calls.
fn overtalk_channels(
    transcript: &CallTranscript,
    agent_channel: Option<usize>,
    customer_channel: Option<usize>,
) -> Option<(usize, usize)> {
    if transcript.layout == Layout::Mono {
        return None;
    }
    match (agent_channel, customer_channel) {
        (Some(agent), Some(customer)) => Some((agent, customer)),
        _ if transcript.channels.len() == 2 => Some((0, 1)),
        _ => None,
    }
}

fn measure_overtalk(
    transcript: &CallTranscript,
    options: &MetricsOptions,
    channel_spans: &[Vec<SpeechRegion>],
    agent_channel: Option<usize>,
    customer_channel: Option<usize>,
    metrics: &mut BTreeMap<String, f64>,
    events: &mut Vec<TimingEvent>,
) {
    let Some((first_channel, second_channel)) =
        overtalk_channels(transcript, agent_channel, customer_channel)
    else {
        return;
    };
    let interruptions_measurable = agent_channel.is_some() && customer_channel.is_some();
    let first_spans = &channel_spans[first_channel];
    let second_spans = &channel_spans[second_channel];
    let first_speaker = transcript.channels[first_channel].speaker;
    let second_speaker = transcript.channels[second_channel].speaker;
    let event_min_ms = options.overtalk_event_min_ms.max(1);

    let mut overtalk_ms = 0_u64;
    let mut n_interruptions = 0_u64;
    let (mut first_index, mut second_index) = (0, 0);
    // Both span lists are disjoint and sorted: walk them together, one intersection at a time.
    while first_index < first_spans.len() && second_index < second_spans.len() {
        let first = first_spans[first_index];
        let second = second_spans[second_index];
        let start_ms = first.start_ms.max(second.start_ms);
        let end_ms = first.end_ms.min(second.end_ms);
        if end_ms > start_ms {
            let duration_ms = end_ms - start_ms;
            overtalk_ms = overtalk_ms.saturating_add(duration_ms);
            // The one who started second talked over the other.
            let (later_speaker, later_span, earlier_span, earlier_speaker) =
                if first.start_ms > second.start_ms {
                    (Some(first_speaker), first, second, second_speaker)
                } else if second.start_ms > first.start_ms {
                    (Some(second_speaker), second, first, first_speaker)
                } else {
                    (None, first, second, second_speaker)
                };
            if duration_ms >= event_min_ms {
                let who = match later_speaker {
                    Some(speaker) if speaker != Speaker::Unknown => format!(
                        "; the {speaker} started at {} s while the {earlier_speaker} was speaking",
                        format_seconds(later_span.start_ms)
                    ),
                    _ => String::new(),
                };
                events.push(TimingEvent {
                    kind: EVENT_OVERTALK.to_owned(),
                    speaker: later_speaker,
                    start_ms,
                    end_ms,
                    detail: format!(
                        "both sides spoke for {} s{who}",
                        format_seconds(duration_ms)
                    ),
                });
            }
            let agent_started_inside_customer = interruptions_measurable
                && later_speaker == Some(Speaker::Agent)
                && earlier_speaker == Speaker::Customer
                && later_span.start_ms == start_ms;
            let is_backchannel = later_span.duration_ms() <= options.backchannel_max_ms
                && later_span.end_ms < earlier_span.end_ms;
            if agent_started_inside_customer && duration_ms >= event_min_ms && !is_backchannel {
                n_interruptions += 1;
                events.push(TimingEvent {
                    kind: EVENT_INTERRUPTION.to_owned(),
                    speaker: Some(Speaker::Agent),
                    start_ms,
                    end_ms,
                    detail: format!(
                        "the agent started speaking at {} s while the customer was speaking; \
                         both spoke for {} s",
                        format_seconds(start_ms),
                        format_seconds(duration_ms)
                    ),
                });
            }
        }
        if first.end_ms <= second.end_ms {
            first_index += 1;
        } else {
            second_index += 1;
        }
    }
    metrics.insert("overtalk_ms".to_owned(), overtalk_ms as f64);
    if interruptions_measurable {
        metrics.insert("n_interruptions".to_owned(), n_interruptions as f64);
    }
}

/// Words (Han/kana characters count one each) per minute over the speaker's `Ok` segments.
fn words_per_minute(transcript: &CallTranscript, speaker: Speaker) -> Option<f64> {
    let mut n_units = 0_usize;
    let mut speech_ms = 0_u64;
    for segment in transcript
        .segments_of(speaker)
        .filter(|segment| segment.quality == SegmentQuality::Ok)
    {
        let duration_ms = segment.end_ms.saturating_sub(segment.start_ms);
        if duration_ms == 0 {
            continue;
        }
        n_units += text::count_spoken_units(&segment.text);
        speech_ms = speech_ms.saturating_add(duration_ms);
    }
    (speech_ms >= MIN_SPEECH_FOR_RATE_MS).then(|| n_units as f64 / (speech_ms as f64 / 60_000.0))
}

/// Energy mean of a channel's region loudness: average power weighted by duration, in dB.
fn energy_mean_loudness_db(channel: &ChannelTranscript) -> Option<f64> {
    let mut power_sum = 0.0_f64;
    let mut weight_sum = 0.0_f64;
    for region in &channel.acoustics {
        let duration_ms = region.end_ms.saturating_sub(region.start_ms);
        if duration_ms == 0 || !region.loudness_db.is_finite() {
            continue;
        }
        let weight = duration_ms as f64;
        power_sum += weight * 10f64.powf(f64::from(region.loudness_db) / 10.0);
        weight_sum += weight;
    }
    if weight_sum <= 0.0 || power_sum <= 0.0 {
        return None;
    }
    Some(10.0 * (power_sum / weight_sum).log10()).filter(|value| value.is_finite())
}

fn format_seconds(milliseconds: u64) -> String {
    format!("{:.1}", milliseconds as f64 / 1000.0)
}

/// Synthetic calls for tests: stereo conversations built directly as [`CallTranscript`]s, with
/// known answer delay, dead air, overtalk, holds and an agitated agent turn, and the ground
/// truth of where each was put.
#[cfg(test)]
pub(crate) mod synthetic {
    use crate::types::{
        CallTranscript, ChannelTranscript, Layout, RegionAcoustics, Segment, SegmentQuality,
        Speaker, SpeechRegion,
    };

    /// One utterance: a speech region with its acoustics and its segment.
    #[derive(Debug, Clone)]
    pub(crate) struct Turn {
        pub(crate) speaker: Speaker,
        pub(crate) start_ms: u64,
        pub(crate) end_ms: u64,
        pub(crate) text: String,
        pub(crate) loudness_db: f32,
        pub(crate) pitch_hz: Option<f32>,
    }

    /// Builds a transcript from turns: stereo puts the agent on channel 0 and the customer on
    /// channel 1; mono puts everything on channel 0 as `unknown`.
    pub(crate) fn transcript_from_turns(
        layout: Layout,
        language: &str,
        duration_ms: u64,
        turns: &[Turn],
    ) -> CallTranscript {
        let channel_speakers: Vec<Speaker> = match layout {
            Layout::Stereo => vec![Speaker::Agent, Speaker::Customer],
            Layout::StereoUnassigned => vec![Speaker::Unknown, Speaker::Unknown],
            Layout::Mono => vec![Speaker::Unknown],
        };
        let channel_of = |speaker: Speaker| -> u16 {
            match (layout, speaker) {
                (Layout::Mono, _) => 0,
                (_, Speaker::Customer) => 1,
                _ => 0,
            }
        };
        let mut channels: Vec<ChannelTranscript> = channel_speakers
            .iter()
            .enumerate()
            .map(|(index, &speaker)| ChannelTranscript {
                channel: index as u16,
                speaker,
                language: Some(language.to_owned()),
                regions: Vec::new(),
                acoustics: Vec::new(),
                n_dropped_segments: 0,
            })
            .collect();
        let mut segments = Vec::new();
        for turn in turns {
            let channel = channel_of(turn.speaker);
            let channel_transcript = &mut channels[usize::from(channel)];
            // As voice activity detection gives them: the speech with its padding.
            let padding_ms = crate::vad::VadConfig::default().padding_ms;
            channel_transcript.regions.push(SpeechRegion {
                start_ms: turn.start_ms.saturating_sub(padding_ms),
                end_ms: turn.end_ms + padding_ms,
            });
            channel_transcript.acoustics.push(RegionAcoustics {
                start_ms: turn.start_ms,
                end_ms: turn.end_ms,
                loudness_db: turn.loudness_db,
                pitch_hz: turn.pitch_hz,
            });
            segments.push(Segment {
                speaker: channel_transcript.speaker,
                channel,
                start_ms: turn.start_ms,
                end_ms: turn.end_ms,
                text: turn.text.clone(),
                confidence: 0.9,
                quality: SegmentQuality::Ok,
            });
        }
        segments.sort_by_key(|segment| (segment.start_ms, segment.channel));
        CallTranscript {
            duration_ms,
            layout,
            source_sample_rate: 8_000,
            channels,
            segments,
        }
    }

    /// What to put into a synthetic conversation of alternating agent/customer turns.
    #[derive(Debug, Clone)]
    pub(crate) struct Scenario {
        pub(crate) n_turns: usize,
        /// When the agent's first turn starts.
        pub(crate) first_agent_word_ms: u64,
        /// A gap of this length after the given turn instead of the usual 600 ms.
        pub(crate) long_gap_after_turn: Option<(usize, u64)>,
        /// Text appended to the given agent turn (e.g. a hold phrase before a long gap).
        pub(crate) extra_agent_text: Option<(usize, &'static str)>,
        /// The given agent turn starts this long before the customer's previous turn ends.
        pub(crate) agent_overtalk: Option<(usize, u64)>,
        /// The given agent turn is +8 dB louder, +300 cents higher, +25 % faster and harsh.
        pub(crate) agitated_agent_turn: Option<usize>,
        /// Text of the customer's turns by index, replacing the neutral filler.
        pub(crate) customer_texts: Vec<(usize, &'static str)>,
    }

    impl Default for Scenario {
        fn default() -> Self {
            Scenario {
                n_turns: 14,
                first_agent_word_ms: 500,
                long_gap_after_turn: None,
                extra_agent_text: None,
                agent_overtalk: None,
                agitated_agent_turn: None,
                customer_texts: Vec::new(),
            }
        }
    }

    /// Where the scenario put things, for the assertions.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct Truth {
        pub(crate) first_agent_word_ms: u64,
        pub(crate) long_gap: Option<(u64, u64)>,
        pub(crate) overtalk: Option<(u64, u64)>,
        pub(crate) agitated_turn: Option<(u64, u64)>,
    }

    /// Words with no entry in any lexicon, so filler turns are neutral.
    const NEUTRAL_WORDS: &[&str] = &[
        "i", "will", "check", "the", "account", "details", "and", "order", "number", "for", "you",
        "today", "with", "our", "system", "now", "let", "me", "see", "that", "record",
    ];
    /// Ordinary variation between a speaker's turns: within a few dB, cents and percent.
    const LOUDNESS_JITTER_DB: [f32; 5] = [0.0, 0.8, -0.6, 0.4, -1.0];
    const PITCH_JITTER_CENTS: [f32; 5] = [0.0, 40.0, -30.0, 20.0, -50.0];
    const WORD_COUNT_JITTER: [i64; 5] = [0, 1, -1, 0, 1];
    const USUAL_GAP_MS: u64 = 600;
    const AGENT_TURN_MS: u64 = 4_000;
    const CUSTOMER_TURN_MS: u64 = 3_600;

    pub(crate) fn neutral_text(n_words: usize, offset: usize) -> String {
        (0..n_words)
            .map(|index| NEUTRAL_WORDS[(index + offset) % NEUTRAL_WORDS.len()])
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Builds the English stereo call a scenario describes: turn 0 is the agent's, then
    /// customer and agent alternate. Agent speech runs at 2.5 words per second, -20 dBFS,
    /// 180 Hz; the customer's at 2.5 words per second, -24 dBFS, 220 Hz.
    pub(crate) fn build(scenario: &Scenario) -> (CallTranscript, Truth) {
        let mut turns = Vec::new();
        let mut truth = Truth {
            first_agent_word_ms: scenario.first_agent_word_ms,
            ..Truth::default()
        };
        let mut cursor_ms = scenario.first_agent_word_ms;
        for turn_index in 0..scenario.n_turns {
            let is_agent = turn_index % 2 == 0;
            let jitter = turn_index % 5;
            let mut start_ms = cursor_ms;
            if let Some((overtalk_turn, overlap_ms)) = scenario.agent_overtalk
                && overtalk_turn == turn_index
                && is_agent
            {
                start_ms = cursor_ms.saturating_sub(USUAL_GAP_MS + overlap_ms);
                truth.overtalk = Some((start_ms, overlap_ms));
            }
            let agitated = is_agent && scenario.agitated_agent_turn == Some(turn_index);
            let base_duration_ms = if is_agent {
                AGENT_TURN_MS
            } else {
                CUSTOMER_TURN_MS
            };
            let base_words = (base_duration_ms as f64 * 2.5 / 1000.0).round() as i64;
            let (duration_ms, text, loudness_db, pitch_hz) = if agitated {
                // +25 % faster: 15 words in 4.8 s is 3.125 words/s against 2.5.
                let text = format!("{} this is ridiculous", neutral_text(12, turn_index));
                let pitch = 180.0 * 2f32.powf(300.0 / 1200.0);
                (4_800, text, -20.0 + 8.0, Some(pitch))
            } else {
                let n_words = (base_words + WORD_COUNT_JITTER[jitter]).max(1) as usize;
                let mut text = neutral_text(n_words, turn_index);
                if !is_agent
                    && let Some((_, custom)) = scenario
                        .customer_texts
                        .iter()
                        .find(|(index, _)| *index == turn_index)
                {
                    text = (*custom).to_owned();
                }
                if is_agent
                    && let Some((_, extra)) = scenario
                        .extra_agent_text
                        .filter(|(index, _)| *index == turn_index)
                {
                    text = format!("{text} {extra}");
                }
                let (base_db, base_hz) = if is_agent {
                    (-20.0, 180.0)
                } else {
                    (-24.0, 220.0)
                };
                let pitch = base_hz * 2f32.powf(PITCH_JITTER_CENTS[jitter] / 1200.0);
                (
                    base_duration_ms,
                    text,
                    base_db + LOUDNESS_JITTER_DB[jitter],
                    Some(pitch),
                )
            };
            let end_ms = start_ms + duration_ms;
            if agitated {
                truth.agitated_turn = Some((start_ms, end_ms));
            }
            turns.push(Turn {
                speaker: if is_agent {
                    Speaker::Agent
                } else {
                    Speaker::Customer
                },
                start_ms,
                end_ms,
                text,
                loudness_db,
                pitch_hz,
            });
            let gap_ms = match scenario.long_gap_after_turn {
                Some((gap_turn, gap_ms)) if gap_turn == turn_index => {
                    truth.long_gap = Some((end_ms, gap_ms));
                    gap_ms
                }
                _ => USUAL_GAP_MS,
            };
            cursor_ms = end_ms.max(cursor_ms) + gap_ms;
        }
        let duration_ms = cursor_ms + 2_000;
        (
            transcript_from_turns(Layout::Stereo, "en", duration_ms, &turns),
            truth,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::synthetic::{self, Turn};
    use super::*;

    fn turn(speaker: Speaker, start_ms: u64, end_ms: u64, text: &str) -> Turn {
        Turn {
            speaker,
            start_ms,
            end_ms,
            text: text.to_owned(),
            loudness_db: -20.0,
            pitch_hz: Some(200.0),
        }
    }

    fn events_of<'measured>(
        measurements: &'measured Measurements,
        kind: &str,
    ) -> Vec<&'measured TimingEvent> {
        measurements
            .events
            .iter()
            .filter(|event| event.kind == kind)
            .collect()
    }

    /// Every metric is finite, durations and counts are not negative, every event is ordered.
    fn assert_sane(measurements: &Measurements) {
        for (name, value) in &measurements.metrics {
            assert!(value.is_finite(), "{name} = {value}");
            // dBFS levels are negative by nature; everything else here is a count, a ratio or
            // a duration.
            if !name.ends_with("_db") {
                assert!(*value >= 0.0, "{name} = {value}");
            }
        }
        for event in &measurements.events {
            assert!(event.end_ms >= event.start_ms, "{event:?}");
        }
    }

    fn near(actual: f64, expected: f64, tolerance: f64) -> bool {
        (actual - expected).abs() <= tolerance
    }

    #[test]
    fn stereo_call_has_every_metric() {
        let (call, _) = synthetic::build(&synthetic::Scenario::default());
        let measured = measure(&call, &MetricsOptions::default());
        assert_sane(&measured);
        for name in [
            "answer_delay_ms",
            "agent_talk_ms",
            "customer_talk_ms",
            "agent_talk_ratio",
            "longest_silence_ms",
            "dead_air_total_ms",
            "n_dead_air",
            "hold_total_ms",
            "n_holds",
            "overtalk_ms",
            "n_interruptions",
            "agent_words_per_minute",
            "customer_words_per_minute",
            "agent_loudness_db",
            "customer_loudness_db",
        ] {
            assert!(measured.metrics.contains_key(name), "missing {name}");
        }
        // 7 agent turns of 4 s, 7 customer turns of 3.6 s, 2.5 words/s ± jitter.
        assert_eq!(measured.metrics["agent_talk_ms"], 28_000.0);
        assert_eq!(measured.metrics["customer_talk_ms"], 25_200.0);
        assert!(near(
            measured.metrics["agent_words_per_minute"],
            150.0,
            10.0
        ));
        assert!(near(measured.metrics["agent_loudness_db"], -20.0, 1.0));
        assert!(near(measured.metrics["customer_loudness_db"], -24.0, 1.0));
        assert_eq!(measured.metrics["longest_silence_ms"], 600.0);
    }

    #[test]
    fn mono_call_has_no_speaker_metrics_but_measures_silence() {
        let turns = [
            turn(Speaker::Unknown, 1_000, 4_000, "hello how can i help"),
            turn(Speaker::Unknown, 3_500, 6_000, "my order did not arrive"),
            turn(Speaker::Unknown, 20_000, 24_000, "i found it in the system"),
        ];
        let call = synthetic::transcript_from_turns(Layout::Mono, "en", 26_000, &turns);
        let measured = measure(&call, &MetricsOptions::default());
        assert_sane(&measured);
        for absent in [
            "answer_delay_ms",
            "agent_talk_ms",
            "customer_talk_ms",
            "agent_talk_ratio",
            "overtalk_ms",
            "n_interruptions",
            "agent_words_per_minute",
            "customer_words_per_minute",
            "agent_loudness_db",
        ] {
            assert!(
                !measured.metrics.contains_key(absent),
                "{absent} should be absent"
            );
        }
        assert_eq!(measured.metrics["longest_silence_ms"], 14_000.0);
        assert_eq!(measured.metric_spans["longest_silence_ms"], (6_000, 20_000));
        assert_eq!(measured.metrics["n_dead_air"], 1.0);
        let silences = events_of(&measured, EVENT_SILENCE);
        // Leading 1 s and 14 s: with no answer delay on a mono call, the start is a gap too.
        assert_eq!(silences.len(), 2, "{silences:?}");
        assert_eq!((silences[0].start_ms, silences[0].end_ms), (0, 1_000));
        assert_eq!((silences[1].start_ms, silences[1].end_ms), (6_000, 20_000));
        assert!(
            silences
                .iter()
                .all(|event| event.speaker == Some(Speaker::Unknown))
        );
        assert!(events_of(&measured, EVENT_OVERTALK).is_empty());
        assert!(events_of(&measured, EVENT_FIRST_AGENT_WORD).is_empty());
    }

    #[test]
    fn mono_call_takes_answer_delay_from_metadata() {
        let turns = [turn(Speaker::Unknown, 4_000, 6_000, "hello")];
        let call = synthetic::transcript_from_turns(Layout::Mono, "en", 8_000, &turns);
        let options = MetricsOptions {
            answered_at_ms: Some(3_000),
            ring_ms: Some(2_000),
            ..MetricsOptions::default()
        };
        let measured = measure(&call, &options);
        assert_eq!(measured.metrics["answer_delay_ms"], 5_000.0);
        assert_eq!(measured.metric_spans["answer_delay_ms"], (0, 3_000));
    }

    #[test]
    fn silent_customer_channel_gives_zero_talk_and_no_rate() {
        let turns = [
            turn(Speaker::Agent, 2_000, 5_000, "hello is anyone there"),
            turn(Speaker::Agent, 9_000, 11_000, "hello"),
        ];
        let call = synthetic::transcript_from_turns(Layout::Stereo, "en", 12_000, &turns);
        let measured = measure(&call, &MetricsOptions::default());
        assert_sane(&measured);
        assert_eq!(measured.metrics["customer_talk_ms"], 0.0);
        assert_eq!(measured.metrics["agent_talk_ms"], 5_000.0);
        assert_eq!(measured.metrics["agent_talk_ratio"], 1.0);
        assert_eq!(measured.metrics["answer_delay_ms"], 2_000.0);
        assert_eq!(measured.metrics["overtalk_ms"], 0.0);
        assert_eq!(measured.metrics["n_interruptions"], 0.0);
        assert!(!measured.metrics.contains_key("customer_words_per_minute"));
        assert!(!measured.metrics.contains_key("customer_loudness_db"));
    }

    #[test]
    fn silent_agent_channel_has_no_answer_delay() {
        let turns = [turn(Speaker::Customer, 1_000, 5_000, "hello hello")];
        let call = synthetic::transcript_from_turns(Layout::Stereo, "en", 30_000, &turns);
        let measured = measure(&call, &MetricsOptions::default());
        assert_sane(&measured);
        assert!(!measured.metrics.contains_key("answer_delay_ms"));
        assert_eq!(measured.metrics["agent_talk_ms"], 0.0);
        assert_eq!(measured.metrics["agent_talk_ratio"], 0.0);
        assert!(events_of(&measured, EVENT_FIRST_AGENT_WORD).is_empty());
    }

    #[test]
    fn empty_call_measures_nothing() {
        let call = CallTranscript {
            duration_ms: 0,
            layout: Layout::Stereo,
            source_sample_rate: 8_000,
            channels: Vec::new(),
            segments: Vec::new(),
        };
        let measured = measure(&call, &MetricsOptions::default());
        assert!(measured.metrics.is_empty(), "{:?}", measured.metrics);
        assert!(measured.events.is_empty());

        // Channels present but no speech: talk time is a measured 0, silence unmeasurable.
        let silent = synthetic::transcript_from_turns(Layout::Stereo, "en", 60_000, &[]);
        let measured = measure(&silent, &MetricsOptions::default());
        assert_sane(&measured);
        assert_eq!(measured.metrics["agent_talk_ms"], 0.0);
        assert!(!measured.metrics.contains_key("agent_talk_ratio"));
        assert!(!measured.metrics.contains_key("longest_silence_ms"));
        assert!(!measured.metrics.contains_key("answer_delay_ms"));
        assert!(measured.events.is_empty());
        assert!(
            measured.metric_spans.is_empty(),
            "{:?}",
            measured.metric_spans
        );
    }

    #[test]
    fn malformed_regions_never_panic_or_go_negative() {
        let mut call = synthetic::transcript_from_turns(
            Layout::Stereo,
            "en",
            10_000,
            &[
                turn(Speaker::Agent, 1_000, 3_000, "hello"),
                turn(Speaker::Customer, 2_000, 2_500, "hi"),
            ],
        );
        let agent = &mut call.channels[0];
        agent.regions.extend([
            SpeechRegion {
                start_ms: 5_000,
                end_ms: 4_000,
            }, // reversed
            SpeechRegion {
                start_ms: 2_000,
                end_ms: 6_000,
            }, // overlaps, out of order
            SpeechRegion {
                start_ms: 9_000,
                end_ms: u64::MAX,
            }, // past the end of the call
            SpeechRegion {
                start_ms: u64::MAX,
                end_ms: u64::MAX,
            },
        ]);
        agent.acoustics.push(crate::types::RegionAcoustics {
            start_ms: 2_000,
            end_ms: 6_000,
            loudness_db: f32::NAN,
            pitch_hz: Some(f32::INFINITY),
        });
        call.segments.push(crate::types::Segment {
            speaker: Speaker::Agent,
            channel: 0,
            start_ms: 8_000,
            end_ms: 7_000, // ends before it starts
            text: "oops".to_owned(),
            confidence: 0.5,
            quality: SegmentQuality::Ok,
        });
        let measured = measure(&call, &MetricsOptions::default());
        assert_sane(&measured);
        // Agent speech inside the 200 ms padding: 1–5.8 s merged plus 9.2–10 s (clipped to
        // the call).
        assert_eq!(measured.metrics["agent_talk_ms"], 5_600.0);
        assert!(measured.metrics["agent_loudness_db"].is_finite());
    }

    #[test]
    fn ring_time_and_pickup_shape_the_answer_delay() {
        // A recorded prompt on the agent side before pickup is not the agent's first word.
        let turns = [
            turn(Speaker::Agent, 500, 3_000, "this call may be recorded"),
            turn(Speaker::Agent, 6_000, 9_000, "good morning my name is anna"),
            turn(Speaker::Customer, 9_500, 12_000, "hello"),
        ];
        let call = synthetic::transcript_from_turns(Layout::Stereo, "en", 13_000, &turns);
        let plain = measure(&call, &MetricsOptions::default());
        assert_eq!(plain.metrics["answer_delay_ms"], 500.0);
        let with_metadata = measure(
            &call,
            &MetricsOptions {
                answered_at_ms: Some(5_000),
                ring_ms: Some(4_000),
                ..MetricsOptions::default()
            },
        );
        assert_eq!(with_metadata.metrics["answer_delay_ms"], 10_000.0);
        // The recorded part of the delay: from the pickup to the first word.
        assert_eq!(
            with_metadata.metric_spans["answer_delay_ms"],
            (5_000, 6_000)
        );
        assert_eq!(plain.metric_spans["answer_delay_ms"], (0, 500));
        let marker = events_of(&with_metadata, EVENT_FIRST_AGENT_WORD);
        assert_eq!(marker.len(), 1);
        assert_eq!(marker[0].start_ms, 6_000);
    }

    #[test]
    fn a_late_answer_is_charged_once_as_answer_delay() {
        // 12 s of ringing before the agent speaks, then 75 s of a queue on another call:
        // long enough to pass for dead air, and for an unannounced hold.
        for silent_ms in [12_000, 75_000] {
            let turns = [
                turn(Speaker::Agent, silent_ms, silent_ms + 3_000, "good morning"),
                turn(
                    Speaker::Customer,
                    silent_ms + 3_500,
                    silent_ms + 6_000,
                    "hello",
                ),
                turn(
                    Speaker::Agent,
                    silent_ms + 21_000,
                    silent_ms + 23_000,
                    "still there",
                ),
            ];
            let call =
                synthetic::transcript_from_turns(Layout::Stereo, "en", silent_ms + 24_000, &turns);
            let measured = measure(&call, &MetricsOptions::default());
            assert_eq!(measured.metrics["answer_delay_ms"], silent_ms as f64);
            assert_eq!(measured.metric_spans["answer_delay_ms"], (0, silent_ms));
            // Only the 15 s silence inside the conversation is dead air.
            let silences = events_of(&measured, EVENT_SILENCE);
            assert_eq!(silences.len(), 1, "{silences:?}");
            assert_eq!(silences[0].start_ms, silent_ms + 6_000);
            assert_eq!(
                silences[0].detail,
                "no one spoke for 15.0 s after the customer spoke"
            );
            assert_eq!(measured.metrics["n_dead_air"], 1.0);
            assert_eq!(measured.metrics["dead_air_total_ms"], 15_000.0);
            assert!(events_of(&measured, EVENT_HOLD).is_empty());
            assert_eq!(measured.metrics["n_holds"], 0.0);
            assert_eq!(measured.metrics["longest_silence_ms"], 15_000.0);
        }
    }

    #[test]
    fn announced_hold_is_a_hold_not_dead_air() {
        let (call, truth) = synthetic::build(&synthetic::Scenario {
            extra_agent_text: Some((4, "please hold")),
            long_gap_after_turn: Some((4, 40_000)),
            ..synthetic::Scenario::default()
        });
        let measured = measure(&call, &MetricsOptions::default());
        assert_sane(&measured);
        let (gap_start_ms, _) = truth.long_gap.unwrap();
        let holds = events_of(&measured, EVENT_HOLD);
        assert_eq!(holds.len(), 1, "{holds:?}");
        assert_eq!(holds[0].start_ms, gap_start_ms);
        assert_eq!(holds[0].duration_ms(), 40_000);
        assert!(
            holds[0].detail.contains("please hold"),
            "{}",
            holds[0].detail
        );
        assert!(events_of(&measured, EVENT_SILENCE).is_empty());
        assert_eq!(measured.metrics["n_holds"], 1.0);
        assert_eq!(measured.metrics["hold_total_ms"], 40_000.0);
        assert_eq!(measured.metrics["n_dead_air"], 0.0);
        assert_eq!(measured.metrics["longest_silence_ms"], 40_000.0);
    }

    /// (start, end) of each event of a kind, in order.
    fn spans_of(measurements: &Measurements, kind: &str) -> Vec<(u64, u64)> {
        events_of(measurements, kind)
            .iter()
            .map(|event| (event.start_ms, event.end_ms))
            .collect()
    }

    #[test]
    fn the_hold_is_the_long_silence_after_the_customers_sure_not_the_pause_before_it() {
        // The usual way a hold happens: "please hold", a pause, the customer's "sure", then
        // two minutes of silence. The 1.5 s pause is a turn gap, the two minutes the hold.
        let turns = [
            turn(
                Speaker::Agent,
                500,
                4_000,
                "Good morning, thank you for calling Acme Bank, my name is Maria.",
            ),
            turn(
                Speaker::Customer,
                5_000,
                8_000,
                "Hi, I want to check my last payment please.",
            ),
            turn(
                Speaker::Agent,
                9_000,
                12_000,
                "Of course. Please hold while I check that for you.",
            ),
            turn(Speaker::Customer, 13_500, 14_000, "Sure."),
            turn(
                Speaker::Agent,
                134_000,
                138_000,
                "Thank you for holding. The payment went through yesterday.",
            ),
            turn(Speaker::Customer, 139_000, 141_000, "Great, thank you."),
            turn(
                Speaker::Agent,
                142_000,
                145_000,
                "You are welcome, thank you for calling, goodbye.",
            ),
        ];
        let call = synthetic::transcript_from_turns(Layout::Stereo, "en", 146_000, &turns);
        let measured = measure(&call, &MetricsOptions::default());
        assert_sane(&measured);
        let holds = events_of(&measured, EVENT_HOLD);
        assert_eq!(holds.len(), 1, "{holds:?}");
        assert_eq!((holds[0].start_ms, holds[0].end_ms), (14_000, 134_000));
        assert_eq!(
            holds[0].detail,
            "no one spoke for 120.0 s after the agent asked the customer to hold ('please hold')"
        );
        assert_eq!(measured.metrics["n_holds"], 1.0);
        assert_eq!(measured.metrics["hold_total_ms"], 120_000.0);
        // The pause before "sure" is an ordinary (short) silence; nothing is dead air.
        assert_eq!(
            spans_of(&measured, EVENT_SILENCE),
            [
                (4_000, 5_000),
                (8_000, 9_000),
                (12_000, 13_500),
                (138_000, 139_000),
                (141_000, 142_000)
            ]
        );
        assert_eq!(measured.metrics["n_dead_air"], 0.0);
        assert_eq!(measured.metrics["dead_air_total_ms"], 0.0);
        assert_eq!(measured.metrics["longest_silence_ms"], 120_000.0);
        assert_eq!(
            measured.metric_spans["longest_silence_ms"],
            (14_000, 134_000)
        );
    }

    #[test]
    fn an_announcement_takes_the_longest_gap_in_its_window_and_never_a_tiny_one() {
        // "One moment": 2.5 s, a question, 4 s, then 20 s: the 20 s gap is the hold.
        let turns = [
            turn(Speaker::Agent, 0, 2_000, "one moment please"),
            turn(Speaker::Customer, 4_500, 5_000, "ok"),
            turn(Speaker::Agent, 9_000, 10_000, "still there"),
            turn(Speaker::Customer, 30_000, 31_000, "yes"),
        ];
        let call = synthetic::transcript_from_turns(Layout::Stereo, "en", 32_000, &turns);
        let measured = measure(&call, &MetricsOptions::default());
        assert_eq!(spans_of(&measured, EVENT_HOLD), [(10_000, 30_000)]);
        assert_eq!(
            spans_of(&measured, EVENT_SILENCE),
            [(2_000, 4_500), (5_000, 9_000)]
        );
        // Only a 2 s pause after the phrase: no hold at all, a plain silence.
        let turns = [
            turn(Speaker::Agent, 0, 2_000, "one second"),
            turn(Speaker::Agent, 4_000, 6_000, "here it is"),
        ];
        let call = synthetic::transcript_from_turns(Layout::Stereo, "en", 7_000, &turns);
        let measured = measure(&call, &MetricsOptions::default());
        assert!(events_of(&measured, EVENT_HOLD).is_empty());
        assert_eq!(measured.metrics["n_holds"], 0.0);
        assert_eq!(spans_of(&measured, EVENT_SILENCE), [(2_000, 4_000)]);
    }

    #[test]
    fn a_customer_speaking_first_does_not_turn_a_late_answer_into_dead_air() {
        // The customer's "hello? hello?" at 0.5 s, the agent's first word at 14 s: one late
        // answer, charged as answer delay only.
        let turns = [
            turn(Speaker::Customer, 500, 1_500, "Hello? Hello?"),
            turn(
                Speaker::Agent,
                14_000,
                18_000,
                "Good morning, thank you for calling Acme Bank, my name is Maria.",
            ),
            turn(
                Speaker::Customer,
                19_000,
                22_000,
                "Hi, I want to check my payment please.",
            ),
            turn(
                Speaker::Agent,
                23_000,
                27_000,
                "Sure, it went through yesterday. Thank you for calling, goodbye.",
            ),
        ];
        let call = synthetic::transcript_from_turns(Layout::Stereo, "en", 28_000, &turns);
        let measured = measure(&call, &MetricsOptions::default());
        assert_sane(&measured);
        assert_eq!(measured.metrics["answer_delay_ms"], 14_000.0);
        assert_eq!(measured.metric_spans["answer_delay_ms"], (0, 14_000));
        assert_eq!(
            spans_of(&measured, EVENT_SILENCE),
            [(18_000, 19_000), (22_000, 23_000)]
        );
        assert_eq!(measured.metrics["n_dead_air"], 0.0);
        assert_eq!(measured.metrics["dead_air_total_ms"], 0.0);
        assert_eq!(measured.metrics["n_holds"], 0.0);
        assert_eq!(measured.metrics["longest_silence_ms"], 1_000.0);
    }

    #[test]
    fn a_gap_straddling_the_pickup_is_silence_only_after_it() {
        // Mono, picked up at 10 s: the 3–20 s gap is answer delay until 10 s, then 10 s of
        // dead air.
        let turns = [
            turn(Speaker::Unknown, 1_000, 3_000, "hello"),
            turn(Speaker::Unknown, 20_000, 24_000, "good morning acme bank"),
        ];
        let call = synthetic::transcript_from_turns(Layout::Mono, "en", 25_000, &turns);
        let options = MetricsOptions {
            answered_at_ms: Some(10_000),
            ..MetricsOptions::default()
        };
        let measured = measure(&call, &options);
        assert_eq!(measured.metrics["answer_delay_ms"], 10_000.0);
        let silences = events_of(&measured, EVENT_SILENCE);
        assert_eq!(silences.len(), 1, "{silences:?}");
        assert_eq!((silences[0].start_ms, silences[0].end_ms), (10_000, 20_000));
        assert_eq!(silences[0].detail, "no one spoke for 10.0 s after speech");
        assert_eq!(measured.metrics["dead_air_total_ms"], 10_000.0);
        assert_eq!(measured.metrics["longest_silence_ms"], 10_000.0);
    }

    #[test]
    fn a_traditional_chinese_hold_phrase_announces_the_hold() {
        let turns = [
            turn(
                Speaker::Agent,
                500,
                4_000,
                "您好，欢迎致电银行，我是客服小王，本次通话将被录音。",
            ),
            turn(Speaker::Customer, 5_000, 8_000, "我想查一下我的账单。"),
            turn(Speaker::Agent, 9_000, 11_000, "好的，請稍候。"),
            turn(Speaker::Customer, 11_500, 12_000, "好。"),
            turn(
                Speaker::Agent,
                42_000,
                46_000,
                "感谢您的耐心等待，账单已经发送，感谢您的来电，再见。",
            ),
            turn(Speaker::Customer, 47_000, 48_000, "非常滿意，謝謝。"),
        ];
        let call = synthetic::transcript_from_turns(Layout::Stereo, "zh", 49_000, &turns);
        let measured = measure(&call, &MetricsOptions::default());
        let holds = events_of(&measured, EVENT_HOLD);
        assert_eq!(holds.len(), 1, "{holds:?}");
        assert_eq!((holds[0].start_ms, holds[0].end_ms), (12_000, 42_000));
        assert!(holds[0].detail.contains("'请稍候'"), "{}", holds[0].detail);
        assert_eq!(measured.metrics["n_holds"], 1.0);
        assert_eq!(measured.metrics["hold_total_ms"], 30_000.0);
        assert_eq!(measured.metrics["n_dead_air"], 0.0);
        assert_eq!(
            spans_of(&measured, EVENT_SILENCE),
            [(4_000, 5_000), (8_000, 9_000), (46_000, 47_000)]
        );
    }

    #[test]
    fn persian_zwnj_joins_a_word_in_the_speech_rate() {
        // Five words each time ("I want to see the books"), two of them joined by ZWNJ:
        // 10 words in 4 s is 150 words per minute.
        let sentence = "من می\u{200c}خواهم کتاب\u{200c}ها را ببینم";
        let turns = [
            turn(Speaker::Agent, 500, 2_500, sentence),
            turn(Speaker::Customer, 3_000, 5_000, "بله"),
            turn(Speaker::Agent, 5_500, 7_500, sentence),
        ];
        let call = synthetic::transcript_from_turns(Layout::Stereo, "fa", 8_000, &turns);
        let measured = measure(&call, &MetricsOptions::default());
        assert_eq!(measured.metrics["agent_words_per_minute"], 150.0);
        assert_eq!(measured.metrics["customer_words_per_minute"], 30.0);
    }

    #[test]
    fn unannounced_minute_of_silence_is_dead_air_and_a_hold() {
        let (call, _) = synthetic::build(&synthetic::Scenario {
            long_gap_after_turn: Some((5, 70_000)),
            ..synthetic::Scenario::default()
        });
        let measured = measure(&call, &MetricsOptions::default());
        assert_eq!(events_of(&measured, EVENT_SILENCE).len(), 1);
        assert_eq!(events_of(&measured, EVENT_HOLD).len(), 1);
        assert_eq!(measured.metrics["n_dead_air"], 1.0);
        assert_eq!(measured.metrics["n_holds"], 1.0);
    }

    #[test]
    fn hold_phrases_are_recognised_in_every_rulebook_language() {
        let phrases = text_phrases();
        for sentence in [
            "Please hold, I'll check.",
            "Un momento, por favor.",
            "Подождите, пожалуйста.",
            "Proszę czekać na linii.",
            "好的，请稍等一下。",
            "لطفاً منتظر بمانيد", // Arabic yeh and a tanween, as ASR may write it
        ] {
            let clauses = text::clauses(sentence);
            assert!(
                phrases
                    .iter()
                    .any(|phrase| text::clauses_contain(&clauses, phrase)),
                "no hold phrase found in {sentence:?}"
            );
        }
        let clauses = text::clauses("At the moment I hold a gold card");
        assert!(
            !phrases
                .iter()
                .any(|phrase| text::clauses_contain(&clauses, phrase))
        );
    }

    fn text_phrases() -> Vec<Vec<String>> {
        DEFAULT_HOLD_PHRASES
            .iter()
            .map(|phrase| text::phrase_units(phrase))
            .collect()
    }

    #[test]
    fn backchannel_is_overtalk_but_not_an_interruption() {
        let turns = [
            turn(
                Speaker::Customer,
                1_000,
                8_000,
                "so then the parcel came back",
            ),
            turn(Speaker::Agent, 4_000, 4_500, "mm-hm"),
        ];
        let call = synthetic::transcript_from_turns(Layout::Stereo, "en", 9_000, &turns);
        let measured = measure(&call, &MetricsOptions::default());
        assert_eq!(events_of(&measured, EVENT_OVERTALK).len(), 1);
        assert!(events_of(&measured, EVENT_INTERRUPTION).is_empty());
        assert_eq!(measured.metrics["n_interruptions"], 0.0);
        assert_eq!(measured.metrics["overtalk_ms"], 500.0);
    }

    #[test]
    fn customer_talking_over_agent_is_not_an_agent_interruption() {
        let turns = [
            turn(
                Speaker::Agent,
                1_000,
                8_000,
                "our terms say that the fee applies",
            ),
            turn(Speaker::Customer, 5_000, 10_000, "but nobody told me that"),
        ];
        let call = synthetic::transcript_from_turns(Layout::Stereo, "en", 11_000, &turns);
        let measured = measure(&call, &MetricsOptions::default());
        let overtalk = events_of(&measured, EVENT_OVERTALK);
        assert_eq!(overtalk.len(), 1);
        assert_eq!(overtalk[0].speaker, Some(Speaker::Customer));
        assert!(events_of(&measured, EVENT_INTERRUPTION).is_empty());
    }

    #[test]
    fn unassigned_stereo_measures_overtalk_without_interruptions() {
        let turns = [
            turn(Speaker::Agent, 1_000, 5_000, "hello"),
            turn(Speaker::Customer, 4_000, 7_000, "hi"),
        ];
        let call = synthetic::transcript_from_turns(Layout::StereoUnassigned, "en", 8_000, &turns);
        let measured = measure(&call, &MetricsOptions::default());
        assert_eq!(measured.metrics["overtalk_ms"], 1_000.0);
        assert!(!measured.metrics.contains_key("n_interruptions"));
        assert!(!measured.metrics.contains_key("agent_talk_ms"));
    }

    #[test]
    fn chinese_speech_rate_counts_characters() {
        let turns = [
            // 13 characters in 3 s twice: 260 characters per minute (the comma does not count).
            turn(Speaker::Agent, 0, 3_000, "您好，请问有什么可以帮您的吗"),
            turn(Speaker::Agent, 4_000, 7_000, "我帮您查一下订单的情况好吗"),
        ];
        let call = synthetic::transcript_from_turns(Layout::Stereo, "zh", 8_000, &turns);
        let measured = measure(&call, &MetricsOptions::default());
        let expected = 26.0 / 6.0 * 60.0;
        assert!(near(
            measured.metrics["agent_words_per_minute"],
            expected,
            0.01
        ));
    }
}
