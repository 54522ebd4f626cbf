//! ggml's q8_0 quantisation, bit-identical to `quantize_row_q8_0_ref` in ggml-quants.c (the routine
//! whisper.cpp's `quantize` tool uses), so our files match what that tool would produce.
//!
//! A block covers 32 consecutive values of a row: an f16 scale `d = max|x| / 127` followed by 32
//! signed bytes `round(x / d)`; the value is recovered as `d * q`.

/// Values per q8_0 block (`QK8_0`).
pub(crate) const Q8_0_BLOCK_VALUES: usize = 32;
/// Bytes per q8_0 block: an f16 scale and 32 `i8`.
pub(crate) const Q8_0_BLOCK_BYTES: usize = 2 + Q8_0_BLOCK_VALUES;

/// Quantises `values` (a whole number of blocks) to q8_0 bytes.
///
/// Panics if `values.len()` is not a multiple of 32; callers check row lengths first and report a
/// proper error, as ggml requires every row to be whole blocks.
pub(crate) fn quantize_q8_0(values: &[f32]) -> Vec<u8> {
    assert!(
        values.len().is_multiple_of(Q8_0_BLOCK_VALUES),
        "q8_0 needs a multiple of {Q8_0_BLOCK_VALUES} values"
    );
    let mut output = Vec::with_capacity(values.len() / Q8_0_BLOCK_VALUES * Q8_0_BLOCK_BYTES);
    for block in values.chunks_exact(Q8_0_BLOCK_VALUES) {
        // Same operation order as ggml: the f32 scale (not its f16 rounding) and its reciprocal
        // produce the quants, so results are bit-identical to the reference implementation.
        // `MAX(amax, fabsf(v))` in ggml is `amax > |v| ? amax : |v|`.
        let absolute_max = block.iter().fold(0.0f32, |maximum, value| {
            if maximum > value.abs() {
                maximum
            } else {
                value.abs()
            }
        });
        let scale = absolute_max / 127.0;
        let inverse_scale = if scale != 0.0 { 1.0 / scale } else { 0.0 };
        output.extend_from_slice(&half::f16::from_f32(scale).to_le_bytes());
        // `f32::round` rounds half away from zero, like C's `roundf`.
        output.extend(
            block
                .iter()
                .map(|value| ((value * inverse_scale).round() as i8) as u8),
        );
    }
    output
}

/// Expands q8_0 bytes back to f32 (`d * q`), to check quantisation in tests.
#[cfg(test)]
pub(crate) fn dequantize_q8_0(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(Q8_0_BLOCK_BYTES)
        .flat_map(|block| {
            let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
            block[2..]
                .iter()
                .map(move |quant| scale * f32::from(*quant as i8))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random weights with Whisper-like magnitudes and an occasional outlier.
    fn sample_weights(count: usize) -> Vec<f32> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        (0..count)
            .map(|index| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let unit = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                if index % 97 == 0 {
                    unit * 2.0
                } else {
                    unit * 0.1
                }
            })
            .collect()
    }

    #[test]
    fn round_trip_error_is_within_half_a_step_of_each_block() {
        let values = sample_weights(32 * 512);
        let quantized = quantize_q8_0(&values);
        assert_eq!(quantized.len(), values.len() / 32 * 34);
        let restored = dequantize_q8_0(&quantized);
        for (block, restored_block) in values.chunks(32).zip(restored.chunks(32)) {
            let absolute_max = block
                .iter()
                .fold(0.0f32, |maximum, value| maximum.max(value.abs()));
            // Half a quantisation step, plus the f16 rounding of the scale (relative 2^-11) applied to
            // values up to 127 steps.
            let bound = absolute_max / 127.0 * 0.5 + absolute_max * 2f32.powi(-11) + 1e-7;
            for (original, restored) in block.iter().zip(restored_block) {
                assert!(
                    (original - restored).abs() <= bound,
                    "{original} vs {restored}, bound {bound}"
                );
            }
        }
    }

    #[test]
    fn block_layout_matches_ggml_reference() {
        let mut block = [0.0f32; 32];
        block[0] = 1.27;
        block[1] = -0.6351; // -63.51 steps rounds to -64
        block[2] = 0.004; // 0.4 steps rounds to 0
        let quantized = quantize_q8_0(&block);
        assert_eq!(
            half::f16::from_le_bytes([quantized[0], quantized[1]]),
            half::f16::from_f32(0.01)
        );
        assert_eq!(quantized[2] as i8, 127);
        assert_eq!(quantized[3] as i8, -64);
        assert_eq!(quantized[4] as i8, 0);
        assert!(quantized[5..].iter().all(|quant| *quant == 0));
    }

    #[test]
    fn an_all_zero_block_has_zero_scale_and_quants() {
        let quantized = quantize_q8_0(&[0.0; 32]);
        assert!(quantized.iter().all(|byte| *byte == 0));
    }
}
