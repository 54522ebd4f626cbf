//! Transcription quality with the real model: real English recordings, telephone codecs and
//! sample rates, silence.

use std::path::Path;

use callqa::decode::{DecodeOptions, decode_file};
use callqa::transcribe::{AsrSettings, Transcriber};
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
            worker
                .transcribe_channel(samples, &regions, Some(language))
                .unwrap()
                .joined_text()
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
        assert_eq!(text.whisper.n_windows, 0, "{name} reached Whisper");
    }
}

/// whisper.cpp 1.8.3 aborts the process (an assertion in its alignment's median filter) when
/// a later pass over a window yields text from less than 160 ms of audio: one call would stop
/// the whole batch, on every re-run. The guard in `transcribe::hooks` refuses every later pass
/// that would start in a window's last 300 ms. The agent channel of call e10 of the
/// benchmark's English corpus, packed with a 1 s lead-in and 1 s gaps after 300 ms of voice
/// padding, aborted both models before the guard; since the encoder's margin grew to 3 s it
/// no longer reaches such a pass. The customer channel of call e05 does, with the same
/// packing: there the refused pass would have read Whisper's phantom "you" after the last
/// sentence. The pass is refused, counted, and every sentence is there, up to the last.
#[test]
fn a_window_whose_last_moments_would_get_a_pass_of_their_own_is_transcribed() {
    let folder = tempfile::tempdir().unwrap();
    let script =
        crate::support::repository_root().join("benches/throughput/make_english_corpus.sh");
    let generated = std::process::Command::new("bash")
        .arg(&script)
        .arg(folder.path())
        .output()
        .expect("bash starts");
    assert!(
        generated.status.success(),
        "{} failed (espeak-ng, sox and pocketsphinx-testdata are needed: run scripts/setup.sh):\n{}",
        script.display(),
        crate::support::stderr_of(&generated)
    );
    let settings = AsrSettings {
        window_lead_ms: 1_000,
        packing_gap_ms: 1_000,
        ..AsrSettings::default()
    };
    let transcriber = Transcriber::load(&crate::support::model_path(), settings).unwrap();
    let mut worker = transcriber.new_worker().unwrap();
    let audio = decode_file(
        &folder.path().join("e05_mulaw.wav"),
        &DecodeOptions::default(),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let customer = &audio.channels[1];
    let vad = VadConfig {
        padding_ms: 300,
        ..VadConfig::default()
    };
    let regions = detect_speech(customer, &vad);
    let text = worker
        .transcribe_channel(customer, &regions, Some("en"))
        .unwrap();
    // With the bf16 weights (what `callqa model install` picks on CPUs with AVX-512 BF16, as
    // the test machines have); q8_0 ends this window without a later pass.
    if crate::support::model_path()
        .to_string_lossy()
        .contains("bf16")
    {
        assert_eq!(text.whisper.n_tail_passes_refused, 1, "{text:?}");
    }
    let hypothesis = text.joined_text();
    let reference = "Hello, I am calling about an old book I would like to borrow. And Mister John \
        Dashwood had then leisure to consider how much there might be prudently in his power to \
        do for them. He was not an ill disposed young man. Thank you, that is very kind.";
    let counts = word_errors(reference, &hypothesis);
    eprintln!("{:.1} % — {hypothesis}", counts.rate() * 100.0);
    // espeak's customer voice reads poorly in places ("calling him out to no book"); what
    // matters is that every sentence came back, up to the last, and nothing after it.
    assert!(
        counts.rate() < 0.35,
        "{:.1} %: {hypothesis}",
        counts.rate() * 100.0
    );
    let lower = hypothesis.to_lowercase();
    assert!(lower.contains("young man"), "{hypothesis}");
    assert!(lower.contains("thank you"), "{hypothesis}");
    assert!(!lower.trim_end().ends_with(" you"), "{hypothesis}");
}

/// The test model with beam search (5 beams).
fn beam_transcriber() -> Transcriber {
    let settings = AsrSettings {
        beam_size: 5,
        ..AsrSettings::default()
    };
    Transcriber::load(&crate::support::model_path(), settings).unwrap()
}

/// The decoded channels of a fixture call.
fn fixture_channels(file: &str) -> Vec<Vec<f32>> {
    decode_file(
        &crate::support::fixtures().join(file),
        &DecodeOptions::default(),
    )
    .unwrap()
    .channels
}

/// Beam search gives a channel the same text whatever the worker transcribed before it: the
/// order of a batch never changes a transcript. (whisper.cpp seeds the random generator of
/// the first beam once per state, so a reused state made beam text depend on history.)
#[test]
fn beam_search_text_does_not_depend_on_what_the_worker_did_before() {
    let transcriber = beam_transcriber();
    let first = fixture_channels("c03_insult_mulaw.wav");
    let second = fixture_channels("c02_no_greeting_mulaw.wav");
    let text_of = |worker: &mut callqa::transcribe::Worker<'_>, samples: &[f32]| {
        let regions = detect_speech(samples, &VadConfig::default());
        worker
            .transcribe_channel(samples, &regions, Some("en"))
            .unwrap()
            .utterances
            .into_iter()
            .map(|utterance| utterance.text)
            .collect::<Vec<_>>()
    };
    let mut busy = transcriber.new_worker().unwrap();
    for samples in &first {
        text_of(&mut busy, samples);
    }
    let after_other_work: Vec<_> = second
        .iter()
        .map(|samples| text_of(&mut busy, samples))
        .collect();
    let mut fresh = transcriber.new_worker().unwrap();
    let alone: Vec<_> = second
        .iter()
        .map(|samples| text_of(&mut fresh, samples))
        .collect();
    assert!(alone.iter().all(|texts| !texts.is_empty()), "{alone:?}");
    assert_eq!(after_other_work, alone);
}

