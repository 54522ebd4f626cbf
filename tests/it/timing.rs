//! Timing, acoustics and tone end to end: synthesised stereo calls with planted events (a late
//! first word, dead air, the agent talking over the customer, an agitated agent turn), the same
//! calls without them, mono mixes and calls with one silent channel, through `callqa run` with
//! the real model; read back from Parquet.
//!
//! The calls are generated into a temporary folder by `fixtures/make_timing_fixtures.sh`
//! (espeak-ng and sox, installed by `scripts/setup.sh`; ~3.5 MB of audio, too much to commit),
//! which also writes `planted.json`: every sentence and every planted event with its times.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use polars::prelude::*;
use serde_json::Value;

use crate::support::{callqa, read_table, repository_root, rows_where, stderr_of, strings};

/// How far a finding may be from the planted event, in ms (VAD edges, region padding).
const TOLERANCE_MS: f64 = 1_000.0;

/// The rule categories this file is about.
const TIMING_CATEGORIES: &[&str] = &["silence", "answer_delay", "overtalk", "tone", "speech_rate"];

struct TimingRun {
    _folder: tempfile::TempDir,
    out: PathBuf,
    planted: BTreeMap<String, Value>,
    exit_code: Option<i32>,
    stderr: String,
}

/// Generates the calls and runs `callqa run` over them once for every test of this file.
fn timing_run() -> &'static TimingRun {
    static RUN: OnceLock<TimingRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let folder = tempfile::tempdir().unwrap();
        let calls = folder.path().join("calls");
        let script = repository_root().join("fixtures/make_timing_fixtures.sh");
        let generated = Command::new("bash")
            .arg(&script)
            .arg(&calls)
            .output()
            .expect("bash starts");
        assert!(
            generated.status.success(),
            "{} failed (espeak-ng and sox are needed: run scripts/setup.sh):\n{}",
            script.display(),
            stderr_of(&generated)
        );
        let planted: BTreeMap<String, Value> =
            serde_json::from_str(&std::fs::read_to_string(calls.join("planted.json")).unwrap())
                .unwrap();
        let out = folder.path().join("out");
        let output = callqa(&[
            "run",
            calls.join("manifest.csv").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        TimingRun {
            _folder: folder,
            out,
            planted,
            exit_code: output.status.code(),
            stderr: stderr_of(&output),
        }
    })
}

/// A numeric column as f64 cells (any integer or float type; nulls stay `None`).
fn numbers(frame: &DataFrame, column: &str) -> Vec<Option<f64>> {
    frame
        .column(column)
        .unwrap_or_else(|error| panic!("{column}: {error}"))
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .into_iter()
        .collect()
}

fn number(frame: &DataFrame, column: &str) -> Option<f64> {
    numbers(frame, column).first().copied().flatten()
}

fn string(frame: &DataFrame, column: &str) -> Option<String> {
    strings(frame, column).first().cloned().flatten()
}

/// One row of the `findings` table, as the tests need it.
#[derive(Debug, Clone)]
struct FoundRow {
    rule_id: String,
    category: String,
    severity: String,
    points: f64,
    speaker: String,
    start_ms: Option<f64>,
    end_ms: Option<f64>,
    evidence: String,
}

fn findings_of(call_id: &str) -> Vec<FoundRow> {
    let findings = rows_where(
        &read_table(&timing_run().out, "findings"),
        "call_id",
        call_id,
    );
    let rule_ids = strings(&findings, "rule_id");
    let categories = strings(&findings, "category");
    let severities = strings(&findings, "severity");
    let points = numbers(&findings, "points");
    let speakers = strings(&findings, "speaker");
    let starts = numbers(&findings, "start_ms");
    let ends = numbers(&findings, "end_ms");
    let evidence = strings(&findings, "evidence");
    (0..findings.height())
        .map(|index| FoundRow {
            rule_id: rule_ids[index].clone().unwrap(),
            category: categories[index].clone().unwrap(),
            severity: severities[index].clone().unwrap(),
            points: points[index].unwrap(),
            speaker: speakers[index].clone().unwrap(),
            start_ms: starts[index],
            end_ms: ends[index],
            evidence: evidence[index].clone().unwrap(),
        })
        .collect()
}

fn timing_findings_of(call_id: &str) -> Vec<FoundRow> {
    findings_of(call_id)
        .into_iter()
        .filter(|finding| TIMING_CATEGORIES.contains(&finding.category.as_str()))
        .collect()
}

