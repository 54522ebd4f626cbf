//! The Parquet dataset under OUT: `calls`, `segments`, `findings`, `agents`, `failures`.
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
    /// randomised hasher), so every machine splits a batch the same way.
    pub fn contains(&self, call_id: &str) -> bool {
        if self.count == 1 {
            return true;
        }
        let digest = crate::store::sha256_hex(call_id);
        let prefix = u64::from_str_radix(&digest[..16], 16).unwrap_or(0);
        prefix % u64::from(self.count) == u64::from(self.index)
    }

    fn file_name(&self) -> String {
        format!("part-{}-of-{}.parquet", self.index, self.count)
    }
}

/// The `calls` columns that come from [`crate::types::Measurements::metrics`], in order.
/// Absent metrics are nulls.
pub const METRIC_COLUMNS: &[&str] = &[
    "answer_delay_ms",
    "agent_talk_ms",
    "customer_talk_ms",
    "agent_talk_ratio",
    "longest_silence_ms",
    "dead_air_total_ms",
    "n_dead_air",
    "hold_total_ms",
    "n_holds",
    "overtalk_ms",
    "n_interruptions",
    "agent_words_per_minute",
    "customer_words_per_minute",
    "agent_loudness_db",
    "customer_loudness_db",
    "customer_sentiment_start",
    "customer_sentiment_end",
    "customer_sentiment_change",
    "agent_sentiment_mean",
];

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
    DataType::Datetime(
        TimeUnit::Milliseconds,
        Some(PlSmallStr::from_static("UTC").into()),
    )
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

/// Files written by [`write_tables`], relative to the dataset folder.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WrittenFiles {
    pub files: Vec<PathBuf>,
    pub removed: Vec<PathBuf>,
}

/// Writes every table of this shard, partitioned by call date, and removes this shard's files
/// that no longer have rows. `fallback_date` names the partition used for an empty table.
pub fn write_tables(
    out: &Path,
    tables: &Tables,
    shard: Shard,
    fallback_date: NaiveDate,
) -> Result<WrittenFiles, DatasetError> {
    let mut written = WrittenFiles::default();
    write_table(
        out,
        "calls",
        &tables.calls,
        |row| row.call_date,
        calls_frame,
        shard,
        fallback_date,
        &mut written,
    )?;
    write_table(
        out,
        "segments",
        &tables.segments,
        |row| row.call_date,
        segments_frame,
        shard,
        fallback_date,
        &mut written,
    )?;
    write_table(
        out,
        "findings",
        &tables.findings,
        |row| row.call_date,
        findings_frame,
        shard,
        fallback_date,
        &mut written,
    )?;
    write_table(
        out,
        "agents",
        &tables.agents,
        |row| row.call_date,
        agents_frame,
        shard,
        fallback_date,
        &mut written,
    )?;
    write_table(
        out,
        "failures",
        &tables.failures,
        |row| row.call_date,
        failures_frame,
        shard,
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
        let mut data_frame = build(date_rows)?;
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes)
            .with_compression(ParquetCompression::Zstd(None))
            .with_statistics(StatisticsOptions::full())
            .finish(&mut data_frame)
            .map_err(|source| DatasetError::Polars { table, source })?;
        let path = table_folder
            .join(format!("call_date={}", date.format("%Y-%m-%d")))
            .join(shard.file_name());
        write_atomically(&path, &bytes, false)?;
        kept.insert(path.clone());
        written
            .files
            .push(path.strip_prefix(out).unwrap_or(&path).to_path_buf());
    }
    remove_stale_parts(out, &table_folder, shard, &kept, written)
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

fn parse_part_name(name: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix("part-")?.strip_suffix(".parquet")?;
    let (index, count) = rest.split_once("-of-")?;
    Some((index.parse().ok()?, count.parse().ok()?))
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
}
