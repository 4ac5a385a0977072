//! Jinja rendering of table SQL with the SPEC §2 context, undefined names as errors.

use super::refs::SqlDialect;
use crate::time::{Interval, Timestamp};
use chrono::{Datelike, Timelike};
use minijinja::{Environment, UndefinedBehavior, Value};
use std::collections::BTreeMap;

/// Everything a template can see for one run.
#[derive(Clone, Copy)]
pub struct RenderContext<'a> {
    /// The input range (`start`, `end`): the window ending at the interval end.
    pub input: Interval,
    /// The scheduled interval, or the whole batch (`interval_start`, `interval_end`).
    pub interval: Interval,
    /// The table's own physical name.
    pub this: &'a str,
    pub env: &'a str,
    pub is_first_build: bool,
    /// The rows under check, for `sql:` checks (`{{ rows }}`).
    pub rows: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    /// Byte range in the template, when minijinja knows it.
    pub span: Option<std::ops::Range<usize>>,
    pub line: Option<usize>,
}

pub struct Renderer {
    env: Environment<'static>,
    dialect: SqlDialect,
    /// The names under `vars:`, for "did you mean `var('x')`".
    var_names: Vec<String>,
}

/// The names a template sees (SPEC §2).
const CONTEXT_NAMES: [&str; 11] = [
    "start",
    "end",
    "start_date",
    "end_date",
    "interval_start",
    "interval_end",
    "this",
    "env",
    "is_first_build",
    "rows",
    "var",
];

impl Renderer {
    pub fn new(vars: BTreeMap<String, Value>, dialect: SqlDialect) -> Renderer {
        let var_names = vars.keys().cloned().collect();
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.add_function("var", move |name: &str| -> Result<Value, minijinja::Error> {
            vars.get(name).cloned().ok_or_else(|| {
                minijinja::Error::new(
                    minijinja::ErrorKind::UndefinedError,
                    format!("var('{name}') is not defined; add `{name}` under `vars:` in derived.yml"),
                )
            })
        });
        Renderer {
            env,
            dialect,
            var_names,
        }
    }

    pub fn render(&self, template: &str, ctx: &RenderContext) -> Result<String, TemplateError> {
        if !has_template_syntax(template) {
            return Ok(template.to_owned());
        }
        let context = minijinja::context! {
            start => timestamp_literal(ctx.input.start(), self.dialect),
            end => timestamp_literal(ctx.input.end(), self.dialect),
            start_date => date_literal(ctx.input.start()),
            end_date => date_literal(ctx.input.end()),
            interval_start => timestamp_literal(ctx.interval.start(), self.dialect),
            interval_end => timestamp_literal(ctx.interval.end(), self.dialect),
            this => ctx.this,
            env => ctx.env,
            is_first_build => ctx.is_first_build,
            rows => ctx.rows,
        };
        self.env
            .render_str(template, context)
            .map_err(|e| TemplateError {
                message: self.describe(&e, template),
                span: e.range(),
                line: e.line(),
            })
    }

    fn describe(&self, e: &minijinja::Error, template: &str) -> String {
        let undefined = (e.kind() == minijinja::ErrorKind::UndefinedError)
            .then(|| e.range().and_then(|range| template.get(range)))
            .flatten()
            .and_then(leading_name)
            .filter(|name| !CONTEXT_NAMES.contains(name));
        if let Some(name) = undefined {
            return format!("template error: `{name}` is undefined{}", self.hint(name));
        }
        let detail = e
            .detail()
            .map(str::to_string)
            .unwrap_or_else(|| e.kind().to_string());
        format!("template error: {detail}")
    }

    fn hint(&self, name: &str) -> String {
        if self.var_names.iter().any(|v| v == name) {
            return format!("; `{name}` is under `vars:`, read it with `var('{name}')`");
        }
        let vars: Vec<String> = self
            .var_names
            .iter()
            .map(|v| format!("var('{v}')"))
            .collect();
        let mut known: Vec<&str> = CONTEXT_NAMES.to_vec();
        known.extend(vars.iter().map(String::as_str));
        match super::yaml::suggest(name, &known) {
            Some(s) => format!("; did you mean `{s}`?"),
            None => format!(
                "; a template sees {} and var('name')",
                CONTEXT_NAMES[..9].join(", ")
            ),
        }
    }
}

/// Whether `template` opens a tag (`{{`, `{%` or `{#`). Text without one
/// renders to itself, so most SQL needs no compiling.
fn has_template_syntax(template: &str) -> bool {
    let bytes = template.as_bytes();
    memchr::memchr_iter(b'{', bytes).any(|i| matches!(bytes.get(i + 1), Some(b'{' | b'%' | b'#')))
}

/// The name an expression starts with: `no_such` in `no_such.field | upper`.
fn leading_name(expression: &str) -> Option<&str> {
    let expression = expression.trim_start_matches(['{', '-', ' ']).trim_start();
    let end = expression
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(expression.len());
    let name = &expression[..end];
    (!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit())).then_some(name)
}

