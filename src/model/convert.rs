//! Conversion of a faster-whisper (CTranslate2 `WhisperSpec`) model directory into a whisper.cpp
//! ggml file.
//!
//! The mapping, verified against CTranslate2's Whisper converter and whisper.cpp's loader:
//!
//! * CTranslate2 fuses self-attention Q/K/V into `self_attention/linear_0` (`[3·d, d]`) and the
//!   cross-attention K/V into `attention/linear_1` (`[2·d, d]`); we split them by rows. Whisper has
//!   no key bias (CTranslate2 stores zeros) and whisper.cpp has no slot for one; dropping it is exact
//!   anyway, since a key bias adds the same `q·b` to every score of a query and softmax ignores it.
//! * Layer norms are `gamma`/`beta` → `weight`/`bias`; FFN `linear_0`/`linear_1` → `mlp.0`/`mlp.2`.
//! * The output projection is tied to the token embedding (stored once, as an alias).
//! * Both positional embeddings are stored. The encoder's is the f16 rounding of OpenAI's
//!   `sinusoids(1500, d)` table; we keep those stored values (widened to f32) rather than
//!   recomputing sin/cos, so the output is bit-for-bit reproducible on every platform. Only a model
//!   lacking the table gets freshly computed sinusoids.
//!
//! Storage types follow whisper.cpp's converter and `quantize` tool: 1-D tensors, the conv biases
//! (reshaped to `[d, 1]`) and positional embeddings are f32; the conv kernels are f16 (ggml cannot
//! run a quantised convolution); every other 2-D weight, token embedding included, is f16 or q8_0.
//! The output is written to a temporary file beside the destination and renamed into place, so a
//! reader never sees a half-written model.

use std::io::BufWriter;
use std::path::Path;

use crate::model::Quantization;
use crate::model::checksum::{HashingWriter, remember_sha256};
use crate::model::ctranslate2::Ctranslate2Model;
use crate::model::error::ModelError;
use crate::model::files::temporary_file_beside;
use crate::model::ggml::{self, GgmlHyperparameters, TensorType};
use crate::model::mel::{WHISPER_FFT_SIZE, WHISPER_SAMPLE_RATE, slaney_mel_filterbank};
use crate::model::q8_0::Q8_0_BLOCK_VALUES;
use crate::model::vocabulary::{load_vocabulary, whisper_regular_tokens};

/// Encoder positions of every Whisper model: 30 s of audio at one frame per 20 ms.
const WHISPER_AUDIO_CONTEXT: usize = 1500;
/// Attention head width of every Whisper size; used only if a model does not record its head count.
const WHISPER_HEAD_WIDTH: usize = 64;

/// Summary of a finished conversion.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConvertReport {
    /// Tensor records written.
    pub n_tensors: usize,
    /// Size of the output file.
    pub output_bytes: u64,
    /// Lower-case hex SHA-256 of the output file.
    pub sha256: String,
}

/// Converts the CTranslate2 Whisper model in `model_dir` into a ggml file at `output`.
///
/// `model_dir` must hold `model.bin` (or `model.bin.part1`, `model.bin.part2`, … which are read as
/// one stream) and `vocabulary.txt` or `vocabulary.json`; every hyperparameter comes from
/// `model.bin` itself, so `config.json` is not needed. Any Whisper size works, multilingual or
/// English-only. The result is deterministic: the same input always gives the same bytes.
pub fn convert_ctranslate2(
    model_dir: &Path,
    output: &Path,
    quantization: Quantization,
) -> Result<ConvertReport, ModelError> {
    let mut model = Ctranslate2Model::open(model_dir)?;
    let (hyperparameters, encoder_positions_stored) = read_hyperparameters(&mut model)?;
    check_output_projection_is_tied(&mut model)?;
    let vocabulary = load_vocabulary(model_dir)?;
    let regular_tokens = whisper_regular_tokens(&vocabulary, hyperparameters.n_vocab as usize)?;
    let plan = plan_tensors(&hyperparameters, encoder_positions_stored);
    if quantization == Quantization::Q8_0
        && let Some(tensor) = plan.iter().find(|tensor| {
            tensor.role == TensorRole::Matrix && !tensor.shape[1].is_multiple_of(Q8_0_BLOCK_VALUES)
        })
    {
        return Err(ModelError::UnsupportedModel {
            path: model.label_path().to_path_buf(),
            reason: format!(
                "{} rows of {} values cannot be split into q8_0 blocks of {Q8_0_BLOCK_VALUES}",
                tensor.name, tensor.shape[1]
            ),
        });
    }
    let mel_filters = slaney_mel_filterbank(
        WHISPER_SAMPLE_RATE,
        WHISPER_FFT_SIZE,
        hyperparameters.n_mels as usize,
    );

    if output.file_name().is_none() {
        let reason = std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the output path must end in a file name",
        );
        return Err(ModelError::io(output, "writing the converted model to")(
            reason,
        ));
    }
    let temporary = temporary_file_beside(output)?;

    let mut writer = HashingWriter::new(BufWriter::with_capacity(1 << 20, temporary.as_file()));
    ggml::write_preamble(
        &mut writer,
        &hyperparameters,
        ggml::header_file_type(quantization),
        &mel_filters,
        &regular_tokens,
    )
    .map_err(ModelError::io(output, "writing"))?;
    let mut fused_cache = None;
    for tensor in &plan {
        let values = tensor_values(&mut model, tensor, &mut fused_cache)?;
        let tensor_type = match (tensor.role, quantization) {
            (TensorRole::Float32, _) => TensorType::F32,
            (TensorRole::Convolution, _) | (TensorRole::Matrix, Quantization::F16) => {
                TensorType::F16
            }
            (TensorRole::Matrix, Quantization::Q8_0) => TensorType::Q8_0,
            (TensorRole::Matrix, Quantization::Bf16) => TensorType::Bf16,
        };
        ggml::write_tensor(
            &mut writer,
            &tensor.name,
            &tensor.shape,
            tensor_type,
            &values,
        )
        .map_err(ModelError::io(output, "writing"))?;
    }
    let (buffered, sha256, output_bytes) = writer.finish();
    buffered
        .into_inner()
        .map_err(|error| ModelError::io(output, "writing")(error.into_error()))?;
    temporary
        .as_file()
        .sync_all()
        .map_err(ModelError::io(output, "flushing to disk"))?;
    temporary.persist(output).map_err(|error| {
        ModelError::io(output, "moving the finished temporary file into place at")(error.error)
    })?;
    remember_sha256(output, &sha256);

    Ok(ConvertReport {
        n_tensors: plan.len(),
        output_bytes,
        sha256,
    })
}

