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

use crate::types::{CallSpec, CallTranscript, ChannelTranscript, Layout, Segment, Word};

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
    /// What the decoder repaired or worked around in the file (one sentence each), e.g. a
    /// recording cut short: the findings of such a call rest on the audio that was there.
    /// Empty for a clean file, and in records written before callqa kept them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decode_notes: Vec<String>,
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
    #[error(
        "another callqa process (run or rescore) is writing this dataset now (it holds {path}); \
         wait for it to finish"
    )]
    Busy { path: PathBuf },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Prefix of every temporary file [`write_atomically`] creates.
pub const TEMPORARY_PREFIX: &str = ".tmp-";

/// Temporary files older than this are left-overs of a killed process, whoever wrote them:
/// no atomic write takes that long. See [`remove_temporaries`].
pub const STALE_TEMPORARY_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// The start of the name of every temporary file written for `path`: `.tmp-<file name>.`,
/// followed by random characters. Naming temporaries after their target lets the one process
/// that owns a target (a shard owns its part files, a run owns its calls' records) remove what
/// an earlier, killed run left behind, without touching files other processes are writing.
pub fn temporary_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{TEMPORARY_PREFIX}{name}.")
}

/// Removes the temporary files in `folder` whose names start with `prefix` (which must itself
/// start with [`TEMPORARY_PREFIX`]) and which are at least `min_age` old. Returns how many were
/// removed; a folder that does not exist has none. Temporary names are hidden files that end
/// in random characters, so no reader of the dataset ever picks one up; this only tidies.
pub fn remove_temporaries(
    folder: &Path,
    prefix: &str,
    min_age: std::time::Duration,
) -> Result<usize, StoreError> {
    debug_assert!(prefix.starts_with(TEMPORARY_PREFIX));
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(io_error(folder)(error)),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(prefix) {
            continue;
        }
        let path = entry.path();
        if !min_age.is_zero() {
            let age = entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .ok()
                .and_then(|modified| modified.elapsed().ok());
            if age.is_none_or(|age| age < min_age) {
                continue;
            }
        }
        match std::fs::remove_file(&path) {
            Ok(()) => removed += 1,
            // Its writer renamed it or another cleaner got there first.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error(&path)(error)),
        }
    }
    Ok(removed)
}

