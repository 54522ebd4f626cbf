//! Audit samples, clips, verdict import and the report, end to end on the dataset of the
//! shared fixture run. Tests that write into a dataset work on a copy of it; samples of the
//! shared dataset go to a temporary `--audit-dir`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use callqa::audit::{Bleep, MAX_CLIP_MS, personal_data_bleeps, timed_words};
use callqa::decode::{DecodeOptions, TARGET_SAMPLE_RATE, decode_file};
use callqa::report::format_time;
use callqa::store::{Outcome, Store};
use serde_json::Value;

use crate::batch::{copy_dataset, fixture_run};
use crate::support::{callqa, fixtures, read_table, rows_where, stderr_of, strings};

type SheetRow = BTreeMap<String, String>;
/// A call's channels (16 kHz) and what the sampler must bleep.
type CallAudio = (Vec<Vec<f32>>, Vec<Bleep>);

/// Runs `callqa sample` on `out` into `audit_dir` and returns the sheet's rows.
fn sample(out: &Path, audit_dir: &Path, options: &[&str]) -> Vec<SheetRow> {
    let mut arguments = vec![
        "sample",
        "--out",
        out.to_str().unwrap(),
        "--audit-dir",
        audit_dir.to_str().unwrap(),
    ];
    arguments.extend_from_slice(options);
    let output = callqa(&arguments);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        audit_dir.display().to_string()
    );
    assert!(audit_dir.join("sheet.html").is_file());
    assert!(audit_dir.join("sample.json").is_file());
    read_sheet(&audit_dir.join("sheet.csv"))
}

