//! Discovery: which calls a batch holds, and what is known about each.
//!
//! `callqa run CALLS` takes a folder of recordings or a manifest CSV
//! (`call_id,agent_id,path,started_at,agent_channel,language`, only `path` required, paths
//! relative to the manifest). Without a manifest, metadata comes from file names by a
//! configurable regular expression with named groups.
//!
//! Promises: a problem with one row or one file never stops discovery. It becomes a
//! [`DiscoveryProblem`] tied to that input, which the run records in `failures`. Only a
//! problem with the whole input (no such folder, a manifest without a `path` column) is an
//! error. The order of calls is deterministic (sorted by call id).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use regex::Regex;

use crate::types::{CallSpec, ChannelSide};

/// The default file-name pattern: the file stem is the call id, nothing else is known.
pub const DEFAULT_NAME_PATTERN: &str = r"^(?P<call_id>.+)$";

/// Audio file endings that discovery picks up in a folder (compared case-insensitively).
const AUDIO_EXTENSIONS: &[&str] = &["wav", "wave"];

#[derive(Debug, Clone)]
pub struct DiscoverOptions {
    /// Applied to the file stem when there is no manifest. Named groups that are used:
    /// `call_id`, `agent_id`, `started_at` (ISO 8601 or `YYYYMMDD[THHMMSS]`), `date`,
    /// `agent_channel`, `language`.
    pub name_pattern: Regex,
    /// Agent channel for calls that do not say (manifest cell empty, no pattern group).
    pub default_agent_channel: Option<ChannelSide>,
    /// Language for calls that do not say; `None` detects it.
    pub default_language: Option<String>,
    /// Where start times without an offset are local times.
    pub timezone: chrono_tz::Tz,
}

impl Default for DiscoverOptions {
    fn default() -> Self {
        DiscoverOptions {
            name_pattern: Regex::new(DEFAULT_NAME_PATTERN).expect("default pattern is valid"),
            default_agent_channel: None,
            default_language: None,
            timezone: chrono_tz::Tz::UTC,
        }
    }
}

/// An input that could not become a call: it ends in `failures` with stage `discover`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryProblem {
    /// The call id when one could be told, else derived from the path or row.
    pub call_id: String,
    pub path: PathBuf,
    pub kind: &'static str,
    pub message: String,
    /// The call as far as it was read, where it was (a duplicate or reused id): its agent and
    /// start time date the failure like any other of the call's rows.
    pub spec: Option<Box<CallSpec>>,
}

#[derive(Debug, Default)]
pub struct Discovery {
    pub calls: Vec<CallSpec>,
    pub problems: Vec<DiscoveryProblem>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{path}: no such file or folder")]
    NotFound { path: PathBuf },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid manifest: {message}")]
    BadManifest { path: PathBuf, message: String },
}

/// Finds the calls in a folder (recursively) or a manifest file.
pub fn discover(input: &Path, options: &DiscoverOptions) -> Result<Discovery, DiscoverError> {
    let metadata = fs_err::metadata(input).map_err(|_| DiscoverError::NotFound {
        path: input.to_path_buf(),
    })?;
    // Absolute paths in call records, so that later commands (`sample` cutting audio clips)
    // find the recordings from any working folder.
    // A manifest's paths are relative to the folder it is in as the user named it, even where
    // the manifest is a link to a file elsewhere.
    let mut discovery = if metadata.is_dir() {
        let folder = std::fs::canonicalize(input).unwrap_or_else(|_| input.to_path_buf());
        let manifest = folder.join("manifest.csv");
        if manifest.is_file() {
            read_manifest(&manifest, options)?
        } else {
            scan_folder(&folder, options)?
        }
    } else {
        let manifest = std::path::absolute(input).unwrap_or_else(|_| input.to_path_buf());
        read_manifest(&manifest, options)?
    };
    deduplicate(&mut discovery);
    discovery
        .calls
        .sort_by(|left, right| left.call_id.cmp(&right.call_id));
    discovery
        .problems
        .sort_by(|left, right| left.call_id.cmp(&right.call_id));
    Ok(discovery)
}