/// Writes `contents` to `path` atomically: readers see the old file or the new one, never a
/// part. The temporary file (named by [`temporary_prefix`]) is synced before the rename so a
/// power loss cannot leave an empty file under the final name.
pub fn write_atomically(path: &Path, contents: &[u8], private: bool) -> Result<(), StoreError> {
    let folder = path.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(folder).map_err(|error| io_error(folder)(error))?;
    let mut temporary = tempfile::Builder::new()
        .prefix(&temporary_prefix(path))
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

    /// Where a dataset remembers its site's time zone (an IANA name).
    pub fn timezone_path(dataset: &Path) -> PathBuf {
        dataset.join(".callqa").join("timezone")
    }

    /// The time zone the dataset at `dataset` was last given, if any. Read without opening the
    /// store, so that a run that cannot start creates nothing.
    pub fn remembered_timezone(dataset: &Path) -> Option<String> {
        read_timezone(&Self::timezone_path(dataset))
    }

    /// Where the dataset remembers the score below which calls are flagged (`--flag-below`).
    pub fn flag_threshold_path(dataset: &Path) -> PathBuf {
        dataset.join(".callqa").join("flag_below")
    }

    /// The flag threshold the dataset at `dataset` was last given, if any.
    pub fn remembered_flag_threshold(dataset: &Path) -> Option<f64> {
        read_timezone(&Self::flag_threshold_path(dataset))?
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite())
    }

    /// Remembers the flag threshold the dataset's calls were flagged with, for later runs,
    /// `rescore` and `report`.
    pub fn remember_flag_threshold(&self, value: f64) -> Result<(), StoreError> {
        let path = self.root.join("flag_below");
        let text = value.to_string();
        if read_timezone(&path).as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        write_atomically(&path, format!("{text}\n").as_bytes(), true)
    }

    /// Remembers the time zone the dataset's dates are counted in, for later runs and
    /// `rescore` that do not name one.
    pub fn remember_timezone(&self, name: &str) -> Result<(), StoreError> {
        let path = self.root.join("timezone");
        if read_timezone(&path).as_deref() == Some(name) {
            return Ok(());
        }
        write_atomically(&path, format!("{name}\n").as_bytes(), true)
    }

    /// Waits for, then takes, the lock on writing the dataset's tables, held until the returned
    /// file is dropped. Shards of a batch write their tables one at a time, each from the
    /// records as they are once it holds the lock, so the last to write has seen every
    /// shard's calls.
    pub fn lock_tables(&self) -> Result<std::fs::File, StoreError> {
        let path = self.root.join("lock-tables");
        let file = open_lock_file(&path)?;
        file.lock().map_err(io_error(&path))?;
        Ok(file)
    }

    /// Takes the dataset's lock for one shard (`index` of `count`), held until the returned
    /// value is dropped (or the process ends, however it ends: the kernel releases it). A second
    /// `run` or `rescore` of the same shard, such as a night's run overrunning into the next
    /// one's start, is refused at once instead of deleting the first one's temporary files and
    /// interleaving its tables; so is one that splits the batch differently from a process
    /// running now (`run` beside `run --shard 0/2`), since each would rewrite the other's
    /// parts. Different shards of one split run side by side.
    pub fn lock_shard(&self, index: u32, count: u32) -> Result<ShardLock, StoreError> {
        // Every process of this split shares its file; a process of another split is seen by
        // its file being held (a probe that gets it exclusively lets it go at once).
        let split_path = self.root.join(format!("lock-split-{count}"));
        let split = open_lock_file(&split_path)?;
        split.lock_shared().map_err(io_error(&split_path))?;
        let entries = std::fs::read_dir(&self.root).map_err(io_error(&self.root))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with("lock-split-") || path == split_path {
                continue;
            }
            match open_lock_file(&path)?.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Err(StoreError::Busy { path }),
                Err(std::fs::TryLockError::Error(error)) => return Err(io_error(&path)(error)),
            }
        }
        let path = self.root.join(format!("lock-shard-{index}-of-{count}"));
        let shard = open_lock_file(&path)?;
        match shard.try_lock() {
            Ok(()) => Ok(ShardLock {
                _split: split,
                _shard: shard,
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Busy { path }),
            Err(std::fs::TryLockError::Error(error)) => Err(io_error(&path)(error)),
        }
    }

    fn record_path(&self, call_id: &str) -> PathBuf {
        self.root
            .join("records")
            .join(format!("{}.json", &sha256_hex(call_id)[..32]))
    }

    /// What the cached transcript of `transcript_key` is on disk now: missing, or its size and
    /// modification time. A transcript lost or written again changes it (see `crate::days`).
    pub fn transcript_stamp(&self, transcript_key: &str) -> String {
        match std::fs::metadata(self.transcript_path(transcript_key)) {
            Ok(metadata) => {
                let modified = metadata
                    .modified()
                    .ok()
                    .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |since| since.as_nanos());
                format!("{} bytes, modified {modified}", metadata.len())
            }
            Err(_) => "missing".to_string(),
        }
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
        read_record(&self.record_path(call_id))
    }

    /// Deletes a call's record (its rows leave the tables at the next rebuild).
    pub fn remove_record(&self, call_id: &str) -> Result<(), StoreError> {
        let path = self.record_path(call_id);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(io_error(&path)(error)),
        }
    }

    /// Saves a call's record, replacing the previous one. Only the run that processes a call
    /// writes its record, so temporaries of this record left by a killed run are removed here.
    ///
    /// A recording path that is not valid UTF-8 (a file name from a Latin-1 share) is stored
    /// readably, with the invalid bytes replaced by U+FFFD (JSON cannot hold such bytes), and
    /// exactly, as hex in `path_bytes`: records read back have the real path, with which
    /// `sample` finds the recording again.
    pub fn save_record(&self, record: &CallRecord) -> Result<(), StoreError> {
        let path = self.record_path(&record.spec.call_id);
        let damaged = |error: serde_json::Error| StoreError::Damaged {
            path: path.clone(),
            message: error.to_string(),
        };
        let value = record_json(record).map_err(damaged)?;
        let json = serde_json::to_vec_pretty(&value).map_err(damaged)?;
        let folder = self.root.join("records");
        remove_temporaries(&folder, &temporary_prefix(&path), std::time::Duration::ZERO)?;
        write_atomically(&path, &json, true)
    }

    /// Removes temporary files in the state folders that no running process can still be
    /// writing (older than [`STALE_TEMPORARY_AGE`]). Returns how many were removed.
    pub fn remove_stale_temporaries(&self) -> Result<usize, StoreError> {
        let mut removed = 0;
        for folder in [self.root.join("records"), self.root.join("transcripts")] {
            removed += remove_temporaries(&folder, TEMPORARY_PREFIX, STALE_TEMPORARY_AGE)?;
        }
        Ok(removed)
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

    /// Saves a transcript without word times (see [`Store::save_transcript_with_words`]).
    pub fn save_transcript(
        &self,
        transcript_key: &str,
        transcript: &CallTranscript,
    ) -> Result<(), StoreError> {
        self.save_transcript_with_words(transcript_key, transcript, &[])
    }

    /// Saves a transcript with the words of its segments and their times: `words[i]` belongs
    /// to `transcript.segments[i]` (missing or empty: none). They are written into each
    /// segment's object, as `words`, where [`Store::load_transcript`] does not read them (the
    /// analysis has no use for them) and [`Store::load_segment_words`] does.
    pub fn save_transcript_with_words(
        &self,
        transcript_key: &str,
        transcript: &CallTranscript,
        words: &[Vec<Word>],
    ) -> Result<(), StoreError> {
        let path = self.transcript_path(transcript_key);
        let json =
            serde_json::to_vec(&TranscriptFile::new(transcript, words)).map_err(|error| {
                StoreError::Damaged {
                    path: path.clone(),
                    message: error.to_string(),
                }
            })?;
        write_atomically(&path, &json, true)
    }

    /// The words of each segment of a cached transcript, with their times (see
    /// [`Store::save_transcript_with_words`]): one list per segment, in the segments' order,
    /// empty for a segment stored without them (and for every segment of a transcript stored
    /// before callqa kept word times). `None` when the transcript is missing.
    pub fn load_segment_words(
        &self,
        transcript_key: &str,
    ) -> Result<Option<Vec<Vec<Word>>>, StoreError> {
        let file: Option<SegmentWordsFile> = read_json(&self.transcript_path(transcript_key))?;
        Ok(file.map(|file| {
            file.segments
                .into_iter()
                .map(|segment| segment.words)
                .collect()
        }))
    }

    /// Every call record in the store, sorted by call id, and the record files that could not
    /// be read back. Atomic writes make a damaged record all but impossible, short of disk
    /// corruption or a hand edit; one must not stop every later run over the dataset, so it is
    /// set aside for the tables to list, not skipped and not fatal.
    pub fn all_records(&self) -> Result<StoredRecords, StoreError> {
        let folder = self.root.join("records");
        let mut stored = StoredRecords::default();
        let entries = std::fs::read_dir(&folder).map_err(io_error(&folder))?;
        for entry in entries {
            let path = entry.map_err(io_error(&folder))?.path();
            if path.extension().and_then(|extension| extension.to_str()) != Some("json") {
                continue;
            }
            match read_record(&path) {
                Ok(Some(record)) => stored.records.push(record),
                Ok(None) => {}
                Err(StoreError::Damaged { path, message }) => {
                    let modified = std::fs::metadata(&path)
                        .and_then(|metadata| metadata.modified())
                        .ok()
                        .map(DateTime::<Utc>::from);
                    stored.damaged.push(DamagedRecord {
                        path,
                        message,
                        modified,
                    });
                }
                Err(error) => return Err(error),
            }
        }
        stored
            .records
            .sort_by(|left, right| left.spec.call_id.cmp(&right.spec.call_id));
        stored
            .damaged
            .sort_by(|left, right| left.path.cmp(&right.path));
        Ok(stored)
    }
}