/// A beam caught in a loop over a card number read aloud ("11 1 - 11 1 - …") is ended as soon
/// as it is one, instead of running to whisper.cpp's 220-token limit with the whole search
/// waiting on it, and the text that comes out is the search's best finished beam.
#[test]
fn beams_looping_over_a_card_number_are_ended_and_the_text_is_not_a_loop() {
    let transcriber = beam_transcriber();
    let channels = fixture_channels("c05_card_number_mulaw_extensible.wav");
    // The agent's side: "Union Bank, Maria speaking." … "I repeat, 4111111111111111."
    let samples = &channels[0];
    let regions = detect_speech(samples, &VadConfig::default());
    let mut worker = transcriber.new_worker().unwrap();
    let text = worker
        .transcribe_channel(samples, &regions, Some("en"))
        .unwrap();
    assert!(text.whisper.n_beam_loops_ended >= 1, "{text:?}");
    let hypothesis = text.joined_text();
    assert!(
        hypothesis.to_lowercase().starts_with("union bank"),
        "{hypothesis}"
    );
    assert!(
        hypothesis.to_lowercase().contains("i repeat"),
        "{hypothesis}"
    );
    // The looping beam ran to 220 tokens before; what comes out is the two sentences.
    assert!(hypothesis.len() < 100, "{hypothesis}");
    assert!(
        !text
            .utterances
            .iter()
            .any(|utterance| utterance.quality == callqa::types::SegmentQuality::RepetitionTrimmed),
        "{text:?}"
    );
}

/// The customer's side of the throughput benchmark's second long call from 195 s to 262 s,
/// made as the benchmark makes it (`--corpus long`): the English fixture calls with the agent
/// on the left, one after another four times over, by sox; there Whisper loops on the third
/// card number, packed in one window with the next turn.
fn customer_side_of_a_long_call(folder: &Path) -> Vec<f32> {
    let sox = |arguments: &[&std::ffi::OsStr]| {
        let status = std::process::Command::new("sox")
            .arg("-R")
            .args(arguments)
            .status()
            .expect("sox (scripts/setup.sh installs it)");
        assert!(status.success(), "sox {arguments:?}");
    };
    // (file, agent on the right)
    let calls = [
        ("c02_no_greeting_mulaw.wav", true),
        ("c03_insult_mulaw.wav", false),
        ("c04_no_closing_alaw.wav", true),
        ("c05_card_number_mulaw_extensible.wav", false),
        ("c08_customer_silent_mulaw.wav", true),
        ("c01_polite_mulaw.wav", false),
    ];
    let mut parts = Vec::new();
    for (file, agent_right) in calls {
        let part = folder.join(file);
        let source = crate::support::fixtures().join(file);
        let mut arguments = vec![source.as_os_str()];
        arguments.extend(["-r", "8000", "-e", "mu-law"].map(std::ffi::OsStr::new));
        arguments.push(part.as_os_str());
        if agent_right {
            arguments.extend(["remix", "2", "1"].map(std::ffi::OsStr::new));
        }
        sox(&arguments);
        parts.push(part);
    }
    let long = folder.join("long.wav");
    let mut arguments: Vec<&std::ffi::OsStr> = (0..4)
        .flat_map(|_| parts.iter().map(|part| part.as_os_str()))
        .collect();
    arguments.push(long.as_os_str());
    sox(&arguments);
    let excerpt = folder.join("excerpt.wav");
    sox(&[long.as_os_str(), excerpt.as_os_str()]
        .into_iter()
        .chain(["trim", "195", "=262", "remix", "2"].map(std::ffi::OsStr::new))
        .collect::<Vec<_>>());
    let mut channels = decode_file(&excerpt, &DecodeOptions::default())
        .unwrap()
        .channels;
    channels.swap_remove(0)
}

