//! The legacy ggml container that whisper.cpp 1.8 loads (`whisper_model_load` in whisper.cpp), and
//! a validator that reads it back.
//!
//! Layout, all little-endian:
//!
//! ```text
//! u32 magic 0x67676d6c ("ggml")
//! 11 × i32 hyperparameters: n_vocab n_audio_ctx n_audio_state n_audio_head n_audio_layer
//!          n_text_ctx n_text_state n_text_head n_text_layer n_mels ftype
//! i32 n_mel, i32 n_fft, n_mel × n_fft f32      mel filterbank, row-major
//! i32 token_count, token_count × { u32 length, bytes }   regular tokens, in id order
//! tensors until end of file: i32 n_dims, i32 name_length, i32 ggml_type,
//!          n_dims × i32 ne (innermost first, i.e. the PyTorch shape reversed), name, data
//! ```
//!
//! `ftype` is the file's weight type; quantised files add `GGML_QNT_VERSION (2) × 1000`.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use crate::model::Quantization;
use crate::model::error::ModelError;
use crate::model::q8_0::{Q8_0_BLOCK_BYTES, Q8_0_BLOCK_VALUES, quantize_q8_0};

/// "ggml" as a little-endian u32 (`GGML_FILE_MAGIC`).
pub(crate) const GGML_FILE_MAGIC: u32 = 0x6767_6d6c;
/// `GGML_QNT_VERSION` of ggml 0.9 (whisper.cpp 1.8), stored in quantised files' ftype.
const GGML_QUANTIZATION_VERSION: i32 = 2;
/// `GGML_QNT_VERSION_FACTOR`: ftype = quantization_version × 1000 + weight type.
const GGML_QUANTIZATION_VERSION_FACTOR: i32 = 1000;
/// `GGML_FTYPE_ALL_F32`: whisper.cpp 1.8.3 aborts on such files on CPU, so we never accept them.
const FILE_TYPE_ALL_F32: i32 = 0;
/// `GGML_FTYPE_MOSTLY_F16`.
const FILE_TYPE_MOSTLY_F16: i32 = 1;
/// `GGML_FTYPE_MOSTLY_Q8_0`.
const FILE_TYPE_MOSTLY_Q8_0: i32 = 7;
/// `GGML_FTYPE_MOSTLY_BF16`.
const FILE_TYPE_MOSTLY_BF16: i32 = 24;
/// Columns of whisper.cpp's mel filterbank: `WHISPER_N_FFT / 2 + 1`.
const WHISPER_FILTERBANK_COLUMNS: i32 = 201;

/// The `ftype` header value of a file whose matrices use `quantization`.
pub(crate) fn header_file_type(quantization: Quantization) -> i32 {
    match quantization {
        // convert-pt-to-ggml.py writes a bare 1 (no quantisation version) for f16.
        Quantization::F16 => FILE_TYPE_MOSTLY_F16,
        Quantization::Q8_0 => {
            GGML_QUANTIZATION_VERSION * GGML_QUANTIZATION_VERSION_FACTOR + FILE_TYPE_MOSTLY_Q8_0
        }
        Quantization::Bf16 => FILE_TYPE_MOSTLY_BF16,
    }
}

/// Tensor storage types this module writes (numbered as `enum ggml_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TensorType {
    F32,
    F16,
    Q8_0,
    Bf16,
}

impl TensorType {
    fn ggml_type_id(self) -> i32 {
        match self {
            TensorType::F32 => 0,
            TensorType::F16 => 1,
            TensorType::Q8_0 => 8,
            TensorType::Bf16 => 30,
        }
    }

    /// Encodes `values` in this type's on-disk representation.
    pub(crate) fn encode(self, values: &[f32]) -> Vec<u8> {
        match self {
            TensorType::F32 => values
                .iter()
                .flat_map(|value| value.to_le_bytes())
                .collect(),
            TensorType::F16 => values
                .iter()
                .flat_map(|value| half::f16::from_f32(*value).to_le_bytes())
                .collect(),
            TensorType::Q8_0 => quantize_q8_0(values),
            TensorType::Bf16 => values
                .iter()
                .flat_map(|value| half::bf16::from_f32(*value).to_le_bytes())
                .collect(),
        }
    }
}

/// Sizes that define a Whisper model, as stored in the ggml header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct GgmlHyperparameters {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
}