/// A call id seen twice would make two rows claim one key: the first (in path order) wins and
/// the others become problems naming the clash.
fn deduplicate(discovery: &mut Discovery) {
    discovery
        .calls
        .sort_by(|left, right| (&left.call_id, &left.path).cmp(&(&right.call_id, &right.path)));
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut unique = Vec::with_capacity(discovery.calls.len());
    for call in discovery.calls.drain(..) {
        if let Some(first_path) = seen.get(&call.call_id) {
            discovery.problems.push(DiscoveryProblem {
                call_id: format!("{}#{}", call.call_id, call.path.display()),
                path: call.path.clone(),
                kind: "duplicate_call_id",
                message: format!(
                    "call id {:?} is also used by {}; this file was skipped",
                    call.call_id,
                    first_path.display()
                ),
                spec: Some(Box::new(call.clone())),
            });
            continue;
        }
        seen.insert(call.call_id.clone(), call.path.clone());
        unique.push(call);
    }
    discovery.calls = unique;
}

/// Walks `folder` and its subfolders. Folders reached through a symbolic link are entered
/// after the real ones and only if their target was not walked already, so that a link to a
/// folder of the batch (`latest -> 2026-11-21`) or to itself (`loop -> .`) never counts a
/// recording twice. A subfolder that cannot be read is a problem of its own, not the end of
/// the batch; only the top folder must be readable.
fn scan_folder(folder: &Path, options: &DiscoverOptions) -> Result<Discovery, DiscoverError> {
    scan_folder_with(folder, options, &|directory| {
        let entries = fs_err::read_dir(directory)?;
        Ok(entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .collect())
    })
}

/// [`scan_folder`] with the listing of a folder given (tests make one fail).
fn scan_folder_with(
    folder: &Path,
    options: &DiscoverOptions,
    list: &dyn Fn(&Path) -> std::io::Result<Vec<PathBuf>>,
) -> Result<Discovery, DiscoverError> {
    let mut discovery = Discovery::default();
    let mut visited: BTreeSet<PathBuf> = BTreeSet::new();
    let mut pending = vec![folder.to_path_buf()];
    let mut linked: Vec<PathBuf> = Vec::new();
    loop {
        let directory = match pending.pop() {
            Some(directory) => directory,
            None if !linked.is_empty() => {
                // The links last, in path order (popped from the end).
                linked.sort_by(|left, right| right.cmp(left));
                pending = std::mem::take(&mut linked);
                continue;
            }
            None => break,
        };
        let real = std::fs::canonicalize(&directory).unwrap_or_else(|_| directory.clone());
        if !visited.insert(real) {
            continue;
        }
        let mut paths = match list(&directory) {
            Ok(paths) => paths,
            Err(error) if directory == folder => {
                return Err(DiscoverError::Io {
                    path: directory.clone(),
                    source: error,
                });
            }
            Err(error) => {
                let relative = directory.strip_prefix(folder).unwrap_or(&directory);
                discovery.problems.push(DiscoveryProblem {
                    call_id: format!("{}/", call_id_from_relative(relative)),
                    path: directory.clone(),
                    kind: "unreadable_folder",
                    spec: None,
                    message: format!(
                        "cannot read folder {}: {}; its recordings were not looked for",
                        directory.display(),
                        std::io::Error::from(error.kind())
                    ),
                });
                continue;
            }
        };
        paths.sort();
        for path in paths {
            let is_audio_name = path
                .extension()
                .and_then(|extension| extension.to_str())
                .is_some_and(|extension| {
                    AUDIO_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str())
                });
            // A folder named like a recording is a problem to report, not a folder to enter:
            // someone meant it to be a call.
            if path.is_dir() && !is_audio_name {
                if !is_hidden(&path) {
                    if path.is_symlink() {
                        linked.push(path);
                    } else {
                        pending.push(path);
                    }
                }
                continue;
            }
            if !is_audio_name {
                continue;
            }
            let relative = path.strip_prefix(folder).unwrap_or(&path);
            match spec_from_name(&path, relative, options) {
                Ok(spec) => discovery.calls.push(spec),
                Err(problem) => discovery.problems.push(problem),
            }
        }
    }
    Ok(discovery)
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with('.'))
}

