//! The rulebook loader on arbitrary text as `en.toml` (beside the real lexicons): loading and
//! `rules check` must report problems as diagnostics, never panic.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use callqa::rules::{RuleSet, check};
use libfuzzer_sys::fuzz_target;

/// A rules folder holding a copy of the real lexicons, made once per fuzzing process.
fn rules_dir() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let lexicons = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/lexicons");
        copy_tree(&lexicons, &dir.path().join("lexicons"));
        let path = dir.path().to_path_buf();
        (dir, path)
    })
    .1
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create lexicon folder");
    for entry in std::fs::read_dir(from).expect("read lexicons") {
        let entry = entry.expect("lexicon entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy lexicon");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let dir = rules_dir();
    std::fs::write(dir.join("en.toml"), data).expect("write the rule file");
    let loaded = RuleSet::load(dir);
    let report = check(dir);
    // Check reports everything load rejects (and more: failing examples, lints), so a clean
    // check means the rulebook loads.
    if report.is_ok() {
        assert!(
            loaded.is_ok(),
            "check passed what load rejects: {:?}",
            loaded.as_ref().err()
        );
    }
    if let Err(error) = loaded {
        assert!(!error.to_string().is_empty());
    }
});
