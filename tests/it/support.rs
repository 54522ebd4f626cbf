//! Shared helpers of the integration tests: the model, the fixtures, running the binary and
//! reading the Parquet tables it writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use callqa::transcribe::{AsrSettings, Transcriber};
use polars::prelude::*;

pub fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    repository_root().join("fixtures")
}

/// The model every test uses: `CALLQA_MODEL`, else the installed base model.
pub fn model_path() -> PathBuf {
    if let Ok(path) = std::env::var("CALLQA_MODEL") {
        return PathBuf::from(path);
    }
    let installed = callqa::model::default_models_dir().join("ggml-base-q8_0.bin");
    assert!(
        installed.is_file(),
        "no Whisper model: set CALLQA_MODEL or run `callqa model install` (scripts/test.sh does)"
    );
    installed
}

/// One model for all library-level tests of this binary.
pub fn transcriber() -> &'static Transcriber {
    static TRANSCRIBER: OnceLock<Transcriber> = OnceLock::new();
    TRANSCRIBER.get_or_init(|| {
        Transcriber::load(&model_path(), AsrSettings::default()).expect("model loads")
    })
}

/// Runs the callqa binary with the test model.
pub fn callqa(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_callqa"))
        .args(arguments)
        .env("CALLQA_MODEL", model_path())
        .env("CALLQA_RULES", repository_root().join("rules"))
        .output()
        .expect("callqa starts")
}

pub fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Reads every part file of a table into one frame (rows in file order).
pub fn read_table(out: &Path, table: &str) -> DataFrame {
    let mut files = Vec::new();
    let table_folder = out.join(table);
    for partition in std::fs::read_dir(&table_folder)
        .unwrap_or_else(|error| panic!("{}: {error}", table_folder.display()))
    {
        let partition = partition.unwrap().path();
        for file in std::fs::read_dir(&partition).unwrap() {
            let file = file.unwrap().path();
            if file
                .extension()
                .is_some_and(|extension| extension == "parquet")
            {
                files.push(file);
            }
        }
    }
    files.sort();
    let mut frames = files.iter().map(|file| {
        ParquetReader::new(std::fs::File::open(file).unwrap())
            .finish()
            .unwrap_or_else(|error| panic!("{}: {error}", file.display()))
    });
    let mut all = frames.next().expect("a table has at least one file");
    for frame in frames {
        all.vstack_mut(&frame).unwrap();
    }
    all
}

/// The string cells of a column.
pub fn strings(frame: &DataFrame, column: &str) -> Vec<Option<String>> {
    frame
        .column(column)
        .unwrap_or_else(|error| panic!("{column}: {error}"))
        .str()
        .unwrap()
        .into_iter()
        .map(|value| value.map(str::to_string))
        .collect()
}

/// Rows of a frame as string maps, for readable assertions.
pub fn rows_where(frame: &DataFrame, column: &str, value: &str) -> DataFrame {
    let mask = frame.column(column).unwrap().str().unwrap().equal(value);
    frame.filter(&mask).unwrap()
}
