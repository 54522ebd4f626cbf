//! The places where callqa reaches into `whisper_full` through its C callbacks; the only
//! `unsafe` code of the crate. [`full_with_hooks`] installs them for one call.
//!
//! whisper.cpp itself is built with callqa's patch (`whisper-cpp/whisper.cpp.patch`): beam
//! candidates are the `beam_size` most probable tokens, as in OpenAI's Whisper and
//! CTranslate2, where whisper.cpp 1.8.3 drew them at random from the whole distribution (a
//! 2 % token became a candidate one time in ten, and the text depended on the random
//! generator's history: on the order of a batch).
//!
//! ## Looping beams end at once
//!
//! whisper.cpp runs every beam until it ends itself, and a beam caught in a loop (`11 1 -`
//! over and over on a card number read aloud) never does: it runs to the 220-token limit,
//! and the window's whole search with it, only to be thrown away there (no timestamp, or one
//! before mid-window) or when the finished beams are ranked (`whisper_sequence_score` fails a
//! beam whose last 32 tokens have an entropy under `entropy_thold`, 2.4). On the fixture card
//! number that made the window 2.2 s instead of 0.5 s greedy. OpenAI's Whisper and CTranslate2
//! stop a search once enough beams have finished; whisper.cpp has no such rule and no hook to
//! end a beam, so the filter does it: once a beam's last 32 tokens repeat a unit of up to 8
//! tokens back to back, and ending it there is sure to make whisper.cpp's ranking fail it, the
//! filter leaves the beam a single token, end-of-text (or first its last timestamp, so that
//! the ranking sees the loop), and the beam finishes at once
//! ([`BeamFilter::repetition_end`]). Other beams are untouched, and the ranking is
//! whisper.cpp's.
//!
//! ## No second pass over a window's last moments
//!
//! `whisper_full` decodes a window in passes: when a pass ends on a closed segment before the
//! end of the audio, the next pass starts at that segment's end, down to 100 ms before the end.
//! With word times from cross-attention alignment (DTW, which callqa uses), a pass that yields
//! text over less than 160 ms of audio makes whisper.cpp 1.8.3 abort the process: its median
//! filter asserts that it has more than 7 audio positions (`filter_width < a->ne[2]`), and an
//! assertion there is `abort()`, not an error code. A window's tail is padding after the last
//! word, the very place where Whisper invents a "you", so this can happen on any call, and a
//! process abort would stop the whole batch, every time it is re-run. [`TailGuard`] refuses,
//! through whisper.cpp's encoder-begin hook, every later pass that would start less than
//! [`MIN_LATER_PASS_MS`] before the end of the window. The first pass always runs.

#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicU32, Ordering};

use whisper_rs::{WhisperSysContext, WhisperSysState, WhisperTokenData, whisper_rs_sys};

/// Later passes that would start closer than this to the end of a window are not run.
/// Above the 160 ms that whisper.cpp's alignment needs, with room for a pass that yields no
/// text and leaves callqa to bound its start from the progress report (see [`TailGuard`]).
pub(super) const MIN_LATER_PASS_MS: i64 = 300;

/// Tokens at the end of a finished sequence whose entropy whisper.cpp checks
/// (`whisper_sequence_score`).
pub(super) const REPETITION_WINDOW: usize = 32;

/// The longest unit whose back-to-back repetition over [`REPETITION_WINDOW`] tokens is a loop:
/// four repetitions at least.
pub(super) const MAX_LOOP_PERIOD: usize = REPETITION_WINDOW / 4;

/// The entropy (in nats) under which whisper.cpp fails a finished sequence; callqa sets
/// whisper.cpp's `entropy_thold` to it, so that the filter and the ranking agree.
pub(super) const ENTROPY_THRESHOLD: f32 = 2.4;

