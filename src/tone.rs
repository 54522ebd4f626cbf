//! Emotional tone of a call: text sentiment and vocal arousal per utterance, the agent's tone
//! over the call, and the customer's sentiment at the start and end.
//!
//! Promises:
//! - **Pure and cheap.** [`assess_tone`] is a function of the transcript, the lexicons loaded
//!   once by [`ToneLexicons::load`] and the options; it does no I/O, never panics on input and
//!   costs microseconds per call.
//! - **Explainable.** Every sentiment names the lexicon words that moved it
//!   ("not happy (-0.5, negated)"), every arousal names the measurements that raised it
//!   ("+8.1 dB louder than own baseline"), and the agent tone names the seconds and words.
//! - **Relative, never absolute, voice measures.** Arousal compares an utterance with the same
//!   speaker's other utterances in the same call (leave-one-out median), so a naturally loud or
//!   high voice is not "agitated". A mono channel mixes two voices and has no such baseline:
//!   its arousal is `None`.
//! - **Agent voice analysis can be switched off** ([`ToneOptions::agent_vocal_analysis`]; EU AI
//!   Act Art. 5(1)(f) restricts inferring employees' emotions). Then no agent arousal is
//!   computed at all (also not for unassigned channels that may be the agent's), the agent's
//!   loudness (`agent_loudness_db`) is dropped, and the agent tone is judged from words only.
//! - **Unmeasurable means absent.** Sentiment metrics are absent when no lexicon covers the
//!   call's language or the speaker said nothing scorable; never NaN.
//!
//! Lexicon files (`rules/lexicons/sentiment/<language>.txt`, UTF-8) hold one entry per line,
//! `entry<TAB>number`, in sections:
//! - `[sentiment]` (the default before any header): score in -1..1;
//! - `[negators]`: words that flip a sentiment word up to a few words *after* them ("not",
//!   "не", "不"); the number is the factor applied (about -0.8: negation weakens as it flips);
//! - `[negators_after]`: words that flip the sentiment word *before* them (Persian "نیست" in
//!   "خوب نیست", "not good");
//! - `[intensifiers]`: factors for the next sentiment word ("very" 1.4, "a bit" 0.7).
//!
//! An entry may be several words ("thank you", "no problem"); a word ending in `*` matches
//! every word starting with it (`отвратительн*`, `zadowolon*`), the cheap way to cover
//! Russian, Polish and Spanish inflection. Chinese (and other text without spaces) is matched
//! character by character, so entries match as substrings. Entries go through the same
//! normalisation as transcripts: lowercase, Spanish accents dropped, `ё`→`е`, Arabic letter
//! forms to Persian (`ي`→`ی`, `ك`→`ک`), Arabic diacritics dropped, traditional Chinese
//! characters as simplified (the rules normaliser's table), ZWNJ as a word break.
//! A sentiment score of 0 marks a neutral phrase whose only job is to stop a shorter entry
//! from matching inside it (Chinese "差不多", "almost", holds "差", "poor"). `#` starts a
//! comment line.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::metrics::{self, MetricsOptions};
use crate::types::{
    AgentTone, CallTranscript, Layout, Measurements, RegionAcoustics, Segment, SegmentQuality,
    Speaker, UtteranceTone,
};

/// How many words may stand between a negator and the sentiment word it flips
/// ("I don't really think it's good": three words between "don't" and "good").
const NEGATION_WINDOW_WORDS: usize = 3;
/// The same window for text matched character by character (Chinese); a Chinese word is about
/// 1.5 characters, so four characters is roughly the same reach ("不是很满意").
const NEGATION_WINDOW_CHARACTERS: usize = 4;
/// How many words may stand between a sentiment word and a negator that follows it
/// (Persian "راضی هم نیستم", "not satisfied either").
const NEGATION_AFTER_WINDOW: usize = 2;
/// How many units may stand between an intensifier and its word ("very, very angry" works;
/// "very much I think angry" does not).
const INTENSIFIER_WINDOW: usize = 1;

/// Arousal is a weighted mean of three components, each 0..1. Loudness and pitch are the
/// strongest vocal cues of arousal; speech rate is noisier (it depends on Whisper's segment
/// timing and on what is being said), so it weighs least.
const LOUDNESS_WEIGHT: f32 = 0.40;
const PITCH_WEIGHT: f32 = 0.35;
const RATE_WEIGHT: f32 = 0.25;
/// The rise that counts as fully aroused for each component. An agitated turn in the tested
/// scenario (+8 dB, +300 cents, +25 % faster) lands near 0.8; ordinary variation between
/// utterances (±2 dB, ±80 cents, ±10 %) stays below 0.25.
const LOUDNESS_FULL_SCALE_DB: f32 = 10.0;
const PITCH_FULL_SCALE_CENTS: f32 = 400.0;
const RATE_FULL_SCALE_PERCENT: f32 = 30.0;
/// Rises below these are within ordinary variation and are not named as reasons.
const LOUDNESS_REASON_FLOOR_DB: f32 = 3.0;
const PITCH_REASON_FLOOR_CENTS: f32 = 100.0;
const RATE_REASON_FLOOR_PERCENT: f32 = 15.0;
/// A speech rate over a shorter stretch, or fewer words, says little.
const MIN_RATE_DURATION_MS: u64 = 800;
const MIN_RATE_UNITS: usize = 2;
/// Pitch trackers report octave errors and noise outside the human speaking range.
const PITCH_RANGE_HZ: (f32, f32) = (40.0, 1000.0);
/// How many of the customer's first and last utterances make "start" and "end" sentiment.
const CUSTOMER_WINDOW_UTTERANCES: usize = 3;
/// How many utterances the agent-tone reasons name at most; the verdict uses all of them.
const MAX_TONE_REASON_UTTERANCES: usize = 5;

/// Settings of the tone stage. Deserialisable so that the configuration can embed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToneOptions {
    /// Measure vocal arousal of agents. Off: agent arousal is `None` and the agent tone is
    /// judged from words only (EU AI Act Art. 5(1)(f)).
    pub agent_vocal_analysis: bool,
    /// Arousal at or above this is "high" (a raised voice).
    pub high_arousal: f32,
    /// Arousal at or above this is "elevated".
    pub elevated_arousal: f32,
    /// An utterance with a negative word and sentiment at or below this is "harsh".
    pub harsh_sentiment: f32,
    /// Sentiment at or below this is "strongly negative".
    pub strongly_negative_sentiment: f32,
}

impl Default for ToneOptions {
    fn default() -> Self {
        ToneOptions {
            agent_vocal_analysis: true,
            high_arousal: 0.7,
            elevated_arousal: 0.4,
            harsh_sentiment: -0.4,
            strongly_negative_sentiment: -0.6,
        }
    }
}

/// Runs the metrics stage with default settings and no call metadata, then the tone stage:
/// everything [`Measurements`] holds. Use [`analyse_with`] to pass the call's ring time and
/// pickup moment or other metrics settings.
pub fn analyse(
    transcript: &CallTranscript,
    lexicons: &ToneLexicons,
    tone_options: &ToneOptions,
) -> Measurements {
    analyse_with(
        transcript,
        lexicons,
        &MetricsOptions::default(),
        tone_options,
    )
}

/// Runs the metrics stage and then the tone stage: everything [`Measurements`] holds.
pub fn analyse_with(
    transcript: &CallTranscript,
    lexicons: &ToneLexicons,
    metrics_options: &MetricsOptions,
    tone_options: &ToneOptions,
) -> Measurements {
    let mut measurements = metrics::measure(transcript, metrics_options);
    assess_tone(transcript, lexicons, tone_options, &mut measurements);
    measurements
}

/// Fills `utterances` (one per segment, in segment order), `agent_tone`,
/// `agent_tone_reasons`, `agent_tone_span` and the sentiment metrics (`customer_sentiment_start`,
/// `customer_sentiment_end`, `customer_sentiment_change`, `agent_sentiment_mean`) of
/// `measurements`, replacing what they held.
pub fn assess_tone(
    transcript: &CallTranscript,
    lexicons: &ToneLexicons,
    options: &ToneOptions,
    measurements: &mut Measurements,
) {
    let sentiments: Vec<Option<TextSentiment>> = transcript
        .segments
        .iter()
        .map(|segment| {
            segment_language(transcript, segment)
                .and_then(|language| lexicons.for_language(language))
                .map(|lexicon| lexicon.score_text(&segment.text))
        })
        .collect();
    let voices = vocal_arousal(transcript, options);
    if !options.agent_vocal_analysis {
        // No measure of the agent's voice at all leaves the stage: the loudness the metrics
        // stage took of the agent's channel goes too.
        measurements.metrics.remove("agent_loudness_db");
    }

    measurements.utterances = transcript
        .segments
        .iter()
        .enumerate()
        .map(|(segment_index, _)| {
            let sentiment = sentiments[segment_index].as_ref();
            let voice = voices[segment_index].as_ref();
            UtteranceTone {
                segment_index,
                sentiment: sentiment.map_or(0.0, |scored| scored.sentiment),
                sentiment_terms: sentiment
                    .map(|scored| scored.terms.iter().map(ToString::to_string).collect())
                    .unwrap_or_default(),
                arousal: voice.map(|voice| voice.arousal),
                arousal_reasons: voice.map(|voice| voice.reasons()).unwrap_or_default(),
            }
        })
        .collect();

    for name in [
        "customer_sentiment_start",
        "customer_sentiment_end",
        "customer_sentiment_change",
        "agent_sentiment_mean",
    ] {
        measurements.metrics.remove(name);
        measurements.metric_spans.remove(name);
    }
    insert_sentiment_metrics(
        transcript,
        &sentiments,
        &mut measurements.metrics,
        &mut measurements.metric_spans,
    );

    let verdict = judge_agent_tone(transcript, &sentiments, &voices, options);
    measurements.agent_tone = verdict.tone;
    measurements.agent_tone_reasons = verdict.reasons;
    measurements.agent_tone_span = verdict.span;
}

/// The language of the segment's channel, else the call's.
fn segment_language<'transcript>(
    transcript: &'transcript CallTranscript,
    segment: &Segment,
) -> Option<&'transcript str> {
    transcript
        .channels
        .iter()
        .find(|channel| channel.channel == segment.channel)
        .and_then(|channel| channel.language.as_deref())
        .or_else(|| transcript.language())
}

/// Segment indices of one speaker's trustworthy utterances, in time order. Segments whose
/// transcript is not `Ok` are shown with their tone but never feed a call-level verdict.
fn scorable_segments_of(transcript: &CallTranscript, speaker: Speaker) -> Vec<usize> {
    let mut indices: Vec<usize> = transcript
        .segments
        .iter()
        .enumerate()
        .filter(|(_, segment)| segment.speaker == speaker && segment.quality == SegmentQuality::Ok)
        .map(|(segment_index, _)| segment_index)
        .collect();
    indices.sort_by_key(|&segment_index| {
        let segment = &transcript.segments[segment_index];
        (segment.start_ms, segment.channel)
    });
    indices
}

