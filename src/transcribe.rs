//! Transcription of one channel's speech regions with whisper.cpp (through `whisper-rs`).
//!
//! Promises:
//! - Whisper never sees silence: only the voice-activity regions of a channel are given to it.
//!   They are packed, with short pauses between them, into windows of at most
//!   [`WINDOW_MAX_MS`], because whisper.cpp pays for a full 30 s encoder pass per call however
//!   short the audio is. Text comes back per region, in call time.
//! - One model in memory ([`Transcriber`]), one `WhisperState` per worker ([`Worker`]).
//! - Whisper's failure modes are caught per utterance: text over non-speech and known phantom
//!   phrases are dropped (and counted), repetition loops are cut and marked, low confidence is
//!   marked. Nothing questionable is passed on as if it were sound.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use whisper_rs::{
    DtwMode, DtwModelPreset, DtwParameters, FullParams, SamplingStrategy, WhisperContext,
    WhisperContextParameters, WhisperState,
};

use crate::types::{SegmentQuality, SpeechRegion, Word};

mod hooks;

/// Longest stretch of packed speech given to Whisper in one call. Whisper's window is 30 s;
/// the margin keeps the last words away from the window edge, where Whisper tends to drop them.
pub const WINDOW_MAX_MS: u64 = 28_000;
/// Default pause inserted between packed regions ([`AsrSettings::packing_gap_ms`]), long
/// enough for Whisper to end a sentence there and short enough not to invite text over
/// silence.
pub const PACKING_GAP_MS: u64 = 800;
/// Default silence before the first region of a window ([`AsrSettings::window_lead_ms`]).
/// Whisper drops a word that starts right at the beginning of its input ("Hi, I want …" came
/// back as "I want …"); a short lead-in keeps it, as the 400 ms padding of faster-whisper's VAD
/// does. Measured on the fixture calls (English, greedy): 20 word errors in 198 without, 14
/// with 300 ms. On the benchmark's English corpus (983 words, not used for tuning) 300 ms
/// lead with an 800 ms gap was also the best of seven combinations of 300–1000 ms lead and
/// 400–1500 ms gap (17.3 % against 17.6–17.9 %).
pub const WINDOW_LEAD_MS: u64 = 300;
const SAMPLES_PER_MS: u64 = 16;

/// Decoding settings. Part of the transcript cache key: changing any of them re-transcribes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AsrSettings {
    /// whisper.cpp threads per worker. Workers × threads must not exceed the cores.
    pub threads_per_worker: usize,
    /// 0 or 1 = greedy; more = beam search with that many beams.
    pub beam_size: usize,
    /// Utterances whose mean token probability is below this are marked `low_confidence`.
    pub min_confidence: f32,
    /// An utterance whose no-speech probability is above this, with confidence below
    /// `min_confidence`, is taken for text over non-speech and dropped.
    pub max_no_speech_probability: f32,
    /// Shrink the encoder's context to the packed audio of a short window (plus a margin)
    /// instead of always encoding 30 s. Encoder cost is most of Whisper's time on CPU.
    pub fit_encoder_context: bool,
    /// Silence before the first region of a window, ms ([`WINDOW_LEAD_MS`]).
    pub window_lead_ms: u64,
    /// Silence between two packed regions, ms ([`PACKING_GAP_MS`]).
    pub packing_gap_ms: u64,
}

impl Default for AsrSettings {
    fn default() -> Self {
        AsrSettings {
            threads_per_worker: 1,
            beam_size: 1,
            min_confidence: 0.45,
            max_no_speech_probability: 0.6,
            fit_encoder_context: true,
            window_lead_ms: WINDOW_LEAD_MS,
            packing_gap_ms: PACKING_GAP_MS,
        }
    }
}

impl AsrSettings {
    /// The settings that change what Whisper outputs, as a stable string for cache keys.
    /// Thread count is left out: it changes speed, not text. The version at the end moves when
    /// callqa's own decoding changes the text for the same settings (v2: regions a loop took are
    /// decoded again, a sentence read twice by a later pass is dropped, bf16 encoder attention;
    /// v3: a 3 s encoder margin, readings too short for their speech decoded again),
    /// so that transcripts cached by an older build are made again.
    pub fn cache_key(&self) -> String {
        format!(
            "beam={}{};min_conf={:.3};max_nsp={:.3};fit_ctx={};window={};gap={};lead={};v3",
            self.beam_size,
            // Beam candidates became the best tokens instead of random draws, each channel
            // starts on a fresh state, and repeating beams end at once (see `hooks` and
            // `Worker::channel_stream`).
            if self.beam_size > 1 {
                "top;fresh;repend"
            } else {
                ""
            },
            self.min_confidence,
            self.max_no_speech_probability,
            self.fit_encoder_context,
            WINDOW_MAX_MS,
            self.packing_gap_ms,
            self.window_lead_ms
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error("cannot load Whisper model {path}: {message}")]
    ModelLoad { path: PathBuf, message: String },
    #[error("Whisper failed: {0}")]
    Whisper(String),
    #[error(
        "unknown language code {0:?} (expected an ISO 639-1 code Whisper knows, such as en, es, ru, pl, zh, fa)"
    )]
    UnknownLanguage(String),
}

impl TranscribeError {
    pub fn kind(&self) -> &'static str {
        match self {
            TranscribeError::ModelLoad { .. } => "model_load",
            TranscribeError::Whisper(_) => "whisper",
            TranscribeError::UnknownLanguage(_) => "unknown_language",
        }
    }
}

fn whisper_error(error: whisper_rs::WhisperError) -> TranscribeError {
    TranscribeError::Whisper(error.to_string())
}

/// The model, loaded once and shared by all workers.
pub struct Transcriber {
    context: WhisperContext,
    settings: AsrSettings,
}

impl Transcriber {
    pub fn load(model_path: &Path, settings: AsrSettings) -> Result<Transcriber, TranscribeError> {
        // whisper.cpp prints its loading log on stderr; route it away so that the only
        // messages a user sees are callqa's.
        whisper_rs::install_logging_hooks();
        let header = crate::model::read_ggml_header(model_path).map_err(|error| {
            TranscribeError::ModelLoad {
                path: model_path.to_path_buf(),
                message: error.to_string(),
            }
        })?;
        let mut parameters = WhisperContextParameters::default();
        // Flash attention is slower on CPU (11–32 % measured here) and there is no GPU build.
        parameters.use_gpu(false).flash_attn(false);
        // Word times from cross-attention alignment (DTW): the plain token times of
        // whisper.cpp drift by half a second or more, enough to put the first words of an
        // utterance into the one packed before it.
        parameters.dtw_parameters(DtwParameters {
            mode: dtw_mode(&header.hyperparameters),
            ..DtwParameters::default()
        });
        let path_text = model_path
            .to_str()
            .ok_or_else(|| TranscribeError::ModelLoad {
                path: model_path.to_path_buf(),
                message: "the path is not valid UTF-8".to_string(),
            })?;
        let context = WhisperContext::new_with_params(path_text, parameters).map_err(|error| {
            TranscribeError::ModelLoad {
                path: model_path.to_path_buf(),
                message: error.to_string(),
            }
        })?;
        Ok(Transcriber { context, settings })
    }

    pub fn settings(&self) -> &AsrSettings {
        &self.settings
    }

    pub fn is_multilingual(&self) -> bool {
        self.context.is_multilingual()
    }

    /// A worker with its own decoding state; create one per thread.
    pub fn new_worker(&self) -> Result<Worker<'_>, TranscribeError> {
        let state = self.context.create_state().map_err(whisper_error)?;
        Ok(Worker {
            transcriber: self,
            state: Some(state),
        })
    }
}

/// The alignment heads for DTW word times: whisper.cpp's preset for the standard model sizes
/// (recognised by their shape), else the top half of the text layers.
fn dtw_mode(hyperparameters: &crate::model::GgmlHyperparameters) -> DtwMode<'static> {
    let multilingual = hyperparameters.n_vocab >= 51_865;
    let preset = match (
        hyperparameters.n_text_layer,
        hyperparameters.n_text_state,
        multilingual,
    ) {
        (4, 384, true) => Some(DtwModelPreset::Tiny),
        (4, 384, false) => Some(DtwModelPreset::TinyEn),
        (6, 512, true) => Some(DtwModelPreset::Base),
        (6, 512, false) => Some(DtwModelPreset::BaseEn),
        (12, 768, true) => Some(DtwModelPreset::Small),
        (12, 768, false) => Some(DtwModelPreset::SmallEn),
        (24, 1024, true) => Some(DtwModelPreset::Medium),
        (24, 1024, false) => Some(DtwModelPreset::MediumEn),
        (4, 1280, true) => Some(DtwModelPreset::LargeV3Turbo),
        (32, 1280, true) if hyperparameters.n_mels == 128 => Some(DtwModelPreset::LargeV3),
        (32, 1280, true) => Some(DtwModelPreset::LargeV2),
        _ => None,
    };
    match preset {
        Some(model_preset) => DtwMode::ModelPreset { model_preset },
        None => DtwMode::TopMost {
            n_top: (hyperparameters.n_text_layer / 2).max(1),
        },
    }
}