/// A lock file of the state folder, created if missing (its content is never read).
fn open_lock_file(path: &Path) -> Result<std::fs::File, StoreError> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_error(path))
}

/// The time zone name in `path`, if it holds one.
/// The one trimmed line of a remembered setting (time zone, flag threshold), if any.
fn read_timezone(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
}

/// The locks of [`Store::lock_shard`], released when dropped.
#[derive(Debug)]
pub struct ShardLock {
    _split: std::fs::File,
    _shard: std::fs::File,
}

/// A record as its file holds it: a recording path that is not UTF-8 is written readable
/// (lossy) and exactly (`path_bytes`, hex), since JSON strings hold only Unicode.
pub fn record_json(record: &CallRecord) -> Result<serde_json::Value, serde_json::Error> {
    match raw_path_bytes(&record.spec.path) {
        Some(bytes) => {
            let mut readable = record.clone();
            readable.spec.path = PathBuf::from(record.spec.path.to_string_lossy().into_owned());
            let mut value = serde_json::to_value(&readable)?;
            value["path_bytes"] = hex_encode(&bytes).into();
            Ok(value)
        }
        None => serde_json::to_value(record),
    }
}

/// What [`Store::all_records`] found.
#[derive(Debug, Default)]
pub struct StoredRecords {
    pub records: Vec<CallRecord>,
    pub damaged: Vec<DamagedRecord>,
}

