//! The Parquet dataset under OUT: `calls`, `segments`, `findings`, `agents`, `failures`, and
//! `audits` (auditors' verdicts, written by `callqa audit import`, absent until the first).
//!
//! Layout: `OUT/<table>/call_date=YYYY-MM-DD/part-K-of-N.parquet` (Hive-style partitions, so
//! DuckDB, polars and pyarrow read each table as one dataset; `K-of-N` is the shard).
//!
//! Promises:
//! - Every file appears atomically (written to a temporary name, then renamed).
//! - A table is always written whole from the run state, so re-running never duplicates
//!   rows; files of this shard that no longer have rows are removed.
//! - Every table has at least one file, with its full schema, even when it has no rows:
//!   `read_parquet('OUT/failures/*/*.parquet')` works on a clean night too.
//! - Columns are snake_case with fixed types; times are UTC; text is already redacted by the
//!   caller (this module writes what it is given and never sees raw transcripts).
//! - Reading back ([`read_tables`], [`read_calls`] …) takes every shard's part files, so the
//!   report and the audit sample see the whole dataset.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;

use crate::store::{StoreError, write_atomically};

/// Which part of a batch this process handles: calls whose id hashes to `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `K/N` with 0 ≤ K < N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| format!("shard {text:?} is not K/N (e.g. 0/4)"))?;
        let index: u32 = index
            .trim()
            .parse()
            .map_err(|_| format!("shard index {index:?} is not a number"))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("shard count {count:?} is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: need 0 ≤ K < N"));
        }
        Ok(Shard { index, count })
    }

    /// Whether a call belongs to this shard. Uses a stable hash of the call id (not Rust's
    /// randomised hasher), so every machine splits a batch the same way. The failure of a
    /// file that clashed with a call's id (`id#path`: a duplicate or reused id) goes with
    /// that call, to the shard that found it.
    pub fn contains(&self, call_id: &str) -> bool {
        if self.count == 1 {
            return true;
        }
        let call_id = call_id.split_once('#').map_or(call_id, |(id, _)| id);
        let digest = crate::store::sha256_hex(call_id);
        let prefix = u64::from_str_radix(&digest[..16], 16).unwrap_or(0);
        prefix % u64::from(self.count) == u64::from(self.index)
    }

    pub fn file_name(&self) -> String {
        format!("part-{}-of-{}.parquet", self.index, self.count)
    }
}

/// The `calls` columns that come from [`crate::types::Measurements::metrics`], in order.
/// Absent metrics are nulls.
pub const METRIC_COLUMNS: &[&str] = crate::types::METRIC_NAMES;

/// Rule categories, in the order of the `agents` table's `failures_<category>` columns.
pub const CATEGORIES: &[&str] = &[
    "greeting",
    "closing",
    "courtesy",
    "forbidden_language",
    "disclosure",
    "personal_data",
    "tone",
    "silence",
    "overtalk",
    "speech_rate",
    "answer_delay",
];