/// The call id of a file found by scanning: its path relative to the batch folder, without
/// the ending, so that `day1/0001.wav` and `day2/0001.wav` stay apart.
fn call_id_from_relative(relative: &Path) -> String {
    relative
        .with_extension("")
        .to_string_lossy()
        .replace(std::path::MAIN_SEPARATOR, "/")
}

fn spec_from_name(
    path: &Path,
    relative: &Path,
    options: &DiscoverOptions,
) -> Result<CallSpec, DiscoveryProblem> {
    let fallback_id = call_id_from_relative(relative);
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let problem = |kind: &'static str, message: String| DiscoveryProblem {
        call_id: fallback_id.clone(),
        path: path.to_path_buf(),
        kind,
        message,
        spec: None,
    };
    let captures = options.name_pattern.captures(&stem).ok_or_else(|| {
        problem(
            "name_pattern",
            format!(
                "file name {stem:?} does not match the name pattern {}",
                options.name_pattern.as_str()
            ),
        )
    })?;
    let group = |name: &str| {
        captures
            .name(name)
            .map(|found| found.as_str().trim().to_string())
            .filter(|value| !value.is_empty())
    };
    // The pattern's call id only replaces the file stem; the folder part keeps ids unique.
    let call_id = match (group("call_id"), relative.parent()) {
        (Some(id), Some(parent)) if !parent.as_os_str().is_empty() => {
            format!("{}/{id}", call_id_from_relative(parent))
        }
        (Some(id), _) => id,
        (None, _) => fallback_id.clone(),
    };
    let started_at = match group("started_at").or_else(|| group("date")) {
        Some(text) => Some(
            parse_timestamp_in(&text, options.timezone).map_err(|message| {
                problem(
                    "bad_metadata",
                    format!("start time in file name: {message}"),
                )
            })?,
        ),
        None => None,
    };
    let agent_channel = match group("agent_channel") {
        Some(text) => Some(ChannelSide::parse(&text).ok_or_else(|| {
            problem(
                "bad_metadata",
                format!("agent channel {text:?} in file name is not left or right"),
            )
        })?),
        None => options.default_agent_channel,
    };
    Ok(CallSpec {
        call_id,
        agent_id: group("agent_id").unwrap_or_else(|| "unknown".to_string()),
        path: path.to_path_buf(),
        started_at: started_at.or_else(|| modified_time(path)),
        agent_channel,
        language: match group("language") {
            Some(code) => Some(language_code(&code).map_err(|message| {
                problem("bad_metadata", format!("in the file name: {message}"))
            })?),
            None => options.default_language.clone(),
        },
    })
}

/// A call's language as Whisper and the rulebooks take it: a two-letter ISO 639-1 code that
/// Whisper knows, lower-cased. Anything else ("english", "xx") is refused with the reason,
/// rather than reaching Whisper (which takes full names too) and then finding no rulebook.
pub fn language_code(text: &str) -> Result<String, String> {
    let code = text.trim().to_ascii_lowercase();
    if code.len() != 2 || !code.chars().all(|character| character.is_ascii_lowercase()) {
        return Err(format!(
            "language {text:?} is not an ISO 639-1 code such as en, es, ru, pl, zh, fa"
        ));
    }
    // Looked up in Whisper's table rather than by `get_lang_id`, which prints
    // "whisper_lang_id: unknown language" on stderr for every bad code.
    let known = (0..=whisper_rs::get_lang_max_id())
        .any(|id| whisper_rs::get_lang_str(id) == Some(code.as_str()));
    if !known {
        return Err(format!("language {text:?} is not one Whisper knows"));
    }
    Ok(code)
}

/// The file's modification time: recordings are written when the call ends, so it is the
/// best date we have when nothing else says.
fn modified_time(path: &Path) -> Option<DateTime<Utc>> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(DateTime::<Utc>::from(modified))
}

