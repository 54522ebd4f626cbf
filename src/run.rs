//! `callqa run`: the nightly batch, from a folder or manifest to a dataset.
//!
//! Order of work: validate everything that can fail for the whole batch (rules, model, output
//! folder) before touching any call; discover; process calls in parallel (one Whisper state per
//! worker); then rebuild the tables, the report and the run manifest from the run state.
//!
//! Promises: every discovered input ends as scored, not_scorable or failed; a killed run
//! started again finishes the job without duplicates (per-call records are atomic and tables
//! are rebuilt whole); calls already transcribed with the same audio, model and settings are
//! not transcribed again.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::analyse::{AnalysisOptions, Analyzer, TableSummary};
use crate::dataset::Shard;
use crate::decode::DecodeOptions;
use crate::discover::{DiscoverOptions, DiscoveryProblem, discover};
use crate::pipeline::{AudioPath, CallProgress};
use crate::store::{
    CallRecord, Failure, Outcome, STALE_TEMPORARY_AGE, Store, TEMPORARY_PREFIX, remove_temporaries,
    write_atomically,
};
use crate::transcribe::{AsrSettings, Transcriber};
use crate::types::CallSpec;
use crate::vad::VadConfig;

pub use crate::VERSION;

/// A validated configuration for one run. Built once, before any work.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub input: PathBuf,
    pub out: PathBuf,
    pub model: PathBuf,
    pub rules_dir: PathBuf,
    pub workers: usize,
    pub asr: AsrSettings,
    pub shard: Shard,
    pub discover: DiscoverOptions,
    pub decode: DecodeOptions,
    pub vad: VadConfig,
    pub analysis: AnalysisOptions,
    pub show_progress: bool,
    /// Accept an input that holds no recordings. Off by default: a nightly job pointed at an
    /// unmounted share or a folder the recorder never filled must not look like a quiet night.
    pub allow_empty: bool,
}

/// Length of a call's audio from its header, to order the work; 0 when the header cannot be
/// read (the call then fails quickly at decoding). Only regular files are opened: a named pipe
/// or device would block or never end (the audio path reports those as failures).
fn audio_duration_ms(path: &Path) -> u64 {
    if !std::fs::metadata(path).is_ok_and(|metadata| metadata.is_file()) {
        return 0;
    }
    // Only an ordering hint: a file the probe trips on (a bug) goes last, and its worker
    // records what happened (`AudioPath::process_isolated`).
    std::panic::catch_unwind(|| crate::decode::probe_file(path))
        .ok()
        .and_then(Result::ok)
        .map_or(0, |info| info.duration_ms)
}

/// The calls waiting for a worker, longest first: no worker is left alone with a long call at
/// the end of the batch while the others idle. Memory needs no rationing here: the audio path
/// streams each channel, so a worker holds about the same for a 3-hour call as for a short one.
struct WorkQueue {
    /// Indices of waiting calls, the next one last.
    waiting: Mutex<Vec<usize>>,
}

impl WorkQueue {
    fn longest_first(durations_ms: &[u64]) -> WorkQueue {
        let mut waiting: Vec<usize> = (0..durations_ms.len()).collect();
        // Shortest first in the vector, so that `pop` takes the longest; ties in input order.
        waiting.sort_by_key(|&index| (durations_ms[index], std::cmp::Reverse(index)));
        WorkQueue {
            waiting: Mutex::new(waiting),
        }
    }

    fn next(&self) -> Option<usize> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop()
    }
}