pub fn timestamp_literal(t: Timestamp, _dialect: SqlDialect) -> String {
    if !(0..=9999).contains(&t.year()) {
        return format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S"));
    }
    format!(
        "TIMESTAMP '{:04}-{:02}-{:02} {:02}:{:02}:{:02}'",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

pub fn date_literal(t: Timestamp) -> String {
    if !(0..=9999).contains(&t.year()) {
        return format!("DATE '{}'", t.format("%Y-%m-%d"));
    }
    format!("DATE '{:04}-{:02}-{:02}'", t.year(), t.month(), t.day())
}

/// Maps a byte offset in rendered SQL back to the template, line by line: literal
/// text maps exactly, an expression's output maps to the expression.
pub fn map_to_template(template: &str, rendered: &str, offset: usize) -> usize {
    let t_lines: Vec<&str> = template.split('\n').collect();
    let r_lines: Vec<&str> = rendered.split('\n').collect();
    if t_lines.len() != r_lines.len() {
        return 0;
    }
    let (mut r_start, mut t_start) = (0, 0);
    for (t_line, r_line) in t_lines.iter().zip(&r_lines) {
        if offset <= r_start + r_line.len() {
            return t_start + map_line(t_line, r_line, offset - r_start);
        }
        r_start += r_line.len() + 1;
        t_start += t_line.len() + 1;
    }
    0
}

fn map_line(template: &str, rendered: &str, column: usize) -> usize {
    let mut t = 0;
    let mut r = 0;
    while t < template.len() {
        let literal_end = ["{{", "{%", "{#"]
            .iter()
            .filter_map(|open| template[t..].find(open).map(|i| t + i))
            .min()
            .unwrap_or(template.len());
        let literal = &template[t..literal_end];
        if column < r + literal.len() {
            return t + (column - r);
        }
        r += literal.len();
        t = literal_end;
        if t >= template.len() {
            break;
        }
        let close = match &template[t..t + 2] {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let expr_end = template[t..]
            .find(close)
            .map_or(template.len(), |i| t + i + 2);
        let next_literal_end = ["{{", "{%", "{#"]
            .iter()
            .filter_map(|open| template[expr_end..].find(open).map(|i| expr_end + i))
            .min()
            .unwrap_or(template.len());
        let next_literal = &template[expr_end..next_literal_end];
        let output_end = if next_literal.is_empty() {
            rendered.len()
        } else {
            rendered[r.min(rendered.len())..]
                .find(next_literal)
                .map_or(rendered.len(), |i| r + i)
        };
        if column < output_end {
            return t;
        }
        r = output_end;
        t = expr_end;
    }
    template.len().min(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{parse_timestamp, Schedule};

    fn renderer() -> Renderer {
        let mut vars = BTreeMap::new();
        vars.insert("min_events".to_string(), Value::from(5));
        Renderer::new(vars, SqlDialect::DuckDb)
    }

    fn day_context() -> RenderContext<'static> {
        let day = Schedule::Daily.interval_at(parse_timestamp("2024-01-02").unwrap());
        RenderContext {
            input: day,
            interval: day,
            this: "core.t",
            env: "prod",
            is_first_build: false,
            rows: None,
        }
    }

    #[test]
    fn renders_time_literals_and_vars() {
        let sql = renderer()
            .render("WHERE ts >= {{ start }} AND ts < {{end}} AND n > {{ var('min_events') }} -- {{ this }}", &day_context())
            .unwrap();
        assert_eq!(
            sql,
            "WHERE ts >= TIMESTAMP '2024-01-02 00:00:00' AND ts < TIMESTAMP '2024-01-03 00:00:00' AND n > 5 -- core.t"
        );
    }

    #[test]
    fn text_without_tags_renders_as_minijinja_renders_it() {
        let r = renderer();
        for text in [
            "",
            "SELECT 1",
            "SELECT 1\n",
            "SELECT 1\n\n",
            "SELECT 1\r\n",
            "SELECT '{' || '}' AS braces, '}}' AS close, '%}' AS tag\n",
            "SELECT map {'a': 1} AS m, { 'b': 2 } AS n\n",
            "  -- a comment with { and } and {}\n  SELECT x FROM t\n",
        ] {
            assert!(!has_template_syntax(text), "{text:?}");
            let compiled = r.env.render_str(text, minijinja::context! {}).unwrap();
            assert_eq!(
                r.render(text, &day_context()).unwrap(),
                compiled,
                "{text:?}"
            );
        }
        for text in [
            "{{ this }}",
            "a {% if true %}b{% endif %}",
            "{# c #}",
            "x{{",
        ] {
            assert!(has_template_syntax(text), "{text:?}");
        }
    }

    #[test]
    fn literals_are_spelled_as_strftime_spells_them() {
        for text in [
            "2024-01-02T03:04:05Z",
            "1999-12-31T23:59:59Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            let t = parse_timestamp(text).unwrap();
            let day = t.format("%Y-%m-%d");
            let time = t.format("%H:%M:%S");
            assert_eq!(
                timestamp_literal(t, SqlDialect::DuckDb),
                format!("TIMESTAMP '{day} {time}'")
            );
            assert_eq!(date_literal(t), format!("DATE '{day}'"));
        }
    }

    #[test]
    fn undefined_names_are_errors_with_a_line() {
        let err = renderer()
            .render("SELECT 1\nWHERE x > {{ nope }}", &day_context())
            .unwrap_err();
        assert!(err.message.contains("undefined"), "{}", err.message);
        assert_eq!(err.line, Some(2));
        let err = renderer()
            .render("SELECT {{ var('missing') }}", &day_context())
            .unwrap_err();
        assert!(err.message.contains("vars:"), "{}", err.message);
    }

    #[test]
    fn rendered_offsets_map_back_to_the_template() {
        let template = "SELECT a\nFROM t WHERE ts >= {{ start }} AND oops";
        let rendered = renderer().render(template, &day_context()).unwrap();
        let at = rendered.find("oops").unwrap();
        assert_eq!(
            map_to_template(template, &rendered, at),
            template.find("oops").unwrap()
        );
        let inside = rendered.find("2024").unwrap();
        assert_eq!(
            map_to_template(template, &rendered, inside),
            template.find("{{").unwrap()
        );
    }
}