/// A record file that is not a record any more. Its call is unknown: the file is named by a
/// hash of the call id.
#[derive(Debug, Clone)]
pub struct DamagedRecord {
    pub path: PathBuf,
    pub message: String,
    /// When it was last written, which dates its row in `failures`.
    pub modified: Option<DateTime<Utc>>,
}

/// A record as [`Store::save_record`] wrote it, with its recording's exact path.
fn read_record(path: &Path) -> Result<Option<CallRecord>, StoreError> {
    let Some(mut value) = read_json::<serde_json::Value>(path)? else {
        return Ok(None);
    };
    let exact_path = value
        .as_object_mut()
        .and_then(|object| object.remove("path_bytes"))
        .and_then(|hex| hex.as_str().and_then(hex_decode))
        .and_then(path_from_bytes);
    let mut record: CallRecord =
        serde_json::from_value(value).map_err(|error| StoreError::Damaged {
            path: path.to_path_buf(),
            message: error.to_string(),
        })?;
    if let Some(exact_path) = exact_path {
        record.spec.path = exact_path;
    }
    Ok(Some(record))
}

/// The bytes of a path that is not valid UTF-8 (`None` for every other path).
fn raw_path_bytes(path: &Path) -> Option<Vec<u8>> {
    if path.to_str().is_some() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Some(path.as_os_str().as_bytes().to_vec())
    }
    #[cfg(not(unix))]
    {
        None
    }
}

fn path_from_bytes(bytes: Vec<u8>) -> Option<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
    }
    #[cfg(not(unix))]
    {
        String::from_utf8(bytes).ok().map(PathBuf::from)
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok())
        .collect()
}

/// A transcript as stored: [`CallTranscript`] with the words of each segment in the segment's
/// object. Without words, the same bytes as the transcript itself.
#[derive(Serialize)]
struct TranscriptFile<'a> {
    duration_ms: u64,
    layout: &'a Layout,
    source_sample_rate: u32,
    channels: &'a [ChannelTranscript],
    segments: Vec<SegmentWithWords<'a>>,
}

#[derive(Serialize)]
struct SegmentWithWords<'a> {
    #[serde(flatten)]
    segment: &'a Segment,
    #[serde(skip_serializing_if = "<[Word]>::is_empty")]
    words: &'a [Word],
}