/// Counts and timings of a run: printed at the end and written into the run manifest.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub version: String,
    pub host: String,
    pub input: String,
    pub out: String,
    pub shard: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub model_path: String,
    pub model_id: String,
    pub asr_settings: String,
    pub rules_hash: String,
    pub workers: usize,
    pub threads_per_worker: usize,
    /// Inputs discovered in this shard.
    pub n_inputs: usize,
    /// Of those: transcribed now, taken from the cache, failed.
    pub n_transcribed: usize,
    pub n_cached: usize,
    pub n_failed: usize,
    /// Final state of this run's inputs after analysis: `n_scored + n_not_scorable + n_failed
    /// = n_inputs` (`n_failed` above is the third state: a failed input is never analysed).
    pub n_scored: usize,
    pub n_not_scorable: usize,
    pub n_whisper_windows: u64,
    /// Whisper windows whose last moments were not decoded in a second pass, where whisper.cpp
    /// would abort or invent text (see `transcribe::hooks`).
    pub n_tail_passes_refused: u64,
    /// Beam search only: beams ended because they were looping, where whisper.cpp would have
    /// run them to its token limit and thrown them away (see `transcribe::hooks`). A count of
    /// how often Whisper loops on these calls.
    pub n_beam_loops_ended: u64,
    /// Speech regions decoded again in a window of their own because a Whisper loop earlier in
    /// their window had taken their text (see `transcribe::pieces_lost_to_a_loop`).
    pub n_regions_redecoded: u64,
    /// Speech regions decoded again alone because their reading was far too short for their
    /// speech (see `transcribe::reads_too_little`), and how many of those readings were replaced.
    pub n_short_readings_redecoded: u64,
    pub n_short_readings_replaced: u64,
    /// Seconds of call audio processed in this run (cache hits excluded).
    pub audio_seconds_transcribed: f64,
    pub wall_seconds: f64,
    /// Call-audio seconds per wall second over the transcribing part of the run.
    pub throughput: Option<f64>,
    /// Seconds per stage. Per-call stages (`hash`, `decode`, `vad`, `transcribe`) are summed
    /// over this run's calls (with several workers they add up to more than the wall time);
    /// `wall_*` entries are wall-clock seconds of the run's phases: `wall_load_rules`,
    /// `wall_model_id` (hashing the model file), `wall_discover`, `wall_load_model`,
    /// `wall_audio` (all calls' audio stages, in parallel),
    /// `wall_analyse_and_write` (analysis, scoring, tables, report).
    pub stage_seconds: BTreeMap<String, f64>,
    /// What the decoder repaired in this run's files (call id, kind, sentence): a recording cut
    /// short, corrupt samples replaced by silence … Such calls are scored on what was there.
    pub decode_notes: Vec<(String, String, String)>,
    /// The whole dataset after this run (all nights, this shard).
    pub dataset: TableSummary,
    /// Days of this shard's tables analysed and written by this run (the others had not
    /// changed, see [`crate::days`]), of `n_days` in all; days of the `agents` table likewise.
    pub n_days_written: usize,
    pub n_days: usize,
    pub n_agent_days_written: usize,
    pub files_written: Vec<String>,
    /// Failures of this run's inputs: (call id, stage, error kind, message naming the file and
    /// what is wrong; never transcript text).
    pub failures: Vec<(String, String, String, String)>,
    /// Status of every call in the tables just written, by call id (filled by
    /// [`write_dataset`]; not part of the manifest).
    #[serde(skip)]
    pub call_status: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string())
}

fn progress_bar(n_calls: usize, show: bool) -> ProgressBar {
    let target = if show && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(n_calls as u64), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} calls · {msg} · ETA {eta}",
        )
        .expect("progress template is valid"),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// Whether `record` is an earlier discovery failure (a duplicate or reused id, …) of a
/// recording that is one of `calls` (path → call id) under an id of its own: the problem was
/// fixed, and its failure row would otherwise stay in the dataset for good.
fn is_resolved_discovery_failure(record: &CallRecord, calls: &BTreeMap<String, &str>) -> bool {
    let Outcome::Failed(failure) = &record.outcome else {
        return false;
    };
    failure.stage == "discover"
        && calls
            .get(record.spec.path.to_string_lossy().as_ref())
            .is_some_and(|call_id| *call_id != record.spec.call_id)
}