/// The sentiment metrics, and where the customer's start and end lie in the call
/// (`metric_spans`): a finding on them points at the utterances that were averaged.
fn insert_sentiment_metrics(
    transcript: &CallTranscript,
    sentiments: &[Option<TextSentiment>],
    metrics: &mut BTreeMap<String, f64>,
    metric_spans: &mut BTreeMap<String, (u64, u64)>,
) {
    let scored = |speaker: Speaker| -> Vec<(usize, f64)> {
        scorable_segments_of(transcript, speaker)
            .into_iter()
            .filter_map(|segment_index| {
                let scored = sentiments[segment_index].as_ref()?;
                Some((segment_index, f64::from(scored.sentiment)))
            })
            .collect()
    };
    let values = |utterances: &[(usize, f64)]| -> Vec<f64> {
        utterances.iter().map(|&(_, value)| value).collect()
    };
    let extent = |utterances: &[(usize, f64)]| -> Option<(u64, u64)> {
        let segments = utterances
            .iter()
            .map(|&(segment_index, _)| &transcript.segments[segment_index]);
        let start_ms = segments.clone().map(|segment| segment.start_ms).min()?;
        let end_ms = segments.map(|segment| segment.end_ms).max()?;
        Some((start_ms, end_ms.max(start_ms)))
    };

    let customer = scored(Speaker::Customer);
    if !customer.is_empty() {
        // With fewer than six utterances the start and end windows would overlap; halve instead
        // so that "change" compares different utterances.
        let window = CUSTOMER_WINDOW_UTTERANCES.min((customer.len() / 2).max(1));
        let (first, last) = (&customer[..window], &customer[customer.len() - window..]);
        let start = mean(&values(first));
        let end = mean(&values(last));
        metrics.insert("customer_sentiment_start".to_owned(), start);
        metrics.insert("customer_sentiment_end".to_owned(), end);
        for (name, utterances) in [
            ("customer_sentiment_start", first),
            ("customer_sentiment_end", last),
        ] {
            if let Some(span) = extent(utterances) {
                metric_spans.insert(name.to_owned(), span);
            }
        }
        if customer.len() >= 2 {
            metrics.insert(
                "customer_sentiment_change".to_owned(),
                round_to_four_decimals(end - start),
            );
        }
    }

    let agent = scored(Speaker::Agent);
    if !agent.is_empty() {
        metrics.insert("agent_sentiment_mean".to_owned(), mean(&values(&agent)));
    }
}

/// The mean, rounded to four decimals: utterance sentiments are `f32`, and their float noise
/// (0.6400000055631) has no place in the dataset.
fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    round_to_four_decimals(values.iter().sum::<f64>() / values.len() as f64)
}

fn round_to_four_decimals(value: f64) -> f64 {
    (value * 10_000.0).round() / 10_000.0
}

// ---------------------------------------------------------------------------------------------
// Agent tone
// ---------------------------------------------------------------------------------------------

/// Judges the agent's tone from the agent's trustworthy utterances. An utterance is harsh when
/// its sentiment, or one of its terms, is at or below `harsh_sentiment`.
/// - `agitated`: a high-arousal utterance with harsh words, or three high-arousal utterances,
///   or three strongly negative ones;
/// - `tense`: a high-arousal utterance, an elevated one with harsh words, two harsh
///   utterances, or elevated arousal in at least a fifth of the agent's utterances (two or
///   more);
/// - `calm` otherwise. `None` when the call has no agent channel or the agent said nothing.
///
/// Negative words alone rarely make an agent tense: agents echo the customer's words when
/// they empathise ("I'm sorry, that is terrible"), so words need repetition or a raised voice.
fn judge_agent_tone(
    transcript: &CallTranscript,
    sentiments: &[Option<TextSentiment>],
    voices: &[Option<VoiceArousal>],
    options: &ToneOptions,
) -> AgentToneVerdict {
    let has_agent_channel = transcript
        .channels
        .iter()
        .any(|channel| channel.speaker == Speaker::Agent);
    let agent_segments = scorable_segments_of(transcript, Speaker::Agent);
    if !has_agent_channel || agent_segments.is_empty() {
        return AgentToneVerdict::default();
    }

    let utterances: Vec<AgentUtterance> = agent_segments
        .iter()
        .map(|&segment_index| {
            let arousal = voices[segment_index].as_ref().map(|voice| voice.arousal);
            let sentiment = sentiments[segment_index].as_ref();
            let has_negative_word =
                sentiment.is_some_and(|scored| scored.terms.iter().any(|term| term.score < 0.0));
            let value = sentiment.map_or(0.0, |scored| scored.sentiment);
            // A harsh word is harsh whatever else the utterance says: "This is ridiculous …
            // not a nightmare" averages to mild, but "ridiculous" was still said.
            let harshest_term = sentiment
                .and_then(|scored| scored.terms.iter().map(|term| term.score).reduce(f32::min))
                .unwrap_or(0.0);
            AgentUtterance {
                segment_index,
                high: arousal.is_some_and(|arousal| arousal >= options.high_arousal),
                elevated: arousal.is_some_and(|arousal| arousal >= options.elevated_arousal),
                harsh: has_negative_word
                    && (value <= options.harsh_sentiment
                        || harshest_term <= options.harsh_sentiment),
                strongly_negative: has_negative_word
                    && value <= options.strongly_negative_sentiment,
            }
        })
        .collect();
    let n_with_arousal = agent_segments
        .iter()
        .filter(|&&segment_index| voices[segment_index].is_some())
        .count();
    let count = |predicate: &dyn Fn(&AgentUtterance) -> bool| {
        utterances
            .iter()
            .filter(|utterance| predicate(utterance))
            .count()
    };
    let n_high = count(&|utterance| utterance.high);
    let n_high_and_harsh = count(&|utterance| utterance.high && utterance.harsh);
    let n_elevated = count(&|utterance| utterance.elevated);
    let n_elevated_and_harsh = count(&|utterance| utterance.elevated && utterance.harsh);
    let n_harsh = count(&|utterance| utterance.harsh);
    let n_strongly_negative = count(&|utterance| utterance.strongly_negative);
    let elevated_share_threshold = 2.max(n_with_arousal.div_ceil(5));

    let (tone, summary, contributes): (AgentTone, String, &AgentUtterancePredicate) =
        if n_high_and_harsh > 0 {
            (
                AgentTone::Agitated,
                "agitated: raised voice together with negative words".to_owned(),
                &|utterance| utterance.high && utterance.harsh,
            )
        } else if n_high >= 3 {
            (
                AgentTone::Agitated,
                format!("agitated: raised voice in {n_high} utterances"),
                &|utterance| utterance.high,
            )
        } else if n_strongly_negative >= 3 {
            (
                AgentTone::Agitated,
                format!("agitated: strongly negative words in {n_strongly_negative} utterances"),
                &|utterance| utterance.strongly_negative,
            )
        } else if n_high > 0 {
            (
                AgentTone::Tense,
                "tense: raised voice".to_owned(),
                &|utterance| utterance.high,
            )
        } else if n_elevated_and_harsh > 0 {
            (
                AgentTone::Tense,
                "tense: somewhat raised voice together with negative words".to_owned(),
                &|utterance| utterance.elevated && utterance.harsh,
            )
        } else if n_harsh >= 2 {
            (
                AgentTone::Tense,
                format!("tense: negative words in {n_harsh} utterances"),
                &|utterance| utterance.harsh,
            )
        } else if n_elevated >= elevated_share_threshold {
            (
                AgentTone::Tense,
                format!(
                    "tense: somewhat raised voice in {n_elevated} of {n_with_arousal} utterances"
                ),
                &|utterance| utterance.elevated,
            )
        } else {
            (
                AgentTone::Calm,
                "calm: no raised voice and no repeated negative words".to_owned(),
                &|_| false,
            )
        };

    let mut reasons = vec![summary];
    if !options.agent_vocal_analysis {
        reasons.push("agent vocal analysis is switched off: judged from words only".to_owned());
    }
    for utterance in utterances
        .iter()
        .filter(|utterance| contributes(utterance))
        .take(MAX_TONE_REASON_UTTERANCES)
    {
        reasons.push(describe_agent_utterance(
            &transcript.segments[utterance.segment_index],
            sentiments[utterance.segment_index].as_ref(),
            voices[utterance.segment_index].as_ref(),
        ));
    }
    // Every contributing utterance, not only the ones named: the span says where to listen.
    let span = utterances
        .iter()
        .filter(|utterance| contributes(utterance))
        .map(|utterance| {
            let segment = &transcript.segments[utterance.segment_index];
            (segment.start_ms, segment.end_ms.max(segment.start_ms))
        })
        .reduce(|(start_ms, end_ms), (next_start_ms, next_end_ms)| {
            (start_ms.min(next_start_ms), end_ms.max(next_end_ms))
        });
    AgentToneVerdict {
        tone: Some(tone),
        reasons,
        span,
    }
}

/// The agent tone over a call, why, and where (see [`Measurements::agent_tone_span`]).
#[derive(Debug, Default)]
struct AgentToneVerdict {
    tone: Option<AgentTone>,
    reasons: Vec<String>,
    span: Option<(u64, u64)>,
}

/// One agent utterance, classified for the tone verdict.
struct AgentUtterance {
    segment_index: usize,
    high: bool,
    elevated: bool,
    harsh: bool,
    strongly_negative: bool,
}

/// Which utterances made the verdict, named in the reasons.
type AgentUtterancePredicate = dyn Fn(&AgentUtterance) -> bool;

/// "at 42.3–45.1 s: +8.1 dB louder than own baseline, +300 cents higher, +25 % faster
/// (arousal 0.79); words: 'ridiculous' (-0.8)"
fn describe_agent_utterance(
    segment: &Segment,
    sentiment: Option<&TextSentiment>,
    voice: Option<&VoiceArousal>,
) -> String {
    let mut description = format!(
        "at {}–{} s",
        format_seconds(segment.start_ms),
        format_seconds(segment.end_ms.max(segment.start_ms))
    );
    let mut parts = Vec::new();
    if let Some(voice) = voice {
        let reasons = voice.reasons();
        if reasons.is_empty() {
            parts.push(format!("arousal {:.2}", voice.arousal));
        } else {
            parts.push(format!(
                "{} (arousal {:.2})",
                reasons.join(", "),
                voice.arousal
            ));
        }
    }
    if let Some(sentiment) = sentiment {
        let negative_words: Vec<String> = sentiment
            .terms
            .iter()
            .filter(|term| term.score < 0.0)
            .map(|term| format!("'{}' ({:+.1})", term.text, term.score))
            .collect();
        if !negative_words.is_empty() {
            parts.push(format!("words: {}", negative_words.join(", ")));
        }
    }
    if !parts.is_empty() {
        description.push_str(": ");
        description.push_str(&parts.join("; "));
    }
    description
}

