//! The mel filterbank whisper.cpp reads from the model file.
//!
//! Whisper's features use `librosa.filters.mel(sr=16000, n_fft=400, n_mels=80 or 128)`: triangular
//! filters on the Slaney mel scale (linear below 1 kHz, logarithmic above) with Slaney area
//! normalisation (each filter scaled by `2 / bandwidth`). CTranslate2 directories do not include it,
//! so we compute it, replicating librosa 0.11's arithmetic step by step — including its f64
//! computation and the two f32 roundings of its float32 output array — so the result is
//! bit-identical to `whisper/assets/mel_filters.npz` that OpenAI and whisper.cpp's converter use.

/// Whisper's audio sample rate.
pub(crate) const WHISPER_SAMPLE_RATE: u32 = 16_000;
/// Whisper's FFT window (25 ms at 16 kHz); the filterbank has `n_fft / 2 + 1` = 201 columns.
pub(crate) const WHISPER_FFT_SIZE: usize = 400;

/// Slaney mel scale: linear 200/3 Hz per mel up to 1 kHz, then logarithmic (librosa `hz_to_mel`).
fn hz_to_mel_slaney(frequency: f64) -> f64 {
    let linear_hz_per_mel = 200.0 / 3.0;
    let log_region_start_hz = 1000.0;
    let log_region_start_mel = log_region_start_hz / linear_hz_per_mel;
    let log_step = 6.4f64.ln() / 27.0;
    if frequency >= log_region_start_hz {
        log_region_start_mel + (frequency / log_region_start_hz).ln() / log_step
    } else {
        frequency / linear_hz_per_mel
    }
}

/// Inverse of [`hz_to_mel_slaney`] (librosa `mel_to_hz`).
fn mel_to_hz_slaney(mel: f64) -> f64 {
    let linear_hz_per_mel = 200.0 / 3.0;
    let log_region_start_hz = 1000.0;
    let log_region_start_mel = log_region_start_hz / linear_hz_per_mel;
    let log_step = 6.4f64.ln() / 27.0;
    if mel >= log_region_start_mel {
        log_region_start_hz * (log_step * (mel - log_region_start_mel)).exp()
    } else {
        linear_hz_per_mel * mel
    }
}

