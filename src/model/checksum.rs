//! SHA-256 of model files, with a sidecar cache, and the content-based [`model_id`].
//!
//! Hashing a 150 MB model takes about half a second; callqa needs the hash on every run (to record
//! which model produced a transcript), so the result is cached in `<file>.sha256` next to the model,
//! keyed by the file's size and modification time. The cache is best-effort: if it cannot be
//! written (read-only directory) the hash is simply recomputed next time.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

use crate::model::error::ModelError;
use crate::model::files::temporary_file_beside;

/// Hex digits of the SHA-256 kept in a model id: 48 bits, ample to tell model files apart.
const MODEL_ID_HASH_DIGITS: usize = 12;

/// A short, content-based model identifier: `"<file stem>-<first 12 hex digits of sha256>"`, e.g.
/// `ggml-base-q8_0-3b5e1c0d9a4f`. The hash is cached in a `<file>.sha256` sidecar.
pub fn model_id(path: &Path) -> Result<String, ModelError> {
    let sha256 = cached_sha256(path)?;
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(format!("{stem}-{}", &sha256[..MODEL_ID_HASH_DIGITS]))
}

/// What the sidecar file stores.
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct HashSidecar {
    sha256: String,
    size: u64,
    modified_unix_seconds: u64,
    modified_nanoseconds: u32,
}

/// Identity of a file's current content as far as the filesystem tells: size and mtime.
fn file_stamp(path: &Path) -> Result<(u64, Option<(u64, u32)>), ModelError> {
    let metadata =
        std::fs::metadata(path).map_err(ModelError::io(path, "reading the metadata of"))?;
    if !metadata.is_file() {
        return Err(ModelError::MissingFile {
            path: path.to_path_buf(),
            expected: "a model file".to_string(),
        });
    }
    let modified = metadata
        .modified()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok());
    Ok((
        metadata.len(),
        modified.map(|since_epoch| (since_epoch.as_secs(), since_epoch.subsec_nanos())),
    ))
}

/// `<file>.sha256`, beside the file.
fn sidecar_path(path: &Path) -> PathBuf {
    let mut sidecar = path.as_os_str().to_owned();
    sidecar.push(".sha256");
    PathBuf::from(sidecar)
}

/// The lower-case hex SHA-256 of a file, read from the sidecar cache when its size and mtime
/// still match, computed (and cached) otherwise.
pub(crate) fn cached_sha256(path: &Path) -> Result<String, ModelError> {
    let (size, modified) = file_stamp(path)?;
    if let Some((seconds, nanoseconds)) = modified
        && let Ok(text) = std::fs::read_to_string(sidecar_path(path))
        && let Ok(sidecar) = serde_json::from_str::<HashSidecar>(&text)
        && (
            sidecar.size,
            sidecar.modified_unix_seconds,
            sidecar.modified_nanoseconds,
        ) == (size, seconds, nanoseconds)
        && sidecar.sha256.len() == 64
        && sidecar.sha256.bytes().all(|byte| byte.is_ascii_hexdigit())
    {
        return Ok(sidecar.sha256);
    }
    let sha256 = sha256_file(path)?;
    // Only cache if the file did not change while we hashed it.
    if file_stamp(path)? == (size, modified) {
        remember_sha256(path, &sha256);
    }
    Ok(sha256)
}

/// Records a file's SHA-256 (just computed by whoever wrote it) in its sidecar. Best-effort.
pub(crate) fn remember_sha256(path: &Path, sha256: &str) {
    let Ok((size, Some((modified_unix_seconds, modified_nanoseconds)))) = file_stamp(path) else {
        return;
    };
    let sidecar = HashSidecar {
        sha256: sha256.to_string(),
        size,
        modified_unix_seconds,
        modified_nanoseconds,
    };
    let Ok(text) = serde_json::to_string(&sidecar) else {
        return;
    };
    let sidecar_path = sidecar_path(path);
    // Written through a temporary file so concurrent callqa runs never read a half-written sidecar.
    if let Ok(mut temporary) = temporary_file_beside(&sidecar_path)
        && temporary.write_all(text.as_bytes()).is_ok()
    {
        let _ignored_because_the_cache_is_optional = temporary.persist(&sidecar_path);
    }
}

/// Streams a file through SHA-256.
pub(crate) fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut file = File::open(path).map_err(ModelError::io(path, "opening"))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(ModelError::io(path, "reading"))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// A writer that hashes and counts everything written through it, so a converted model's checksum
/// is known without reading the file back.
pub(crate) struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes_written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes_written: 0,
        }
    }

    /// Returns the inner writer (not yet flushed), the hex SHA-256 and the byte count.
    pub(crate) fn finish(self) -> (W, String, u64) {
        (
            self.inner,
            hex::encode(self.hasher.finalize()),
            self.bytes_written,
        )
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buffer)?;
        self.hasher.update(&buffer[..written]);
        self.bytes_written += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_id_uses_stem_and_hash_prefix_and_caches_the_hash() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("ggml-base-q8_0.bin");
        std::fs::write(&path, b"abc").unwrap();
        // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        assert_eq!(model_id(&path).unwrap(), "ggml-base-q8_0-ba7816bf8f01");
        let sidecar: HashSidecar = serde_json::from_str(
            &std::fs::read_to_string(directory.path().join("ggml-base-q8_0.bin.sha256")).unwrap(),
        )
        .unwrap();
        assert_eq!(sidecar.size, 3);
        assert!(sidecar.sha256.starts_with("ba7816bf"));
    }

    #[test]
    fn a_matching_sidecar_is_trusted_and_a_stale_one_is_ignored() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("model.bin");
        std::fs::write(&path, b"abc").unwrap();
        // A sidecar with the file's exact stamp is used without rehashing (proven by a fake hash).
        let fake = "f".repeat(64);
        remember_sha256(&path, &fake);
        assert_eq!(cached_sha256(&path).unwrap(), fake);
        // Changing the content changes the size, so the stale entry is ignored.
        std::fs::write(&path, b"abcd").unwrap();
        assert_eq!(
            cached_sha256(&path).unwrap(),
            "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"
        );
    }

    #[test]
    fn hashing_writer_matches_a_direct_hash() {
        let mut writer = HashingWriter::new(Vec::new());
        writer.write_all(b"ab").unwrap();
        writer.write_all(b"c").unwrap();
        let (inner, sha256, bytes) = writer.finish();
        assert_eq!((inner, bytes), (b"abc".to_vec(), 3));
        assert_eq!(
            sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_missing_model_is_an_error_naming_it() {
        let error = model_id(Path::new("/nonexistent/ggml-x.bin"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/ggml-x.bin"), "{error}");
    }
}
