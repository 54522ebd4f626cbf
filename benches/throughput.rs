//! End-to-end throughput: callqa against the tools a team would use instead, on the same
//! machine, the same stereo fixture calls and the same Whisper base weights.
//!
//! ```sh
//! bash benches/throughput/run.sh            # set-up (benches/throughput/setup.sh), then this
//! bash benches/throughput/run.sh --repeat 1 --decoding greedy
//! ```
//!
//! Systems, each given the machine's cores as independent single-threaded workers (measured
//! here: 2 workers × 1 thread beats 1 × 2 for all three):
//! - **callqa**: `callqa run` over the stereo calls, the whole nightly job: decode, voice
//!   activity, transcription, analysis, Parquet, report. Its wall time includes all of that.
//! - **whisper.cpp CLI** (`whisper-cli`, built by setup.sh from the same whisper.cpp source and
//!   with the same build flags as callqa's): each channel as a 16 kHz mono file, the files
//!   shared out over one process per core.
//! - **faster-whisper** (CTranslate2, int8, its Silero VAD filter on): each channel as a 16 kHz
//!   mono file, one process with a worker per core.
//!
//! Splitting channels into mono files is done once, untimed: the other two systems get their
//! input ready-made, callqa reads the original μ-law/A-law stereo recordings.
//!
//! Decoding is the same for all: greedy (`--decoding greedy`) or beam search with 5 beams
//! (`beam5`); no temperature fallback, no conditioning on earlier text, non-speech tokens
//! suppressed. Everything else is each tool's default (whisper-cli runs with flash attention
//! off, which is faster on CPU).
//!
//! Reported per system and decoding: call-audio seconds per wall second (median of
//! `--repeat` runs, process start to exit), peak memory (resident set of the whole process
//! tree, sampled every 10 ms; the highest of the runs), and word errors against the fixtures'
//! scripts (`fixtures/expected.json`), English channels and the Spanish call; the Chinese call
//! as character errors. For callqa also the share of wall time spent in analysis and writing,
//! and, per language group, its word errors against each other system's with a paired
//! bootstrap interval over channels (`callqa::wer::paired_bootstrap`): on 198 English words a
//! difference of two words is within what a different set of calls would turn around.
//! The table goes to stdout (Markdown) and everything to `target/bench-work/throughput.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use callqa::store::{Outcome, Store};
use callqa::types::Speaker;
use callqa::wer::{ErrorCounts, PairedComparison, paired_bootstrap, word_errors};
use serde::Serialize;

const USAGE: &str = "usage: throughput [--repeat N] [--decoding greedy,beam5] \
[--systems callqa,whisper-cli,faster-whisper] [--workers N] [--threads N] [--model GGML] [--work DIR] \
[--callqa-args \"--full-encoder-context …\"] [--corpus fixtures|english|spanish|long]";