/// Silence the encoder sees after a short window's packed audio, in encoder frames of 20 ms:
/// 3 s. Measured over the three English sets of the throughput benchmark (fixtures 198 words,
/// corpus 983, long calls 1584; bf16), word errors greedy / beam 5: a 2 s margin 14 / 19,
/// 170 / 146, 141 / 122 (325 / 287 in all); 3 s 13 / 19, 171 / 145, 134 / 108 (318 / 272);
/// 4 s 13 / 19, 171 / 144, 188 / 112, the 188 a card number that greedy decoding skipped
/// (134 once [`Worker`] decodes such readings again, see [`reads_too_little`]). It costs 3–6 %
/// of the fixtures' throughput and nothing measurable on long calls, whose windows are full.
const ENCODER_CONTEXT_MARGIN_FRAMES: usize = 150;

/// Encoder frames (20 ms each, 1500 for Whisper's 30 s) that cover `n_samples` of 16 kHz
/// audio with [`ENCODER_CONTEXT_MARGIN_FRAMES`] of padding, rounded up to a multiple of 64.
fn encoder_context_for(n_samples: usize) -> i32 {
    let frames = n_samples / 320 + ENCODER_CONTEXT_MARGIN_FRAMES;
    let rounded = frames.div_ceil(64) * 64;
    rounded.min(1500) as i32
}

/// Text Whisper produced for one speech region.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionText {
    pub region_index: usize,
    pub text: String,
    pub confidence: f32,
    pub quality: SegmentQuality,
    /// The words of `text` with their times in call time (see [`Word`] for how they map to
    /// the text); empty when the text is not the tokens' own (a loop was cut).
    pub words: Vec<Word>,
}

/// Everything one channel yielded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChannelText {
    pub language: Option<String>,
    pub utterances: Vec<RegionText>,
    pub n_dropped: u32,
    /// What Whisper's runs over the channel amounted to besides text.
    pub whisper: WhisperCounts,
}

/// Counts of Whisper's work over a channel, a call or a run; they add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WhisperCounts {
    /// Whisper windows run (each costs one encoder pass).
    pub n_windows: u32,
    /// Windows whose last moments were not decoded again (see [`hooks`]): a count to watch,
    /// since each one is a place where whisper.cpp would have aborted or invented text.
    pub n_tail_passes_refused: u32,
    /// Beams ended because they were looping (beam search only; see [`hooks`]). They would
    /// have been thrown away anyway; the count tells how often Whisper loops on these calls.
    pub n_beam_loops_ended: u32,
    /// Speech regions decoded again in a window of their own after a loop: the looping region,
    /// and those after it whose text the loop took (see [`pieces_lost_to_a_loop`]). Their
    /// windows are counted in `n_windows` too.
    pub n_regions_redecoded: u32,
    /// Speech regions decoded again alone because their reading was far too short for their
    /// speech ([`reads_too_little`]); their windows are counted in `n_windows` too.
    pub n_short_readings_redecoded: u32,
    /// Of those, the regions whose second reading was kept (it read more, without a loop).
    pub n_short_readings_replaced: u32,
}

impl std::ops::AddAssign for WhisperCounts {
    fn add_assign(&mut self, other: WhisperCounts) {
        self.n_windows += other.n_windows;
        self.n_tail_passes_refused += other.n_tail_passes_refused;
        self.n_beam_loops_ended += other.n_beam_loops_ended;
        self.n_regions_redecoded += other.n_regions_redecoded;
        self.n_short_readings_redecoded += other.n_short_readings_redecoded;
        self.n_short_readings_replaced += other.n_short_readings_replaced;
    }
}

/// Whether a segment says again, word for word, the whole segment before it in the same
/// window: a later pass over the window's last moments (whisper.cpp decodes what follows a
/// pass's last timestamp) that read the last sentence again over the padding after it. Seen
/// with q8_0 weights and beam search on a short window: "I need a new credit card. I need a
/// new credit card." for one sentence spoken once. Sentences of fewer than three words
/// ("Hello? Hello?") are left alone: people do repeat those.
fn repeats_the_sentence_before(previous: Option<&str>, sentence: &str) -> bool {
    previous == Some(sentence) && sentence.split_whitespace().count() >= 3
}

/// Whether a region's raw text holds a loop that the guards would cut.
fn text_loops(accumulator: &RegionAccumulator) -> bool {
    let text = String::from_utf8_lossy(&accumulator.bytes);
    trim_character_loops(&text).1 || trim_repetitions(&text).1
}

/// The pieces of a window whose speech a loop took. When Whisper falls into a loop (a card
/// number read digit by digit: "one, one, one …" to the token limit), whisper.cpp ends the
/// window's decoding there: every region packed after the looping one comes back with no
/// text, or with nothing but more of the loop, however clear its speech (on the long
/// benchmark calls, 14–56 words of a channel). Those are the pieces returned, to be decoded
/// again without the loop in front of them. A beam search whose looping beams were ended
/// (`beam_loops_ended`, see [`hooks`]) leaves no loop in the text to find, and can still have
/// skipped turns after it (its pass ended on a timestamp past them): then every piece of the
/// window that came back empty is returned.
fn pieces_lost_to_a_loop(
    pieces: &[Piece],
    accumulators: &[RegionAccumulator],
    beam_loops_ended: bool,
) -> Vec<Piece> {
    let after = match first_loop(pieces, accumulators) {
        Some(first_loop) => first_loop + 1,
        None if beam_loops_ended => 0,
        None => return Vec::new(),
    };
    pieces[after..]
        .iter()
        .filter(|piece| {
            let accumulator = &accumulators[piece.region_index];
            accumulator.n_tokens == 0 || text_loops(accumulator)
        })
        .copied()
        .collect()
}

/// Fewest text tokens per second of a region's speech that a reading of it may have before
/// it is taken for one that skipped words ([`reads_too_little`]). Whisper's tokens are about
/// a syllable or a short word each, in every language it reads: on the benchmark's English
/// sets, no reading of a region of 3 s or more had fewer than 2.2 a second (digits read one
/// by one and slow turns included); the skipped card number had 1.2.
const MIN_TOKENS_PER_SECOND: f64 = 1.5;
/// Regions shorter than this are never taken for skipped speech: a short turn of one or two
/// words ("Okay.") pads out to a second or two of voice activity.
const MIN_SPEECH_MS_TO_CHECK: u64 = 3_000;

/// Whether a region's reading is far too short for its speech: fewer than
/// [`MIN_TOKENS_PER_SECOND`] text tokens a second over a region of at least
/// [`MIN_SPEECH_MS_TO_CHECK`]. Greedy decoding sometimes jumps over speech inside a window:
/// on the long benchmark calls the 8.3 s turn "I lost my card. A number is 4111 1111 1111
/// 1111." came back as "I lost my card. I am very poor.", sixteen digits gone without a loop or
/// a low confidence to show for it. An empty reading is not taken for one: in a packed
/// window that is voice activity over breath or line noise far more often than skipped speech,
/// and decoding noise alone invites Whisper's phantom phrases.
fn reads_too_little(accumulator: &RegionAccumulator, duration_ms: u64) -> bool {
    accumulator.n_tokens > 0
        && duration_ms >= MIN_SPEECH_MS_TO_CHECK
        && f64::from(accumulator.n_tokens) * 1000.0 / (duration_ms as f64) < MIN_TOKENS_PER_SECOND
}

/// Whether a second reading of a region replaces the first: it reads more, and does not loop.
fn second_reading_wins(first: &RegionAccumulator, second: &RegionAccumulator) -> bool {
    second.n_tokens > first.n_tokens && !text_loops(second)
}

/// The index of the first piece whose raw text loops.
fn first_loop(pieces: &[Piece], accumulators: &[RegionAccumulator]) -> Option<usize> {
    pieces
        .iter()
        .position(|piece| text_loops(&accumulators[piece.region_index]))
}

/// Whether `lost`, packed again, is the window `pieces` came from, audio for audio.
fn repacks_to_itself(lost: &[Piece], pieces: &[Piece], settings: &AsrSettings) -> bool {
    lost.len() == pieces.len() && repack(lost, settings).pieces == pieces
}

/// `pieces` packed into a window of their own, in order, with the usual lead-in and pauses.
fn repack(pieces: &[Piece], settings: &AsrSettings) -> Window {
    let mut window = Window::default();
    for piece in pieces {
        window.append(
            piece.region_index,
            piece.window_end_ms - piece.window_start_ms,
            settings,
        );
    }
    window
}

