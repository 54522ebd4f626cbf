//! `callqa rules check`: parse, lint and run every example of a rules directory.
//!
//! Beyond what loading rejects (syntax, unknown keys, bad regexes, unknown lexicons, metrics
//! or events, duplicate ids), check warns about rules without positive or negative examples
//! and lexicon files no rule uses, then runs each example: a positive example must produce at
//! least one finding of its rule, a negative one none. Disabled rules are checked too.
//! Every problem is a line `file:line: rule-id: message`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::compile::{Compiled, LexiconStore, compile_rule};
use super::diagnostics::{Diagnostic, DiagnosticLevel, counted};
use super::example::parse_example;
use super::load::{FileRole, SourceRule, build_from, read_sources};
use super::{Rule, Rulebook, evaluate};

/// What `rules check` found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Sorted by file and line.
    pub diagnostics: Vec<Diagnostic>,
    pub n_files: usize,
    pub n_rules: usize,
    pub n_examples: usize,
    pub n_examples_failed: usize,
}

impl CheckReport {
    /// No errors (warnings allowed).
    pub fn is_ok(&self) -> bool {
        self.n_errors() == 0
    }

    pub fn n_errors(&self) -> usize {
        self.count(DiagnosticLevel::Error)
    }

    pub fn n_warnings(&self) -> usize {
        self.count(DiagnosticLevel::Warning)
    }

    fn count(&self, level: DiagnosticLevel) -> usize {
        self.diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.level == level)
            .count()
    }
}

impl CheckReport {
    /// One `file:line: rule-id: message` line per problem, for stdout.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.diagnostics.iter().map(ToString::to_string)
    }

    /// "77 rules in 8 files, 231 examples run (0 failed): 0 errors, 0 warnings", for stderr.
    pub fn summary(&self) -> String {
        format!(
            "{} in {}, {} run ({} failed): {}, {}",
            counted(self.n_rules, "rule"),
            counted(self.n_files, "file"),
            counted(self.n_examples, "example"),
            self.n_examples_failed,
            counted(self.n_errors(), "error"),
            counted(self.n_warnings(), "warning")
        )
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in self.lines() {
            writeln!(formatter, "{line}")?;
        }
        write!(formatter, "{}", self.summary())
    }
}

/// Checks a rules directory. Never fails: an unreadable directory is a diagnostic too.
pub fn check(dir: &Path) -> CheckReport {
    let sources = match read_sources(dir) {
        Ok(sources) => sources,
        Err(error) => {
            return CheckReport {
                diagnostics: vec![Diagnostic::error(dir, None, None, error.to_string())],
                ..CheckReport::default()
            };
        }
    };
    let mut lexicons = LexiconStore::new(dir);
    let (_, mut diagnostics) = build_from(&sources, &mut lexicons);
    let mut report = CheckReport {
        n_files: sources.files.len(),
        ..CheckReport::default()
    };

    for file in &sources.files {
        let file_language = match &file.role {
            FileRole::Language(code) => Some(code.as_str()),
            FileRole::Shared => None,
        };
        for source in &file.rules {
            report.n_rules += 1;
            lint_examples(&file.path, source, &mut diagnostics);
            run_examples(
                &file.path,
                file_language,
                source,
                &mut lexicons,
                &mut diagnostics,
                &mut report,
            );
        }
    }

    // Lexicons of a rulebook language (or shared) that no rule reads are probably a typo in a
    // rule's `lexicons` list. Other folders (the tone stage's `sentiment/`) are not ours.
    let languages = sources.languages();
    for (relative, _) in &sources.hashed {
        let mut parts = relative.split('/');
        let (Some("lexicons"), Some(folder), Some(_)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let ours = folder == "shared" || languages.iter().any(|code| code == folder);
        let path = dir.join(relative);
        if ours && relative.ends_with(".txt") && !lexicons.used.contains(&path) {
            diagnostics.push(Diagnostic::warning(
                path,
                None,
                None,
                "lexicon not used by any rule",
            ));
        }
    }
    diagnostics.extend(lexicons.take_read_errors());
    diagnostics.sort_by(|left, right| {
        (
            &left.path,
            left.line,
            &left.rule_id,
            left.level,
            &left.message,
        )
            .cmp(&(
                &right.path,
                right.line,
                &right.rule_id,
                right.level,
                &right.message,
            ))
    });
    diagnostics.dedup();
    report.diagnostics = diagnostics;
    report
}

fn lint_examples(path: &Path, source: &SourceRule, diagnostics: &mut Vec<Diagnostic>) {
    let examples = source.raw.examples.clone().unwrap_or_default();
    if examples.positive.is_empty() {
        diagnostics.push(Diagnostic::warning(
            path,
            Some(source.line),
            Some(&source.raw.id),
            "no positive example (a call that should produce a finding)",
        ));
    }
    if examples.negative.is_empty() {
        diagnostics.push(Diagnostic::warning(
            path,
            Some(source.line),
            Some(&source.raw.id),
            "no negative example (a call that should pass)",
        ));
    }
}

fn run_examples(
    path: &Path,
    file_language: Option<&str>,
    source: &SourceRule,
    lexicons: &mut LexiconStore,
    diagnostics: &mut Vec<Diagnostic>,
    report: &mut CheckReport,
) {
    let Some(examples) = &source.raw.examples else {
        return;
    };
    let rule_id = source.raw.id.as_str();
    let mut compiled: BTreeMap<String, Option<Rule>> = BTreeMap::new();
    let cases = examples
        .positive
        .iter()
        .enumerate()
        .map(|(index, text)| (true, index + 1, text))
        .chain(
            examples
                .negative
                .iter()
                .enumerate()
                .map(|(index, text)| (false, index + 1, text)),
        );
    for (positive, number, text) in cases {
        report.n_examples += 1;
        let label = if positive { "positive" } else { "negative" };
        let mut fail = |message: String, diagnostics: &mut Vec<Diagnostic>| {
            report.n_examples_failed += 1;
            diagnostics.push(Diagnostic::error(
                path,
                Some(source.line),
                Some(rule_id),
                format!("{label} example {number}: {message}"),
            ));
        };
        let example = match parse_example(text) {
            Ok(example) => example,
            Err(message) => {
                fail(message, diagnostics);
                continue;
            }
        };
        // Language files test in their language; shared rules in the example's (default en).
        let language = file_language
            .map(str::to_string)
            .or_else(|| example.language.clone())
            .unwrap_or_else(|| "en".to_string());
        let rule = compiled.entry(language.clone()).or_insert_with(|| {
            match compile_rule(
                &source.raw,
                path,
                source.line,
                Some(&language),
                lexicons,
                diagnostics,
            ) {
                Compiled::Rule(rule) => Some(*rule),
                Compiled::Skipped(_) | Compiled::Invalid => None,
            }
        });
        let Some(rule) = rule else {
            // The rule's own errors are already reported.
            report.n_examples_failed += 1;
            continue;
        };
        let rulebook = Rulebook {
            language: Some(language),
            rules: vec![rule.clone()],
            hash: String::new(),
            notes: Vec::new(),
        };
        let findings = evaluate(&rulebook, &example.transcript, &example.measurements);
        match (positive, findings.first()) {
            (true, None) => fail("produced no finding".to_string(), diagnostics),
            (false, Some(finding)) => fail(
                format!("produced a finding: {}", finding.evidence),
                diagnostics,
            ),
            _ => {}
        }
    }
}
