//! Problems found in a rules directory, reported as `file:line: rule-id: message`.
//!
//! Loading collects every problem instead of stopping at the first, so a QA analyst fixing a
//! rulebook sees them all in one `callqa rules check` run.

use std::fmt;
use std::path::PathBuf;

/// Errors stop a load; warnings are shown by `rules check` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DiagnosticLevel {
    Error,
    Warning,
}

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Diagnostic {
    pub path: PathBuf,
    /// 1-based; `None` for problems of a whole file or directory.
    pub line: Option<usize>,
    pub rule_id: Option<String>,
    pub level: DiagnosticLevel,
    pub message: String,
}

impl Diagnostic {
    pub(crate) fn error(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        rule_id: Option<&str>,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            path: path.into(),
            line,
            rule_id: rule_id.map(str::to_string),
            level: DiagnosticLevel::Error,
            message: message.into(),
        }
    }

    pub(crate) fn warning(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        rule_id: Option<&str>,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            level: DiagnosticLevel::Warning,
            ..Diagnostic::error(path, line, rule_id, message)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(formatter, ":{line}")?;
        }
        write!(formatter, ": ")?;
        if let Some(rule_id) = &self.rule_id {
            write!(formatter, "{rule_id}: ")?;
        }
        if self.level == DiagnosticLevel::Warning {
            write!(formatter, "warning: ")?;
        }
        write!(formatter, "{}", self.message)
    }
}

/// Why a rules directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The directory or one of its files could not be read (`fs-err` puts the path in). The
    /// error is shown in the message and not chained as a source, so that a chain printed
    /// whole (`{:#}`) does not say it twice.
    #[error("cannot read rules: {0}")]
    Io(std::io::Error),
    /// There is no folder at the path given (absolute, so that a relative default says where
    /// it was looked for).
    #[error("cannot read rules: there is no folder {}", .0.display())]
    NoFolder(PathBuf),
    /// The files were read but hold errors.
    #[error("{} in rules directory {}:\n{}", counted(diagnostics.len(), "error"), dir.display(), render(diagnostics))]
    Invalid {
        dir: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
}

impl From<std::io::Error> for RulesError {
    fn from(error: std::io::Error) -> Self {
        RulesError::Io(error)
    }
}

/// "1 error", "2 errors": `noun` is a regular English noun.
pub(crate) fn counted(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