#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    pub call_id: String,
    pub agent_id: String,
    pub call_date: NaiveDate,
    pub started_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    pub language: Option<String>,
    pub layout: Option<String>,
    pub source_sample_rate: Option<u32>,
    /// `scored`, `not_scorable` or `failed`.
    pub status: String,
    pub status_reason: Option<String>,
    /// What the decoder repaired in the file (sentences joined by "; "), e.g. a recording cut
    /// short; null for a clean file.
    pub decode_notes: Option<String>,
    pub score: Option<f64>,
    pub flagged: bool,
    pub auto_fail: bool,
    pub n_findings: u32,
    pub n_segments: u32,
    pub n_dropped_segments: u32,
    pub n_low_confidence_segments: u32,
    pub agent_tone: Option<String>,
    pub metrics: BTreeMap<String, f64>,
    pub audio_sha256: Option<String>,
    pub model_id: Option<String>,
    pub rules_hash: String,
    pub version: String,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRow {
    pub call_id: String,
    pub agent_id: String,
    pub call_date: NaiveDate,
    pub segment_index: u32,
    pub speaker: String,
    pub channel: u16,
    pub start_ms: u64,
    pub end_ms: u64,
    /// Redacted text.
    pub text: String,
    pub confidence: f32,
    pub quality: String,
    pub sentiment: Option<f32>,
    pub arousal: Option<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FindingRow {
    pub call_id: String,
    pub agent_id: String,
    pub call_date: NaiveDate,
    pub rule_id: String,
    pub category: String,
    pub severity: String,
    pub points: f64,
    pub speaker: String,
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
    /// Redacted evidence.
    pub evidence: String,
    pub description: String,
    /// The finding lowered its call's score and counts as a failure of the agent: the call was
    /// scored (not `not_scorable`) and the finding counts against the agent (not `info`, not
    /// the customer's own words). A rule that fails several times in one call costs its
    /// points once and is one failure in `agents.failures_<category>`: that column counts
    /// the distinct `(call_id, rule_id)` of counted findings, not the counted rows.
    pub counted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentRow {
    pub agent_id: String,
    pub call_date: NaiveDate,
    pub calls: u32,
    pub scorable: u32,
    pub mean_score: Option<f64>,
    pub median_score: Option<f64>,
    pub p10_score: Option<f64>,
    pub pass_rate: Option<f64>,
    pub flagged: u32,
    pub failures_by_category: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailureRow {
    pub call_id: String,
    pub agent_id: String,
    pub call_date: NaiveDate,
    pub path: String,
    pub stage: String,
    pub error: String,
    pub message: String,
}

#[derive(Debug, Default, Clone)]
pub struct Tables {
    pub calls: Vec<CallRow>,
    pub segments: Vec<SegmentRow>,
    pub findings: Vec<FindingRow>,
    pub agents: Vec<AgentRow>,
    pub failures: Vec<FailureRow>,
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot build table {table}: {source}")]
    Polars {
        table: &'static str,
        #[source]
        source: PolarsError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn utc_datetime() -> DataType {
    DataType::Datetime(TimeUnit::Milliseconds, Some(PlSmallStr::from_static("UTC")))
}

/// One column of a frame under construction; keeps the `Column::new` noise in one place.
fn column<T, Values>(name: &str, values: Values) -> Column
where
    Series: NamedFrom<Values, T>,
    T: ?Sized,
{
    Column::new(PlSmallStr::from(name), values)
}

fn frame(table: &'static str, columns: Vec<Column>) -> Result<DataFrame, DatasetError> {
    DataFrame::new(columns).map_err(|source| DatasetError::Polars { table, source })
}

fn calls_frame(rows: &[&CallRow]) -> Result<DataFrame, DatasetError> {
    let polars_error = |source| DatasetError::Polars {
        table: "calls",
        source,
    };
    let started_at = column(
        "started_at",
        rows.iter()
            .map(|row| row.started_at.map(|time| time.timestamp_millis()))
            .collect::<Vec<_>>(),
    )
    .cast(&utc_datetime())
    .map_err(polars_error)?;
    let mut columns = vec![
        column(
            "call_id",
            rows.iter()
                .map(|row| row.call_id.as_str())
                .collect::<Vec<_>>(),
        ),
        column(
            "agent_id",
            rows.iter()
                .map(|row| row.agent_id.as_str())
                .collect::<Vec<_>>(),
        ),
        started_at,
        column(
            "duration_ms",
            rows.iter().map(|row| row.duration_ms).collect::<Vec<_>>(),
        ),
        column(
            "language",
            rows.iter()
                .map(|row| row.language.as_deref())
                .collect::<Vec<_>>(),
        ),
        column(
            "layout",
            rows.iter()
                .map(|row| row.layout.as_deref())
                .collect::<Vec<_>>(),
        ),
        column(
            "source_sample_rate",
            rows.iter()
                .map(|row| row.source_sample_rate)
                .collect::<Vec<_>>(),
        ),
        column(
            "status",
            rows.iter()
                .map(|row| row.status.as_str())
                .collect::<Vec<_>>(),
        ),
        column(
            "status_reason",
            rows.iter()
                .map(|row| row.status_reason.as_deref())
                .collect::<Vec<_>>(),
        ),
        column(
            "decode_notes",
            rows.iter()
                .map(|row| row.decode_notes.as_deref())
                .collect::<Vec<_>>(),
        ),
        column(
            "score",
            rows.iter().map(|row| row.score).collect::<Vec<_>>(),
        ),
        column(
            "flagged",
            rows.iter().map(|row| row.flagged).collect::<Vec<_>>(),
        ),
        column(
            "auto_fail",
            rows.iter().map(|row| row.auto_fail).collect::<Vec<_>>(),
        ),
        column(
            "n_findings",
            rows.iter().map(|row| row.n_findings).collect::<Vec<_>>(),
        ),
        column(
            "n_segments",
            rows.iter().map(|row| row.n_segments).collect::<Vec<_>>(),
        ),
        column(
            "n_dropped_segments",
            rows.iter()
                .map(|row| row.n_dropped_segments)
                .collect::<Vec<_>>(),
        ),
        column(
            "n_low_confidence_segments",
            rows.iter()
                .map(|row| row.n_low_confidence_segments)
                .collect::<Vec<_>>(),
        ),
        column(
            "agent_tone",
            rows.iter()
                .map(|row| row.agent_tone.as_deref())
                .collect::<Vec<_>>(),
        ),
    ];
    for metric in METRIC_COLUMNS {
        columns.push(column(
            metric,
            rows.iter()
                .map(|row| row.metrics.get(*metric).copied())
                .collect::<Vec<_>>(),
        ));
    }
    columns.extend([
        column(
            "audio_sha256",
            rows.iter()
                .map(|row| row.audio_sha256.as_deref())
                .collect::<Vec<_>>(),
        ),
        column(
            "model_id",
            rows.iter()
                .map(|row| row.model_id.as_deref())
                .collect::<Vec<_>>(),
        ),
        column(
            "rules_hash",
            rows.iter()
                .map(|row| row.rules_hash.as_str())
                .collect::<Vec<_>>(),
        ),
        column(
            "version",
            rows.iter()
                .map(|row| row.version.as_str())
                .collect::<Vec<_>>(),
        ),
        column(
            "path",
            rows.iter().map(|row| row.path.as_str()).collect::<Vec<_>>(),
        ),
    ]);
    frame("calls", columns)
}

fn segments_frame(rows: &[&SegmentRow]) -> Result<DataFrame, DatasetError> {
    frame(
        "segments",
        vec![
            column(
                "call_id",
                rows.iter()
                    .map(|row| row.call_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "agent_id",
                rows.iter()
                    .map(|row| row.agent_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "segment_index",
                rows.iter().map(|row| row.segment_index).collect::<Vec<_>>(),
            ),
            column(
                "speaker",
                rows.iter()
                    .map(|row| row.speaker.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "channel",
                rows.iter()
                    .map(|row| u32::from(row.channel))
                    .collect::<Vec<_>>(),
            ),
            column(
                "start_ms",
                rows.iter().map(|row| row.start_ms).collect::<Vec<_>>(),
            ),
            column(
                "end_ms",
                rows.iter().map(|row| row.end_ms).collect::<Vec<_>>(),
            ),
            column(
                "text",
                rows.iter().map(|row| row.text.as_str()).collect::<Vec<_>>(),
            ),
            column(
                "confidence",
                rows.iter().map(|row| row.confidence).collect::<Vec<_>>(),
            ),
            column(
                "quality",
                rows.iter()
                    .map(|row| row.quality.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "sentiment",
                rows.iter().map(|row| row.sentiment).collect::<Vec<_>>(),
            ),
            column(
                "arousal",
                rows.iter().map(|row| row.arousal).collect::<Vec<_>>(),
            ),
        ],
    )
}

fn findings_frame(rows: &[&FindingRow]) -> Result<DataFrame, DatasetError> {
    frame(
        "findings",
        vec![
            column(
                "call_id",
                rows.iter()
                    .map(|row| row.call_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "agent_id",
                rows.iter()
                    .map(|row| row.agent_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "rule_id",
                rows.iter()
                    .map(|row| row.rule_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "category",
                rows.iter()
                    .map(|row| row.category.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "severity",
                rows.iter()
                    .map(|row| row.severity.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "points",
                rows.iter().map(|row| row.points).collect::<Vec<_>>(),
            ),
            column(
                "speaker",
                rows.iter()
                    .map(|row| row.speaker.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "start_ms",
                rows.iter().map(|row| row.start_ms).collect::<Vec<_>>(),
            ),
            column(
                "end_ms",
                rows.iter().map(|row| row.end_ms).collect::<Vec<_>>(),
            ),
            column(
                "evidence",
                rows.iter()
                    .map(|row| row.evidence.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "description",
                rows.iter()
                    .map(|row| row.description.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "counted",
                rows.iter().map(|row| row.counted).collect::<Vec<_>>(),
            ),
        ],
    )
}

fn agents_frame(rows: &[&AgentRow]) -> Result<DataFrame, DatasetError> {
    let mut columns = vec![
        column(
            "agent_id",
            rows.iter()
                .map(|row| row.agent_id.as_str())
                .collect::<Vec<_>>(),
        ),
        column(
            "calls",
            rows.iter().map(|row| row.calls).collect::<Vec<_>>(),
        ),
        column(
            "scorable",
            rows.iter().map(|row| row.scorable).collect::<Vec<_>>(),
        ),
        column(
            "mean_score",
            rows.iter().map(|row| row.mean_score).collect::<Vec<_>>(),
        ),
        column(
            "median_score",
            rows.iter().map(|row| row.median_score).collect::<Vec<_>>(),
        ),
        column(
            "p10_score",
            rows.iter().map(|row| row.p10_score).collect::<Vec<_>>(),
        ),
        column(
            "pass_rate",
            rows.iter().map(|row| row.pass_rate).collect::<Vec<_>>(),
        ),
        column(
            "flagged",
            rows.iter().map(|row| row.flagged).collect::<Vec<_>>(),
        ),
    ];
    for category in CATEGORIES {
        columns.push(column(
            &format!("failures_{category}"),
            rows.iter()
                .map(|row| {
                    row.failures_by_category
                        .get(*category)
                        .copied()
                        .unwrap_or(0)
                })
                .collect::<Vec<_>>(),
        ));
    }
    frame("agents", columns)
}

fn failures_frame(rows: &[&FailureRow]) -> Result<DataFrame, DatasetError> {
    frame(
        "failures",
        vec![
            column(
                "call_id",
                rows.iter()
                    .map(|row| row.call_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "agent_id",
                rows.iter()
                    .map(|row| row.agent_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "path",
                rows.iter().map(|row| row.path.as_str()).collect::<Vec<_>>(),
            ),
            column(
                "stage",
                rows.iter()
                    .map(|row| row.stage.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "error",
                rows.iter()
                    .map(|row| row.error.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "message",
                rows.iter()
                    .map(|row| row.message.as_str())
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

/// Files a write of the tables wrote and removed, relative to the dataset folder.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WrittenFiles {
    pub files: Vec<PathBuf>,
    pub removed: Vec<PathBuf>,
}

/// Writes whole tables of this shard the way a run writes its days ([`write_day`],
/// [`write_agents_day`], [`prune_days`]): every call date with rows, then removes this shard's
/// parts of dates without any. `fallback_date` names the partition of an empty table's
/// columns. For tests of the partitioning; runs write only the days that changed
/// (`crate::days`).
#[cfg(test)]
pub fn write_tables(
    out: &Path,
    tables: &Tables,
    shard: Shard,
    fallback_date: NaiveDate,
) -> Result<WrittenFiles, DatasetError> {
    let mut days: BTreeMap<NaiveDate, Tables> = BTreeMap::new();
    for row in &tables.calls {
        days.entry(row.call_date)
            .or_default()
            .calls
            .push(row.clone());
    }
    for row in &tables.segments {
        days.entry(row.call_date)
            .or_default()
            .segments
            .push(row.clone());
    }
    for row in &tables.findings {
        days.entry(row.call_date)
            .or_default()
            .findings
            .push(row.clone());
    }
    for row in &tables.failures {
        days.entry(row.call_date)
            .or_default()
            .failures
            .push(row.clone());
    }
    let mut agent_days: BTreeMap<NaiveDate, Vec<AgentRow>> = BTreeMap::new();
    for row in &tables.agents {
        agent_days
            .entry(row.call_date)
            .or_default()
            .push(row.clone());
    }
    let mut written = WrittenFiles::default();
    for (date, day) in &days {
        write_day(out, day, *date, shard, &mut written)?;
    }
    for (date, rows) in &agent_days {
        write_agents_day(out, rows, *date, &mut written)?;
    }
    prune_days(
        out,
        shard,
        &days.keys().copied().collect(),
        &agent_days.keys().copied().collect(),
        fallback_date,
        &mut written,
    )?;
    Ok(written)
}

#[allow(clippy::too_many_arguments)]
fn write_table<Row>(
    out: &Path,
    table: &'static str,
    rows: &[Row],
    date_of: impl Fn(&Row) -> NaiveDate,
    build: impl Fn(&[&Row]) -> Result<DataFrame, DatasetError>,
    shard: Shard,
    fallback_date: NaiveDate,
    written: &mut WrittenFiles,
) -> Result<(), DatasetError> {
    let mut by_date: BTreeMap<NaiveDate, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        by_date.entry(date_of(row)).or_default().push(row);
    }
    if by_date.is_empty() {
        by_date.insert(fallback_date, Vec::new());
    }
    let table_folder = out.join(table);
    let mut kept: BTreeSet<PathBuf> = BTreeSet::new();
    for (date, date_rows) in &by_date {
        let path = write_part(out, table, date_rows, &build, *date, shard, written)?;
        kept.insert(path);
    }
    remove_stale_parts(out, &table_folder, shard, &kept, written)
}

fn refs<Row>(rows: &[Row]) -> Vec<&Row> {
    rows.iter().collect()
}

/// The part file of `shard` in `table`'s partition of `date`.
fn part_path(out: &Path, table: &str, date: NaiveDate, shard: Shard) -> PathBuf {
    out.join(table)
        .join(format!("call_date={}", date.format("%Y-%m-%d")))
        .join(shard.file_name())
}

/// Writes `rows` as `shard`'s part of `table` on `date` (an empty part when there are none:
/// the table's schema) and returns its path.
fn write_part<Row>(
    out: &Path,
    table: &'static str,
    rows: &[&Row],
    build: impl Fn(&[&Row]) -> Result<DataFrame, DatasetError>,
    date: NaiveDate,
    shard: Shard,
    written: &mut WrittenFiles,
) -> Result<PathBuf, DatasetError> {
    let mut data_frame = build(rows)?;
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .finish(&mut data_frame)
        .map_err(|source| DatasetError::Polars { table, source })?;
    let path = part_path(out, table, date, shard);
    write_atomically(&path, &bytes, false)?;
    written
        .files
        .push(path.strip_prefix(out).unwrap_or(&path).to_path_buf());
    Ok(path)
}

/// Writes `rows` as `shard`'s part of `table` on `date`, or, when there are none, removes the
/// part an earlier run wrote there.
fn replace_part<Row>(
    out: &Path,
    table: &'static str,
    rows: &[&Row],
    build: impl Fn(&[&Row]) -> Result<DataFrame, DatasetError>,
    date: NaiveDate,
    shard: Shard,
    written: &mut WrittenFiles,
) -> Result<(), DatasetError> {
    if rows.is_empty() {
        remove_part(out, &part_path(out, table, date, shard), written)
    } else {
        write_part(out, table, rows, build, date, shard, written).map(|_| ())
    }
}

fn remove_part(out: &Path, path: &Path, written: &mut WrittenFiles) -> Result<(), DatasetError> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            written
                .removed
                .push(path.strip_prefix(out).unwrap_or(path).to_path_buf());
            if let Some(partition) = path.parent() {
                // Empty now, or another shard's files are still there: either is fine.
                let _ = std::fs::remove_dir(partition);
            }
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(DatasetError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Replaces `shard`'s parts of the per-call tables (all but `agents`) on `date` with
/// `tables`, whose rows are all of that date: the rows of one day of one shard, written
/// without touching any other day.
pub fn write_day(
    out: &Path,
    tables: &Tables,
    date: NaiveDate,
    shard: Shard,
    written: &mut WrittenFiles,
) -> Result<(), DatasetError> {
    replace_part(
        out,
        "calls",
        &refs(&tables.calls),
        calls_frame,
        date,
        shard,
        written,
    )?;
    replace_part(
        out,
        "segments",
        &refs(&tables.segments),
        segments_frame,
        date,
        shard,
        written,
    )?;
    replace_part(
        out,
        "findings",
        &refs(&tables.findings),
        findings_frame,
        date,
        shard,
        written,
    )?;
    replace_part(
        out,
        "failures",
        &refs(&tables.failures),
        failures_frame,
        date,
        shard,
        written,
    )
}

/// Replaces the `agents` rows of `date` (the table is one file per day for the whole dataset,
/// however the batch is split).
pub fn write_agents_day(
    out: &Path,
    rows: &[AgentRow],
    date: NaiveDate,
    written: &mut WrittenFiles,
) -> Result<(), DatasetError> {
    let rows: Vec<&AgentRow> = rows.iter().collect();
    replace_part(
        out,
        "agents",
        &rows,
        agents_frame,
        date,
        Shard::WHOLE,
        written,
    )
}

/// Whether `shard`'s part of `table` on `date` is there.
pub fn part_written(out: &Path, table: &str, date: NaiveDate, shard: Shard) -> bool {
    part_path(out, table, date, shard).is_file()
}

/// A part file of `shard` in `table_folder` that holds no rows, if there is one.
fn empty_part(table_folder: &Path, shard: Shard) -> Option<PathBuf> {
    let partitions = std::fs::read_dir(table_folder).ok()?;
    partitions
        .flatten()
        .map(|partition| partition.path().join(shard.file_name()))
        .find(|path| {
            std::fs::File::open(path)
                .ok()
                .and_then(|file| ParquetReader::new(file).num_rows().ok())
                == Some(0)
        })
}

/// After a run wrote the days that changed: removes `shard`'s parts on days it has no calls
/// any more (`days`), `agents` parts on days no shard has calls (`agent_days`), and parts of
/// another shard count (an earlier run split differently: the days were all written again).
/// A table left without any part gets an empty one on `fallback_date`, so that readers find
/// its columns.
pub fn prune_days(
    out: &Path,
    shard: Shard,
    days: &BTreeSet<NaiveDate>,
    agent_days: &BTreeSet<NaiveDate>,
    fallback_date: NaiveDate,
    written: &mut WrittenFiles,
) -> Result<(), DatasetError> {
    for table in ["calls", "segments", "findings", "agents", "failures"] {
        let (table_shard, live) = if table == "agents" {
            (Shard::WHOLE, agent_days)
        } else {
            (shard, days)
        };
        let table_folder = out.join(table);
        let mut kept: BTreeSet<PathBuf> = live
            .iter()
            .map(|&date| part_path(out, table, date, table_shard))
            .filter(|path| path.is_file())
            .collect();
        if kept.is_empty() {
            // The table has no rows: an empty part written earlier keeps showing its columns.
            kept.extend(empty_part(&table_folder, table_shard));
        }
        remove_stale_parts(out, &table_folder, table_shard, &kept, written)?;
        let has_parts = std::fs::read_dir(&table_folder).is_ok_and(|partitions| {
            partitions.flatten().any(|partition| {
                std::fs::read_dir(partition.path()).is_ok_and(|mut files| {
                    files.any(|file| {
                        file.is_ok_and(|file| {
                            parse_part_name(&file.file_name().to_string_lossy()).is_some()
                        })
                    })
                })
            })
        });
        if !has_parts {
            match table {
                "calls" => write_part::<CallRow>(
                    out,
                    table,
                    &[],
                    calls_frame,
                    fallback_date,
                    table_shard,
                    written,
                ),
                "segments" => write_part::<SegmentRow>(
                    out,
                    table,
                    &[],
                    segments_frame,
                    fallback_date,
                    table_shard,
                    written,
                ),
                "findings" => write_part::<FindingRow>(
                    out,
                    table,
                    &[],
                    findings_frame,
                    fallback_date,
                    table_shard,
                    written,
                ),
                "agents" => write_part::<AgentRow>(
                    out,
                    table,
                    &[],
                    agents_frame,
                    fallback_date,
                    table_shard,
                    written,
                ),
                _ => write_part::<FailureRow>(
                    out,
                    table,
                    &[],
                    failures_frame,
                    fallback_date,
                    table_shard,
                    written,
                ),
            }?;
        }
    }
    Ok(())
}

/// Removes part files of this shard count that were not written now (their partition has no
/// rows any more) and part files of another shard count (an earlier run split differently,
/// whose rows this run's files now hold). Files of other shards with the same count belong
/// to processes that may be running now and are left alone.
fn remove_stale_parts(
    out: &Path,
    table_folder: &Path,
    shard: Shard,
    kept: &BTreeSet<PathBuf>,
    written: &mut WrittenFiles,
) -> Result<(), DatasetError> {
    let Ok(partitions) = std::fs::read_dir(table_folder) else {
        return Ok(());
    };
    for partition in partitions.flatten() {
        let partition_path = partition.path();
        let Ok(files) = std::fs::read_dir(&partition_path) else {
            continue;
        };
        let mut n_left = 0;
        for file in files.flatten() {
            let path = file.path();
            let name = file.file_name().to_string_lossy().into_owned();
            let Some((index, count)) = parse_part_name(&name) else {
                n_left += 1;
                continue;
            };
            let ours = count == shard.count && index == shard.index;
            let stale = (ours && !kept.contains(&path)) || count != shard.count;
            if stale {
                match std::fs::remove_file(&path) {
                    Ok(()) => written
                        .removed
                        .push(path.strip_prefix(out).unwrap_or(&path).to_path_buf()),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => return Err(DatasetError::Io { path, source }),
                }
            } else {
                n_left += 1;
            }
        }
        if n_left == 0 {
            // Another shard may have just removed the same folder: that is fine.
            let _ = std::fs::remove_dir(&partition_path);
        }
    }
    Ok(())
}

/// The shard counts of the part files in the per-call tables (`agents` is written whole).
pub fn part_counts(out: &Path) -> BTreeSet<u32> {
    let mut counts = BTreeSet::new();
    for table in ["calls", "segments", "findings", "failures"] {
        let Ok(partitions) = std::fs::read_dir(out.join(table)) else {
            continue;
        };
        for partition in partitions.flatten() {
            let Ok(files) = std::fs::read_dir(partition.path()) else {
                continue;
            };
            counts.extend(files.flatten().filter_map(|file| {
                parse_part_name(&file.file_name().to_string_lossy()).map(|(_, count)| count)
            }));
        }
    }
    counts
}

fn parse_part_name(name: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix("part-")?.strip_suffix(".parquet")?;
    let (index, count) = rest.split_once("-of-")?;
    Some((index.parse().ok()?, count.parse().ok()?))
}

// ---------------------------------------------------------------------------------------------
// The `audits` table: auditors' verdicts on sampled findings (see `crate::audit`).

/// One row of an audit sheet as imported: a sampled finding (or a control call) and the
/// auditor's verdict on it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    /// The sample the sheet came from (its folder name); re-importing a sheet replaces the
    /// rows of its sample.
    pub sample_id: String,
    /// Stable id of the audited item: a finding id, or `control-…` for a control call.
    pub item_id: String,
    /// `finding` (a sampled finding of the rules) or `control` (an unflagged call).
    pub kind: String,
    pub call_id: String,
    pub agent_id: String,
    pub call_date: NaiveDate,
    pub rule_id: Option<String>,
    pub category: Option<String>,
    pub severity: Option<String>,
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
    /// `correct`, `incorrect`, or none when the auditor left it empty. For a control call,
    /// `correct` means it was rightly not flagged.
    pub verdict: Option<String>,
    pub note: Option<String>,
    pub imported_at: DateTime<Utc>,
}

fn audits_frame(rows: &[&AuditRow]) -> Result<DataFrame, DatasetError> {
    let imported_at = column(
        "imported_at",
        rows.iter()
            .map(|row| row.imported_at.timestamp_millis())
            .collect::<Vec<_>>(),
    )
    .cast(&utc_datetime())
    .map_err(|source| DatasetError::Polars {
        table: "audits",
        source,
    })?;
    frame(
        "audits",
        vec![
            column(
                "sample_id",
                rows.iter()
                    .map(|row| row.sample_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "item_id",
                rows.iter()
                    .map(|row| row.item_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "kind",
                rows.iter().map(|row| row.kind.as_str()).collect::<Vec<_>>(),
            ),
            column(
                "call_id",
                rows.iter()
                    .map(|row| row.call_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "agent_id",
                rows.iter()
                    .map(|row| row.agent_id.as_str())
                    .collect::<Vec<_>>(),
            ),
            column(
                "rule_id",
                rows.iter()
                    .map(|row| row.rule_id.as_deref())
                    .collect::<Vec<_>>(),
            ),
            column(
                "category",
                rows.iter()
                    .map(|row| row.category.as_deref())
                    .collect::<Vec<_>>(),
            ),
            column(
                "severity",
                rows.iter()
                    .map(|row| row.severity.as_deref())
                    .collect::<Vec<_>>(),
            ),
            column(
                "start_ms",
                rows.iter().map(|row| row.start_ms).collect::<Vec<_>>(),
            ),
            column(
                "end_ms",
                rows.iter().map(|row| row.end_ms).collect::<Vec<_>>(),
            ),
            column(
                "verdict",
                rows.iter()
                    .map(|row| row.verdict.as_deref())
                    .collect::<Vec<_>>(),
            ),
            column(
                "note",
                rows.iter()
                    .map(|row| row.note.as_deref())
                    .collect::<Vec<_>>(),
            ),
            imported_at,
        ],
    )
}

/// Writes the whole `audits` table (one file per call date, not sharded: imports are rare and
/// run one at a time) and removes its partitions that no longer have rows.
pub fn write_audits(
    out: &Path,
    rows: &[AuditRow],
    fallback_date: NaiveDate,
) -> Result<WrittenFiles, DatasetError> {
    let mut written = WrittenFiles::default();
    write_table(
        out,
        "audits",
        rows,
        |row| row.call_date,
        audits_frame,
        Shard::WHOLE,
        fallback_date,
        &mut written,
    )?;
    Ok(written)
}

// ---------------------------------------------------------------------------------------------
// Reading the dataset back: what the report and the audit sampler work from. Every shard's
// part files are read, so a report made after a sharded run covers the whole batch.

/// The part files of a table, by call date (partitions in date order, files in name order).
fn table_partitions(
    out: &Path,
    table: &str,
) -> Result<Vec<(NaiveDate, Vec<PathBuf>)>, DatasetError> {
    let folder = out.join(table);
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(DatasetError::Io {
                path: folder,
                source,
            });
        }
    };
    let mut partitions = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(date) = name
            .strip_prefix("call_date=")
            .and_then(|date| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
        else {
            continue;
        };
        let Ok(files) = std::fs::read_dir(entry.path()) else {
            continue;
        };
        let mut parts: Vec<PathBuf> = files
            .flatten()
            .map(|file| file.path())
            .filter(|path| {
                path.file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| parse_part_name(name).is_some())
            })
            .collect();
        parts.sort();
        partitions.push((date, parts));
    }
    partitions.sort();
    Ok(partitions)
}

/// Reads the rows of every part file of `table` whose call date passes `keep`. A file that
/// disappears while being listed (a shard just removed a stale part) is skipped.
fn read_rows<Row>(
    out: &Path,
    table: &'static str,
    keep: &dyn Fn(NaiveDate) -> bool,
    parse: fn(&DataFrame, NaiveDate) -> PolarsResult<Vec<Row>>,
) -> Result<Vec<Row>, DatasetError> {
    let mut rows = Vec::new();
    for (date, files) in table_partitions(out, table)? {
        if !keep(date) {
            continue;
        }
        for path in files {
            let file = match std::fs::File::open(&path) {
                Ok(file) => file,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(DatasetError::Io { path, source }),
            };
            let data_frame = ParquetReader::new(file)
                .finish()
                .and_then(|data_frame| parse(&data_frame, date))
                .map_err(|source| DatasetError::Polars { table, source })?;
            rows.extend(data_frame);
        }
    }
    Ok(rows)
}

/// Typed access to the cells of a frame read back. A column missing from an older file reads
/// as nulls, so a dataset written by an earlier version stays readable.
struct Cells<'a>(&'a DataFrame);

impl Cells<'_> {
    fn cast(&self, name: &str, dtype: &DataType) -> PolarsResult<Option<Column>> {
        match self.0.column(name) {
            Ok(column) => column.cast(dtype).map(Some),
            Err(_) => Ok(None),
        }
    }

    fn strings(&self, name: &str) -> PolarsResult<Vec<Option<String>>> {
        Ok(match self.cast(name, &DataType::String)? {
            Some(column) => column
                .str()?
                .into_iter()
                .map(|value| value.map(str::to_string))
                .collect(),
            None => vec![None; self.0.height()],
        })
    }

    fn texts(&self, name: &str) -> PolarsResult<Vec<String>> {
        Ok(self
            .strings(name)?
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect())
    }

    fn u64s(&self, name: &str) -> PolarsResult<Vec<Option<u64>>> {
        Ok(match self.cast(name, &DataType::UInt64)? {
            Some(column) => column.u64()?.into_iter().collect(),
            None => vec![None; self.0.height()],
        })
    }

    fn u32s(&self, name: &str) -> PolarsResult<Vec<Option<u32>>> {
        Ok(match self.cast(name, &DataType::UInt32)? {
            Some(column) => column.u32()?.into_iter().collect(),
            None => vec![None; self.0.height()],
        })
    }

    fn f64s(&self, name: &str) -> PolarsResult<Vec<Option<f64>>> {
        Ok(match self.cast(name, &DataType::Float64)? {
            Some(column) => column.f64()?.into_iter().collect(),
            None => vec![None; self.0.height()],
        })
    }

    fn f32s(&self, name: &str) -> PolarsResult<Vec<Option<f32>>> {
        Ok(match self.cast(name, &DataType::Float32)? {
            Some(column) => column.f32()?.into_iter().collect(),
            None => vec![None; self.0.height()],
        })
    }

    fn bools(&self, name: &str) -> PolarsResult<Vec<bool>> {
        Ok(match self.cast(name, &DataType::Boolean)? {
            Some(column) => column
                .bool()?
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect(),
            None => vec![false; self.0.height()],
        })
    }

    /// A UTC timestamp column (milliseconds).
    fn times(&self, name: &str) -> PolarsResult<Vec<Option<DateTime<Utc>>>> {
        let Ok(column) = self.0.column(name) else {
            return Ok(vec![None; self.0.height()]);
        };
        let millis = column.to_physical_repr().cast(&DataType::Int64)?;
        Ok(millis
            .i64()?
            .into_iter()
            .map(|value| value.and_then(DateTime::from_timestamp_millis))
            .collect())
    }
}

fn parse_calls(data_frame: &DataFrame, call_date: NaiveDate) -> PolarsResult<Vec<CallRow>> {
    let cells = Cells(data_frame);
    let call_ids = cells.texts("call_id")?;
    let agent_ids = cells.texts("agent_id")?;
    let started_at = cells.times("started_at")?;
    let durations = cells.u64s("duration_ms")?;
    let languages = cells.strings("language")?;
    let layouts = cells.strings("layout")?;
    let sample_rates = cells.u32s("source_sample_rate")?;
    let statuses = cells.texts("status")?;
    let reasons = cells.strings("status_reason")?;
    // Absent from partitions written before the column existed: read as null.
    let decode_notes = cells.strings("decode_notes")?;
    let scores = cells.f64s("score")?;
    let flagged = cells.bools("flagged")?;
    let auto_fail = cells.bools("auto_fail")?;
    let n_findings = cells.u32s("n_findings")?;
    let n_segments = cells.u32s("n_segments")?;
    let n_dropped = cells.u32s("n_dropped_segments")?;
    let n_low_confidence = cells.u32s("n_low_confidence_segments")?;
    let tones = cells.strings("agent_tone")?;
    let metrics: Vec<(&str, Vec<Option<f64>>)> = METRIC_COLUMNS
        .iter()
        .map(|metric| Ok((*metric, cells.f64s(metric)?)))
        .collect::<PolarsResult<_>>()?;
    let hashes = cells.strings("audio_sha256")?;
    let model_ids = cells.strings("model_id")?;
    let rules_hashes = cells.texts("rules_hash")?;
    let versions = cells.texts("version")?;
    let paths = cells.texts("path")?;
    Ok((0..data_frame.height())
        .map(|index| CallRow {
            call_id: call_ids[index].clone(),
            agent_id: agent_ids[index].clone(),
            call_date,
            started_at: started_at[index],
            duration_ms: durations[index],
            language: languages[index].clone(),
            layout: layouts[index].clone(),
            source_sample_rate: sample_rates[index],
            status: statuses[index].clone(),
            status_reason: reasons[index].clone(),
            decode_notes: decode_notes[index].clone(),
            score: scores[index],
            flagged: flagged[index],
            auto_fail: auto_fail[index],
            n_findings: n_findings[index].unwrap_or(0),
            n_segments: n_segments[index].unwrap_or(0),
            n_dropped_segments: n_dropped[index].unwrap_or(0),
            n_low_confidence_segments: n_low_confidence[index].unwrap_or(0),
            agent_tone: tones[index].clone(),
            metrics: metrics
                .iter()
                .filter_map(|(name, values)| values[index].map(|value| (name.to_string(), value)))
                .collect(),
            audio_sha256: hashes[index].clone(),
            model_id: model_ids[index].clone(),
            rules_hash: rules_hashes[index].clone(),
            version: versions[index].clone(),
            path: paths[index].clone(),
        })
        .collect())
}

fn parse_segments(data_frame: &DataFrame, call_date: NaiveDate) -> PolarsResult<Vec<SegmentRow>> {
    let cells = Cells(data_frame);
    let call_ids = cells.texts("call_id")?;
    let agent_ids = cells.texts("agent_id")?;
    let indices = cells.u32s("segment_index")?;
    let speakers = cells.texts("speaker")?;
    let channels = cells.u32s("channel")?;
    let starts = cells.u64s("start_ms")?;
    let ends = cells.u64s("end_ms")?;
    let texts = cells.texts("text")?;
    let confidences = cells.f32s("confidence")?;
    let qualities = cells.texts("quality")?;
    let sentiments = cells.f32s("sentiment")?;
    let arousals = cells.f32s("arousal")?;
    Ok((0..data_frame.height())
        .map(|index| SegmentRow {
            call_id: call_ids[index].clone(),
            agent_id: agent_ids[index].clone(),
            call_date,
            segment_index: indices[index].unwrap_or(0),
            speaker: speakers[index].clone(),
            channel: channels[index].map_or(0, |channel| channel as u16),
            start_ms: starts[index].unwrap_or(0),
            end_ms: ends[index].unwrap_or(0),
            text: texts[index].clone(),
            confidence: confidences[index].unwrap_or(0.0),
            quality: qualities[index].clone(),
            sentiment: sentiments[index],
            arousal: arousals[index],
        })
        .collect())
}

fn parse_findings(data_frame: &DataFrame, call_date: NaiveDate) -> PolarsResult<Vec<FindingRow>> {
    let cells = Cells(data_frame);
    let call_ids = cells.texts("call_id")?;
    let agent_ids = cells.texts("agent_id")?;
    let rule_ids = cells.texts("rule_id")?;
    let categories = cells.texts("category")?;
    let severities = cells.texts("severity")?;
    let points = cells.f64s("points")?;
    let speakers = cells.texts("speaker")?;
    let starts = cells.u64s("start_ms")?;
    let ends = cells.u64s("end_ms")?;
    let evidence = cells.texts("evidence")?;
    let descriptions = cells.texts("description")?;
    let counted = cells.bools("counted")?;
    Ok((0..data_frame.height())
        .map(|index| FindingRow {
            call_id: call_ids[index].clone(),
            agent_id: agent_ids[index].clone(),
            call_date,
            rule_id: rule_ids[index].clone(),
            category: categories[index].clone(),
            severity: severities[index].clone(),
            points: points[index].unwrap_or(0.0),
            speaker: speakers[index].clone(),
            start_ms: starts[index],
            end_ms: ends[index],
            evidence: evidence[index].clone(),
            description: descriptions[index].clone(),
            counted: counted[index],
        })
        .collect())
}

fn parse_agents(data_frame: &DataFrame, call_date: NaiveDate) -> PolarsResult<Vec<AgentRow>> {
    let cells = Cells(data_frame);
    let agent_ids = cells.texts("agent_id")?;
    let calls = cells.u32s("calls")?;
    let scorable = cells.u32s("scorable")?;
    let means = cells.f64s("mean_score")?;
    let medians = cells.f64s("median_score")?;
    let p10s = cells.f64s("p10_score")?;
    let pass_rates = cells.f64s("pass_rate")?;
    let flagged = cells.u32s("flagged")?;
    let failures: Vec<(&str, Vec<Option<u32>>)> = CATEGORIES
        .iter()
        .map(|category| Ok((*category, cells.u32s(&format!("failures_{category}"))?)))
        .collect::<PolarsResult<_>>()?;
    Ok((0..data_frame.height())
        .map(|index| AgentRow {
            agent_id: agent_ids[index].clone(),
            call_date,
            calls: calls[index].unwrap_or(0),
            scorable: scorable[index].unwrap_or(0),
            mean_score: means[index],
            median_score: medians[index],
            p10_score: p10s[index],
            pass_rate: pass_rates[index],
            flagged: flagged[index].unwrap_or(0),
            failures_by_category: failures
                .iter()
                .filter_map(|(category, counts)| {
                    counts[index]
                        .filter(|count| *count > 0)
                        .map(|count| (category.to_string(), count))
                })
                .collect(),
        })
        .collect())
}

fn parse_failures(data_frame: &DataFrame, call_date: NaiveDate) -> PolarsResult<Vec<FailureRow>> {
    let cells = Cells(data_frame);
    let call_ids = cells.texts("call_id")?;
    let agent_ids = cells.texts("agent_id")?;
    let paths = cells.texts("path")?;
    let stages = cells.texts("stage")?;
    let errors = cells.texts("error")?;
    let messages = cells.texts("message")?;
    Ok((0..data_frame.height())
        .map(|index| FailureRow {
            call_id: call_ids[index].clone(),
            agent_id: agent_ids[index].clone(),
            call_date,
            path: paths[index].clone(),
            stage: stages[index].clone(),
            error: errors[index].clone(),
            message: messages[index].clone(),
        })
        .collect())
}

fn parse_audits(data_frame: &DataFrame, call_date: NaiveDate) -> PolarsResult<Vec<AuditRow>> {
    let cells = Cells(data_frame);
    let sample_ids = cells.texts("sample_id")?;
    let item_ids = cells.texts("item_id")?;
    let kinds = cells.texts("kind")?;
    let call_ids = cells.texts("call_id")?;
    let agent_ids = cells.texts("agent_id")?;
    let rule_ids = cells.strings("rule_id")?;
    let categories = cells.strings("category")?;
    let severities = cells.strings("severity")?;
    let starts = cells.u64s("start_ms")?;
    let ends = cells.u64s("end_ms")?;
    let verdicts = cells.strings("verdict")?;
    let notes = cells.strings("note")?;
    let imported_at = cells.times("imported_at")?;
    Ok((0..data_frame.height())
        .map(|index| AuditRow {
            sample_id: sample_ids[index].clone(),
            item_id: item_ids[index].clone(),
            kind: kinds[index].clone(),
            call_id: call_ids[index].clone(),
            agent_id: agent_ids[index].clone(),
            call_date,
            rule_id: rule_ids[index].clone(),
            category: categories[index].clone(),
            severity: severities[index].clone(),
            start_ms: starts[index],
            end_ms: ends[index],
            verdict: verdicts[index].clone(),
            note: notes[index].clone(),
            imported_at: imported_at[index].unwrap_or_default(),
        })
        .collect())
}

/// The `calls` rows of every shard whose call date passes `keep`.
pub fn read_calls(
    out: &Path,
    keep: &dyn Fn(NaiveDate) -> bool,
) -> Result<Vec<CallRow>, DatasetError> {
    read_rows(out, "calls", keep, parse_calls)
}

/// The `segments` rows of every shard whose call date passes `keep`.
pub fn read_segments(
    out: &Path,
    keep: &dyn Fn(NaiveDate) -> bool,
) -> Result<Vec<SegmentRow>, DatasetError> {
    read_rows(out, "segments", keep, parse_segments)
}

/// The `findings` rows of every shard whose call date passes `keep`.
pub fn read_findings(
    out: &Path,
    keep: &dyn Fn(NaiveDate) -> bool,
) -> Result<Vec<FindingRow>, DatasetError> {
    read_rows(out, "findings", keep, parse_findings)
}

/// The `agents` rows of every shard whose call date passes `keep`.
pub fn read_agents(
    out: &Path,
    keep: &dyn Fn(NaiveDate) -> bool,
) -> Result<Vec<AgentRow>, DatasetError> {
    read_rows(out, "agents", keep, parse_agents)
}

/// The `failures` rows of every shard whose call date passes `keep`.
pub fn read_failures(
    out: &Path,
    keep: &dyn Fn(NaiveDate) -> bool,
) -> Result<Vec<FailureRow>, DatasetError> {
    read_rows(out, "failures", keep, parse_failures)
}

/// Every row of the `audits` table (empty when nothing was imported yet).
pub fn read_audits(out: &Path) -> Result<Vec<AuditRow>, DatasetError> {
    read_rows(out, "audits", &|_| true, parse_audits)
}

/// Every table of the dataset (all shards) whose call date passes `keep`.
pub fn read_tables(out: &Path, keep: &dyn Fn(NaiveDate) -> bool) -> Result<Tables, DatasetError> {
    Ok(Tables {
        calls: read_calls(out, keep)?,
        segments: read_segments(out, keep)?,
        findings: read_findings(out, keep)?,
        agents: read_agents(out, keep)?,
        failures: read_failures(out, keep)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn failure_row(call_id: &str, call_date: &str) -> FailureRow {
        FailureRow {
            call_id: call_id.to_string(),
            agent_id: "unknown".to_string(),
            call_date: date(call_date),
            path: format!("{call_id}.wav"),
            stage: "decode".to_string(),
            error: "empty".to_string(),
            message: "empty file".to_string(),
        }
    }

    #[test]
    fn shards_split_deterministically_and_completely() {
        let shards = [
            Shard::parse("0/3").unwrap(),
            Shard::parse("1/3").unwrap(),
            Shard::parse("2/3").unwrap(),
        ];
        for call_index in 0..200 {
            let call_id = format!("call-{call_index}");
            let owners = shards
                .iter()
                .filter(|shard| shard.contains(&call_id))
                .count();
            assert_eq!(owners, 1, "{call_id}");
        }
        assert!(Shard::parse("3/3").is_err());
        assert!(Shard::parse("1").is_err());
    }

    #[test]
    fn tables_are_partitioned_and_stale_parts_removed() {
        let out = tempfile::tempdir().unwrap();
        let mut tables = Tables {
            failures: vec![
                failure_row("a", "2026-11-20"),
                failure_row("b", "2026-11-21"),
            ],
            ..Tables::default()
        };
        let written = write_tables(out.path(), &tables, Shard::WHOLE, date("2026-11-22")).unwrap();
        assert!(written.files.contains(&PathBuf::from(
            "failures/call_date=2026-11-20/part-0-of-1.parquet"
        )));
        assert!(written.files.contains(&PathBuf::from(
            "calls/call_date=2026-11-22/part-0-of-1.parquet"
        )));

        tables.failures.truncate(1);
        let written = write_tables(out.path(), &tables, Shard::WHOLE, date("2026-11-22")).unwrap();
        assert_eq!(
            written.removed,
            vec![PathBuf::from(
                "failures/call_date=2026-11-21/part-0-of-1.parquet"
            )]
        );
        assert!(!out.path().join("failures/call_date=2026-11-21").exists());

        let file = std::fs::File::open(
            out.path()
                .join("failures/call_date=2026-11-20/part-0-of-1.parquet"),
        )
        .unwrap();
        let read_back = ParquetReader::new(file).finish().unwrap();
        assert_eq!(read_back.height(), 1);
        assert_eq!(
            read_back.get_column_names_str(),
            vec!["call_id", "agent_id", "path", "stage", "error", "message"]
        );
    }

    #[test]
    fn tables_read_back_as_written() {
        let out = tempfile::tempdir().unwrap();
        let started_at = DateTime::from_timestamp_millis(1_710_403_331_000);
        let tables = Tables {
            calls: vec![CallRow {
                call_id: "c1".to_string(),
                agent_id: "A1".to_string(),
                call_date: date("2024-03-14"),
                started_at,
                duration_ms: Some(12_431),
                language: Some("en".to_string()),
                layout: Some("stereo".to_string()),
                source_sample_rate: Some(8000),
                status: "scored".to_string(),
                status_reason: None,
                decode_notes: None,
                score: Some(85.0),
                flagged: true,
                auto_fail: false,
                n_findings: 1,
                n_segments: 1,
                n_dropped_segments: 0,
                n_low_confidence_segments: 0,
                agent_tone: Some("calm".to_string()),
                metrics: BTreeMap::from([("answer_delay_ms".to_string(), 300.0)]),
                audio_sha256: Some("ab".to_string()),
                model_id: Some("m".to_string()),
                rules_hash: "r".to_string(),
                version: "v".to_string(),
                path: "c1.wav".to_string(),
            }],
            segments: vec![SegmentRow {
                call_id: "c1".to_string(),
                agent_id: "A1".to_string(),
                call_date: date("2024-03-14"),
                segment_index: 0,
                speaker: "agent".to_string(),
                channel: 1,
                start_ms: 100,
                end_ms: 900,
                text: "<script>hello</script>".to_string(),
                confidence: 0.5,
                quality: "ok".to_string(),
                sentiment: Some(0.25),
                arousal: None,
            }],
            findings: vec![FindingRow {
                call_id: "c1".to_string(),
                agent_id: "A1".to_string(),
                call_date: date("2024-03-14"),
                rule_id: "greeting.hello".to_string(),
                category: "greeting".to_string(),
                severity: "minor".to_string(),
                points: 5.0,
                speaker: "agent".to_string(),
                start_ms: Some(100),
                end_ms: None,
                evidence: "not said".to_string(),
                description: "say hello".to_string(),
                counted: true,
            }],
            agents: vec![AgentRow {
                agent_id: "A1".to_string(),
                call_date: date("2024-03-14"),
                calls: 1,
                scorable: 1,
                mean_score: Some(85.0),
                median_score: Some(85.0),
                p10_score: Some(85.0),
                pass_rate: Some(0.0),
                flagged: 1,
                failures_by_category: BTreeMap::from([("greeting".to_string(), 1)]),
            }],
            failures: vec![failure_row("bad", "2024-03-15")],
        };
        write_tables(out.path(), &tables, Shard::WHOLE, date("2024-03-16")).unwrap();
        // The findings table's columns, `counted` a boolean.
        let file = std::fs::File::open(
            out.path()
                .join("findings/call_date=2024-03-14/part-0-of-1.parquet"),
        )
        .unwrap();
        let findings = ParquetReader::new(file).finish().unwrap();
        assert_eq!(
            findings.get_column_names_str(),
            vec![
                "call_id",
                "agent_id",
                "rule_id",
                "category",
                "severity",
                "points",
                "speaker",
                "start_ms",
                "end_ms",
                "evidence",
                "description",
                "counted"
            ]
        );
        assert_eq!(
            findings.column("counted").unwrap().dtype(),
            &DataType::Boolean
        );
        let read = read_tables(out.path(), &|_| true).unwrap();
        assert_eq!(read.calls, tables.calls);
        assert_eq!(read.segments, tables.segments);
        assert_eq!(read.findings, tables.findings);
        assert_eq!(read.agents, tables.agents);
        assert_eq!(read.failures, tables.failures);
        let only_15th = read_tables(out.path(), &|day| day == date("2024-03-15")).unwrap();
        assert!(only_15th.calls.is_empty());
        assert_eq!(only_15th.failures.len(), 1);

        let audit = AuditRow {
            sample_id: "s1".to_string(),
            item_id: "f1".to_string(),
            kind: "finding".to_string(),
            call_id: "c1".to_string(),
            agent_id: "A1".to_string(),
            call_date: date("2024-03-14"),
            rule_id: Some("greeting.hello".to_string()),
            category: Some("greeting".to_string()),
            severity: Some("minor".to_string()),
            start_ms: Some(100),
            end_ms: None,
            verdict: Some("correct".to_string()),
            note: None,
            imported_at: started_at.unwrap(),
        };
        assert!(read_audits(out.path()).unwrap().is_empty());
        write_audits(out.path(), std::slice::from_ref(&audit), date("2024-03-16")).unwrap();
        assert_eq!(read_audits(out.path()).unwrap(), vec![audit]);
    }
}
