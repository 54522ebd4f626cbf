//! Voice activity stage: finds the stretches of one 16 kHz channel that hold speech, and
//! measures loudness and pitch of a stretch.
//!
//! Why it matters: only speech may reach Whisper. Given silence, hiss or a tone, Whisper
//! invents text ("you", "Thank you for watching", "(water flowing)"), which would then be
//! scored as if someone had said it.
//!
//! What [`detect_speech`] promises:
//! * digital silence, steady line noise (white/pink hiss, mains hum), pure tones and DTMF
//!   key tones give **no** regions;
//! * speech is found with its start within about ±100 ms; regions are then widened by
//!   [`VadConfig::padding_ms`] on both sides so that Whisper hears whole first and last words;
//! * regions are in call time (ms from the start of the channel), sorted, non-overlapping,
//!   inside the channel, and at most [`VadConfig::max_region_ms`] long (longer speech is split
//!   at its quietest moment, so every region fits one 30 s Whisper window);
//! * deterministic: the same samples and config give the same regions on every run (no
//!   randomness, no threads, nothing timed).
//!
//! How: the channel is cut into 16 ms frames, and each frame gets three cues:
//! 1. a speech probability from `earshot`, a small recurrent neural network trained to tell
//!    speech from noise and music (pure Rust, weights built in, thousands of times faster than
//!    real time);
//! 2. its RMS level in the speech band (250–3800 Hz), which must reach an absolute floor
//!    ([`VadConfig::min_speech_level_dbfs`]) so that faint crosstalk, hiss and hum never count;
//! 3. tonality: the number of spectral peaks within 25 dB of the strongest one. A test tone
//!    has one, a DTMF key or a ringback tone two; voiced speech shows a comb of harmonics and
//!    hissing sounds (s, f) a noise-like spectrum with many peaks. Frames with one or two
//!    peaks are tones.
//!
//! Frames that pass form stretches (with hysteresis on the probability); gaps shorter than
//! [`VadConfig::merge_gap_ms`] are bridged unless a tone sits in the gap; a stretch is kept if
//! it lasts [`VadConfig::min_speech_ms`] and its level *moves* like speech (syllables swing the
//! level by 15 dB or more, steady noise by a few dB).
//!
//! Why earshot plus these checks (evaluated on synthetic telephone-band signals): earshot alone
//! rejects hiss, hum, a 1 kHz tone, plucked-string music and clicks, and finds espeak speech
//! (also G.711-coded, 8 kHz band-limited) within a few frames of its onset, and LibriVox read
//! speech as whole utterances; but it scores DTMF as speech and,
//! when loud steady noise starts after silence, calls the first ~2 s speech. The tone test and
//! the level-swing test close exactly those two holes. An energy/spectrum detector alone could
//! not tell speech from hold music or typing; a neural model alone was not trustworthy on tones.
//!
//! [`measure_region`] gives the RMS level in dBFS and the median pitch from a YIN pitch tracker
//! (60–400 Hz, with a voicing threshold and parabolic interpolation).

use crate::types::{RegionAcoustics, SpeechRegion};

/// The only sample rate this module works at (the decode stage's output rate).
pub const SAMPLE_RATE: u32 = 16_000;

/// earshot's frame: 256 samples = 16 ms.
const FRAME_SAMPLES: usize = 256;
const FRAME_MS: u64 = 16;
/// Spectral analysis window (Hann, 32 ms) centred on each frame; also the FFT size.
const ANALYSIS_SAMPLES: usize = 512;
/// Speech band used for level and tonality: the telephone band with a margin.
const BAND_LOW_HZ: f32 = 250.0;
const BAND_HIGH_HZ: f32 = 3800.0;
/// A spectral peak counts toward tonality if it is within this many dB of the strongest peak.
/// Hann side lobes are at -31 dB, so a pure tone shows exactly one peak.
const PEAK_RANGE_DB: f32 = 25.0;
/// Frames with at most this many peaks are tones (single tone: 1, DTMF/ringback/busy: 2).
const TONE_MAX_PEAKS: usize = 2;
/// Level reported for digital silence, instead of minus infinity.
const SILENCE_DB: f32 = -120.0;
/// Smoothing span when looking for the quietest moment to split a long region (~200 ms).
const SPLIT_SMOOTHING_FRAMES: usize = 13;

/// Tuning of [`detect_speech`]. The defaults suit contact-center telephone audio.
#[derive(Debug, Clone, PartialEq)]
pub struct VadConfig {
    /// earshot probability at or above which a frame can start speech (0..1).
    pub start_probability: f32,
    /// Once in speech, frames at or above this probability continue it (hysteresis).
    pub continue_probability: f32,
    /// Frames quieter than this (RMS in the 250–3800 Hz band, dBFS) are never speech. Telephone
    /// speech is typically -20 to -30 dBFS; line hiss is usually below -55.
    pub min_speech_level_dbfs: f32,
    /// A stretch must swing at least this much in level (90th minus 10th percentile of its
    /// frame levels, dB) to count as speech; steady noise swings 1–3 dB, speech 15–30 dB.
    pub min_level_swing_db: f32,
    /// Stretches shorter than this are dropped (clicks, coughs, single key tones).
    pub min_speech_ms: u64,
    /// Gaps shorter than this between two stretches are bridged (pauses inside a sentence).
    pub merge_gap_ms: u64,
    /// Added before and after each region (clamped to the channel).
    pub padding_ms: u64,
    /// Regions longer than this are split at their quietest moment (Whisper reads 30 s).
    pub max_region_ms: u64,
}

impl Default for VadConfig {
    fn default() -> Self {
        VadConfig {
            start_probability: 0.5,
            continue_probability: 0.3,
            min_speech_level_dbfs: -50.0,
            min_level_swing_db: 6.0,
            min_speech_ms: 250,
            merge_gap_ms: 300,
            padding_ms: 200,
            max_region_ms: 25_000,
        }
    }
}