impl<'a> TranscriptFile<'a> {
    fn new(transcript: &'a CallTranscript, words: &'a [Vec<Word>]) -> TranscriptFile<'a> {
        // Every field, so that one added to the transcript cannot be left out of the file.
        let CallTranscript {
            duration_ms,
            layout,
            source_sample_rate,
            channels,
            segments,
        } = transcript;
        TranscriptFile {
            duration_ms: *duration_ms,
            layout,
            source_sample_rate: *source_sample_rate,
            channels,
            segments: segments
                .iter()
                .enumerate()
                .map(|(index, segment)| SegmentWithWords {
                    segment,
                    words: words.get(index).map_or(&[], Vec::as_slice),
                })
                .collect(),
        }
    }
}

/// The words of a stored transcript's segments, and nothing else of it.
#[derive(Deserialize)]
struct SegmentWordsFile {
    segments: Vec<SegmentWords>,
}

#[derive(Deserialize)]
struct SegmentWords {
    #[serde(default)]
    words: Vec<Word>,
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

    #[test]
    fn temporaries_are_named_after_their_target_and_removed_by_prefix_and_age() {
        let folder = tempfile::tempdir().unwrap();
        let target = folder.path().join("part-0-of-2.parquet");
        let prefix = temporary_prefix(&target);
        assert_eq!(prefix, ".tmp-part-0-of-2.parquet.");
        let ours = folder.path().join(format!("{prefix}abc123"));
        let other_shard = folder.path().join(".tmp-part-1-of-2.parquet.def456");
        std::fs::write(&ours, b"left by a killed run").unwrap();
        std::fs::write(&other_shard, b"being written right now").unwrap();
        let removed = remove_temporaries(folder.path(), &prefix, std::time::Duration::ZERO);
        assert_eq!(removed.unwrap(), 1);
        assert!(!ours.exists());
        assert!(other_shard.exists());
        // Fresh temporaries survive an age-limited clean-up.
        let removed = remove_temporaries(folder.path(), TEMPORARY_PREFIX, STALE_TEMPORARY_AGE);
        assert_eq!(removed.unwrap(), 0);
        assert!(other_shard.exists());
        assert_eq!(
            remove_temporaries(
                &folder.path().join("missing"),
                TEMPORARY_PREFIX,
                STALE_TEMPORARY_AGE
            )
            .unwrap(),
            0
        );
    }

    #[test]
    fn records_with_non_utf8_paths_are_saved_readably() {
        let folder = tempfile::tempdir().unwrap();
        let store = Store::open(folder.path()).unwrap();
        #[cfg(unix)]
        let path = {
            use std::os::unix::ffi::OsStrExt;
            PathBuf::from(std::ffi::OsStr::from_bytes(b"/calls/llamada_Jos\xe9.wav"))
        };
        #[cfg(not(unix))]
        let path = PathBuf::from("/calls/llamada.wav");
        let record = CallRecord {
            spec: CallSpec {
                call_id: "llamada".to_string(),
                agent_id: "unknown".to_string(),
                path,
                started_at: None,
                agent_channel: None,
                language: None,
            },
            outcome: Outcome::Transcribed {
                transcript_key: "key".to_string(),
            },
            audio_sha256: None,
            model_id: None,
            asr_settings: None,
            processed_at: Utc::now(),
            stage_seconds: Default::default(),
            decode_notes: vec!["the recording was cut short".to_string()],
        };
        let leftover = store.root().join("records").join(format!(
            "{}zzzzzz",
            temporary_prefix(&store.record_path("llamada"))
        ));
        std::fs::write(&leftover, b"{").unwrap();
        store.save_record(&record).unwrap();
        assert!(!leftover.exists(), "the killed run's temporary is gone");
        let loaded = store.load_record("llamada").unwrap().unwrap();
        // Read back exactly, so that `sample` opens the recording again.
        assert_eq!(loaded.spec.path, record.spec.path);
        #[cfg(unix)]
        {
            let stored = std::fs::read_to_string(store.record_path("llamada")).unwrap();
            assert!(stored.contains("llamada_Jos\u{FFFD}.wav"), "{stored}");
            assert!(stored.contains("\"path_bytes\""), "{stored}");
        }
        assert_eq!(loaded.decode_notes, record.decode_notes);
        let stored = store.all_records().unwrap();
        assert_eq!(stored.records.len(), 1);
        assert!(stored.damaged.is_empty());
        // A record damaged on disk is set aside with the reason, not fatal and not lost.
        let other = store.record_path("other");
        std::fs::write(&other, b"{\"spec\": ").unwrap();
        let stored = store.all_records().unwrap();
        assert_eq!(stored.records.len(), 1);
        assert_eq!(stored.damaged.len(), 1);
        assert_eq!(stored.damaged[0].path, other);
        assert!(
            stored.damaged[0].message.contains("EOF"),
            "{:?}",
            stored.damaged
        );
        assert!(stored.damaged[0].modified.is_some());
        // A record written before decode notes were kept reads with none.
        let mut readable = loaded.clone();
        readable.spec.path = PathBuf::from("/calls/llamada.wav");
        let mut old = serde_json::to_value(&readable).unwrap();
        old.as_object_mut().unwrap().remove("decode_notes");
        let old: CallRecord = serde_json::from_value(old).unwrap();
        assert!(old.decode_notes.is_empty());
    }