/// What the filter needs to know, and what it counts; lives on the caller's stack for one
/// `WhisperState::full`.
#[derive(Debug, Default)]
pub(super) struct BeamFilter {
    /// Logits in the array whisper.cpp hands over (the vocabulary size).
    pub n_vocab: usize,
    /// The end-of-text token: ids below it are text tokens, it and everything above are
    /// special.
    pub end_of_text: usize,
    /// The first timestamp token (0.00 s); ids above it are later timestamps.
    pub timestamp_begin: usize,
    /// Beams ended because they were looping (end-of-text left as their only token).
    pub n_loops_ended: AtomicU32,
}

impl BeamFilter {
    /// Filters one beam's logits, given the tokens it has produced in this pass: ends the beam
    /// when it is looping, and leaves every other beam alone.
    pub(super) fn apply(&self, history: &[i32], logits: &mut [f32]) {
        if let Some(only) = self.repetition_end(history) {
            if only == self.end_of_text {
                self.n_loops_ended.fetch_add(1, Ordering::Relaxed);
            }
            if only < logits.len() {
                let kept = logits[only];
                logits.fill(f32::NEG_INFINITY);
                // Finite whatever the model thought of it: it becomes the only candidate.
                logits[only] = if kept.is_finite() { kept } else { 0.0 };
            }
        }
    }

    /// The single token to leave a beam that is caught in a loop, `None` for every other beam.
    ///
    /// A beam is caught when its last [`REPETITION_WINDOW`] text tokens repeat a unit of at
    /// most [`MAX_LOOP_PERIOD`] tokens back to back (four times or more). Speech does not do
    /// that: a 19-digit card number read digit by digit, with a comma after every four, is a
    /// 24-token run. It is ended only if whisper.cpp is then sure to fail it when ranking: an
    /// entropy of the [`REPETITION_WINDOW`] tokens ranked under [`ENTROPY_THRESHOLD`], counting
    /// the token to come as one not seen before (an upper bound).
    ///
    /// whisper.cpp keeps a finished beam up to its last timestamp, so what it ranks, and
    /// therefore the token left, depends on where the beam is:
    /// - no timestamp yet in this pass: end-of-text, and the ranking sees the whole beam and the
    ///   end-of-text token;
    /// - last token a timestamp: end-of-text, and the ranking sees the beam up to there;
    /// - text after a timestamp: end-of-text would rank only what precedes the loop, so the
    ///   beam first gets its last timestamp again (whisper.cpp's timestamp rules allow it),
    ///   which makes the loop part of what is ranked, and end-of-text on the next token.
    pub(super) fn repetition_end(&self, history: &[i32]) -> Option<usize> {
        // The first token is the 0.00 s timestamp; only later ones set a beam's position.
        let is_later_timestamp =
            |id: i32| usize::try_from(id).is_ok_and(|id| id > self.timestamp_begin);
        let ends_on_timestamp = history.last().is_some_and(|&id| is_later_timestamp(id));
        let text = if ends_on_timestamp {
            &history[..history.len() - 1]
        } else {
            history
        };
        if !loops(text) {
            return None;
        }
        let n = history.len();
        let (token, ranked_tail, and_one_new) =
            match history.iter().rposition(|&id| is_later_timestamp(id)) {
                None => (
                    self.end_of_text,
                    &history[n + 1 - REPETITION_WINDOW..],
                    true,
                ),
                Some(_) if ends_on_timestamp => {
                    (self.end_of_text, &history[n - REPETITION_WINDOW..], false)
                }
                Some(at) => (
                    usize::try_from(history[at]).ok()?,
                    &history[n + 1 - REPETITION_WINDOW..],
                    true,
                ),
            };
        (entropy(ranked_tail, and_one_new) < f64::from(ENTROPY_THRESHOLD)).then_some(token)
    }
}

/// Whether the last [`REPETITION_WINDOW`] tokens repeat a unit of up to [`MAX_LOOP_PERIOD`]
/// tokens back to back.
fn loops(tokens: &[i32]) -> bool {
    let Some(start) = tokens.len().checked_sub(REPETITION_WINDOW) else {
        return false;
    };
    let tail = &tokens[start..];
    (1..=MAX_LOOP_PERIOD).any(|period| (period..tail.len()).all(|i| tail[i] == tail[i - period]))
}