/// Parses ISO 8601 / RFC 3339 with an offset, a naive date-time (taken as UTC), a date, or the
/// compact `YYYYMMDD`, `YYYYMMDDTHHMMSS`, `YYYYMMDD_HHMMSS` forms common in recorder names.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    parse_timestamp_in(text, chrono_tz::Tz::UTC)
}

/// [`parse_timestamp`] where a time without an offset (as recorders often export them) is the
/// local time of `timezone`. A local time that a daylight-saving change skipped is read with
/// the offset before the change; one it repeated, as the first of the two.
pub fn parse_timestamp_in(text: &str, timezone: chrono_tz::Tz) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
        return Ok(with_offset.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y%m%dT%H%M%S%#z",
    ] {
        if let Ok(with_offset) = DateTime::parse_from_str(text, format) {
            return Ok(with_offset.with_timezone(&Utc));
        }
    }
    let local = |naive: NaiveDateTime| -> DateTime<Utc> {
        use chrono::offset::LocalResult;
        match timezone.from_local_datetime(&naive) {
            LocalResult::Single(time) | LocalResult::Ambiguous(time, _) => time.with_timezone(&Utc),
            LocalResult::None => {
                // In a spring-forward gap: read with the offset in force before the change, as
                // a clock not yet moved forward shows it (RFC 5545's rule): 02:37 in a
                // 02:00 → 03:00 gap is 03:37 of the new time.
                let before = naive - chrono::Duration::hours(3);
                match timezone.from_local_datetime(&before).earliest() {
                    Some(time) => {
                        let offset = chrono::Offset::fix(time.offset());
                        Utc.from_utc_datetime(&(naive - offset))
                    }
                    None => Utc.from_utc_datetime(&naive),
                }
            }
        }
    };
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y%m%dT%H%M%S",
        "%Y%m%d_%H%M%S",
        "%Y%m%d-%H%M%S",
        "%Y%m%d%H%M%S",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(local(naive));
        }
    }
    for format in ["%Y-%m-%d", "%Y%m%d"] {
        if let Ok(date) = NaiveDate::parse_from_str(text, format) {
            return Ok(local(date.and_hms_opt(0, 0, 0).expect("midnight exists")));
        }
    }
    Err(format!(
        "{text:?} is not an ISO 8601 date or time (e.g. 2026-11-20T09:30:00+01:00)"
    ))
}

/// Column positions of a manifest, found from its header by name (order is free).
struct ManifestColumns {
    call_id: Option<usize>,
    agent_id: Option<usize>,
    path: usize,
    started_at: Option<usize>,
    agent_channel: Option<usize>,
    language: Option<usize>,
}

fn read_manifest(manifest: &Path, options: &DiscoverOptions) -> Result<Discovery, DiscoverError> {
    let bad = |message: String| DiscoverError::BadManifest {
        path: manifest.to_path_buf(),
        message,
    };
    let file = fs_err::File::open(manifest).map_err(|error| DiscoverError::Io {
        path: manifest.to_path_buf(),
        source: error,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(file);
    let headers = reader
        .headers()
        .map_err(|error| bad(format!("cannot read the header line: {error}")))?
        .clone();
    let find = |name: &str| {
        headers.iter().position(|header| {
            header
                .trim_start_matches('\u{feff}')
                .eq_ignore_ascii_case(name)
        })
    };
    let columns = ManifestColumns {
        call_id: find("call_id"),
        agent_id: find("agent_id"),
        path: find("path").ok_or_else(|| {
            bad(format!(
                "the header has no `path` column (found: {})",
                headers.iter().collect::<Vec<_>>().join(", ")
            ))
        })?,
        started_at: find("started_at"),
        agent_channel: find("agent_channel"),
        language: find("language"),
    };
    let base = manifest.parent().unwrap_or(Path::new("."));
    let mut discovery = Discovery::default();
    for (row_index, record) in reader.records().enumerate() {
        // Line numbers as a spreadsheet shows them: the header is line 1.
        let line = row_index + 2;
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                discovery.problems.push(DiscoveryProblem {
                    call_id: format!("manifest-line-{line}"),
                    path: manifest.to_path_buf(),
                    kind: "bad_manifest_row",
                    message: format!("{}:{line}: {error}", manifest.display()),
                    spec: None,
                });
                continue;
            }
        };
        if record.iter().all(|cell| cell.is_empty()) {
            continue;
        }
        match spec_from_row(&record, &columns, base, options) {
            Ok(spec) => discovery.calls.push(spec),
            Err(problem) => discovery.problems.push(DiscoveryProblem {
                call_id: problem
                    .call_id
                    .unwrap_or_else(|| format!("manifest-line-{line}")),
                path: problem.path,
                kind: "bad_manifest_row",
                message: format!("{}:{line}: {}", manifest.display(), problem.message),
                spec: problem.partial,
            }),
        }
    }
    Ok(discovery)
}