impl ChannelText {
    /// The channel's utterances, trimmed and joined by spaces: its whole text.
    pub fn joined_text(&self) -> String {
        self.utterances
            .iter()
            .map(|utterance| utterance.text.trim())
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One region's place inside a packed window.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Piece {
    region_index: usize,
    /// Start of the region's samples inside the window, in ms of window time.
    window_start_ms: u64,
    window_end_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Window {
    pieces: Vec<Piece>,
    length_ms: u64,
}

impl Window {
    /// Puts `duration_ms` of region `region_index` at the end, after the lead-in or a pause.
    fn append(&mut self, region_index: usize, duration_ms: u64, settings: &AsrSettings) {
        let window_start_ms = self.length_ms + silence_before_next(self, settings);
        self.pieces.push(Piece {
            region_index,
            window_start_ms,
            window_end_ms: window_start_ms + duration_ms,
        });
        self.length_ms = window_start_ms + duration_ms;
    }
}

/// Silence to put before the next region of `window`: the lead-in of an empty window, else the
/// packing pause.
fn silence_before_next(window: &Window, settings: &AsrSettings) -> u64 {
    if window.pieces.is_empty() {
        settings.window_lead_ms
    } else {
        settings.packing_gap_ms
    }
}

/// Groups regions into windows of at most [`WINDOW_MAX_MS`] of packed audio, in order.
/// A region longer than a window gets one of its own and is cut at the window's end (voice
/// activity splits long regions well below that, so this only guards the invariant).
fn pack_regions(regions: &[SpeechRegion], settings: &AsrSettings) -> Vec<Window> {
    let mut windows = Vec::new();
    let mut current = Window::default();
    for (region_index, region) in regions.iter().enumerate() {
        let duration_ms = region
            .duration_ms()
            .min(WINDOW_MAX_MS.saturating_sub(settings.window_lead_ms).max(1));
        if duration_ms == 0 {
            continue;
        }
        if !current.pieces.is_empty()
            && current.length_ms + silence_before_next(&current, settings) + duration_ms
                > WINDOW_MAX_MS
        {
            windows.push(std::mem::take(&mut current));
        }
        current.append(region_index, duration_ms, settings);
    }
    if !current.pieces.is_empty() {
        windows.push(current);
    }
    windows
}

/// The piece a moment of window time belongs to: the one containing it, else the nearest.
fn piece_at(pieces: &[Piece], window_ms: u64) -> usize {
    let mut best_index = 0;
    let mut best_distance = u64::MAX;
    for (piece_index, piece) in pieces.iter().enumerate() {
        let distance = if window_ms < piece.window_start_ms {
            piece.window_start_ms - window_ms
        } else {
            window_ms.saturating_sub(piece.window_end_ms)
        };
        if distance < best_distance {
            best_distance = distance;
            best_index = piece_index;
        }
    }
    best_index
}

/// Raw text gathered for one region before the guards run.
#[derive(Debug, Default, Clone)]
struct RegionAccumulator {
    bytes: Vec<u8>,
    /// The tokens behind `bytes`, in order, with their times.
    tokens: Vec<TimedToken>,
    probability_sum: f64,
    n_tokens: u32,
    max_no_speech_probability: f32,
}

pub struct Worker<'model> {
    transcriber: &'model Transcriber,
    /// Made when the worker is, and again whenever it is missing.
    state: Option<WhisperState>,
}

impl<'model> Worker<'model> {
    /// Transcribes the speech regions of one channel (16 kHz mono samples).
    ///
    /// `language` is an ISO 639-1 code; `None` detects it once on the channel's first window
    /// and keeps it for the rest, so one channel is never decoded in two languages.
    pub fn transcribe_channel(
        &mut self,
        samples: &[f32],
        regions: &[SpeechRegion],
        language: Option<&str>,
    ) -> Result<ChannelText, TranscribeError> {
        let mut stream = self.channel_stream(regions, language)?;
        stream.push(samples, &mut |_, _| {});
        stream.finish(&mut |_, _| {})
    }

    /// [`Worker::transcribe_channel`] for a channel whose samples arrive in blocks, in order
    /// (from [`crate::decode::stream_file_channel`]): only the samples of the window being
    /// filled are held (at most [`WINDOW_MAX_MS`] of audio), never the channel. Each window
    /// runs as soon as its last region has arrived.
    pub fn channel_stream<'stream>(
        &'stream mut self,
        regions: &'stream [SpeechRegion],
        language: Option<&str>,
    ) -> Result<ChannelStream<'stream, 'model>, TranscribeError> {
        if let Some(code) = language
            && whisper_rs::get_lang_id(code).is_none()
        {
            return Err(TranscribeError::UnknownLanguage(code.to_string()));
        }
        let windows = pack_regions(regions, self.transcriber.settings());
        let window_audio = windows
            .first()
            .map_or_else(Vec::new, |window| vec![0.0; window_samples(window)]);
        Ok(ChannelStream {
            worker: self,
            regions,
            windows,
            next_window: 0,
            window_audio,
            n_received: 0,
            channel_text: ChannelText {
                language: language.map(str::to_string),
                ..ChannelText::default()
            },
            accumulators: vec![RegionAccumulator::default(); regions.len()],
            error: None,
        })
    }

    /// Drops the Whisper state (a new one is made for the next window), after a failure that
    /// may have left it mid-window.
    pub fn reset(&mut self) {
        self.state = None;
    }

    /// Runs Whisper on one packed window and distributes its tokens over the window's pieces.
    fn run_window(
        &mut self,
        audio: &[f32],
        language: Option<&str>,
        pieces: &[Piece],
        accumulators: &mut [RegionAccumulator],
    ) -> Result<WindowRun, TranscribeError> {
        let settings = self.transcriber.settings();
        let strategy = if settings.beam_size > 1 {
            SamplingStrategy::BeamSearch {
                beam_size: settings.beam_size as i32,
                patience: -1.0,
            }
        } else {
            SamplingStrategy::Greedy { best_of: 1 }
        };
        let mut params = FullParams::new(strategy);
        params.set_n_threads(settings.threads_per_worker.max(1) as i32);
        params.set_language(Some(language.unwrap_or("auto")));
        params.set_translate(false);
        // Each window holds unrelated utterances: carrying text over invites loops.
        params.set_no_context(true);
        params.set_token_timestamps(true);
        params.set_suppress_blank(true);
        // Non-speech tokens are where "(water flowing)" comes from.
        params.set_suppress_nst(true);
        // Temperature fallback makes rare windows 3–7× slower; loops are caught below instead.
        params.set_temperature(0.0);
        params.set_temperature_inc(0.0);
        // whisper.cpp's default, stated because the beam filter relies on it (see `hooks`).
        params.set_entropy_thold(hooks::ENTROPY_THRESHOLD);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);

        if settings.fit_encoder_context {
            params.set_audio_ctx(encoder_context_for(audio.len()));
        }
        let beam_filter = if settings.beam_size > 1 {
            // A looping beam ends at once (see `hooks`).
            let context = &self.transcriber.context;
            Some(hooks::BeamFilter {
                n_vocab: usize::try_from(context.n_vocab()).unwrap_or(0),
                end_of_text: usize::try_from(context.token_eot()).unwrap_or(0),
                timestamp_begin: usize::try_from(context.token_beg()).unwrap_or(0),
                ..Default::default()
            })
        } else {
            None
        };
        let state = match &mut self.state {
            Some(state) => state,
            empty => empty.insert(
                self.transcriber
                    .context
                    .create_state()
                    .map_err(whisper_error)?,
            ),
        };
        // No pass over a window's last moments: one would abort the process (see `hooks`).
        let hooks =
            hooks::full_with_hooks(state, params, audio, beam_filter).map_err(whisper_error)?;