impl GgmlHyperparameters {
    fn in_file_order(&self) -> [i32; 10] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
        ]
    }
}

fn write_i32(writer: &mut impl Write, value: i32) -> io::Result<()> {
    writer.write_all(&value.to_le_bytes())
}

/// Writes everything before the tensors: magic, hyperparameters, mel filterbank and vocabulary.
pub(crate) fn write_preamble(
    writer: &mut impl Write,
    hyperparameters: &GgmlHyperparameters,
    file_type: i32,
    mel_filters: &[f32],
    regular_tokens: &[Vec<u8>],
) -> io::Result<()> {
    writer.write_all(&GGML_FILE_MAGIC.to_le_bytes())?;
    for value in hyperparameters.in_file_order() {
        write_i32(writer, value)?;
    }
    write_i32(writer, file_type)?;

    write_i32(writer, hyperparameters.n_mels)?;
    write_i32(writer, WHISPER_FILTERBANK_COLUMNS)?;
    debug_assert_eq!(
        mel_filters.len(),
        hyperparameters.n_mels as usize * WHISPER_FILTERBANK_COLUMNS as usize
    );
    writer.write_all(&TensorType::F32.encode(mel_filters))?;

    write_i32(writer, regular_tokens.len() as i32)?;
    for token in regular_tokens {
        writer.write_all(&(token.len() as u32).to_le_bytes())?;
        writer.write_all(token)?;
    }
    Ok(())
}

/// Writes one tensor record. `row_major_shape` is the PyTorch shape; ggml stores it reversed.
pub(crate) fn write_tensor(
    writer: &mut impl Write,
    name: &str,
    row_major_shape: &[usize],
    tensor_type: TensorType,
    values: &[f32],
) -> io::Result<()> {
    debug_assert_eq!(row_major_shape.iter().product::<usize>(), values.len());
    write_i32(writer, row_major_shape.len() as i32)?;
    write_i32(writer, name.len() as i32)?;
    write_i32(writer, tensor_type.ggml_type_id())?;
    for dimension in row_major_shape.iter().rev() {
        write_i32(writer, *dimension as i32)?;
    }
    writer.write_all(name.as_bytes())?;
    writer.write_all(&tensor_type.encode(values))
}

/// Names of the tensors whisper.cpp requires, in the order OpenAI's `state_dict` (and therefore
/// whisper.cpp's own converter) lists them.
pub(crate) fn whisper_tensor_names(audio_layers: usize, text_layers: usize) -> Vec<String> {
    fn attention(names: &mut Vec<String>, prefix: &str) {
        for suffix in [
            "query.weight",
            "query.bias",
            "key.weight",
            "value.weight",
            "value.bias",
            "out.weight",
            "out.bias",
        ] {
            names.push(format!("{prefix}.{suffix}"));
        }
    }
    fn layer_norm(names: &mut Vec<String>, prefix: &str) {
        names.push(format!("{prefix}.weight"));
        names.push(format!("{prefix}.bias"));
    }
    fn mlp(names: &mut Vec<String>, block: &str) {
        for suffix in ["mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias"] {
            names.push(format!("{block}.{suffix}"));
        }
        layer_norm(names, &format!("{block}.mlp_ln"));
    }

    let mut names = vec!["encoder.positional_embedding".to_string()];
    for convolution in ["encoder.conv1", "encoder.conv2"] {
        names.push(format!("{convolution}.weight"));
        names.push(format!("{convolution}.bias"));
    }
    for layer in 0..audio_layers {
        let block = format!("encoder.blocks.{layer}");
        attention(&mut names, &format!("{block}.attn"));
        layer_norm(&mut names, &format!("{block}.attn_ln"));
        mlp(&mut names, &block);
    }
    layer_norm(&mut names, "encoder.ln_post");
    names.push("decoder.positional_embedding".to_string());
    names.push("decoder.token_embedding.weight".to_string());
    for layer in 0..text_layers {
        let block = format!("decoder.blocks.{layer}");
        attention(&mut names, &format!("{block}.attn"));
        layer_norm(&mut names, &format!("{block}.attn_ln"));
        attention(&mut names, &format!("{block}.cross_attn"));
        layer_norm(&mut names, &format!("{block}.cross_attn_ln"));
        mlp(&mut names, &block);
    }
    layer_norm(&mut names, "decoder.ln");
    names
}

