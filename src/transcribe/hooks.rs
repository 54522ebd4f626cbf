//! The two places where callqa reaches into `whisper_full` through its C callbacks; the only
//! `unsafe` code of the crate. [`full_with_hooks`] installs them for one call.
//!
//! ## Beam candidates that are the best tokens, not random draws
//!
//! whisper.cpp 1.8.3 (and its master as of 2026-08) picks a beam's candidate tokens in
//! `whisper_sample_token_topk` by drawing `beam_size` times from the whole softmax
//! distribution (`std::discrete_distribution` over 51 865 tokens); the partial sort it computes
//! beside that is never used. So "beam search" there explores random continuations: a token
//! with 2 % probability becomes a candidate about one time in ten, and the best token may be
//! drawn five times over. OpenAI's Whisper and CTranslate2 take the `beam_size` most probable
//! tokens.
//!
//! whisper.cpp offers one hook before the draw: a logits filter. [`TopTextTokens`] keeps the
//! `beam_size` most probable text tokens of each beam and removes the rest, so that whatever
//! is drawn is one of them. End-of-text and the timestamp tokens are left alone: whisper.cpp's
//! own timestamp rules, applied after the filter, decide about those, and at least one of them
//! always survives, so a beam always has a candidate.
//!
//! The cost: whisper.cpp normalises the probabilities over what is left, so a candidate's
//! log-probability is raised by minus the log of the kept tokens' share, usually a few
//! hundredths. Measured on the fixture calls, see README, Throughput.
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

use whisper_rs::{WhisperSysContext, WhisperSysState, WhisperTokenData, whisper_rs_sys};

/// Later passes that would start closer than this to the end of a window are not run.
/// Above the 160 ms that whisper.cpp's alignment needs, with room for a pass that yields no
/// text and leaves callqa to bound its start from the progress report (see [`TailGuard`]).
pub(super) const MIN_LATER_PASS_MS: i64 = 300;

/// What the filter needs to know; lives on the caller's stack for one `WhisperState::full`.
#[derive(Debug, Clone, Copy)]
pub(super) struct TopTextTokens {
    /// Text tokens kept per beam (the beam size).
    pub keep: usize,
    /// Logits in the array whisper.cpp hands over (the vocabulary size).
    pub n_vocab: usize,
    /// Ids below this are text tokens; end-of-text and everything above are left alone.
    pub first_special: usize,
}

impl TopTextTokens {
    /// Sets every text logit below the `keep` largest to minus infinity. Ties at the threshold
    /// keep the lowest ids, so the result does not depend on anything but the logits.
    pub(super) fn apply(&self, logits: &mut [f32]) {
        let n_text = self.first_special.min(logits.len());
        let text = &mut logits[..n_text];
        if self.keep == 0 || text.len() <= self.keep {
            return;
        }
        // The `keep` largest (value, id) pairs, best first; `keep` is small (the beam size).
        let mut best: Vec<(f32, usize)> = Vec::with_capacity(self.keep + 1);
        for (id, &logit) in text.iter().enumerate() {
            if logit == f32::NEG_INFINITY || logit.is_nan() {
                continue;
            }
            if best.len() == self.keep && logit <= best[self.keep - 1].0 {
                continue;
            }
            let at = best.partition_point(|&(value, _)| value >= logit);
            best.insert(at, (logit, id));
            best.truncate(self.keep);
        }
        // Clear every text logit, then put the best back: no per-call table of the vocabulary.
        text.fill(f32::NEG_INFINITY);
        for &(logit, id) in &best {
            text[id] = logit;
        }
    }
}

