//! Whisper's byte-level BPE vocabulary, converted to the token table whisper.cpp expects.
//!
//! CTranslate2 stores tokens as GPT-2 "byte-to-unicode" strings (each byte mapped to a printable
//! character, e.g. a space becomes `Ġ`). whisper.cpp wants raw bytes, and only the regular tokens:
//! the ones before `<|endoftext|>`. It creates the special tokens (`<|endoftext|>`, languages, tasks,
//! timestamps) itself from the `n_vocab` hyperparameter, at hard-coded ids. This is exactly what
//! whisper.cpp's `convert-pt-to-ggml.py` writes from `multilingual.tiktoken` / `gpt2.tiktoken`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::model::error::ModelError;

/// The token after the last regular one in every Whisper vocabulary.
const END_OF_TEXT_TOKEN: &str = "<|endoftext|>";
/// Vocabulary sizes from which whisper.cpp treats a model as multilingual (`is_multilingual()`).
const FIRST_MULTILINGUAL_VOCABULARY_SIZE: usize = 51865;

/// The vocabulary of a CTranslate2 model directory and the file it came from.
pub(crate) struct Vocabulary {
    pub path: PathBuf,
    pub tokens: Vec<String>,
}

/// Reads `vocabulary.txt` (one token per line) or `vocabulary.json` (a JSON array of strings).
pub(crate) fn load_vocabulary(model_dir: &Path) -> Result<Vocabulary, ModelError> {
    let text_path = model_dir.join("vocabulary.txt");
    let json_path = model_dir.join("vocabulary.json");
    if text_path.is_file() {
        let text =
            std::fs::read_to_string(&text_path).map_err(ModelError::io(&text_path, "reading"))?;
        // `lines()` keeps interior empty lines: Whisper's multilingual vocabulary has an empty token
        // at id 50256, so blank lines must not be skipped.
        let tokens = text.lines().map(str::to_string).collect();
        Ok(Vocabulary {
            path: text_path,
            tokens,
        })
    } else if json_path.is_file() {
        let text =
            std::fs::read_to_string(&json_path).map_err(ModelError::io(&json_path, "reading"))?;
        let tokens = serde_json::from_str::<Vec<String>>(&text).map_err(|error| {
            ModelError::InvalidVocabulary {
                path: json_path.clone(),
                reason: format!("expected a JSON array of strings: {error}"),
            }
        })?;
        Ok(Vocabulary {
            path: json_path,
            tokens,
        })
    } else {
        Err(ModelError::MissingFile {
            path: text_path,
            expected: "the tokenizer vocabulary: vocabulary.txt or vocabulary.json".to_string(),
        })
    }
}