/// What [`read_ggml_header`] found in a valid ggml Whisper file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GgmlInfo {
    pub path: PathBuf,
    pub hyperparameters: GgmlHyperparameters,
    /// Weight type of the large matrices (`ggml_ftype`, quantisation version removed).
    pub file_type: i32,
    /// `GGML_QNT_VERSION` recorded in the header (0 for unquantised files).
    pub quantization_version: i32,
    /// Regular tokens stored in the file (whisper.cpp adds the special ones).
    pub vocabulary_tokens: usize,
    pub tensors: Vec<GgmlTensorInfo>,
    pub file_bytes: u64,
}

impl GgmlInfo {
    /// Human name of the weight type, e.g. "f16" or "q8_0".
    pub fn weight_type_name(&self) -> &'static str {
        file_type_name(self.file_type).unwrap_or("unknown")
    }

    /// Whisper size class as whisper.cpp names it from the encoder depth.
    pub fn model_size_name(&self) -> &'static str {
        match self.hyperparameters.n_audio_layer {
            4 => "tiny",
            6 => "base",
            12 => "small",
            24 => "medium",
            32 => "large",
            _ => "unknown",
        }
    }

    /// Whether whisper.cpp will treat the model as multilingual (it keys this on `n_vocab`).
    pub fn is_multilingual(&self) -> bool {
        self.hyperparameters.n_vocab >= 51865
    }
}

/// One tensor record of a ggml file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GgmlTensorInfo {
    pub name: String,
    /// ggml dimensions, innermost first (the PyTorch shape reversed).
    pub ggml_dimensions: Vec<usize>,
    pub ggml_type: i32,
    pub data_offset: u64,
    pub data_bytes: u64,
}

/// `(values per block, bytes per block)` of the tensor types whisper.cpp files use.
fn tensor_type_layout(ggml_type: i32) -> Option<(u64, u64)> {
    Some(match ggml_type {
        0 => (1, 4),                                              // f32
        1 => (1, 2),                                              // f16
        2 => (32, 18),                                            // q4_0
        3 => (32, 20),                                            // q4_1
        6 => (32, 22),                                            // q5_0
        7 => (32, 24),                                            // q5_1
        8 => (Q8_0_BLOCK_VALUES as u64, Q8_0_BLOCK_BYTES as u64), // q8_0
        30 => (1, 2),                                             // bf16
        _ => return None,
    })
}

fn file_type_name(file_type: i32) -> Option<&'static str> {
    Some(match file_type {
        FILE_TYPE_ALL_F32 => "f32",
        FILE_TYPE_MOSTLY_F16 => "f16",
        2 => "q4_0",
        3 => "q4_1",
        4 => "q4_1 (some f16)",
        FILE_TYPE_MOSTLY_Q8_0 => "q8_0",
        8 => "q5_0",
        9 => "q5_1",
        FILE_TYPE_MOSTLY_BF16 => "bf16",
        _ => return None,
    })
}

/// Sequential little-endian reader that knows the file size, so truncation is reported precisely.
struct HeaderReader<'a> {
    reader: BufReader<File>,
    offset: u64,
    file_bytes: u64,
    path: &'a Path,
}

impl HeaderReader<'_> {
    fn invalid(&self, reason: String) -> ModelError {
        ModelError::InvalidGgml {
            path: self.path.to_path_buf(),
            reason,
        }
    }

    fn require(&self, byte_count: u64, what: &str) -> Result<(), ModelError> {
        if self.offset.saturating_add(byte_count) > self.file_bytes {
            return Err(self.invalid(format!(
                "truncated: {what} needs {byte_count} bytes at offset {} but the file has {} bytes",
                self.offset, self.file_bytes
            )));
        }
        Ok(())
    }

    fn read_exact(&mut self, buffer: &mut [u8], what: &str) -> Result<(), ModelError> {
        self.require(buffer.len() as u64, what)?;
        self.reader
            .read_exact(buffer)
            .map_err(ModelError::io(self.path, "reading"))?;
        self.offset += buffer.len() as u64;
        Ok(())
    }

    fn i32(&mut self, what: &str) -> Result<i32, ModelError> {
        let mut buffer = [0u8; 4];
        self.read_exact(&mut buffer, what)?;
        Ok(i32::from_le_bytes(buffer))
    }

    fn skip(&mut self, byte_count: u64, what: &str) -> Result<(), ModelError> {
        self.require(byte_count, what)?;
        self.reader
            .seek_relative(byte_count as i64)
            .map_err(ModelError::io(self.path, "seeking in"))?;
        self.offset += byte_count;
        Ok(())
    }
}