    #[test]
    fn word_times_are_kept_beside_the_transcript() {
        use crate::types::{SegmentQuality, Speaker};
        let folder = tempfile::tempdir().unwrap();
        let store = Store::open(folder.path()).unwrap();
        let segment = |start_ms: u64, text: &str| Segment {
            speaker: Speaker::Unknown,
            channel: 0,
            start_ms,
            end_ms: start_ms + 2_000,
            text: text.to_string(),
            confidence: 0.9,
            quality: SegmentQuality::Ok,
        };
        let transcript = CallTranscript {
            duration_ms: 10_000,
            layout: Layout::Mono,
            source_sample_rate: 8_000,
            channels: vec![],
            segments: vec![segment(0, "Hello there."), segment(3_000, "Bye.")],
        };
        let word = |text: &str, start_ms: u64, end_ms: u64| Word {
            text: text.to_string(),
            start_ms,
            end_ms,
        };
        // Without words the file is the transcript's own JSON, as before word times were kept.
        store.save_transcript("old", &transcript).unwrap();
        let old = std::fs::read(store.transcript_path("old")).unwrap();
        assert_eq!(old, serde_json::to_vec(&transcript).unwrap());
        assert_eq!(
            store.load_segment_words("old").unwrap(),
            Some(vec![Vec::new(), Vec::new()])
        );
        // With words: in each segment's object; the transcript reads back as it was.
        let words = vec![vec![word("Hello", 100, 500), word(" there.", 600, 1_200)]];
        store
            .save_transcript_with_words("new", &transcript, &words)
            .unwrap();
        let stored: serde_json::Value =
            serde_json::from_slice(&std::fs::read(store.transcript_path("new")).unwrap()).unwrap();
        assert_eq!(
            stored["segments"][0]["words"][1],
            serde_json::json!({"text": " there.", "start_ms": 600, "end_ms": 1200})
        );
        assert!(stored["segments"][1].get("words").is_none());
        assert_eq!(store.load_transcript("new").unwrap(), Some(transcript));
        assert_eq!(
            store.load_segment_words("new").unwrap(),
            Some(vec![words[0].clone(), Vec::new()])
        );
        assert_eq!(store.load_segment_words("missing").unwrap(), None);
        // A segment written before word times were kept reads with none.
        let old_segment: SegmentWords =
            serde_json::from_str(r#"{"speaker":"agent","channel":0,"start_ms":0,"end_ms":10,"text":"Hi","confidence":0.9,"quality":"ok"}"#)
                .unwrap();
        assert!(old_segment.words.is_empty());
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