/// What the detector learnt about one 16 ms frame.
#[derive(Debug, Clone, Copy)]
struct FrameCues {
    speech_probability: f32,
    /// RMS level in the speech band, dBFS (full-band level when that is already below the
    /// speech floor: the band level can only be lower, and the FFT is skipped).
    band_level_db: f32,
    /// Loud enough to matter and spectrally a tone (one or two peaks).
    is_tone: bool,
}

/// Finds the speech regions of one channel of 16 kHz samples. See the module documentation.
pub fn detect_speech(samples_16k: &[f32], config: &VadConfig) -> Vec<SpeechRegion> {
    let mut detector = SpeechDetector::new(config);
    detector.push(samples_16k);
    detector.finish()
}

/// [`detect_speech`] for a channel that arrives in blocks (from
/// [`crate::decode::stream_file_channel`]): it keeps only the cues of each 16 ms frame (12 bytes
/// per frame, 8 MB for 3 hours) and the last few hundred samples, never the channel itself.
/// Pushing the samples in any split gives exactly the regions [`detect_speech`] gives for all
/// of them at once.
pub struct SpeechDetector<'config> {
    config: &'config VadConfig,
    analyser: FrameAnalyser,
    cues: Vec<FrameCues>,
    /// Samples from `pending_offset` on: the history and look-ahead the next frame needs.
    pending: Vec<f32>,
    /// Channel index of `pending[0]`.
    pending_offset: usize,
    n_samples: usize,
}

impl<'config> SpeechDetector<'config> {
    pub fn new(config: &'config VadConfig) -> Self {
        SpeechDetector {
            config,
            analyser: FrameAnalyser::new(config.min_speech_level_dbfs),
            cues: Vec::new(),
            pending: Vec::new(),
            pending_offset: 0,
            n_samples: 0,
        }
    }

    /// Takes the next samples of the channel.
    pub fn push(&mut self, samples_16k: &[f32]) {
        self.pending.extend_from_slice(samples_16k);
        self.n_samples += samples_16k.len();
        // A frame is analysed once its whole analysis window has arrived.
        loop {
            let start = self.cues.len() * FRAME_SAMPLES;
            let window_end = start + FRAME_SAMPLES / 2 + ANALYSIS_SAMPLES / 2;
            if window_end > self.n_samples {
                break;
            }
            let cues = self
                .analyser
                .frame_cues(&self.pending, start - self.pending_offset);
            self.cues.push(cues);
        }
        // Keep what the next frame's window reaches back to.
        let next_window_start = (self.cues.len() * FRAME_SAMPLES + FRAME_SAMPLES / 2)
            .saturating_sub(ANALYSIS_SAMPLES / 2);
        let drop = next_window_start.saturating_sub(self.pending_offset);
        if drop > 0 {
            self.pending.drain(..drop);
            self.pending_offset += drop;
        }
    }

    /// Number of samples pushed so far.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    /// Analyses the last frames (zero-padded past the end) and returns the regions.
    pub fn finish(mut self) -> Vec<SpeechRegion> {
        let n_frames = self.n_samples.div_ceil(FRAME_SAMPLES);
        while self.cues.len() < n_frames {
            let start = self.cues.len() * FRAME_SAMPLES;
            let cues = self
                .analyser
                .frame_cues(&self.pending, start - self.pending_offset);
            self.cues.push(cues);
        }
        regions_from_cues(&self.cues, samples_to_ms(self.n_samples), self.config)
    }
}

/// The decisions of [`detect_speech`] on the cues of every frame of a channel.
fn regions_from_cues(cues: &[FrameCues], channel_ms: u64, config: &VadConfig) -> Vec<SpeechRegion> {
    // 1. Frame decisions with hysteresis → stretches of frames [start, end).
    let mut stretches: Vec<(usize, usize)> = Vec::new();
    let mut current_start: Option<usize> = None;
    for (index, cue) in cues.iter().enumerate() {
        let threshold = if current_start.is_some() {
            config.continue_probability
        } else {
            config.start_probability
        };
        let is_speech = cue.band_level_db >= config.min_speech_level_dbfs
            && !cue.is_tone
            && cue.speech_probability >= threshold;
        match (is_speech, current_start) {
            (true, None) => current_start = Some(index),
            (false, Some(start)) => {
                stretches.push((start, index));
                current_start = None;
            }
            _ => {}
        }
    }
    if let Some(start) = current_start {
        stretches.push((start, cues.len()));
    }

    // 2. Bridge short gaps, but never across a tone: that would glue the edges of DTMF
    //    digits (which look like clicks, not tones) into one long false stretch.
    let merge_gap_frames = ms_to_frames_ceil(config.merge_gap_ms);
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for stretch in stretches {
        match merged.last_mut() {
            Some(last)
                if stretch.0 - last.1 < merge_gap_frames
                    && !cues[last.1..stretch.0].iter().any(|cue| cue.is_tone) =>
            {
                last.1 = stretch.1
            }
            _ => merged.push(stretch),
        }
    }

    // 3. Keep stretches that are long enough and move like speech.
    let min_frames = ms_to_frames_ceil(config.min_speech_ms);
    let kept = merged.into_iter().filter(|&(start, end)| {
        end - start >= min_frames && level_swing_db(&cues[start..end]) >= config.min_level_swing_db
    });

    // 4. Pad, clamp, merge overlaps.
    let mut regions: Vec<SpeechRegion> = Vec::new();
    for (start, end) in kept {
        let start_ms = (start as u64 * FRAME_MS)
            .saturating_sub(config.padding_ms)
            .min(channel_ms);
        let end_ms = (end as u64 * FRAME_MS + config.padding_ms).min(channel_ms);
        match regions.last_mut() {
            Some(last) if start_ms <= last.end_ms => last.end_ms = last.end_ms.max(end_ms),
            _ => regions.push(SpeechRegion { start_ms, end_ms }),
        }
    }
    regions.retain(|region| region.end_ms > region.start_ms);

    // 5. Split regions too long for one Whisper window.
    regions
        .into_iter()
        .flat_map(|region| split_long_region(region, cues, config.max_region_ms))
        .collect()
}