/// The entropy (nats) of the token frequencies in `tokens`, plus one token seen once more when
/// `and_one_new`, computed as whisper.cpp does (`whisper_sequence_score`).
fn entropy(tokens: &[i32], and_one_new: bool) -> f64 {
    let mut counts: Vec<(i32, u32)> = Vec::with_capacity(tokens.len());
    for &id in tokens {
        match counts.iter_mut().find(|(seen, _)| *seen == id) {
            Some((_, count)) => *count += 1,
            None => counts.push((id, 1)),
        }
    }
    let total = (tokens.len() + usize::from(and_one_new)) as f64;
    let new = and_one_new.then_some(1);
    counts
        .iter()
        .map(|&(_, count)| count)
        .chain(new)
        .map(|count| {
            let p = f64::from(count) / total;
            -p * p.ln()
        })
        .sum()
}

/// whisper.cpp's `whisper_logits_filter_callback`, with a [`BeamFilter`] as user data.
///
/// # Safety
/// whisper.cpp calls it with `logits` pointing at `n_vocab` floats it owns for the call,
/// `tokens` at the `n_tokens` tokens of the beam's sequence, and `user_data` is the pointer to
/// a live [`BeamFilter`] that [`full_with_hooks`] set.
pub(super) unsafe extern "C" fn filter_beam(
    _context: *mut WhisperSysContext,
    _state: *mut WhisperSysState,
    tokens: *const WhisperTokenData,
    n_tokens: c_int,
    logits: *mut f32,
    user_data: *mut c_void,
) {
    if logits.is_null() || user_data.is_null() {
        return;
    }
    // SAFETY: see the function's contract; the filter reads its settings and counts
    // atomically (whisper.cpp may filter several beams at once on `n_threads` threads).
    let filter = unsafe { &*(user_data as *const BeamFilter) };
    // SAFETY: whisper.cpp's logits buffer for this decoder holds `n_vocab` floats and nothing
    // else touches it during the callback.
    let logits = unsafe { std::slice::from_raw_parts_mut(logits, filter.n_vocab) };
    let n_tokens = usize::try_from(n_tokens).unwrap_or(0);
    // Shorter beams cannot be looping yet: no copy of their tokens.
    let history: Vec<i32> = if tokens.is_null() || n_tokens < REPETITION_WINDOW {
        Vec::new()
    } else {
        // SAFETY: the beam's sequence, `n_tokens` long, which whisper.cpp does not change
        // during the callback.
        unsafe { std::slice::from_raw_parts(tokens, n_tokens) }
            .iter()
            .map(|token| token.id)
            .collect()
    };
    filter.apply(&history, logits);
}

/// Where the passes of one `whisper_full` call have got to, in 10 ms frames (whisper.cpp's
/// time unit). Lives on the stack of [`full_with_hooks`] for the call.
#[derive(Debug)]
pub(super) struct TailGuard {
    /// Frames of the window's audio (16 kHz samples / 160).
    window_frames: i64,
    /// Passes started so far.
    n_passes: Cell<u32>,
    /// Segments there were when the previous pass started.
    n_segments_before: Cell<i64>,
    /// The last progress whisper.cpp reported: 100 × (pass start) / (audio frames), rounded
    /// down.
    progress_percent: Cell<i64>,
    /// Whether a pass was refused (which ends the call).
    refused: Cell<bool>,
}

impl TailGuard {
    pub(super) fn new(n_samples: usize) -> TailGuard {
        TailGuard {
            window_frames: i64::try_from(n_samples / 160).unwrap_or(i64::MAX),
            n_passes: Cell::new(0),
            n_segments_before: Cell::new(0),
            progress_percent: Cell::new(0),
            refused: Cell::new(false),
        }
    }

