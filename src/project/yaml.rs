//! Reading typed fields out of a YAML mapping while collecting every problem.
//!
//! serde_yaml keeps no positions for values, so positions come from the text:
//! a key is found on its own line at the indentation its nesting implies.
//! Every accessor records a diagnostic instead of stopping, so one pass over a
//! file reports all of its problems.

use super::diagnostic::Diagnostic;
use serde_yaml::{Mapping, Value};
use std::ops::Range;
use std::path::Path;

/// Where the keys of a (possibly nested) mapping sit in the text.
#[derive(Clone, Copy)]
pub struct Scope {
    /// Byte range of the text that holds this mapping.
    pub start: usize,
    pub end: usize,
}

pub struct Reader<'a> {
    pub file: &'a Path,
    pub text: &'a str,
    pub diagnostics: Vec<Diagnostic>,
    pub table: Option<String>,
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Reader {
            file,
            text,
            diagnostics: Vec::new(),
            table: None,
        }
    }

    pub fn whole(&self) -> Scope {
        Scope {
            start: 0,
            end: self.text.len(),
        }
    }

    pub fn error(
        &mut self,
        code: &'static str,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let mut d = Diagnostic::error(code, self.file, span, message);
        d.help = help;
        d.table = self.table.clone();
        self.diagnostics.push(d);
    }

    /// The byte range of `key` (the key itself) within `scope`, the first match at the
    /// smallest indentation; falls back to the scope start.
    pub fn key_span(&self, scope: Scope, key: &str) -> Range<usize> {
        find_key(self.text, scope, key).unwrap_or(scope.start..scope.start)
    }

    /// The byte range of the value written after `key:` on the same line (or the key when none).
    pub fn value_span(&self, scope: Scope, key: &str) -> Range<usize> {
        let Some(k) = find_key(self.text, scope, key) else {
            return scope.start..scope.start;
        };
        let line_end = self.text[k.end..]
            .find('\n')
            .map_or(self.text.len(), |i| k.end + i);
        let rest = &self.text[k.end..line_end];
        let after_colon = rest.find(':').map_or(0, |i| i + 1);
        let value = &rest[after_colon..];
        let trimmed_start = value.len() - value.trim_start().len();
        let value_text = strip_comment(value.trim());
        if value_text.is_empty() {
            return k;
        }
        let start = k.end + after_colon + trimmed_start;
        start..start + value_text.len()
    }

    /// The text range of the nested mapping under `key` (the lines indented below it).
    pub fn nested(&self, scope: Scope, key: &str) -> Scope {
        let Some(k) = find_key(self.text, scope, key) else {
            return scope;
        };
        let indent = indentation_at(self.text, k.start);
        let mut end = self.text[k.end..]
            .find('\n')
            .map_or(self.text.len(), |i| k.end + i + 1);
        while end < scope.end {
            let line_end = self.text[end..]
                .find('\n')
                .map_or(self.text.len(), |i| end + i + 1);
            let line = &self.text[end..line_end];
            let blank = line.trim().is_empty() || line.trim_start().starts_with('#');
            if !blank
                && indentation_at(self.text, end) <= indent
                && !line.trim_start().starts_with("- ")
            {
                break;
            }
            if !blank && indentation_at(self.text, end) < indent {
                break;
            }
            end = line_end;
        }
        Scope {
            start: k.start,
            end: end.min(scope.end),
        }
    }

    /// The text ranges of the items of a block sequence inside `scope` (`- ` entries).
    pub fn items(&self, scope: Scope, count: usize) -> Vec<Scope> {
        let mut starts = Vec::new();
        let mut offset = scope.start;
        let mut item_indent = None;
        for line in self.text[scope.start..scope.end].split_inclusive('\n') {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            let is_item =
                trimmed.starts_with("- ") || trimmed == "-\n" || trimmed.starts_with("-{");
            if is_item && item_indent.is_none_or(|i| i == indent) {
                item_indent = Some(indent);
                starts.push(offset + indent);
            }
            offset += line.len();
        }
        if starts.len() != count {
            return vec![scope; count];
        }
        let mut scopes = Vec::with_capacity(count);
        for (i, &s) in starts.iter().enumerate() {
            let e = starts.get(i + 1).copied().unwrap_or(scope.end);
            scopes.push(Scope { start: s, end: e });
        }
        scopes
    }

    /// Reports every key of `map` that is not in `known`, with a "did you mean".
    pub fn unknown_keys(&mut self, map: &Mapping, scope: Scope, known: &[&str], what: &str) {
        for key in map.keys() {
            let Some(key) = key.as_str() else { continue };
            if known.contains(&key) {
                continue;
            }
            let help = suggest(key, known)
                .map(|s| format!("did you mean `{s}`?"))
                .or_else(|| Some(format!("{what} keys are: {}", known.join(", "))));
            let span = self.key_span(scope, key);
            self.error(
                "unknown-key",
                span,
                format!("unknown key `{key}` in {what}"),
                help,
            );
        }
    }

    pub fn string(&mut self, map: &Mapping, scope: Scope, key: &str) -> Option<String> {
        match map.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => None,
            _ => {
                let span = self.value_span(scope, key);
                self.error(
                    "invalid-type",
                    span,
                    format!("`{key}` must be a string"),
                    None,
                );
                None
            }
        }
    }

    pub fn required_string(
        &mut self,
        map: &Mapping,
        scope: Scope,
        key: &str,
        what: &str,
        example: &str,
    ) -> Option<String> {
        let value = self.string(map, scope, key);
        if value.is_none() && map.get(key).is_none_or(Value::is_null) {
            let span = scope.start..scope.start;
            self.error(
                "missing-key",
                span,
                format!("{what} is missing the required key `{key}`"),
                Some(format!("add a line like `{key}: {example}`")),
            );
        }
        value
    }

    pub fn string_list(&mut self, map: &Mapping, scope: Scope, key: &str) -> Vec<String> {
        match map.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Sequence(items)) if items.iter().all(|v| v.as_str().is_some()) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Some(_) => {
                let span = self.value_span(scope, key);
                self.error(
                    "invalid-type",
                    span,
                    format!("`{key}` must be a list of strings"),
                    None,
                );
                Vec::new()
            }
        }
    }

    pub fn mapping<'m>(
        &mut self,
        map: &'m Mapping,
        scope: Scope,
        key: &str,
    ) -> Option<&'m Mapping> {
        match map.get(key)? {
            Value::Mapping(m) => Some(m),
            Value::Null => None,
            _ => {
                let span = self.value_span(scope, key);
                self.error(
                    "invalid-type",
                    span,
                    format!("`{key}` must be a mapping of keys to values"),
                    None,
                );
                None
            }
        }
    }
}

