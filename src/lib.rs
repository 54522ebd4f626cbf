//! callqa: speech-analytics quality control for contact-center calls.
//!
//! The pipeline is one module per stage with typed hand-offs (see `ARCHITECTURE.md`):
//! discover → decode → vad → transcribe → analyse → score → write. The `callqa` binary is a
//! thin layer over this library.

pub mod types;

// Stages that touch the outside world.
pub mod decode;
pub mod discover;
pub mod pipeline;
pub mod transcribe;
pub mod vad;

// Pure analysis of stored transcripts.
pub mod analyse;
pub mod metrics;
pub mod normalize;
pub mod pii;
pub mod rules;
pub mod score;
pub mod tone;

// Output, state and tools.
pub mod audit;
pub mod dataset;
pub mod days;
pub mod model;
pub mod report;
pub mod run;
pub mod store;
pub mod wer;

/// The callqa version written into every row and run manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