struct Options {
    repeat: usize,
    decodings: Vec<Decoding>,
    systems: Vec<System>,
    workers: usize,
    /// Threads per worker (whisper.cpp / CTranslate2 threads).
    threads: usize,
    model: PathBuf,
    work: PathBuf,
    /// `fixtures` (the stereo fixture calls), `english` or `spanish` (see [`corpus_calls`]),
    /// or `long` (see [`long_calls`]).
    corpus: String,
    /// More arguments for `callqa run`, to measure other settings (`--full-encoder-context`).
    callqa_args: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum System {
    Callqa,
    WhisperCli,
    FasterWhisper,
}

impl System {
    fn name(self) -> &'static str {
        match self {
            System::Callqa => "callqa",
            System::WhisperCli => "whisper.cpp CLI",
            System::FasterWhisper => "faster-whisper int8",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct Decoding {
    beam_size: usize,
}

impl Decoding {
    fn name(self) -> String {
        if self.beam_size <= 1 {
            "greedy".to_string()
        } else {
            format!("beam {}", self.beam_size)
        }
    }
}

fn parse_options() -> Result<Options> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let mut options = Options {
        repeat: 3,
        decodings: vec![Decoding { beam_size: 1 }, Decoding { beam_size: 5 }],
        systems: vec![System::Callqa, System::WhisperCli, System::FasterWhisper],
        workers: cores,
        threads: 1,
        // The format `callqa model install` picks for this CPU: bf16 or q8_0.
        model: root.join(format!(
            "target/bench-tools/models/ggml-base-{}.bin",
            callqa::model::Quantization::best_for_this_cpu()
        )),
        work: root.join("target/bench-work"),
        callqa_args: Vec::new(),
        corpus: "fixtures".to_string(),
    };
    // `cargo bench` adds `--bench`; anything else unknown is an error.
    let mut arguments = std::env::args()
        .skip(1)
        .filter(|argument| argument != "--bench");
    while let Some(flag) = arguments.next() {
        let mut value = || {
            arguments
                .next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--repeat" => options.repeat = value()?.parse().context("--repeat")?,
            "--workers" => options.workers = value()?.parse().context("--workers")?,
            "--threads" => options.threads = value()?.parse().context("--threads")?,
            "--model" => options.model = PathBuf::from(value()?),
            "--work" => options.work = PathBuf::from(value()?),
            "--corpus" => options.corpus = value()?,
            "--callqa-args" => {
                options.callqa_args = value()?.split_whitespace().map(str::to_string).collect()
            }
            "--decoding" => {
                options.decodings = value()?
                    .split(',')
                    .map(|name| match name {
                        "greedy" => Ok(Decoding { beam_size: 1 }),
                        "beam5" => Ok(Decoding { beam_size: 5 }),
                        other => bail!("unknown decoding {other:?} (greedy, beam5)"),
                    })
                    .collect::<Result<_>>()?
            }
            "--systems" => {
                options.systems = value()?
                    .split(',')
                    .map(|name| match name {
                        "callqa" => Ok(System::Callqa),
                        "whisper-cli" => Ok(System::WhisperCli),
                        "faster-whisper" => Ok(System::FasterWhisper),
                        other => bail!("unknown system {other:?}"),
                    })
                    .collect::<Result<_>>()?
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    ensure!(options.repeat >= 1 && options.workers >= 1, "{USAGE}");
    Ok(options)
}

/// One channel of one fixture call, with what was said on it.
struct Channel {
    call_id: String,
    language: String,
    /// 1 = left, 2 = right (sox's `remix` numbering).
    number: u16,
    speaker: Speaker,
    reference: String,
    /// The channel as a 16 kHz mono 16-bit file, for the tools that take one.
    mono_path: PathBuf,
    seconds: f64,
}

struct Corpus {
    manifest: PathBuf,
    channels: Vec<Channel>,
    audio_seconds: f64,
}

/// A stereo call of the corpus, with what each side said.
struct StereoCall {
    call_id: String,
    agent_id: String,
    path: PathBuf,
    language: String,
    /// "left" or "right".
    agent_side: String,
    seconds: f64,
    agent_reference: String,
    customer_reference: String,
}

fn run_sox(arguments: &[&std::ffi::OsStr]) -> Result<()> {
    let status = Command::new("sox")
        .arg("-R")
        .args(arguments)
        .status()
        .context("running sox (apt install sox)")?;
    ensure!(status.success(), "sox failed: {arguments:?}");
    Ok(())
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The stereo calls of `folder/manifest.csv` that `folder/expected.json` describes (the
/// format of the fixtures').
fn described_calls(fixtures: &Path) -> Result<Vec<StereoCall>> {
    let expected: serde_json::Value =
        serde_json::from_slice(&fs_err::read(fixtures.join("expected.json"))?)?;
    let mut reader = csv::Reader::from_path(fixtures.join("manifest.csv"))?;
    let headers = reader.headers()?.clone();
    let mut calls = Vec::new();
    for row in reader.records() {
        let row = row?;
        let field = |name: &str| {
            headers
                .iter()
                .position(|header| header == name)
                .and_then(|index| row.get(index))
                .unwrap_or("")
                .to_string()
        };
        let call_id = field("call_id");
        let Some(call) = expected.get(&call_id) else {
            continue;
        };
        // Mono calls have no agent channel; the malformed files have no duration.
        let Some(seconds) = call["duration_s"].as_f64() else {
            continue;
        };
        if field("agent_channel").is_empty() {
            continue;
        }
        let reference = |speaker: &str| {
            call[speaker]
                .as_array()
                .map(|sentences| {
                    sentences
                        .iter()
                        .filter_map(|sentence| sentence["text"].as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default()
        };
        calls.push(StereoCall {
            agent_id: field("agent_id"),
            path: fixtures.join(field("path")),
            language: field("language"),
            agent_side: field("agent_channel"),
            seconds,
            agent_reference: reference("agent"),
            customer_reference: reference("customer"),
            call_id,
        });
    }
    ensure!(
        !calls.is_empty(),
        "no stereo calls described in {}",
        fixtures.display()
    );
    Ok(calls)
}

/// The calls a corpus script writes (`make_english_corpus.sh`: 12 calls, 6.5 minutes, 983
/// words; `make_spanish_corpus.sh`: 8 calls in Spanish), made once into `work/calls`.
fn corpus_calls(work: &Path, script_name: &str) -> Result<Vec<StereoCall>> {
    let folder = work.join("calls");
    if !folder.join("expected.json").is_file() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("benches/throughput")
            .join(script_name);
        let status = Command::new("bash")
            .arg(&script)
            .arg(&folder)
            .status()
            .with_context(|| format!("running {}", script.display()))?;
        ensure!(status.success(), "{} failed", script.display());
    }
    described_calls(&folder)
}

/// Calls of contact-center length made of the English fixture calls: `n_calls` calls, each the
/// English calls `repeats` times over (agent turned to the left channel, G.711 µ-law 8 kHz),
/// in an order rotated per call so that no two calls are the same audio. With the defaults,
/// two calls of 5.6 minutes. Whisper then gets full 28 s windows, where fitting the encoder
/// context to short windows saves nothing.
fn long_calls(work: &Path, n_calls: usize, repeats: usize) -> Result<Vec<StereoCall>> {
    let english: Vec<StereoCall> = described_calls(&fixtures_dir())?
        .into_iter()
        .filter(|call| call.language == "en")
        .collect();
    let folder = work.join("long");
    fs_err::create_dir_all(&folder)?;
    // Each English call with the agent on the left, in one format, for sox to concatenate.
    let mut parts = Vec::new();
    for call in &english {
        let part = folder.join(format!("part-{}.wav", call.call_id));
        if !part.is_file() {
            let mut arguments: Vec<&std::ffi::OsStr> = vec![call.path.as_os_str()];
            arguments.extend(["-r", "8000", "-e", "mu-law"].map(std::ffi::OsStr::new));
            arguments.push(part.as_os_str());
            if call.agent_side == "right" {
                arguments.extend(["remix", "2", "1"].map(std::ffi::OsStr::new));
            }
            run_sox(&arguments)?;
        }
        parts.push(part);
    }
    let mut calls = Vec::new();
    for index in 0..n_calls {
        let order: Vec<usize> = (0..english.len())
            .map(|position| (position + index) % english.len())
            .collect();
        let sequence: Vec<usize> = (0..repeats).flat_map(|_| order.clone()).collect();
        let path = folder.join(format!(
            "long{}-{}x{}.wav",
            index + 1,
            english.len(),
            repeats
        ));
        if !path.is_file() {
            let mut arguments: Vec<&std::ffi::OsStr> = sequence
                .iter()
                .map(|&part| parts[part].as_os_str())
                .collect();
            arguments.push(path.as_os_str());
            run_sox(&arguments)?;
        }
        let join = |text: fn(&StereoCall) -> &str| {
            sequence
                .iter()
                .map(|&part| text(&english[part]))
                .filter(|text| !text.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        };
        calls.push(StereoCall {
            call_id: format!("long{}", index + 1),
            agent_id: "A100".to_string(),
            path,
            language: "en".to_string(),
            agent_side: "left".to_string(),
            seconds: sequence.iter().map(|&part| english[part].seconds).sum(),
            agent_reference: join(|call| &call.agent_reference),
            customer_reference: join(|call| &call.customer_reference),
        });
    }
    Ok(calls)
}

/// The corpus: its calls' channels split into mono files under `work/channels`, and a
/// manifest of just those calls for callqa.
fn prepare_corpus(work: &Path, calls: Vec<StereoCall>) -> Result<Corpus> {
    let channels_dir = work.join("channels");
    fs_err::create_dir_all(&channels_dir)?;
    let mut manifest = csv::Writer::from_writer(Vec::new());
    manifest.write_record([
        "call_id",
        "agent_id",
        "path",
        "started_at",
        "agent_channel",
        "language",
    ])?;
    let mut channels = Vec::new();
    let mut audio_seconds = 0.0;
    for call in &calls {
        manifest.write_record([
            call.call_id.as_str(),
            &call.agent_id,
            &call.path.display().to_string(),
            "2024-03-14T09:00:00+01:00",
            &call.agent_side,
            &call.language,
        ])?;
        audio_seconds += call.seconds;
        for (number, side) in [(1u16, "left"), (2, "right")] {
            let (speaker, reference) = if side == call.agent_side {
                (Speaker::Agent, &call.agent_reference)
            } else {
                (Speaker::Customer, &call.customer_reference)
            };
            let mono_path = channels_dir.join(format!("{}_ch{number}.wav", call.call_id));
            if !mono_path.is_file() {
                let number_text = number.to_string();
                run_sox(&[
                    call.path.as_os_str(),
                    "-r".as_ref(),
                    "16000".as_ref(),
                    "-b".as_ref(),
                    "16".as_ref(),
                    "-e".as_ref(),
                    "signed-integer".as_ref(),
                    mono_path.as_os_str(),
                    "remix".as_ref(),
                    number_text.as_ref(),
                ])?;
            }
            channels.push(Channel {
                call_id: call.call_id.clone(),
                language: call.language.clone(),
                number,
                speaker,
                reference: reference.clone(),
                mono_path,
                seconds: call.seconds,
            });
        }
    }
    let manifest_path = work.join("manifest.csv");
    fs_err::write(&manifest_path, manifest.into_inner()?)?;
    Ok(Corpus {
        manifest: manifest_path,
        channels,
        audio_seconds,
    })
}

/// Peak resident memory of a process and all its descendants, sampled from /proc.
struct MemorySampler {
    stop: Arc<AtomicBool>,
    peak_kib: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl MemorySampler {
    fn start(root_pid: u32) -> MemorySampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak_kib = Arc::new(AtomicU64::new(0));
        let thread = {
            let stop = stop.clone();
            let peak_kib = peak_kib.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let total = tree_rss_kib(root_pid);
                    peak_kib.fetch_max(total, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        MemorySampler {
            stop,
            peak_kib,
            thread,
        }
    }

    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peak_kib.load(Ordering::Relaxed)
    }
}

/// Sum of VmRSS over the descendants of `root` (processes that exit between the two reads are
/// skipped).
fn tree_rss_kib(root: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut parent_of: BTreeMap<u32, u32> = BTreeMap::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command name is in parentheses and may hold spaces: fields follow the last ')'.
        let Some(after_name) = stat.rfind(')').map(|index| &stat[index + 1..]) else {
            continue;
        };
        if let Some(parent) = after_name
            .split_whitespace()
            .nth(1)
            .and_then(|field| field.parse().ok())
        {
            parent_of.insert(pid, parent);
        }
    }
    let in_tree = |mut pid: u32| {
        for _ in 0..64 {
            if pid == root {
                return true;
            }
            match parent_of.get(&pid) {
                Some(&parent) if parent != 0 => pid = parent,
                _ => return false,
            }
        }
        false
    };
    parent_of
        .keys()
        .filter(|&&pid| pid != root && in_tree(pid))
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum()
}

/// Runs `commands` at once (one process each) and waits for all: wall seconds from the first
/// start to the last exit, and the peak memory of all of them together.
fn run_timed(commands: Vec<Command>, label: &str) -> Result<(f64, u64)> {
    let started = Instant::now();
    let mut children: Vec<(Child, String)> = Vec::new();
    for mut command in commands {
        let description = format!("{command:?}");
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("{label}: cannot start {description}"))?;
        children.push((child, description));
    }
    // This process is the parent of them all: its descendants are exactly their trees.
    let sampler = MemorySampler::start(std::process::id());
    let mut failures = Vec::new();
    for (child, description) in children {
        let output = child.wait_with_output()?;
        if !output.status.success() {
            failures.push(format!(
                "{description} exited with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let peak = sampler.finish();
    ensure!(failures.is_empty(), "{label}: {}", failures.join("\n"));
    Ok((wall, peak))
}

/// What one run of one system produced.
struct RunResult {
    wall_seconds: f64,
    peak_kib: u64,
    /// Hypothesis text per channel, in corpus order.
    texts: Vec<String>,
    /// callqa only: wall seconds of analysis and writing, and of the whole run, from its
    /// run manifest.
    analysis_seconds: Option<f64>,
}

fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-tools")
}

/// Checks that setup.sh made `tool`, and gives the run an empty output folder.
fn prepare_tool(tool: &Path, out: &Path) -> Result<PathBuf> {
    ensure!(
        tool.is_file(),
        "{} is missing: run benches/throughput/setup.sh",
        tool.display()
    );
    if out.exists() {
        fs_err::remove_dir_all(out)?;
    }
    fs_err::create_dir_all(out)?;
    Ok(tool.to_path_buf())
}

fn run_callqa(
    options: &Options,
    corpus: &Corpus,
    decoding: Decoding,
    out: &Path,
) -> Result<RunResult> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if out.exists() {
        fs_err::remove_dir_all(out)?;
    }
    let mut command = Command::new(root.join("target/release/callqa"));
    command
        .arg("run")
        .arg(&corpus.manifest)
        .arg("--out")
        .arg(out)
        .arg("--model")
        .arg(&options.model)
        .args(["--workers", &options.workers.to_string()])
        .args(["--threads", &options.threads.to_string()])
        .args(["--beam-size", &decoding.beam_size.to_string()])
        .arg("--rules")
        .arg(root.join("rules"))
        .arg("--quiet");
    command.args(&options.callqa_args);
    let (wall_seconds, peak_kib) = run_timed(vec![command], "callqa")?;

    let store = Store::open(out)?;
    let mut texts = Vec::new();
    let records = store.all_records()?.records;
    for channel in &corpus.channels {
        let record = records
            .iter()
            .find(|record| record.spec.call_id == channel.call_id)
            .with_context(|| format!("callqa wrote no record for {}", channel.call_id))?;
        let Outcome::Transcribed { transcript_key } = &record.outcome else {
            bail!("callqa failed on {}", channel.call_id);
        };
        let transcript = store
            .load_transcript(transcript_key)?
            .context("transcript missing")?;
        let text = transcript
            .segments_of(channel.speaker)
            .map(|segment| segment.text.trim())
            .collect::<Vec<_>>()
            .join(" ");
        texts.push(text);
    }
    let run_manifest = fs_err::read_dir(out.join("runs"))?
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .context("callqa wrote no run manifest")?;
    let summary: serde_json::Value = serde_json::from_slice(&fs_err::read(run_manifest)?)?;
    let analysis_seconds = summary["stage_seconds"]["wall_analyse_and_write"].as_f64();
    Ok(RunResult {
        wall_seconds,
        peak_kib,
        texts,
        analysis_seconds,
    })
}

/// Longest first onto the least loaded of `n` lists: the same balance a work queue gets.
fn share_out(channels: &[Channel], n: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..channels.len()).collect();
    order.sort_by(|&a, &b| channels[b].seconds.total_cmp(&channels[a].seconds));
    let mut lists = vec![Vec::new(); n];
    let mut load = vec![0.0f64; n];
    for index in order {
        let lightest = (0..n).min_by(|&a, &b| load[a].total_cmp(&load[b])).unwrap();
        load[lightest] += channels[index].seconds;
        lists[lightest].push(index);
    }
    lists.retain(|list| !list.is_empty());
    lists
}

fn run_whisper_cli(
    options: &Options,
    corpus: &Corpus,
    decoding: Decoding,
    out: &Path,
) -> Result<RunResult> {
    let binary = prepare_tool(&tools_dir().join("whisper-cli"), out)?;
    // One process per worker. whisper-cli takes one `-l` for all its files, so each worker
    // runs it once per language among its files, one after another, as a user's loop would.
    let mut commands = Vec::new();
    let mut output_of = vec![PathBuf::new(); corpus.channels.len()];
    for (process, list) in share_out(&corpus.channels, options.workers)
        .into_iter()
        .enumerate()
    {
        let mut by_language: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for index in list {
            by_language
                .entry(&corpus.channels[index].language)
                .or_default()
                .push(index);
        }
        let mut script = String::from("set -e\n");
        for (language, indices) in by_language {
            let mut line = format!(
                "{} -m {} -l {language} -t {} -bs {} -bo 1 -nf -nfa -mc 0 -sns -np -otxt",
                shell_quote(&binary),
                shell_quote(&options.model),
                options.threads,
                decoding.beam_size.max(1),
            );
            for index in indices {
                // whisper-cli writes <output>.txt; give each file its own name in `out`.
                let stem = out.join(format!("p{process}-{index}"));
                line.push_str(&format!(
                    " -of {} {}",
                    shell_quote(&stem),
                    shell_quote(&corpus.channels[index].mono_path)
                ));
                output_of[index] = stem.with_extension("txt");
            }
            script.push_str(&line);
            script.push('\n');
        }
        let mut command = Command::new("bash");
        command.arg("-c").arg(script);
        commands.push(command);
    }
    let (wall_seconds, peak_kib) = run_timed(commands, "whisper-cli")?;
    let texts = output_of
        .iter()
        .map(|path| {
            fs_err::read_to_string(path)
                .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok(RunResult {
        wall_seconds,
        peak_kib,
        texts,
        analysis_seconds: None,
    })
}

fn run_faster_whisper(
    options: &Options,
    corpus: &Corpus,
    decoding: Decoding,
    out: &Path,
) -> Result<RunResult> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = prepare_tool(&tools_dir().join("venv/bin/python"), out)?;
    let result_path = out.join("texts.json");
    let mut command = Command::new(python);
    command
        .arg(root.join("benches/throughput/faster_whisper_run.py"))
        .arg("--model")
        .arg(tools_dir().join("ct2-base"))
        .arg("--out")
        .arg(&result_path)
        .args(["--beam-size", &decoding.beam_size.to_string()])
        .args(["--workers", &options.workers.to_string()])
        .args(["--threads", &options.threads.to_string()])
        .args(["--compute-type", "int8"]);
    // Longest first, like the CLI's share-out: the thread pool then balances well.
    for list in share_out(&corpus.channels, 1) {
        for index in list {
            let channel = &corpus.channels[index];
            command.arg(format!(
                "{}:{}",
                channel.mono_path.display(),
                channel.language
            ));
        }
    }
    let (wall_seconds, peak_kib) = run_timed(vec![command], "faster-whisper")?;
    let texts_by_path: BTreeMap<String, String> =
        serde_json::from_slice(&fs_err::read(&result_path)?)?;
    let texts = corpus
        .channels
        .iter()
        .map(|channel| {
            texts_by_path
                .get(&channel.mono_path.display().to_string())
                .cloned()
                .with_context(|| format!("no text for {}", channel.mono_path.display()))
        })
        .collect::<Result<_>>()?;
    Ok(RunResult {
        wall_seconds,
        peak_kib,
        texts,
        analysis_seconds: None,
    })
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// Word errors per language group: "en", "es" (words) and "zh" (characters).
fn errors_by_language(corpus: &Corpus, texts: &[String]) -> BTreeMap<String, ErrorCounts> {
    let mut errors: BTreeMap<String, ErrorCounts> = BTreeMap::new();
    for (channel, text) in corpus.channels.iter().zip(texts) {
        errors
            .entry(channel.language.clone())
            .or_default()
            .add(word_errors(&channel.reference, text));
    }
    errors
}

#[derive(Serialize)]
struct Row {
    system: System,
    system_name: &'static str,
    decoding: String,
    beam_size: usize,
    workers: usize,
    threads: usize,
    audio_seconds: f64,
    wall_seconds: Vec<f64>,
    median_wall_seconds: f64,
    audio_seconds_per_wall_second: f64,
    peak_memory_mib: f64,
    word_errors: BTreeMap<String, ErrorCounts>,
    /// callqa: analysis, scoring and writing as a share of the run's wall time.
    analysis_share: Option<f64>,
    /// Per channel: call id, channel number (1 = left), text, its errors.
    texts: Vec<(String, u16, String, ErrorCounts)>,
    /// callqa: its word errors against each other system's with the same decoding.
    comparisons: Vec<Comparison>,
}

/// callqa against another system, one language group, paired by channel.
#[derive(Serialize)]
struct Comparison {
    other: &'static str,
    language: String,
    #[serde(flatten)]
    paired: PairedComparison,
}

/// Bootstrap draws for the word-error comparisons, and their seed (fixed: the same texts give
/// the same report).
const BOOTSTRAP_RESAMPLES: usize = 10_000;
const BOOTSTRAP_SEED: u64 = 2004;
/// Below this many channels a resampled interval says nothing (two channels give three
/// possible draws); the difference is printed alone.
const MIN_CHANNELS_FOR_INTERVAL: usize = 8;

/// callqa's word errors against `other`'s on the same channels, per language group.
fn compare_errors(corpus: &Corpus, callqa: &Row, other: &Row) -> Vec<Comparison> {
    let languages: std::collections::BTreeSet<&String> = corpus
        .channels
        .iter()
        .map(|channel| &channel.language)
        .collect();
    languages
        .into_iter()
        .filter_map(|language| {
            let pairs: Vec<(ErrorCounts, ErrorCounts)> = corpus
                .channels
                .iter()
                .zip(callqa.texts.iter().zip(&other.texts))
                .filter(|(channel, _)| &channel.language == language)
                .map(|(_, (ours, theirs))| (ours.3, theirs.3))
                .collect();
            let paired = paired_bootstrap(&pairs, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED)?;
            Some(Comparison {
                other: other.system_name,
                language: language.clone(),
                paired,
            })
        })
        .collect()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn percent(errors: Option<&ErrorCounts>) -> String {
    match errors {
        Some(errors) if errors.reference_words > 0 => format!(
            "{:.1} % ({}/{})",
            100.0 * errors.rate(),
            errors.errors(),
            errors.reference_words
        ),
        _ => "–".to_string(),
    }
}

fn main() -> Result<()> {
    let options = parse_options()?;
    ensure!(
        options.model.is_file(),
        "{} is missing: run benches/throughput/setup.sh",
        options.model.display()
    );
    // Each corpus in its own folder: file names repeat between them.
    let work = options.work.join(&options.corpus);
    fs_err::create_dir_all(&work)?;
    let calls = match options.corpus.as_str() {
        "fixtures" => described_calls(&fixtures_dir())?,
        "english" => corpus_calls(&work, "make_english_corpus.sh")?,
        "spanish" => corpus_calls(&work, "make_spanish_corpus.sh")?,
        "long" => long_calls(&work, 2, 4)?,
        other => bail!("unknown corpus {other:?} (fixtures, english, spanish, long)"),
    };
    let corpus = prepare_corpus(&work, calls)?;
    eprintln!(
        "throughput: corpus {}: {} stereo calls, {} channels, {:.1} s of call audio; {} workers; model {}",
        options.corpus,
        corpus.channels.len() / 2,
        corpus.channels.len(),
        corpus.audio_seconds,
        options.workers,
        options.model.display()
    );

    let mut rows = Vec::new();
    for &decoding in &options.decodings {
        for &system in &options.systems {
            let mut walls = Vec::new();
            let mut peak_kib = 0;
            let mut last = None;
            let mut analysis_shares = Vec::new();
            for repeat in 0..options.repeat {
                let out = work.join(format!(
                    "{}-beam{}",
                    serde_json::to_value(system)?.as_str().unwrap_or("system"),
                    decoding.beam_size
                ));
                let result = match system {
                    System::Callqa => run_callqa(&options, &corpus, decoding, &out),
                    System::WhisperCli => run_whisper_cli(&options, &corpus, decoding, &out),
                    System::FasterWhisper => run_faster_whisper(&options, &corpus, decoding, &out),
                }
                .with_context(|| format!("{} ({})", system.name(), decoding.name()))?;
                eprintln!(
                    "  {} {} run {}: {:.2} s, {:.0} MiB",
                    system.name(),
                    decoding.name(),
                    repeat + 1,
                    result.wall_seconds,
                    result.peak_kib as f64 / 1024.0
                );
                walls.push(result.wall_seconds);
                peak_kib = peak_kib.max(result.peak_kib);
                if let Some(seconds) = result.analysis_seconds {
                    analysis_shares.push(seconds / result.wall_seconds);
                }
                last = Some(result);
            }
            let last = last.expect("at least one repeat");
            let median_wall = median(&walls);
            rows.push(Row {
                system,
                system_name: system.name(),
                decoding: decoding.name(),
                beam_size: decoding.beam_size,
                workers: options.workers,
                threads: options.threads,
                audio_seconds: corpus.audio_seconds,
                wall_seconds: walls,
                median_wall_seconds: median_wall,
                audio_seconds_per_wall_second: corpus.audio_seconds / median_wall,
                peak_memory_mib: peak_kib as f64 / 1024.0,
                word_errors: errors_by_language(&corpus, &last.texts),
                analysis_share: (!analysis_shares.is_empty()).then(|| median(&analysis_shares)),
                texts: corpus
                    .channels
                    .iter()
                    .zip(&last.texts)
                    .map(|(channel, text)| {
                        (
                            channel.call_id.clone(),
                            channel.number,
                            text.clone(),
                            word_errors(&channel.reference, text),
                        )
                    })
                    .collect(),
                comparisons: Vec::new(),
            });
        }
    }
    for index in 0..rows.len() {
        if rows[index].system != System::Callqa {
            continue;
        }
        let comparisons = rows
            .iter()
            .filter(|other| {
                other.system != System::Callqa && other.beam_size == rows[index].beam_size
            })
            .flat_map(|other| compare_errors(&corpus, &rows[index], other))
            .collect();
        rows[index].comparisons = comparisons;
    }

    println!(
        "\n{} stereo calls (corpus {}, {:.1} s of call audio), {} workers × {} threads, Whisper base\n",
        corpus.channels.len() / 2,
        options.corpus,
        corpus.audio_seconds,
        options.workers,
        options.threads
    );
    println!(
        "| system | decoding | call-audio s / wall s | wall s (median of {}) | peak memory | WER en | WER es | CER zh |",
        options.repeat
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {:.1} | {:.2} | {:.0} MiB | {} | {} | {} |",
            row.system_name,
            row.decoding,
            row.audio_seconds_per_wall_second,
            row.median_wall_seconds,
            row.peak_memory_mib,
            percent(row.word_errors.get("en")),
            percent(row.word_errors.get("es")),
            percent(row.word_errors.get("zh")),
        );
    }
    println!();
    for row in &rows {
        if row.system != System::Callqa {
            continue;
        }
        if let Some(share) = row.analysis_share {
            println!(
                "callqa ({}): analysis, scoring, Parquet and report take {:.2} % of the run's wall time",
                row.decoding,
                100.0 * share
            );
        }
        for other in &rows {
            if other.system != System::Callqa && other.beam_size == row.beam_size {
                println!(
                    "callqa ({}) is {:.2}× {}",
                    row.decoding,
                    row.audio_seconds_per_wall_second / other.audio_seconds_per_wall_second,
                    other.system_name
                );
            }
        }
        for comparison in &row.comparisons {
            let paired = &comparison.paired;
            let (low, high) = paired.interval_points;
            if paired.n_utterances < MIN_CHANNELS_FOR_INTERVAL {
                println!(
                    "callqa ({}) vs {}, {}: {:+} errors over {} channels, too few to tell",
                    row.decoding,
                    comparison.other,
                    comparison.language,
                    paired.error_difference,
                    paired.n_utterances
                );
                continue;
            }
            println!(
                "callqa ({}) vs {}, {}: {:+} errors ({:+.1} points), 95 % interval [{:+.1}, {:+.1}] \
                 over {} channels; callqa fewer in {:.0} %, more in {:.0} % of draws{}",
                row.decoding,
                comparison.other,
                comparison.language,
                paired.error_difference,
                paired.rate_difference_points,
                low,
                high,
                paired.n_utterances,
                100.0 * paired.first_better_share,
                100.0 * paired.first_worse_share,
                if paired.is_inconclusive() {
                    ": the interval holds 0, this set cannot tell them apart"
                } else {
                    ""
                }
            );
        }
    }
    let report_path = work.join("throughput.json");
    fs_err::write(&report_path, serde_json::to_vec_pretty(&rows)?)?;
    eprintln!("throughput: details in {}", report_path.display());
    Ok(())
}