fn call_row(call_id: &str) -> DataFrame {
    let row = rows_where(&read_table(&timing_run().out, "calls"), "call_id", call_id);
    assert_eq!(row.height(), 1, "one calls row for {call_id}");
    row
}

/// A planted event: its kind (= the finding category) and times in ms.
struct Planted {
    kind: String,
    start_ms: f64,
    end_ms: f64,
}

fn planted_events(call_id: &str) -> Vec<Planted> {
    timing_run().planted[call_id]["planted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| Planted {
            kind: event["kind"].as_str().unwrap().to_string(),
            start_ms: event["start_s"].as_f64().unwrap() * 1000.0,
            end_ms: event["end_s"].as_f64().unwrap() * 1000.0,
        })
        .collect()
}

fn seconds(milliseconds: Option<f64>) -> String {
    milliseconds.map_or("-".to_string(), |ms| format!("{:.2}", ms / 1000.0))
}

fn near(found: Option<f64>, planted: f64) -> bool {
    found.is_some_and(|found| (found - planted).abs() <= TOLERANCE_MS)
}

#[test]
fn the_run_processes_every_generated_call() {
    let run = timing_run();
    assert_eq!(run.exit_code, Some(0), "{}", run.stderr);
    let calls = read_table(&run.out, "calls");
    let mut call_ids: Vec<String> = strings(&calls, "call_id").into_iter().flatten().collect();
    call_ids.sort();
    let expected: Vec<String> = run.planted.keys().cloned().collect();
    assert_eq!(call_ids, expected);
}