/// Reads the ggml hyperparameters from the model's tensor shapes and scalars. Also returns whether
/// the encoder positional embedding is stored (it is in every faster-whisper model).
fn read_hyperparameters(
    model: &mut Ctranslate2Model,
) -> Result<(GgmlHyperparameters, bool), ModelError> {
    if model.spec_name != "WhisperSpec" {
        return Err(model.invalid(format!(
            "the model spec is {:?}, expected \"WhisperSpec\"",
            model.spec_name
        )));
    }
    let shape_of =
        |model: &Ctranslate2Model, name: &str, rank: usize| -> Result<Vec<usize>, ModelError> {
            let shape = model.required_variable(name)?.shape.clone();
            if shape.len() != rank {
                return Err(model.invalid(format!(
                    "variable {name:?} has shape {shape:?}, expected rank {rank}"
                )));
            }
            Ok(shape)
        };
    let convolution = shape_of(model, "encoder/conv1/weight", 3)?;
    let (audio_state, mel_count) = (convolution[0], convolution[1]);
    let embedding = shape_of(model, "decoder/embeddings/weight", 2)?;
    let (vocabulary_size, text_state) = (embedding[0], embedding[1]);
    let text_context = shape_of(model, "decoder/position_encodings/encodings", 2)?[0];
    let encoder_positions_stored = model
        .variable("encoder/position_encodings/encodings")
        .is_some();
    let audio_context = if encoder_positions_stored {
        shape_of(model, "encoder/position_encodings/encodings", 2)?[0]
    } else {
        WHISPER_AUDIO_CONTEXT
    };
    let count_layers = |model: &Ctranslate2Model, side: &str| {
        (0..)
            .take_while(|layer| {
                model
                    .variable(&format!(
                        "{side}/layer_{layer}/self_attention/linear_0/weight"
                    ))
                    .is_some()
            })
            .count()
    };
    let audio_layers = count_layers(model, "encoder");
    let text_layers = count_layers(model, "decoder");
    let mut head_count = |side: &str, state: usize| -> Result<usize, ModelError> {
        let name = format!("{side}/num_heads");
        if model.variable(&name).is_none() {
            return Ok(state / WHISPER_HEAD_WIDTH);
        }
        let heads = model.read_integer_scalar(&name)?;
        usize::try_from(heads)
            .ok()
            .filter(|heads| *heads > 0 && state.is_multiple_of(*heads))
            .ok_or_else(|| {
                model.invalid(format!(
                    "{name} is {heads}, which does not divide the model width {state}"
                ))
            })
    };
    let audio_heads = head_count("encoder", audio_state)?;
    let text_heads = head_count("decoder", text_state)?;

    if audio_state != text_state {
        return Err(model.invalid(format!("encoder width {audio_state} differs from decoder width {text_state}; whisper.cpp requires them equal")));
    }
    if audio_layers == 0 || text_layers == 0 {
        return Err(model.invalid(format!(
            "found {audio_layers} encoder and {text_layers} decoder layers"
        )));
    }
    let as_header_value = |value: usize| {
        i32::try_from(value).map_err(|_| model.invalid(format!("dimension {value} is too large")))
    };
    let hyperparameters = GgmlHyperparameters {
        n_vocab: as_header_value(vocabulary_size)?,
        n_audio_ctx: as_header_value(audio_context)?,
        n_audio_state: as_header_value(audio_state)?,
        n_audio_head: as_header_value(audio_heads)?,
        n_audio_layer: as_header_value(audio_layers)?,
        n_text_ctx: as_header_value(text_context)?,
        n_text_state: as_header_value(text_state)?,
        n_text_head: as_header_value(text_heads)?,
        n_text_layer: as_header_value(text_layers)?,
        n_mels: as_header_value(mel_count)?,
    };
    Ok((hyperparameters, encoder_positions_stored))
}