        let end_of_text = self.transcriber.context.token_eot();
        let mut previous_piece: Option<usize> = None;
        let mut previous_sentence: Option<String> = None;
        for segment in state.as_iter() {
            let sentence = segment
                .to_str_lossy()
                .map(|text| fold_for_comparison(&text))
                .unwrap_or_default();
            if repeats_the_sentence_before(previous_sentence.as_deref(), &sentence) {
                continue;
            }
            previous_sentence = Some(sentence);
            let no_speech_probability = segment.no_speech_probability();
            let segment_start_ms = segment.start_timestamp().max(0) as u64 * 10;
            let segment_end_ms = segment.end_timestamp().max(0) as u64 * 10;
            for token_index in 0..segment.n_tokens() {
                let Some(token) = segment.get_token(token_index) else {
                    continue;
                };
                let data = token.token_data();
                if !is_text_token(data.id, end_of_text) {
                    continue;
                }
                let Ok(bytes) = token.to_bytes() else {
                    continue;
                };
                // Two estimates of when the token is spoken, each off by up to half a second
                // in its own direction on telephone speech: whisper.cpp's token start tends
                // early and the DTW alignment time late. Their mean lands in the right region
                // across a packing pause; either alone is used when the other is missing.
                let start_estimate =
                    (data.t1 >= data.t0 && data.t0 >= 0).then(|| data.t0 as u64 * 10);
                let alignment_estimate = (data.t_dtw >= 0).then(|| data.t_dtw as u64 * 10);
                let token_ms = match (start_estimate, alignment_estimate) {
                    (Some(start), Some(alignment)) => (start + alignment) / 2,
                    (Some(time), None) | (None, Some(time)) => time,
                    (None, None) => (segment_start_ms + segment_end_ms) / 2,
                };
                let is_punctuation = !String::from_utf8_lossy(bytes)
                    .chars()
                    .any(char::is_alphanumeric);
                // Punctuation belongs to the word before it, and speech runs forward: a token
                // never goes to a region before the previous token's.
                let piece_index = match previous_piece {
                    Some(previous) if is_punctuation => previous,
                    Some(previous) => piece_at(pieces, token_ms).max(previous),
                    None => piece_at(pieces, token_ms),
                };
                previous_piece = Some(piece_index);
                let piece = pieces[piece_index];
                let accumulator = &mut accumulators[piece.region_index];
                accumulator.bytes.extend_from_slice(bytes);
                accumulator.tokens.push(TimedToken::new(
                    bytes,
                    [data.t0, data.t1, data.t_dtw],
                    piece.window_start_ms,
                ));
                accumulator.probability_sum += f64::from(data.p);
                accumulator.n_tokens += 1;
                accumulator.max_no_speech_probability = accumulator
                    .max_no_speech_probability
                    .max(no_speech_probability);
            }
        }
        let language_id = state.full_lang_id_from_state();
        Ok(WindowRun {
            language: whisper_rs::get_lang_str(language_id).map(str::to_string),
            hooks,
        })
    }
}

/// Ids at or above end-of-text are special (end of text, start of transcript, language, task,
/// no-speech, timestamp tokens): never text, and never words.
fn is_text_token(id: i32, end_of_text: i32) -> bool {
    id < end_of_text
}

/// One text token of a region and when it was said, in ms from the start of its region
/// (negative: before it): what words are built from ([`build_words`]).
#[derive(Debug, Clone, PartialEq, Default)]
struct TimedToken {
    bytes: Vec<u8>,
    /// The earliest of whisper.cpp's token start and the DTW alignment time.
    earliest_ms: Option<i64>,
    /// The latest of the token start, end and alignment times.
    latest_ms: Option<i64>,
}

impl TimedToken {
    /// A token of the piece that starts at `piece_start_ms` of its window, given whisper.cpp's
    /// start, end and alignment (DTW) times in centiseconds of window time (negative when
    /// missing).
    fn new(bytes: &[u8], [t0, t1, t_dtw]: [i64; 3], piece_start_ms: u64) -> TimedToken {
        let relative = |centiseconds: i64| {
            (centiseconds >= 0).then(|| centiseconds * 10 - piece_start_ms as i64)
        };
        let (start, end, alignment) = (relative(t0), relative(t1), relative(t_dtw));
        TimedToken {
            bytes: bytes.to_vec(),
            earliest_ms: start.into_iter().chain(alignment).min(),
            latest_ms: start.into_iter().chain(end).chain(alignment).max(),
        }
    }
}

/// A word being built: its bytes and the earliest and latest times of its tokens, in ms from
/// the region's start.
#[derive(Debug, Clone, Default)]
struct RawWord {
    bytes: Vec<u8>,
    earliest_ms: Option<i64>,
    latest_ms: Option<i64>,
}

impl RawWord {
    /// `bytes` appended, and the times widened to cover `earliest_ms..latest_ms`.
    fn extend(&mut self, bytes: &[u8], earliest_ms: Option<i64>, latest_ms: Option<i64>) {
        self.bytes.extend_from_slice(bytes);
        self.earliest_ms = self.earliest_ms.into_iter().chain(earliest_ms).min();
        self.latest_ms = self.latest_ms.into_iter().chain(latest_ms).max();
    }

    fn is_punctuation(&self) -> bool {
        !String::from_utf8_lossy(&self.bytes)
            .chars()
            .any(char::is_alphanumeric)
    }
}

/// The words of a region's tokens, in call time. A token that starts with whitespace (or the
/// region's first) starts a word; a word of punctuation only (" -", " ...") joins the word
/// before it (the one after it when it comes first). A word starts at the earliest time of its
/// tokens and ends at the latest, both clamped to the region: whisper.cpp's token times and
/// the alignment's stray into the packing pause around a region. Empty when a word has no
/// time at all.
fn build_words(tokens: &[TimedToken], region: &SpeechRegion) -> Vec<Word> {
    let mut words: Vec<RawWord> = Vec::new();
    for token in tokens {
        let starts_word = token
            .bytes
            .first()
            .is_none_or(|&byte| byte.is_ascii_whitespace());
        if starts_word || words.is_empty() {
            words.push(RawWord::default());
        }
        if let Some(word) = words.last_mut() {
            word.extend(&token.bytes, token.earliest_ms, token.latest_ms);
        }
    }
    let mut merged: Vec<RawWord> = Vec::with_capacity(words.len());
    // Punctuation before the first word.
    let mut leading: Option<RawWord> = None;
    for mut word in words {
        if word.is_punctuation() {
            match merged.last_mut().or(leading.as_mut()) {
                Some(before) => before.extend(&word.bytes, word.earliest_ms, word.latest_ms),
                None => leading = Some(word),
            }
            continue;
        }
        if let Some(mut punctuation) = leading.take() {
            punctuation.extend(&word.bytes, word.earliest_ms, word.latest_ms);
            word = punctuation;
        }
        merged.push(word);
    }
    // Punctuation alone (the guards drop an utterance of nothing else) stays a word.
    merged.extend(leading);
    let call_ms = |relative: i64| {
        (region.start_ms as i64 + relative).clamp(region.start_ms as i64, region.end_ms as i64)
            as u64
    };
    let mut timed = Vec::with_capacity(merged.len());
    for word in merged {
        let (Some(earliest), Some(latest)) = (word.earliest_ms, word.latest_ms) else {
            return Vec::new();
        };
        timed.push(Word {
            text: String::from_utf8_lossy(&word.bytes).into_owned(),
            start_ms: call_ms(earliest),
            end_ms: call_ms(latest),
        });
    }
    timed
}

/// `words` (from [`build_words`]) made to spell `text`, the utterance's text after the guards
/// ([`guard_utterance`]): the guards trim the text and fold its whitespace, so each word keeps
/// its own characters with one space before it (none before the first), and the words,
/// concatenated, are `text` exactly. When they do not spell it (a loop was cut, sound
/// descriptions removed, or the words have no times) there are no words: a word that is not
/// where the text says it is must not place anything.
fn words_of_text(text: &str, words: Vec<Word>) -> Vec<Word> {
    let mut spelt: Vec<Word> = Vec::with_capacity(words.len());
    for word in words {
        let folded = word.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if folded.is_empty() {
            continue;
        }
        let space = if spelt.is_empty() { "" } else { " " };
        spelt.push(Word {
            text: format!("{space}{folded}"),
            ..word
        });
    }
    let spelling: String = spelt.iter().map(|word| word.text.as_str()).collect();
    if spelling == text { spelt } else { Vec::new() }
}

/// What running one window told besides its text.
struct WindowRun {
    /// The language Whisper used (detected when none was given).
    language: Option<String>,
    /// What the tail guard and the beam filter did.
    hooks: hooks::HookReport,
}

impl WindowRun {
    /// The window's contribution to the channel's counts.
    fn counts(&self) -> WhisperCounts {
        WhisperCounts {
            n_windows: 1,
            n_tail_passes_refused: u32::from(self.hooks.tail_pass_refused),
            n_beam_loops_ended: self.hooks.n_loops_ended,
            n_regions_redecoded: 0,
            n_short_readings_redecoded: 0,
            n_short_readings_replaced: 0,
        }
    }
}

/// Samples a window holds: its packed length at 16 kHz.
fn window_samples(window: &Window) -> usize {
    (window.length_ms * SAMPLES_PER_MS) as usize
}

/// Where one piece's samples come from and go to: `length` samples from channel index
/// `source_start` into window index `target_start`.
fn piece_span(piece: &Piece, region: &SpeechRegion) -> (usize, usize, usize) {
    let source_start = (region.start_ms * SAMPLES_PER_MS) as usize;
    let length = ((piece.window_end_ms - piece.window_start_ms) * SAMPLES_PER_MS) as usize;
    let target_start = (piece.window_start_ms * SAMPLES_PER_MS) as usize;
    (source_start, length, target_start)
}

