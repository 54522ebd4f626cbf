//! The run state kept under `OUT/.callqa/`: one record per call and the transcript cache.
//!
//! Promises:
//! - Every write is atomic (a temporary file in the same folder, synced, then renamed), so a
//!   run killed at any moment leaves each record either as it was or as it will be.
//! - Records are keyed by call id: processing a call again replaces its record, so tables
//!   rebuilt from the store never hold a call twice.
//! - Transcripts are keyed by audio content hash, model and decoding settings: a second run over
//!   the same audio never transcribes it again, and `rescore` needs neither audio nor model.
//! - Raw (unredacted) transcripts live only here, in a folder only the owner can read (0700,
//!   files 0600 on Unix). Everything else callqa writes is redacted.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::types::{CallSpec, CallTranscript};

/// Why a call ended in `failures`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The stage that failed: `discover`, `decode`, `vad`, `transcribe`.
    pub stage: String,
    /// A short machine-readable kind: `empty`, `truncated`, `not_audio` …
    pub error: String,
    /// A sentence a QA lead understands, naming the file.
    pub message: String,
}

/// What happened to one call, as last processed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Transcribed { transcript_key: String },
    Failed(Failure),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub spec: CallSpec,
    pub outcome: Outcome,
    pub audio_sha256: Option<String>,
    pub model_id: Option<String>,
    pub asr_settings: Option<String>,
    pub processed_at: DateTime<Utc>,
    /// Seconds spent per stage when the call was processed (empty for cache hits).
    #[serde(default)]
    pub stage_seconds: std::collections::BTreeMap<String, f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: damaged state file: {message}")]
    Damaged { path: PathBuf, message: String },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `contents` to `path` atomically: readers see the old file or the new one, never a
/// part. The temporary file is synced before the rename so a power loss cannot leave an empty
/// file under the final name.
pub fn write_atomically(path: &Path, contents: &[u8], private: bool) -> Result<(), StoreError> {
    let folder = path.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(folder).map_err(|error| io_error(folder)(error.into()))?;
    let mut temporary = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(folder)
        .map_err(io_error(folder))?;
    temporary.write_all(contents).map_err(io_error(path))?;
    temporary.as_file().sync_all().map_err(io_error(path))?;
    set_private(temporary.path(), private).map_err(io_error(path))?;
    temporary
        .persist(path)
        .map_err(|error| io_error(path)(error.error))?;
    Ok(())
}

#[cfg(unix)]
fn set_private(path: &Path, private: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if private { 0o600 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_private(_path: &Path, _private: bool) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)
}

/// Hex SHA-256 of a string, for file names derived from keys that may hold any character.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Hex SHA-256 of a file's contents, read in blocks so memory stays flat for long calls.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the state folder of a dataset.
    pub fn open(dataset: &Path) -> Result<Store, StoreError> {
        let root = dataset.join(".callqa");
        for folder in [root.clone(), root.join("records"), root.join("transcripts")] {
            create_private_dir(&folder).map_err(io_error(&folder))?;
        }
        Ok(Store { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn record_path(&self, call_id: &str) -> PathBuf {
        self.root
            .join("records")
            .join(format!("{}.json", &sha256_hex(call_id)[..32]))
    }

    fn transcript_path(&self, transcript_key: &str) -> PathBuf {
        self.root
            .join("transcripts")
            .join(format!("{transcript_key}.json"))
    }

    /// The key of a transcript: what the audio is, which model read it, how, and in which
    /// language. Changing any of them means a new transcription; nothing else does.
    pub fn transcript_key(
        audio_sha256: &str,
        model_id: &str,
        asr_settings: &str,
        language: Option<&str>,
    ) -> String {
        sha256_hex(&format!(
            "{audio_sha256}\n{model_id}\n{asr_settings}\n{}",
            language.unwrap_or("detect")
        ))[..40]
            .to_string()
    }

    pub fn load_record(&self, call_id: &str) -> Result<Option<CallRecord>, StoreError> {
        read_json(&self.record_path(call_id))
    }

    pub fn save_record(&self, record: &CallRecord) -> Result<(), StoreError> {
        let path = self.record_path(&record.spec.call_id);
        let json = serde_json::to_vec_pretty(record).map_err(|error| StoreError::Damaged {
            path: path.clone(),
            message: error.to_string(),
        })?;
        write_atomically(&path, &json, true)
    }

    pub fn has_transcript(&self, transcript_key: &str) -> bool {
        self.transcript_path(transcript_key).is_file()
    }

    pub fn load_transcript(
        &self,
        transcript_key: &str,
    ) -> Result<Option<CallTranscript>, StoreError> {
        read_json(&self.transcript_path(transcript_key))
    }

    pub fn save_transcript(
        &self,
        transcript_key: &str,
        transcript: &CallTranscript,
    ) -> Result<(), StoreError> {
        let path = self.transcript_path(transcript_key);
        let json = serde_json::to_vec(transcript).map_err(|error| StoreError::Damaged {
            path: path.clone(),
            message: error.to_string(),
        })?;
        write_atomically(&path, &json, true)
    }

    /// Every call record in the store, sorted by call id. A damaged record (which atomic
    /// writes make impossible short of disk corruption) is reported, not skipped.
    pub fn all_records(&self) -> Result<Vec<CallRecord>, StoreError> {
        let folder = self.root.join("records");
        let mut records = Vec::new();
        let entries = std::fs::read_dir(&folder).map_err(io_error(&folder))?;
        for entry in entries {
            let path = entry.map_err(io_error(&folder))?.path();
            if path.extension().and_then(|extension| extension.to_str()) != Some("json") {
                continue;
            }
            if let Some(record) = read_json::<CallRecord>(&path)? {
                records.push(record);
            }
        }
        records.sort_by(|left, right| left.spec.call_id.cmp(&right.spec.call_id));
        Ok(records)
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, StoreError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error(path)(error)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| StoreError::Damaged {
            path: path.to_path_buf(),
            message: error.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary_files() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("a/b.json");
        write_atomically(&path, b"one", false).unwrap();
        write_atomically(&path, b"two", false).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn state_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let folder = tempfile::tempdir().unwrap();
        let store = Store::open(folder.path()).unwrap();
        let transcript = CallTranscript {
            duration_ms: 0,
            layout: crate::types::Layout::Mono,
            source_sample_rate: 8000,
            channels: vec![],
            segments: vec![],
        };
        store.save_transcript("key", &transcript).unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.root()), 0o700);
        assert_eq!(mode(&store.root().join("transcripts/key.json")), 0o600);
        assert_eq!(store.load_transcript("key").unwrap(), Some(transcript));
        assert_eq!(store.load_transcript("missing").unwrap(), None);
    }
}