/// Splits off the calls whose id the dataset already holds for another recording: a folder
/// scanned night after night (`/recordings/2026-11-20`, then `/recordings/2026-11-21`) gives
/// `0001` both nights, and writing the second would silently replace the first night's call.
/// Such a call fails, under an id of its own, naming the clash and the remedy; the dataset's
/// call stays. The same path with other audio (a recording exported again), a moved folder,
/// a copy, or a call that failed before is the same call, and is processed again as usual
/// (see [`holds_another_recording`]).
fn refuse_reused_call_ids<'call>(
    store: &Store,
    calls: impl Iterator<Item = &'call CallSpec>,
) -> Result<(Vec<&'call CallSpec>, Vec<DiscoveryProblem>), crate::store::StoreError> {
    let mut kept = Vec::new();
    let mut reused = Vec::new();
    for call in calls {
        let earlier = match store.load_record(&call.call_id) {
            Ok(earlier) => earlier,
            // A damaged record is written again by this call (and listed until then).
            Err(crate::store::StoreError::Damaged { .. }) => None,
            Err(error) => return Err(error),
        };
        match earlier {
            Some(earlier) if holds_another_recording(&earlier, call) => {
                reused.push(DiscoveryProblem {
                    call_id: format!("{}#{}", call.call_id, call.path.display()),
                    path: call.path.clone(),
                    kind: "call_id_reused",
                    message: format!(
                        "call id {:?} already holds another recording in this dataset ({}, \
                         processed {}); this file was skipped so as not to replace it. Give \
                         every call its own id: a manifest with a call_id column, a name \
                         pattern that captures one, or one folder holding every night's \
                         folders",
                        call.call_id,
                        earlier.spec.path.display(),
                        earlier.processed_at.format("%Y-%m-%d")
                    ),
                    spec: Some(Box::new((*call).clone())),
                });
            }
            _ => kept.push(call),
        }
    }
    Ok((kept, reused))
}

/// Whether the dataset's record of `call`'s id is of another recording that is still there:
/// a call that was read (a failed one may be retried from a corrected path), from a path that
/// is not this one once both are resolved (older datasets kept manifest paths as written),
/// whose file still exists (a moved folder is the same calls) and holds other audio (a copy
/// is the same call).
fn holds_another_recording(earlier: &CallRecord, call: &CallSpec) -> bool {
    if matches!(earlier.outcome, Outcome::Failed(_)) {
        return false;
    }
    let Ok(earlier_path) = std::fs::canonicalize(&earlier.spec.path) else {
        return false;
    };
    let path = std::fs::canonicalize(&call.path).unwrap_or_else(|_| call.path.clone());
    if earlier_path == path {
        return false;
    }
    match (&earlier.audio_sha256, crate::store::file_sha256(&call.path)) {
        (Some(earlier_hash), Ok(hash)) => *earlier_hash != hash,
        _ => true,
    }
}