/// Validates a ggml Whisper file without loading its weights: magic, hyperparameters, filterbank,
/// vocabulary, and every tensor record (names whisper.cpp expects, known types, data present).
///
/// This turns the failures whisper.cpp would report poorly (or abort on) into clear errors: a GGUF
/// file, an all-f32 file, a truncated download, a file from another ggml model family.
pub fn read_ggml_header(path: &Path) -> Result<GgmlInfo, ModelError> {
    let file = File::open(path).map_err(ModelError::io(path, "opening"))?;
    let file_bytes = file
        .metadata()
        .map_err(ModelError::io(path, "reading the metadata of"))?
        .len();
    let mut reader = HeaderReader {
        reader: BufReader::with_capacity(1 << 16, file),
        offset: 0,
        file_bytes,
        path,
    };

    let mut magic = [0u8; 4];
    reader.read_exact(&mut magic, "the magic number")?;
    if &magic == b"GGUF" {
        return Err(reader.invalid(
            "this is a GGUF file (the llama.cpp format); whisper.cpp loads only the legacy ggml Whisper format \
             (files like ggml-base.bin)"
                .to_string(),
        ));
    }
    let magic = u32::from_le_bytes(magic);
    if magic != GGML_FILE_MAGIC {
        return Err(reader.invalid(format!(
            "bad magic 0x{magic:08x}, expected 0x{GGML_FILE_MAGIC:08x} (\"ggml\")"
        )));
    }

    let mut values = [0i32; 10];
    for value in &mut values {
        *value = reader.i32("the hyperparameters")?;
    }
    let [
        n_vocab,
        n_audio_ctx,
        n_audio_state,
        n_audio_head,
        n_audio_layer,
        n_text_ctx,
        n_text_state,
        n_text_head,
        n_text_layer,
        n_mels,
    ] = values;
    let hyperparameters = GgmlHyperparameters {
        n_vocab,
        n_audio_ctx,
        n_audio_state,
        n_audio_head,
        n_audio_layer,
        n_text_ctx,
        n_text_state,
        n_text_head,
        n_text_layer,
        n_mels,
    };
    if let Some(bad) = values
        .iter()
        .position(|value| !(1..=1 << 20).contains(value))
    {
        let names = [
            "n_vocab",
            "n_audio_ctx",
            "n_audio_state",
            "n_audio_head",
            "n_audio_layer",
            "n_text_ctx",
            "n_text_state",
            "n_text_head",
            "n_text_layer",
            "n_mels",
        ];
        return Err(reader.invalid(format!(
            "implausible hyperparameter {} = {}",
            names[bad], values[bad]
        )));
    }
    if n_audio_state != n_text_state
        || n_audio_state % n_audio_head != 0
        || n_text_state % n_text_head != 0
    {
        return Err(reader.invalid(format!(
            "inconsistent hyperparameters: audio state {n_audio_state} / {n_audio_head} heads, text state {n_text_state} / {n_text_head} heads"
        )));
    }

    let raw_file_type = reader.i32("the file type")?;
    let quantization_version = raw_file_type / GGML_QUANTIZATION_VERSION_FACTOR;
    let file_type = raw_file_type % GGML_QUANTIZATION_VERSION_FACTOR;
    if file_type == FILE_TYPE_ALL_F32 {
        return Err(reader.invalid(
            "all-f32 weights (ftype 0): whisper.cpp 1.8.3 aborts on these on CPU; convert to f16 or q8_0 instead".to_string(),
        ));
    }
    if file_type_name(file_type).is_none() {
        return Err(reader.invalid(format!("unknown weight type (ftype {raw_file_type})")));
    }

    let filter_rows = reader.i32("the mel filterbank size")?;
    let filter_columns = reader.i32("the mel filterbank size")?;
    if filter_rows != n_mels || filter_columns != WHISPER_FILTERBANK_COLUMNS {
        return Err(reader.invalid(format!(
            "mel filterbank is {filter_rows}×{filter_columns}, expected {n_mels}×{WHISPER_FILTERBANK_COLUMNS}"
        )));
    }
    reader.skip(
        filter_rows as u64 * filter_columns as u64 * 4,
        "the mel filterbank",
    )?;

    let vocabulary_tokens = reader.i32("the vocabulary size")?;
    if !(0..=n_vocab).contains(&vocabulary_tokens) {
        return Err(reader.invalid(format!(
            "vocabulary holds {vocabulary_tokens} tokens but n_vocab is {n_vocab}"
        )));
    }
    for _ in 0..vocabulary_tokens {
        let token_bytes = reader.i32("a vocabulary token")?;
        if !(0..=1024).contains(&token_bytes) {
            return Err(reader.invalid(format!(
                "vocabulary token at offset {} claims {token_bytes} bytes",
                reader.offset - 4
            )));
        }
        reader.skip(token_bytes as u64, "a vocabulary token")?;
    }

    let expected_names: BTreeSet<String> =
        whisper_tensor_names(n_audio_layer as usize, n_text_layer as usize)
            .into_iter()
            .collect();
    let mut tensors: Vec<GgmlTensorInfo> = Vec::with_capacity(expected_names.len());
    let mut seen_names = BTreeSet::new();
    while reader.offset < file_bytes {
        let dimension_count = reader.i32("a tensor header")?;
        let name_length = reader.i32("a tensor header")?;
        let ggml_type = reader.i32("a tensor header")?;
        if !(1..=4).contains(&dimension_count) || !(1..=256).contains(&name_length) {
            return Err(reader.invalid(format!(
                "corrupt tensor header at offset {}: {dimension_count} dimensions, name of {name_length} bytes",
                reader.offset - 12
            )));
        }
        let mut ggml_dimensions = Vec::with_capacity(dimension_count as usize);
        for _ in 0..dimension_count {
            let dimension = reader.i32("a tensor shape")?;
            if dimension <= 0 {
                return Err(reader.invalid(format!(
                    "tensor at offset {} has dimension {dimension}",
                    reader.offset - 4
                )));
            }
            ggml_dimensions.push(dimension as usize);
        }
        let mut name_bytes = vec![0u8; name_length as usize];
        reader.read_exact(&mut name_bytes, "a tensor name")?;
        let name = String::from_utf8_lossy(&name_bytes).into_owned();
        if !expected_names.contains(&name) {
            return Err(reader.invalid(format!(
                "unknown tensor {name:?} (whisper.cpp would refuse the file)"
            )));
        }
        if !seen_names.insert(name.clone()) {
            return Err(reader.invalid(format!("tensor {name:?} appears twice")));
        }
        let (block_values, block_bytes) = tensor_type_layout(ggml_type).ok_or_else(|| {
            reader.invalid(format!(
                "tensor {name:?} has unsupported ggml type {ggml_type}"
            ))
        })?;
        // Dimensions are at most 2^31 - 1 each, so four of them could overflow u64: check.
        let element_count = ggml_dimensions
            .iter()
            .try_fold(1u64, |count, dimension| {
                count.checked_mul(*dimension as u64)
            })
            .ok_or_else(|| {
                reader.invalid(format!(
                    "tensor {name:?} has an absurd shape {ggml_dimensions:?}"
                ))
            })?;
        if !(ggml_dimensions[0] as u64).is_multiple_of(block_values) {
            return Err(reader.invalid(format!(
                "tensor {name:?} rows of {} values are not whole blocks of {block_values}",
                ggml_dimensions[0]
            )));
        }
        let data_bytes = (element_count / block_values).saturating_mul(block_bytes);
        let data_offset = reader.offset;
        reader.skip(data_bytes, &format!("the data of tensor {name:?}"))?;
        tensors.push(GgmlTensorInfo {
            name,
            ggml_dimensions,
            ggml_type,
            data_offset,
            data_bytes,
        });
    }
    if let Some(missing) = expected_names
        .iter()
        .find(|name| !seen_names.contains(*name))
    {
        return Err(reader.invalid(format!(
            "tensor {missing:?} is missing ({} of {} tensors present; truncated?)",
            seen_names.len(),
            expected_names.len()
        )));
    }

    Ok(GgmlInfo {
        path: path.to_path_buf(),
        hyperparameters,
        file_type,
        quantization_version,
        vocabulary_tokens: vocabulary_tokens as usize,
        tensors,
        file_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_hyperparameters() -> GgmlHyperparameters {
        GgmlHyperparameters {
            n_vocab: 51865,
            n_audio_ctx: 2,
            n_audio_state: 32,
            n_audio_head: 2,
            n_audio_layer: 1,
            n_text_ctx: 2,
            n_text_state: 32,
            n_text_head: 2,
            n_text_layer: 1,
            n_mels: 80,
        }
    }

    #[test]
    fn header_bytes_follow_whisper_cpp_layout() {
        let mut bytes = Vec::new();
        let filters = vec![0.5f32; 80 * 201];
        write_preamble(
            &mut bytes,
            &tiny_hyperparameters(),
            header_file_type(Quantization::Q8_0),
            &filters,
            &[b"a".to_vec(), b" the".to_vec()],
        )
        .unwrap();
        let word =
            |index: usize| i32::from_le_bytes(bytes[index * 4..index * 4 + 4].try_into().unwrap());
        assert_eq!(&bytes[..4], b"lmgg"); // 0x67676d6c little-endian
        assert_eq!((word(1), word(3), word(10)), (51865, 32, 80));
        assert_eq!(word(11), 2007);
        assert_eq!((word(12), word(13)), (80, 201));
        assert_eq!(f32::from_le_bytes(bytes[56..60].try_into().unwrap()), 0.5);
        let vocabulary_start = 56 + 80 * 201 * 4;
        assert_eq!(
            &bytes[vocabulary_start..],
            [
                &2i32.to_le_bytes()[..],
                &1u32.to_le_bytes(),
                b"a",
                &4u32.to_le_bytes(),
                b" the"
            ]
            .concat()
        );
        assert_eq!(header_file_type(Quantization::F16), 1);
    }

    #[test]
    fn tensor_records_reverse_the_shape() {
        let mut bytes = Vec::new();
        write_tensor(
            &mut bytes,
            "encoder.conv1.bias",
            &[3, 1],
            TensorType::F32,
            &[1.0, 2.0, 3.0],
        )
        .unwrap();
        let expected = [
            &2i32.to_le_bytes()[..],
            &18i32.to_le_bytes(),
            &0i32.to_le_bytes(),
            &1i32.to_le_bytes(),
            &3i32.to_le_bytes(),
            b"encoder.conv1.bias",
            &1f32.to_le_bytes(),
            &2f32.to_le_bytes(),
            &3f32.to_le_bytes(),
        ]
        .concat();
        assert_eq!(bytes, expected);

        let mut bytes = Vec::new();
        write_tensor(&mut bytes, "w", &[1, 64], TensorType::Q8_0, &[0.25; 64]).unwrap();
        assert_eq!(&bytes[8..12], &8i32.to_le_bytes());
        assert_eq!(bytes.len(), 12 + 8 + 1 + 2 * 34);
    }

    #[test]
    fn expected_tensor_count_matches_whisper_cpp() {
        // whisper.cpp: 7 + 15 per encoder layer, 4 + 24 per decoder layer; base has 6 + 6 layers.
        assert_eq!(whisper_tensor_names(6, 6).len(), 11 + 15 * 6 + 24 * 6);
        let names = whisper_tensor_names(1, 1);
        assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), names.len());
        assert!(names.contains(&"decoder.blocks.0.cross_attn.value.bias".to_string()));
        assert!(!names.iter().any(|name| name.ends_with("key.bias")));
    }

    fn write_file(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("model.bin");
        std::fs::write(&path, bytes).unwrap();
        (directory, path)
    }

    #[test]
    fn rejects_gguf_empty_and_foreign_files() {
        let (_directory, path) = write_file(b"GGUF\x03\x00\x00\x00rest");
        let error = read_ggml_header(&path).unwrap_err().to_string();
        assert!(
            error.contains("GGUF") && error.contains("model.bin"),
            "{error}"
        );

        let (_directory, path) = write_file(b"");
        let error = read_ggml_header(&path).unwrap_err().to_string();
        assert!(error.contains("truncated"), "{error}");

        let (_directory, path) = write_file(b"PK\x03\x04 not a model at all");
        let error = read_ggml_header(&path).unwrap_err().to_string();
        assert!(error.contains("bad magic"), "{error}");
    }

    #[test]
    fn rejects_all_f32_files() {
        let mut bytes = Vec::new();
        write_preamble(
            &mut bytes,
            &tiny_hyperparameters(),
            0,
            &vec![0.0; 80 * 201],
            &[],
        )
        .unwrap();
        let (_directory, path) = write_file(&bytes);
        let error = read_ggml_header(&path).unwrap_err().to_string();
        assert!(error.contains("f32") && error.contains("aborts"), "{error}");
    }
}