/// The mel filterbank as a row-major `mel_count × (fft_size / 2 + 1)` matrix of f32.
pub(crate) fn slaney_mel_filterbank(
    sample_rate: u32,
    fft_size: usize,
    mel_count: usize,
) -> Vec<f32> {
    let bin_count = fft_size / 2 + 1;

    // numpy.fft.rfftfreq(n, d=1/sr): k * (1 / (n * d)).
    let hz_per_bin = 1.0 / (fft_size as f64 * (1.0 / f64::from(sample_rate)));
    let bin_frequencies: Vec<f64> = (0..bin_count).map(|bin| bin as f64 * hz_per_bin).collect();

    // librosa.mel_frequencies(mel_count + 2, fmin=0, fmax=sr/2): numpy.linspace over mels
    // (i * step + start, last point exactly `stop`), mapped back to Hz.
    let edge_count = mel_count + 2;
    let lowest_mel = hz_to_mel_slaney(0.0);
    let highest_mel = hz_to_mel_slaney(f64::from(sample_rate) / 2.0);
    let mel_step = (highest_mel - lowest_mel) / (edge_count - 1) as f64;
    let edge_frequencies: Vec<f64> = (0..edge_count)
        .map(|index| {
            if index == edge_count - 1 {
                highest_mel
            } else {
                index as f64 * mel_step + lowest_mel
            }
        })
        .map(mel_to_hz_slaney)
        .collect();

    let mut weights = vec![0.0f32; mel_count * bin_count];
    for mel in 0..mel_count {
        let lower_width = edge_frequencies[mel + 1] - edge_frequencies[mel];
        let upper_width = edge_frequencies[mel + 2] - edge_frequencies[mel + 1];
        // Slaney normalisation: constant area per filter.
        let area_normalisation = 2.0 / (edge_frequencies[mel + 2] - edge_frequencies[mel]);
        for (bin, bin_frequency) in bin_frequencies.iter().enumerate() {
            let rising = -(edge_frequencies[mel] - bin_frequency) / lower_width;
            let falling = (edge_frequencies[mel + 2] - bin_frequency) / upper_width;
            // numpy's `maximum(0, minimum(rising, falling))` on x86 (SSE `minpd`/`maxpd`): when the
            // operands compare equal the second one wins, which makes the reference's first entry
            // -0.0. Spelled out so signed zeros match on every platform.
            let smaller = if rising < falling { rising } else { falling };
            let clamped = if 0.0 > smaller { 0.0 } else { smaller };
            // librosa stores the triangle into a float32 array, then multiplies that array in place
            // by the f64 normalisation: two separate roundings to f32.
            let triangle = clamped as f32;
            weights[mel * bin_count + bin] = (f64::from(triangle) * area_normalisation) as f32;
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn filterbank_sha256(weights: &[f32]) -> String {
        let bytes: Vec<u8> = weights
            .iter()
            .flat_map(|weight| weight.to_le_bytes())
            .collect();
        hex::encode(Sha256::digest(&bytes))
    }

    /// SHA-256 of the little-endian f32 bytes of `mel_80` / `mel_128` in openai-whisper's
    /// `whisper/assets/mel_filters.npz` (openai-whisper 20250625, identical to librosa 0.11 output).
    #[test]
    fn filterbanks_are_bit_identical_to_openai_whisper_assets() {
        let mel_80 = slaney_mel_filterbank(WHISPER_SAMPLE_RATE, WHISPER_FFT_SIZE, 80);
        assert_eq!(
            filterbank_sha256(&mel_80),
            "4f2701b1d287d74a0dc9871026e9519d98cb76426615f2539b0d151a0ae4ec2e"
        );
        let mel_128 = slaney_mel_filterbank(WHISPER_SAMPLE_RATE, WHISPER_FFT_SIZE, 128);
        assert_eq!(
            filterbank_sha256(&mel_128),
            "2a5f9822897750e047c85dea37cc268d3be0ecfd23c28a5f10da129d99d05afe"
        );
    }

    /// Readable spot checks against values printed by `librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)`.
    #[test]
    fn filterbank_matches_known_librosa_entries() {
        let weights = slaney_mel_filterbank(WHISPER_SAMPLE_RATE, WHISPER_FFT_SIZE, 80);
        assert_eq!(weights.len(), 80 * 201);
        assert_eq!(weights.iter().filter(|weight| **weight != 0.0).count(), 391);
        let entry = |mel: usize, bin: usize| weights[mel * 201 + bin];
        assert_eq!(entry(0, 1).to_bits(), 0x3ccb_aca4); // 0.024862595
        assert_eq!(entry(1, 1).to_bits(), 0x3b02_7873); // 0.0019908219
        assert_eq!(entry(1, 2).to_bits(), 0x3cbb_5d95); // 0.022871772
        assert_eq!(entry(40, 42).to_bits(), 0x3bb1_4fa3); // 0.0054111048
        assert_eq!(entry(79, 186).to_bits(), 0x39c0_473c); // 0.00036674167
        let row_sum = |mel: usize| {
            weights[mel * 201..(mel + 1) * 201]
                .iter()
                .map(|weight| f64::from(*weight))
                .sum::<f64>()
        };
        for (mel, expected_sum) in [
            (0, 0.02486259490251541),
            (10, 0.024862592574208975),
            (40, 0.026664861012250185),
            (79, 0.024925339792389423),
        ] {
            assert!(
                (row_sum(mel) - expected_sum).abs() < 1e-12,
                "row {mel}: {}",
                row_sum(mel)
            );
        }
        // The DC bin and the Nyquist bin belong to no filter.
        assert!((0..80).all(|mel| entry(mel, 0) == 0.0 && entry(mel, 200) == 0.0));
    }

    #[test]
    fn mel_scale_round_trips() {
        for frequency in [0.0, 440.0, 1000.0, 3000.0, 8000.0] {
            assert!((mel_to_hz_slaney(hz_to_mel_slaney(frequency)) - frequency).abs() < 1e-9);
        }
        assert!((hz_to_mel_slaney(1000.0) - 15.0).abs() < 1e-12);
    }
}