fn format_seconds(milliseconds: u64) -> String {
    format!("{:.1}", milliseconds as f64 / 1000.0)
}

// ---------------------------------------------------------------------------------------------
// Vocal arousal
// ---------------------------------------------------------------------------------------------

/// The voice of one utterance, measured from the acoustics of the speech regions it overlaps.
#[derive(Debug, Clone, Copy, Default)]
struct VoiceMeasures {
    /// Energy mean of the overlapped regions' RMS levels, dBFS.
    loudness_db: Option<f32>,
    /// Mean pitch of the overlapped regions, cents above 1 Hz (a log scale, so that means and
    /// differences are musical intervals).
    pitch_cents: Option<f32>,
    /// Words (Chinese: characters) per second over the segment.
    rate_units_per_second: Option<f32>,
}

/// Arousal of one utterance against its speaker's own baseline, with the rises behind it.
#[derive(Debug, Clone, Copy)]
struct VoiceArousal {
    arousal: f32,
    loudness_rise_db: f32,
    pitch_rise_cents: Option<f32>,
    rate_rise_percent: Option<f32>,
}

impl VoiceArousal {
    fn reasons(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        if self.loudness_rise_db >= LOUDNESS_REASON_FLOOR_DB {
            reasons.push(format!(
                "+{:.1} dB louder than own baseline",
                self.loudness_rise_db
            ));
        }
        if let Some(cents) = self
            .pitch_rise_cents
            .filter(|&cents| cents >= PITCH_REASON_FLOOR_CENTS)
        {
            reasons.push(format!("+{cents:.0} cents higher"));
        }
        if let Some(percent) = self
            .rate_rise_percent
            .filter(|&percent| percent >= RATE_REASON_FLOOR_PERCENT)
        {
            reasons.push(format!("+{percent:.0} % faster"));
        }
        reasons
    }
}

/// Arousal for every segment (indexed like `transcript.segments`), `None` where it may not or
/// cannot be measured.
fn vocal_arousal(transcript: &CallTranscript, options: &ToneOptions) -> Vec<Option<VoiceArousal>> {
    let mut arousal = vec![None; transcript.segments.len()];
    if transcript.layout == Layout::Mono {
        // One channel carries both voices: there is no single speaker's baseline.
        return arousal;
    }
    for channel in &transcript.channels {
        let allowed = match channel.speaker {
            Speaker::Customer => true,
            // An unassigned channel may be the agent's, so it follows the agent switch.
            Speaker::Agent | Speaker::Unknown => options.agent_vocal_analysis,
        };
        if !allowed {
            continue;
        }
        let segment_indices: Vec<usize> = transcript
            .segments
            .iter()
            .enumerate()
            .filter(|(_, segment)| {
                segment.channel == channel.channel && segment.speaker == channel.speaker
            })
            .map(|(segment_index, _)| segment_index)
            .collect();
        if segment_indices.len() < 2 {
            continue;
        }
        let acoustics = sorted_valid_acoustics(&channel.acoustics);
        let measures: Vec<VoiceMeasures> = segment_indices
            .iter()
            .map(|&segment_index| measure_voice(&transcript.segments[segment_index], &acoustics))
            .collect();
        let loudness_baseline = LeaveOneOutMedian::new(measures.iter().map(|m| m.loudness_db));
        let pitch_baseline = LeaveOneOutMedian::new(measures.iter().map(|m| m.pitch_cents));
        let rate_baseline =
            LeaveOneOutMedian::new(measures.iter().map(|m| m.rate_units_per_second));

        for (position, &segment_index) in segment_indices.iter().enumerate() {
            let voice = measures[position];
            // Loudness anchors arousal: without region acoustics there is no voice measure.
            let (Some(loudness), Some(loudness_base)) =
                (voice.loudness_db, loudness_baseline.excluding(position))
            else {
                continue;
            };
            let loudness_rise_db = loudness - loudness_base;
            let pitch_rise_cents = voice
                .pitch_cents
                .zip(pitch_baseline.excluding(position))
                .map(|(pitch, base)| pitch - base);
            let rate_rise_percent = voice
                .rate_units_per_second
                .zip(rate_baseline.excluding(position))
                .filter(|&(_, base)| base > 0.0)
                .map(|(rate, base)| (rate / base - 1.0) * 100.0);

            let mut weighted_sum =
                LOUDNESS_WEIGHT * rise_component(loudness_rise_db, LOUDNESS_FULL_SCALE_DB);
            let mut weight_total = LOUDNESS_WEIGHT;
            if let Some(cents) = pitch_rise_cents {
                weighted_sum += PITCH_WEIGHT * rise_component(cents, PITCH_FULL_SCALE_CENTS);
                weight_total += PITCH_WEIGHT;
            }
            if let Some(percent) = rate_rise_percent {
                weighted_sum += RATE_WEIGHT * rise_component(percent, RATE_FULL_SCALE_PERCENT);
                weight_total += RATE_WEIGHT;
            }
            let value = (weighted_sum / weight_total).clamp(0.0, 1.0);
            if value.is_finite() {
                arousal[segment_index] = Some(VoiceArousal {
                    arousal: value,
                    loudness_rise_db,
                    pitch_rise_cents,
                    rate_rise_percent,
                });
            }
        }
    }
    arousal
}

