//! callqa: speech-analytics quality control for contact-center calls.
//!
//! The pipeline is one module per stage with typed hand-offs (see `ARCHITECTURE.md`):
//! discover → decode → vad → transcribe → analyse → score → write.

pub mod types;
pub mod dataset;
pub mod discover;
pub mod store;
pub mod transcribe;
pub mod model;
pub mod report;
pub mod wer;

/// The callqa version written into every row and run manifest.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