/// Whisper can fall into a loop on a card number read digit by digit ("one, one, one …" to
/// the token limit), and whisper.cpp then ends the window's decoding there: every region
/// packed after it came back empty. callqa decodes the looping region again alone, and the
/// regions after it in a window of their own, so the card number is read through and the
/// next turn keeps its words.
#[test]
fn a_loop_over_a_card_number_takes_neither_the_number_nor_the_next_turn() {
    let transcriber = beam_transcriber();
    let folder = tempfile::tempdir().unwrap();
    let samples = customer_side_of_a_long_call(folder.path());
    let regions = detect_speech(&samples, &VadConfig::default());
    let mut worker = transcriber.new_worker().unwrap();
    let text = worker
        .transcribe_channel(&samples, &regions, Some("en"))
        .unwrap();
    // With the bf16 weights (what `callqa model install` picks on CPUs with AVX-512 BF16, as
    // the test machines have) Whisper loops here; with q8_0 it happens not to, and the outcome
    // below is checked all the same. If the bf16 loop goes away, pick another input.
    let model = crate::support::model_path();
    if model.to_string_lossy().contains("bf16") {
        assert!(text.whisper.n_regions_redecoded >= 1, "{text:?}");
    }
    let card = text
        .utterances
        .iter()
        .find(|utterance| utterance.text.to_lowercase().contains("lost my card"))
        .expect("the card-number turn");
    assert_ne!(
        card.quality,
        callqa::types::SegmentQuality::RepetitionTrimmed,
        "{card:?}"
    );
    let digits = card.text.chars().filter(char::is_ascii_digit).count();
    assert!(digits >= 13, "the card number read through: {card:?}");
    assert!(text.joined_text().contains("check my balance"), "{text:?}");
}

/// Speech synthesised by espeak-ng (`text` may hold phonemes in `[[…]]`), as 16 kHz samples.
fn espeak(folder: &Path, name: &str, text: &str) -> Vec<f32> {
    let path = folder.join(format!("{name}.wav"));
    let output = std::process::Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "140", "-w"])
        .arg(&path)
        .arg(text)
        .output()
        .expect("espeak-ng (scripts/setup.sh installs it)");
    assert!(
        output.status.success(),
        "{}",
        crate::support::stderr_of(&output)
    );
    decode_file(&path, &DecodeOptions::default())
        .unwrap_or_else(|error| panic!("{error}"))
        .channels
        .swap_remove(0)
}

/// A region whose reading is far too short for its length is decoded again on its own
/// (`transcribe::reads_too_little`), for the speech Whisper sometimes skips inside a packed
/// window: on the benchmark's long calls, with a 4 s encoder margin, a card number read digit
/// by digit came back as "I lost my card. I am very poor." That skip cannot be provoked on
/// purpose; a hesitation can: "Okay" and a held "uh" of 3 s between two sentences reads as one
/// word, so it is decoded again alone, reads no more there, and keeps its first reading. The
/// rest of the channel is untouched.
#[test]
fn a_reading_too_short_for_its_speech_is_decoded_again_alone() {
    let folder = tempfile::tempdir().unwrap();
    let sentence = espeak(
        folder.path(),
        "sentence",
        "Thank you very much for waiting, I have your details here.",
    );
    let hesitation = espeak(
        folder.path(),
        "hesitation",
        &format!("Okay [[{}]]", "@".repeat(50)),
    );
    let pause = vec![0.0f32; 16_000];
    let samples = [&sentence[..], &pause, &hesitation, &pause, &sentence].concat();
    let regions = detect_speech(&samples, &VadConfig::default());
    assert_eq!(regions.len(), 3, "{regions:?}");
    assert!(regions[1].duration_ms() >= 3_000, "{regions:?}");
    let mut worker = transcriber().new_worker().unwrap();
    let text = worker
        .transcribe_channel(&samples, &regions, Some("en"))
        .unwrap();
    assert_eq!(text.whisper.n_short_readings_redecoded, 1, "{text:?}");
    assert_eq!(text.whisper.n_windows, 2, "{text:?}");
    let hypothesis = text.joined_text().to_lowercase();
    assert!(hypothesis.contains("okay"), "{hypothesis}");
    assert_eq!(
        hypothesis.matches("details here").count(),
        2,
        "{hypothesis}"
    );
}