/// A rise mapped to 0..1: falls and no change are 0, the full scale and beyond are 1.
fn rise_component(rise: f32, full_scale: f32) -> f32 {
    if rise.is_finite() {
        (rise / full_scale).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Region acoustics with finite values and a positive duration, ordered by start.
fn sorted_valid_acoustics(acoustics: &[RegionAcoustics]) -> Vec<RegionAcoustics> {
    let mut valid: Vec<RegionAcoustics> = acoustics
        .iter()
        .filter(|region| region.end_ms > region.start_ms && region.loudness_db.is_finite())
        .copied()
        .collect();
    valid.sort_by_key(|region| (region.start_ms, region.end_ms));
    valid
}

fn measure_voice(segment: &Segment, acoustics: &[RegionAcoustics]) -> VoiceMeasures {
    let start_ms = segment.start_ms;
    let end_ms = segment.end_ms.max(segment.start_ms);
    let mut power_sum = 0.0_f64;
    let mut loudness_weight = 0.0_f64;
    let mut cents_sum = 0.0_f64;
    let mut pitch_weight = 0.0_f64;
    // Regions are sorted by start; any region starting at or after the segment end cannot
    // overlap it. Regions may overlap each other in odd input, so scan from the beginning of
    // the candidates rather than assuming disjointness.
    let candidates_end = acoustics.partition_point(|region| region.start_ms < end_ms);
    for region in &acoustics[..candidates_end] {
        let overlap_ms = region
            .end_ms
            .min(end_ms)
            .saturating_sub(region.start_ms.max(start_ms));
        if overlap_ms == 0 {
            continue;
        }
        let weight = overlap_ms as f64;
        power_sum += weight * 10f64.powf(f64::from(region.loudness_db) / 10.0);
        loudness_weight += weight;
        if let Some(pitch_hz) = region.pitch_hz.filter(|&pitch| {
            pitch.is_finite() && pitch >= PITCH_RANGE_HZ.0 && pitch <= PITCH_RANGE_HZ.1
        }) {
            cents_sum += weight * 1200.0 * f64::from(pitch_hz).log2();
            pitch_weight += weight;
        }
    }
    let loudness_db = (loudness_weight > 0.0 && power_sum > 0.0)
        .then(|| (10.0 * (power_sum / loudness_weight).log10()) as f32)
        .filter(|value| value.is_finite());
    let pitch_cents = (pitch_weight > 0.0)
        .then(|| (cents_sum / pitch_weight) as f32)
        .filter(|value| value.is_finite());

    let duration_ms = end_ms - start_ms;
    let n_units = text::count_spoken_units(&segment.text);
    let rate_units_per_second = (duration_ms >= MIN_RATE_DURATION_MS && n_units >= MIN_RATE_UNITS)
        .then(|| n_units as f32 / (duration_ms as f32 / 1000.0));

    VoiceMeasures {
        loudness_db,
        pitch_cents,
        rate_units_per_second,
    }
}

/// The median of a speaker's values with one utterance left out: the baseline an utterance is
/// compared with. Leaving the utterance out keeps a single loud turn among two or three from
/// pulling its own baseline up.
struct LeaveOneOutMedian {
    /// Present values, sorted.
    sorted: Vec<f32>,
    /// For each utterance, the rank of its value in `sorted`, if it has one.
    ranks: Vec<Option<usize>>,
}

impl LeaveOneOutMedian {
    fn new(values: impl Iterator<Item = Option<f32>>) -> Self {
        let values: Vec<Option<f32>> = values
            .map(|value| value.filter(|value| value.is_finite()))
            .collect();
        let mut order: Vec<usize> = (0..values.len())
            .filter(|&position| values[position].is_some())
            .collect();
        order.sort_by(|&left, &right| {
            values[left]
                .unwrap_or_default()
                .total_cmp(&values[right].unwrap_or_default())
        });
        let mut ranks = vec![None; values.len()];
        for (rank, &position) in order.iter().enumerate() {
            ranks[position] = Some(rank);
        }
        let sorted = order
            .iter()
            .filter_map(|&position| values[position])
            .collect();
        LeaveOneOutMedian { sorted, ranks }
    }

    /// The median of all present values except utterance `position`'s; `None` when no other
    /// utterance has a value.
    fn excluding(&self, position: usize) -> Option<f32> {
        let skipped_rank = self.ranks.get(position).copied().flatten();
        let n_others = self.sorted.len() - usize::from(skipped_rank.is_some());
        if n_others == 0 {
            return None;
        }
        // The k-th smallest value among the others, skipping the left-out rank.
        let kth_other = |k: usize| -> f32 {
            let index = match skipped_rank {
                Some(rank) if k >= rank => k + 1,
                _ => k,
            };
            self.sorted[index]
        };
        Some(if n_others % 2 == 1 {
            kth_other(n_others / 2)
        } else {
            (kth_other(n_others / 2 - 1) + kth_other(n_others / 2)) / 2.0
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Lexicons
// ---------------------------------------------------------------------------------------------

/// A sentiment lexicon file could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum LexiconError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{path}:{line}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// The sentiment lexicons of every language, loaded once per run.
#[derive(Debug, Clone, Default)]
pub struct ToneLexicons {
    by_language: HashMap<String, Lexicon>,
}

impl ToneLexicons {
    /// Loads every `<language>.txt` in `dir` (for instance `rules/lexicons/sentiment`); other
    /// files are ignored. A missing directory or a malformed line is an error, so that a bad
    /// lexicon fails the run in its first second.
    pub fn load(dir: &Path) -> Result<Self, LexiconError> {
        let mut paths: Vec<PathBuf> = fs_err::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|extension| extension == "txt"))
            .collect();
        paths.sort();
        let mut lexicons = ToneLexicons::default();
        for path in paths {
            let Some(language) = path.file_stem().and_then(|stem| stem.to_str()) else {
                continue;
            };
            let source = fs_err::read_to_string(&path)?;
            let lexicon = Lexicon::parse(&source, &path)?;
            lexicons.by_language.insert(language_key(language), lexicon);
        }
        Ok(lexicons)
    }

    /// Builds lexicons from in-memory sources, `(language, text)`; `path` in errors is the
    /// language. For tests and embedded defaults.
    pub fn from_sources<'source>(
        sources: impl IntoIterator<Item = (&'source str, &'source str)>,
    ) -> Result<Self, LexiconError> {
        let mut lexicons = ToneLexicons::default();
        for (language, source) in sources {
            let lexicon = Lexicon::parse(source, Path::new(language))?;
            lexicons.by_language.insert(language_key(language), lexicon);
        }
        Ok(lexicons)
    }

    /// The lexicon for an ISO 639-1 code; region suffixes and case are ignored (`zh-CN`,
    /// `ZH_tw` → `zh`).
    pub fn for_language(&self, language: &str) -> Option<&Lexicon> {
        self.by_language.get(&language_key(language))
    }

    /// The languages that have a lexicon, sorted.
    pub fn languages(&self) -> Vec<&str> {
        let mut languages: Vec<&str> = self.by_language.keys().map(String::as_str).collect();
        languages.sort_unstable();
        languages
    }
}

fn language_key(language: &str) -> String {
    language
        .trim()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

/// The sentiment of one text with the terms that moved it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextSentiment {
    /// -1 (very negative) .. 1 (very positive); 0 when no lexicon word occurs.
    pub sentiment: f32,
    pub terms: Vec<SentimentTerm>,
}

/// One lexicon match after negation and intensifiers.
#[derive(Debug, Clone, PartialEq)]
pub struct SentimentTerm {
    /// The matched words with their modifiers, gaps shown as "…": "not … happy".
    pub text: String,
    /// The term's contribution, -1..1.
    pub score: f32,
    pub negated: bool,
}

impl fmt::Display for SentimentTerm {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} ({:+.1}", self.text, self.score)?;
        if self.negated {
            formatter.write_str(", negated")?;
        }
        formatter.write_str(")")
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum EntryKind {
    Sentiment(f32),
    Negator(f32),
    NegatorAfter(f32),
    Intensifier(f32),
}

/// One unit of an entry: a whole word, or a stem (`word*`) matching any word it starts.
#[derive(Debug, Clone)]
struct EntryUnit {
    text: String,
    is_stem: bool,
}

impl EntryUnit {
    fn matches(&self, unit: &str) -> bool {
        if self.is_stem {
            unit.starts_with(&self.text)
        } else {
            unit == self.text
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    units: Vec<EntryUnit>,
    kind: EntryKind,
}

/// One language's sentiment words, negators and intensifiers.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    entries: Vec<Entry>,
    /// Entry indices by their first unit, when that unit is a whole word or a character.
    by_first_unit: HashMap<String, Vec<usize>>,
    /// Entry indices by their first unit, when that unit is a stem.
    by_first_stem: HashMap<String, Vec<usize>>,
    /// The distinct lengths, in characters, of first-unit stems: the prefixes worth looking up.
    stem_lengths: Vec<usize>,
}

impl Lexicon {
    /// Parses one lexicon file (format in the module documentation). `path` names the source
    /// in errors.
    pub fn parse(source: &str, path: &Path) -> Result<Self, LexiconError> {
        let syntax_error = |line: usize, message: String| LexiconError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut lexicon = Lexicon::default();
        let mut first_definition: HashMap<String, usize> = HashMap::new();
        let mut section = "sentiment";
        for (line_index, raw_line) in source.lines().enumerate() {
            let line_number = line_index + 1;
            let line = raw_line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(header) = line
                .strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
            {
                section = match header.trim() {
                    "sentiment" => "sentiment",
                    "negators" => "negators",
                    "negators_after" => "negators_after",
                    "intensifiers" => "intensifiers",
                    other => {
                        return Err(syntax_error(
                            line_number,
                            format!(
                                "unknown section [{other}]; expected [sentiment], [negators], \
                                 [negators_after] or [intensifiers]"
                            ),
                        ));
                    }
                };
                continue;
            }
            // The number is the last field; the entry before it may hold spaces ("thank you").
            // A tab is the documented separator, but editors that turn tabs into spaces must
            // not break the file.
            let Some((entry_text, number_text)) = line.rsplit_once(['\t', ' ']) else {
                return Err(syntax_error(
                    line_number,
                    format!("expected `entry<TAB>number`, found {line:?}"),
                ));
            };
            let number: f32 = number_text.trim().parse().map_err(|_| {
                syntax_error(line_number, format!("{number_text:?} is not a number"))
            })?;
            let kind = match section {
                "sentiment" if (-1.0..=1.0).contains(&number) => EntryKind::Sentiment(number),
                "negators" if (-1.0..=0.0).contains(&number) => EntryKind::Negator(number),
                "negators_after" if (-1.0..=0.0).contains(&number) => {
                    EntryKind::NegatorAfter(number)
                }
                "intensifiers" if number > 0.0 && number <= 3.0 => EntryKind::Intensifier(number),
                "sentiment" => {
                    return Err(syntax_error(
                        line_number,
                        format!("score {number} is outside -1..1"),
                    ));
                }
                "intensifiers" => {
                    return Err(syntax_error(
                        line_number,
                        format!("intensifier factor {number} is outside 0..3 (above 0)"),
                    ));
                }
                _ => {
                    return Err(syntax_error(
                        line_number,
                        format!("negator factor {number} is outside -1..0"),
                    ));
                }
            };
            let units = parse_entry_units(entry_text.trim());
            if units.is_empty() {
                return Err(syntax_error(
                    line_number,
                    format!("entry {entry_text:?} has no words"),
                ));
            }
            let key = units
                .iter()
                .map(|unit| format!("{}{}", unit.text, if unit.is_stem { "*" } else { "" }))
                .collect::<Vec<_>>()
                .join(" ");
            if let Some(previous_line) = first_definition.insert(key.clone(), line_number) {
                return Err(syntax_error(
                    line_number,
                    format!("{key:?} is already defined on line {previous_line}"),
                ));
            }
            lexicon.add(Entry { units, kind });
        }
        lexicon.stem_lengths.sort_unstable();
        lexicon.stem_lengths.dedup();
        Ok(lexicon)
    }

    fn add(&mut self, entry: Entry) {
        let entry_index = self.entries.len();
        let first = &entry.units[0];
        if first.is_stem {
            self.stem_lengths.push(first.text.chars().count());
            self.by_first_stem
                .entry(first.text.clone())
                .or_default()
                .push(entry_index);
        } else {
            self.by_first_unit
                .entry(first.text.clone())
                .or_default()
                .push(entry_index);
        }
        self.entries.push(entry);
    }

    /// How many entries the lexicon holds (all sections).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The longest entry that matches `units` at `position`, with its length in units. Among
    /// entries of the same length the most specific wins (more pattern characters, so the
    /// whole word `хорошо` beats the stem `хорош*`), then the one defined first, so the
    /// result never depends on hash order.
    fn longest_match_at(&self, units: &[text::Unit], position: usize) -> Option<(usize, usize)> {
        let first = &units[position].text;
        let mut best: Option<(usize, usize)> = None;
        let specificity = |entry_index: usize| -> usize {
            self.entries[entry_index]
                .units
                .iter()
                .map(|unit| unit.text.len() + usize::from(!unit.is_stem))
                .sum()
        };
        let mut consider = |entry_index: usize| {
            let entry = &self.entries[entry_index];
            let length = entry.units.len();
            if position + length > units.len() {
                return;
            }
            let all_match = entry
                .units
                .iter()
                .zip(&units[position..position + length])
                .all(|(pattern, unit)| pattern.matches(&unit.text));
            if !all_match {
                return;
            }
            let better = match best {
                None => true,
                Some((best_index, best_length)) => {
                    let (specific, best_specific) =
                        (specificity(entry_index), specificity(best_index));
                    length > best_length
                        || (length == best_length
                            && (specific > best_specific
                                || (specific == best_specific && entry_index < best_index)))
                }
            };
            if better {
                best = Some((entry_index, length));
            }
        };
        if let Some(candidates) = self.by_first_unit.get(first.as_str()) {
            candidates.iter().copied().for_each(&mut consider);
        }
        if !self.stem_lengths.is_empty() && !units[position].is_ideographic {
            // Byte offsets where each prefix of the word ends, in characters: 0, 1, 2, ….
            let prefix_ends = first
                .char_indices()
                .map(|(byte_index, _)| byte_index)
                .chain(std::iter::once(first.len()));
            let mut prefix_ends = prefix_ends.enumerate().peekable();
            for &stem_length in &self.stem_lengths {
                // `stem_lengths` is ascending, so the iterator only moves forward.
                while prefix_ends
                    .peek()
                    .is_some_and(|&(n_chars, _)| n_chars < stem_length)
                {
                    prefix_ends.next();
                }
                let Some(&(_, byte_end)) = prefix_ends.peek() else {
                    break;
                };
                if let Some(candidates) = self.by_first_stem.get(&first[..byte_end]) {
                    candidates.iter().copied().for_each(&mut consider);
                }
            }
        }
        best
    }

    /// Scores a text: negation flips sentiment words within a small window, intensifiers scale
    /// the next word, neither reaches across punctuation ("No, I'm happy" stays positive).
    /// The terms combine like independent pieces of evidence: positive and negative sides each
    /// as `1 - Π(1 - |score|)`, sentiment = positive - negative, so one "angry" (-0.8) gives
    /// -0.8, two strong words approach -1, and mixed words partly cancel.
    pub fn score_text(&self, text: &str) -> TextSentiment {
        let mut terms = Vec::new();
        for clause in text::clauses(text) {
            self.score_clause(&clause, &mut terms);
        }
        let mut positive_remainder = 1.0_f32;
        let mut negative_remainder = 1.0_f32;
        for term in &terms {
            if term.score > 0.0 {
                positive_remainder *= 1.0 - term.score.min(1.0);
            } else {
                negative_remainder *= 1.0 - (-term.score).min(1.0);
            }
        }
        let sentiment = ((1.0 - positive_remainder) - (1.0 - negative_remainder)).clamp(-1.0, 1.0);
        TextSentiment {
            sentiment: if sentiment.is_finite() {
                sentiment
            } else {
                0.0
            },
            terms,
        }
    }

    fn score_clause(&self, units: &[text::Unit], terms: &mut Vec<SentimentTerm>) {
        struct Modifier {
            factor: f32,
            start: usize,
            end: usize,
        }
        let mut pending_negator: Option<Modifier> = None;
        let mut pending_intensifiers: Vec<Modifier> = Vec::new();
        // The last sentiment term of this clause, for negators that follow their word.
        struct LastTerm {
            term_index: usize,
            end: usize,
            pieces: Vec<(usize, usize)>,
        }
        let mut last_term: Option<LastTerm> = None;

        let mut position = 0;
        while position < units.len() {
            let Some((entry_index, length)) = self.longest_match_at(units, position) else {
                position += 1;
                continue;
            };
            let end = position + length;
            match self.entries[entry_index].kind {
                EntryKind::Negator(factor) => {
                    let factor = pending_negator
                        .take()
                        .map_or(factor, |earlier| earlier.factor * factor);
                    pending_negator = Some(Modifier {
                        factor,
                        start: position,
                        end,
                    });
                }
                EntryKind::Intensifier(factor) => {
                    // Only a chain of adjacent intensifiers carries over ("very very angry").
                    if pending_intensifiers
                        .last()
                        .is_some_and(|last| position - last.end > INTENSIFIER_WINDOW)
                    {
                        pending_intensifiers.clear();
                    }
                    pending_intensifiers.push(Modifier {
                        factor,
                        start: position,
                        end,
                    });
                }
                EntryKind::NegatorAfter(factor) => {
                    if let Some(mut last) = last_term.take()
                        && position - last.end <= NEGATION_AFTER_WINDOW
                        && !terms[last.term_index].negated
                    {
                        let term = &mut terms[last.term_index];
                        term.score = (term.score * factor).clamp(-1.0, 1.0);
                        term.negated = true;
                        last.pieces.push((position, end));
                        term.text = join_pieces(units, &last.pieces);
                    }
                }
                // A neutral entry only stops a shorter entry from matching inside it
                // (Chinese "差不多", "almost", holds "差", "poor").
                EntryKind::Sentiment(0.0) => {}
                EntryKind::Sentiment(base_score) => {
                    let mut score = base_score;
                    let mut pieces: Vec<(usize, usize)> = Vec::new();
                    let negation_window = if units[position].is_ideographic {
                        NEGATION_WINDOW_CHARACTERS
                    } else {
                        NEGATION_WINDOW_WORDS
                    };
                    let mut negated = false;
                    if let Some(negator) = pending_negator.take()
                        && position - negator.end <= negation_window
                    {
                        score *= negator.factor;
                        negated = true;
                        pieces.push((negator.start, negator.end));
                    }
                    if pending_intensifiers
                        .last()
                        .is_some_and(|last| position - last.end <= INTENSIFIER_WINDOW)
                    {
                        for intensifier in &pending_intensifiers {
                            score *= intensifier.factor;
                            pieces.push((intensifier.start, intensifier.end));
                        }
                    }
                    pending_intensifiers.clear();
                    pieces.push((position, end));
                    pieces.sort_unstable();
                    terms.push(SentimentTerm {
                        text: join_pieces(units, &pieces),
                        score: score.clamp(-1.0, 1.0),
                        negated,
                    });
                    last_term = Some(LastTerm {
                        term_index: terms.len() - 1,
                        end,
                        pieces,
                    });
                }
            }
            position = end;
        }
    }
}

/// Splits an entry into units, keeping the `*` of stems: "отвратительн*" is one stem unit,
/// "thank you" two words, "不满意" three characters.
fn parse_entry_units(entry: &str) -> Vec<EntryUnit> {
    let mut units = Vec::new();
    for word in entry.split_whitespace() {
        let (word, is_stem) = match word.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (word, false),
        };
        let word_units: Vec<text::Unit> = text::clauses(word).into_iter().flatten().collect();
        let n_word_units = word_units.len();
        for (unit_index, unit) in word_units.into_iter().enumerate() {
            units.push(EntryUnit {
                // A stem applies to the last unit of the word, and never to a character.
                is_stem: is_stem && unit_index + 1 == n_word_units && !unit.is_ideographic,
                text: unit.text,
            });
        }
    }
    units
}

/// Joins matched unit spans for display; spans that are not adjacent are separated by "…" so
/// that the explanation holds only lexicon words, never what was said between them.
fn join_pieces(units: &[text::Unit], pieces: &[(usize, usize)]) -> String {
    let mut joined = String::new();
    let mut previous_end: Option<usize> = None;
    for &(start, end) in pieces {
        if let Some(previous_end) = previous_end {
            if start > previous_end {
                joined.push_str(" … ");
            } else if !(units[start].is_ideographic && units[start - 1].is_ideographic) {
                joined.push(' ');
            }
        }
        for index in start..end {
            if index > start && !(units[index].is_ideographic && units[index - 1].is_ideographic) {
                joined.push(' ');
            }
            joined.push_str(&units[index].text);
        }
        previous_end = Some(end);
    }
    joined
}

/// Light text normalisation and tokenisation for lexicon and phrase matching. The pipeline's
/// full normaliser lives elsewhere; this is the small, fast subset that tone and metrics need.
pub(crate) mod text {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    /// A word, or one Han/kana character (text without spaces is matched character by
    /// character, so lexicon entries match it as substrings).
    #[derive(Debug, Clone, PartialEq)]
    pub(crate) struct Unit {
        pub(crate) text: String,
        pub(crate) is_ideographic: bool,
    }

    /// Han ideographs and Japanese kana: scripts written without spaces.
    pub(crate) fn is_ideographic(character: char) -> bool {
        matches!(character,
            '\u{3040}'..='\u{30FF}'     // Hiragana, Katakana
            | '\u{3400}'..='\u{4DBF}'   // CJK Extension A
            | '\u{4E00}'..='\u{9FFF}'   // CJK Unified Ideographs
            | '\u{F900}'..='\u{FAFF}'   // CJK Compatibility Ideographs
            | '\u{20000}'..='\u{2FFFF}' // CJK Extensions B and later
        )
    }

    /// Punctuation that ends a clause: negation and intensifiers do not reach across it.
    fn ends_clause(character: char) -> bool {
        matches!(
            character,
            '.' | ','
                | '!'
                | '?'
                | ';'
                | ':'
                | '…'
                | '\n'
                | '。'
                | '，'
                | '！'
                | '？'
                | '；'
                | '：'
                | '、'
                | '،'
                | '؛'
                | '؟'
        )
    }

    /// The simplified form of a traditional Chinese character, from the rules normaliser's
    /// table (`crate::normalize`), so that "請稍候" matches the hold phrase "请稍候" and "滿意"
    /// the lexicon's "满意"; other characters are returned as they are.
    fn simplified(character: char) -> char {
        static TABLE: OnceLock<HashMap<char, char>> = OnceLock::new();
        let table = TABLE.get_or_init(|| crate::normalize::traditional_to_simplified().collect());
        table.get(&character).copied().unwrap_or(character)
    }

    /// The normalised form of one lowercase character: Spanish accents dropped, `ё` as `е`,
    /// Arabic letter forms as Persian ones, traditional Chinese as simplified, typographic
    /// apostrophes as `'`, ZWNJ as a word break (a space; [`scan`] decides before this whether
    /// it is one); `None` for Arabic diacritics, tatweel and ZWJ, which are dropped.
    fn fold(character: char) -> Option<char> {
        Some(match character {
            _ if is_ideographic(character) => simplified(character),
            'á' | 'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ё' => 'е',
            'ي' | 'ى' | 'ئ' => 'ی',
            'ك' => 'ک',
            'ة' | 'ۀ' => 'ه',
            'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
            'ؤ' => 'و',
            '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{0640}' | '\u{200D}' => return None,
            '\u{200C}' => ' ',
            '’' | '‘' | 'ʼ' | '`' | '´' => '\'',
            other => other,
        })
    }

    /// What the scanner reports, in text order.
    enum Token<'word> {
        /// A normalised word, or one Han/kana character.
        Unit {
            text: &'word str,
            is_ideographic: bool,
        },
        /// Clause-ending punctuation after at least one unit.
        ClauseBreak,
    }

    /// What the zero-width non-joiner (U+200C) does to a Persian word.
    #[derive(Clone, Copy, PartialEq)]
    enum Zwnj {
        /// Splits it: `می‌خواهم` is `می` `خواهم` and `کتاب‌ها` is `کتاب` `ها`, so phrases, lexicon
        /// entries and negators match the stem whether ASR wrote ZWNJ, a space or nothing.
        Breaks,
        /// Joins it: `می‌خواهم` is one spoken word (speech rate).
        Joins,
    }

    /// Lowercases and folds `text` and reports its units and clause breaks to `visit`, reusing
    /// one buffer: the single tokenizer behind [`clauses`] and [`count_spoken_units`].
    fn scan(text: &str, zwnj: Zwnj, mut visit: impl FnMut(Token<'_>)) {
        let mut scanner = Scanner::default();
        for original in text.chars() {
            if original.is_ascii() {
                // Most transcripts are mostly ASCII, which needs no folding beyond lowercase.
                scanner.push(original.to_ascii_lowercase(), &mut visit);
                continue;
            }
            if original == '\u{200C}' && zwnj == Zwnj::Joins {
                continue;
            }
            for lower in original.to_lowercase() {
                if let Some(folded) = fold(lower) {
                    scanner.push(folded, &mut visit);
                }
            }
        }
        scanner.finish_word(&mut visit);
    }

    /// The state of [`scan`]: the word being read and how many units the clause has so far.
    #[derive(Default)]
    struct Scanner {
        word: String,
        units_in_clause: usize,
    }

    impl Scanner {
        fn push(&mut self, character: char, visit: &mut impl FnMut(Token<'_>)) {
            let continues_word = (character.is_alphanumeric() && !is_ideographic(character))
                || (character == '\'' && !self.word.is_empty());
            if continues_word {
                self.word.push(character);
            } else if is_ideographic(character) {
                self.finish_word(visit);
                let mut buffer = [0_u8; 4];
                visit(Token::Unit {
                    text: character.encode_utf8(&mut buffer),
                    is_ideographic: true,
                });
                self.units_in_clause += 1;
            } else {
                self.finish_word(visit);
                if ends_clause(character) && self.units_in_clause > 0 {
                    visit(Token::ClauseBreak);
                    self.units_in_clause = 0;
                }
            }
        }

        fn finish_word(&mut self, visit: &mut impl FnMut(Token<'_>)) {
            let trimmed = self.word.trim_matches('\'');
            if !trimmed.is_empty() {
                visit(Token::Unit {
                    text: trimmed,
                    is_ideographic: false,
                });
                self.units_in_clause += 1;
            }
            self.word.clear();
        }
    }

    /// Lowercases and folds `text`, then splits it into clauses of units.
    pub(crate) fn clauses(text: &str) -> Vec<Vec<Unit>> {
        let mut clauses = Vec::new();
        let mut clause: Vec<Unit> = Vec::new();
        scan(text, Zwnj::Breaks, |token| match token {
            Token::Unit {
                text,
                is_ideographic,
            } => clause.push(Unit {
                text: text.to_owned(),
                is_ideographic,
            }),
            Token::ClauseBreak => clauses.push(std::mem::take(&mut clause)),
        });
        if !clause.is_empty() {
            clauses.push(clause);
        }
        clauses
    }

    /// Spoken units in a text: words, with each Han/kana character counting as one (Chinese
    /// speech rate is characters per minute). Punctuation and symbols do not count. A ZWNJ
    /// joins the parts of one word here (`می‌خواهم`, `کتاب‌ها`: one word each), unlike in
    /// matching, where it splits them.
    pub(crate) fn count_spoken_units(text: &str) -> usize {
        let mut n_units = 0;
        scan(text, Zwnj::Joins, |token| {
            if let Token::Unit { .. } = token {
                n_units += 1;
            }
        });
        n_units
    }

    /// Normalised units of a phrase, ignoring clause breaks.
    pub(crate) fn phrase_units(phrase: &str) -> Vec<String> {
        clauses(phrase)
            .into_iter()
            .flatten()
            .map(|unit| unit.text)
            .collect()
    }

    /// Whether a contiguous run of some clause equals `phrase` (whole words; for Chinese a
    /// substring).
    pub(crate) fn clauses_contain(clauses: &[Vec<Unit>], phrase: &[String]) -> bool {
        if phrase.is_empty() {
            return false;
        }
        clauses.iter().any(|clause| {
            clause.windows(phrase.len()).any(|window| {
                window
                    .iter()
                    .zip(phrase)
                    .all(|(unit, phrase_unit)| unit.text == *phrase_unit)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::synthetic::{self, Scenario, Turn};
    use crate::metrics::{
        EVENT_FIRST_AGENT_WORD, EVENT_INTERRUPTION, EVENT_OVERTALK, EVENT_SILENCE,
    };
    use crate::types::TimingEvent;

    fn shipped_lexicons() -> ToneLexicons {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/lexicons/sentiment");
        ToneLexicons::load(&dir).expect("shipped lexicons parse")
    }

    fn score(lexicons: &ToneLexicons, language: &str, text: &str) -> TextSentiment {
        lexicons
            .for_language(language)
            .unwrap_or_else(|| panic!("no lexicon for {language}"))
            .score_text(text)
    }

    const SECOND: u64 = 1_000;

    fn within_a_second(actual_ms: u64, expected_ms: u64) -> bool {
        actual_ms.abs_diff(expected_ms) <= SECOND
    }

    fn events<'measured>(
        measured: &'measured Measurements,
        kind: &str,
    ) -> Vec<&'measured TimingEvent> {
        measured
            .events
            .iter()
            .filter(|event| event.kind == kind)
            .collect()
    }

    /// What one case of the checked scenario must show.
    struct Case {
        name: &'static str,
        scenario: Scenario,
        dead_air: bool,
        late_answer: bool,
        overtalk: bool,
        agitated: bool,
    }

    fn checked_scenario_cases() -> Vec<Case> {
        // Planted events: 25 s of dead air after turn 5, the agent's first word at 9 s, the
        // agent's turn 8 starting 2 s before the customer's turn 7 ends, agent turn 10 agitated.
        let case = |name, dead_air: bool, late_answer: bool, overtalk: bool, agitated: bool| Case {
            name,
            scenario: Scenario {
                long_gap_after_turn: dead_air.then_some((5, 25_000)),
                first_agent_word_ms: if late_answer { 9_000 } else { 500 },
                agent_overtalk: overtalk.then_some((8, 2_000)),
                agitated_agent_turn: agitated.then_some(10),
                ..Scenario::default()
            },
            dead_air,
            late_answer,
            overtalk,
            agitated,
        };
        vec![
            case("clean call", false, false, false, false),
            case("25 s dead air", true, false, false, false),
            case("first agent word at 9 s", false, true, false, false),
            case(
                "agent talks over customer for 2 s",
                false,
                false,
                true,
                false,
            ),
            case("agitated agent turn", false, false, false, true),
            case("everything at once", true, true, true, true),
        ]
    }

    /// The checked scenario: each planted event is found at the right time (±1 s), and a call
    /// without it shows none.
    #[test]
    fn checked_scenario_finds_each_planted_event_and_nothing_else() {
        let lexicons = shipped_lexicons();
        for case in checked_scenario_cases() {
            let name = case.name;
            let (call, truth) = synthetic::build(&case.scenario);
            let measured = analyse(&call, &lexicons, &ToneOptions::default());
            for (metric, value) in &measured.metrics {
                assert!(value.is_finite(), "{name}: {metric} = {value}");
            }

            // Dead air: one silence of 25 s at the planted gap.
            let long_silences: Vec<_> = events(&measured, EVENT_SILENCE)
                .into_iter()
                .filter(|event| event.duration_ms() >= 10 * SECOND)
                .collect();
            if case.dead_air {
                let (gap_start_ms, gap_ms) = truth.long_gap.unwrap();
                assert_eq!(long_silences.len(), 1, "{name}: {long_silences:?}");
                assert!(
                    within_a_second(long_silences[0].start_ms, gap_start_ms),
                    "{name}"
                );
                assert!(
                    within_a_second(long_silences[0].end_ms, gap_start_ms + gap_ms),
                    "{name}"
                );
                assert_eq!(long_silences[0].speaker, Some(Speaker::Agent), "{name}");
                assert_eq!(measured.metrics["n_dead_air"], 1.0, "{name}");
                assert!(
                    within_a_second(measured.metrics["dead_air_total_ms"] as u64, gap_ms),
                    "{name}"
                );
                assert!(
                    within_a_second(measured.metrics["longest_silence_ms"] as u64, gap_ms),
                    "{name}"
                );
                // The longest silence points at the gap, for the findings of metric rules.
                let (span_start_ms, span_end_ms) = measured.metric_spans["longest_silence_ms"];
                assert!(within_a_second(span_start_ms, gap_start_ms), "{name}");
                assert!(
                    within_a_second(span_end_ms, gap_start_ms + gap_ms),
                    "{name}"
                );
            } else {
                assert!(long_silences.is_empty(), "{name}: {long_silences:?}");
                assert_eq!(measured.metrics["n_dead_air"], 0.0, "{name}");
                assert_eq!(measured.metrics["dead_air_total_ms"], 0.0, "{name}");
            }

            // Answer delay: the first agent word marker and the metric.
            let first_words = events(&measured, EVENT_FIRST_AGENT_WORD);
            assert_eq!(first_words.len(), 1, "{name}");
            assert!(
                within_a_second(first_words[0].start_ms, truth.first_agent_word_ms),
                "{name}"
            );
            let answer_delay_ms = measured.metrics["answer_delay_ms"] as u64;
            assert!(
                within_a_second(answer_delay_ms, truth.first_agent_word_ms),
                "{name}"
            );
            // The answer delay spans the recording from its start to the first agent word.
            assert_eq!(
                measured.metric_spans["answer_delay_ms"],
                (0, first_words[0].start_ms),
                "{name}"
            );
            if case.late_answer {
                assert!(within_a_second(answer_delay_ms, 9 * SECOND), "{name}");
            } else {
                assert!(answer_delay_ms < 2 * SECOND, "{name}");
            }
            if !case.late_answer && !case.dead_air {
                // Every gap in a clean call is short: no silence event at all.
                assert!(
                    events(&measured, EVENT_SILENCE).is_empty(),
                    "{name}: {:?}",
                    measured.events
                );
            }

            // Overtalk: the agent talks over the customer for 2 s, once.
            let overtalk = events(&measured, EVENT_OVERTALK);
            let interruptions = events(&measured, EVENT_INTERRUPTION);
            if case.overtalk {
                let (overtalk_start_ms, overlap_ms) = truth.overtalk.unwrap();
                assert_eq!(overtalk.len(), 1, "{name}: {overtalk:?}");
                assert!(
                    within_a_second(overtalk[0].start_ms, overtalk_start_ms),
                    "{name}"
                );
                assert!(
                    within_a_second(overtalk[0].duration_ms(), overlap_ms),
                    "{name}"
                );
                assert_eq!(overtalk[0].speaker, Some(Speaker::Agent), "{name}");
                assert_eq!(interruptions.len(), 1, "{name}");
                assert!(
                    within_a_second(interruptions[0].start_ms, overtalk_start_ms),
                    "{name}"
                );
                assert_eq!(interruptions[0].speaker, Some(Speaker::Agent), "{name}");
                assert_eq!(measured.metrics["n_interruptions"], 1.0, "{name}");
                assert!(
                    within_a_second(measured.metrics["overtalk_ms"] as u64, overlap_ms),
                    "{name}"
                );
            } else {
                assert!(overtalk.is_empty(), "{name}: {overtalk:?}");
                assert!(interruptions.is_empty(), "{name}");
                assert_eq!(measured.metrics["overtalk_ms"], 0.0, "{name}");
                assert_eq!(measured.metrics["n_interruptions"], 0.0, "{name}");
            }

            // Tone: the agitated turn is found with its seconds, rises and words.
            let agent_arousal: Vec<(usize, f32)> = measured
                .utterances
                .iter()
                .filter(|tone| call.segments[tone.segment_index].speaker == Speaker::Agent)
                .filter_map(|tone| tone.arousal.map(|arousal| (tone.segment_index, arousal)))
                .collect();
            assert!(
                agent_arousal.len() >= 6,
                "{name}: agent arousal was not measured"
            );
            if case.agitated {
                let (turn_start_ms, turn_end_ms) = truth.agitated_turn.unwrap();
                assert_eq!(
                    measured.agent_tone,
                    Some(AgentTone::Agitated),
                    "{name}: {:?}",
                    measured.agent_tone_reasons
                );
                let high: Vec<&UtteranceTone> = measured
                    .utterances
                    .iter()
                    .filter(|tone| tone.arousal.is_some_and(|arousal| arousal >= 0.7))
                    .collect();
                assert_eq!(high.len(), 1, "{name}");
                let segment = &call.segments[high[0].segment_index];
                assert!(within_a_second(segment.start_ms, turn_start_ms), "{name}");
                assert!(within_a_second(segment.end_ms, turn_end_ms), "{name}");
                let reasons = high[0].arousal_reasons.join("; ");
                // The baseline is the median of the other agent turns, whose ordinary jitter moves
                // it a little: the planted rises are +8 dB, +300 cents, +25 %.
                let rise = |suffix: &str| -> f32 {
                    high[0]
                        .arousal_reasons
                        .iter()
                        .find_map(|reason| reason.strip_suffix(suffix))
                        .and_then(|number| number.trim_start_matches('+').trim().parse().ok())
                        .unwrap_or_else(|| panic!("{name}: no {suffix:?} in {reasons}"))
                };
                assert!(
                    (rise("dB louder than own baseline") - 8.0).abs() <= 1.0,
                    "{name}: {reasons}"
                );
                assert!(
                    (rise("cents higher") - 300.0).abs() <= 50.0,
                    "{name}: {reasons}"
                );
                assert!((rise("% faster") - 25.0).abs() <= 5.0, "{name}: {reasons}");
                assert!(
                    high[0]
                        .sentiment_terms
                        .iter()
                        .any(|term| term.contains("ridiculous")),
                    "{name}"
                );
                let tone_reasons = measured.agent_tone_reasons.join(" | ");
                let seconds = format!(
                    "at {}–{} s",
                    format_seconds(turn_start_ms),
                    format_seconds(turn_end_ms)
                );
                assert!(tone_reasons.contains(&seconds), "{name}: {tone_reasons}");
                assert!(
                    tone_reasons.contains("'ridiculous'"),
                    "{name}: {tone_reasons}"
                );
                // The verdict points at the agitated turn, for the tone rule's finding.
                assert_eq!(
                    measured.agent_tone_span,
                    Some((segment.start_ms, segment.end_ms)),
                    "{name}"
                );
            } else {
                assert_eq!(
                    measured.agent_tone,
                    Some(AgentTone::Calm),
                    "{name}: {:?}",
                    measured.agent_tone_reasons
                );
                assert_eq!(measured.agent_tone_span, None, "{name}");
                for (segment_index, arousal) in agent_arousal {
                    assert!(
                        arousal < 0.4,
                        "{name}: segment {segment_index} arousal {arousal}"
                    );
                }
            }
        }
    }

    #[test]
    fn agent_voice_analysis_can_be_switched_off() {
        let lexicons = shipped_lexicons();
        let (call, _) = synthetic::build(&Scenario {
            agitated_agent_turn: Some(10),
            ..Scenario::default()
        });
        let options = ToneOptions {
            agent_vocal_analysis: false,
            ..ToneOptions::default()
        };
        let measured = analyse(&call, &lexicons, &options);
        for tone in &measured.utterances {
            let speaker = call.segments[tone.segment_index].speaker;
            match speaker {
                Speaker::Agent => {
                    assert_eq!(tone.arousal, None);
                    assert!(tone.arousal_reasons.is_empty());
                }
                _ => assert!(tone.arousal.is_some(), "customer arousal is still measured"),
            }
        }
        // No measure of the agent's voice at all, the customer's loudness kept.
        assert!(!measured.metrics.contains_key("agent_loudness_db"));
        assert!(measured.metrics.contains_key("customer_loudness_db"));
        assert!(
            analyse(&call, &lexicons, &ToneOptions::default())
                .metrics
                .contains_key("agent_loudness_db")
        );
        // One harsh utterance without voice evidence is not enough to call the agent tense.
        assert_eq!(measured.agent_tone, Some(AgentTone::Calm));
        assert!(
            measured
                .agent_tone_reasons
                .iter()
                .any(|reason| reason.contains("switched off"))
        );
    }

    #[test]
    fn agent_words_alone_can_make_the_tone_tense_or_agitated() {
        let lexicons = shipped_lexicons();
        let (mut call, _) = synthetic::build(&Scenario::default());
        let agent_segments: Vec<usize> = (0..call.segments.len())
            .filter(|&index| call.segments[index].speaker == Speaker::Agent)
            .collect();
        let options = ToneOptions {
            agent_vocal_analysis: false,
            ..ToneOptions::default()
        };
        call.segments[agent_segments[1]].text = "that is a stupid question".to_owned();
        call.segments[agent_segments[2]].text = "this is ridiculous".to_owned();
        let measured = analyse(&call, &lexicons, &options);
        assert_eq!(
            measured.agent_tone,
            Some(AgentTone::Tense),
            "{:?}",
            measured.agent_tone_reasons
        );
        call.segments[agent_segments[3]].text = "shut up you idiot".to_owned();
        let measured = analyse(&call, &lexicons, &options);
        assert_eq!(
            measured.agent_tone,
            Some(AgentTone::Agitated),
            "{:?}",
            measured.agent_tone_reasons
        );
        assert!(
            measured
                .agent_tone_reasons
                .iter()
                .any(|reason| reason.contains("'stupid'"))
        );
    }

    #[test]
    fn raised_voice_without_harsh_words_is_tense() {
        let lexicons = shipped_lexicons();
        let (mut call, truth) = synthetic::build(&Scenario {
            agitated_agent_turn: Some(10),
            ..Scenario::default()
        });
        let (turn_start_ms, _) = truth.agitated_turn.unwrap();
        let segment = call
            .segments
            .iter_mut()
            .find(|segment| segment.start_ms == turn_start_ms)
            .unwrap();
        // Same number of words, so the same rate, but nothing negative.
        segment.text = synthetic::neutral_text(15, 0);
        let measured = analyse(&call, &lexicons, &ToneOptions::default());
        assert_eq!(
            measured.agent_tone,
            Some(AgentTone::Tense),
            "{:?}",
            measured.agent_tone_reasons
        );
        assert_eq!(measured.agent_tone_reasons[0], "tense: raised voice");
        assert!(measured.agent_tone_reasons[1].contains("dB louder than own baseline"));
        assert!(!measured.agent_tone_reasons[1].contains("words:"));
    }

    #[test]
    fn analyse_with_passes_call_metadata_to_the_metrics() {
        let (call, _) = synthetic::build(&Scenario::default());
        let metadata = MetricsOptions {
            ring_ms: Some(6_000),
            ..MetricsOptions::default()
        };
        let measured = analyse_with(
            &call,
            &ToneLexicons::default(),
            &metadata,
            &ToneOptions::default(),
        );
        assert_eq!(measured.metrics["answer_delay_ms"], 6_500.0);
        assert_eq!(measured.utterances.len(), call.segments.len());
    }

    #[test]
    fn customer_sentiment_start_end_and_change() {
        let lexicons = shipped_lexicons();
        let (call, _) = synthetic::build(&Scenario {
            customer_texts: vec![
                (1, "I am really angry, this is the worst service"),
                (3, "it is not working and I am fed up"),
                (9, "okay that is great"),
                (11, "perfect, thank you so much"),
                (13, "thanks, you were very helpful"),
            ],
            ..Scenario::default()
        });
        let measured = analyse(&call, &lexicons, &ToneOptions::default());
        let start = measured.metrics["customer_sentiment_start"];
        let end = measured.metrics["customer_sentiment_end"];
        let change = measured.metrics["customer_sentiment_change"];
        assert!(start < -0.4, "start {start}");
        assert!(end > 0.5, "end {end}");
        assert!((change - (end - start)).abs() < 1e-9);
        assert!(
            measured.metrics["agent_sentiment_mean"].abs() < 1e-9,
            "neutral agent"
        );
        // The start and the end point at the utterances averaged.
        let customer: Vec<&Segment> = call
            .segments
            .iter()
            .filter(|segment| segment.speaker == Speaker::Customer)
            .collect();
        let (n, window) = (
            customer.len(),
            CUSTOMER_WINDOW_UTTERANCES.min(customer.len() / 2),
        );
        assert_eq!(
            measured.metric_spans["customer_sentiment_start"],
            (customer[0].start_ms, customer[window - 1].end_ms)
        );
        assert_eq!(
            measured.metric_spans["customer_sentiment_end"],
            (customer[n - window].start_ms, customer[n - 1].end_ms)
        );
    }

    #[test]
    fn mono_and_empty_calls_have_no_tone_verdicts() {
        let lexicons = shipped_lexicons();
        let turns: Vec<Turn> = (0..4)
            .map(|index| Turn {
                speaker: Speaker::Unknown,
                start_ms: index * 5_000,
                end_ms: index * 5_000 + 4_000,
                text: "this is terrible".to_owned(),
                loudness_db: -20.0 + index as f32 * 5.0,
                pitch_hz: Some(200.0),
            })
            .collect();
        let mono = synthetic::transcript_from_turns(Layout::Mono, "en", 20_000, &turns);
        let measured = analyse(&mono, &lexicons, &ToneOptions::default());
        assert_eq!(measured.utterances.len(), 4);
        assert!(
            measured
                .utterances
                .iter()
                .all(|tone| tone.arousal.is_none())
        );
        assert!(measured.utterances.iter().all(|tone| tone.sentiment < 0.0));
        assert_eq!(measured.agent_tone, None);
        for absent in [
            "customer_sentiment_start",
            "agent_sentiment_mean",
            "overtalk_ms",
        ] {
            assert!(!measured.metrics.contains_key(absent), "{absent}");
        }

        let empty = synthetic::transcript_from_turns(Layout::Stereo, "en", 0, &[]);
        let measured = analyse(&empty, &lexicons, &ToneOptions::default());
        assert!(measured.utterances.is_empty());
        assert_eq!(measured.agent_tone, None);
        assert!(
            measured
                .metrics
                .values()
                .all(|value| value.is_finite() && *value >= 0.0)
        );
    }

    #[test]
    fn unknown_language_leaves_sentiment_unmeasured() {
        let lexicons = shipped_lexicons();
        let (mut call, _) = synthetic::build(&Scenario::default());
        for channel in &mut call.channels {
            channel.language = Some("de".to_owned());
        }
        let measured = analyse(&call, &lexicons, &ToneOptions::default());
        assert!(!measured.metrics.contains_key("customer_sentiment_start"));
        assert!(!measured.metrics.contains_key("agent_sentiment_mean"));
        assert!(measured.utterances.iter().all(|tone| tone.sentiment == 0.0));
        // Voice needs no lexicon.
        assert_eq!(measured.agent_tone, Some(AgentTone::Calm));
    }

    #[test]
    fn arousal_needs_a_baseline_of_two_utterances() {
        let turns = [
            Turn {
                speaker: Speaker::Agent,
                start_ms: 0,
                end_ms: 3_000,
                text: "hello there how are you".to_owned(),
                loudness_db: -10.0,
                pitch_hz: Some(300.0),
            },
            Turn {
                speaker: Speaker::Customer,
                start_ms: 4_000,
                end_ms: 6_000,
                text: "fine".to_owned(),
                loudness_db: -20.0,
                pitch_hz: None,
            },
            Turn {
                speaker: Speaker::Customer,
                start_ms: 7_000,
                end_ms: 9_000,
                text: "really".to_owned(),
                loudness_db: -12.0,
                pitch_hz: None,
            },
        ];
        let call = synthetic::transcript_from_turns(Layout::Stereo, "en", 10_000, &turns);
        let measured = analyse(&call, &ToneLexicons::default(), &ToneOptions::default());
        let arousal: Vec<Option<f32>> = measured
            .utterances
            .iter()
            .map(|tone| tone.arousal)
            .collect();
        assert_eq!(arousal[0], None, "a single agent utterance has no baseline");
        // Two customer utterances: each is compared with the other; pitch is absent, so
        // loudness alone decides (+8 dB of a 10 dB full scale).
        assert_eq!(arousal[1], Some(0.0));
        assert!((arousal[2].unwrap() - 0.8).abs() < 1e-4, "{arousal:?}");
    }

    #[test]
    fn leave_one_out_median() {
        let median =
            LeaveOneOutMedian::new([Some(1.0), Some(5.0), None, Some(3.0), Some(9.0)].into_iter());
        assert_eq!(median.excluding(0), Some(5.0)); // 3, 5, 9
        assert_eq!(median.excluding(1), Some(3.0)); // 1, 3, 9
        assert_eq!(median.excluding(2), Some(4.0)); // no value left out: 1, 3, 5, 9
        assert_eq!(median.excluding(4), Some(3.0)); // 1, 3, 5
        assert_eq!(median.excluding(99), Some(4.0));
        let lonely = LeaveOneOutMedian::new([Some(2.0), None].into_iter());
        assert_eq!(lonely.excluding(0), None);
        assert_eq!(lonely.excluding(1), Some(2.0));
    }

    #[test]
    fn negation_intensifiers_and_clauses_in_english() {
        let lexicons = shipped_lexicons();
        let not_happy = score(&lexicons, "en", "I am not happy with this");
        assert!(not_happy.sentiment < -0.3, "{not_happy:?}");
        assert_eq!(not_happy.terms[0].to_string(), "not happy (-0.5, negated)");
        let very_angry = score(&lexicons, "en", "I'm very angry");
        assert_eq!(very_angry.terms[0].to_string(), "very angry (-1.0)");
        let gap = score(&lexicons, "en", "I don't think it's good");
        assert_eq!(gap.terms[0].text, "don't … good");
        assert!(gap.sentiment < 0.0);
        // A comma ends the negator's reach.
        assert!(score(&lexicons, "en", "No, I'm happy now").sentiment > 0.5);
        assert!(score(&lexicons, "en", "no problem at all").sentiment > 0.0);
        assert!(score(&lexicons, "en", "That's not bad").sentiment > 0.0);
        assert_eq!(
            score(&lexicons, "en", "What kind of card is it").terms,
            Vec::new()
        );
        let mixed = score(&lexicons, "en", "Thanks, but this is terrible");
        assert!(mixed.sentiment < 0.0 && mixed.sentiment > -0.8, "{mixed:?}");
        assert_eq!(score(&lexicons, "en", "").sentiment, 0.0);
    }

    #[test]
    fn every_language_scores_contact_center_phrases() {
        let lexicons = shipped_lexicons();
        assert_eq!(lexicons.languages(), ["en", "es", "fa", "pl", "ru", "zh"]);
        // (language, text, expected sign)
        let cases: &[(&str, &str, f32)] = &[
            ("es", "Muchas gracias, muy amable", 1.0),
            ("es", "Estoy muy enojado, esto es una vergüenza", -1.0),
            ("es", "No estoy contento con el servicio", -1.0),
            ("es", "Es un servicio pésimo", -1.0),
            ("es", "Disculpe las molestias", -1.0),
            ("ru", "Спасибо большое, вы мне очень помогли", 1.0),
            ("ru", "Это ужасно, я очень недоволен", -1.0),
            ("ru", "Ужасный сервис", -1.0),
            ("ru", "Ничего страшного, всё хорошо", 1.0),
            ("ru", "Меня не устраивает такое обслуживание", -1.0),
            ("pl", "Bardzo dziękuję, jestem zadowolona", 1.0),
            ("pl", "Nie jestem zadowolony z obsługi", -1.0),
            ("pl", "To jest skandaliczne i beznadziejne", -1.0),
            ("pl", "Nie ma problemu", 1.0),
            ("zh", "非常感谢，您的服务很好", 1.0),
            ("zh", "我很不满意，太差了", -1.0),
            ("zh", "我对这个服务不是很满意", -1.0),
            ("zh", "没问题", 1.0),
            ("fa", "خیلی ممنون، عالی بود", 1.0),
            ("fa", "من اصلا راضی نیستم", -1.0),
            ("fa", "واقعا افتضاح است", -1.0),
            ("fa", "مشكلي نيست", 1.0), // Arabic kaf and yeh, as ASR may write them
            ("fa", "دستتان درد نکند", 1.0),
        ];
        for &(language, text, sign) in cases {
            let scored = score(&lexicons, language, text);
            assert!(
                scored.sentiment * sign > 0.1,
                "{language} {text:?}: {} {:?}",
                scored.sentiment,
                scored
                    .terms
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            );
        }
        // Substring traps in Chinese and Persian stay neutral.
        for (language, text) in [
            ("zh", "差不多十分钟"),
            ("zh", "不好意思，请您稍等"),
            ("fa", "لطفاً شماره را بگویید"),
            ("pl", "kosztuje dwadzieścia złotych"),
        ] {
            let scored = score(&lexicons, language, text);
            assert!(
                scored.sentiment.abs() < 0.15,
                "{language} {text:?}: {scored:?}"
            );
        }
    }

    #[test]
    fn traditional_chinese_scores_like_simplified() {
        let lexicons = shipped_lexicons();
        let terms = |scored: &TextSentiment| -> Vec<String> {
            scored.terms.iter().map(ToString::to_string).collect()
        };
        for (traditional, simplified) in [
            ("非常滿意，謝謝。", "非常满意，谢谢。"),
            ("我很不滿意，太差了", "我很不满意，太差了"),
        ] {
            let from_traditional = score(&lexicons, "zh", traditional);
            let from_simplified = score(&lexicons, "zh", simplified);
            assert_ne!(from_simplified.sentiment, 0.0, "{simplified}");
            assert_eq!(
                from_traditional.sentiment, from_simplified.sentiment,
                "{traditional}"
            );
            assert_eq!(terms(&from_traditional), terms(&from_simplified));
        }
        // The explanation names the lexicon's (simplified) words.
        assert_eq!(
            terms(&score(&lexicons, "zh", "非常滿意，謝謝。")),
            ["非常满意 (+0.9)", "谢谢 (+0.5)"]
        );
        // Characters count the same in either script.
        assert_eq!(text::count_spoken_units("好的，請稍候。"), 5);
        assert_eq!(text::phrase_units("請稍候"), ["请", "稍", "候"]);
    }

    #[test]
    fn zwnj_joins_a_persian_word_when_counting_and_splits_it_when_matching() {
        let sentence = "من می\u{200c}خواهم کتاب\u{200c}ها را ببینم";
        // "I want to see the books": five spoken words.
        assert_eq!(text::count_spoken_units(sentence), 5);
        assert_eq!(
            text::count_spoken_units("من می خواهم کتاب ها را ببینم"),
            7,
            "spaces still separate words"
        );
        // Matching still sees the stem behind the ZWNJ, as lexicons and phrases expect.
        assert_eq!(
            text::phrase_units(sentence),
            ["من", "می", "خواهم", "کتاب", "ها", "را", "ببینم"]
        );
    }

    #[test]
    fn lexicon_errors_name_file_and_line() {
        let bad = |source: &str| match Lexicon::parse(source, Path::new("xx.txt")) {
            Err(LexiconError::Syntax { line, message, .. }) => (line, message),
            other => panic!("expected a syntax error, got {other:?}"),
        };
        assert_eq!(bad("good\t0.5\nbad\t-7\n").0, 2);
        assert_eq!(bad("# comment\n\ngood\tplenty\n").0, 3);
        assert_eq!(bad("[moods]\n").0, 1);
        let (line, message) = bad("good\t0.5\n[sentiment]\ngood\t0.4\n");
        assert_eq!(line, 3);
        assert!(message.contains("line 1"), "{message}");
        assert_eq!(bad("[negators]\nnot\t0.8\n").0, 2);
        assert_eq!(bad("lonely\n").0, 1);
        let error = Lexicon::parse("x\t5", Path::new("rules/xx.txt")).unwrap_err();
        assert!(error.to_string().starts_with("rules/xx.txt:1: "), "{error}");
        assert!(ToneLexicons::load(Path::new("/nonexistent/lexicons")).is_err());
    }

    #[test]
    fn stems_phrases_and_language_codes() {
        let lexicons = ToneLexicons::from_sources([(
            "ru",
            "ужасн*\t-0.8\nхорош*\t0.5\nхорошо\t0.2\nне работает\t-0.4\n[negators]\nне\t-0.8\n",
        )])
        .unwrap();
        let lexicon = lexicons.for_language("RU-ru").unwrap();
        assert_eq!(
            lexicon.score_text("Ужасный, ужасная, ужасно").terms.len(),
            3
        );
        // The whole word is more specific than the stem.
        assert!((lexicon.score_text("хорошо").sentiment - 0.2).abs() < 1e-6);
        assert!((lexicon.score_text("хороший").sentiment - 0.5).abs() < 1e-6);
        // The phrase wins over the negator that starts it.
        assert_eq!(
            lexicon.score_text("не работает").terms[0].to_string(),
            "не работает (-0.4)"
        );
        assert!(lexicons.for_language("pl").is_none());
    }

    /// Run with `cargo test --release -- --ignored --nocapture analysis_cost`.
    #[test]
    #[ignore = "timing, meaningful in release builds only"]
    fn analysis_cost() {
        let started = std::time::Instant::now();
        let lexicons = shipped_lexicons();
        println!("loading six lexicons: {:?}", started.elapsed());
        // A ten-minute call: 200 utterances.
        let (call, _) = synthetic::build(&Scenario {
            n_turns: 200,
            agitated_agent_turn: Some(100),
            agent_overtalk: Some((50, 2_000)),
            ..Scenario::default()
        });
        let n_runs = 2_000;
        let started = std::time::Instant::now();
        let mut n_events = 0;
        for _ in 0..n_runs {
            let measured = analyse(&call, &lexicons, &ToneOptions::default());
            n_events += measured.events.len();
        }
        let per_call = started.elapsed() / n_runs;
        let started = std::time::Instant::now();
        for _ in 0..n_runs {
            n_events += metrics::measure(&call, &MetricsOptions::default())
                .events
                .len();
        }
        println!("metrics alone: {:?} per call", started.elapsed() / n_runs);
        let started = std::time::Instant::now();
        let mut n_units = 0;
        for _ in 0..n_runs {
            for segment in &call.segments {
                n_units += text::count_spoken_units(&segment.text);
            }
        }
        println!(
            "counting words once: {:?} per call ({n_units})",
            started.elapsed() / n_runs
        );
        println!(
            "metrics + tone, {} s call, 200 utterances: {per_call:?} per call ({n_events} events)",
            call.duration_ms / 1000
        );
    }
}