pub fn run(options: &RunOptions) -> Result<RunSummary, RunError> {
    let run_started = Instant::now();
    let started_at = Utc::now();
    let mut phase_seconds: BTreeMap<String, f64> = BTreeMap::new();
    let mut phase_started = Instant::now();
    let mut end_phase = |name: &str, started: &mut Instant| {
        phase_seconds.insert(name.to_string(), started.elapsed().as_secs_f64());
        *started = Instant::now();
    };
    // Everything that can fail for the whole batch fails here, in the first second.
    let analyzer = Analyzer::load(&options.rules_dir, options.analysis.clone())
        .map_err(|error| RunError::Setup(format!("{error:#}")))?;
    end_phase("wall_load_rules", &mut phase_started);
    crate::model::read_ggml_header(&options.model)
        .map_err(|error| RunError::Setup(error.to_string()))?;
    let model_id = crate::model::model_id(&options.model)
        .map_err(|error| RunError::Setup(error.to_string()))?;
    end_phase("wall_model_id", &mut phase_started);
    let discovery = discover(&options.input, &options.discover)
        .map_err(|error| RunError::Setup(error.to_string()))?;
    if discovery.calls.is_empty() && discovery.problems.is_empty() && !options.allow_empty {
        return Err(RunError::Setup(format!(
            "{} holds no recordings (no .wav file{}); if the folder or share is where the \
             recorder writes, check that it is mounted and filled. Pass --allow-empty for a \
             night without calls",
            options.input.display(),
            if options.input.is_dir() && !options.input.join("manifest.csv").is_file() {
                " in it or its subfolders"
            } else {
                " listed in the manifest"
            }
        )));
    }
    end_phase("wall_discover", &mut phase_started);
    fs_err::create_dir_all(&options.out)
        .map_err(|error| RunError::Setup(format!("cannot create the output folder: {error}")))?;
    let store = Store::open(&options.out).map_err(|error| RunError::Setup(error.to_string()))?;
    let _lock = store
        .lock_shard(options.shard.index, options.shard.count)
        .map_err(|error| RunError::Setup(error.to_string()))?;
    store
        .remember_timezone(options.analysis.timezone.name())
        .map_err(|error| RunError::Setup(error.to_string()))?;
    store
        .remember_flag_threshold(options.analysis.scoring.flag_threshold)
        .map_err(|error| RunError::Setup(error.to_string()))?;
    // Left-overs of runs killed long ago; a killed run's own records and part files are
    // tidied exactly when they are written again (see `Store::save_record`, `write_dataset`).
    store
        .remove_stale_temporaries()
        .map_err(|error| RunError::Setup(error.to_string()))?;
    for folder in [options.out.clone(), options.out.join("runs")] {
        remove_temporaries(&folder, TEMPORARY_PREFIX, STALE_TEMPORARY_AGE)
            .map_err(|error| RunError::Setup(error.to_string()))?;
    }
    phase_started = Instant::now();
    let transcriber = Transcriber::load(&options.model, options.asr.clone())
        .map_err(|error| RunError::Setup(error.to_string()))?;
    end_phase("wall_load_model", &mut phase_started);
    let asr_settings_key = options.asr.cache_key();

    let (calls, reused) = refuse_reused_call_ids(
        &store,
        discovery
            .calls
            .iter()
            .filter(|call| options.shard.contains(&call.call_id)),
    )
    .map_err(anyhow::Error::from)?;
    let problems: Vec<&DiscoveryProblem> = discovery
        .problems
        .iter()
        .filter(|problem| options.shard.contains(&problem.call_id))
        .chain(&reused)
        .collect();

    let mut summary = RunSummary {
        run_id: format!(
            "{}-shard{}of{}",
            started_at.format("%Y%m%dT%H%M%SZ"),
            options.shard.index,
            options.shard.count
        ),
        version: VERSION.to_string(),
        host: host_name(),
        input: options.input.display().to_string(),
        out: options.out.display().to_string(),
        shard: format!("{}/{}", options.shard.index, options.shard.count),
        started_at: Some(started_at),
        model_path: options.model.display().to_string(),
        model_id: model_id.clone(),
        asr_settings: asr_settings_key.clone(),
        rules_hash: analyzer.rules_hash().to_string(),
        workers: options.workers,
        threads_per_worker: options.asr.threads_per_worker,
        n_inputs: calls.len() + problems.len(),
        stage_seconds: phase_seconds,
        ..RunSummary::default()
    };

    // Inputs that never became calls still end in exactly one state: failed, at discovery.
    for problem in &problems {
        let spec = match &problem.spec {
            Some(call) => CallSpec {
                call_id: problem.call_id.clone(),
                ..(**call).clone()
            },
            None => CallSpec {
                call_id: problem.call_id.clone(),
                agent_id: "unknown".to_string(),
                path: problem.path.clone(),
                started_at: None,
                agent_channel: None,
                language: None,
            },
        };
        let failure = Failure {
            stage: "discover".to_string(),
            error: problem.kind.to_string(),
            message: problem.message.clone(),
        };
        // The same failure as last time keeps its first time: a problem without a start time
        // is dated by it, and must not move to a new date partition on every re-run.
        let processed_at = store
            .load_record(&problem.call_id)
            .ok()
            .flatten()
            .filter(|earlier| {
                matches!(&earlier.outcome, Outcome::Failed(earlier_failure)
                    if earlier_failure.stage == failure.stage && earlier_failure.error == failure.error)
            })
            .map_or_else(Utc::now, |earlier| earlier.processed_at);
        let record = CallRecord {
            spec,
            outcome: Outcome::Failed(failure),
            audio_sha256: None,
            model_id: None,
            asr_settings: None,
            processed_at,
            stage_seconds: BTreeMap::new(),
            decode_notes: Vec::new(),
        };
        store.save_record(&record).map_err(anyhow::Error::from)?;
        summary.n_failed += 1;
        summary.failures.push((
            problem.call_id.clone(),
            "discover".to_string(),
            problem.kind.to_string(),
            problem.message.clone(),
        ));
    }

    let n_workers = options.workers.max(1).min(calls.len().max(1));
    let workers: Vec<Mutex<crate::transcribe::Worker<'_>>> = (0..n_workers)
        .map(|_| transcriber.new_worker().map(Mutex::new))
        .collect::<Result<_, _>>()
        .map_err(|error| RunError::Setup(error.to_string()))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n_workers)
        .thread_name(|index| format!("callqa-worker-{index}"))
        .build()
        .map_err(|error| RunError::Setup(format!("cannot start worker threads: {error}")))?;
    let audio_path = AudioPath {
        store: &store,
        model_id: &model_id,
        asr_settings_key: &asr_settings_key,
        decode_options: &options.decode,
        vad_config: &options.vad,
    };
    let bar = progress_bar(calls.len(), options.show_progress);
    let audio_ms_done = std::sync::atomic::AtomicU64::new(0);
    let transcribe_started = Instant::now();
    let durations_ms: Vec<u64> = calls
        .iter()
        .map(|call| audio_duration_ms(&call.path))
        .collect();
    let queue = WorkQueue::longest_first(&durations_ms);
    let finished = Mutex::new(Vec::with_capacity(calls.len()));
    // Set when the run state cannot be written (disk full, permissions): every call after
    // that would be transcribed for nothing, so no worker takes another.
    let state_failed = std::sync::atomic::AtomicBool::new(false);
    pool.scope(|scope| {
        for worker in &workers {
            let (queue, finished, state_failed) = (&queue, &finished, &state_failed);
            let (audio_path, bar, audio_ms_done) = (&audio_path, &bar, &audio_ms_done);
            let calls = &calls;
            scope.spawn(move |_| {
                let mut worker = worker
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                while !state_failed.load(std::sync::atomic::Ordering::Relaxed)
                    && let Some(index) = queue.next()
                {
                    let call = calls[index];
                    let result = audio_path.process_isolated(&mut worker, call);
                    if result.is_err() {
                        state_failed.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    if let Ok(processed) = &result {
                        let total = audio_ms_done
                            .fetch_add(processed.audio_ms, std::sync::atomic::Ordering::Relaxed)
                            + processed.audio_ms;
                        bar.set_message(format!("{:.2} h audio", total as f64 / 3_600_000.0));
                    }
                    bar.inc(1);
                    finished
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .push((index, result));
                }
            });
        }
    });
    let mut results = finished
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Back to discovery order, which the summary and the tables follow.
    results.sort_by_key(|(index, _)| *index);
    let transcribe_wall = transcribe_started.elapsed().as_secs_f64();
    bar.finish_and_clear();

    for (index, result) in results {
        let call_id = &calls[index].call_id;
        let processed = result.map_err(anyhow::Error::from)?;
        match processed.progress {
            CallProgress::Cached => summary.n_cached += 1,
            CallProgress::Transcribed(whisper) => {
                summary.n_transcribed += 1;
                summary.n_whisper_windows += u64::from(whisper.n_windows);
                summary.n_tail_passes_refused += u64::from(whisper.n_tail_passes_refused);
                summary.n_beam_loops_ended += u64::from(whisper.n_beam_loops_ended);
                summary.n_regions_redecoded += u64::from(whisper.n_regions_redecoded);
                summary.n_short_readings_redecoded += u64::from(whisper.n_short_readings_redecoded);
                summary.n_short_readings_replaced += u64::from(whisper.n_short_readings_replaced);
                summary.audio_seconds_transcribed += processed.audio_ms as f64 / 1000.0;
            }
            CallProgress::Failed => {
                summary.n_failed += 1;
                if let Some(record) = store.load_record(call_id).map_err(anyhow::Error::from)?
                    && let Outcome::Failed(failure) = record.outcome
                {
                    summary.failures.push((
                        call_id.clone(),
                        failure.stage,
                        failure.error,
                        failure.message,
                    ));
                }
            }
        }
        for (stage, seconds) in processed.stage_seconds {
            *summary.stage_seconds.entry(stage).or_insert(0.0) += seconds;
        }
        for (kind, message) in processed.decode_notes {
            summary.decode_notes.push((call_id.clone(), kind, message));
        }
    }
    if summary.audio_seconds_transcribed > 0.0 && transcribe_wall > 0.0 {
        summary.throughput = Some(summary.audio_seconds_transcribed / transcribe_wall);
    }
    summary
        .stage_seconds
        .insert("wall_audio".to_string(), transcribe_wall);

    let tables_started = Instant::now();
    let written = write_dataset(
        &store,
        &analyzer,
        &options.out,
        options.shard,
        &calls,
        &mut summary,
        false,
    )?;
    summary.stage_seconds.insert(
        "wall_analyse_and_write".to_string(),
        tables_started.elapsed().as_secs_f64(),
    );
    summary.files_written = written;
    // Final states of this run's inputs (the dataset may hold earlier nights too).
    let input_ids = calls
        .iter()
        .map(|call| &call.call_id)
        .chain(problems.iter().map(|problem| &problem.call_id));
    for call_id in input_ids {
        match summary.call_status.get(call_id).map(String::as_str) {
            Some("scored") => summary.n_scored += 1,
            Some("not_scorable") => summary.n_not_scorable += 1,
            _ => {}
        }
    }
    summary.finished_at = Some(Utc::now());
    summary.wall_seconds = run_started.elapsed().as_secs_f64();
    write_run_manifest(&options.out, &summary)?;
    Ok(summary)
}