fn strip_comment(value: &str) -> &str {
    match value.find(" #") {
        Some(i) if !value.starts_with('"') && !value.starts_with('\'') => value[..i].trim_end(),
        _ => value,
    }
}

fn indentation_at(text: &str, offset: usize) -> usize {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let mut indent = 0;
    for c in line.chars() {
        match c {
            ' ' | '-' => indent += 1,
            _ => break,
        }
    }
    indent
}

fn find_key(text: &str, scope: Scope, key: &str) -> Option<Range<usize>> {
    let region = &text[scope.start..scope.end];
    let mut best: Option<(usize, Range<usize>)> = None;
    let mut offset = scope.start;
    for line in region.split_inclusive('\n') {
        let body = line.trim_start_matches([' ', '-']);
        let indent = line.len() - body.len();
        let found = body
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
            || flow_key(body, key).is_some();
        if found {
            let start = offset + indent + flow_key(body, key).unwrap_or(0);
            if best.as_ref().is_none_or(|(i, _)| indent < *i) {
                best = Some((indent, start..start + key.len()));
            }
        }
        offset += line.len();
    }
    best.map(|(_, r)| r)
}

/// Position of `key:` inside a flow mapping on one line, like `{name: x, type: y}`.
fn flow_key(body: &str, key: &str) -> Option<usize> {
    // An empty key (`{"": 1}`) matches everywhere and would never advance the search.
    if !body.starts_with('{') || key.is_empty() {
        return None;
    }
    let mut search = 0;
    while let Some(i) = body[search..].find(key) {
        let at = search + i;
        let before = body[..at].trim_end();
        let after = body[at + key.len()..].trim_start();
        if (before.ends_with('{') || before.ends_with(',')) && after.starts_with(':') {
            return Some(at);
        }
        search = at + key.len();
    }
    None
}

/// The closest of `options` to `word`, when it is close enough to be a likely typo.
pub fn suggest<'o>(word: &str, options: &[&'o str]) -> Option<&'o str> {
    options
        .iter()
        .map(|o| (strsim::jaro_winkler(word, o), *o))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, o)| o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_top_level_keys_before_nested_ones() {
        let text = "columns:\n  - name: a\n    type: INT\nname: core.t\n";
        let reader = Reader::new(Path::new("t.yml"), text);
        let span = reader.key_span(reader.whole(), "name");
        assert_eq!(&text[span.clone()], "name");
        assert_eq!(span.start, text.find("name: core").unwrap());
    }

    /// Found by the `config` fuzz target: an unknown empty key in a flow mapping
    /// looped forever while its position was looked up.
    #[test]
    fn an_empty_key_in_a_flow_mapping_is_located_without_looping() {
        let text = "{\"\": 1, name: x}\n";
        let reader = Reader::new(Path::new("t.yml"), text);
        let span = reader.key_span(reader.whole(), "");
        assert!(span.end <= text.len());
        let (_, problems) =
            crate::project::config::load(Path::new("/p"), Path::new("/p/derived.yml"), text);
        assert!(!problems.is_empty(), "unknown keys are reported");
    }

    #[test]
    fn value_spans_skip_comments() {
        let text = "window: 1x   # trailing\n";
        let reader = Reader::new(Path::new("t.yml"), text);
        let span = reader.value_span(reader.whole(), "window");
        assert_eq!(&text[span], "1x");
    }

    #[test]
    fn sequence_items_get_their_own_scopes() {
        let text = "columns:\n  - name: a\n    typo: 1\n  - {name: b, tpye: INT}\nsql: x\n";
        let reader = Reader::new(Path::new("t.yml"), text);
        let columns = reader.nested(reader.whole(), "columns");
        let items = reader.items(columns, 2);
        assert_eq!(&text[reader.key_span(items[1], "tpye")], "tpye");
        assert!(reader.key_span(items[0], "typo").start < items[1].start);
    }

    #[test]
    fn suggestions_catch_typos_only() {
        assert_eq!(
            suggest("schedul", &["schedule", "strategy"]),
            Some("schedule")
        );
        assert_eq!(suggest("zzz", &["schedule", "strategy"]), None);
    }
}
