//! Developer tool: word errors of decode → vad → Whisper on the English calls a corpus
//! describes (`fixtures/expected.json`, or the benchmark's English corpus made by
//! `benches/throughput/make_english_corpus.sh DIR`), for trying transcription settings
//! without the whole benchmark. Usage:
//!
//! ```sh
//! cargo run --release --example corpus_wer -- MODEL EXPECTED_JSON \
//!     [--lead MS] [--gap MS] [--padding MS] [--beam N] [--full-context] [--verbose]
//! ```
//!
//! `--verbose` prints every channel's time and text: use it on test audio only.

use std::path::Path;

use callqa::decode::{DecodeOptions, decode_file};
use callqa::transcribe::{AsrSettings, Transcriber};
use callqa::vad::{VadConfig, detect_speech};
use callqa::wer::{ErrorCounts, word_errors};

fn main() -> anyhow::Result<()> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        arguments.len() >= 2,
        "usage: corpus_wer MODEL EXPECTED_JSON [--lead MS] [--gap MS] [--padding MS] [--beam N] [--full-context] [--verbose]"
    );
    let mut settings = AsrSettings::default();
    let mut vad = VadConfig::default();
    let mut verbose = false;
    let mut rest = arguments[2..].iter();
    while let Some(flag) = rest.next() {
        let mut number = || -> anyhow::Result<u64> {
            Ok(rest
                .next()
                .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))?
                .parse()?)
        };
        match flag.as_str() {
            "--lead" => settings.window_lead_ms = number()?,
            "--gap" => settings.packing_gap_ms = number()?,
            "--padding" => vad.padding_ms = number()?,
            "--beam" => settings.beam_size = number()? as usize,
            "--full-context" => settings.fit_encoder_context = false,
            "--verbose" => verbose = true,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let transcriber = Transcriber::load(Path::new(&arguments[0]), settings)?;
    let mut worker = transcriber.new_worker()?;
    let expected_path = Path::new(&arguments[1]);
    let expected: serde_json::Value = serde_json::from_slice(&std::fs::read(expected_path)?)?;
    let folder = expected_path.parent().unwrap_or(Path::new("."));
    let mut total = ErrorCounts::default();
    let mut whisper = callqa::transcribe::WhisperCounts::default();
    for (call_id, call) in expected.as_object().into_iter().flatten() {
        let agent_side = call["agent_channel"].as_str().unwrap_or("");
        // English stereo calls only: mono calls have no agent side, malformed ones no length.
        if call["language"] != "en" || agent_side.is_empty() || call["duration_s"].is_null() {
            continue;
        }
        let path = folder.join(call["path"].as_str().unwrap_or_default());
        let audio = decode_file(&path, &DecodeOptions::default())?;
        for (index, samples) in audio.channels.iter().enumerate() {
            let side = if index == 0 { "left" } else { "right" };
            let speaker = if side == agent_side {
                "agent"
            } else {
                "customer"
            };
            let reference = call[speaker]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|sentence| sentence["text"].as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let regions = detect_speech(samples, &vad);
            let started = std::time::Instant::now();
            let text = worker.transcribe_channel(samples, &regions, Some("en"))?;
            whisper += text.whisper;
            let hypothesis = text.joined_text();
            let counts = word_errors(&reference, &hypothesis);
            if verbose {
                println!(
                    "{call_id} {side}: {:.2} s, {} errors, {} looping beams ended | {hypothesis}",
                    started.elapsed().as_secs_f64(),
                    counts.errors(),
                    text.whisper.n_beam_loops_ended
                );
            }
            total.add(counts);
        }
    }
    println!(
        "{} errors in {} words: {:.1} % ({} windows, {} tail passes refused, {} looping beams ended, {} regions decoded again after a loop, {} short readings decoded again, {} replaced)",
        total.errors(),
        total.reference_words,
        100.0 * total.rate(),
        whisper.n_windows,
        whisper.n_tail_passes_refused,
        whisper.n_beam_loops_ended,
        whisper.n_regions_redecoded,
        whisper.n_short_readings_redecoded,
        whisper.n_short_readings_replaced
    );
    Ok(())
}