/// Each planted event of the stereo call is flagged in its category, held against the agent,
/// with start and end within a second of where it was planted; nothing else of these
/// categories is flagged.
#[test]
fn planted_events_are_flagged_in_their_category_at_their_time() {
    let call_id = "t01_events";
    let found = timing_findings_of(call_id);
    let planted = planted_events(call_id);
    let mut kinds: Vec<&str> = planted.iter().map(|event| event.kind.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, ["answer_delay", "overtalk", "silence", "tone"]);

    let mut table =
        String::from("\nevent          planted start–end (s)   found start–end (s)   rule\n");
    let mut problems = Vec::new();
    for event in &planted {
        let in_category: Vec<&FoundRow> = found
            .iter()
            .filter(|finding| finding.category == event.kind)
            .collect();
        let matching = in_category.iter().find(|finding| {
            near(finding.start_ms, event.start_ms) && near(finding.end_ms, event.end_ms)
        });
        match matching {
            Some(finding) => {
                table.push_str(&format!(
                    "{:<14} {:>8.2}–{:<8.2}        {:>7}–{:<7}       {}\n",
                    event.kind,
                    event.start_ms / 1000.0,
                    event.end_ms / 1000.0,
                    seconds(finding.start_ms),
                    seconds(finding.end_ms),
                    finding.rule_id
                ));
                if finding.speaker != "agent" || finding.points <= 0.0 {
                    problems.push(format!(
                        "{}: not held against the agent: {finding:?}",
                        event.kind
                    ));
                }
            }
            None => problems.push(format!(
                "{} planted at {:.2}–{:.2} s not found; findings of that category: {in_category:?}",
                event.kind,
                event.start_ms / 1000.0,
                event.end_ms / 1000.0
            )),
        }
    }
    eprintln!("{table}");
    // One finding per planted event, none of these categories besides.
    let mut found_categories: Vec<&str> = found
        .iter()
        .map(|finding| finding.category.as_str())
        .collect();
    found_categories.sort();
    if found_categories != kinds {
        problems.push(format!(
            "categories found {found_categories:?}, planted {kinds:?}"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The agitated turn is explained by the measured rises and its words. Planted: +8 dB,
    // +300 cents, +25 % against the same sentence in the ordinary voice; measured against the
    // median of the agent's other turns, whose sentences differ in level (±2 dB at the same
    // peak) and in words per second, so the bands are wide.
    let tone = found
        .iter()
        .find(|finding| finding.category == "tone")
        .unwrap();
    assert_eq!(tone.severity, "major", "{tone:?}");
    let rise = |suffix: &str| -> f64 {
        let before = tone
            .evidence
            .split(suffix)
            .next()
            .filter(|before| before.len() < tone.evidence.len())
            .unwrap_or_else(|| panic!("no {suffix:?} in {}", tone.evidence));
        let number = before.rsplit('+').next().unwrap().trim();
        number
            .parse()
            .unwrap_or_else(|_| panic!("{number:?} before {suffix:?}"))
    };
    let louder_db = rise("dB louder than own baseline");
    let higher_cents = rise("cents higher");
    let faster_percent = rise("% faster");
    assert!((6.0..=11.5).contains(&louder_db), "{}", tone.evidence);
    assert!((225.0..=375.0).contains(&higher_cents), "{}", tone.evidence);
    assert!(faster_percent >= 15.0, "{}", tone.evidence);
    assert!(tone.evidence.contains("words: '"), "{}", tone.evidence);
    eprintln!(
        "agitated turn measured: +{louder_db} dB, +{higher_cents} cents, +{faster_percent} % \
         (planted +8 dB, +300 cents, +25 %)"
    );

    let call = call_row(call_id);
    assert_eq!(string(&call, "agent_tone").as_deref(), Some("agitated"));
    assert_eq!(number(&call, "n_interruptions"), Some(1.0));
    assert_eq!(number(&call, "n_dead_air"), Some(1.0));
    // The faster turn raises the agent's pace, but one turn does not make a fast call: the
    // speech-rate rule is about the whole call (180 words per minute).
    let pace = number(&call, "agent_words_per_minute").unwrap();
    let control_pace = number(&call_row("t02_control"), "agent_words_per_minute").unwrap();
    assert!(
        pace > control_pace && pace <= 180.0,
        "{pace} vs {control_pace}"
    );
    eprintln!("agent words per minute: {pace:.0} (control {control_pace:.0})");
}

/// Only the planted agent turn is aroused; the agent's other turns, in this call and in the
/// control, stay within ordinary variation.
#[test]
fn only_the_agitated_turn_has_high_arousal() {
    let run = timing_run();
    let segments = read_table(&run.out, "segments");
    let tone_event = planted_events("t01_events")
        .into_iter()
        .find(|event| event.kind == "tone")
        .unwrap();
    for call_id in ["t01_events", "t02_control"] {
        let agent = rows_where(
            &rows_where(&segments, "call_id", call_id),
            "speaker",
            "agent",
        );
        let starts = numbers(&agent, "start_ms");
        let ends = numbers(&agent, "end_ms");
        let arousal = numbers(&agent, "arousal");
        assert!(agent.height() >= 5, "{call_id}: {agent}");
        for index in 0..agent.height() {
            let (start_ms, end_ms) = (starts[index].unwrap(), ends[index].unwrap());
            let value = arousal[index].unwrap_or_else(|| panic!("{call_id}: no agent arousal"));
            let is_agitated_turn = call_id == "t01_events"
                && start_ms < tone_event.end_ms
                && end_ms > tone_event.start_ms;
            if is_agitated_turn {
                assert!(value >= 0.7, "{call_id} at {start_ms} ms: arousal {value}");
            } else {
                assert!(value < 0.4, "{call_id} at {start_ms} ms: arousal {value}");
            }
        }
    }
}

/// The same calls without the events get no finding of these categories, in stereo and mono.
#[test]
fn control_calls_get_no_timing_or_tone_findings() {
    for call_id in ["t02_control", "t04_control_mono"] {
        assert!(planted_events(call_id).is_empty(), "{call_id}");
        let found = timing_findings_of(call_id);
        assert!(found.is_empty(), "{call_id}: {found:#?}");
    }
    let call = call_row("t02_control");
    assert_eq!(string(&call, "agent_tone").as_deref(), Some("calm"));
    assert!(number(&call, "answer_delay_ms").unwrap() < 2_000.0);
    assert!(number(&call, "longest_silence_ms").unwrap() < 2_000.0);
    assert_eq!(number(&call, "n_dead_air"), Some(0.0));
    // Turns follow each other 0.5–0.6 s apart: no overtalk (voice activity's 200 ms padding
    // on both turns once made 100–300 ms of it on every stereo call).
    assert_eq!(number(&call, "overtalk_ms"), Some(0.0));
    assert_eq!(number(&call, "n_interruptions"), Some(0.0));
    assert!(number(&call, "agent_words_per_minute").unwrap() <= 180.0);
}

/// A mono mix of the event call: silence is still measured and found (nobody can be named),
/// everything that needs to know who spoke is absent rather than guessed.
#[test]
fn mono_call_finds_dead_air_and_leaves_speaker_metrics_absent() {
    let call_id = "t03_events_mono";
    let silence = planted_events(call_id)
        .into_iter()
        .find(|event| event.kind == "silence")
        .unwrap();
    let found = timing_findings_of(call_id);
    let categories: Vec<&str> = found
        .iter()
        .map(|finding| finding.category.as_str())
        .collect();
    assert_eq!(categories, ["silence"], "{found:#?}");
    assert!(near(found[0].start_ms, silence.start_ms), "{found:?}");
    assert!(near(found[0].end_ms, silence.end_ms), "{found:?}");
    assert_eq!(found[0].speaker, "unknown");

    let call = call_row(call_id);
    assert_eq!(string(&call, "layout").as_deref(), Some("mono"));
    assert_eq!(string(&call, "status").as_deref(), Some("scored"));
    assert!(near(
        number(&call, "longest_silence_ms"),
        silence.end_ms - silence.start_ms
    ));
    for absent in [
        "answer_delay_ms",
        "agent_talk_ms",
        "customer_talk_ms",
        "overtalk_ms",
        "n_interruptions",
        "agent_words_per_minute",
        "agent_loudness_db",
        "customer_sentiment_end",
    ] {
        assert_eq!(number(&call, absent), None, "{absent} on a mono call");
    }
    assert_eq!(string(&call, "agent_tone"), None);
}

/// One silent channel: the call is scored with the silent side's talk time a measured 0, or
/// not scorable with a reason; every metric of every call is finite, and no duration, time or
/// count is negative.
#[test]
fn silent_channels_give_metrics_or_a_reason_never_nonsense() {
    let agent_silent = call_row("t05_agent_silent");
    assert_eq!(
        string(&agent_silent, "status").as_deref(),
        Some("not_scorable")
    );
    let reason = string(&agent_silent, "status_reason").unwrap_or_default();
    assert!(reason.contains("agent channel is silent"), "{reason}");
    assert_eq!(number(&agent_silent, "score"), None);
    assert_eq!(number(&agent_silent, "agent_talk_ms"), Some(0.0));
    assert_eq!(number(&agent_silent, "answer_delay_ms"), None);
    assert!(timing_findings_of("t05_agent_silent").is_empty());

    let customer_silent = call_row("t06_customer_silent");
    assert_eq!(
        string(&customer_silent, "status").as_deref(),
        Some("scored")
    );
    assert_eq!(number(&customer_silent, "customer_talk_ms"), Some(0.0));
    assert_eq!(number(&customer_silent, "agent_talk_ratio"), Some(1.0));
    assert_eq!(number(&customer_silent, "overtalk_ms"), Some(0.0));
    assert!(number(&customer_silent, "agent_talk_ms").unwrap() > 5_000.0);
    assert!(number(&customer_silent, "answer_delay_ms").unwrap() < 2_000.0);
    for absent in [
        "customer_words_per_minute",
        "customer_loudness_db",
        "customer_sentiment_end",
    ] {
        assert_eq!(number(&customer_silent, absent), None, "{absent}");
    }
    assert!(timing_findings_of("t06_customer_silent").is_empty());

    let run = timing_run();
    let calls = read_table(&run.out, "calls");
    for column in calls.get_columns() {
        let name = column.name().to_string();
        let numeric = matches!(
            column.dtype(),
            DataType::Float64
                | DataType::Float32
                | DataType::Int64
                | DataType::Int32
                | DataType::UInt64
                | DataType::UInt32
        );
        if !numeric {
            continue;
        }
        for (row, value) in numbers(&calls, &name).into_iter().enumerate() {
            let Some(value) = value else { continue };
            assert!(value.is_finite(), "calls.{name} row {row} = {value}");
            // dBFS levels and sentiments are signed by nature; the rest are durations, counts,
            // rates, ratios and scores.
            if !name.ends_with("_db") && !name.contains("sentiment") {
                assert!(value >= 0.0, "calls.{name} row {row} = {value}");
            }
        }
    }
    let findings = read_table(&run.out, "findings");
    for (start, end) in numbers(&findings, "start_ms")
        .into_iter()
        .zip(numbers(&findings, "end_ms"))
    {
        if let (Some(start), Some(end)) = (start, end) {
            assert!(start >= 0.0 && end >= start, "finding {start}–{end}");
        }
    }
    let segments = read_table(&run.out, "segments");
    for (start, end) in numbers(&segments, "start_ms")
        .into_iter()
        .zip(numbers(&segments, "end_ms"))
    {
        assert!(end.unwrap() >= start.unwrap(), "segment {start:?}–{end:?}");
    }
}
