//! Reading a rules directory into a [`RuleSet`]: which file is which, TOML parsing with lines,
//! the rulebook of each language, and the hashes that tell `rescore` when rules changed.
//!
//! Layout:
//! ```text
//! rules/
//!   en.toml es.toml ru.toml pl.toml zh.toml fa.toml   one per language (ISO 639-1 name)
//!   shared/*.toml                                      rules for every language
//!   lexicons/<lang>/<name>.txt, lexicons/shared/<name>.txt
//! ```
//! Other files are ignored by the rules (the tone stage keeps `lexicons/sentiment/` here), but
//! every `*.toml` and `*.txt` is part of [`RuleSet::hash`], so any change to what analysis
//! reads changes the hash.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::compile::{Compiled, LexiconStore, compile_rule};
use super::diagnostics::{Diagnostic, RulesError};
use super::schema::{RawFile, RawRule};
use super::{RuleSet, Rulebook};

/// What a rule file is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileRole {
    /// `<code>.toml`.
    Language(String),
    /// `shared/*.toml`.
    Shared,
}

/// One `[[rule]]` as written, with its line.
#[derive(Debug, Clone)]
pub(crate) struct SourceRule {
    pub raw: RawRule,
    pub line: usize,
}

/// One rule file, parsed.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    pub path: PathBuf,
    pub role: FileRole,
    pub rules: Vec<SourceRule>,
}

/// A rules directory, read and parsed but not yet compiled.
#[derive(Debug)]
pub(crate) struct Sources {
    /// Language files by code, then shared files by name.
    pub files: Vec<SourceFile>,
    /// Every `*.toml`/`*.txt` file: relative path (with `/`) and content, sorted by path.
    pub hashed: Vec<(String, Vec<u8>)>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Sources {
    pub fn shared_files(&self) -> impl Iterator<Item = &SourceFile> {
        self.files
            .iter()
            .filter(|file| file.role == FileRole::Shared)
    }

    pub fn language_file(&self, code: &str) -> Option<&SourceFile> {
        self.files
            .iter()
            .find(|file| file.role == FileRole::Language(code.to_string()))
    }

    pub fn languages(&self) -> Vec<String> {
        self.files
            .iter()
            .filter_map(|file| match &file.role {
                FileRole::Language(code) => Some(code.clone()),
                FileRole::Shared => None,
            })
            .collect()
    }

    /// SHA-256 over the hashed files that `include` accepts, by relative path and content.
    pub fn hash_of(&self, include: impl Fn(&str) -> bool) -> String {
        let mut hasher = Sha256::new();
        for (relative, content) in &self.hashed {
            if include(relative) {
                hasher.update(relative.as_bytes());
                hasher.update([0]);
                hasher.update((content.len() as u64).to_le_bytes());
                hasher.update(content);
            }
        }
        hex::encode(hasher.finalize())
    }
}

/// Reads and parses every rule file. Only an unreadable directory or file is an `Err`;
/// problems in the files are diagnostics.
pub(crate) fn read_sources(dir: &Path) -> Result<Sources, RulesError> {
    if !dir.is_dir() {
        return Err(RulesError::NoFolder(
            std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()),
        ));
    }
    let mut relative_paths = Vec::new();
    list_files(dir, "", 0, &mut relative_paths)?;
    relative_paths.sort();