/// whisper.cpp computes logits with the token embedding; refuse a model whose output projection is
/// a different matrix or has a bias, instead of silently producing a different model.
fn check_output_projection_is_tied(model: &mut Ctranslate2Model) -> Result<(), ModelError> {
    const PROJECTION: &str = "decoder/projection/weight";
    if model.has_stored_variable(PROJECTION)
        && !model.is_alias_of(PROJECTION, "decoder/embeddings/weight")
    {
        return Err(ModelError::UnsupportedModel {
            path: model.label_path().to_path_buf(),
            reason: "the output projection is not tied to the token embedding".to_string(),
        });
    }
    if model.variable("decoder/projection/bias").is_some()
        && model
            .read_f32("decoder/projection/bias")?
            .iter()
            .any(|value| *value != 0.0)
    {
        return Err(ModelError::UnsupportedModel {
            path: model.label_path().to_path_buf(),
            reason: "the output projection has a bias, which whisper.cpp does not support"
                .to_string(),
        });
    }
    Ok(())
}

/// Where a ggml tensor's values come from.
#[derive(Debug, Clone, PartialEq)]
enum TensorSource {
    /// A whole CTranslate2 variable.
    Variable(String),
    /// Consecutive rows of a fused CTranslate2 variable (one of Q/K/V).
    Rows {
        variable: String,
        first_row: usize,
        row_count: usize,
    },
    /// OpenAI's sinusoidal position table, for models that do not store it.
    Sinusoids,
}

/// How a tensor is stored, which decides its ggml type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TensorRole {
    /// Biases, norms, positional embeddings: always f32 (whisper.cpp allocates them as f32).
    Float32,
    /// Conv1d kernels: always f16.
    Convolution,
    /// Weight matrices and the token embedding: f16 or q8_0.
    Matrix,
}

#[derive(Debug, Clone)]
struct PlannedTensor {
    name: String,
    source: TensorSource,
    /// Shape the source variable must have (checked, so a mismatched model fails clearly).
    source_shape: Vec<usize>,
    /// Row-major (PyTorch) shape written to the ggml file.
    shape: Vec<usize>,
    role: TensorRole,
}

/// Collects [`PlannedTensor`]s; one method per repeated Whisper building block.
struct PlanBuilder {
    plan: Vec<PlannedTensor>,
    /// Model width `d`.
    state: usize,
}

impl PlanBuilder {
    fn tensor(
        &mut self,
        name: String,
        source: TensorSource,
        source_shape: Vec<usize>,
        shape: Vec<usize>,
        role: TensorRole,
    ) {
        self.plan.push(PlannedTensor {
            name,
            source,
            source_shape,
            shape,
            role,
        });
    }

    /// A tensor copied whole from a CTranslate2 variable of the same shape.
    fn copied(&mut self, name: String, variable: String, shape: Vec<usize>, role: TensorRole) {
        self.tensor(
            name,
            TensorSource::Variable(variable),
            shape.clone(),
            shape,
            role,
        );
    }

    /// The `part`-th block of `d` rows of a fused variable whose shape is `fused_shape`.
    fn fused_part(
        &mut self,
        name: String,
        variable: String,
        part: usize,
        fused_shape: Vec<usize>,
        role: TensorRole,
    ) {
        let mut shape = fused_shape.clone();
        shape[0] = self.state;
        let source = TensorSource::Rows {
            variable,
            first_row: part * self.state,
            row_count: self.state,
        };
        self.tensor(name, source, fused_shape, shape, role);
    }

    fn layer_norm(&mut self, ct2: &str, ggml: &str) {
        let state = self.state;
        self.copied(
            format!("{ggml}.weight"),
            format!("{ct2}/gamma"),
            vec![state],
            TensorRole::Float32,
        );
        self.copied(
            format!("{ggml}.bias"),
            format!("{ct2}/beta"),
            vec![state],
            TensorRole::Float32,
        );
    }

