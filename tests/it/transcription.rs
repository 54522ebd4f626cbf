//! Transcription quality with the real model: real English recordings, telephone codecs and
//! sample rates, silence.

use std::path::Path;

use callqa::decode::{DecodeOptions, decode_file};
use callqa::vad::{VadConfig, detect_speech};
use callqa::wer::{ErrorCounts, word_errors};

use crate::support::transcriber;

/// Transcribes every channel of a file through decode → vad → Whisper; text per channel.
pub fn transcribe_channels(path: &Path, language: &str) -> Vec<String> {
    let audio =
        decode_file(path, &DecodeOptions::default()).unwrap_or_else(|error| panic!("{error}"));
    let mut worker = transcriber().new_worker().unwrap();
    audio
        .channels
        .iter()
        .map(|samples| {
            let regions = detect_speech(samples, &VadConfig::default());
            let text = worker
                .transcribe_channel(samples, &regions, Some(language))
                .unwrap();
            text.utterances
                .iter()
                .map(|utterance| utterance.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The LibriVox recordings of Debian's pocketsphinx-testdata come out with at most 5 % word
/// errors (the reference keeps a reader's stumble, "a more a amiable", which costs one).
#[test]
fn librivox_recordings_read_within_five_percent_word_errors() {
    let folder = Path::new("/usr/share/pocketsphinx/test/data/librivox");
    let references = std::fs::read_to_string(folder.join("transcription")).unwrap_or_else(|error| {
        panic!("{}: {error} (install the Debian package pocketsphinx-testdata; scripts/setup.sh does)", folder.display())
    });
    let mut total = ErrorCounts::default();
    let mut n_files = 0;
    for line in references.lines().filter(|line| !line.trim().is_empty()) {
        let (text, file_id) = line.rsplit_once('(').unwrap();
        let file_id = file_id.trim_end_matches(')').trim();
        let reference = text.replace("<s>", "").replace("</s>", "");
        let hypothesis =
            transcribe_channels(&folder.join(format!("{file_id}.wav")), "en").join(" ");
        let counts = word_errors(&reference, &hypothesis);
        eprintln!("{file_id}: {:.1} % — {hypothesis}", counts.rate() * 100.0);
        total.add(counts);
        n_files += 1;
    }
    assert_eq!(n_files, 5);
    eprintln!(
        "LibriVox word error rate: {:.2} % over {} words",
        total.rate() * 100.0,
        total.reference_words
    );
    assert!(
        total.rate() <= 0.05,
        "word error rate {:.2} %",
        total.rate() * 100.0
    );
}

/// Silence, line hiss and a test tone never reach Whisper, so they produce no text at all.
#[test]
fn silence_and_noise_produce_no_text() {
    let mut worker = transcriber().new_worker().unwrap();
    let mut seed: u32 = 12345;
    let mut noise = || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
    };
    let silence = vec![0.0f32; 16_000 * 8];
    let hiss: Vec<f32> = (0..16_000 * 8).map(|_| noise() * 0.01).collect();
    let tone: Vec<f32> = (0..16_000 * 8)
        .map(|index| 0.3 * (index as f32 * 2.0 * std::f32::consts::PI * 1000.0 / 16_000.0).sin())
        .collect();
    for (name, samples) in [("silence", silence), ("hiss", hiss), ("tone", tone)] {
        let regions = detect_speech(&samples, &VadConfig::default());
        let text = worker
            .transcribe_channel(&samples, &regions, Some("en"))
            .unwrap();
        assert!(text.utterances.is_empty(), "{name}: {:?}", text.utterances);
        assert_eq!(text.n_windows, 0, "{name} reached Whisper");
    }
}
