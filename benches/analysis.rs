//! What analysis costs next to transcription: metrics, tone, rules and scoring
//! (`Analyzer::analyse`) on stored transcripts, in calls per second, and the share of a run's
//! wall time that it adds.
//!
//! ```sh
//! cargo bench --bench analysis
//! # compare with the transcription speed of a real run on this machine:
//! CALLQA_RUN_MANIFEST=OUT/runs/<run>.json cargo bench --bench analysis
//! ```
//!
//! The calls are built like Whisper's output of a stereo contact-center call: agent and
//! customer take turns with the sentences of the rulebook test calls (`src/rules/testdata/`,
//! greetings, holds, card numbers, insults, thanks …), one segment per speech region with
//! its loudness and pitch, 0.6 s pauses, a 25 s dead air, a hold, overtalk and an agitated turn.
//! A 10-minute call has 130–190 utterances, depending on the language's sentences.
//!
//! After divan's table the bench prints a summary: analysis per call, calls per second, and
//! analysis as a share of the wall time of a run that also transcribes the call. The
//! transcription speed comes from `CALLQA_RUN_MANIFEST` (audio seconds per wall second of the
//! run's audio stages, `audio_seconds_transcribed / stage_seconds.wall_audio`), else from
//! [`MEASURED_AUDIO_SECONDS_PER_WALL_SECOND`].

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use callqa::analyse::{AnalysisOptions, Analyzer};
use callqa::metrics::MetricsOptions;
use callqa::tone::{ToneLexicons, ToneOptions};
use callqa::types::{
    CallTranscript, ChannelTranscript, Layout, RegionAcoustics, Segment, SegmentQuality, Speaker,
    SpeechRegion,
};

/// Transcription speed measured with `callqa run` (release build, Whisper base q8_0, 2 workers
/// × 1 thread on 2 cores, llamafile kernels) over the calls of `fixtures/make_timing_fixtures.sh`
/// (333 s of audio in 11.5 s of audio stages: 28.9) and over `fixtures/manifest.csv` (122 s in
/// 5.9 s: 20.6). Used when no run manifest is given.
const MEASURED_AUDIO_SECONDS_PER_WALL_SECOND: f64 = 28.9;

const LANGUAGES: &[&str] = &["en", "es", "ru", "pl", "zh", "fa"];

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn analyzer() -> Analyzer {
    Analyzer::load(&repository_root().join("rules"), AnalysisOptions::default())
        .expect("the default rulebooks load")
}

fn lexicons() -> ToneLexicons {
    ToneLexicons::load(&repository_root().join("rules/lexicons/sentiment"))
        .expect("the sentiment lexicons load")
}

