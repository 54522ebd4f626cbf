//! Which days of the dataset a run analyses and writes again.
//!
//! Tables are partitioned by call date. A day's rows are a pure function of the call records
//! of that day (and the transcripts they name), the rules, the analysis options and callqa's
//! version; a day whose inputs did not change since it was written holds the rows a rebuild
//! would write. Each day written leaves a small state file under `OUT/.callqa/days/` with a
//! fingerprint of those inputs and what the day amounted to (the counts of the run summary,
//! the status of each call); the next run writes again only the days whose fingerprint
//! changed or whose files are missing, and takes the others' counts from their state.
//!
//! Without this, every nightly run re-read every stored transcript, re-analysed every call of
//! every night and held every row of the dataset in memory: time and memory grew with the
//! dataset's history, not with the night's calls.
//!
//! The `agents` table (one file per day for the whole dataset, see `run::write_dataset`) has
//! its own states, over every shard's records of the day.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::analyse::{Analyzer, TableSummary, build_agents, build_tables, call_date};
use crate::dataset::{FailureRow, Shard, WrittenFiles};
use crate::store::{
    CallRecord, DamagedRecord, Outcome as RecordOutcome, Store, sha256_hex, write_atomically,
};

/// Moves when the meaning of a day's state changes, so that states written by an older build
/// are never trusted.
const STATE_FORMAT: &str = "callqa-days-2";

/// What this shard's rows of one day were made of and amounted to, as last written.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DayState {
    fingerprint: String,
    /// The day's counts (its `n_agent_days` is 0: agents are counted by their own days).
    summary: TableSummary,
    /// Status of each call of the day, by call id.
    statuses: BTreeMap<String, String>,
    /// The tables that have rows this day: each has a part file of the day.
    tables: Vec<String>,
}

/// The `agents` rows of one day, as last written.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AgentDayState {
    fingerprint: String,
    n_rows: usize,
}

/// One day of this shard.
struct Day<'a> {
    records: Vec<&'a CallRecord>,
    /// Damaged record files whose `failures` row falls on this day (first shard only).
    damaged: Vec<&'a DamagedRecord>,
    fingerprint: String,
    /// The day's state when it still describes the files (same fingerprint, files there).
    current: Option<DayState>,
}

/// One day of the `agents` table: every shard's records of that day.
struct AgentDay<'a> {
    records: Vec<&'a CallRecord>,
    fingerprint: String,
    current: Option<AgentDayState>,
}

/// What the days written and the days kept amount to: the whole dataset of this shard.
#[derive(Debug, Default)]
pub struct Outcome {
    pub summary: TableSummary,
    /// Status of every call of this shard, by call id.
    pub statuses: BTreeMap<String, String>,
    /// Days analysed and written by this run (this shard's days, then agents' days).
    pub n_days_written: usize,
    pub n_agent_days_written: usize,
}

/// The days of one shard and of the `agents` table, each known to be current or not.
pub struct DayPlan<'a> {
    shard: Shard,
    days: BTreeMap<NaiveDate, Day<'a>>,
    agent_days: BTreeMap<NaiveDate, AgentDay<'a>>,
    state_folder: PathBuf,
    agents_state_folder: PathBuf,
}

impl<'a> DayPlan<'a> {
    /// Groups `records` (every shard's) and `damaged` by call date and compares each day's
    /// fingerprint with its state. `rebuild` treats every day as changed.
    pub fn new(
        store: &Store,
        analyzer: &Analyzer,
        out: &Path,
        shard: Shard,
        records: &'a [CallRecord],
        damaged: &'a [DamagedRecord],
        rebuild: bool,
    ) -> anyhow::Result<DayPlan<'a>> {
        let timezone = analyzer.options().timezone;
        let identity = analysis_identity(analyzer);
        let state_folder = state_folder(store, shard);
        let agents_state_folder = store.root().join("days").join("agents");

