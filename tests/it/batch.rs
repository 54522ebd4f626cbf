//! The nightly batch end to end: the `callqa` binary with the real model over the fixture
//! calls (stereo G.711 and PCM, mono, malformed files), read back from Parquet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use callqa::wer::word_errors;
use polars::prelude::*;
use serde_json::Value;

use crate::support::{callqa, fixtures, read_table, rows_where, stderr_of, strings};

/// One uninterrupted run over all fixtures, shared by the tests that only read its output.
pub struct FixtureRun {
    _folder: tempfile::TempDir,
    pub out: PathBuf,
    pub exit_code: Option<i32>,
    pub stderr: String,
}

pub fn fixture_run() -> &'static FixtureRun {
    static RUN: OnceLock<FixtureRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let folder = tempfile::tempdir().unwrap();
        let out = folder.path().join("out");
        let output = callqa(&[
            "run",
            fixtures().join("manifest.csv").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        FixtureRun {
            _folder: folder,
            out,
            exit_code: output.status.code(),
            stderr: stderr_of(&output),
        }
    })
}

/// Copies a dataset (with its run state) so a test can change it without touching the shared one.
pub fn copy_dataset(from: &Path, to: &Path) {
    for entry in walk(from) {
        let relative = entry.strip_prefix(from).unwrap();
        let target = to.join(relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
}

fn walk(folder: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn expected() -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn manifest_call_ids() -> Vec<String> {
    let mut reader = csv::Reader::from_path(fixtures().join("manifest.csv")).unwrap();
    reader
        .records()
        .map(|record| record.unwrap()[0].to_string())
        .collect()
}

/// The latest run manifest of a dataset, as JSON.
pub fn latest_run_manifest(out: &Path) -> Value {
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    manifests.sort();
    let latest = manifests.last().expect("a run manifest");
    serde_json::from_str(&std::fs::read_to_string(latest).unwrap()).unwrap()
}

#[test]
fn every_input_ends_in_one_state_and_bad_files_do_not_stop_the_batch() {
    let run = fixture_run();
    assert_eq!(
        run.exit_code,
        Some(2),
        "some fixtures are malformed on purpose:\n{}",
        run.stderr
    );
    let calls = read_table(&run.out, "calls");
    let mut call_ids: Vec<String> = strings(&calls, "call_id").into_iter().flatten().collect();
    call_ids.sort();
    let mut expected_ids = manifest_call_ids();
    expected_ids.sort();
    assert_eq!(
        call_ids, expected_ids,
        "one row per manifest row, no duplicates"
    );

    let failures = read_table(&run.out, "failures");
    let mut failed: Vec<(String, String)> = strings(&failures, "call_id")
        .into_iter()
        .zip(strings(&failures, "error"))
        .map(|(call_id, error)| (call_id.unwrap(), error.unwrap()))
        .collect();
    failed.sort();
    let failed_ids: Vec<&str> = failed.iter().map(|(call_id, _)| call_id.as_str()).collect();
    assert_eq!(
        failed_ids,
        vec![
            "bad_empty",
            "bad_header_only",
            "bad_not_audio",
            "bad_truncated_header"
        ]
    );
    for (call_id, error) in &failed {
        let expected_error = match call_id.as_str() {
            "bad_empty" => "empty",
            "bad_not_audio" => "not_audio",
            _ => "truncated",
        };
        assert_eq!(error, expected_error, "{call_id}");
    }
    for message in strings(&failures, "message").into_iter().flatten() {
        assert!(
            message.contains(".wav"),
            "failure message names the file: {message}"
        );
    }
    for (call_id, status) in strings(&calls, "call_id")
        .into_iter()
        .zip(strings(&calls, "status"))
    {
        let call_id = call_id.unwrap();
        let status = status.unwrap();
        if call_id.starts_with("bad_") {
            assert_eq!(status, "failed", "{call_id}");
        } else {
            assert!(
                status == "scored" || status == "not_scorable",
                "{call_id}: {status}"
            );
        }
    }
}

/// In every stereo fixture each sentence is transcribed under the speaker who said it, at the
/// time it was said, and most of its words come through.
#[test]
fn stereo_sentences_land_under_the_right_speaker() {
    let run = fixture_run();
    let segments = read_table(&run.out, "segments");
    for (call_id, call) in expected() {
        let language = call["language"].as_str().unwrap_or("en");
        let call_segments = rows_where(&segments, "call_id", &call_id);
        let speakers = strings(&call_segments, "speaker");
        let texts = strings(&call_segments, "text");
        let starts: Vec<u64> = call_segments
            .column("start_ms")
            .unwrap()
            .u64()
            .unwrap()
            .into_iter()
            .map(Option::unwrap)
            .collect();
        let ends: Vec<u64> = call_segments
            .column("end_ms")
            .unwrap()
            .u64()
            .unwrap()
            .into_iter()
            .map(Option::unwrap)
            .collect();
        let mono = call["agent_channel"].as_str().unwrap_or("").is_empty();
        let mut redacted = redacted_script(&call);
        for speaker in ["agent", "customer"] {
            let Some(sentences) = call[speaker].as_array() else {
                continue;
            };
            // A mono call mixes both voices on one channel: nobody can say who spoke.
            let expected_speaker = if mono { "unknown" } else { speaker };
            for sentence in sentences {
                let start_ms = (sentence["start_s"].as_f64().unwrap() * 1000.0) as u64;
                let end_ms = (sentence["end_s"].as_f64().unwrap() * 1000.0) as u64;
                let text = sentence["text"].as_str().unwrap();
                let overlapping: Vec<usize> = (0..starts.len())
                    .filter(|&index| starts[index] < end_ms && ends[index] > start_ms)
                    .collect();
                assert!(
                    !overlapping.is_empty(),
                    "{call_id}: no segment at {start_ms} ms for {speaker}: {text:?}"
                );
                for &index in &overlapping {
                    assert_eq!(
                        speakers[index].as_deref(),
                        Some(expected_speaker),
                        "{call_id} at {start_ms} ms: {text:?}"
                    );
                }
                if language == "en" {
                    let heard: Vec<&str> = overlapping
                        .iter()
                        .filter_map(|&index| texts[index].as_deref())
                        .collect();
                    // The tables hold redacted text: compare with the script redacted alike,
                    // in its conversation ("Account number please." makes the answer one).
                    let reference = redacted
                        .remove(&(speaker.to_string(), start_ms))
                        .unwrap_or_else(|| callqa::pii::redact(text, "en"));
                    let errors = word_errors(&reference, &heard.join(" "));
                    assert!(
                        errors.rate() <= 0.5,
                        "{call_id} {speaker}: {text:?} heard as {heard:?} ({:.0} % word errors)",
                        errors.rate() * 100.0
                    );
                }
            }
        }
    }
}

/// A call's script redacted as the pipeline redacts a call, with the conversation around each
/// sentence: (speaker, start ms) → redacted text.
fn redacted_script(call: &Value) -> BTreeMap<(String, u64), String> {
    use callqa::types::{CallTranscript, Layout, Segment, SegmentQuality, Speaker};
    let mut segments: Vec<Segment> = ["agent", "customer"]
        .into_iter()
        .flat_map(|speaker| {
            call[speaker]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |sentence| Segment {
                    speaker: if speaker == "agent" {
                        Speaker::Agent
                    } else {
                        Speaker::Customer
                    },
                    channel: u16::from(speaker != "agent"),
                    start_ms: (sentence["start_s"].as_f64().unwrap() * 1000.0) as u64,
                    end_ms: (sentence["end_s"].as_f64().unwrap() * 1000.0) as u64,
                    text: sentence["text"].as_str().unwrap().to_string(),
                    confidence: 0.9,
                    quality: SegmentQuality::Ok,
                })
        })
        .collect();
    segments.sort_by_key(|segment| (segment.start_ms, segment.channel));
    let transcript = CallTranscript {
        duration_ms: segments
            .iter()
            .map(|segment| segment.end_ms)
            .max()
            .unwrap_or(0),
        layout: Layout::Stereo,
        source_sample_rate: 8_000,
        channels: Vec::new(),
        segments,
    };
    let redacted = callqa::pii::redact_transcript(&transcript, "en");
    transcript
        .segments
        .iter()
        .zip(redacted)
        .map(|(segment, text)| {
            (
                (segment.speaker.as_str().to_string(), segment.start_ms),
                text,
            )
        })
        .collect()
}

#[test]
fn a_silent_channel_produces_no_segment() {
    let run = fixture_run();
    let segments = read_table(&run.out, "segments");
    let call = rows_where(&segments, "call_id", "c08_customer_silent");
    let speakers: Vec<String> = strings(&call, "speaker").into_iter().flatten().collect();
    assert!(!speakers.is_empty());
    assert!(
        speakers.iter().all(|speaker| speaker == "agent"),
        "{speakers:?}"
    );
}

/// The same call as 8 kHz PCM, G.711 µ-law and 44.1 kHz PCM reads the same.
#[test]
fn codecs_and_rates_transcribe_like_the_pcm_original() {
    let run = fixture_run();
    let segments = read_table(&run.out, "segments");
    let text_of = |call_id: &str| -> String {
        strings(&rows_where(&segments, "call_id", call_id), "text")
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let original = text_of("c09_mono_pcm16");
    assert!(!original.is_empty());
    for copy in ["c09_mono_mulaw", "c09_mono_pcm16_44k"] {
        let errors = word_errors(&original, &text_of(copy));
        assert!(
            errors.rate() <= 0.2,
            "{copy}: {:?} vs original {original:?}",
            text_of(copy)
        );
    }
    let calls = read_table(&run.out, "calls");
    let mono = rows_where(&calls, "call_id", "c09_mono_mulaw");
    assert_eq!(strings(&mono, "layout"), vec![Some("mono".to_string())]);
    let mono_speakers = strings(
        &rows_where(&segments, "call_id", "c09_mono_mulaw"),
        "speaker",
    );
    assert!(
        mono_speakers
            .iter()
            .all(|speaker| speaker.as_deref() == Some("unknown"))
    );
}

/// A second run over the same inputs transcribes nothing and gives the same rows.
#[test]
fn second_run_uses_the_cache_and_gives_the_same_rows() {
    let run = fixture_run();
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("out");
    copy_dataset(&run.out, &out);
    let output = callqa(&[
        "run",
        fixtures().join("manifest.csv").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr_of(&output));
    let manifest = latest_run_manifest(&out);
    assert_eq!(manifest["n_transcribed"], 0, "{manifest:#}");
    assert_eq!(manifest["n_whisper_windows"], 0);
    let call_ids = manifest_call_ids();
    let n_malformed = call_ids
        .iter()
        .filter(|call_id| call_id.starts_with("bad_"))
        .count();
    assert_eq!(manifest["n_cached"], call_ids.len() - n_malformed);
    assert_eq!(manifest["n_failed"], n_malformed);
    for table in ["calls", "segments", "findings", "failures"] {
        let before = read_table(&run.out, table);
        let after = read_table(&out, table);
        assert!(
            before.equals_missing(&after),
            "{table} changed between identical runs"
        );
    }
}

/// Two shards run separately produce together exactly the rows of the unsharded run, the
/// agents table included: one row per agent and day, not one per shard.
#[test]
fn shards_together_equal_the_whole() {
    let run = fixture_run();
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("out");
    copy_dataset(&run.out, &out);
    let sort = |frame: DataFrame| {
        let columns: Vec<PlSmallStr> = frame.get_column_names().into_iter().cloned().collect();
        frame.sort(columns, SortMultipleOptions::default()).unwrap()
    };
    let same_as_the_whole = |when: &str| {
        for table in ["calls", "segments", "findings", "failures", "agents"] {
            let whole = sort(read_table(&run.out, table));
            let sharded = sort(read_table(&out, table));
            assert!(
                whole.equals_missing(&sharded),
                "{table}: shards differ from the whole run {when}"
            );
        }
    };
    for shard in ["0/2", "1/2"] {
        let output = callqa(&[
            "run",
            fixtures().join("manifest.csv").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--shard",
            shard,
        ]);
        assert!(
            matches!(output.status.code(), Some(0 | 2)),
            "{}",
            stderr_of(&output)
        );
        // Splitting an unsharded dataset in two loses no rows, even before the second shard
        // has run: the first writes both shards' parts of the new split.
        same_as_the_whole(&format!("after shard {shard}"));
    }
}

/// A second night analyses and writes only its own day: the earlier days' files stay as
/// they were, and the dataset is the one `rescore` (which writes every day) makes.
#[test]
fn a_second_night_writes_its_own_day_and_equals_a_rescore() {
    let run = fixture_run();
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("out");
    copy_dataset(&run.out, &out);
    // A copy's transcripts are new files (new times), which the day states notice: the copy
    // is written once whole, as after a restore from backup.
    let output = callqa(&["rescore", "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let earlier_part = out.join("segments/call_date=2024-03-14/part-0-of-1.parquet");
    let earlier_bytes = std::fs::read(&earlier_part).unwrap();
    // The same recordings under the next night's ids and date (their transcripts are cached).
    let night = folder.path().join("night2.csv");
    let mut manifest = String::from("call_id,agent_id,path,started_at,agent_channel,language\n");
    for (call_id, file, side) in [
        ("n2_polite", "c01_polite_mulaw.wav", "left"),
        ("n2_insult", "c03_insult_mulaw.wav", "left"),
    ] {
        manifest.push_str(&format!(
            "{call_id},A101,{},2024-03-20T10:00:00+01:00,{side},en\n",
            fixtures().join(file).display()
        ));
    }
    std::fs::write(&night, manifest).unwrap();
    let output = callqa(&[
        "run",
        night.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    // The night's calls were all processed (the earlier night's malformed files are not
    // this run's failures).
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let manifest = latest_run_manifest(&out);
    assert_eq!(manifest["n_transcribed"], 0, "{manifest:#}");
    assert_eq!(manifest["n_days_written"], 1, "{manifest:#}");
    assert_eq!(manifest["n_days"], 3, "{manifest:#}");
    assert_eq!(manifest["dataset"]["n_calls"], 17, "{manifest:#}");
    assert_eq!(std::fs::read(&earlier_part).unwrap(), earlier_bytes);

    let rescored = folder.path().join("rescored");
    copy_dataset(&out, &rescored);
    let output = callqa(&["rescore", "--out", rescored.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let sort = |frame: DataFrame| {
        let columns: Vec<PlSmallStr> = frame.get_column_names().into_iter().cloned().collect();
        frame.sort(columns, SortMultipleOptions::default()).unwrap()
    };
    for table in ["calls", "segments", "findings", "failures", "agents"] {
        let incremental = sort(read_table(&out, table));
        let rebuilt = sort(read_table(&rescored, table));
        assert!(
            incremental.equals_missing(&rebuilt),
            "{table}: the second night's dataset differs from a rescore"
        );
    }
}

/// With beam search, the run summary counts the beams ended because Whisper was looping in
/// them (the card number of c05 makes one), and says so at the end of the run.
#[test]
fn a_beam_search_run_counts_the_looping_beams_it_ended() {
    let folder = tempfile::tempdir().unwrap();
    let manifest = folder.path().join("manifest.csv");
    let fixture_rows = std::fs::read_to_string(fixtures().join("manifest.csv")).unwrap();
    let header = fixture_rows.lines().next().unwrap();
    let row = fixture_rows
        .lines()
        .find(|line| line.starts_with("c05_card_number,"))
        .unwrap()
        .replace(
            "c05_card_number_mulaw_extensible.wav",
            fixtures()
                .join("c05_card_number_mulaw_extensible.wav")
                .to_str()
                .unwrap(),
        );
    std::fs::write(&manifest, format!("{header}\n{row}\n")).unwrap();
    let out = folder.path().join("out");
    let output = callqa(&[
        "run",
        manifest.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--beam-size",
        "5",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let summary = latest_run_manifest(&out);
    assert!(
        summary["n_beam_loops_ended"].as_u64().unwrap_or(0) >= 1,
        "{summary:#}"
    );
    assert!(
        stderr_of(&output).contains("beams ended early because Whisper was repeating itself"),
        "{}",
        stderr_of(&output)
    );
}

/// What the decoder repaired in a file stays with the call in `calls` and in the report, also
/// when a later run finds the call's transcript in the cache and decodes nothing.
#[test]
fn a_repaired_recording_keeps_its_note_on_later_runs() {
    let folder = tempfile::tempdir().unwrap();
    let calls = folder.path().join("calls");
    std::fs::create_dir_all(&calls).unwrap();
    // The polite call cut short: its header announces more audio than the file holds.
    let whole = std::fs::read(fixtures().join("c01_polite_mulaw.wav")).unwrap();
    std::fs::write(calls.join("cut_call.wav"), &whole[..whole.len() * 2 / 3]).unwrap();
    let out = folder.path().join("out");
    for run in ["first", "second"] {
        let output = callqa(&[
            "run",
            calls.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--language",
            "en",
            "--agent-channel",
            "left",
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
        let notes = strings(&read_table(&out, "calls"), "decode_notes");
        assert_eq!(notes.len(), 1);
        let note = notes[0].clone().unwrap_or_default();
        assert!(note.contains("cut short"), "{run} run: {note:?}");
        let report = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(
            report.contains("1 call analysed from a repaired recording"),
            "{run} run"
        );
    }
    let summary = latest_run_manifest(&out);
    assert_eq!(summary["n_cached"].as_u64(), Some(1), "{summary:#}");
}
