//! The typed values that the pipeline stages hand to each other.
//!
//! discover → [`CallSpec`]; decode → `decode::DecodedAudio`; vad → [`SpeechRegion`]s per channel;
//! transcribe → [`CallTranscript`]; analyse/score read a [`CallTranscript`] and never touch audio
//! or the model, so `callqa rescore` can re-run them on stored transcripts.
//!
//! Every type here is serialisable: transcripts are cached on disk as JSON and re-read by
//! `rescore`, so field names are part of the on-disk format.

use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who speaks on a channel. Stereo calls have one agent and one customer channel; mono calls
/// are `Unknown`, and speaker-scoped rules report that instead of guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Agent,
    Customer,
    Unknown,
}

impl Speaker {
    pub fn as_str(self) -> &'static str {
        match self {
            Speaker::Agent => "agent",
            Speaker::Customer => "customer",
            Speaker::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Speaker {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Which stereo channel carries the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelSide {
    Left,
    Right,
}

impl ChannelSide {
    /// Index of this side in an interleaved stereo frame.
    pub fn index(self) -> usize {
        match self {
            ChannelSide::Left => 0,
            ChannelSide::Right => 1,
        }
    }

    pub fn parse(text: &str) -> Option<ChannelSide> {
        match text.trim().to_ascii_lowercase().as_str() {
            "left" | "l" | "0" => Some(ChannelSide::Left),
            "right" | "r" | "1" => Some(ChannelSide::Right),
            _ => None,
        }
    }
}

/// How the speakers of a call are laid out over channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Two channels, agent on one, customer on the other.
    Stereo,
    /// Two channels but no one said which is the agent: both are `unknown`.
    StereoUnassigned,
    /// One channel, both speakers mixed.
    Mono,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Stereo => "stereo",
            Layout::StereoUnassigned => "stereo_unassigned",
            Layout::Mono => "mono",
        }
    }
}

/// One call to process, as discovered from a manifest row or a file name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallSpec {
    pub call_id: String,
    /// `"unknown"` when neither the manifest nor the file name says.
    pub agent_id: String,
    pub path: PathBuf,
    /// When the call started, in UTC. Falls back to the file's modification time.
    pub started_at: Option<DateTime<Utc>>,
    pub agent_channel: Option<ChannelSide>,
    /// ISO 639-1 code; `None` means detect per channel.
    pub language: Option<String>,
}

/// A stretch of a channel that voice activity detection judged to be speech, in call time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeechRegion {
    pub start_ms: u64,
    pub end_ms: u64,
}

impl SpeechRegion {
    pub fn duration_ms(&self) -> u64 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// How far a transcribed segment can be trusted. Segments that are not `Ok` are kept and shown
/// but are never silently scored: rules skip them and say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentQuality {
    Ok,
    /// Mean token probability below the configured floor.
    LowConfidence,
    /// Whisper looped (one word or phrase repeated); the repeats were cut.
    RepetitionTrimmed,
}

impl SegmentQuality {
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentQuality::Ok => "ok",
            SegmentQuality::LowConfidence => "low_confidence",
            SegmentQuality::RepetitionTrimmed => "repetition_trimmed",
        }
    }
}

/// One utterance: a speech region of one channel with its text.
///
/// `text` is the raw transcript. It may hold personal data, so it lives only in the owner-only
/// cache; everything written to the dataset, report or logs is redacted first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub speaker: Speaker,
    /// Channel index in the source file (0 = left / mono).
    pub channel: u16,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
    /// Mean token probability, 0..1.
    pub confidence: f32,
    pub quality: SegmentQuality,
}

/// A word of a segment and when it was said, from Whisper's token times (see
/// [`crate::transcribe::RegionText::words`]). Kept beside the segment in the stored transcript
/// (the `words` of each segment in `OUT/.callqa/transcripts/*.json`, see
/// [`crate::store::Store::save_transcript_with_words`]), never in the dataset.
///
/// A segment's words, concatenated, are its text byte for byte: the first word has no leading
/// space, each later one starts with the one space before it (" four,"), and punctuation
/// belongs to the word before it. A segment whose text callqa changed beyond that (a loop cut,
/// sound descriptions removed) has no words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    /// Call time: the earliest of its tokens' start and alignment (DTW) times, within the
    /// segment.
    pub start_ms: u64,
    /// The latest of its tokens' times, within the segment.
    pub end_ms: u64,
}

/// Acoustic measurements of one speech region, kept so that tone and timing can be re-analysed
/// without the audio.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RegionAcoustics {
    pub start_ms: u64,
    pub end_ms: u64,
    /// RMS level in dBFS.
    pub loudness_db: f32,
    /// Median fundamental frequency over voiced frames, Hz; `None` when nothing was voiced.
    pub pitch_hz: Option<f32>,
}

/// Everything the transcribe stage learnt about one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelTranscript {
    pub channel: u16,
    pub speaker: Speaker,
    /// The language used for decoding (manifest, or detected).
    pub language: Option<String>,
    pub regions: Vec<SpeechRegion>,
    #[serde(default)]
    pub acoustics: Vec<RegionAcoustics>,
    /// Segments dropped by the hallucination guards (text over non-speech, known phantom
    /// phrases, empty output). Counted so that a run can say how much it threw away.
    pub n_dropped_segments: u32,
}

/// The transcript of a whole call: what analyse and score work on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallTranscript {
    pub duration_ms: u64,
    pub layout: Layout,
    /// Sample rate of the source file, before resampling to 16 kHz.
    pub source_sample_rate: u32,
    pub channels: Vec<ChannelTranscript>,
    /// All segments of all channels, ordered by start time, then channel.
    pub segments: Vec<Segment>,
}