/// Brings this shard's tables and the report up to date with the run state. Shared by `run`
/// and `rescore`, so both produce the same rows from the same state and rules. `calls` are
/// the run's calls (none for `rescore`): earlier discovery failures of their recordings are
/// over, and their records go (see [`is_resolved_discovery_failure`]).
///
/// Tables are partitioned by call date, and a day is analysed and written again only when
/// what its rows are made of changed: its records (a call added, re-run or removed), the
/// rules, the analysis options or callqa's version ([`crate::days`]). A nightly run over one
/// night's calls therefore analyses and writes that night's days, not every night the
/// dataset holds; memory holds one day's rows at a time. `rebuild` (`rescore`) writes every
/// day again whatever its state says.
pub fn write_dataset(
    store: &Store,
    analyzer: &Analyzer,
    out: &Path,
    shard: Shard,
    calls: &[&CallSpec],
    summary: &mut RunSummary,
    rebuild: bool,
) -> Result<Vec<String>, RunError> {
    let _tables_lock = store.lock_tables().map_err(anyhow::Error::from)?;
    let stored = store.all_records().map_err(anyhow::Error::from)?;
    let call_paths: BTreeMap<String, &str> = calls
        .iter()
        .map(|call| {
            (
                call.path.to_string_lossy().into_owned(),
                call.call_id.as_str(),
            )
        })
        .collect();
    // This run's own discovery failures stand, whatever shares their path: a bad manifest row
    // naming the recording of a good row is still a bad row.
    let failed_now: std::collections::BTreeSet<String> = summary
        .failures
        .iter()
        .filter(|(_, stage, _, _)| stage == "discover")
        .map(|(call_id, ..)| call_id.clone())
        .collect();
    let mut current = Vec::with_capacity(stored.records.len());
    for record in stored.records {
        if !failed_now.contains(&record.spec.call_id)
            && is_resolved_discovery_failure(&record, &call_paths)
        {
            store
                .remove_record(&record.spec.call_id)
                .map_err(anyhow::Error::from)?;
        } else {
            current.push(record);
        }
    }
    // A damaged record belongs to no known call, hence to no shard: the first shard lists it.
    let damaged: &[crate::store::DamagedRecord] = if shard.index == 0 {
        &stored.damaged
    } else {
        &[]
    };
    // The batch split differently before (4 shards, now 2; or none): this shard's parts
    // replace the old ones, which hold every shard's rows. Written alone, they would leave the
    // other shards' calls out of the dataset until each of them has run; so the other shards'
    // parts of the new split are written here too, from the shared records (each shard
    // writes its own again when it runs).
    let resplit = crate::dataset::part_counts(out)
        .iter()
        .any(|&count| count != shard.count);
    let plan = crate::days::DayPlan::new(
        store,
        analyzer,
        out,
        shard,
        &current,
        damaged,
        rebuild || resplit,
    )
    .map_err(RunError::Other)?;
    if resplit {
        crate::days::forget_other_splits(store, shard.count).map_err(RunError::Other)?;
    }
    remove_table_temporaries(out).map_err(anyhow::Error::from)?;
    let mut written = crate::dataset::WrittenFiles::default();
    let outcome = plan
        .write(store, analyzer, out, &mut written)
        .map_err(RunError::Other)?;
    if resplit && shard.count > 1 {
        for index in (0..shard.count).filter(|&index| index != shard.index) {
            let other = Shard {
                index,
                count: shard.count,
            };
            crate::days::write_every_day(
                store,
                analyzer,
                out,
                other,
                &current,
                &stored.damaged,
                &mut written,
            )
            .map_err(RunError::Other)?;
        }
    }
    crate::dataset::prune_days(
        out,
        shard,
        &plan.days(),
        &plan.agent_days(),
        Utc::now().date_naive(),
        &mut written,
    )
    .map_err(|error| RunError::Other(error.into()))?;
    summary.dataset = outcome.summary;
    summary.n_days_written = outcome.n_days_written;
    summary.n_days = plan.days().len();
    summary.n_agent_days_written = outcome.n_agent_days_written;
    summary.call_status = outcome.statuses;
    let mut files: Vec<String> = written
        .files
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    // The report is read back from the dataset, so after a sharded run it covers every shard.
    crate::report::write_report(out, crate::report::Period::ALL, &out.join("report.html"))
        .map_err(anyhow::Error::from)?;
    files.push("report.html".to_string());
    Ok(files)
}