/// One channel being transcribed as its samples arrive; see [`Worker::channel_stream`].
///
/// The `on_region` callbacks of [`ChannelStream::push`] and [`ChannelStream::finish`] receive
/// each region's samples (by region index) once, just before its window goes to Whisper, so
/// that the caller can measure them without holding the channel either.
pub struct ChannelStream<'stream, 'model> {
    worker: &'stream mut Worker<'model>,
    regions: &'stream [SpeechRegion],
    windows: Vec<Window>,
    /// The window being filled; `windows.len()` once all have run.
    next_window: usize,
    window_audio: Vec<f32>,
    /// Channel samples pushed so far.
    n_received: usize,
    channel_text: ChannelText,
    accumulators: Vec<RegionAccumulator>,
    /// The first Whisper failure; later input is ignored and `finish` returns it.
    error: Option<TranscribeError>,
}

impl ChannelStream<'_, '_> {
    /// Takes the next samples of the channel; runs every window they complete.
    pub fn push(&mut self, samples: &[f32], on_region: &mut dyn FnMut(usize, &[f32])) {
        let block_start = self.n_received;
        self.n_received += samples.len();
        while self.error.is_none() && self.next_window < self.windows.len() {
            let window = &self.windows[self.next_window];
            let mut complete = true;
            for piece in &window.pieces {
                let (source_start, length, target_start) =
                    piece_span(piece, &self.regions[piece.region_index]);
                let from = source_start.max(block_start);
                let to = (source_start + length).min(self.n_received);
                if from < to {
                    let target = target_start + (from - source_start);
                    self.window_audio[target..target + (to - from)]
                        .copy_from_slice(&samples[from - block_start..to - block_start]);
                }
                complete &= source_start + length <= self.n_received;
            }
            if !complete {
                break;
            }
            self.run_next_window(on_region);
        }
    }

    /// Runs the windows still waiting (their audio stops where the channel did) and returns
    /// the channel's text.
    pub fn finish(
        mut self,
        on_region: &mut dyn FnMut(usize, &[f32]),
    ) -> Result<ChannelText, TranscribeError> {
        while self.error.is_none() && self.next_window < self.windows.len() {
            self.run_next_window(on_region);
        }
        if let Some(error) = self.error {
            return Err(error);
        }
        let settings = self.worker.transcriber.settings();
        let regions = self.regions;
        let mut channel_text = self.channel_text;
        for (region_index, accumulator) in self.accumulators.into_iter().enumerate() {
            if accumulator.n_tokens == 0 {
                continue;
            }
            let confidence = (accumulator.probability_sum / f64::from(accumulator.n_tokens)) as f32;
            let raw_text = String::from_utf8_lossy(&accumulator.bytes);
            match guard_utterance(
                &raw_text,
                confidence,
                accumulator.max_no_speech_probability,
                settings,
            ) {
                Some((text, quality)) => channel_text.utterances.push(RegionText {
                    region_index,
                    words: words_of_text(
                        &text,
                        build_words(&accumulator.tokens, &regions[region_index]),
                    ),
                    text,
                    confidence,
                    quality,
                }),
                None => channel_text.n_dropped += 1,
            }
        }
        Ok(channel_text)
    }

    /// After a loop in the window just run: decodes again, in a window of their own, the
    /// regions whose text the loop took ([`pieces_lost_to_a_loop`]), then the looping region
    /// alone. Once each: loops in these windows are cut by the guards like any other. Returns
    /// the region decoded alone, if any.
    fn redecode_after_loop(&mut self, beam_loops_ended: bool) -> Option<usize> {
        let settings = self.worker.transcriber.settings();
        let pieces = &self.windows[self.next_window].pieces;
        // Decoding is deterministic: the same pieces in the same places would give the same
        // loop again, at the full price of a looping window.
        let is_the_window_again = |lost: &[Piece]| repacks_to_itself(lost, pieces, settings);
        let lost = pieces_lost_to_a_loop(pieces, &self.accumulators, beam_loops_ended);
        let looping = first_loop(pieces, &self.accumulators)
            .map(|index| pieces[index])
            .filter(|looping| !is_the_window_again(std::slice::from_ref(looping)));
        if !lost.is_empty() && !is_the_window_again(&lost) {
            self.redecode(&lost);
            self.channel_text.whisper.n_regions_redecoded += lost.len() as u32;
        }
        // The looping region alone: without the speech around it Whisper often reads it
        // through (on the long benchmark calls, card numbers read digit by digit: 172 → 141
        // greedy word errors). Its first reading stays if this one loops too or reads nothing.
        if let Some(looping) = looping
            && self.error.is_none()
        {
            self.decode_alone(looping, |_, second| {
                second.n_tokens > 0 && !text_loops(second)
            });
            self.channel_text.whisper.n_regions_redecoded += 1;
            return Some(looping.region_index);
        }
        None
    }

    /// Decodes `piece` (of the window just run) again in a window of its own. The second
    /// reading stays where `accept(first, second)` holds; otherwise the first is put back.
    /// Returns whether the second stayed.
    fn decode_alone(
        &mut self,
        piece: Piece,
        accept: fn(&RegionAccumulator, &RegionAccumulator) -> bool,
    ) -> bool {
        let first = self.accumulators[piece.region_index].clone();
        self.redecode(&[piece]);
        let second_stays = accept(&first, &self.accumulators[piece.region_index]);
        if !second_stays {
            self.accumulators[piece.region_index] = first;
        }
        second_stays
    }

    /// Decodes again, each in a window of its own, the regions of the window just run whose
    /// reading is far too short for their speech ([`reads_too_little`]); the second reading
    /// stays where it reads more without a loop ([`second_reading_wins`]). Regions already
    /// decoded alone (`decoded_alone`, or a window of one region) are left: decoding is
    /// deterministic, the same audio alone would read the same.
    fn redecode_short_readings(&mut self, decoded_alone: Option<usize>) {
        let settings = self.worker.transcriber.settings();
        let pieces = &self.windows[self.next_window].pieces;
        let short: Vec<Piece> = pieces
            .iter()
            .filter(|piece| {
                decoded_alone != Some(piece.region_index)
                    && reads_too_little(
                        &self.accumulators[piece.region_index],
                        piece.window_end_ms - piece.window_start_ms,
                    )
                    && !repacks_to_itself(std::slice::from_ref(piece), pieces, settings)
            })
            .copied()
            .collect();
        for piece in short {
            if self.error.is_some() {
                return;
            }
            self.channel_text.whisper.n_short_readings_redecoded += 1;
            if self.decode_alone(piece, second_reading_wins) {
                self.channel_text.whisper.n_short_readings_replaced += 1;
            }
        }
    }

    /// Runs `lost` (pieces of the window just run) again in a window of their own; the caller
    /// counts the regions.
    fn redecode(&mut self, lost: &[Piece]) {
        let settings = self.worker.transcriber.settings();
        let again = repack(lost, settings);
        let mut audio = vec![0.0; window_samples(&again)];
        for (from, to) in lost.iter().zip(&again.pieces) {
            let source = (from.window_start_ms * SAMPLES_PER_MS) as usize;
            let target = (to.window_start_ms * SAMPLES_PER_MS) as usize;
            let length = ((to.window_end_ms - to.window_start_ms) * SAMPLES_PER_MS) as usize;
            audio[target..target + length]
                .copy_from_slice(&self.window_audio[source..source + length]);
            // What the loop left there goes.
            self.accumulators[from.region_index] = RegionAccumulator::default();
        }
        match self.worker.run_window(
            &audio,
            self.channel_text.language.as_deref(),
            &again.pieces,
            &mut self.accumulators,
        ) {
            Ok(run) => self.channel_text.whisper += run.counts(),
            Err(error) => self.error = Some(error),
        }
    }

    /// Hands the filled window's regions to `on_region`, runs Whisper on it and readies the
    /// next window's buffer.
    fn run_next_window(&mut self, on_region: &mut dyn FnMut(usize, &[f32])) {
        let window = &self.windows[self.next_window];
        // Samples past the end of the channel stay silent.
        for piece in &window.pieces {
            let (source_start, length, target_start) =
                piece_span(piece, &self.regions[piece.region_index]);
            let available = self.n_received.saturating_sub(source_start).min(length);
            on_region(
                piece.region_index,
                &self.window_audio[target_start..target_start + available],
            );
        }
        let result = self.worker.run_window(
            &self.window_audio,
            self.channel_text.language.as_deref(),
            &window.pieces,
            &mut self.accumulators,
        );
        match result {
            Ok(run) => {
                self.channel_text.whisper += run.counts();
                if self.channel_text.language.is_none() {
                    self.channel_text.language = run.language;
                }
                let decoded_alone = self.redecode_after_loop(run.hooks.n_loops_ended > 0);
                self.redecode_short_readings(decoded_alone);
            }
            Err(error) => self.error = Some(error),
        }
        self.next_window += 1;
        self.window_audio.clear();
        if let Some(next) = self.windows.get(self.next_window) {
            self.window_audio.resize(window_samples(next), 0.0);
        }
    }
}