        let mut by_day: BTreeMap<NaiveDate, (Vec<&CallRecord>, Vec<&DamagedRecord>)> =
            BTreeMap::new();
        let mut agents_by_day: BTreeMap<NaiveDate, Vec<&CallRecord>> = BTreeMap::new();
        // Once per record (a stat of its transcript and a hash): a record is in a day of
        // its shard and in a day of the agents table.
        let mut digests: BTreeMap<&str, String> = BTreeMap::new();
        for record in records {
            digests.insert(&record.spec.call_id, record_digest(store, record)?);
            let date = call_date(record, timezone);
            agents_by_day.entry(date).or_default().push(record);
            if shard.contains(&record.spec.call_id) {
                by_day.entry(date).or_default().0.push(record);
            }
        }
        for damaged_record in damaged {
            by_day
                .entry(damaged_date(damaged_record))
                .or_default()
                .1
                .push(damaged_record);
        }

        let mut days = BTreeMap::new();
        for (date, (mut day_records, day_damaged)) in by_day {
            day_records.sort_by(|left, right| left.spec.call_id.cmp(&right.spec.call_id));
            let mut parts = vec![identity.clone(), date.to_string()];
            for record in &day_records {
                parts.push(digests[record.spec.call_id.as_str()].clone());
            }
            for damaged_record in &day_damaged {
                parts.push(format!(
                    "damaged {} {}",
                    damaged_record.path.display(),
                    damaged_record.message
                ));
            }
            let fingerprint = sha256_hex(&parts.join("\n"));
            let current = (!rebuild)
                .then(|| read_state::<DayState>(&state_folder, date))
                .flatten()
                .filter(|state| {
                    state.fingerprint == fingerprint
                        && state
                            .tables
                            .iter()
                            .all(|table| crate::dataset::part_written(out, table, date, shard))
                });
            days.insert(
                date,
                Day {
                    records: day_records,
                    damaged: day_damaged,
                    fingerprint,
                    current,
                },
            );
        }
        let mut agent_days = BTreeMap::new();
        for (date, mut day_records) in agents_by_day {
            day_records.sort_by(|left, right| left.spec.call_id.cmp(&right.spec.call_id));
            let mut parts = vec![identity.clone(), "agents".to_string(), date.to_string()];
            for record in &day_records {
                parts.push(digests[record.spec.call_id.as_str()].clone());
            }
            let fingerprint = sha256_hex(&parts.join("\n"));
            // A day whose calls all failed has no agents rows, hence no file.
            let current = (!rebuild)
                .then(|| read_state::<AgentDayState>(&agents_state_folder, date))
                .flatten()
                .filter(|state| {
                    state.fingerprint == fingerprint
                        && (state.n_rows == 0
                            || crate::dataset::part_written(out, "agents", date, Shard::WHOLE))
                });
            agent_days.insert(
                date,
                AgentDay {
                    records: day_records,
                    fingerprint,
                    current,
                },
            );
        }
        Ok(DayPlan {
            shard,
            days,
            agent_days,
            state_folder,
            agents_state_folder,
        })
    }

    /// This shard's days.
    pub fn days(&self) -> BTreeSet<NaiveDate> {
        self.days.keys().copied().collect()
    }

    /// The days of the `agents` table.
    pub fn agent_days(&self) -> BTreeSet<NaiveDate> {
        self.agent_days.keys().copied().collect()
    }

    /// Analyses and writes every day that changed, one day at a time, and sums every day's
    /// counts. States of days that have no calls any more are removed.
    pub fn write(
        &self,
        store: &Store,
        analyzer: &Analyzer,
        out: &Path,
        written: &mut WrittenFiles,
    ) -> anyhow::Result<Outcome> {
        let mut outcome = Outcome::default();
        let dates: BTreeSet<NaiveDate> = self
            .days
            .keys()
            .chain(self.agent_days.keys())
            .copied()
            .collect();
        for date in dates {
            let mut day_agents = None;
            if let Some(day) = self.days.get(&date) {
                let state = match &day.current {
                    Some(state) => state.clone(),
                    None => {
                        let records: Vec<CallRecord> =
                            day.records.iter().map(|&record| record.clone()).collect();
                        let (mut tables, mut summary) = build_tables(store, analyzer, &records)?;
                        for damaged_record in &day.damaged {
                            add_damaged(damaged_record, date, &mut tables.failures, &mut summary);
                        }
                        // The old state goes first: a run killed while the parts are replaced
                        // leaves a day without a state, which the next run writes again.
                        remove_state(&self.state_folder, date)?;
                        crate::dataset::write_day(out, &tables, date, self.shard, written)?;
                        summary.n_agent_days = 0;
                        let state = DayState {
                            fingerprint: day.fingerprint.clone(),
                            summary,
                            statuses: tables
                                .calls
                                .iter()
                                .map(|row| (row.call_id.clone(), row.status.clone()))
                                .collect(),
                            tables: tables_with_rows(&tables),
                        };
                        write_state(&self.state_folder, date, &state)?;
                        outcome.n_days_written += 1;
                        // Unsplit, the day's agents come from the same records.
                        if self.shard.count == 1 {
                            day_agents = Some(tables.agents);
                        }
                        state
                    }
                };
                add_summary(&mut outcome.summary, &state.summary);
                outcome.statuses.extend(state.statuses);
            }
            if let Some(agent_day) = self.agent_days.get(&date) {
                let n_rows = match &agent_day.current {
                    Some(state) => state.n_rows,
                    None => {
                        let rows = match day_agents {
                            Some(rows) => rows,
                            None => {
                                let records: Vec<CallRecord> = agent_day
                                    .records
                                    .iter()
                                    .map(|&record| record.clone())
                                    .collect();
                                build_agents(store, analyzer, &records)?
                            }
                        };
                        remove_state(&self.agents_state_folder, date)?;
                        crate::dataset::write_agents_day(out, &rows, date, written)?;
                        let state = AgentDayState {
                            fingerprint: agent_day.fingerprint.clone(),
                            n_rows: rows.len(),
                        };
                        write_state(&self.agents_state_folder, date, &state)?;
                        outcome.n_agent_days_written += 1;
                        rows.len()
                    }
                };
                outcome.summary.n_agent_days += n_rows;
            }
        }
        remove_states_outside(&self.state_folder, &self.days())?;
        remove_states_outside(&self.agents_state_folder, &self.agent_days())?;
        for folder in [&self.state_folder, &self.agents_state_folder] {
            // Left by a run killed while writing a state.
            crate::store::remove_temporaries(
                folder,
                crate::store::TEMPORARY_PREFIX,
                crate::store::STALE_TEMPORARY_AGE,
            )?;
        }
        Ok(outcome)
    }
}