    let mut hashed = Vec::new();
    let mut files = Vec::new();
    let mut diagnostics = Vec::new();
    for relative in &relative_paths {
        let path = dir.join(relative);
        let is_toml = relative.ends_with(".toml");
        if is_toml || relative.ends_with(".txt") {
            hashed.push((relative.clone(), fs_err::read(&path)?));
        }
        if !is_toml {
            continue;
        }
        let role = match relative.split_once('/') {
            None => {
                let code = relative.trim_end_matches(".toml");
                let valid = (2..=3).contains(&code.len())
                    && code.bytes().all(|byte| byte.is_ascii_lowercase());
                if !valid {
                    diagnostics.push(Diagnostic::error(
                        &path,
                        None,
                        None,
                        "language files are named after an ISO 639-1 code (en.toml, es.toml …); shared rules go in shared/",
                    ));
                    continue;
                }
                FileRole::Language(code.to_string())
            }
            Some(("shared", name)) if !name.contains('/') => FileRole::Shared,
            Some(_) => {
                diagnostics.push(Diagnostic::warning(
                    &path,
                    None,
                    None,
                    "not read: rule files are <code>.toml or shared/<name>.toml",
                ));
                continue;
            }
        };
        let text = fs_err::read_to_string(&path)?;
        if let Some(file) = parse_file(&path, &text, role, &mut diagnostics) {
            files.push(file);
        }
    }
    // Language files first (by code), then shared files (by name): the order findings use.
    files.sort_by(|left, right| {
        let key = |file: &SourceFile| (file.role == FileRole::Shared, file.path.clone());
        key(left).cmp(&key(right))
    });
    Ok(Sources {
        files,
        hashed,
        diagnostics,
    })
}

/// Relative paths of all regular files, at most a few levels deep (rules are shallow; this
/// also keeps a symlink loop from running forever).
fn list_files(
    dir: &Path,
    prefix: &str,
    depth: usize,
    out: &mut Vec<String>,
) -> Result<(), RulesError> {
    if depth > 4 {
        return Ok(());
    }
    for entry in fs_err::read_dir(dir.join(prefix))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        // Through symbolic links, as the loaders read them: a linked lexicon must be part of
        // the rules' hash, or editing it would not change the hash.
        let Ok(metadata) = std::fs::metadata(entry.path()) else {
            continue;
        };
        if metadata.is_dir() {
            list_files(dir, &relative, depth + 1, out)?;
        } else if metadata.is_file() {
            out.push(relative);
        }
    }
    Ok(())
}

fn parse_file(
    path: &Path,
    text: &str,
    role: FileRole,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<SourceFile> {
    let raw: RawFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(error) => {
            let offset = error.span().map_or(0, |span| span.start);
            let rule_id = rule_id_near(text, offset);
            diagnostics.push(Diagnostic::error(
                path,
                Some(line_of(text, offset)),
                rule_id.as_deref(),
                error.message().trim().replace('\n', " "),
            ));
            return None;
        }
    };
    match (&role, &raw.language) {
        (FileRole::Language(code), Some(language)) if language != code => {
            diagnostics.push(Diagnostic::error(
                path,
                Some(line_of(text, text.find("language").unwrap_or(0))),
                None,
                format!("`language = \"{language}\"` does not match the file name ({code}.toml)"),
            ));
        }
        (FileRole::Shared, Some(_)) => diagnostics.push(Diagnostic::error(
            path,
            Some(line_of(text, text.find("language").unwrap_or(0))),
            None,
            "shared files apply to every language: remove `language`",
        )),
        _ => {}
    }
    let rules = raw
        .rule
        .into_iter()
        .map(|spanned| SourceRule {
            line: line_of(text, spanned.span().start),
            raw: spanned.into_inner(),
        })
        .collect();
    Some(SourceFile {
        path: path.to_path_buf(),
        role,
        rules,
    })
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count()
        + 1
}

/// The `id` of the `[[rule]]` block around a byte offset, found textually: a rule that fails
/// to parse has no other way to name itself.
fn rule_id_near(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let mut block_start = None;
    let mut position = 0;
    for line in text.split_inclusive('\n') {
        if position > offset {
            break;
        }
        if line.trim_start().starts_with("[[rule]]") {
            block_start = Some(position);
        }
        position += line.len();
    }
    let block = &text[block_start?..];
    for (index, line) in block.lines().enumerate() {
        let trimmed = line.trim_start();
        if index > 0 && trimmed.starts_with("[[") {
            break;
        }
        if let Some(rest) = trimmed.strip_prefix("id")
            && let Some(value) = rest.trim_start().strip_prefix('=')
        {
            let value = value.trim();
            let quote = value
                .chars()
                .next()
                .filter(|&quote| quote == '"' || quote == '\'')?;
            let inner = &value[1..];
            return inner.find(quote).map(|end| inner[..end].to_string());
        }
    }
    None
}