    /// Whether the pass about to start may run. `n_segments` is how many segments the earlier
    /// passes produced, `last_segment_end` the end of the last of them (frames).
    ///
    /// A pass starts where the previous one's last segment ends, so that end is the exact start
    /// when the previous pass produced a segment. When it produced none, the start is only
    /// known from the progress report to lie before (percent + 1) % of the window, and that
    /// bound is taken.
    fn allows_pass(&self, n_segments: i64, last_segment_end: i64) -> bool {
        let pass = self.n_passes.get();
        self.n_passes.set(pass + 1);
        let produced_segments = n_segments > self.n_segments_before.get();
        self.n_segments_before.set(n_segments);
        if pass == 0 {
            return true;
        }
        let latest_start = if produced_segments {
            last_segment_end
        } else {
            ((self.progress_percent.get() + 1) * self.window_frames + 99) / 100
        };
        let allowed = (self.window_frames - latest_start) * 10 >= MIN_LATER_PASS_MS;
        self.refused.set(!allowed);
        allowed
    }
}

/// whisper.cpp's `whisper_progress_callback`, with a [`TailGuard`] as user data.
///
/// # Safety
/// `user_data` is the pointer to a live [`TailGuard`] that [`full_with_hooks`] set.
unsafe extern "C" fn note_progress(
    _context: *mut WhisperSysContext,
    _state: *mut WhisperSysState,
    progress: c_int,
    user_data: *mut c_void,
) {
    if user_data.is_null() {
        return;
    }
    // SAFETY: see the function's contract; `Cell` is not shared across threads (whisper.cpp
    // calls the hooks on the thread that runs `whisper_full`).
    let guard = unsafe { &*(user_data as *const TailGuard) };
    guard.progress_percent.set(i64::from(progress));
}

/// whisper.cpp's `whisper_encoder_begin_callback`, with a [`TailGuard`] as user data: false
/// stops `whisper_full` before the pass, keeping what the earlier passes produced.
///
/// # Safety
/// `state` is the state `whisper_full` runs on, and `user_data` the pointer to a live
/// [`TailGuard`] that [`full_with_hooks`] set.
unsafe extern "C" fn refuse_short_tail_passes(
    _context: *mut WhisperSysContext,
    state: *mut WhisperSysState,
    user_data: *mut c_void,
) -> bool {
    if user_data.is_null() || state.is_null() {
        return true;
    }
    // SAFETY: see the function's contract.
    let guard = unsafe { &*(user_data as *const TailGuard) };
    // SAFETY: whisper.cpp hands over the state it is running; both functions only read its
    // results, which no other thread touches during the call.
    let (n_segments, last_segment_end) = unsafe {
        let n_segments = whisper_rs_sys::whisper_full_n_segments_from_state(state);
        let last_segment_end = if n_segments > 0 {
            whisper_rs_sys::whisper_full_get_segment_t1_from_state(state, n_segments - 1)
        } else {
            0
        };
        (i64::from(n_segments), last_segment_end)
    };
    guard.allows_pass(n_segments, last_segment_end)
}

/// What the hooks saw during one `whisper_full` call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct HookReport {
    /// The tail guard refused a pass.
    pub tail_pass_refused: bool,
    /// Beams the beam filter ended because they were looping.
    pub n_loops_ended: u32,
}