/// Level swing of a stretch: 90th minus 10th percentile of its frame levels, in dB.
fn level_swing_db(cues: &[FrameCues]) -> f32 {
    if cues.is_empty() {
        return 0.0;
    }
    let mut levels: Vec<f32> = cues.iter().map(|cue| cue.band_level_db).collect();
    levels.sort_by(f32::total_cmp);
    let at = |fraction: f32| levels[((levels.len() - 1) as f32 * fraction).round() as usize];
    at(0.9) - at(0.1)
}

/// Splits `region` into pieces of at most `max_ms`, each cut at the quietest moment (level
/// averaged over ~200 ms) in the second half of the allowed span: pieces are never longer than
/// allowed nor needlessly short, and cuts fall into pauses where there are any.
fn split_long_region(region: SpeechRegion, cues: &[FrameCues], max_ms: u64) -> Vec<SpeechRegion> {
    let max_ms = max_ms.max(4 * FRAME_MS);
    let smoothed_level = |frame: usize| {
        let from = frame
            .saturating_sub(SPLIT_SMOOTHING_FRAMES / 2)
            .min(cues.len());
        let to = (frame + SPLIT_SMOOTHING_FRAMES / 2 + 1).min(cues.len());
        let window = &cues[from..to];
        window.iter().map(|cue| cue.band_level_db).sum::<f32>() / window.len().max(1) as f32
    };
    let mut pieces = Vec::new();
    let mut start_ms = region.start_ms;
    while region.end_ms - start_ms > max_ms {
        // Candidate cut points: frame boundaries in [start + max/2, start + max].
        let first_frame = (start_ms + max_ms / 2).div_ceil(FRAME_MS);
        let last_frame = (start_ms + max_ms) / FRAME_MS;
        let mut cut_ms = start_ms + max_ms;
        let mut quietest = f32::INFINITY;
        // Strictly-less keeps the earliest of equally quiet points: deterministic.
        for frame in first_frame..=last_frame {
            let level = smoothed_level(frame as usize);
            if level < quietest {
                quietest = level;
                cut_ms = frame * FRAME_MS;
            }
        }
        pieces.push(SpeechRegion {
            start_ms,
            end_ms: cut_ms,
        });
        start_ms = cut_ms;
    }
    pieces.push(SpeechRegion {
        start_ms,
        end_ms: region.end_ms,
    });
    pieces
}

fn samples_to_ms(n_samples: usize) -> u64 {
    n_samples as u64 * 1000 / u64::from(SAMPLE_RATE)
}

fn ms_to_frames_ceil(ms: u64) -> usize {
    ms.div_ceil(FRAME_MS) as usize
}

/// Computes the cues of 16 ms frames: earshot's state carries from one frame to the next.
struct FrameAnalyser {
    detector: earshot::Detector,
    spectrum: SpectrumAnalyser,
    min_speech_level_dbfs: f32,
}

impl FrameAnalyser {
    fn new(min_speech_level_dbfs: f32) -> Self {
        FrameAnalyser {
            detector: earshot::Detector::default(),
            spectrum: SpectrumAnalyser::new(),
            min_speech_level_dbfs,
        }
    }

    /// The cues of the frame starting at `samples[start]`. Samples before the start of `samples`
    /// or past its end count as silence (the last, partial frame is zero-padded).
    fn frame_cues(&mut self, samples: &[f32], start: usize) -> FrameCues {
        let mut frame = [0f32; FRAME_SAMPLES];
        let end = (start + FRAME_SAMPLES).min(samples.len());
        // earshot wants finite samples in -1..=1 (it asserts so in debug builds); the decode
        // stage guarantees that, but this function is public, so sanitise rather than trust.
        for (slot, &sample) in frame.iter_mut().zip(&samples[start.min(end)..end]) {
            *slot = finite_clamped(sample);
        }
        let speech_probability = self.detector.predict_f32(&frame);
        // Analysis window centred on this frame; the FFT is only worth it when the whole
        // window is loud enough for the band to reach the speech floor.
        let window_start = (start + FRAME_SAMPLES / 2) as isize - (ANALYSIS_SAMPLES / 2) as isize;
        let full_band_level_db = self.spectrum.load_window(samples, window_start);
        let (band_level_db, is_tone) = if full_band_level_db < self.min_speech_level_dbfs {
            (full_band_level_db, false)
        } else {
            let (band_level_db, n_peaks) = self.spectrum.band_level_and_peaks();
            (
                band_level_db,
                band_level_db >= self.min_speech_level_dbfs && n_peaks <= TONE_MAX_PEAKS,
            )
        };
        FrameCues {
            speech_probability,
            band_level_db,
            is_tone,
        }
    }
}

