//! The WAV decoder on arbitrary bytes: it must return audio or a `DecodeError`, never panic,
//! never allocate by a header's claim, and what it returns must keep its promises.
#![no_main]

use callqa::decode::{DecodeOptions, TARGET_SAMPLE_RATE, decode_bytes, probe_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let probed = probe_bytes(data);
    let options = DecodeOptions::default();
    match decode_bytes(data, &options) {
        Ok(audio) => {
            let info = probed.expect("what decodes can be probed");
            assert_eq!(audio.n_source_channels, info.n_channels);
            assert_eq!(audio.source_sample_rate, info.sample_rate);
            assert_eq!(audio.duration_ms, info.duration_ms);
            assert_eq!(audio.channels.len(), usize::from(audio.n_source_channels));
            assert!(audio.channels.len() <= usize::from(options.max_channels));
            // ceil(frames × 16 kHz / rate) samples per channel, all alike, all in -1..=1.
            let expected = (u128::from(info.n_frames) * u128::from(TARGET_SAMPLE_RATE))
                .div_ceil(u128::from(info.sample_rate)) as usize;
            for channel in &audio.channels {
                assert_eq!(channel.len(), expected);
                assert!(channel.iter().all(|sample| (-1.0..=1.0).contains(sample)));
            }
        }
        Err(error) => {
            // Every error names the recording and has a stable kind.
            assert!(error.to_string().starts_with("<memory>: "));
            assert!(!error.kind().is_empty());
        }
    }
});