/// Writes every day of `shard` from `records` (every shard's), whatever the states say: the
/// parts of the other shards of a new split (see `run::write_dataset`). `damaged` record
/// files go to the first shard, as when it runs. The shard's day states are removed: they
/// describe parts of an earlier split, and its own next run writes every day again.
pub fn write_every_day(
    store: &Store,
    analyzer: &Analyzer,
    out: &Path,
    shard: Shard,
    records: &[CallRecord],
    damaged: &[DamagedRecord],
    written: &mut WrittenFiles,
) -> anyhow::Result<()> {
    let state_folder = state_folder(store, shard);
    match std::fs::remove_dir_all(&state_folder) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("removing {}", state_folder.display()));
        }
    }
    let timezone = analyzer.options().timezone;
    let mut by_day: BTreeMap<NaiveDate, (Vec<CallRecord>, Vec<&DamagedRecord>)> = BTreeMap::new();
    for record in records
        .iter()
        .filter(|record| shard.contains(&record.spec.call_id))
    {
        by_day
            .entry(call_date(record, timezone))
            .or_default()
            .0
            .push(record.clone());
    }
    if shard.index == 0 {
        for damaged_record in damaged {
            by_day
                .entry(damaged_date(damaged_record))
                .or_default()
                .1
                .push(damaged_record);
        }
    }
    for (date, (day_records, day_damaged)) in by_day {
        let (mut tables, mut summary) = build_tables(store, analyzer, &day_records)?;
        for damaged_record in day_damaged {
            add_damaged(damaged_record, date, &mut tables.failures, &mut summary);
        }
        crate::dataset::write_day(out, &tables, date, shard, written)?;
    }
    Ok(())
}