/// Reads, compiles and hashes a rules directory; returns every diagnostic (errors and
/// warnings) next to the rule set built from the valid rules.
pub(crate) fn build(dir: &Path) -> Result<(RuleSet, Vec<Diagnostic>), RulesError> {
    let sources = read_sources(dir)?;
    let mut lexicons = LexiconStore::new(dir);
    let (rule_set, diagnostics) = build_from(&sources, &mut lexicons);
    Ok((rule_set, diagnostics))
}

pub(crate) fn build_from(
    sources: &Sources,
    lexicons: &mut LexiconStore,
) -> (RuleSet, Vec<Diagnostic>) {
    let mut diagnostics = sources.diagnostics.clone();
    let mut rulebooks = BTreeMap::new();
    for code in sources.languages() {
        let rulebook = build_rulebook(sources, Some(&code), lexicons, &mut diagnostics);
        rulebooks.insert(code, rulebook);
    }
    let fallback = build_rulebook(sources, None, lexicons, &mut diagnostics);
    diagnostics.extend(lexicons.take_read_errors());
    diagnostics.sort();
    diagnostics.dedup();
    let rule_set = RuleSet {
        rulebooks,
        fallback,
        hash: sources.hash_of(|_| true),
    };
    (rule_set, diagnostics)
}

fn build_rulebook(
    sources: &Sources,
    language: Option<&str>,
    lexicons: &mut LexiconStore,
    diagnostics: &mut Vec<Diagnostic>,
) -> Rulebook {
    let mut rules = Vec::new();
    let mut notes = Vec::new();
    let mut first_definition: BTreeMap<String, (PathBuf, usize)> = BTreeMap::new();
    let language_file = language.and_then(|code| sources.language_file(code));
    let files = sources.shared_files().chain(language_file);
    for file in files {
        for source in &file.rules {
            let raw = &source.raw;
            if let Some((path, line)) = first_definition.get(&raw.id) {
                diagnostics.push(Diagnostic::error(
                    &file.path,
                    Some(source.line),
                    Some(&raw.id),
                    format!(
                        "duplicate rule id (first defined at {}:{line})",
                        path.display()
                    ),
                ));
                continue;
            }
            first_definition.insert(raw.id.clone(), (file.path.clone(), source.line));
            let skipped_here = language.is_some_and(|code| {
                raw.skip_languages
                    .as_ref()
                    .is_some_and(|skip| skip.iter().any(|skipped| skipped == code))
            });
            if raw.enabled == Some(false) || skipped_here {
                // A language that skips a shared rule may define its own with the same id.
                first_definition.remove(&raw.id);
                continue;
            }
            match compile_rule(
                raw,
                &file.path,
                source.line,
                language,
                lexicons,
                diagnostics,
            ) {
                Compiled::Rule(rule) => rules.push(*rule),
                Compiled::Skipped(note) => notes.push(note),
                Compiled::Invalid => {}
            }
        }
    }
    let hash = match language {
        Some(code) => sources.hash_of(|relative| {
            relative.starts_with("shared/")
                || relative == format!("{code}.toml")
                || relative.starts_with(&format!("lexicons/{code}/"))
                || relative.starts_with("lexicons/shared/")
        }),
        None => {
            notes.insert(
                0,
                "no rulebook for this language: only shared rules (personal data, timing) apply"
                    .to_string(),
            );
            sources.hash_of(|relative| {
                relative.starts_with("shared/") || relative.starts_with("lexicons/shared/")
            })
        }
    };
    Rulebook {
        language: language.map(str::to_string),
        rules,
        hash,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_rule_ids() {
        let text = "language = \"en\"\n\n[[rule]]\nid = \"a.one\"\ncategory = \"greeting\"\n\n[[rule]]\nid = 'b.two'\nbogus = 1\n";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, text.find("bogus").unwrap()), 9);
        assert_eq!(
            rule_id_near(text, text.find("bogus").unwrap()).as_deref(),
            Some("b.two")
        );
        assert_eq!(
            rule_id_near(text, text.find("category").unwrap()).as_deref(),
            Some("a.one")
        );
        assert_eq!(rule_id_near(text, 0), None);
    }
}