impl CallTranscript {
    /// The main language of the call: the agent channel's, else the first channel's.
    pub fn language(&self) -> Option<&str> {
        self.channels
            .iter()
            .find(|channel| channel.speaker == Speaker::Agent)
            .or_else(|| self.channels.first())
            .and_then(|channel| channel.language.as_deref())
    }

    pub fn segments_of(&self, speaker: Speaker) -> impl Iterator<Item = &Segment> {
        self.segments
            .iter()
            .filter(move |segment| segment.speaker == speaker)
    }
}

/// A timed event found by the metrics stage: the raw material of `silence`, `overtalk` and
/// `answer_delay` rules. Events are candidates: rulebooks hold the thresholds, so the metrics
/// stage reports every span above a small floor and rules decide which ones fail.
///
/// Kinds (the strings rulebooks refer to):
/// - `silence`: neither side speaks (dead air), `start_ms..end_ms` is the gap;
/// - `hold`: a silence the agent announced ("please hold") or one longer than a minute;
/// - `overtalk`: both sides speak at once;
/// - `interruption`: the agent starts speaking while the customer is speaking;
/// - `first_agent_word`: a zero-length marker at the agent's first word (answer delay).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimingEvent {
    pub kind: String,
    /// The speaker the event is held against (the interrupter, the one who left dead air), if any.
    pub speaker: Option<Speaker>,
    pub start_ms: u64,
    pub end_ms: u64,
    /// Plain-words explanation for the evidence column, e.g. "no one spoke for 25.0 s".
    pub detail: String,
}

impl TimingEvent {
    pub fn duration_ms(&self) -> u64 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// Tone of one utterance (index into [`CallTranscript::segments`]), explainable by its terms
/// and reasons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UtteranceTone {
    pub segment_index: usize,
    /// Text sentiment, -1 (very negative) .. 1 (very positive).
    pub sentiment: f32,
    /// The lexicon words (with negation/intensifier notes) that moved the sentiment.
    pub sentiment_terms: Vec<String>,
    /// Vocal arousal against the speaker's own baseline in this call, 0 (calm) .. 1 (agitated);
    /// `None` when it was not measured (switched off for agents, or no acoustics).
    pub arousal: Option<f32>,
    /// Why arousal is high, in plain words: "+8.1 dB louder than own baseline" …
    pub arousal_reasons: Vec<String>,
}

/// The agent's tone over the whole call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentTone {
    Calm,
    Tense,
    Agitated,
}

impl AgentTone {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentTone::Calm => "calm",
            AgentTone::Tense => "tense",
            AgentTone::Agitated => "agitated",
        }
    }
}

/// The stable names of [`Measurements::metrics`]: `calls` columns (in this order) and the
/// metric names rulebooks may use. One list, so a new metric cannot reach one and miss the other.
pub const METRIC_NAMES: &[&str] = &[
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
    "customer_sentiment_start",
    "customer_sentiment_end",
    "customer_sentiment_change",
    "agent_sentiment_mean",
];

/// What the metrics and tone stages measured on a call: the non-textual input of the rules.
///
/// `metrics` keys are stable names, also used as `calls` columns and by rulebooks:
/// `answer_delay_ms`, `agent_talk_ms`, `customer_talk_ms`, `agent_talk_ratio`,
/// `longest_silence_ms`, `dead_air_total_ms`, `n_dead_air`, `hold_total_ms`, `n_holds`,
/// `overtalk_ms`, `n_interruptions`, `agent_words_per_minute`, `customer_words_per_minute`
/// (characters per minute for Chinese), `agent_loudness_db`, `customer_loudness_db`,
/// `customer_sentiment_start`, `customer_sentiment_end`, `customer_sentiment_change`,
/// `agent_sentiment_mean`. A metric that cannot be measured on a call is absent, never NaN.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Measurements {
    pub metrics: std::collections::BTreeMap<String, f64>,
    pub events: Vec<TimingEvent>,
    pub utterances: Vec<UtteranceTone>,
    pub agent_tone: Option<AgentTone>,
    /// Why the agent tone is what it is, naming words or seconds.
    pub agent_tone_reasons: Vec<String>,
    /// Where in the call a metric was measured, for the metrics that have one place, as
    /// `(start_ms, end_ms)`: `answer_delay_ms` (from the start of the recording, or the pickup,
    /// to the agent's first word) and `longest_silence_ms` (the gap). Rules put it on their
    /// findings, so that an auditor can go to the moment.
    #[serde(default)]
    pub metric_spans: std::collections::BTreeMap<String, (u64, u64)>,
    /// The stretch holding the agent utterances that made a `tense` or `agitated` verdict, as
    /// `(start_ms, end_ms)` from the first one's start to the last one's end; `None` when calm.
    #[serde(default)]
    pub agent_tone_span: Option<(u64, u64)>,
}

#[cfg(test)]
impl CallTranscript {
    /// A transcript for tests: (speaker, start ms, end ms, text) utterances, the customer on
    /// channel 1, the others on channel 0, all of good confidence.
    pub(crate) fn from_lines(lines: &[(Speaker, u64, u64, &str)], layout: Layout) -> Self {
        CallTranscript {
            duration_ms: lines.iter().map(|line| line.2).max().unwrap_or(0),
            layout,
            source_sample_rate: 8000,
            channels: Vec::new(),
            segments: lines
                .iter()
                .map(|&(speaker, start_ms, end_ms, text)| Segment {
                    speaker,
                    channel: u16::from(speaker == Speaker::Customer),
                    start_ms,
                    end_ms,
                    text: text.to_string(),
                    confidence: 0.9,
                    quality: SegmentQuality::Ok,
                })
                .collect(),
        }
    }
}
