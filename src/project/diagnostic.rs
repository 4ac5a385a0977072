//! Problems found in a user's project, as plain data.
//!
//! A diagnostic names a stable kebab-case code, the file and a byte range in
//! it; line and column are derived only when rendering, so every producer
//! works with offsets and nothing is computed twice.

use codespan_reporting::diagnostic::{Diagnostic as Rendered, Label};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor::Buffer};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    #[serde(deserialize_with = "interned")]
    pub code: Code,
    pub message: String,
    pub file: PathBuf,
    /// Byte range in `file`; an empty range at 0 means "the whole file".
    pub span: Range<usize>,
    pub table: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(
        code: &'static str,
        file: &Path,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            file: file.to_path_buf(),
            span,
            table: None,
            help: None,
        }
    }

    pub fn warning(
        code: &'static str,
        file: &Path,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, file, span, message)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn for_table(mut self, table: &str) -> Self {
        self.table = Some(table.to_string());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A diagnostic's code, e.g. `unknown-reference`. (Named so that serde reads
/// it through [`interned`] instead of borrowing from the input.)
pub type Code = &'static str;

/// A code read back from a cache: codes are a small fixed set, so each
/// distinct one is allocated once for the life of the process.
fn interned<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    static CODES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let code = String::deserialize(d)?;
    let mut codes = CODES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = codes.get(code.as_str()) {
        return Ok(known);
    }
    let code: &'static str = Box::leak(code.into_boxed_str());
    codes.insert(code);
    Ok(code)
}

/// The text of every file diagnostics may point into, for positions and rendering.
#[derive(Default, Debug)]
pub struct SourceFiles {
    texts: HashMap<PathBuf, String>,
    /// Files on disk read on first use (a project restored from its cache
    /// rarely needs any of them). Keyed by the path's bytes: hashing a `Path`
    /// walks its components, which costs a 10,000-file project milliseconds.
    on_disk: HashMap<OsString, OnceLock<Option<String>>>,
}

impl SourceFiles {
    pub fn add(&mut self, path: &Path, text: String) {
        self.texts.insert(path.to_path_buf(), text);
    }

    /// `path`, to be read from disk when its text is first asked for.
    pub fn add_on_disk(&mut self, path: &Path) {
        self.on_disk
            .insert(path.as_os_str().to_owned(), OnceLock::new());
    }

    pub fn text(&self, path: &Path) -> Option<&str> {
        if let Some(text) = self.texts.get(path) {
            return Some(text);
        }
        self.on_disk
            .get(path.as_os_str())?
            .get_or_init(|| std::fs::read_to_string(path).ok())
            .as_deref()
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_column(&self, path: &Path, offset: usize) -> (usize, usize) {
        match self.text(path) {
            Some(text) => line_column(text, offset),
            None => (1, 1),
        }
    }
}

pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Stable order: by file, then position, then code.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (&a.file, a.span.start, a.code, &a.message).cmp(&(
            &b.file,
            b.span.start,
            b.code,
            &b.message,
        ))
    });
}

/// Renders like rustc: `error[code]: message`, the file position, the source line and a caret.
pub fn render_text(diagnostics: &[Diagnostic], sources: &SourceFiles, root: &Path) -> String {
    let mut files = SimpleFiles::new();
    let mut ids = HashMap::new();
    let mut out = Buffer::no_color();
    let config = term::Config::default();
    for d in diagnostics {
        let id = *ids.entry(d.file.clone()).or_insert_with(|| {
            let name = display_path(&d.file, root);
            files.add(name, sources.text(&d.file).unwrap_or_default().to_string())
        });
        let mut rendered = match d.severity {
            Severity::Error => Rendered::error(),
            Severity::Warning => Rendered::warning(),
        }
        .with_code(d.code)
        .with_message(&d.message)
        .with_labels(vec![Label::primary(id, d.span.clone())]);
        if let Some(help) = &d.help {
            rendered = rendered.with_notes(vec![format!("help: {help}")]);
        }
        let _ = term::emit(&mut out, &config, &files, &rendered);
    }
    String::from_utf8_lossy(out.as_slice()).into_owned()
}

pub fn display_path(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[derive(Serialize)]
pub struct JsonDiagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub table: Option<String>,
    pub code: &'static str,
    pub message: String,
    pub help: Option<String>,
}

pub fn to_json(d: &Diagnostic, sources: &SourceFiles, root: &Path) -> JsonDiagnostic {
    let (line, column) = sources.line_column(&d.file, d.span.start);
    JsonDiagnostic {
        file: display_path(&d.file, root),
        line,
        column,
        table: d.table.clone(),
        code: d.code,
        message: d.message.clone(),
        help: d.help.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_character_columns() {
        let text = "a: 1\nbé: x\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 5), (2, 1));
        assert_eq!(line_column(text, text.find('x').unwrap()), (2, 5));
    }
}