/// Phrases Whisper is known to produce over silence or noise, in the languages we serve.
/// Compared after [`fold_for_comparison`], as whole utterances only.
const PHANTOM_PHRASES: &[&str] = &[
    "you",
    "thank you for watching",
    "thanks for watching",
    "thank you for watching please subscribe",
    "please subscribe",
    "subtitles by the amaraorg community",
    "gracias por ver el video",
    "subtítulos realizados por la comunidad de amaraorg",
    "продолжение следует",
    "субтитры сделал dimatorzok",
    "субтитры создавал dimatorzok",
    "редактор субтитров асинкевич",
    "napisy wykonane przez społeczność amaraorg",
    "dziękuję za uwagę",
    "字幕由amaraorg社区提供",
    "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目",
    "明镜与点点栏目",
];

/// Lower-case, punctuation removed, whitespace folded: enough to recognise phantom phrases.
fn fold_for_comparison(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for character in text.chars() {
        if character.is_alphanumeric() || character.is_whitespace() {
            folded.extend(character.to_lowercase());
        }
    }
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Removes bracketed sound descriptions such as "(water flowing)", "[MUSIC]", "*laughs*" and
/// music notes, which describe non-speech and must never be scored as words.
fn strip_sound_descriptions(text: &str) -> String {
    // "(555)" in "call me at (555) 123-4567" is an area code, not a sound: brackets that hold
    // only digits and number separators stay.
    let is_number_only = |inner: &str| {
        inner.chars().any(char::is_numeric)
            && inner.chars().all(|character| {
                character.is_numeric()
                    || character.is_whitespace()
                    || matches!(character, '-' | '.' | '+' | '/' | ',')
            })
    };
    let mut kept = String::with_capacity(text.len());
    let mut closing: Option<char> = None;
    for (offset, character) in text.char_indices() {
        match closing {
            Some(expected) => {
                if character == expected {
                    closing = None;
                }
            }
            None => match character {
                '(' | '[' => {
                    let expected = if character == '(' { ')' } else { ']' };
                    let rest = &text[offset + character.len_utf8()..];
                    match rest.find(expected) {
                        Some(end) if is_number_only(&rest[..end]) => kept.push(character),
                        _ => closing = Some(expected),
                    }
                }
                '*' => closing = Some('*'),
                '♪' | '♫' => {}
                _ => kept.push(character),
            },
        }
    }
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Digits read out (card and account numbers) legitimately repeat a digit many times, so a
/// numeric unit only counts as a loop past the longest number a caller reads (19 digits).
const NUMERIC_LOOP_REPEATS: usize = 20;

/// Spoken digits in the languages of the default rulebooks, so that "one one one one" in a
/// card number is not mistaken for a loop.
const DIGIT_WORDS: &[&str] = &[
    "zero",
    "oh",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "cero",
    "uno",
    "dos",
    "tres",
    "cuatro",
    "cinco",
    "seis",
    "siete",
    "ocho",
    "nueve",
    "ноль",
    "один",
    "два",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
    "zero",
    "jeden",
    "dwa",
    "trzy",
    "cztery",
    "pięć",
    "sześć",
    "siedem",
    "osiem",
    "dziewięć",
    "零",
    "一",
    "幺",
    "二",
    "两",
    "三",
    "四",
    "五",
    "六",
    "七",
    "八",
    "九",
    "صفر",
    "یک",
    "دو",
    "سه",
    "چهار",
    "پنج",
    "شش",
    "هفت",
    "هشت",
    "نه",
];

fn is_numeric_word(folded: &str) -> bool {
    !folded.is_empty()
        && (folded.chars().all(|character| character.is_numeric()) || DIGIT_WORDS.contains(&folded))
}

/// Cuts repetition loops: a word or phrase of up to four words repeated back to back more
/// often than speech does ("no, no, no" stays; the same word forty times does not).
/// Returns the text with each loop cut to its first two occurrences, and whether it cut.
pub fn trim_repetitions(text: &str) -> (String, bool) {
    let words: Vec<&str> = text.split_whitespace().collect();
    let folded: Vec<String> = words.iter().map(|word| fold_for_comparison(word)).collect();
    let mut kept: Vec<&str> = Vec::with_capacity(words.len());
    let mut trimmed = false;
    let mut position = 0;
    'outer: while position < words.len() {
        for phrase_length in 1..=4 {
            // One-word repeats need more occurrences to count as a loop than phrases do, and
            // digits far more (see NUMERIC_LOOP_REPEATS).
            let numeric = (0..phrase_length).all(|offset| {
                folded
                    .get(position + offset)
                    .is_some_and(|word| is_numeric_word(word))
            });
            let min_repeats = if numeric {
                NUMERIC_LOOP_REPEATS
            } else if phrase_length == 1 {
                4
            } else {
                3
            };
            let mut repeats = 1;
            while position + (repeats + 1) * phrase_length <= words.len()
                && (0..phrase_length).all(|offset| {
                    let first = &folded[position + offset];
                    !first.is_empty()
                        && *first == folded[position + repeats * phrase_length + offset]
                })
            {
                repeats += 1;
            }
            if repeats >= min_repeats {
                kept.extend_from_slice(&words[position..position + 2 * phrase_length]);
                position += repeats * phrase_length;
                trimmed = true;
                continue 'outer;
            }
        }
        kept.push(words[position]);
        position += 1;
    }
    (kept.join(" "), trimmed)
}

/// Cuts loops inside words, where Whisper repeats a syllable without spaces
/// ("wadwadwadwad…", or Chinese characters over and over). A unit of up to eight characters
/// repeated back to back at least five times (eight for single characters, so "hmmmm" stays)
/// is cut to two occurrences.
pub fn trim_character_loops(text: &str) -> (String, bool) {
    let characters: Vec<char> = text.chars().collect();
    let mut kept = String::with_capacity(text.len());
    let mut trimmed = false;
    let mut position = 0;
    'outer: while position < characters.len() {
        for unit_length in 1..=8 {
            if position + unit_length > characters.len() {
                break;
            }
            let unit = &characters[position..position + unit_length];
            if unit.iter().all(|character| character.is_whitespace()) {
                continue;
            }
            let numeric = unit
                .iter()
                .all(|character| character.is_numeric() || !character.is_alphanumeric());
            let min_repeats = if numeric {
                NUMERIC_LOOP_REPEATS
            } else if unit_length == 1 {
                8
            } else {
                5
            };
            let mut repeats = 1;
            while position + (repeats + 1) * unit_length <= characters.len()
                && characters
                    [position + repeats * unit_length..position + (repeats + 1) * unit_length]
                    == *unit
            {
                repeats += 1;
            }
            if repeats >= min_repeats {
                for _ in 0..2 {
                    kept.extend(unit.iter());
                }
                position += repeats * unit_length;
                trimmed = true;
                continue 'outer;
            }
        }
        kept.push(characters[position]);
        position += 1;
    }
    (kept, trimmed)
}