/// A manifest row that is not a call: its id when one could be told, its path, what is wrong
/// with it (every bad cell), and the call as far as its good cells tell, so that the failure
/// row keeps the agent and the date the row gave.
struct RowProblem {
    call_id: Option<String>,
    path: PathBuf,
    message: String,
    partial: Option<Box<CallSpec>>,
}

fn spec_from_row(
    record: &csv::StringRecord,
    columns: &ManifestColumns,
    base: &Path,
    options: &DiscoverOptions,
) -> Result<CallSpec, RowProblem> {
    let cell = |index: Option<usize>| {
        index
            .and_then(|index| record.get(index))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_string)
    };
    let call_id_cell = cell(columns.call_id);
    let agent_id = cell(columns.agent_id).unwrap_or_else(|| "unknown".to_string());
    let Some(relative_path) = cell(Some(columns.path)) else {
        return Err(RowProblem {
            call_id: call_id_cell,
            path: base.to_path_buf(),
            message: "the path cell is empty".to_string(),
            partial: None,
        });
    };
    // Canonical, as recordings found by scanning are: one recording, one path, however it
    // was reached (a manifest given through a link, `..` in its cells).
    let path = base.join(&relative_path);
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    let call_id = call_id_cell
        .clone()
        .unwrap_or_else(|| call_id_from_relative(Path::new(&relative_path)));
    let mut problems = Vec::new();
    let started_at = match cell(columns.started_at) {
        Some(text) => parse_timestamp_in(&text, options.timezone)
            .map_err(|message| problems.push(format!("started_at: {message}")))
            .ok(),
        None => modified_time(&path),
    };
    let agent_channel = match cell(columns.agent_channel) {
        Some(text) => ChannelSide::parse(&text).or_else(|| {
            problems.push(format!(
                "agent_channel {text:?} is not `left`, `right` or empty"
            ));
            None
        }),
        None => options.default_agent_channel,
    };
    let language = match cell(columns.language) {
        Some(code) => language_code(&code)
            .map_err(|message| problems.push(message))
            .ok(),
        None => options.default_language.clone(),
    };
    let spec = CallSpec {
        call_id: call_id.clone(),
        agent_id,
        path: path.clone(),
        started_at,
        agent_channel,
        language,
    };
    if problems.is_empty() {
        Ok(spec)
    } else {
        Err(RowProblem {
            call_id: Some(call_id),
            path,
            message: problems.join("; "),
            partial: Some(Box::new(spec)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, contents: &[u8]) {
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, contents).unwrap();
    }

    #[test]
    fn manifest_rows_become_calls_and_bad_rows_become_problems() {
        let folder = tempfile::tempdir().unwrap();
        let manifest = folder.path().join("manifest.csv");
        write(
            &manifest,
            b"path,call_id,agent_id,started_at,agent_channel,language\n\
              a.wav,call-1,agent-7,2026-11-20T09:30:00+01:00,right,ES\n\
              b.wav,,,,,\n\
              c.wav,call-3,,yesterday,,\n\
              d.wav,call-4,,,middle,\n\
              ,call-5,,,,\n",
        );
        let discovery = discover(&manifest, &DiscoverOptions::default()).unwrap();
        assert_eq!(discovery.calls.len(), 2);
        let first = &discovery.calls[1];
        assert_eq!(first.call_id, "call-1");
        assert_eq!(first.agent_id, "agent-7");
        assert_eq!(first.agent_channel, Some(ChannelSide::Right));
        assert_eq!(first.language.as_deref(), Some("es"));
        assert_eq!(
            first.started_at.unwrap().to_rfc3339(),
            "2026-11-20T08:30:00+00:00"
        );
        assert_eq!(first.path, folder.path().join("a.wav"));
        let second = &discovery.calls[0];
        assert_eq!(second.call_id, "b");
        assert_eq!(second.agent_id, "unknown");
        let problem_ids: Vec<&str> = discovery
            .problems
            .iter()
            .map(|problem| problem.call_id.as_str())
            .collect();
        assert_eq!(problem_ids, vec!["call-3", "call-4", "call-5"]);
        assert!(discovery.problems[0].message.contains("manifest.csv:4"));
        assert!(discovery.problems[1].message.contains("middle"));
    }

    #[test]
    fn a_bad_row_names_every_bad_cell_and_keeps_its_agent_and_date() {
        let folder = tempfile::tempdir().unwrap();
        let manifest = folder.path().join("manifest.csv");
        write(
            &manifest,
            b"path,call_id,agent_id,started_at,agent_channel,language
              a.wav,call-1,A1,2024-03-14T10:00:00Z,middle,english
",
        );
        let discovery = discover(&manifest, &DiscoverOptions::default()).unwrap();
        assert!(discovery.calls.is_empty());
        let problem = &discovery.problems[0];
        assert_eq!(problem.kind, "bad_manifest_row");
        assert!(
            problem.message.contains("manifest.csv:2: "),
            "{}",
            problem.message
        );
        assert!(
            problem.message.contains("\"middle\""),
            "{}",
            problem.message
        );
        assert!(
            problem.message.contains("\"english\""),
            "{}",
            problem.message
        );
        let partial = problem
            .spec
            .as_deref()
            .expect("the row's good cells are kept");
        assert_eq!(partial.agent_id, "A1");
        assert_eq!(
            partial.started_at.unwrap().to_rfc3339(),
            "2024-03-14T10:00:00+00:00"
        );
        assert_eq!(partial.path, folder.path().join("a.wav"));
    }

    #[test]
    fn manifest_without_path_column_is_an_error() {
        let folder = tempfile::tempdir().unwrap();
        let manifest = folder.path().join("calls.csv");
        write(&manifest, b"call_id,agent\nx,y\n");
        let error = discover(&manifest, &DiscoverOptions::default()).unwrap_err();
        assert!(error.to_string().contains("no `path` column"), "{error}");
    }

    #[test]
    fn folder_scan_uses_the_name_pattern_and_reports_odd_entries() {
        let folder = tempfile::tempdir().unwrap();
        write(&folder.path().join("agent7_20261120T093000_0001.wav"), b"x");
        write(
            &folder.path().join("sub/agent8_20261121T100000_0002.WAV"),
            b"x",
        );
        write(&folder.path().join("notes.txt"), b"x");
        write(&folder.path().join("weird.wav/inner.txt"), b"x");
        let options = DiscoverOptions {
            name_pattern: Regex::new(
                r"^(?P<agent_id>[^_]+)_(?P<started_at>\d{8}T\d{6})_(?P<call_id>.+)$",
            )
            .unwrap(),
            ..DiscoverOptions::default()
        };
        let discovery = discover(folder.path(), &options).unwrap();
        let ids: Vec<&str> = discovery
            .calls
            .iter()
            .map(|call| call.call_id.as_str())
            .collect();
        assert_eq!(ids, vec!["0001", "sub/0002"]);
        assert_eq!(discovery.calls[0].agent_id, "agent7");
        assert_eq!(
            discovery.calls[1].started_at.unwrap().to_rfc3339(),
            "2026-11-21T10:00:00+00:00"
        );
        // The folder named like a recording is not silently ignored: here its name does not
        // fit the pattern; with the default pattern it becomes a call that fails to read.
        assert_eq!(discovery.problems.len(), 1);
        assert_eq!(discovery.problems[0].kind, "name_pattern");
        assert!(discovery.problems[0].path.ends_with("weird.wav"));
        let discovery = discover(folder.path(), &DiscoverOptions::default()).unwrap();
        assert!(discovery.calls.iter().any(|call| call.call_id == "weird"));
    }

    #[test]
    fn language_codes_are_two_letters_whisper_knows() {
        assert_eq!(language_code("ES").unwrap(), "es");
        assert_eq!(language_code(" fa ").unwrap(), "fa");
        // Whisper itself takes "english"; the rulebooks would not, and every rule would be
        // silently off.
        let error = language_code("english").unwrap_err();
        assert!(error.contains("not an ISO 639-1 code"), "{error}");
        let error = language_code("xx").unwrap_err();
        assert!(error.contains("not one Whisper knows"), "{error}");
        let folder = tempfile::tempdir().unwrap();
        let manifest = folder.path().join("manifest.csv");
        write(
            &manifest,
            b"path,language
a.wav,english
b.wav,PL
",
        );
        let discovery = discover(&manifest, &DiscoverOptions::default()).unwrap();
        assert_eq!(discovery.calls.len(), 1);
        assert_eq!(discovery.calls[0].language.as_deref(), Some("pl"));
        assert_eq!(discovery.problems[0].kind, "bad_manifest_row");
        assert!(discovery.problems[0].message.contains("\"english\""));
        let options = DiscoverOptions {
            name_pattern: Regex::new(r"^(?P<call_id>[^_]+)_(?P<language>[a-z]+)$").unwrap(),
            ..DiscoverOptions::default()
        };
        write(&folder.path().join("names/c1_english.wav"), b"x");
        write(&folder.path().join("names/c2_ru.wav"), b"x");
        let discovery = discover(&folder.path().join("names"), &options).unwrap();
        assert_eq!(discovery.calls.len(), 1);
        assert_eq!(discovery.calls[0].language.as_deref(), Some("ru"));
        assert_eq!(discovery.problems[0].kind, "bad_metadata");
    }

    #[cfg(unix)]
    #[test]
    fn linked_folders_are_walked_once_and_real_folders_first() {
        let folder = tempfile::tempdir().unwrap();
        write(&folder.path().join("2026-11-21/0001.wav"), b"x");
        write(&folder.path().join("elsewhere/0009.wav"), b"x");
        let batch = folder.path().join("batch");
        fs_err::create_dir_all(batch.join("2026-11-21")).unwrap();
        fs_err::rename(
            folder.path().join("2026-11-21/0001.wav"),
            batch.join("2026-11-21/0001.wav"),
        )
        .unwrap();
        // A link to a folder of the batch, one to the batch itself, one to a folder outside.
        std::os::unix::fs::symlink(batch.join("2026-11-21"), batch.join("latest")).unwrap();
        std::os::unix::fs::symlink(".", batch.join("loop")).unwrap();
        std::os::unix::fs::symlink(folder.path().join("elsewhere"), batch.join("more")).unwrap();
        let discovery = discover(&batch, &DiscoverOptions::default()).unwrap();
        let ids: Vec<&str> = discovery
            .calls
            .iter()
            .map(|call| call.call_id.as_str())
            .collect();
        assert_eq!(ids, vec!["2026-11-21/0001", "more/0009"]);
        assert!(discovery.problems.is_empty(), "{:?}", discovery.problems);
    }

    #[cfg(unix)]
    #[test]
    fn a_linked_manifest_reads_paths_from_where_it_was_named() {
        let folder = tempfile::tempdir().unwrap();
        write(
            &folder.path().join("exports/m.csv"),
            b"path\nrec/0001.wav\n",
        );
        write(&folder.path().join("batch/rec/0001.wav"), b"x");
        let link = folder.path().join("batch/manifest.csv");
        std::os::unix::fs::symlink(folder.path().join("exports/m.csv"), &link).unwrap();
        let discovery = discover(&link, &DiscoverOptions::default()).unwrap();
        assert_eq!(discovery.calls.len(), 1);
        let real = std::fs::canonicalize(folder.path().join("batch/rec/0001.wav")).unwrap();
        assert_eq!(discovery.calls[0].path, real);
    }

    #[test]
    fn an_unreadable_subfolder_is_a_problem_not_the_end_of_the_batch() {
        let folder = tempfile::tempdir().unwrap();
        write(&folder.path().join("a/0001.wav"), b"x");
        write(&folder.path().join("locked/0002.wav"), b"x");
        // Permissions cannot stop root (who runs CI), so the listing fails on purpose.
        let list = |directory: &Path| -> std::io::Result<Vec<PathBuf>> {
            if directory.ends_with("locked") {
                return Err(std::io::ErrorKind::PermissionDenied.into());
            }
            Ok(fs_err::read_dir(directory)?
                .map(|entry| entry.unwrap().path())
                .collect())
        };
        let options = DiscoverOptions::default();
        let discovery = scan_folder_with(folder.path(), &options, &list).unwrap();
        assert_eq!(discovery.calls.len(), 1);
        assert_eq!(discovery.calls[0].call_id, "a/0001");
        assert_eq!(discovery.problems.len(), 1);
        let problem = &discovery.problems[0];
        assert_eq!(problem.kind, "unreadable_folder");
        assert_eq!(problem.call_id, "locked/");
        assert!(
            problem.message.contains("locked: permission denied"),
            "{}",
            problem.message
        );
        // The top folder itself must be readable: nothing could run.
        let failing = |_: &Path| -> std::io::Result<Vec<PathBuf>> {
            Err(std::io::ErrorKind::PermissionDenied.into())
        };
        assert!(matches!(
            scan_folder_with(folder.path(), &options, &failing),
            Err(DiscoverError::Io { .. })
        ));
    }

    #[test]
    fn duplicate_call_ids_keep_the_first() {
        let folder = tempfile::tempdir().unwrap();
        let manifest = folder.path().join("manifest.csv");
        write(&manifest, b"call_id,path\nsame,a.wav\nsame,b.wav\n");
        let discovery = discover(&manifest, &DiscoverOptions::default()).unwrap();
        assert_eq!(discovery.calls.len(), 1);
        assert_eq!(discovery.calls[0].path, folder.path().join("a.wav"));
        assert_eq!(discovery.problems[0].kind, "duplicate_call_id");
    }

    #[test]
    fn timestamps_in_common_forms() {
        for text in [
            "2026-11-20T09:30:00Z",
            "2026-11-20 09:30:00",
            "20261120T093000",
            "20261120_093000",
        ] {
            assert_eq!(
                parse_timestamp(text).unwrap().to_rfc3339(),
                "2026-11-20T09:30:00+00:00",
                "{text}"
            );
        }
        assert!(parse_timestamp("20.11.2026").is_err());
        // Offsets in the basic format and hour-only offsets are ISO 8601 too.
        for text in [
            "20261120T103000+0100",
            "2026-11-20T10:30:00+01",
            "2026-11-20 10:30:00.000+01:00",
        ] {
            assert_eq!(
                parse_timestamp(text).unwrap().to_rfc3339(),
                "2026-11-20T09:30:00+00:00",
                "{text}"
            );
        }
    }

    #[test]
    fn times_without_an_offset_are_the_sites_local_times() {
        let new_york: chrono_tz::Tz = "America/New_York".parse().unwrap();
        let utc = |text: &str| parse_timestamp_in(text, new_york).unwrap().to_rfc3339();
        assert_eq!(utc("2026-11-20T22:30:00"), "2026-11-21T03:30:00+00:00");
        assert_eq!(utc("20261120"), "2026-11-20T05:00:00+00:00");
        // An offset given wins over the site's zone.
        assert_eq!(utc("2026-11-20T22:30:00Z"), "2026-11-20T22:30:00+00:00");
        // 02:30 did not exist on 2026-03-08 (clocks went 02:00 → 03:00): read with the
        // offset before the change (−5 h), which is 03:30 of the new time.
        assert_eq!(utc("2026-03-08T02:30:00"), "2026-03-08T07:30:00+00:00");
        // 01:30 happened twice on 2026-11-01: the first time (still daylight time, −4 h).
        assert_eq!(utc("2026-11-01T01:30:00"), "2026-11-01T05:30:00+00:00");
    }
}