/// Removes the day states of every split but `count` shards: after a run split otherwise,
/// their parts are gone, and states left behind would vouch for parts a later split of that
/// count did not write.
pub fn forget_other_splits(store: &Store, count: u32) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(store.root().join("days")) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let other_count = name
            .strip_prefix("part-")
            .and_then(|rest| rest.split_once("-of-"))
            .and_then(|(_, count)| count.parse::<u32>().ok());
        if other_count.is_some_and(|other| other != count) {
            std::fs::remove_dir_all(entry.path())
                .with_context(|| format!("removing {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Where `shard`'s day states are.
fn state_folder(store: &Store, shard: Shard) -> PathBuf {
    store
        .root()
        .join("days")
        .join(shard.file_name().trim_end_matches(".parquet"))
}

/// The tables of `tables` that have rows (`agents` aside, which has states of its own).
fn tables_with_rows(tables: &crate::dataset::Tables) -> Vec<String> {
    [
        ("calls", tables.calls.is_empty()),
        ("segments", tables.segments.is_empty()),
        ("findings", tables.findings.is_empty()),
        ("failures", tables.failures.is_empty()),
    ]
    .into_iter()
    .filter(|(_, empty)| !empty)
    .map(|(table, _)| table.to_string())
    .collect()
}

/// What every day's rows depend on besides its records: callqa's build (its version and a
/// digest of its sources, `build.rs`), the rules, the analysis options (personal data kept or
/// not, vocal analysis, scoring, time zone).
fn analysis_identity(analyzer: &Analyzer) -> String {
    sha256_hex(&format!(
        "{STATE_FORMAT}\n{} {}\n{}\n{:?}",
        crate::VERSION,
        env!("CALLQA_BUILD_ID"),
        analyzer.rules_hash(),
        analyzer.options()
    ))
}

/// A record's call id and a digest of what its rows are made of: the record but for when and
/// how fast it was processed (every run over a call writes those anew, and no row holds
/// them; the day, which `processed_at` can decide, is part of the fingerprint already), and
/// the state of its cached transcript (lost, or written again).
fn record_digest(store: &Store, record: &CallRecord) -> anyhow::Result<String> {
    let mut json = crate::store::record_json(record).context("serialising a call record")?;
    if let Some(fields) = json.as_object_mut() {
        for volatile in ["processed_at", "stage_seconds", "asr_settings"] {
            fields.remove(volatile);
        }
    }
    let transcript = match &record.outcome {
        RecordOutcome::Transcribed { transcript_key } => store.transcript_stamp(transcript_key),
        RecordOutcome::Failed(_) => String::new(),
    };
    Ok(format!(
        "{} {} {transcript}",
        record.spec.call_id,
        sha256_hex(&json.to_string())
    ))
}

/// The day a damaged record's `failures` row is dated: when the file was last written.
fn damaged_date(damaged: &DamagedRecord) -> NaiveDate {
    damaged.modified.unwrap_or_else(Utc::now).date_naive()
}

/// The `failures` row and the run's failure line of a damaged record file.
fn add_damaged(
    damaged: &DamagedRecord,
    date: NaiveDate,
    failures: &mut Vec<FailureRow>,
    summary: &mut TableSummary,
) {
    let name = damaged
        .path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let call_id = format!("damaged-record-{name}");
    let message = format!(
        "{}: damaged state file ({}); the call it recorded is unknown. The next run over \
         that recording writes its record again; delete this file once it is not needed",
        damaged.path.display(),
        damaged.message
    );
    failures.push(FailureRow {
        call_id: call_id.clone(),
        agent_id: "unknown".to_string(),
        call_date: date,
        path: damaged.path.display().to_string(),
        stage: "store".to_string(),
        error: "damaged_record".to_string(),
        message,
    });
    summary.analysis_failures.push((
        call_id,
        "store: damaged_record (see `failures`)".to_string(),
    ));
}

fn add_summary(total: &mut TableSummary, day: &TableSummary) {
    total.n_calls += day.n_calls;
    total.n_scored += day.n_scored;
    total.n_not_scorable += day.n_not_scorable;
    total.n_failed += day.n_failed;
    total.n_flagged += day.n_flagged;
    total.n_segments += day.n_segments;
    total.n_findings += day.n_findings;
    total.n_agent_days += day.n_agent_days;
    total
        .analysis_failures
        .extend(day.analysis_failures.iter().cloned());
}

fn state_path(folder: &Path, date: NaiveDate) -> PathBuf {
    folder.join(format!("{}.json", date.format("%Y-%m-%d")))
}

/// A day's state; none when it is missing or unreadable (the day is then written again).
fn read_state<State: serde::de::DeserializeOwned>(folder: &Path, date: NaiveDate) -> Option<State> {
    let bytes = std::fs::read(state_path(folder, date)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn remove_state(folder: &Path, date: NaiveDate) -> anyhow::Result<()> {
    let path = state_path(folder, date);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error).with_context(|| format!("removing {}", path.display())),
    }
}

fn write_state<State: Serialize>(
    folder: &Path,
    date: NaiveDate,
    state: &State,
) -> anyhow::Result<()> {
    let json = serde_json::to_vec(state).context("serialising a day's state")?;
    write_atomically(&state_path(folder, date), &json, true)?;
    Ok(())
}

/// Removes the states of days not in `dates` (their calls are gone).
fn remove_states_outside(folder: &Path, dates: &BTreeSet<NaiveDate>) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let Ok(date) = NaiveDate::parse_from_str(stem, "%Y-%m-%d") else {
            continue;
        };
        if !dates.contains(&date) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(error)
                        .with_context(|| format!("removing {}", entry.path().display()));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::analyse::AnalysisOptions;
    use crate::run::{RunSummary, write_dataset};
    use crate::store::Outcome as RecordOutcome;
    use crate::types::{CallSpec, CallTranscript, ChannelSide, Layout, Speaker};

    fn transcript() -> CallTranscript {
        CallTranscript::from_lines(
            &[
                (
                    Speaker::Agent,
                    100,
                    2600,
                    "Union Bank, Maria speaking, how can I help?",
                ),
                (Speaker::Customer, 2700, 5000, "I want to check my balance."),
                (
                    Speaker::Agent,
                    9100,
                    12000,
                    "It is two hundred dollars, goodbye.",
                ),
            ],
            Layout::Stereo,
        )
    }

    fn record(call_id: &str, agent_id: &str, started_at: DateTime<Utc>) -> CallRecord {
        CallRecord {
            spec: CallSpec {
                call_id: call_id.to_string(),
                agent_id: agent_id.to_string(),
                path: format!("{call_id}.wav").into(),
                started_at: Some(started_at),
                agent_channel: Some(ChannelSide::Left),
                language: Some("en".to_string()),
            },
            outcome: RecordOutcome::Transcribed {
                transcript_key: "key".to_string(),
            },
            audio_sha256: None,
            model_id: None,
            asr_settings: None,
            processed_at: started_at,
            stage_seconds: BTreeMap::new(),
            decode_notes: Vec::new(),
        }
    }

    fn day(date: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, date, 10, 0, 0).unwrap()
    }

    /// Runs the tables stage as `run` does (or as `rescore` does, `rebuild`) and returns the
    /// summary and the part files written, without the report.
    fn write(
        out: &Path,
        options: AnalysisOptions,
        rebuild: bool,
    ) -> (RunSummary, BTreeSet<String>) {
        let store = Store::open(out).unwrap();
        let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let analyzer = Analyzer::load(&rules, options).unwrap();
        let mut summary = RunSummary::default();
        let files = write_dataset(
            &store,
            &analyzer,
            out,
            Shard::WHOLE,
            &[],
            &mut summary,
            rebuild,
        )
        .unwrap();
        let files = files
            .into_iter()
            .filter(|file| file.ends_with(".parquet"))
            .collect();
        (summary, files)
    }

    fn days_of(files: &BTreeSet<String>) -> BTreeSet<String> {
        files
            .iter()
            .filter_map(|file| file.split('/').nth(1))
            .map(|partition| partition.trim_start_matches("call_date=").to_string())
            .collect()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    /// A night's run analyses and writes the days of that night's calls; the days before
    /// keep their files, and the run's counts still cover the whole dataset.
    #[test]
    fn only_the_days_whose_calls_changed_are_written_again() {
        let folder = tempfile::tempdir().unwrap();
        let out = folder.path();
        let store = Store::open(out).unwrap();
        store.save_transcript("key", &transcript()).unwrap();
        for (call_id, date) in [("a", 20), ("b", 20), ("c", 21)] {
            store
                .save_record(&record(call_id, "maria", day(date)))
                .unwrap();
        }
        // A day whose only call failed: a `failures` row, no `agents` row.
        let mut failed = record("f", "maria", day(19));
        failed.outcome = RecordOutcome::Failed(crate::store::Failure {
            stage: "decode".to_string(),
            error: "empty".to_string(),
            message: "f.wav: empty".to_string(),
        });
        store.save_record(&failed).unwrap();
        let (summary, files) = write(out, AnalysisOptions::default(), false);
        assert_eq!(
            days_of(&files),
            set(&["2026-11-19", "2026-11-20", "2026-11-21"])
        );
        assert_eq!(summary.dataset.n_calls, 4);
        assert_eq!(summary.dataset.n_failed, 1);
        let earlier_day = out.join("calls/call_date=2026-11-20/part-0-of-1.parquet");
        let earlier_bytes = std::fs::read(&earlier_day).unwrap();

        // Nothing changed: nothing is written, and the counts are the same.
        let (again, files) = write(out, AnalysisOptions::default(), false);
        assert!(files.is_empty(), "{files:?}");
        assert_eq!((again.n_days_written, again.n_days), (0, 3));
        // Not even the agents of the day without any (its call failed).
        assert_eq!(again.n_agent_days_written, 0);
        assert_eq!(again.dataset, summary.dataset);
        assert_eq!(again.call_status, summary.call_status);

        // A call processed again (from the transcript cache, as a re-run over every night's
        // folder does): a new processing time and new stage timings, the same rows.
        let mut again_processed = record("a", "maria", day(20));
        again_processed.processed_at = Utc::now();
        again_processed
            .stage_seconds
            .insert("hash".to_string(), 0.25);
        store.save_record(&again_processed).unwrap();
        let (_, files) = write(out, AnalysisOptions::default(), false);
        assert!(files.is_empty(), "{files:?}");

        // A new night, and a call of the 21st that changed (another agent).
        store.save_record(&record("d", "kate", day(22))).unwrap();
        store.save_record(&record("c", "kate", day(21))).unwrap();
        let (summary, files) = write(out, AnalysisOptions::default(), false);
        assert_eq!(days_of(&files), set(&["2026-11-21", "2026-11-22"]));
        assert_eq!(summary.dataset.n_calls, 5);
        assert_eq!(summary.dataset.n_agent_days, 3);
        assert_eq!(
            summary.call_status.keys().cloned().collect::<BTreeSet<_>>(),
            set(&["a", "b", "c", "d", "f"])
        );
        assert_eq!(std::fs::read(&earlier_day).unwrap(), earlier_bytes);
        let agents = crate::dataset::read_agents(out, &|_| true).unwrap();
        let agent_days: BTreeSet<(String, String)> = agents
            .iter()
            .map(|row| (row.agent_id.clone(), row.call_date.to_string()))
            .collect();
        assert_eq!(
            agent_days,
            [
                ("kate", "2026-11-21"),
                ("kate", "2026-11-22"),
                ("maria", "2026-11-20")
            ]
            .iter()
            .map(|(agent, date)| (agent.to_string(), date.to_string()))
            .collect()
        );
    }

    /// Whatever the states say, a day is written again when its inputs or its files are not
    /// what they were: its last call removed, a part file deleted, other rules or options, a
    /// rebuild.
    #[test]
    fn days_are_written_again_when_anything_they_hold_or_depend_on_changed() {
        let folder = tempfile::tempdir().unwrap();
        let out = folder.path();
        let store = Store::open(out).unwrap();
        store.save_transcript("key", &transcript()).unwrap();
        for (call_id, date) in [("a", 20), ("b", 21), ("c", 22)] {
            store
                .save_record(&record(call_id, "maria", day(date)))
                .unwrap();
        }
        write(out, AnalysisOptions::default(), false);

        // The only call of the 22nd is gone: so are the day's parts and its state.
        store.remove_record("c").unwrap();
        let (summary, files) = write(out, AnalysisOptions::default(), false);
        assert!(files.is_empty(), "{files:?}");
        assert_eq!(summary.dataset.n_calls, 2);
        for table in ["calls", "segments", "agents"] {
            assert!(!out.join(table).join("call_date=2026-11-22").exists());
        }
        assert!(
            !store
                .root()
                .join("days/part-0-of-1/2026-11-22.json")
                .exists()
        );
        assert!(!store.root().join("days/agents/2026-11-22.json").exists());

        // Parts deleted by hand: a day's calls, another day's segments.
        std::fs::remove_file(out.join("calls/call_date=2026-11-20/part-0-of-1.parquet")).unwrap();
        std::fs::remove_file(out.join("segments/call_date=2026-11-21/part-0-of-1.parquet"))
            .unwrap();
        let (_, files) = write(out, AnalysisOptions::default(), false);
        assert_eq!(days_of(&files), set(&["2026-11-20", "2026-11-21"]));

        // The cached transcript lost: every call of it fails, on every day; put back, they
        // are scored again.
        let transcript_file = store.root().join("transcripts/key.json");
        let kept = std::fs::read(&transcript_file).unwrap();
        std::fs::remove_file(&transcript_file).unwrap();
        let (summary, files) = write(out, AnalysisOptions::default(), false);
        // The tables left empty (segments, findings, agents) keep their columns in a part
        // of today; so does `failures` once the transcript is back.
        let today = Utc::now().date_naive().to_string();
        assert_eq!(
            days_of(&files),
            set(&["2026-11-20", "2026-11-21", today.as_str()])
        );
        assert_eq!(summary.dataset.analysis_failures.len(), 2);
        std::fs::write(&transcript_file, kept).unwrap();
        let (summary, files) = write(out, AnalysisOptions::default(), false);
        assert_eq!(
            days_of(&files),
            set(&["2026-11-20", "2026-11-21", today.as_str()])
        );
        assert!(summary.dataset.analysis_failures.is_empty());
        assert_eq!(summary.dataset.n_scored, 2);

        // Other analysis options (personal data kept) change every day's rows.
        let keep = AnalysisOptions {
            keep_personal_data: true,
            ..AnalysisOptions::default()
        };
        let (_, files) = write(out, keep.clone(), false);
        assert_eq!(days_of(&files), set(&["2026-11-20", "2026-11-21"]));
        let (_, files) = write(out, keep.clone(), false);
        assert!(files.is_empty(), "{files:?}");

        // `rescore` writes every day.
        let (_, files) = write(out, keep, true);
        assert_eq!(days_of(&files), set(&["2026-11-20", "2026-11-21"]));
    }
}
