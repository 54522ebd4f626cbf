//! Developer tool: prints what decode → vad → Whisper make of WAV files, per channel and
//! speech region, with timings. Usage:
//! `cargo run --release --example transcribe_files -- MODEL LANGUAGE FILE...`
//! It prints transcript text: use it on test audio, not on customer recordings.

use callqa::decode::*;
use callqa::transcribe::*;
use callqa::vad::*;
use std::path::Path;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let t = Transcriber::load(Path::new(&args[1]), AsrSettings::default()).unwrap();
    let mut w = t.new_worker().unwrap();
    for f in &args[3..] {
        let start = std::time::Instant::now();
        let audio = decode_file(Path::new(f), &DecodeOptions::default()).unwrap();
        for (ci, ch) in audio.channels.iter().enumerate() {
            let regions = detect_speech(ch, &VadConfig::default());
            let text = w.transcribe_channel(ch, &regions, Some(&args[2])).unwrap();
            println!(
                "{f} ch{ci} windows={} dropped={}",
                text.whisper.n_windows, text.n_dropped
            );
            for u in &text.utterances {
                let r = regions[u.region_index];
                println!(
                    "  [{:.1}-{:.1}] {:?} {:.2} {}",
                    r.start_ms as f64 / 1000.0,
                    r.end_ms as f64 / 1000.0,
                    u.quality,
                    u.confidence,
                    u.text
                );
            }
        }
        println!(
            "  {:.2}s for {:.1}s audio",
            start.elapsed().as_secs_f64(),
            audio.duration_ms as f64 / 1000.0
        );
    }
}