/// GPT-2's byte-to-unicode table inverted: for each mapped character, the byte it stands for.
///
/// Printable Latin-1 bytes map to themselves; the other 68 bytes map, in byte order, to U+0100
/// onwards (`bytes_to_unicode()` in GPT-2 / Whisper).
fn byte_level_decoder() -> HashMap<char, u8> {
    let is_printable = |byte: u8| matches!(byte, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut next_substitute = 0u32;
    (0..=255u8)
        .map(|byte| {
            if is_printable(byte) {
                (char::from(byte), byte)
            } else {
                let substitute = char::from_u32(256 + next_substitute)
                    .expect("U+0100..U+0143 are valid characters");
                next_substitute += 1;
                (substitute, byte)
            }
        })
        .collect()
}

/// Decodes one byte-level token string to its raw bytes, or `None` if it holds a character outside
/// the byte-level alphabet.
pub(crate) fn decode_byte_level_token(token: &str, decoder: &HashMap<char, u8>) -> Option<Vec<u8>> {
    token
        .chars()
        .map(|character| decoder.get(&character).copied())
        .collect()
}

/// The raw bytes of the regular tokens (ids `0..<|endoftext|>`), in id order, ready for the ggml
/// vocabulary section.
///
/// Checks that the vocabulary matches the embedding size and that `<|endoftext|>` sits where
/// whisper.cpp hard-codes it (50257 for multilingual models, 50256 for `.en` models): otherwise
/// whisper.cpp would use wrong special-token ids and transcribe garbage.
pub(crate) fn whisper_regular_tokens(
    vocabulary: &Vocabulary,
    model_vocabulary_size: usize,
) -> Result<Vec<Vec<u8>>, ModelError> {
    let invalid = |reason: String| ModelError::InvalidVocabulary {
        path: vocabulary.path.clone(),
        reason,
    };
    if vocabulary.tokens.len() != model_vocabulary_size {
        return Err(invalid(format!(
            "{} tokens, but the model's embedding has {model_vocabulary_size} rows",
            vocabulary.tokens.len()
        )));
    }
    let end_of_text_id = vocabulary
        .tokens
        .iter()
        .position(|token| token == END_OF_TEXT_TOKEN)
        .ok_or_else(|| invalid(format!("no {END_OF_TEXT_TOKEN} token")))?;
    let expected_end_of_text_id = if model_vocabulary_size >= FIRST_MULTILINGUAL_VOCABULARY_SIZE {
        50257
    } else {
        50256
    };
    if end_of_text_id != expected_end_of_text_id {
        return Err(invalid(format!(
            "{END_OF_TEXT_TOKEN} has id {end_of_text_id}, but whisper.cpp expects {expected_end_of_text_id} for a \
             {model_vocabulary_size}-token Whisper vocabulary"
        )));
    }

    let decoder = byte_level_decoder();
    vocabulary.tokens[..end_of_text_id]
        .iter()
        .enumerate()
        .map(|(id, token)| {
            decode_byte_level_token(token, &decoder).ok_or_else(|| {
                invalid(format!(
                    "token {id} ({token:?}) is not a byte-level BPE token"
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(token: &str) -> Option<Vec<u8>> {
        decode_byte_level_token(token, &byte_level_decoder())
    }

    #[test]
    fn decodes_gpt2_byte_level_strings() {
        assert_eq!(decode("Ġthe").unwrap(), b" the");
        assert_eq!(decode("ĊĊ").unwrap(), b"\n\n");
        assert_eq!(decode("hello").unwrap(), b"hello");
        // "é" is two UTF-8 bytes, C3 A9, shown as "Ã©".
        assert_eq!(decode("ĠcafÃ©").unwrap(), " café".as_bytes());
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(decode("<|endoftext|>").unwrap(), b"<|endoftext|>");
        assert_eq!(decode("Ń"), Some(vec![0xAD])); // the last substitute (U+0143) is the soft hyphen
        assert_eq!(decode("日本"), None);
    }

    #[test]
    fn decoder_is_a_bijection_over_all_bytes() {
        let decoder = byte_level_decoder();
        assert_eq!(decoder.len(), 256);
        let mut bytes: Vec<u8> = decoder.values().copied().collect();
        bytes.sort_unstable();
        assert_eq!(bytes, (0..=255).collect::<Vec<u8>>());
    }

    fn multilingual_vocabulary() -> Vocabulary {
        let mut tokens: Vec<String> = (0..50257)
            .map(|id| {
                if id == 50256 {
                    String::new()
                } else {
                    format!("t{id}")
                }
            })
            .collect();
        tokens.push(END_OF_TEXT_TOKEN.to_string());
        tokens.extend((tokens.len()..51865).map(|id| format!("<|special{id}|>")));
        Vocabulary {
            path: PathBuf::from("vocabulary.txt"),
            tokens,
        }
    }

    #[test]
    fn keeps_regular_tokens_before_end_of_text_including_the_empty_one() {
        let regular = whisper_regular_tokens(&multilingual_vocabulary(), 51865).unwrap();
        assert_eq!(regular.len(), 50257);
        assert_eq!(regular[0], b"t0");
        assert_eq!(regular[50256], b"");
    }

    #[test]
    fn rejects_vocabularies_that_do_not_fit_whisper_cpp() {
        let error = whisper_regular_tokens(&multilingual_vocabulary(), 51864)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("vocabulary.txt") && error.contains("51864"),
            "{error}"
        );
        let mut shifted = multilingual_vocabulary();
        shifted.tokens.remove(5);
        shifted.tokens.push("extra".into());
        let error = whisper_regular_tokens(&shifted, 51865)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("50256") && error.contains("50257"),
            "{error}"
        );
    }

    #[test]
    fn reads_blank_lines_as_tokens() {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(directory.path().join("vocabulary.txt"), "a\n\nb\n").unwrap();
        let vocabulary = load_vocabulary(directory.path()).unwrap();
        assert_eq!(vocabulary.tokens, vec!["a", "", "b"]);
    }

    #[test]
    fn reads_json_vocabularies() {
        let directory = tempfile::tempdir().unwrap();
        std::fs::write(
            directory.path().join("vocabulary.json"),
            r#"["a", "", "Ġb"]"#,
        )
        .unwrap();
        assert_eq!(
            load_vocabulary(directory.path()).unwrap().tokens,
            vec!["a", "", "Ġb"]
        );
    }
}
