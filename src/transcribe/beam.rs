//! Beam candidates that are the best tokens, not random draws.
//!
//! whisper.cpp 1.8.3 (and its master as of 2026-08) picks a beam's candidate tokens in
//! `whisper_sample_token_topk` by drawing `beam_size` times from the whole softmax
//! distribution (`std::discrete_distribution` over 51 865 tokens); the partial sort it computes
//! beside that is never used. So "beam search" there explores random continuations: a token
//! with 2 % probability becomes a candidate about one time in ten, and the best token may be
//! drawn five times over. OpenAI's Whisper and CTranslate2 take the `beam_size` most probable
//! tokens.
//!
//! whisper.cpp offers one hook before the draw: a logits filter. This module keeps the
//! `beam_size` most probable text tokens of each beam and removes the rest, so that whatever
//! is drawn is one of them. End-of-text and the timestamp tokens are left alone: whisper.cpp's
//! own timestamp rules, applied after the filter, decide about those, and at least one of them
//! always survives, so a beam always has a candidate.
//!
//! The cost: whisper.cpp normalises the probabilities over what is left, so a candidate's
//! log-probability is raised by minus the log of the kept tokens' share, usually a few
//! hundredths. Measured on the fixture calls, see README, Throughput.

#![allow(unsafe_code)]

use std::ffi::{c_int, c_void};

use whisper_rs::{WhisperSysContext, WhisperSysState, WhisperTokenData};

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
/// `user_data` is the pointer to a live [`TopTextTokens`] that [`full_with_best_candidates`]
/// set.
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

/// Runs `state.full` with the filter installed. The filter lives in this frame for the whole
/// call, so the raw pointer whisper.cpp keeps in `params` never outlives it.
pub(super) fn full_with_best_candidates(
    state: &mut whisper_rs::WhisperState,
    mut params: whisper_rs::FullParams<'_, '_>,
    audio: &[f32],
    filter: TopTextTokens,
) -> Result<(), whisper_rs::WhisperError> {
    // SAFETY: the callback matches whisper.cpp's signature and only reads `filter`, which
    // outlives `full` (it is dropped at the end of this function, after `full` returned).
    unsafe {
        params.set_filter_logits_callback(Some(keep_top_text_tokens));
        params.set_filter_logits_callback_user_data(&filter as *const TopTextTokens as *mut c_void);
    }
    state.full(params, audio)
}

#[cfg(test)]
mod tests {
    use super::*;

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