    /// Self-attention: fused `[3·d, d]` Q/K/V in `linear_0`, output projection in `linear_1`.
    fn self_attention(&mut self, ct2_layer: &str, ggml_block: &str) {
        let state = self.state;
        let (fused, attention) = (
            format!("{ct2_layer}/self_attention/linear_0"),
            format!("{ggml_block}.attn"),
        );
        self.fused_part(
            format!("{attention}.query.weight"),
            format!("{fused}/weight"),
            0,
            vec![3 * state, state],
            TensorRole::Matrix,
        );
        self.fused_part(
            format!("{attention}.query.bias"),
            format!("{fused}/bias"),
            0,
            vec![3 * state],
            TensorRole::Float32,
        );
        self.fused_part(
            format!("{attention}.key.weight"),
            format!("{fused}/weight"),
            1,
            vec![3 * state, state],
            TensorRole::Matrix,
        );
        self.fused_part(
            format!("{attention}.value.weight"),
            format!("{fused}/weight"),
            2,
            vec![3 * state, state],
            TensorRole::Matrix,
        );
        self.fused_part(
            format!("{attention}.value.bias"),
            format!("{fused}/bias"),
            2,
            vec![3 * state],
            TensorRole::Float32,
        );
        let output = format!("{ct2_layer}/self_attention/linear_1");
        self.copied(
            format!("{attention}.out.weight"),
            format!("{output}/weight"),
            vec![state, state],
            TensorRole::Matrix,
        );
        self.copied(
            format!("{attention}.out.bias"),
            format!("{output}/bias"),
            vec![state],
            TensorRole::Float32,
        );
        self.layer_norm(
            &format!("{ct2_layer}/self_attention/layer_norm"),
            &format!("{ggml_block}.attn_ln"),
        );
    }

    /// Cross-attention: query in `linear_0`, fused `[2·d, d]` K/V in `linear_1`, output in `linear_2`.
    fn cross_attention(&mut self, ct2_layer: &str, ggml_block: &str) {
        let state = self.state;
        let (ct2, attention) = (
            format!("{ct2_layer}/attention"),
            format!("{ggml_block}.cross_attn"),
        );
        self.copied(
            format!("{attention}.query.weight"),
            format!("{ct2}/linear_0/weight"),
            vec![state, state],
            TensorRole::Matrix,
        );
        self.copied(
            format!("{attention}.query.bias"),
            format!("{ct2}/linear_0/bias"),
            vec![state],
            TensorRole::Float32,
        );
        self.fused_part(
            format!("{attention}.key.weight"),
            format!("{ct2}/linear_1/weight"),
            0,
            vec![2 * state, state],
            TensorRole::Matrix,
        );
        self.fused_part(
            format!("{attention}.value.weight"),
            format!("{ct2}/linear_1/weight"),
            1,
            vec![2 * state, state],
            TensorRole::Matrix,
        );
        self.fused_part(
            format!("{attention}.value.bias"),
            format!("{ct2}/linear_1/bias"),
            1,
            vec![2 * state],
            TensorRole::Float32,
        );
        self.copied(
            format!("{attention}.out.weight"),
            format!("{ct2}/linear_2/weight"),
            vec![state, state],
            TensorRole::Matrix,
        );
        self.copied(
            format!("{attention}.out.bias"),
            format!("{ct2}/linear_2/bias"),
            vec![state],
            TensorRole::Float32,
        );
        self.layer_norm(
            &format!("{ct2}/layer_norm"),
            &format!("{ggml_block}.cross_attn_ln"),
        );
    }

    /// Feed-forward block: `linear_0` (d → 4d) and `linear_1` (4d → d) become `mlp.0` and `mlp.2`.
    fn feed_forward(&mut self, ct2_layer: &str, ggml_block: &str) {
        let (state, hidden) = (self.state, 4 * self.state);
        let ffn = format!("{ct2_layer}/ffn");
        self.copied(
            format!("{ggml_block}.mlp.0.weight"),
            format!("{ffn}/linear_0/weight"),
            vec![hidden, state],
            TensorRole::Matrix,
        );
        self.copied(
            format!("{ggml_block}.mlp.0.bias"),
            format!("{ffn}/linear_0/bias"),
            vec![hidden],
            TensorRole::Float32,
        );
        self.copied(
            format!("{ggml_block}.mlp.2.weight"),
            format!("{ffn}/linear_1/weight"),
            vec![state, hidden],
            TensorRole::Matrix,
        );
        self.copied(
            format!("{ggml_block}.mlp.2.bias"),
            format!("{ffn}/linear_1/bias"),
            vec![state],
            TensorRole::Float32,
        );
        self.layer_norm(
            &format!("{ffn}/layer_norm"),
            &format!("{ggml_block}.mlp_ln"),
        );
    }
}