fn read_sheet(path: &Path) -> Vec<SheetRow> {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    reader
        .records()
        .map(|record| {
            headers
                .iter()
                .cloned()
                .zip(record.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}

fn write_sheet(path: &Path, rows: &[SheetRow], delimiter: u8) {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .from_path(path)
        .unwrap();
    writer
        .write_record(rows[0].keys().map(String::as_str))
        .unwrap();
    for row in rows {
        writer
            .write_record(row.values().map(String::as_str))
            .unwrap();
    }
    writer.flush().unwrap();
}

fn item_ids(rows: &[SheetRow]) -> Vec<String> {
    rows.iter().map(|row| row["item_id"].clone()).collect()
}

fn number(row: &SheetRow, column: &str) -> Option<u64> {
    row[column].parse().ok()
}

/// Agents of the calls in `calls` that have findings, split by whether the call is flagged.
fn agents_with_findings(out: &Path, flagged_only: bool) -> BTreeSet<String> {
    let calls = read_table(out, "calls");
    let findings = read_table(out, "findings");
    let flagged: BTreeSet<String> = strings(&calls, "call_id")
        .into_iter()
        .zip(calls.column("flagged").unwrap().bool().unwrap())
        .filter(|(_, flagged)| *flagged == Some(true))
        .filter_map(|(call_id, _)| call_id)
        .collect();
    strings(&findings, "call_id")
        .into_iter()
        .zip(strings(&findings, "agent_id"))
        .filter(|(call_id, _)| !flagged_only || flagged.contains(call_id.as_ref().unwrap()))
        .filter_map(|(_, agent_id)| agent_id)
        .collect()
}

#[test]
fn the_same_seed_draws_the_same_sample_and_another_seed_another() {
    let run = fixture_run();
    let folder = tempfile::tempdir().unwrap();
    let draw = |name: &str, seed: &str| {
        sample(
            &run.out,
            &folder.path().join(name),
            &["--size", "4", "--seed", seed, "--include-unflagged"],
        )
    };
    let first = draw("first", "7");
    let again = draw("again", "7");
    let other = draw("other", "8");
    assert_eq!(first.len(), 4);
    assert_eq!(item_ids(&first), item_ids(&again));
    // Clips are the same bytes too.
    for (left, right) in first.iter().zip(&again) {
        let left = std::fs::read(folder.path().join("first").join(&left["clip"])).unwrap();
        let right = std::fs::read(folder.path().join("again").join(&right["clip"])).unwrap();
        assert!(left == right, "clips of the same sample differ");
    }
    assert_ne!(
        item_ids(&first),
        item_ids(&other),
        "seeds 7 and 8 drew the same sample"
    );
}

#[test]
fn every_agent_with_flagged_calls_is_represented() {
    let run = fixture_run();
    let folder = tempfile::tempdir().unwrap();
    let flagged_agents = agents_with_findings(&run.out, true);
    assert!(
        !flagged_agents.is_empty(),
        "the fixtures have flagged calls"
    );
    let calls = read_table(&run.out, "calls");
    let flagged_of = |call_id: &str| {
        rows_where(&calls, "call_id", call_id)
            .column("flagged")
            .unwrap()
            .bool()
            .unwrap()
            .get(0)
    };

    let size = flagged_agents.len().to_string();
    let rows = sample(
        &run.out,
        &folder.path().join("flagged"),
        &["--size", &size, "--seed", "1"],
    );
    let sampled: BTreeSet<String> = rows.iter().map(|row| row["agent_id"].clone()).collect();
    assert_eq!(sampled, flagged_agents);
    for row in &rows {
        assert_eq!(row["kind"], "finding");
        assert_eq!(flagged_of(&row["call_id"]), Some(true), "{row:?}");
    }

    // Over every call, stratified by category: still every agent, with controls.
    let all_agents = agents_with_findings(&run.out, false);
    let rows = sample(
        &run.out,
        &folder.path().join("all"),
        &[
            "--size",
            "8",
            "--seed",
            "2",
            "--include-unflagged",
            "--by",
            "category",
            "--control-share",
            "0.25",
        ],
    );
    let findings: Vec<&SheetRow> = rows.iter().filter(|row| row["kind"] == "finding").collect();
    let controls: Vec<&SheetRow> = rows.iter().filter(|row| row["kind"] == "control").collect();
    assert_eq!((findings.len(), controls.len()), (6, 2), "{rows:?}");
    let sampled: BTreeSet<String> = findings.iter().map(|row| row["agent_id"].clone()).collect();
    assert_eq!(sampled, all_agents);
    for control in controls {
        assert_eq!(flagged_of(&control["call_id"]), Some(false));
        assert!(control["rule_id"].is_empty());
    }
}

/// Goertzel power of one frequency over a block of samples.
fn power_at(samples: &[f32], frequency: f64) -> f64 {
    let rate = f64::from(TARGET_SAMPLE_RATE);
    let coefficient = 2.0 * (std::f64::consts::TAU * frequency / rate).cos();
    let (mut previous, mut before) = (0.0, 0.0);
    for sample in samples {
        let current = f64::from(*sample) + coefficient * previous - before;
        before = previous;
        previous = current;
    }
    previous * previous + before * before - coefficient * previous * before
}

/// Share of a block's energy at 1 kHz (Parseval: a pure tone over whole periods gives ~1).
fn tone_share(samples: &[f32]) -> f64 {
    let energy: f64 = samples
        .iter()
        .map(|sample| f64::from(*sample).powi(2))
        .sum();
    if energy == 0.0 {
        return 0.0;
    }
    2.0 * power_at(samples, 1_000.0) / (samples.len() as f64 * energy)
}

fn rms(samples: &[f32]) -> f64 {
    (samples
        .iter()
        .map(|sample| f64::from(*sample).powi(2))
        .sum::<f64>()
        / samples.len().max(1) as f64)
        .sqrt()
}

/// A clip read back: one vector per channel, at 16 kHz.
fn read_clip(path: &Path) -> Vec<Vec<f32>> {
    let mut reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    assert_eq!(spec.bits_per_sample, 16, "{}", path.display());
    assert_eq!(spec.sample_format, hound::SampleFormat::Int);
    assert_eq!(spec.sample_rate, TARGET_SAMPLE_RATE);
    let n_channels = usize::from(spec.channels);
    let mut channels = vec![Vec::new(); n_channels];
    for (index, sample) in reader.samples::<i16>().enumerate() {
        channels[index % n_channels].push(f32::from(sample.unwrap()) / f32::from(i16::MAX));
    }
    channels
}

/// The recording of a call as the run decoded it, and what the sampler must bleep (the
/// personal data in its raw transcript, on the speaker's channel, placed by the stored word
/// times), from the run state.
fn call_audio_and_personal_data(out: &Path, call_id: &str) -> CallAudio {
    let store = Store::open(out).unwrap();
    let record = store.load_record(call_id).unwrap().unwrap();
    let Outcome::Transcribed { transcript_key } = &record.outcome else {
        panic!("{call_id} was not transcribed");
    };
    let mut transcript = store.load_transcript(transcript_key).unwrap().unwrap();
    callqa::pipeline::assign_speakers(&mut transcript, record.spec.agent_channel);
    let language = record
        .spec
        .language
        .clone()
        .unwrap_or_else(|| "en".to_string());
    let words = store.load_segment_words(transcript_key).unwrap().unwrap();
    let decoded = decode_file(&record.spec.path, &DecodeOptions::default()).unwrap();
    (
        decoded.channels,
        personal_data_bleeps(&transcript, &language, &timed_words(&words)),
    )
}

const FRAMES_PER_MS: u64 = TARGET_SAMPLE_RATE as u64 / 1000;

/// 50 ms blocks of `start_ms..end_ms` (call time) of a clip that starts at `clip_start_ms`.
fn blocks(clip_start_ms: u64, start_ms: u64, end_ms: u64) -> Vec<std::ops::Range<usize>> {
    (start_ms..end_ms.saturating_sub(50))
        .step_by(50)
        .map(|ms| {
            let first = ((ms - clip_start_ms) * FRAMES_PER_MS) as usize;
            first..first + (50 * FRAMES_PER_MS) as usize
        })
        .collect()
}

/// Every finding of every analysed call gets a clip: 16-bit WAV of the finding's time with a
/// margin, the original audio at that offset, and a 1 kHz tone over personal data.
#[test]
fn each_clip_holds_the_audio_of_its_finding() {
    let run = fixture_run();
    let folder = tempfile::tempdir().unwrap();
    let audit_dir = folder.path().join("all");
    let rows = sample(
        &run.out,
        &audit_dir,
        &["--size", "1000", "--seed", "5", "--include-unflagged"],
    );
    // Failed calls have no findings, so every finding is in the sample.
    assert_eq!(rows.len(), read_table(&run.out, "findings").height());
    let mut audio_of: BTreeMap<String, CallAudio> = BTreeMap::new();
    for row in &rows {
        assert!(!row["clip"].is_empty(), "no clip: {row:?}");
        let clip = read_clip(&audit_dir.join(&row["clip"]));
        let (original, bleeps) = audio_of
            .entry(row["call_id"].clone())
            .or_insert_with(|| call_audio_and_personal_data(&run.out, &row["call_id"]));
        let clip_start = number(row, "clip_start_ms").unwrap();
        let clip_end = number(row, "clip_end_ms").unwrap();
        let call_ms = original[0].len() as u64 / FRAMES_PER_MS;
        assert_eq!(clip.len(), original.len(), "every channel: {row:?}");
        // Length and offset: the clip spans its finding with a margin, within the call.
        let clip_ms = clip[0].len() as u64 / FRAMES_PER_MS;
        assert!(
            clip_ms.abs_diff(clip_end - clip_start) <= 1,
            "{row:?}: {clip_ms} ms"
        );
        assert!(clip_end <= call_ms + 1 && clip_end > clip_start, "{row:?}");
        assert!(clip_end - clip_start <= MAX_CLIP_MS);
        match (number(row, "start_ms"), number(row, "end_ms")) {
            (Some(start), Some(end)) => {
                assert!(clip_start <= start, "{row:?}");
                assert!(
                    clip_end >= end.min(call_ms) || clip_end - clip_start == MAX_CLIP_MS,
                    "{row:?}"
                );
            }
            _ => assert_eq!(
                clip_start, 0,
                "a finding without a time starts at the call's start"
            ),
        }
        // Energy present over the finding (speech, or the bleep); a finding about dead air
        // has its speech in the margins.
        let about_silence = ["silence", "answer_delay"].contains(&row["category"].as_str());
        let (from, to) = if about_silence {
            (clip_start, clip_end)
        } else {
            (
                number(row, "start_ms")
                    .unwrap_or(clip_start)
                    .max(clip_start),
                number(row, "end_ms").unwrap_or(clip_end).min(clip_end),
            )
        };
        let finding_frames = ((from - clip_start) * FRAMES_PER_MS) as usize
            ..(((to - clip_start) * FRAMES_PER_MS) as usize).min(clip[0].len());
        let loudest = clip
            .iter()
            .map(|channel| rms(&channel[finding_frames.clone()]))
            .fold(0.0, f64::max);
        assert!(loudest > 0.01, "{row:?}: silent clip (rms {loudest})");
        // Outside personal data the clip is the recording itself, at the clip's offset: on
        // every channel outside its bleeps, and on the channels a bleep leaves alone.
        let bleeped = |frame: usize, channel: usize| {
            let ms = clip_start + frame as u64 / FRAMES_PER_MS;
            bleeps.iter().any(|bleep| {
                bleep.channels.contains(&(channel as u16))
                    && ms + 1 >= bleep.start_ms
                    && ms <= bleep.end_ms + 1
            })
        };
        let first_frame = (clip_start * FRAMES_PER_MS) as usize;
        for (channel, clip_channel) in clip.iter().enumerate() {
            for (frame, sample) in clip_channel.iter().enumerate() {
                if !bleeped(frame, channel) {
                    let expected = original[channel][first_frame + frame].clamp(-1.0, 1.0);
                    assert!(
                        (sample - expected).abs() < 2.0 / 32_767.0,
                        "{row:?}: channel {channel} frame {frame} differs from the recording"
                    );
                }
            }
        }
        // Over personal data: the 1 kHz tone on the bleep's channels, nothing else.
        let mut listed = Vec::new();
        for bleep in bleeps.iter() {
            if bleep.start_ms >= clip_end || bleep.end_ms <= clip_start {
                continue;
            }
            let (start, end) = (bleep.start_ms.max(clip_start), bleep.end_ms.min(clip_end));
            listed.push(format!("{}–{}", format_time(start), format_time(end)));
            let start = start + 10;
            if start + 60 > end {
                continue;
            }
            for block in blocks(clip_start, start, end) {
                for &channel in &bleep.channels {
                    let share = tone_share(&clip[usize::from(channel)][block.clone()]);
                    assert!(share > 0.95, "{row:?}: not the bleep tone ({share:.2})");
                }
            }
        }
        // The sheet lists each bleeped interval of the clip, in call time.
        let column: Vec<&str> = row["bleeped"]
            .split("; ")
            .filter(|part| !part.is_empty())
            .collect();
        assert_eq!(column.len(), listed.len(), "{row:?}: {listed:?}");
        for (part, interval) in column.iter().zip(&listed) {
            assert!(part.starts_with(interval.as_str()), "{row:?}: {listed:?}");
        }
    }
}

/// The card number of c05 (read by the customer, repeated by the agent) is under the bleep
/// in every clip that covers it, on the channel of whoever read it; the other channel, and
/// the speech of each utterance outside the bleep, stay audible. This depends on the
/// transcript holding the number: audio the ASR did not turn into recognisable personal data
/// cannot be bleeped.
#[test]
fn card_digits_are_never_heard_in_a_clip() {
    let run = fixture_run();
    let folder = tempfile::tempdir().unwrap();
    let rows = assert_card_number_bleeped(&run.out, &folder.path().join("c05"));
    // The run kept Whisper's word times, and they place both readings: from the word before
    // the card, so the start of each sentence stays audible (checked above).
    let (_, bleeps) = call_audio_and_personal_data(&run.out, "c05_card_number");
    assert_eq!(bleeps.len(), 2, "{bleeps:?}");
    assert!(bleeps.iter().all(|bleep| bleep.by_words), "{bleeps:?}");
    for row in rows
        .iter()
        .filter(|row| row["call_id"] == "c05_card_number")
    {
        assert!(
            !row["bleeped"].contains("(whole utterance)"),
            "{}",
            row["bleeped"]
        );
    }
}

/// The same with the transcript as a perfect ASR would have it: the bleep follows the
/// utterances whose text holds the card, whatever the model heard.
#[test]
fn bleeps_follow_the_personal_data_in_the_transcript() {
    let run = fixture_run();
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("out");
    copy_dataset(&run.out, &out);
    let store = Store::open(&out).unwrap();
    let record = store.load_record("c05_card_number").unwrap().unwrap();
    let Outcome::Transcribed { transcript_key } = &record.outcome else {
        panic!("c05 was not transcribed");
    };
    let mut transcript = store.load_transcript(transcript_key).unwrap().unwrap();
    let mut n_changed = 0;
    for segment in &mut transcript.segments {
        // The utterances at the script's card times (customer 3.5-9.0 s, agent 9.5-14.0 s).
        if segment.start_ms < 13_000 && segment.end_ms > 4_000 {
            segment.text = format!("{} 4111 1111 1111 1111.", segment.text);
            n_changed += 1;
        }
    }
    assert!(n_changed >= 2, "{:?}", transcript.segments);
    // Saved without word times (they were the old text's): whole utterances are bleeped.
    store.save_transcript(transcript_key, &transcript).unwrap();
    assert_card_number_bleeped(&out, &folder.path().join("c05"));
}

/// When the first digit of the card starts after the start of the sentence that reads it, in
/// ms: espeak-ng's word events for the fixture's voices (customer `en-us+m7`, agent `en-us+f2`,
/// 150 words per minute), measured once; the card ends with its sentence.
const CARD_ONSET_MS: [(&str, u64); 2] = [("customer", 2_064), ("agent", 799)];

/// Blocks of 50 ms of a clip channel over `from..to` (call time, clipped to the clip).
fn clip_blocks(clip_start: u64, clip_end: u64, from: u64, to: u64) -> Vec<std::ops::Range<usize>> {
    let (from, to) = (from.max(clip_start), to.min(clip_end));
    if from + 60 > to {
        return Vec::new();
    }
    blocks(clip_start, from, to)
}

/// Returns the sample's rows.
fn assert_card_number_bleeped(out: &Path, audit_dir: &Path) -> Vec<SheetRow> {
    let rows = sample(
        out,
        audit_dir,
        &["--size", "1000", "--seed", "11", "--include-unflagged"],
    );
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
            .unwrap();
    let script = &expected["c05_card_number"];
    // The agent is on the left (channel 0), the customer on the right.
    let channel_of = |speaker: &str| usize::from(speaker == "customer");
    let seconds = |value: &Value| (value.as_f64().unwrap() * 1000.0).round() as u64;
    // (speaker, sentence start, card start, card end) of each reading of the card.
    let readings: Vec<(&str, u64, u64, u64)> = CARD_ONSET_MS
        .iter()
        .flat_map(|&(speaker, onset)| {
            script[speaker]
                .as_array()
                .unwrap()
                .iter()
                .filter(|sentence| sentence["text"].as_str().unwrap().contains("4111"))
                .map(move |sentence| {
                    let start = seconds(&sentence["start_s"]);
                    (speaker, start, start + onset, seconds(&sentence["end_s"]))
                })
        })
        .collect();
    assert_eq!(readings.len(), 2);
    let clips: Vec<&SheetRow> = rows
        .iter()
        .filter(|row| row["call_id"] == "c05_card_number")
        .collect();
    assert!(!clips.is_empty());
    let mut n_checked = 0;
    for row in clips {
        let clip = read_clip(&audit_dir.join(&row["clip"]));
        let clip_start = number(row, "clip_start_ms").unwrap();
        let clip_end = number(row, "clip_end_ms").unwrap();
        let show = |at: &std::ops::Range<usize>| clip_start + (at.start as u64) / FRAMES_PER_MS;
        for &(speaker, sentence_start, card_start, card_end) in &readings {
            let channel = channel_of(speaker);
            // The digits (and 50 ms either side, for the precision of the onset): the tone, on
            // the reader's channel.
            for block in clip_blocks(clip_start, clip_end, card_start - 50, card_end + 50) {
                let share = tone_share(&clip[channel][block.clone()]);
                assert!(
                    share > 0.95,
                    "{}: the card number can be heard ({} ms, {speaker}'s channel, 1 kHz share {share:.2}); bleeped: {:?}",
                    row["clip"],
                    show(&block),
                    row["bleeped"]
                );
                n_checked += 1;
            }
            // The other channel is not bleeped while the card is read, except around its own
            // speaker's reading of it (1 s either side of that sentence).
            let other_reads = |ms: u64| {
                readings.iter().any(|&(other, start, _, end)| {
                    other != speaker && ms + 1_000 >= start && ms <= end + 1_000
                })
            };
            for block in clip_blocks(clip_start, clip_end, card_start, card_end) {
                if other_reads(show(&block)) || other_reads(show(&block) + 50) {
                    continue;
                }
                let share = tone_share(&clip[1 - channel][block.clone()]);
                assert!(
                    share < 0.5,
                    "{}: the other side is bleeped at {} ms (1 kHz share {share:.2}); bleeped: {:?}",
                    row["clip"],
                    show(&block),
                    row["bleeped"]
                );
            }
            // Where the bleep was placed by word times, the sentence before the card is
            // heard up to the word before it and the margin (1.5 s from the digits is safe);
            // else the whole utterance is under the tone.
            let whole_utterance = row["bleeped"]
                .split("; ")
                .any(|part| part.contains(speaker) && part.contains("(whole utterance)"));
            if whole_utterance {
                for block in clip_blocks(clip_start, clip_end, sentence_start, card_start) {
                    let share = tone_share(&clip[channel][block.clone()]);
                    assert!(share > 0.95, "{}: {} ms", row["clip"], show(&block));
                }
            } else {
                let before = clip_blocks(clip_start, clip_end, sentence_start, card_start - 1_500);
                for block in &before {
                    let share = tone_share(&clip[channel][block.clone()]);
                    assert!(
                        share < 0.5,
                        "{}: speech bleeped at {} ms",
                        row["clip"],
                        show(block)
                    );
                }
            }
        }
        // Speech without personal data is never bleeped: the agent's greeting.
        let greeting = &script["agent"][0];
        let greeting_blocks = clip_blocks(
            clip_start,
            clip_end,
            seconds(&greeting["start_s"]),
            seconds(&greeting["end_s"]),
        );
        for block in &greeting_blocks {
            let samples = &clip[channel_of("agent")][block.clone()];
            assert!(
                tone_share(samples) < 0.5,
                "{}: greeting bleeped",
                row["clip"]
            );
        }
        if let (Some(first), Some(last)) = (greeting_blocks.first(), greeting_blocks.last()) {
            let level = rms(&clip[channel_of("agent")][first.start..last.end]);
            assert!(level > 0.01, "{}: greeting silent ({level})", row["clip"]);
        }
    }
    assert!(n_checked > 0, "no clip of c05 covers the card number");
    rows
}

/// A transcript holding `<script>` shows as text in the report, in the whole-dataset report
/// that rescore writes and in a report of one date.
#[test]
fn report_escapes_transcript_text() {
    let run = fixture_run();
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("out");
    copy_dataset(&run.out, &out);
    // The worst call of the fixtures is shown with its transcript: put markup into it.
    let store = Store::open(&out).unwrap();
    let record = store.load_record("c03_insult").unwrap().unwrap();
    let Outcome::Transcribed { transcript_key } = &record.outcome else {
        panic!("c03 was not transcribed");
    };
    let mut transcript = store.load_transcript(transcript_key).unwrap().unwrap();
    let injected = "<script>alert('pwned')</script><img src=x onerror=alert(1)>";
    transcript.segments[0].text = format!("{injected} {}", transcript.segments[0].text);
    store.save_transcript(transcript_key, &transcript).unwrap();

    let output = callqa(&["rescore", "--out", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let output = callqa(&[
        "report",
        "--out",
        out.to_str().unwrap(),
        "--date",
        "2024-03-14",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let day_report = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert_eq!(day_report, out.join("report-2024-03-14.html"));
    for path in [out.join("report.html"), day_report] {
        let html = std::fs::read_to_string(&path).unwrap();
        assert!(
            html.contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"),
            "{}: the injected text is not shown escaped",
            path.display()
        );
        assert_eq!(
            html.matches("<script").count(),
            1,
            "{}: only the report's own sorting script",
            path.display()
        );
        assert!(!html.contains("<img"), "{}", path.display());
        assert!(html.contains("c03_insult"));
    }
    let range = callqa(&[
        "report",
        "--out",
        out.to_str().unwrap(),
        "--from",
        "2024-03-15",
        "--to",
        "2024-03-15",
    ]);
    assert_eq!(range.status.code(), Some(0), "{}", stderr_of(&range));
    let html = std::fs::read_to_string(out.join("report-2024-03-15.html")).unwrap();
    assert!(html.contains("Calls of 2024-03-15"));
    assert!(!html.contains("c03_insult"), "a call of another date");
}

#[test]
fn audit_verdicts_import_into_the_dataset_and_reimport_replaces_them() {
    let run = fixture_run();
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("out");
    copy_dataset(&run.out, &out);
    let output = callqa(&[
        "sample",
        "--out",
        out.to_str().unwrap(),
        "--size",
        "6",
        "--seed",
        "3",
        "--include-unflagged",
        "--control-share",
        "0.34",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let sample_folder = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert!(sample_folder.starts_with(out.join("audit-samples")));
    let sheet_path = sample_folder.join("sheet.csv");
    let mut rows = read_sheet(&sheet_path);
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|row| row["verdict"].is_empty()));
    // An auditor's spelling, and a spreadsheet that saves with semicolons.
    let verdicts = ["Correct", "no", "", "YES", "incorrect", " correct "];
    for (row, verdict) in rows.iter_mut().zip(verdicts) {
        row.insert("verdict".to_string(), verdict.to_string());
    }
    rows[0].insert("note".to_string(), "greeting; clearly missing".to_string());
    write_sheet(&sheet_path, &rows, b';');

    let import = |expect: i32| {
        let output = callqa(&[
            "audit",
            "import",
            sheet_path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(expect), "{}", stderr_of(&output));
        output
    };
    import(0);
    let read_audits = || {
        let audits = read_table(&out, "audits");
        let mut pairs: Vec<(String, Option<String>)> = strings(&audits, "item_id")
            .into_iter()
            .map(Option::unwrap)
            .zip(strings(&audits, "verdict"))
            .collect();
        pairs.sort();
        (audits, pairs)
    };
    let (audits, pairs) = read_audits();
    let mut expected: Vec<(String, Option<String>)> = rows
        .iter()
        .zip([
            "correct",
            "incorrect",
            "",
            "correct",
            "incorrect",
            "correct",
        ])
        .map(|(row, verdict)| {
            (
                row["item_id"].clone(),
                Some(verdict.to_string()).filter(|verdict| !verdict.is_empty()),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(pairs, expected);
    assert!(strings(&audits, "note").contains(&Some("greeting; clearly missing".to_string())));
    assert_eq!(
        strings(&audits, "kind")
            .iter()
            .filter(|kind| kind.as_deref() == Some("control"))
            .count(),
        rows.iter().filter(|row| row["kind"] == "control").count()
    );

    // The same sheet again: replaced, not duplicated; a changed verdict wins.
    import(0);
    assert_eq!(read_audits().1, expected);
    rows[2].insert("verdict".to_string(), "yes".to_string());
    write_sheet(&sheet_path, &rows, b',');
    import(0);
    let (_, pairs) = read_audits();
    assert_eq!(pairs.len(), 6);
    assert!(pairs.contains(&(rows[2]["item_id"].clone(), Some("correct".to_string()))));

    // A verdict that is not one: nothing imported, the line is named.
    rows[4].insert("verdict".to_string(), "maybe".to_string());
    write_sheet(&sheet_path, &rows, b',');
    let output = import(1);
    assert!(
        stderr_of(&output).contains("line 6"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(read_audits().1, pairs);
    // The same with CRLF line ends, as spreadsheets save: still line 6.
    let text = std::fs::read_to_string(&sheet_path).unwrap();
    std::fs::write(&sheet_path, text.replace('\n', "\r\n")).unwrap();
    let output = import(1);
    assert!(
        stderr_of(&output).contains("line 6:"),
        "{}",
        stderr_of(&output)
    );
    rows[4].insert("verdict".to_string(), "incorrect".to_string());

    // A row edited in the spreadsheet no longer matches what was drawn: refused, named.
    let drawn_rule = rows[1]["rule_id"].clone();
    rows[1].insert("rule_id".to_string(), "greeting.hello".to_string());
    write_sheet(&sheet_path, &rows, b',');
    let output = import(1);
    assert!(
        stderr_of(&output).contains("line 3:") && stderr_of(&output).contains(&drawn_rule),
        "{}",
        stderr_of(&output)
    );
    rows[1].insert("rule_id".to_string(), drawn_rule);
    write_sheet(&sheet_path, &rows, b',');
    // A sheet sent back on its own (no sample.json at hand, here a dataset without the
    // sample's folder): its rows are checked against the dataset's calls. A call the dataset
    // does not hold (the wrong --out) is refused and named; the sheet as it was imports.
    let elsewhere = folder.path().join("elsewhere");
    copy_dataset(&run.out, &elsewhere);
    let moved = folder.path().join("sheet.csv");
    let mut edited = rows.clone();
    edited[0].insert("call_id".to_string(), "no_such_call".to_string());
    write_sheet(&moved, &edited, b',');
    let import_moved = |expect: i32| {
        let output = callqa(&[
            "audit",
            "import",
            moved.to_str().unwrap(),
            "--out",
            elsewhere.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(expect), "{}", stderr_of(&output));
        output
    };
    let output = import_moved(1);
    assert!(
        stderr_of(&output).contains("line 2: call no_such_call is not in the dataset"),
        "{}",
        stderr_of(&output)
    );
    write_sheet(&moved, &rows, b',');
    import_moved(0);

    // The report shows precision per audited rule.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let n_judged_findings = rows.iter().filter(|row| row["kind"] == "finding").count();
    assert!(
        html.contains(&format!(
            "Precision from {n_judged_findings} audited findings in 1 sample"
        )),
        "{html}"
    );
}