/// whisper.cpp's `whisper_logits_filter_callback`, with a [`TopTextTokens`] as user data.
///
/// # Safety
/// whisper.cpp calls it with `logits` pointing at `n_vocab` floats it owns for the call, and
/// `user_data` is the pointer to a live [`TopTextTokens`] that [`full_with_hooks`] set.
pub(super) unsafe extern "C" fn keep_top_text_tokens(
    _context: *mut WhisperSysContext,
    _state: *mut WhisperSysState,
    _tokens: *const WhisperTokenData,
    _n_tokens: c_int,
    logits: *mut f32,
    user_data: *mut c_void,
) {
    if logits.is_null() || user_data.is_null() {
        return;
    }
    // SAFETY: see the function's contract; the filter only reads its settings.
    let filter = unsafe { &*(user_data as *const TopTextTokens) };
    // SAFETY: whisper.cpp's logits buffer for this decoder holds `n_vocab` floats and nothing
    // else touches it during the callback.
    let logits = unsafe { std::slice::from_raw_parts_mut(logits, filter.n_vocab) };
    filter.apply(logits);
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

/// Runs `state.full` with the tail guard installed, and with `beam_filter` when searching
/// with beams. Returns whether the guard refused a pass. The hooks' data live in this frame for the whole call, so the raw pointers
/// whisper.cpp keeps in `params` never outlive them.
pub(super) fn full_with_hooks(
    state: &mut whisper_rs::WhisperState,
    mut params: whisper_rs::FullParams<'_, '_>,
    audio: &[f32],
    beam_filter: Option<TopTextTokens>,
) -> Result<bool, whisper_rs::WhisperError> {
    let guard = TailGuard::new(audio.len());
    // SAFETY: the callbacks match whisper.cpp's signatures; they only read `beam_filter` and
    // update `guard`'s cells, and both outlive `full` (they are dropped at the end of this
    // function, after `full` returned).
    unsafe {
        params.set_progress_callback(Some(note_progress));
        params.set_progress_callback_user_data(&guard as *const TailGuard as *mut c_void);
        params.set_start_encoder_callback(Some(refuse_short_tail_passes));
        params.set_start_encoder_callback_user_data(&guard as *const TailGuard as *mut c_void);
        if let Some(filter) = &beam_filter {
            params.set_filter_logits_callback(Some(keep_top_text_tokens));
            params.set_filter_logits_callback_user_data(
                filter as *const TopTextTokens as *mut c_void,
            );
        }
    }
    state.full(params, audio)?;
    Ok(guard.refused.get())
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

    #[test]
    fn keeps_the_best_text_tokens_and_every_special_token() {
        let filter = TopTextTokens {
            keep: 2,
            n_vocab: 8,
            first_special: 5,
        };
        let mut logits = [1.0, 5.0, f32::NEG_INFINITY, 3.0, 3.0, -9.0, 0.5, -2.0];
        filter.apply(&mut logits);
        let inf = f32::NEG_INFINITY;
        // 5.0 and the first of the two 3.0s stay; ids 5.. are special and untouched.
        assert_eq!(logits, [inf, 5.0, inf, 3.0, inf, -9.0, 0.5, -2.0]);
    }

    #[test]
    fn fewer_finite_text_tokens_than_kept_are_left_as_they_are() {
        let filter = TopTextTokens {
            keep: 5,
            n_vocab: 6,
            first_special: 4,
        };
        let inf = f32::NEG_INFINITY;
        let mut logits = [inf, 2.0, inf, 1.0, 0.0, 0.0];
        filter.apply(&mut logits);
        assert_eq!(logits, [inf, 2.0, inf, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn the_callback_filters_through_raw_pointers() {
        let filter = TopTextTokens {
            keep: 1,
            n_vocab: 4,
            first_special: 3,
        };
        let mut logits = [0.1f32, 0.9, 0.5, 7.0];
        // SAFETY: a live logits array of n_vocab floats and a live filter, as whisper.cpp does.
        unsafe {
            keep_top_text_tokens(
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null(),
                0,
                logits.as_mut_ptr(),
                &filter as *const TopTextTokens as *mut c_void,
            );
        }
        assert_eq!(logits, [f32::NEG_INFINITY, 0.9, f32::NEG_INFINITY, 7.0]);
    }
}