/// Runs `state.full` with the tail guard installed, and with `beam_filter` when searching
/// with beams. The hooks' data live in this frame for the whole call, so the raw pointers
/// whisper.cpp keeps in `params` never outlive them.
pub(super) fn full_with_hooks(
    state: &mut whisper_rs::WhisperState,
    mut params: whisper_rs::FullParams<'_, '_>,
    audio: &[f32],
    beam_filter: Option<BeamFilter>,
) -> Result<HookReport, whisper_rs::WhisperError> {
    let guard = TailGuard::new(audio.len());
    // SAFETY: the callbacks match whisper.cpp's signatures; they only read `beam_filter`'s
    // settings, update its counter and `guard`'s cells, and both outlive `full` (they are dropped at
    // the end of this function, after `full` returned).
    unsafe {
        params.set_progress_callback(Some(note_progress));
        params.set_progress_callback_user_data(&guard as *const TailGuard as *mut c_void);
        params.set_start_encoder_callback(Some(refuse_short_tail_passes));
        params.set_start_encoder_callback_user_data(&guard as *const TailGuard as *mut c_void);
        if let Some(filter) = &beam_filter {
            params.set_filter_logits_callback(Some(filter_beam));
            params.set_filter_logits_callback_user_data(filter as *const BeamFilter as *mut c_void);
        }
    }
    state.full(params, audio)?;
    Ok(HookReport {
        tail_pass_refused: guard.refused.get(),
        n_loops_ended: beam_filter.map_or(0, |filter| filter.n_loops_ended.into_inner()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_pass_always_runs_and_later_ones_need_300_ms_of_audio_left() {
        // 10 s of audio: 1000 frames.
        let guard = TailGuard::new(160_000);
        assert!(guard.allows_pass(0, 0));
        // The first pass ended a segment at 9.70 s: 300 ms left, allowed.
        assert!(guard.allows_pass(2, 970));
        assert!(!guard.refused.get());
        // The second ended one at 9.86 s: 140 ms left, where whisper.cpp would abort.
        assert!(!guard.allows_pass(3, 986));
        assert!(guard.refused.get());
    }

    #[test]
    fn a_pass_without_segments_is_bounded_by_the_progress_report() {
        let guard = TailGuard::new(160_000);
        assert!(guard.allows_pass(1, 500));
        // The pass from 5.00 s produced nothing; whisper.cpp reports 96 %, so the next pass
        // starts before 9.70 s: at least 300 ms left.
        // SAFETY: a live guard, as whisper.cpp gets it.
        unsafe {
            note_progress(
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                96,
                &guard as *const TailGuard as *mut c_void,
            );
        }
        assert!(guard.allows_pass(1, 500));
        // At 97 % it may start as late as 9.80 s: refused, although the stale segment end
        // (5.00 s) would leave plenty.
        guard.progress_percent.set(97);
        assert!(!guard.allows_pass(1, 500));
    }

    /// A vocabulary of 10 text tokens (0–9), end-of-text 10, timestamps from 11 (0.00 s).
    fn small_filter() -> BeamFilter {
        BeamFilter {
            n_vocab: 20,
            end_of_text: 10,
            timestamp_begin: 11,
            ..Default::default()
        }
    }

    #[test]
    fn the_entropy_is_whisper_cpps() {
        // 32 different tokens: ln 32.
        let distinct: Vec<i32> = (0..32).collect();
        assert!((entropy(&distinct, false) - 32f64.ln()).abs() < 1e-12);
        // 31 of one token and a new one: -(31/32) ln(31/32) - (1/32) ln(1/32).
        let expected = -(31.0 / 32.0) * (31f64 / 32.0).ln() - (1.0 / 32.0) * (1f64 / 32.0).ln();
        assert!((entropy(&[7; 31], true) - expected).abs() < 1e-12);
    }

    #[test]
    fn a_looping_beam_without_timestamps_gets_only_end_of_text() {
        let filter = small_filter();
        // The 0.00 s timestamp, a few words, then "1 2 3" over and over.
        let mut history = vec![11, 4, 5, 6];
        history.extend([1, 2, 3].iter().cycle().take(31));
        // 31 tokens of loop are not yet a loop; 32 are.
        assert_eq!(filter.repetition_end(&history), None);
        history.push(2);
        assert_eq!(filter.repetition_end(&history), Some(10));
        let mut logits = [0.5f32; 20];
        filter.apply(&history, &mut logits);
        assert_eq!(filter.n_loops_ended.load(Ordering::Relaxed), 1);
        let inf = f32::NEG_INFINITY;
        let mut expected = [inf; 20];
        expected[10] = 0.5;
        assert_eq!(logits, expected);
    }

    #[test]
    fn a_looping_beam_after_a_timestamp_gets_that_timestamp_then_end_of_text() {
        let filter = small_filter();
        // Two words, a segment closed at timestamp 15 and opened again, then a loop.
        let mut history = vec![11, 4, 5, 15, 15];
        history.extend([1, 2].iter().cycle().take(32));
        // Ending now would keep the beam up to its timestamp, where nothing repeats: it gets
        // the timestamp again first, even if the model gave it no chance at all.
        assert_eq!(filter.repetition_end(&history), Some(15));
        let mut logits = [0.0f32; 20];
        logits[15] = f32::NEG_INFINITY;
        filter.apply(&history, &mut logits);
        assert_eq!(logits.iter().filter(|logit| logit.is_finite()).count(), 1);
        assert_eq!(logits[15], 0.0);
        // Not ended yet: the timestamp only closes the looping segment.
        assert_eq!(filter.n_loops_ended.load(Ordering::Relaxed), 0);
        history.push(15);
        assert_eq!(filter.repetition_end(&history), Some(10));
    }

    #[test]
    fn speech_is_left_to_the_beam_search() {
        let filter = small_filter();
        // A 19-digit number read one digit per token with a comma (9) after every four, after
        // a few words: a long repetitive run, but not a loop.
        let mut number = vec![11, 4, 5, 6, 7, 8, 2, 3, 0, 8];
        for group in 0..5 {
            number.extend(std::iter::repeat_n(1, if group < 4 { 4 } else { 3 }));
            number.push(9);
        }
        assert!(number.len() > REPETITION_WINDOW);
        assert_eq!(filter.repetition_end(&number), None);
        // A repeated unit of 9 tokens is a phrase said again, not a loop, however often.
        let phrase: Vec<i32> = std::iter::once(11).chain((0..9).cycle().take(40)).collect();
        assert_eq!(filter.repetition_end(&phrase), None);
        let mut logits = [
            1.0, 5.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0,
            0.0, 0.0, 0.0,
        ];
        let before = logits;
        filter.apply(&phrase, &mut logits);
        assert_eq!(logits, before);
    }

    #[test]
    fn a_loop_is_ended_only_where_whisper_cpp_would_fail_it() {
        // A timestamp pair inside the last 32 tokens keeps a period-8 loop of 8 distinct tokens
        // from being a loop at all; with the entropy bound a period-8 loop always fails.
        let filter = small_filter();
        let mut history = vec![11, 4];
        history.extend((0..8).cycle().take(32));
        let tail = &history[history.len() + 1 - REPETITION_WINDOW..];
        assert!(entropy(tail, true) < f64::from(ENTROPY_THRESHOLD));
        assert_eq!(filter.repetition_end(&history), Some(10));
    }

    #[test]
    fn the_callback_ends_a_looping_beam_through_raw_pointers() {
        let filter = small_filter();
        let token = |id: i32| WhisperTokenData {
            id,
            tid: 0,
            p: 0.5,
            plog: -0.7,
            pt: 0.0,
            ptsum: 0.0,
            t0: -1,
            t1: -1,
            t_dtw: -1,
            vlen: 0.0,
        };
        let mut tokens = vec![token(11)];
        tokens.extend((0..40).map(|i| token(i % 2)));
        let mut logits = [0.25f32; 20];
        // SAFETY: live tokens, a logits array of n_vocab floats and a live filter, as
        // whisper.cpp hands them over.
        unsafe {
            filter_beam(
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                tokens.as_ptr(),
                tokens.len() as c_int,
                logits.as_mut_ptr(),
                &filter as *const BeamFilter as *mut c_void,
            );
        }
        let finite: Vec<usize> = (0..20).filter(|&id| logits[id].is_finite()).collect();
        assert_eq!(finite, [10]);
        assert_eq!(filter.n_loops_ended.load(Ordering::Relaxed), 1);
    }
}