/// Every tensor whisper.cpp needs, in OpenAI `state_dict` order, with its CTranslate2 source.
fn plan_tensors(
    hyperparameters: &GgmlHyperparameters,
    encoder_positions_stored: bool,
) -> Vec<PlannedTensor> {
    let state = hyperparameters.n_audio_state as usize;
    let mut builder = PlanBuilder {
        plan: Vec::new(),
        state,
    };

    let audio_positions_shape = vec![hyperparameters.n_audio_ctx as usize, state];
    if encoder_positions_stored {
        builder.copied(
            "encoder.positional_embedding".into(),
            "encoder/position_encodings/encodings".into(),
            audio_positions_shape,
            TensorRole::Float32,
        );
    } else {
        builder.tensor(
            "encoder.positional_embedding".into(),
            TensorSource::Sinusoids,
            vec![],
            audio_positions_shape,
            TensorRole::Float32,
        );
    }
    for (convolution, input_channels) in
        [("conv1", hyperparameters.n_mels as usize), ("conv2", state)]
    {
        builder.copied(
            format!("encoder.{convolution}.weight"),
            format!("encoder/{convolution}/weight"),
            vec![state, input_channels, 3],
            TensorRole::Convolution,
        );
        // whisper.cpp adds the conv bias as a [1, d] ggml tensor: PyTorch shape [d, 1].
        let bias_source = TensorSource::Variable(format!("encoder/{convolution}/bias"));
        builder.tensor(
            format!("encoder.{convolution}.bias"),
            bias_source,
            vec![state],
            vec![state, 1],
            TensorRole::Float32,
        );
    }
    for layer in 0..hyperparameters.n_audio_layer as usize {
        let (ct2, ggml) = (
            format!("encoder/layer_{layer}"),
            format!("encoder.blocks.{layer}"),
        );
        builder.self_attention(&ct2, &ggml);
        builder.feed_forward(&ct2, &ggml);
    }
    builder.layer_norm("encoder/layer_norm", "encoder.ln_post");

    let text_positions_shape = vec![hyperparameters.n_text_ctx as usize, state];
    builder.copied(
        "decoder.positional_embedding".into(),
        "decoder/position_encodings/encodings".into(),
        text_positions_shape,
        TensorRole::Float32,
    );
    let embedding_shape = vec![hyperparameters.n_vocab as usize, state];
    builder.copied(
        "decoder.token_embedding.weight".into(),
        "decoder/embeddings/weight".into(),
        embedding_shape,
        TensorRole::Matrix,
    );
    for layer in 0..hyperparameters.n_text_layer as usize {
        let (ct2, ggml) = (
            format!("decoder/layer_{layer}"),
            format!("decoder.blocks.{layer}"),
        );
        builder.self_attention(&ct2, &ggml);
        builder.cross_attention(&ct2, &ggml);
        builder.feed_forward(&ct2, &ggml);
    }
    builder.layer_norm("decoder/layer_norm", "decoder.ln");
    builder.plan
}

/// Reads (or computes) one tensor's values as f32, checking the source shape.
///
/// `fused_cache` keeps the last fused variable, so Q, K and V are cut from one read.
fn tensor_values(
    model: &mut Ctranslate2Model,
    tensor: &PlannedTensor,
    fused_cache: &mut Option<(String, Vec<f32>)>,
) -> Result<Vec<f32>, ModelError> {
    let check_shape = |model: &Ctranslate2Model, variable: &str| -> Result<(), ModelError> {
        let shape = &model.required_variable(variable)?.shape;
        if *shape != tensor.source_shape {
            return Err(model.invalid(format!(
                "variable {variable:?} has shape {shape:?}, expected {:?}",
                tensor.source_shape
            )));
        }
        Ok(())
    };
    match &tensor.source {
        TensorSource::Variable(variable) => {
            check_shape(model, variable)?;
            model.read_f32(variable)
        }
        TensorSource::Rows {
            variable,
            first_row,
            row_count,
        } => {
            check_shape(model, variable)?;
            if fused_cache
                .as_ref()
                .is_none_or(|(cached, _)| cached != variable)
            {
                *fused_cache = Some((variable.clone(), model.read_f32(variable)?));
            }
            let values = &fused_cache.as_ref().expect("filled above").1;
            let row_length: usize = tensor.source_shape[1..].iter().product();
            Ok(values[first_row * row_length..(first_row + row_count) * row_length].to_vec())
        }
        TensorSource::Sinusoids => Ok(whisper_sinusoids(tensor.shape[0], tensor.shape[1])),
    }
}