/// Decides what becomes of one utterance's raw text: `None` drops it (nothing but sound
/// descriptions, a phantom phrase, or text over non-speech), else the cleaned text and its
/// quality mark.
fn guard_utterance(
    raw_text: &str,
    confidence: f32,
    no_speech_probability: f32,
    settings: &AsrSettings,
) -> Option<(String, SegmentQuality)> {
    let text = strip_sound_descriptions(raw_text.trim());
    let folded = fold_for_comparison(&text);
    if folded.is_empty() {
        return None;
    }
    if PHANTOM_PHRASES.contains(&folded.as_str()) {
        return None;
    }
    if no_speech_probability > settings.max_no_speech_probability
        && confidence < settings.min_confidence
    {
        return None;
    }
    let (text, trimmed_characters) = trim_character_loops(&text);
    let (text, trimmed_words) = trim_repetitions(&text);
    let quality = if trimmed_characters || trimmed_words {
        SegmentQuality::RepetitionTrimmed
    } else if confidence < settings.min_confidence {
        SegmentQuality::LowConfidence
    } else {
        SegmentQuality::Ok
    };
    Some((text, quality))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(start_ms: u64, end_ms: u64) -> SpeechRegion {
        SpeechRegion { start_ms, end_ms }
    }

    /// Tokens of a piece that starts at 300 ms of its window: (text, t0, t1, DTW) in
    /// centiseconds of window time.
    fn tokens(list: &[(&str, i64, i64, i64)]) -> Vec<TimedToken> {
        list.iter()
            .map(|&(text, t0, t1, dtw)| TimedToken::new(text.as_bytes(), [t0, t1, dtw], 300))
            .collect()
    }

    fn word(text: &str, start_ms: u64, end_ms: u64) -> Word {
        Word {
            text: text.to_string(),
            start_ms,
            end_ms,
        }
    }

    #[test]
    fn words_start_at_tokens_with_a_leading_space() {
        // A region at 10 s of the call, packed at 300 ms of the window.
        let region = region(10_000, 14_000);
        let words = build_words(
            &tokens(&[
                // The earliest of t0 and DTW starts a word; the latest time ends it.
                (" I", 40, 50, 45),
                (" repeat", 60, 100, 55),
                (" 4", 110, 120, 125),
                ("11", 120, 150, 140),
                ("1", 150, 160, 170),
            ]),
            &region,
        );
        assert_eq!(
            words,
            [
                word(" I", 10_100, 10_200),
                word(" repeat", 10_250, 10_700),
                word(" 4111", 10_800, 11_400),
            ]
        );
        // The region's first token starts a word whether or not it has a space.
        let words = build_words(&tokens(&[("Hi", 40, 50, 45), ("!", 50, 52, 51)]), &region);
        assert_eq!(words, [word("Hi!", 10_100, 10_220)]);
    }

    #[test]
    fn punctuation_belongs_to_the_word_before_it() {
        let region = region(0, 10_000);
        let words = build_words(
            &tokens(&[
                (" card", 40, 80, 70),
                (".", 80, 82, 90),
                (" four", 100, 120, 110),
                (",", 120, 121, 118),
                (" -", 125, 126, 130),
                (" one", 130, 150, 140),
                (" ...", 150, 151, 152),
            ]),
            &region,
        );
        assert_eq!(
            words,
            [
                word(" card.", 100, 600),
                word(" four, -", 700, 1_000),
                word(" one ...", 1_000, 1_220),
            ]
        );
        // Before the first word, it opens the word after it.
        let words = build_words(
            &tokens(&[(" \"", 40, 40, 45), (" Hello", 50, 70, 60)]),
            &region,
        );
        assert_eq!(words, [word(" \" Hello", 100, 400)]);
        let words = build_words(
            &tokens(&[(" \"", 40, 40, 45), ("Hello", 50, 70, 60)]),
            &region,
        );
        assert_eq!(words, [word(" \"Hello", 100, 400)]);
    }

    #[test]
    fn word_times_stay_within_their_region() {
        let region = region(5_000, 6_000);
        // Times in the packing pause before the piece (window 0–300 ms) and past its end.
        let words = build_words(
            &tokens(&[(" early", 10, 40, 35), (" late", 120, 160, 200)]),
            &region,
        );
        assert_eq!(
            words,
            [word(" early", 5_000, 5_100), word(" late", 5_900, 6_000)]
        );
        // A missing time (-1) is left out; a word with no time at all leaves the region
        // without words.
        let words = build_words(
            &tokens(&[(" one", -1, 50, 40), (" two", -1, -1, 60)]),
            &region,
        );
        assert_eq!(
            words,
            [word(" one", 5_100, 5_200), word(" two", 5_300, 5_300)]
        );
        assert!(
            build_words(
                &tokens(&[(" one", 40, 50, 45), (" two", -1, -1, -1)]),
                &region
            )
            .is_empty()
        );
    }

    #[test]
    fn special_tokens_are_not_text() {
        // whisper.cpp's ids for the multilingual models: end of text 50257, then start of
        // transcript, languages, tasks, no-speech and timestamp tokens.
        let end_of_text = 50_257;
        assert!(is_text_token(220, end_of_text));
        assert!(!is_text_token(end_of_text, end_of_text));
        assert!(!is_text_token(50_364, end_of_text));
    }

    #[test]
    fn words_spell_the_utterance_text_or_there_are_none() {
        let settings = AsrSettings::default();
        let region = region(2_712, 10_952);
        // The customer's card in c05 as Whisper base read it (times in call time, shifted to
        // the piece's window time).
        let window = |call_ms: i64| (call_ms - 2_712 + 300) / 10;
        let raw: Vec<(&str, i64, i64, i64)> = [
            (" I", 2592, 2592, 2992),
            (" lost", 2892, 3262, 3372),
            (" my", 3422, 3672, 3532),
            (" card", 3672, 4412, 4052),
            (".", 4412, 4552, 4272),
            (" A", 4662, 4732, 4392),
            (" number", 4732, 5232, 4772),
            (" in", 5232, 5392, 4932),
            (" 4", 5392, 5642, 5232),
            ("11", 5642, 6122, 5832),
            ("1", 6122, 6262, 7752),
            (".", 6482, 6992, 7892),
            (" 11", 7062, 8282, 8332),
            ("11", 8282, 9532, 9072),
            ("1", 9532, 10152, 9612),
            (".", 10152, 10712, 10432),
        ]
        .iter()
        .map(|&(text, t0, t1, dtw)| (text, window(t0), window(t1), window(dtw)))
        .collect();
        let tokens = tokens(&raw);
        let raw_text: String = raw.iter().map(|token| token.0).collect();
        let (text, quality) = guard_utterance(&raw_text, 0.9, 0.1, &settings).unwrap();
        assert_eq!(quality, SegmentQuality::Ok);
        let words = words_of_text(&text, build_words(&tokens, &region));
        let texts: Vec<&str> = words.iter().map(|word| word.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "I", " lost", " my", " card.", " A", " number", " in", " 4111.", " 11111."
            ]
        );
        assert_eq!(texts.concat(), text);
        assert_eq!(words[0], word("I", 2_712, 2_992));
        assert_eq!(words[6], word(" in", 4_932, 5_392));
        assert_eq!(words[7], word(" 4111.", 5_232, 7_892));
        // Whitespace the guards fold is folded in the words too.
        let words = words_of_text(
            "Hello there.",
            vec![
                word("  Hello", 0, 10),
                word(" ", 10, 20),
                word("  there.", 20, 30),
            ],
        );
        assert_eq!(words, [word("Hello", 0, 10), word(" there.", 20, 30)]);
        // A cut loop, a sound description removed, or no words: none.
        let looped = format!("I see.{}", " okay".repeat(10));
        let (cut, quality) = guard_utterance(&looped, 0.9, 0.1, &settings).unwrap();
        assert_eq!(quality, SegmentQuality::RepetitionTrimmed);
        let looped_words: Vec<Word> = [word("I", 0, 10), word(" see.", 10, 20)]
            .into_iter()
            .chain((0..10).map(|_| word(" okay", 20, 30)))
            .collect();
        assert!(words_of_text(&cut, looped_words).is_empty());
        assert!(
            words_of_text(
                "Hello there",
                vec![
                    word(" [MUSIC]", 0, 10),
                    word(" Hello", 10, 20),
                    word(" there", 20, 30)
                ]
            )
            .is_empty()
        );
        assert!(words_of_text("Hello", Vec::new()).is_empty());
    }

    #[test]
    fn a_sentence_read_twice_by_a_later_pass_is_dropped() {
        let sentence = fold_for_comparison(" I need a new credit card.");
        let again = fold_for_comparison(" I need a new credit card!");
        assert!(repeats_the_sentence_before(Some(&sentence), &again));
        assert!(!repeats_the_sentence_before(None, &sentence));
        let other = fold_for_comparison("I need a new debit card.");
        assert!(!repeats_the_sentence_before(Some(&sentence), &other));
        // Short repeats are speech.
        let hello = fold_for_comparison("Hello?");
        assert!(!repeats_the_sentence_before(Some(&hello), &hello));
        let no_no = fold_for_comparison("No, no.");
        assert!(!repeats_the_sentence_before(Some(&no_no), &no_no));
    }

    #[test]
    fn regions_after_a_loop_are_decoded_again_in_a_window_of_their_own() {
        let settings = AsrSettings::default();
        let regions = [
            region(0, 2_000),
            region(5_000, 9_000),
            region(12_000, 14_000),
            region(20_000, 21_500),
        ];
        let window = pack_regions(&regions, &settings).remove(0);
        let text = |text: &str| RegionAccumulator {
            bytes: text.as_bytes().to_vec(),
            n_tokens: text.split_whitespace().count() as u32,
            ..RegionAccumulator::default()
        };
        let looped = "a number is four one one one one one one one one one one one one";
        // The loop in region 1 took region 2's text and spilled into region 3.
        let accumulators = [
            text("hello is this the bank"),
            text(looped),
            RegionAccumulator::default(),
            text("one one one one one one one one one one"),
        ];
        assert_eq!(first_loop(&window.pieces, &accumulators), Some(1));
        let lost = pieces_lost_to_a_loop(&window.pieces, &accumulators, false);
        assert_eq!(
            lost.iter()
                .map(|piece| piece.region_index)
                .collect::<Vec<_>>(),
            [2, 3]
        );
        // Packed again from the start: the lead-in, the first region, a pause, the second.
        let again = repack(&lost, &settings);
        let lead = settings.window_lead_ms;
        let gap = settings.packing_gap_ms;
        assert_eq!(
            again.pieces,
            [
                Piece {
                    region_index: 2,
                    window_start_ms: lead,
                    window_end_ms: lead + 2_000
                },
                Piece {
                    region_index: 3,
                    window_start_ms: lead + 2_000 + gap,
                    window_end_ms: lead + 2_000 + gap + 1_500
                },
            ]
        );
        assert_eq!(again.length_ms, lead + 2_000 + gap + 1_500);
        assert!(!repacks_to_itself(&lost, &window.pieces, &settings));
        // All of a window packed again is that window: decoding it again would loop again.
        assert!(repacks_to_itself(&window.pieces, &window.pieces, &settings));
        assert!(repacks_to_itself(
            &window.pieces[..1],
            &window.pieces[..1],
            &settings
        ));
        // Without a loop, or with the loop in the last region, nothing is lost.
        let clean = [
            text("hello is this the bank"),
            text("i lost my card"),
            text("yes"),
            text(looped),
        ];
        assert!(pieces_lost_to_a_loop(&window.pieces, &clean, false).is_empty());
        assert_eq!(first_loop(&window.pieces, &clean), Some(3));
        // Regions after the loop that kept their own words are left alone.
        let later_text = [
            text("hello"),
            text(looped),
            text("thank you for calling"),
            text("goodbye"),
        ];
        assert!(pieces_lost_to_a_loop(&window.pieces, &later_text, false).is_empty());
        // A beam search whose looping beams were ended leaves no loop in the text: every empty
        // piece is taken again.
        let skipped = [
            text("hello"),
            text("i repeat four one one one"),
            RegionAccumulator::default(),
            text("goodbye"),
        ];
        assert!(pieces_lost_to_a_loop(&window.pieces, &skipped, false).is_empty());
        let lost = pieces_lost_to_a_loop(&window.pieces, &skipped, true);
        assert_eq!(
            lost.iter()
                .map(|piece| piece.region_index)
                .collect::<Vec<_>>(),
            [2]
        );
    }

    #[test]
    fn packing_fills_windows_and_keeps_order() {
        let regions = [
            region(0, 10_000),
            region(12_000, 22_000),
            region(30_000, 40_000),
        ];
        let windows = pack_regions(&regions, &AsrSettings::default());
        assert_eq!(windows.len(), 2);
        assert_eq!(windows[0].pieces.len(), 2);
        assert_eq!(windows[0].pieces[0].window_start_ms, WINDOW_LEAD_MS);
        assert_eq!(
            windows[0].pieces[1].window_start_ms,
            WINDOW_LEAD_MS + 10_000 + PACKING_GAP_MS
        );
        assert_eq!(
            windows[0].length_ms,
            WINDOW_LEAD_MS + 20_000 + PACKING_GAP_MS
        );
        assert_eq!(windows[1].pieces[0].region_index, 2);
        assert_eq!(windows[1].pieces[0].window_start_ms, WINDOW_LEAD_MS);
    }

    #[test]
    fn packing_never_exceeds_window_and_skips_empty_regions() {
        let regions = [
            region(0, 60_000),
            region(70_000, 70_000),
            region(80_000, 81_000),
        ];
        let windows = pack_regions(&regions, &AsrSettings::default());
        assert!(
            windows
                .iter()
                .all(|window| window.length_ms <= WINDOW_MAX_MS)
        );
        let indices: Vec<usize> = windows
            .iter()
            .flat_map(|window| window.pieces.iter().map(|piece| piece.region_index))
            .collect();
        assert_eq!(indices, vec![0, 2]);
    }

    #[test]
    fn tokens_between_pieces_go_to_the_nearest() {
        let pieces = [
            Piece {
                region_index: 0,
                window_start_ms: 0,
                window_end_ms: 1000,
            },
            Piece {
                region_index: 1,
                window_start_ms: 1600,
                window_end_ms: 3000,
            },
        ];
        assert_eq!(piece_at(&pieces, 500), 0);
        assert_eq!(piece_at(&pieces, 1100), 0);
        assert_eq!(piece_at(&pieces, 1500), 1);
        assert_eq!(piece_at(&pieces, 9000), 1);
    }

    fn reading(text: &str, n_tokens: u32) -> RegionAccumulator {
        RegionAccumulator {
            bytes: text.as_bytes().to_vec(),
            n_tokens,
            ..RegionAccumulator::default()
        }
    }

    #[test]
    fn a_reading_is_too_short_only_for_a_long_region_with_few_tokens() {
        // The skipped card number: 10 tokens over 8.3 s.
        assert!(reads_too_little(
            &reading(" I lost my card. I am very poor.", 10),
            8_256
        ));
        // Digits read one by one, and a slow short turn, are read in full.
        assert!(!reads_too_little(
            &reading(" I repeat, 4111 1111 1111 1111 1111", 18),
            7_216
        ));
        assert!(!reads_too_little(
            &reading(" Union Bank Maria speaking", 4),
            2_528
        ));
        // Below 3 s nothing is suspicious, and an empty reading is not taken for a skip.
        assert!(!reads_too_little(&reading(" Okay.", 2), 2_900));
        assert!(!reads_too_little(&reading("", 0), 10_000));
    }

    #[test]
    fn a_second_reading_wins_only_when_it_reads_more_without_a_loop() {
        let first = reading(" I lost my card. I am very poor.", 10);
        let through = reading(" I lost my card. A number is 4111 1111 1111 1111.", 20);
        assert!(second_reading_wins(&first, &through));
        assert!(!second_reading_wins(&first, &first));
        assert!(!second_reading_wins(
            &first,
            &reading(" I lost my card.", 5)
        ));
        let looping = reading(&" one".repeat(40), 40);
        assert!(!second_reading_wins(&first, &looping));
    }

    #[test]
    fn loops_are_cut_but_natural_repeats_stay() {
        let looped = "I see. ".to_string() + &"okay ".repeat(40);
        let (text, trimmed) = trim_repetitions(&looped);
        assert!(trimmed);
        assert_eq!(text, "I see. okay okay");
        let (text, trimmed) = trim_repetitions("No, no, no, that is fine.");
        assert!(!trimmed);
        assert_eq!(text, "No, no, no, that is fine.");
        let (text, trimmed) = trim_repetitions(
            "thank you so much thank you so much thank you so much thank you so much",
        );
        assert!(trimmed);
        assert_eq!(text, "thank you so much thank you so much");
        let card = "four one one one one one one one one one one one one one one one";
        assert_eq!(trim_repetitions(card), (card.to_string(), false));
    }

    #[test]
    fn loops_inside_words_are_cut() {
        let looped = format!("one, one, or {}", "wad".repeat(60));
        assert_eq!(
            trim_character_loops(&looped),
            ("one, one, or wadwad".to_string(), true)
        );
        assert_eq!(
            trim_character_loops(&"好".repeat(30)),
            ("好好".to_string(), true)
        );
        for natural in [
            "Hmmmm, okay.",
            "1111 2222",
            "hahaha",
            "4111111111111111",
            "4, 1, 1, 1, 1, 1, 1, 1, 1",
        ] {
            assert_eq!(
                trim_character_loops(natural),
                (natural.to_string(), false),
                "{natural}"
            );
        }
    }

    #[test]
    fn phantom_and_sound_descriptions_are_dropped() {
        let settings = AsrSettings::default();
        assert_eq!(guard_utterance(" you", 0.9, 0.1, &settings), None);
        assert_eq!(
            guard_utterance("(water flowing)", 0.9, 0.1, &settings),
            None
        );
        assert_eq!(
            guard_utterance("Thanks for watching!", 0.9, 0.1, &settings),
            None
        );
        assert_eq!(guard_utterance("Hello there", 0.2, 0.9, &settings), None);
        assert_eq!(
            guard_utterance("[MUSIC] Hello there", 0.9, 0.1, &settings),
            Some(("Hello there".to_string(), SegmentQuality::Ok))
        );
        assert_eq!(
            guard_utterance("Hello there", 0.3, 0.1, &settings),
            Some(("Hello there".to_string(), SegmentQuality::LowConfidence))
        );
    }

    #[test]
    fn strip_keeps_brackets_that_hold_only_a_number() {
        assert_eq!(
            strip_sound_descriptions("call me at (555) 123-4567"),
            "call me at (555) 123-4567"
        );
        assert_eq!(
            strip_sound_descriptions("my number is +1 (415) 555 2671 [2]"),
            "my number is +1 (415) 555 2671 [2]"
        );
        assert_eq!(
            strip_sound_descriptions("(laughs) it is (0 41) 7 (coughs)"),
            "it is (0 41) 7"
        );
        // Sound descriptions and brackets with words go, as before.
        assert_eq!(
            strip_sound_descriptions("[MUSIC] (2 beeps) Hello *sighs* there ♪"),
            "Hello there"
        );
        assert_eq!(strip_sound_descriptions("(555"), "");
    }
}