fn finite_clamped(sample: f32) -> f32 {
    if sample.is_finite() {
        sample.clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

fn power_to_db(mean_square: f32) -> f32 {
    if mean_square > 1e-12 {
        (10.0 * mean_square.log10()).max(SILENCE_DB)
    } else {
        SILENCE_DB
    }
}

/// Hann-windowed FFT analysis of 512-sample windows: band level and spectral peak count.
struct SpectrumAnalyser {
    window: Vec<f32>,
    /// Sum of squared window weights, to turn spectral power back into signal power.
    window_power: f32,
    fft: Fft,
    band_bins: std::ops::RangeInclusive<usize>,
    real: Vec<f32>,
    imaginary: Vec<f32>,
    band_power: Vec<f32>,
}

impl SpectrumAnalyser {
    fn new() -> Self {
        let window: Vec<f32> = (0..ANALYSIS_SAMPLES)
            .map(|i| {
                0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / ANALYSIS_SAMPLES as f32).cos()
            })
            .collect();
        let window_power = window.iter().map(|w| w * w).sum();
        let bin_hz = SAMPLE_RATE as f32 / ANALYSIS_SAMPLES as f32;
        let band_bins =
            (BAND_LOW_HZ / bin_hz).ceil() as usize..=(BAND_HIGH_HZ / bin_hz).floor() as usize;
        SpectrumAnalyser {
            window,
            window_power,
            fft: Fft::new(ANALYSIS_SAMPLES),
            band_bins,
            real: vec![0.0; ANALYSIS_SAMPLES],
            imaginary: vec![0.0; ANALYSIS_SAMPLES],
            band_power: Vec::new(),
        }
    }

    /// Copies the windowed samples starting at `window_start` (may hang over either end;
    /// missing samples are 0) and returns the window's full-band level in dBFS.
    fn load_window(&mut self, samples: &[f32], window_start: isize) -> f32 {
        let mut weighted_sum_of_squares = 0f32;
        for (offset, slot) in self.real.iter_mut().enumerate() {
            let index = window_start + offset as isize;
            let sample = if index >= 0 && (index as usize) < samples.len() {
                finite_clamped(samples[index as usize])
            } else {
                0.0
            };
            *slot = sample * self.window[offset];
            weighted_sum_of_squares += *slot * *slot;
        }
        self.imaginary.fill(0.0);
        power_to_db(weighted_sum_of_squares / self.window_power)
    }

    /// For the loaded window: (band level in dBFS, number of spectral peaks in the band within
    /// [`PEAK_RANGE_DB`] of the strongest).
    fn band_level_and_peaks(&mut self) -> (f32, usize) {
        self.fft.transform(&mut self.real, &mut self.imaginary);
        self.band_power.clear();
        for bin in self.band_bins.clone() {
            self.band_power
                .push(self.real[bin] * self.real[bin] + self.imaginary[bin] * self.imaginary[bin]);
        }
        let power = &self.band_power;
        let total: f32 = power.iter().sum();
        // Parseval: one-sided band power ×2, normalised by N × window power → mean square.
        let level_db = power_to_db(2.0 * total / (ANALYSIS_SAMPLES as f32 * self.window_power));
        let strongest = power.iter().copied().fold(0.0, f32::max);
        let significant = strongest * 10f32.powf(-PEAK_RANGE_DB / 10.0);
        let n_peaks = (1..power.len().saturating_sub(1))
            .filter(|&k| {
                power[k] >= significant && power[k] > power[k - 1] && power[k] >= power[k + 1]
            })
            .count();
        (level_db, n_peaks)
    }
}

/// A small in-place radix-2 complex FFT (size a power of two), written here to keep the module
/// free of extra dependencies; 512 points is all it needs.
struct Fft {
    size: usize,
    cosines: Vec<f32>,
    sines: Vec<f32>,
}

impl Fft {
    fn new(size: usize) -> Self {
        debug_assert!(size.is_power_of_two());
        let (cosines, sines) = (0..size / 2)
            .map(|k| {
                let angle = -2.0 * std::f64::consts::PI * k as f64 / size as f64;
                (angle.cos() as f32, angle.sin() as f32)
            })
            .unzip();
        Fft {
            size,
            cosines,
            sines,
        }
    }

    fn transform(&self, real: &mut [f32], imaginary: &mut [f32]) {
        let n = self.size;
        // Bit-reversal permutation.
        let mut j = 0;
        for i in 1..n {
            let mut bit = n >> 1;
            while j & bit != 0 {
                j ^= bit;
                bit >>= 1;
            }
            j |= bit;
            if i < j {
                real.swap(i, j);
                imaginary.swap(i, j);
            }
        }
        // Butterflies.
        let mut length = 2;
        while length <= n {
            let twiddle_step = n / length;
            for block in (0..n).step_by(length) {
                for k in 0..length / 2 {
                    let (cos, sin) = (self.cosines[k * twiddle_step], self.sines[k * twiddle_step]);
                    let (a, b) = (block + k, block + k + length / 2);
                    let product_real = real[b] * cos - imaginary[b] * sin;
                    let product_imaginary = real[b] * sin + imaginary[b] * cos;
                    real[b] = real[a] - product_real;
                    imaginary[b] = imaginary[a] - product_imaginary;
                    real[a] += product_real;
                    imaginary[a] += product_imaginary;
                }
            }
            length <<= 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loudness and pitch

/// Lowest and highest fundamental frequency searched, Hz.
const PITCH_MIN_HZ: f32 = 60.0;
const PITCH_MAX_HZ: f32 = 400.0;
/// YIN integration window: 25 ms, longer than the longest period searched (16.7 ms).
const YIN_WINDOW_SAMPLES: usize = 400;
/// One pitch estimate every 20 ms (plenty for a median, and half the work of 10 ms).
const YIN_HOP_SAMPLES: usize = 320;
/// YIN's absolute threshold on the cumulative-mean-normalised difference: a dip below it means
/// the frame is periodic (voiced). 0.15 is the value recommended by de Cheveigné & Kawahara.
const YIN_VOICING_THRESHOLD: f32 = 0.15;
/// Frames more than this far below the region's loudest frame are not tracked (background).
const PITCH_FRAME_LEVEL_RANGE_DB: f32 = 30.0;
/// Fewer voiced frames than this (60 ms of voicing) give no pitch.
const MIN_VOICED_FRAMES: usize = 3;

/// Measures loudness and median pitch of `region` of a channel (16 kHz samples).
///
/// * `loudness_db`: RMS over the region in dBFS, i.e. `20·log10(rms)` with full-scale square
///   wave = 0 dB (a full-scale sine reads -3 dB); digital silence reads -120 dB.
/// * `pitch_hz`: median of the per-frame YIN estimates over voiced frames, or `None` when
///   fewer than 3 frames are voiced.
///
/// The region is clamped to the samples present; deterministic.
pub fn measure_region(samples_16k: &[f32], region: &SpeechRegion) -> RegionAcoustics {
    let rate = u64::from(SAMPLE_RATE);
    let start = usize::try_from(region.start_ms.saturating_mul(rate) / 1000)
        .unwrap_or(usize::MAX)
        .min(samples_16k.len());
    let end = usize::try_from(region.end_ms.saturating_mul(rate) / 1000)
        .unwrap_or(usize::MAX)
        .clamp(start, samples_16k.len());
    measure_samples(&samples_16k[start..end], region)
}

/// [`measure_region`] on the region's own samples (already cut out of the channel), as the
/// streaming transcription hands them over.
pub fn measure_samples(slice: &[f32], region: &SpeechRegion) -> RegionAcoustics {
    let sum_of_squares: f64 = slice
        .iter()
        .filter(|s| s.is_finite())
        .map(|&s| f64::from(s) * f64::from(s))
        .sum();
    let loudness_db = if slice.is_empty() || sum_of_squares <= 0.0 {
        SILENCE_DB
    } else {
        ((10.0 * (sum_of_squares / slice.len() as f64).log10()) as f32).max(SILENCE_DB)
    };
    RegionAcoustics {
        start_ms: region.start_ms,
        end_ms: region.end_ms,
        loudness_db,
        pitch_hz: median_pitch_hz(slice),
    }
}

/// Σ (a[i] − b[i])² over the common length. Eight running sums in a fixed order: the result is
/// the same on every run, and the compiler can vectorise the loop (the pitch tracker spends
/// nearly all its time here).
fn squared_difference_sum(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 8;
    let length = a.len().min(b.len());
    let (a, b) = (&a[..length], &b[..length]);
    let mut lanes = [0f32; LANES];
    for (chunk_a, chunk_b) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for lane in 0..LANES {
            let delta = chunk_a[lane] - chunk_b[lane];
            lanes[lane] += delta * delta;
        }
    }
    let tail = length - length % LANES;
    let tail_sum: f32 = a[tail..]
        .iter()
        .zip(&b[tail..])
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    lanes.iter().sum::<f32>() + tail_sum
}

/// Median YIN pitch over the voiced frames of `samples`.
fn median_pitch_hz(samples: &[f32]) -> Option<f32> {
    let lag_min = (SAMPLE_RATE as f32 / PITCH_MAX_HZ).floor() as usize;
    let lag_max = (SAMPLE_RATE as f32 / PITCH_MIN_HZ).ceil() as usize;
    let frame_len = YIN_WINDOW_SAMPLES + lag_max + 1;
    if samples.len() < frame_len {
        return None;
    }
    // Non-finite samples (possible in caller-made input) count as silence.
    let samples: Vec<f32> = samples
        .iter()
        .map(|&s| if s.is_finite() { s } else { 0.0 })
        .collect();
    let frame_starts: Vec<usize> = (0..=samples.len() - frame_len)
        .step_by(YIN_HOP_SAMPLES)
        .collect();
    let energies: Vec<f32> = frame_starts
        .iter()
        .map(|&start| {
            let window = &samples[start..start + YIN_WINDOW_SAMPLES];
            squared_difference_sum(window, &[0.0; YIN_WINDOW_SAMPLES])
        })
        .collect();
    let loudest = energies.iter().copied().fold(0.0, f32::max);
    if loudest <= 0.0 {
        return None;
    }
    let energy_floor = loudest * 10f32.powf(-PITCH_FRAME_LEVEL_RANGE_DB / 10.0);

    let mut difference = vec![0f32; lag_max + 2];
    let mut normalised = vec![1f32; lag_max + 2];
    let mut estimates: Vec<f32> = Vec::new();
    for (&start, &energy) in frame_starts.iter().zip(&energies) {
        if energy < energy_floor {
            continue;
        }
        let frame = &samples[start..start + frame_len];
        // d(τ) = Σ (x[j] − x[j+τ])² over the window.
        for (lag, slot) in difference.iter_mut().enumerate().skip(1) {
            *slot = squared_difference_sum(
                &frame[..YIN_WINDOW_SAMPLES],
                &frame[lag..lag + YIN_WINDOW_SAMPLES],
            );
        }
        // Cumulative mean normalised difference d'(τ) = d(τ)·τ / Σ_{k≤τ} d(k).
        let mut running_sum = 0f32;
        for lag in 1..=lag_max + 1 {
            running_sum += difference[lag];
            normalised[lag] = if running_sum > 0.0 {
                difference[lag] * lag as f32 / running_sum
            } else {
                1.0
            };
        }
        // First dip below the threshold, followed down to its local minimum.
        let Some(mut lag) =
            (lag_min..=lag_max).find(|&lag| normalised[lag] < YIN_VOICING_THRESHOLD)
        else {
            continue;
        };
        while lag < lag_max && normalised[lag + 1] < normalised[lag] {
            lag += 1;
        }
        // Parabolic interpolation around the minimum for sub-sample precision.
        let (before, at, after) = (normalised[lag - 1], normalised[lag], normalised[lag + 1]);
        let curvature = before - 2.0 * at + after;
        let offset = if curvature > 0.0 {
            (0.5 * (before - after) / curvature).clamp(-0.5, 0.5)
        } else {
            0.0
        };
        let frequency = SAMPLE_RATE as f32 / (lag as f32 + offset);
        if (PITCH_MIN_HZ..=PITCH_MAX_HZ).contains(&frequency) {
            estimates.push(frequency);
        }
    }
    if estimates.len() < MIN_VOICED_FRAMES {
        return None;
    }
    estimates.sort_by(f32::total_cmp);
    let middle = estimates.len() / 2;
    Some(if estimates.len() % 2 == 1 {
        estimates[middle]
    } else {
        0.5 * (estimates[middle - 1] + estimates[middle])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{DecodeOptions, decode_file};
    use std::f32::consts::PI;
    use std::path::{Path, PathBuf};

    fn fixtures_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
    }

    fn decode_fixture(name: &str) -> Vec<Vec<f32>> {
        decode_file(&fixtures_dir().join(name), &DecodeOptions::default())
            .unwrap()
            .channels
    }

    /// Deterministic uniform white noise in -1..1 (xorshift64).
    fn white_noise(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed | 1;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// Pink (1/f) noise: white noise through Paul Kellet's economy pinking filter.
    fn pink_noise(n: usize, seed: u64) -> Vec<f32> {
        let (mut b0, mut b1, mut b2) = (0f32, 0f32, 0f32);
        white_noise(n, seed)
            .into_iter()
            .map(|white| {
                b0 = 0.99765 * b0 + white * 0.0990460;
                b1 = 0.96300 * b1 + white * 0.2965164;
                b2 = 0.57000 * b2 + white * 1.0526913;
                b0 + b1 + b2 + white * 0.1848
            })
            .collect()
    }

    fn rms_db(samples: &[f32]) -> f32 {
        let mean_square = samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32;
        10.0 * mean_square.log10()
    }

    fn scaled_to_rms_db(samples: Vec<f32>, target_db: f32) -> Vec<f32> {
        let gain = 10f32.powf((target_db - rms_db(&samples)) / 20.0);
        samples.into_iter().map(|s| s * gain).collect()
    }

    fn tones(frequencies_and_amplitudes: &[(f32, f32)], n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE as f32;
                frequencies_and_amplitudes
                    .iter()
                    .map(|(f, a)| a * (2.0 * PI * f * t).sin())
                    .sum()
            })
            .collect()
    }

    fn silence(seconds: f32) -> Vec<f32> {
        vec![0.0; (seconds * SAMPLE_RATE as f32) as usize]
    }

    fn assert_no_speech(name: &str, samples: &[f32]) {
        let regions = detect_speech(samples, &VadConfig::default());
        assert!(
            regions.is_empty(),
            "{name}: expected no speech, got {regions:?}"
        );
    }

    /// The streaming detector gives exactly the regions of the whole-channel call, however the
    /// samples are split into blocks (odd sizes, single samples, blocks larger than a frame).
    #[test]
    fn blocks_of_any_size_give_the_same_regions() {
        let mut channel = silence(0.7);
        channel.extend(decode_fixture("c01_polite_mulaw.wav").swap_remove(0));
        channel.extend(scaled_to_rms_db(pink_noise(20_000, 7), -35.0));
        channel.extend(silence(0.3));
        let config = VadConfig::default();
        let whole = detect_speech(&channel, &config);
        assert!(whole.len() >= 2, "{whole:?}");
        for block in [1, 17, 255, 256, 257, 4096, 100_000] {
            let mut detector = SpeechDetector::new(&config);
            for samples in channel.chunks(block) {
                detector.push(samples);
            }
            assert_eq!(detector.n_samples(), channel.len());
            assert_eq!(detector.finish(), whole, "blocks of {block}");
        }
        // Uneven blocks, as a resampler hands them over.
        let mut detector = SpeechDetector::new(&config);
        let mut rest = channel.as_slice();
        let mut size = 1;
        while !rest.is_empty() {
            let (now, later) = rest.split_at(size.min(rest.len()));
            detector.push(now);
            rest = later;
            size = size * 7 % 5_003 + 1;
        }
        assert_eq!(detector.finish(), whole);
    }

    // ---- nothing that is not speech ------------------------------------------------------------

    #[test]
    fn silence_noise_and_hum_give_no_regions() {
        assert_no_speech("empty", &[]);
        assert_no_speech("one sample", &[0.5]);
        assert_no_speech("digital silence", &silence(5.0));
        assert_no_speech(
            "white noise -50 dBFS",
            &scaled_to_rms_db(white_noise(80_000, 1), -50.0),
        );
        assert_no_speech(
            "pink noise -50 dBFS",
            &scaled_to_rms_db(pink_noise(80_000, 2), -50.0),
        );
        assert_no_speech(
            "white noise -30 dBFS",
            &scaled_to_rms_db(white_noise(80_000, 3), -30.0),
        );
        let hum: Vec<(f32, f32)> = (1..=9)
            .step_by(2)
            .map(|h| (50.0 * h as f32, 1.0 / h as f32))
            .collect();
        assert_no_speech(
            "mains hum -40 dBFS",
            &scaled_to_rms_db(tones(&hum, 80_000), -40.0),
        );
        // Loud steady noise starting after silence (earshot alone calls its start speech).
        for (seed, level_db) in [(4u64, -30.0f32), (5, -25.0), (6, -20.0), (7, -15.0)] {
            let mut samples = silence(2.0);
            samples.extend(scaled_to_rms_db(white_noise(48_000, seed), level_db));
            samples.extend(silence(1.0));
            assert_no_speech(&format!("white noise burst {level_db} dBFS"), &samples);
            let mut samples = silence(2.0);
            samples.extend(scaled_to_rms_db(pink_noise(48_000, seed), level_db));
            assert_no_speech(&format!("pink noise burst {level_db} dBFS"), &samples);
        }
    }

    #[test]
    fn tones_and_dtmf_give_no_regions() {
        assert_no_speech("1 kHz test tone", &tones(&[(1000.0, 0.3)], 64_000));
        let mut after_silence = silence(1.0);
        after_silence.extend(tones(&[(1000.0, 0.5)], 48_000));
        assert_no_speech("1 kHz tone after silence", &after_silence);
        // Ringback (440+480 Hz, 2 s on) and busy tone (480+620 Hz, 0.5 s on/off).
        let mut call_progress = tones(&[(440.0, 0.1), (480.0, 0.1)], 32_000);
        call_progress.extend(silence(1.0));
        for _ in 0..4 {
            call_progress.extend(tones(&[(480.0, 0.1), (620.0, 0.1)], 8_000));
            call_progress.extend(silence(0.5));
        }
        assert_no_speech("ringback and busy tones", &call_progress);
        // DTMF digits at several speeds, with faint line noise.
        let digits = [
            (697.0, 1209.0),
            (770.0, 1336.0),
            (852.0, 1477.0),
            (941.0, 1633.0),
            (697.0, 1477.0),
            (852.0, 1209.0),
        ];
        for (on_ms, off_ms) in [(100usize, 100usize), (70, 50), (50, 50), (200, 300)] {
            let mut samples = silence(0.5);
            for &(low, high) in digits.iter().cycle().take(16) {
                samples.extend(tones(&[(low, 0.2), (high, 0.2)], on_ms * 16));
                samples.extend(vec![0.0; off_ms * 16]);
            }
            let noise = scaled_to_rms_db(white_noise(samples.len(), 9), -60.0);
            samples
                .iter_mut()
                .zip(noise)
                .for_each(|(sample, noise)| *sample += noise);
            assert_no_speech(&format!("DTMF {on_ms}/{off_ms} ms"), &samples);
        }
    }

    // ---- speech is found where it is -----------------------------------------------------------

    struct Sentence {
        start_ms: u64,
        end_ms: u64,
    }

    /// Sentences per channel of a fixture call, from expected.json.
    fn expected_sentences(call: &serde_json::Value, n_channels: usize) -> Vec<Vec<Sentence>> {
        let mut per_channel: Vec<Vec<Sentence>> = (0..n_channels).map(|_| Vec::new()).collect();
        let agent_channel = match call["agent_channel"].as_str() {
            Some("right") => 1,
            _ => 0,
        };
        for (speaker, channel) in [("agent", agent_channel), ("customer", 1 - agent_channel)] {
            let channel = if n_channels == 1 { 0 } else { channel };
            for sentence in call[speaker].as_array().into_iter().flatten() {
                let seconds = |key: &str| (sentence[key].as_f64().unwrap() * 1000.0).round() as u64;
                per_channel[channel].push(Sentence {
                    start_ms: seconds("start_s"),
                    end_ms: seconds("end_s"),
                });
            }
        }
        for sentences in per_channel.iter_mut() {
            sentences.sort_by_key(|sentence| sentence.start_ms);
        }
        per_channel
    }

    #[test]
    fn speech_in_fixture_calls_is_found_with_accurate_starts() {
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures_dir().join("expected.json")).unwrap(),
        )
        .unwrap();
        let config = VadConfig::default();
        let mut n_checked = 0;
        for (call_id, call) in expected.as_object().unwrap() {
            if call.get("agent").is_none()
                || call_id.ends_with("_mulaw") && call_id.starts_with("c09")
            {
                continue; // malformed files; one copy of the mono call is enough
            }
            let channels = decode_fixture(call["path"].as_str().unwrap());
            let sentences = expected_sentences(call, channels.len());
            for (channel_index, (samples, sentences)) in channels.iter().zip(&sentences).enumerate()
            {
                let label = format!("{call_id} channel {channel_index}");
                let regions = detect_speech(samples, &config);
                if sentences.is_empty() {
                    assert!(
                        regions.is_empty(),
                        "{label}: silent channel got {regions:?}"
                    );
                    continue;
                }
                for (index, sentence) in sentences.iter().enumerate() {
                    // Whole sentence inside one region (100 ms tolerance at each end).
                    let region = regions
                        .iter()
                        .find(|r| {
                            r.start_ms <= sentence.start_ms + 100
                                && r.end_ms + 100 >= sentence.end_ms
                                && r.end_ms > sentence.start_ms
                        })
                        .unwrap_or_else(|| {
                            panic!(
                                "{label}: sentence {}-{} ms not covered by {regions:?}",
                                sentence.start_ms, sentence.end_ms
                            )
                        });
                    // Where a sentence opens its region, the detected onset (region start
                    // before padding) is within ±100 ms of the true onset.
                    let opens_region = index == 0 || sentences[index - 1].end_ms < region.start_ms;
                    if opens_region && region.start_ms > 0 {
                        let detected_onset = region.start_ms + config.padding_ms;
                        let error = detected_onset as i64 - sentence.start_ms as i64;
                        assert!(
                            error.abs() <= 100,
                            "{label}: onset off by {error} ms at {} ms",
                            sentence.start_ms
                        );
                        n_checked += 1;
                    }
                }
                // No region without speech in it (nothing on the other party's turns).
                for region in &regions {
                    assert!(
                        sentences
                            .iter()
                            .any(|s| s.start_ms < region.end_ms && s.end_ms > region.start_ms),
                        "{label}: region {region:?} holds no expected sentence"
                    );
                    assert!(region.end_ms <= (samples.len() as u64 * 1000).div_ceil(16_000));
                }
            }
        }
        assert!(n_checked >= 15, "only {n_checked} onsets checked");
    }

    #[test]
    fn speech_over_line_noise_is_still_found() {
        // The agent channel of the polite call with hiss 25 dB below the speech.
        let channels = decode_fixture("c01_polite_mulaw.wav");
        let speech = &channels[0];
        let noise = scaled_to_rms_db(white_noise(speech.len(), 11), rms_db(speech) - 25.0);
        let noisy: Vec<f32> = speech.iter().zip(&noise).map(|(s, n)| s + n).collect();
        let clean_regions = detect_speech(speech, &VadConfig::default());
        let noisy_regions = detect_speech(&noisy, &VadConfig::default());
        assert_eq!(
            noisy_regions.len(),
            clean_regions.len(),
            "{noisy_regions:?} vs {clean_regions:?}"
        );
        for (noisy, clean) in noisy_regions.iter().zip(&clean_regions) {
            assert!(
                noisy.start_ms.abs_diff(clean.start_ms) <= 100
                    && noisy.end_ms.abs_diff(clean.end_ms) <= 200,
                "{noisy:?} vs {clean:?}"
            );
        }
    }

    #[test]
    fn long_speech_is_split_into_pieces_that_fit_whisper() {
        // ~5.5 s of continuous customer speech from the card-number call, repeated back to back.
        let channels = decode_fixture("c05_card_number_mulaw_extensible.wav");
        let turn = &channels[1][3_400 * 16..9_100 * 16];
        let mut samples = silence(1.0);
        for _ in 0..11 {
            samples.extend_from_slice(turn);
        }
        samples.extend(silence(1.0));
        let config = VadConfig::default();
        let regions = detect_speech(&samples, &config);
        assert!(regions.len() >= 3, "{regions:?}");
        for region in &regions {
            assert!(region.duration_ms() <= config.max_region_ms, "{region:?}");
            assert!(
                region.duration_ms() >= config.max_region_ms / 4,
                "needlessly short piece {region:?}"
            );
        }
        for pair in regions.windows(2) {
            assert!(pair[0].end_ms <= pair[1].start_ms, "overlap {pair:?}");
        }
        // The pieces cover the speech from its start to its end.
        assert!(
            regions[0].start_ms <= 1_100
                && regions.last().unwrap().end_ms >= samples.len() as u64 / 16 - 1_100
        );
        let covered: u64 = regions.iter().map(SpeechRegion::duration_ms).sum();
        assert!(covered >= 60_000, "covered only {covered} ms");
        assert_eq!(
            regions,
            detect_speech(&samples, &config),
            "not deterministic"
        );
    }

    #[test]
    fn splitting_respects_any_maximum() {
        let cues = vec![
            FrameCues {
                speech_probability: 1.0,
                band_level_db: -20.0,
                is_tone: false
            };
            4000
        ];
        let region = SpeechRegion {
            start_ms: 100,
            end_ms: 63_900,
        };
        for max_ms in [64u64, 1_000, 25_000, 30_000] {
            let pieces = split_long_region(region, &cues, max_ms);
            assert_eq!(pieces.first().unwrap().start_ms, 100);
            assert_eq!(pieces.last().unwrap().end_ms, 63_900);
            for pair in pieces.windows(2) {
                assert_eq!(pair[0].end_ms, pair[1].start_ms);
            }
            assert!(
                pieces
                    .iter()
                    .all(|p| p.duration_ms() <= max_ms && p.duration_ms() > 0),
                "{max_ms}: {pieces:?}"
            );
        }
    }

    #[test]
    fn garbage_samples_do_not_panic() {
        let mut samples = scaled_to_rms_db(white_noise(20_000, 5), -10.0);
        samples[100] = f32::NAN;
        samples[200] = f32::INFINITY;
        samples[300] = 7.0;
        let regions = detect_speech(&samples, &VadConfig::default());
        for region in regions {
            let acoustics = measure_region(&samples, &region);
            assert!(acoustics.loudness_db.is_finite());
        }
        let beyond = measure_region(
            &samples,
            &SpeechRegion {
                start_ms: 5_000,
                end_ms: 9_000,
            },
        );
        assert_eq!((beyond.loudness_db, beyond.pitch_hz), (-120.0, None));
    }

    // ---- loudness and pitch --------------------------------------------------------------------

    fn harmonic_tone(
        fundamental: f32,
        harmonics: std::ops::RangeInclusive<u32>,
        seconds: f32,
    ) -> Vec<f32> {
        let partials: Vec<(f32, f32)> = harmonics
            .map(|h| (fundamental * h as f32, 0.3 / h as f32))
            .collect();
        tones(&partials, (seconds * SAMPLE_RATE as f32) as usize)
    }

    fn whole(samples: &[f32]) -> SpeechRegion {
        SpeechRegion {
            start_ms: 0,
            end_ms: samples.len() as u64 * 1000 / 16_000,
        }
    }

    #[test]
    fn pitch_of_harmonic_tones_is_within_two_percent() {
        for fundamental in [200.0f32, 120.0, 85.0, 310.0] {
            let samples = harmonic_tone(fundamental, 1..=10, 1.0);
            let pitch = measure_region(&samples, &whole(&samples))
                .pitch_hz
                .expect("voiced");
            assert!(
                (pitch / fundamental - 1.0).abs() < 0.02,
                "{fundamental} Hz measured as {pitch}"
            );
        }
        // Telephone band: the fundamental itself is missing, only harmonics from 400 Hz up.
        let samples = harmonic_tone(200.0, 2..=17, 1.0);
        let pitch = measure_region(&samples, &whole(&samples))
            .pitch_hz
            .expect("voiced");
        assert!(
            (pitch / 200.0 - 1.0).abs() < 0.02,
            "missing fundamental measured as {pitch}"
        );
    }

    #[test]
    fn unvoiced_signals_have_no_pitch() {
        let noise = scaled_to_rms_db(white_noise(16_000, 8), -20.0);
        assert_eq!(measure_region(&noise, &whole(&noise)).pitch_hz, None);
        let quiet = silence(1.0);
        let acoustics = measure_region(&quiet, &whole(&quiet));
        assert_eq!((acoustics.loudness_db, acoustics.pitch_hz), (-120.0, None));
    }

    #[test]
    fn loudness_is_rms_dbfs() {
        let sine = tones(&[(1000.0, 1.0)], 16_000);
        let acoustics = measure_region(
            &sine,
            &SpeechRegion {
                start_ms: 0,
                end_ms: 1000,
            },
        );
        assert!(
            (acoustics.loudness_db + 3.01).abs() < 0.02,
            "{}",
            acoustics.loudness_db
        );
        let quieter: Vec<f32> = sine.iter().map(|s| s * 0.1).collect();
        let acoustics = measure_region(
            &quieter,
            &SpeechRegion {
                start_ms: 250,
                end_ms: 750,
            },
        );
        assert!(
            (acoustics.loudness_db + 23.01).abs() < 0.02,
            "{}",
            acoustics.loudness_db
        );
        assert_eq!((acoustics.start_ms, acoustics.end_ms), (250, 750));
    }

    #[test]
    fn espeak_voices_get_plausible_pitches() {
        // c01: agent en-us+f3 (female voice), customer en-us (male voice).
        let channels = decode_fixture("c01_polite_mulaw.wav");
        let pitch_of = |channel: &[f32]| {
            let regions = detect_speech(channel, &VadConfig::default());
            measure_region(channel, &regions[0])
                .pitch_hz
                .expect("voiced")
        };
        let (agent, customer) = (pitch_of(&channels[0]), pitch_of(&channels[1]));
        assert!(
            (150.0..=300.0).contains(&agent),
            "female agent at {agent} Hz"
        );
        assert!(
            (80.0..=160.0).contains(&customer),
            "male customer at {customer} Hz"
        );
    }
}