/// OpenAI Whisper's `sinusoids(length, channels)`: sines then cosines of geometric timescales from 1
/// to 10000. Only used for models that do not store the encoder positional embedding.
fn whisper_sinusoids(length: usize, channels: usize) -> Vec<f32> {
    let half = channels / 2;
    let log_timescale_increment = 10_000f64.ln() / (half as f64 - 1.0);
    let mut table = vec![0.0f32; length * channels];
    for position in 0..length {
        for index in 0..half {
            let scaled_time = position as f64 * (-log_timescale_increment * index as f64).exp();
            table[position * channels + index] = scaled_time.sin() as f32;
            table[position * channels + half + index] = scaled_time.cos() as f32;
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ctranslate2::test_support::{TestVariable, serialise_model};
    use crate::model::ggml::{GgmlInfo, read_ggml_header, whisper_tensor_names};
    use crate::model::q8_0::dequantize_q8_0;

    const STATE: usize = 64;
    const MELS: usize = 80;
    const VOCABULARY: usize = 51865;
    const AUDIO_CONTEXT: usize = 6;
    const TEXT_CONTEXT: usize = 4;

    /// A variable whose row `r` holds `(r + offset) / 256` everywhere: exact in f16 and easy to
    /// recognise after the Q/K/V split.
    fn row_tagged(name: &str, shape: &[usize], offset: usize) -> TestVariable {
        let row_length: usize = shape[1..].iter().product();
        let values: Vec<u8> = (0..shape.iter().product::<usize>())
            .flat_map(|index| {
                half::f16::from_f32((index / row_length + offset) as f32 / 256.0).to_le_bytes()
            })
            .collect();
        TestVariable {
            name: name.to_string(),
            shape: shape.iter().map(|dimension| *dimension as u32).collect(),
            type_id: 4,
            bytes: values,
        }
    }

    fn scalar_i16(name: &str, value: i16) -> TestVariable {
        TestVariable {
            name: name.to_string(),
            shape: vec![],
            type_id: 2,
            bytes: value.to_le_bytes().to_vec(),
        }
    }

    /// A one-layer Whisper with a 64-wide model and the real multilingual vocabulary size.
    fn write_tiny_whisper(directory: &Path, split: bool) {
        let mut variables = vec![
            scalar_i16("encoder/num_heads", 2),
            scalar_i16("decoder/num_heads", 2),
            row_tagged("encoder/conv1/weight", &[STATE, MELS, 3], 0),
            row_tagged("encoder/conv1/bias", &[STATE], 0),
            row_tagged("encoder/conv2/weight", &[STATE, STATE, 3], 0),
            row_tagged("encoder/conv2/bias", &[STATE], 0),
            row_tagged(
                "encoder/position_encodings/encodings",
                &[AUDIO_CONTEXT, STATE],
                0,
            ),
            row_tagged("encoder/layer_norm/gamma", &[STATE], 0),
            row_tagged("encoder/layer_norm/beta", &[STATE], 0),
            row_tagged("decoder/embeddings/weight", &[VOCABULARY, STATE], 0),
            row_tagged(
                "decoder/position_encodings/encodings",
                &[TEXT_CONTEXT, STATE],
                0,
            ),
            row_tagged("decoder/layer_norm/gamma", &[STATE], 0),
            row_tagged("decoder/layer_norm/beta", &[STATE], 0),
        ];
        for side in ["encoder", "decoder"] {
            let layer = format!("{side}/layer_0");
            variables.push(row_tagged(
                &format!("{layer}/self_attention/linear_0/weight"),
                &[3 * STATE, STATE],
                0,
            ));
            variables.push(row_tagged(
                &format!("{layer}/self_attention/linear_0/bias"),
                &[3 * STATE],
                0,
            ));
            variables.push(row_tagged(
                &format!("{layer}/self_attention/linear_1/weight"),
                &[STATE, STATE],
                0,
            ));
            variables.push(row_tagged(
                &format!("{layer}/self_attention/linear_1/bias"),
                &[STATE],
                0,
            ));
            for norm in ["self_attention", "ffn"] {
                variables.push(row_tagged(
                    &format!("{layer}/{norm}/layer_norm/gamma"),
                    &[STATE],
                    0,
                ));
                variables.push(row_tagged(
                    &format!("{layer}/{norm}/layer_norm/beta"),
                    &[STATE],
                    0,
                ));
            }
            variables.push(row_tagged(
                &format!("{layer}/ffn/linear_0/weight"),
                &[4 * STATE, STATE],
                0,
            ));
            variables.push(row_tagged(
                &format!("{layer}/ffn/linear_0/bias"),
                &[4 * STATE],
                0,
            ));
            variables.push(row_tagged(
                &format!("{layer}/ffn/linear_1/weight"),
                &[STATE, 4 * STATE],
                0,
            ));
            variables.push(row_tagged(
                &format!("{layer}/ffn/linear_1/bias"),
                &[STATE],
                0,
            ));
        }
        let cross = "decoder/layer_0/attention";
        variables.push(row_tagged(
            &format!("{cross}/linear_0/weight"),
            &[STATE, STATE],
            1000,
        ));
        variables.push(row_tagged(
            &format!("{cross}/linear_0/bias"),
            &[STATE],
            1000,
        ));
        variables.push(row_tagged(
            &format!("{cross}/linear_1/weight"),
            &[2 * STATE, STATE],
            0,
        ));
        variables.push(row_tagged(
            &format!("{cross}/linear_1/bias"),
            &[2 * STATE],
            0,
        ));
        variables.push(row_tagged(
            &format!("{cross}/linear_2/weight"),
            &[STATE, STATE],
            0,
        ));
        variables.push(row_tagged(&format!("{cross}/linear_2/bias"), &[STATE], 0));
        variables.push(row_tagged(
            &format!("{cross}/layer_norm/gamma"),
            &[STATE],
            0,
        ));
        variables.push(row_tagged(&format!("{cross}/layer_norm/beta"), &[STATE], 0));
        let bytes = serialise_model(
            "WhisperSpec",
            &variables,
            &[("decoder/projection/weight", "decoder/embeddings/weight")],
        );
        if split {
            let middle = bytes.len() / 2 + 3;
            std::fs::write(directory.join("model.bin.part1"), &bytes[..middle]).unwrap();
            std::fs::write(directory.join("model.bin.part2"), &bytes[middle..]).unwrap();
        } else {
            std::fs::write(directory.join("model.bin"), &bytes).unwrap();
        }

        let mut vocabulary: Vec<String> = (0..50257)
            .map(|id| {
                if id == 50256 {
                    String::new()
                } else {
                    format!("Ġt{id}")
                }
            })
            .collect();
        vocabulary.push("<|endoftext|>".into());
        while vocabulary.len() < VOCABULARY {
            vocabulary.push(format!("<|special{}|>", vocabulary.len()));
        }
        std::fs::write(
            directory.join("vocabulary.txt"),
            vocabulary.join("\n") + "\n",
        )
        .unwrap();
    }

    fn tensor_f32(info: &GgmlInfo, file: &[u8], name: &str) -> Vec<f32> {
        let tensor = info
            .tensors
            .iter()
            .find(|tensor| tensor.name == name)
            .unwrap();
        let data =
            &file[tensor.data_offset as usize..(tensor.data_offset + tensor.data_bytes) as usize];
        match tensor.ggml_type {
            0 => data
                .chunks_exact(4)
                .map(|chunk| f32::from_le_bytes(chunk.try_into().unwrap()))
                .collect(),
            1 => data
                .chunks_exact(2)
                .map(|chunk| half::f16::from_le_bytes([chunk[0], chunk[1]]).to_f32())
                .collect(),
            8 => dequantize_q8_0(data),
            30 => data
                .chunks_exact(2)
                .map(|chunk| half::bf16::from_le_bytes([chunk[0], chunk[1]]).to_f32())
                .collect(),
            other => panic!("unexpected type {other}"),
        }
    }

    #[test]
    fn plan_names_match_what_whisper_cpp_loads() {
        let hyperparameters = GgmlHyperparameters {
            n_vocab: 51865,
            n_audio_ctx: 1500,
            n_audio_state: 512,
            n_audio_head: 8,
            n_audio_layer: 6,
            n_text_ctx: 448,
            n_text_state: 512,
            n_text_head: 8,
            n_text_layer: 6,
            n_mels: 80,
        };
        let names: Vec<String> = plan_tensors(&hyperparameters, true)
            .into_iter()
            .map(|tensor| tensor.name)
            .collect();
        assert_eq!(names, whisper_tensor_names(6, 6));
    }

    #[test]
    fn converts_a_tiny_whisper_to_loadable_f16_q8_0_and_bf16_files() {
        let directory = tempfile::tempdir().unwrap();
        write_tiny_whisper(directory.path(), false);
        for quantization in Quantization::ALL {
            let output = directory.path().join(format!("out-{quantization}.bin"));
            let report = convert_ctranslate2(directory.path(), &output, quantization).unwrap();
            let info = read_ggml_header(&output).unwrap();
            assert_eq!(report.n_tensors, 11 + 15 + 24);
            assert_eq!(info.tensors.len(), report.n_tensors);
            assert_eq!(
                report.output_bytes,
                std::fs::metadata(&output).unwrap().len()
            );
            assert_eq!(info.hyperparameters.n_vocab, 51865);
            assert_eq!(
                (
                    info.hyperparameters.n_audio_ctx,
                    info.hyperparameters.n_text_ctx
                ),
                (AUDIO_CONTEXT as i32, TEXT_CONTEXT as i32)
            );
            assert_eq!(
                (
                    info.hyperparameters.n_audio_head,
                    info.hyperparameters.n_mels
                ),
                (2, 80)
            );
            assert_eq!(info.vocabulary_tokens, 50257);
            assert_eq!(info.weight_type_name(), quantization.as_str());

            let type_of = |name: &str| {
                info.tensors
                    .iter()
                    .find(|tensor| tensor.name == name)
                    .unwrap()
                    .ggml_type
            };
            let matrix_type = match quantization {
                Quantization::F16 => 1,
                Quantization::Q8_0 => 8,
                Quantization::Bf16 => 30,
            };
            assert_eq!(type_of("decoder.token_embedding.weight"), matrix_type);
            assert_eq!(type_of("encoder.blocks.0.attn.key.weight"), matrix_type);
            assert_eq!(type_of("encoder.conv1.weight"), 1);
            assert_eq!(type_of("encoder.conv1.bias"), 0);
            assert_eq!(type_of("encoder.positional_embedding"), 0);
            assert_eq!(type_of("decoder.blocks.0.mlp_ln.weight"), 0);
            let conv_bias = info
                .tensors
                .iter()
                .find(|tensor| tensor.name == "encoder.conv2.bias")
                .unwrap();
            assert_eq!(conv_bias.ggml_dimensions, vec![1, STATE]);
            let conv_kernel = info
                .tensors
                .iter()
                .find(|tensor| tensor.name == "encoder.conv1.weight")
                .unwrap();
            assert_eq!(conv_kernel.ggml_dimensions, vec![3, MELS, STATE]);

            // Q/K/V come from rows 0.., 64.., 128.. of the fused matrix (row r holds r/256).
            // q8_0 only approximates (scale rounded to f16): allow 0.1 % relative error; bf16
            // keeps 8 significant bits (0.4 %).
            let tolerance = if quantization == Quantization::Bf16 {
                4e-3
            } else {
                1e-3
            };
            let file = std::fs::read(&output).unwrap();
            let assert_value = |name: &str, index: usize, expected: f32| {
                let actual = tensor_f32(&info, &file, name)[index];
                assert!(
                    (actual - expected).abs() <= expected.abs() * tolerance,
                    "{name}[{index}] = {actual}, expected {expected}"
                );
            };
            assert_value("encoder.blocks.0.attn.query.weight", 0, 0.0);
            assert_value("encoder.blocks.0.attn.key.weight", 0, 64.0 / 256.0);
            assert_value(
                "encoder.blocks.0.attn.key.weight",
                63 * STATE,
                127.0 / 256.0,
            );
            assert_value("decoder.blocks.0.attn.value.weight", 0, 128.0 / 256.0);
            assert_value("decoder.blocks.0.attn.value.bias", 0, 128.0 / 256.0);
            assert_value(
                "decoder.blocks.0.cross_attn.query.weight",
                0,
                1000.0 / 256.0,
            );
            assert_value("decoder.blocks.0.cross_attn.key.weight", 0, 0.0);
            assert_value("decoder.blocks.0.cross_attn.value.weight", 0, 64.0 / 256.0);
            assert_value("decoder.blocks.0.cross_attn.value.bias", 0, 64.0 / 256.0);
            assert_value("encoder.conv1.bias", 5, 5.0 / 256.0);
        }
    }

    #[test]
    fn output_is_deterministic_and_independent_of_splitting() {
        let whole_directory = tempfile::tempdir().unwrap();
        write_tiny_whisper(whole_directory.path(), false);
        let split_directory = tempfile::tempdir().unwrap();
        write_tiny_whisper(split_directory.path(), true);
        let output = whole_directory.path().join("a.bin");
        let first =
            convert_ctranslate2(whole_directory.path(), &output, Quantization::Q8_0).unwrap();
        let again =
            convert_ctranslate2(whole_directory.path(), &output, Quantization::Q8_0).unwrap();
        let split = convert_ctranslate2(
            split_directory.path(),
            &split_directory.path().join("b.bin"),
            Quantization::Q8_0,
        )
        .unwrap();
        assert_eq!(first, again);
        assert_eq!(first, split);
        // No temporary files are left behind.
        let leftovers: Vec<_> = std::fs::read_dir(whole_directory.path())
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".partial"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_non_whisper_model_is_rejected_with_its_path() {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(
            directory.path().join("model.bin"),
            serialise_model("TransformerSpec", &[], &[]),
        )
        .unwrap();
        let error = convert_ctranslate2(
            directory.path(),
            &directory.path().join("out.bin"),
            Quantization::F16,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("model.bin") && error.contains("TransformerSpec"),
            "{error}"
        );
    }

    #[test]
    fn sinusoids_match_openai_values() {
        let table = whisper_sinusoids(1500, 512);
        assert_eq!(table[0], 0.0); // sin(0)
        assert_eq!(table[256], 1.0); // cos(0)
        assert!((table[512] - 1f32.sin()).abs() < 1e-7); // position 1, fastest timescale
        assert!((table[1499 * 512 + 511] - (1499.0f64 * 1e-4).cos() as f32).abs() < 1e-6); // slowest
    }

    /// End-to-end check against the real faster-whisper base model:
    /// `CALLQA_TEST_CT2_DIR=<dir with model.bin.part1/2, vocabulary.txt> cargo test -- --ignored`.
    #[test]
    #[ignore = "needs the faster-whisper base model (CALLQA_TEST_CT2_DIR)"]
    fn converts_real_base_model_to_the_pinned_bytes() {
        let Some(model_dir) = std::env::var_os("CALLQA_TEST_CT2_DIR") else {
            panic!("set CALLQA_TEST_CT2_DIR");
        };
        let output_dir = tempfile::tempdir().unwrap();
        for quantization in Quantization::ALL {
            let output = output_dir
                .path()
                .join(crate::model::installed_base_model_file_name(quantization));
            let report = convert_ctranslate2(Path::new(&model_dir), &output, quantization).unwrap();
            assert_eq!(
                report.sha256,
                crate::model::pinned_base_model_sha256(quantization),
                "{quantization}"
            );
            assert_eq!(read_ggml_header(&output).unwrap().tensors.len(), 245);
        }
    }
}