/// The tables of the dataset, each a folder of `call_date=…` partitions.
const TABLE_FOLDERS: &[&str] = &["calls", "segments", "findings", "agents", "failures"];

/// Removes the temporary part files that killed runs left in the tables, whichever shard
/// wrote them. Part files are written only under the tables lock (`Store::lock_tables`),
/// which the caller holds: no temporary part is being written now, so every one is a
/// left-over, however young, and one of a shard that never runs again (an earlier split)
/// would otherwise stay for good, with whatever text it holds (unredacted after a run with
/// `--keep-personal-data`) outside the private state folder.
fn remove_table_temporaries(out: &Path) -> Result<usize, crate::store::StoreError> {
    let prefix = format!("{TEMPORARY_PREFIX}part-");
    let mut removed = 0;
    for table in TABLE_FOLDERS {
        let Ok(partitions) = std::fs::read_dir(out.join(table)) else {
            continue;
        };
        for partition in partitions.flatten() {
            if partition
                .file_type()
                .is_ok_and(|file_type| file_type.is_dir())
            {
                let path = partition.path();
                removed += remove_temporaries(&path, &prefix, Duration::ZERO)?;
                // A partition that held nothing else goes with it.
                let _ = std::fs::remove_dir(&path);
            }
        }
    }
    Ok(removed)
}

fn write_run_manifest(out: &Path, summary: &RunSummary) -> Result<(), RunError> {
    let path = out.join("runs").join(format!("{}.json", summary.run_id));
    let json = serde_json::to_vec_pretty(summary).map_err(anyhow::Error::from)?;
    write_atomically(&path, &json, false).map_err(anyhow::Error::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_calls_go_first_and_ties_keep_input_order() {
        let queue = WorkQueue::longest_first(&[10, 50, 30, 200, 30]);
        let order: Vec<usize> = std::iter::from_fn(|| queue.next()).collect();
        assert_eq!(order, [3, 1, 2, 4, 0]);
        assert_eq!(queue.next(), None);
    }
}