/// The agent and customer sentences of a language's rulebook test calls.
fn sentences(language: &str) -> (Vec<String>, Vec<String>) {
    let path = repository_root()
        .join("src/rules/testdata")
        .join(format!("{language}.calls"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let (mut agent, mut customer) = (Vec::new(), Vec::new());
    for line in text.lines() {
        // "[0:01-0:06] agent: …" or "customer: …"
        let line = match line.split_once("] ") {
            Some((time, rest)) if time.starts_with('[') => rest,
            _ => line,
        };
        if let Some(sentence) = line.strip_prefix("agent:") {
            agent.push(sentence.trim().to_string());
        } else if let Some(sentence) = line.strip_prefix("customer:") {
            customer.push(sentence.trim().to_string());
        }
    }
    assert!(
        agent.len() >= 5 && customer.len() >= 5,
        "{}: too few sentences",
        path.display()
    );
    (agent, customer)
}

/// Speaking time of a sentence: 2.6 words per second, or 4.5 characters per second for
/// Chinese, at least a second.
fn speaking_ms(sentence: &str, language: &str) -> u64 {
    let seconds = if language == "zh" {
        sentence
            .chars()
            .filter(|c| !c.is_ascii_punctuation())
            .count() as f64
            / 4.5
    } else {
        sentence.split_whitespace().count() as f64 / 2.6
    };
    ((seconds * 1000.0) as u64).max(1_000)
}

/// A stereo call of about `minutes` minutes in `language`, shaped like a cached transcript.
fn build_call(language: &str, minutes: u64) -> CallTranscript {
    let (agent_sentences, customer_sentences) = sentences(language);
    let target_ms = minutes * 60_000;
    let mut channels: Vec<ChannelTranscript> = [Speaker::Agent, Speaker::Customer]
        .into_iter()
        .enumerate()
        .map(|(index, speaker)| ChannelTranscript {
            channel: index as u16,
            speaker,
            language: Some(language.to_string()),
            regions: Vec::new(),
            acoustics: Vec::new(),
            n_dropped_segments: 0,
        })
        .collect();
    let mut segments = Vec::new();
    let mut cursor_ms = 700;
    let mut turn = 0_usize;
    while cursor_ms < target_ms {
        let is_agent = turn.is_multiple_of(2);
        let pool = if is_agent {
            &agent_sentences
        } else {
            &customer_sentences
        };
        let text = pool[(turn / 2) % pool.len()].clone();
        let mut duration_ms = speaking_ms(&text, language);
        let mut start_ms = cursor_ms;
        let jitter = (turn % 5) as f32;
        let (mut loudness_db, mut pitch_hz) = if is_agent {
            (-22.0 + jitter * 0.5 - 1.0, 120.0 + jitter * 3.0)
        } else {
            (-26.0 + jitter * 0.5 - 1.0, 210.0 - jitter * 4.0)
        };
        match turn % 60 {
            // The agent talks over the customer for 2 s.
            20 => start_ms = start_ms.saturating_sub(2_600),
            // An agitated agent turn: louder, higher, faster.
            40 => {
                loudness_db += 8.0;
                pitch_hz *= 2f32.powf(300.0 / 1200.0);
                duration_ms = duration_ms * 4 / 5;
            }
            _ => {}
        }
        let end_ms = start_ms + duration_ms;
        let channel = usize::from(!is_agent);
        channels[channel]
            .regions
            .push(SpeechRegion { start_ms, end_ms });
        channels[channel].acoustics.push(RegionAcoustics {
            start_ms,
            end_ms,
            loudness_db,
            pitch_hz: Some(pitch_hz),
        });
        segments.push(Segment {
            speaker: channels[channel].speaker,
            channel: channel as u16,
            start_ms,
            end_ms,
            text,
            confidence: 0.85,
            quality: SegmentQuality::Ok,
        });
        // Dead air after turn 30, a minute's hold after turn 90, else a short pause.
        let gap_ms = match turn {
            30 => 25_000,
            90 => 60_000,
            _ => 600,
        };
        cursor_ms = end_ms.max(cursor_ms) + gap_ms;
        turn += 1;
    }
    segments.sort_by_key(|segment| (segment.start_ms, segment.channel));
    CallTranscript {
        duration_ms: cursor_ms + 1_000,
        layout: Layout::Stereo,
        source_sample_rate: 8_000,
        channels,
        segments,
    }
}

fn main() {
    divan::main();
    summary();
}

/// Metrics alone (timing events and metrics), 10-minute English call.
#[divan::bench]
fn metrics_only(bencher: divan::Bencher) {
    let call = build_call("en", 10);
    let options = MetricsOptions::default();
    bencher
        .counter(divan::counter::ItemsCount::new(1_usize))
        .bench(|| callqa::metrics::measure(black_box(&call), &options));
}

/// Metrics and tone (sentiment, arousal, agent tone), 10-minute English call.
#[divan::bench]
fn metrics_and_tone(bencher: divan::Bencher) {
    let call = build_call("en", 10);
    let lexicons = lexicons();
    let options = ToneOptions::default();
    bencher
        .counter(divan::counter::ItemsCount::new(1_usize))
        .bench(|| callqa::tone::analyse(black_box(&call), &lexicons, &options));
}

/// The analysis stage: metrics, tone, rules and scoring, 10-minute calls per language.
#[divan::bench(args = LANGUAGES)]
fn analyse_10_minutes(bencher: divan::Bencher, language: &str) {
    let call = build_call(language, 10);
    let analyzer = analyzer();
    bencher
        .counter(divan::counter::ItemsCount::new(1_usize))
        .bench(|| analyzer.analyse(black_box(&call), Some(language)));
}

/// The same for a 3-minute English call (a typical inbound call).
#[divan::bench]
fn analyse_3_minutes(bencher: divan::Bencher) {
    let call = build_call("en", 3);
    let analyzer = analyzer();
    bencher
        .counter(divan::counter::ItemsCount::new(1_usize))
        .bench(|| analyzer.analyse(black_box(&call), Some("en")));
}

/// What the table rebuild adds per call besides analysis: redacting every segment.
#[divan::bench(args = LANGUAGES)]
fn redact_10_minutes(bencher: divan::Bencher, language: &str) {
    let call = build_call(language, 10);
    bencher
        .counter(divan::counter::ItemsCount::new(1_usize))
        .bench(|| callqa::pii::redact_transcript(black_box(&call), language));
}

/// Audio seconds per wall second of a run's audio stages, and where the number comes from.
fn transcription_speed() -> (f64, String) {
    if let Some(path) = std::env::var_os("CALLQA_RUN_MANIFEST") {
        let path = Path::new(&path);
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        let manifest: serde_json::Value = serde_json::from_str(&text).expect("a run manifest");
        let audio = manifest["audio_seconds_transcribed"]
            .as_f64()
            .unwrap_or(0.0);
        let wall = manifest["stage_seconds"]["wall_audio"]
            .as_f64()
            .unwrap_or(0.0);
        if audio > 0.0 && wall > 0.0 {
            return (audio / wall, format!("run manifest {}", path.display()));
        }
        eprintln!(
            "{}: no transcribed audio in this run; using the measured constant",
            path.display()
        );
    }
    (
        MEASURED_AUDIO_SECONDS_PER_WALL_SECOND,
        "constant measured on the 2-core development machine (see benches/analysis.rs)".into(),
    )
}

/// Mean time of `run` over about a second of repetitions.
fn mean_time(mut run: impl FnMut()) -> Duration {
    run();
    let started = Instant::now();
    let mut n_runs = 0_u32;
    while started.elapsed() < Duration::from_millis(800) || n_runs < 10 {
        run();
        n_runs += 1;
    }
    started.elapsed() / n_runs
}

fn summary() {
    // Only when benchmarks ran (not for `--list` or a filter that matched nothing of ours).
    let arguments: Vec<String> = std::env::args().collect();
    if arguments
        .iter()
        .any(|argument| argument == "--list" || argument == "--test")
    {
        return;
    }
    let analyzer = analyzer();
    let (audio_per_wall, source) = transcription_speed();
    println!();
    println!(
        "analysis vs transcription (transcription: {audio_per_wall:.1} audio-s per wall-s, {source})"
    );
    println!(
        "{:<9} {:>6} {:>10} {:>12} {:>10} {:>16} {:>9}",
        "call", "audio", "segments", "analysis", "calls/s", "transcription", "share"
    );
    let mut worst_share: f64 = 0.0;
    for (language, minutes) in LANGUAGES
        .iter()
        .map(|language| (*language, 10))
        .chain([("en", 3)])
    {
        let call = build_call(language, minutes);
        let analysis = mean_time(|| {
            black_box(analyzer.analyse(black_box(&call), Some(language)));
        });
        let audio_seconds = call.duration_ms as f64 / 1000.0;
        let transcription_seconds = audio_seconds / audio_per_wall;
        let share = analysis.as_secs_f64() / (analysis.as_secs_f64() + transcription_seconds);
        worst_share = worst_share.max(share);
        println!(
            "{:<9} {:>5.0}s {:>10} {:>10.3}ms {:>10.0} {:>15.1}s {:>8.4}%",
            format!("{language} {minutes}min"),
            audio_seconds,
            call.segments.len(),
            analysis.as_secs_f64() * 1000.0,
            1.0 / analysis.as_secs_f64(),
            transcription_seconds,
            share * 100.0
        );
    }
    println!(
        "metrics + tone + rules + scoring add at most {:.4}% to a run's wall time (budget 5%)",
        worst_share * 100.0
    );
}
