//! One integration-test binary (linking whisper.cpp and polars once keeps test builds fast).
//!
//! These tests run the real Whisper model on real audio. The model comes from `CALLQA_MODEL`
//! or the installed base model (`callqa model install`, done by `scripts/test.sh`); without
//! one they fail with a message saying how to get it, never skip silently.

mod audit;
mod batch;
mod operations;
mod scoring;
mod support;
mod timing;
mod transcription;
