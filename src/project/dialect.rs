//! SQL dialects of the definitions, and the parser dialect each one uses.
//!
//! BigQuery is parsed with sqlparser's `BigQueryDialect` plus what real BigQuery
//! projects write and sqlparser 0.63 does not accept on its own: typed array
//! literals (`ARRAY<STRUCT<k STRING, v INT64>>[...]`, nested, multi-line,
//! empty), bit shifts (`1 << 0`, `x >> n`) and adjacent string literals
//! (`"/a" "/b"`). The additions sit in [`BigQuery`], a wrapper that answers to
//! sqlparser as the BigQuery dialect (`dialect()` returns its type id, which is
//! how sqlparser supports wrapped dialects), so every BigQuery rule of the parser
//! still applies.

use std::any::TypeId;
use std::borrow::Cow;
use std::fmt;

use sqlparser::ast::{CastKind, Expr, ObjectName, Statement, Value};
use sqlparser::dialect::{
    BigQueryDialect, Dialect, DuckDbDialect, GenericDialect, PostgreSqlDialect,
};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

/// SQL dialect of the definitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SqlDialect {
    #[default]
    DuckDb,
    BigQuery,
    Postgres,
    Generic,
}

impl SqlDialect {
    /// Parses a dialect name as written in `derived.yml` (case-insensitive).
    pub fn parse_name(s: &str) -> Option<SqlDialect> {
        match s.trim().to_ascii_lowercase().as_str() {
            "duckdb" => Some(SqlDialect::DuckDb),
            "bigquery" => Some(SqlDialect::BigQuery),
            "postgres" | "postgresql" => Some(SqlDialect::Postgres),
            "generic" => Some(SqlDialect::Generic),
            _ => None,
        }
    }

    /// The canonical name, as accepted by [`SqlDialect::parse_name`].
    pub fn name(self) -> &'static str {
        match self {
            SqlDialect::DuckDb => "duckdb",
            SqlDialect::BigQuery => "bigquery",
            SqlDialect::Postgres => "postgres",
            SqlDialect::Generic => "generic",
        }
    }

    pub fn parser_dialect(self) -> Box<dyn Dialect> {
        match self {
            SqlDialect::DuckDb => Box::new(DuckDbDialect {}),
            SqlDialect::BigQuery => Box::new(BigQuery),
            SqlDialect::Postgres => Box::new(PostgreSqlDialect {}),
            SqlDialect::Generic => Box::new(GenericDialect {}),
        }
    }

    /// The engine's name, for messages.
    pub fn display_name(self) -> &'static str {
        match self {
            SqlDialect::DuckDb => "DuckDB",
            SqlDialect::BigQuery => "BigQuery",
            SqlDialect::Postgres => "PostgreSQL",
            SqlDialect::Generic => "this dialect",
        }
    }

    /// Parses `sql` with this dialect's parser; positions in the result are
    /// positions in `sql`.
    pub fn parse(self, sql: &str) -> Result<Vec<Statement>, ParserError> {
        match self {
            SqlDialect::BigQuery => Parser::parse_sql(&BigQuery, &shield_raw_string_quotes(sql)),
            other => Parser::parse_sql(&*other.parser_dialect(), sql),
        }
    }

    /// PostgreSQL folds unquoted names to lower case (so does the generic
    /// dialect, as the SQL standard folds them one way).
    pub(crate) fn folds_unquoted_names(self) -> bool {
        matches!(self, SqlDialect::Postgres | SqlDialect::Generic)
    }

    /// Whether names that differ only in case are different tables (SPEC §10.1).
    pub fn names_are_case_sensitive(self) -> bool {
        self == SqlDialect::BigQuery
    }

    /// What a definition's name is matched by. BigQuery: the exact spelling.
    /// DuckDB: any case. PostgreSQL: the name written in YAML is an unquoted
    /// name, so it folds to lower case.
    pub fn definition_key(self, name: &str) -> Cow<'_, str> {
        match self {
            SqlDialect::BigQuery => Cow::Borrowed(name),
            _ => lowercase(name),
        }
    }

    /// What a reference normalized by the extractor is matched by: a quoted
    /// PostgreSQL name keeps its case (already folded when unquoted), so
    /// `"Core"."T"` does not reach `core.t`, exactly as in the engine.
    pub fn reference_key(self, name: &str) -> Cow<'_, str> {
        match self {
            SqlDialect::BigQuery | SqlDialect::Postgres | SqlDialect::Generic => {
                Cow::Borrowed(name)
            }
            SqlDialect::DuckDb => lowercase(name),
        }
    }

    /// BigQuery resolves `FROM t, t.arr` to the array column of range variable `t`.
    pub(crate) fn has_correlated_paths(self) -> bool {
        self == SqlDialect::BigQuery
    }
}

fn lowercase(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) || !name.is_ascii() {
        Cow::Owned(name.to_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

impl fmt::Display for SqlDialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// sqlparser's BigQuery dialect plus typed array literals, bit shifts and
/// adjacent string literals. Every other method keeps the trait's default,
/// exactly as `BigQueryDialect` does; the ones `BigQueryDialect` overrides are
/// delegated to it.
#[derive(Debug, Default, Clone, Copy)]
pub struct BigQuery;

const INNER: BigQueryDialect = BigQueryDialect;

impl Dialect for BigQuery {
    fn dialect(&self) -> TypeId {
        TypeId::of::<BigQueryDialect>()
    }

    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        let next = &parser.peek_token_ref().token;
        let after = &parser.peek_nth_token_ref(1).token;
        if matches!(next, Token::Word(w) if w.keyword == Keyword::ARRAY) && *after == Token::Lt {
            return Some(typed_array_literal(parser));
        }
        if string_text(next).is_some() && string_text(after).is_some() {
            return Some(Ok(adjacent_strings(parser)));
        }
        let safe_call = matches!(next, Token::Word(w) if w.value.eq_ignore_ascii_case("safe"))
            && *after == Token::Period
            && matches!(parser.peek_nth_token_ref(2).token, Token::Word(_))
            && parser.peek_nth_token_ref(3).token == Token::LParen;
        safe_call.then(|| safe_function(parser))
    }

    fn supports_bitwise_shift_operators(&self) -> bool {
        true
    }

    fn supports_string_literal_concatenation(&self) -> bool {
        true
    }

    fn parse_statement(&self, parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
        INNER.parse_statement(parser)
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        INNER.is_delimited_identifier_start(ch)
    }

    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        INNER.identifier_quote_style(identifier)
    }

    fn supports_projection_trailing_commas(&self) -> bool {
        INNER.supports_projection_trailing_commas()
    }

    fn supports_column_definition_trailing_commas(&self) -> bool {
        INNER.supports_column_definition_trailing_commas()
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        INNER.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        INNER.is_identifier_part(ch)
    }

    fn supports_triple_quoted_string(&self) -> bool {
        INNER.supports_triple_quoted_string()
    }

    fn supports_window_function_null_treatment_arg(&self) -> bool {
        INNER.supports_window_function_null_treatment_arg()
    }

    fn supports_string_literal_backslash_escape(&self) -> bool {
        INNER.supports_string_literal_backslash_escape()
    }

    fn supports_window_clause_named_window_reference(&self) -> bool {
        INNER.supports_window_clause_named_window_reference()
    }

    fn supports_parenthesized_set_variables(&self) -> bool {
        INNER.supports_parenthesized_set_variables()
    }

    fn supports_select_wildcard_except(&self) -> bool {
        INNER.supports_select_wildcard_except()
    }

    fn require_interval_qualifier(&self) -> bool {
        INNER.require_interval_qualifier()
    }

    fn supports_struct_literal(&self) -> bool {
        INNER.supports_struct_literal()
    }

    fn supports_select_expr_star(&self) -> bool {
        INNER.supports_select_expr_star()
    }

    fn supports_from_first_select(&self) -> bool {
        INNER.supports_from_first_select()
    }

    fn supports_execute_immediate(&self) -> bool {
        INNER.supports_execute_immediate()
    }

    fn supports_table_versioning(&self) -> bool {
        INNER.supports_table_versioning()
    }

    fn supports_group_by_expr(&self) -> bool {
        INNER.supports_group_by_expr()
    }

    fn is_column_alias(&self, keyword: &Keyword, parser: &mut Parser) -> bool {
        INNER.is_column_alias(keyword, parser)
    }

    fn supports_pipe_operator(&self) -> bool {
        INNER.supports_pipe_operator()
    }

    fn supports_create_table_multi_schema_info_sources(&self) -> bool {
        INNER.supports_create_table_multi_schema_info_sources()
    }

    fn supports_select_wildcard_replace(&self) -> bool {
        INNER.supports_select_wildcard_replace()
    }

    fn supports_comma_separated_trim(&self) -> bool {
        INNER.supports_comma_separated_trim()
    }
}

/// The text of a string literal token of any quoting.
fn string_text(token: &Token) -> Option<&str> {
    match token {
        Token::SingleQuotedString(s)
        | Token::DoubleQuotedString(s)
        | Token::TripleSingleQuotedString(s)
        | Token::TripleDoubleQuotedString(s)
        | Token::SingleQuotedRawStringLiteral(s)
        | Token::DoubleQuotedRawStringLiteral(s)
        | Token::TripleSingleQuotedRawStringLiteral(s)
        | Token::TripleDoubleQuotedRawStringLiteral(s) => Some(s),
        _ => None,
    }
}

/// `'a' r"b" '''c'''`: adjacent literals of any quoting are one string.
fn adjacent_strings(parser: &mut Parser) -> Expr {
    let first = parser.peek_token_ref().span;
    let mut text = String::new();
    let mut last = first;
    while let Some(part) = string_text(&parser.peek_token_ref().token) {
        text.push_str(part);
        last = parser.peek_token_ref().span;
        parser.advance_token();
    }
    Expr::Value(Value::SingleQuotedString(text).with_span(first.union(&last)))
}

/// `SAFE.SUBSTR(...)`: BigQuery's error-to-NULL prefix also applies to the
/// functions sqlparser parses as keywords.
fn safe_function(parser: &mut Parser) -> Result<Expr, ParserError> {
    let safe = parser.parse_identifier()?;
    parser.expect_token(&Token::Period)?;
    let function = parser.parse_identifier()?;
    parser.parse_function(ObjectName::from(vec![safe, function]))
}

/// BigQuery's lexer lets a backslash keep the quote after it inside a raw
/// string (`r"a\"b"` is `a\"b`); sqlparser 0.63 ends the string there. Before
/// parsing, such a quote is replaced by a byte that cannot end it, which
/// keeps every position where it was.
pub(crate) fn shield_raw_string_quotes(sql: &str) -> Cow<'_, str> {
    if !sql.contains('\\') {
        return Cow::Borrowed(sql);
    }
    let bytes = sql.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'-') => i = line_end(bytes, i),
            b'#' => i = line_end(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = find(bytes, i + 2, b"*/").map_or(bytes.len(), |e| e + 2);
            }
            quote @ (b'\'' | b'"' | b'`') => {
                let raw = quote != b'`' && is_raw_prefix(bytes, i);
                let triple = quote != b'`' && bytes[i..].starts_with(&[quote; 3]);
                let width = if triple { 3 } else { 1 };
                let mut j = i + width;
                while j < bytes.len() {
                    if bytes[j] == b'\\' && j + 1 < bytes.len() {
                        if raw && bytes[j + 1] == quote {
                            out.get_or_insert_with(|| bytes.to_vec())[j + 1] = 0x01;
                        }
                        j += 2;
                    } else if bytes[j..].starts_with(&[quote; 3][..width]) {
                        j += width;
                        break;
                    } else {
                        j += 1;
                    }
                }
                i = j;
            }
            _ => i += 1,
        }
    }
    match out {
        Some(bytes) => Cow::Owned(String::from_utf8(bytes).expect("only ASCII bytes replaced")),
        None => Cow::Borrowed(sql),
    }
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    find(bytes, from, b"\n").unwrap_or(bytes.len())
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// `r'`, `R"`, `br'`, `rb"`: the letters before a quote make it raw.
fn is_raw_prefix(bytes: &[u8], quote: usize) -> bool {
    let word_start = bytes[..quote]
        .iter()
        .rposition(|b| !b.is_ascii_alphanumeric() && *b != b'_')
        .map_or(0, |p| p + 1);
    let prefix = &bytes[word_start..quote];
    !prefix.is_empty()
        && prefix.len() <= 2
        && prefix.iter().any(|b| b.eq_ignore_ascii_case(&b'r'))
        && prefix
            .iter()
            .all(|b| b.eq_ignore_ascii_case(&b'r') || b.eq_ignore_ascii_case(&b'b'))
}

/// `ARRAY<T>[e1, e2, ...]`: the elements coerced to `T`, which is what
/// `CAST([...] AS ARRAY<T>)` means, so that is the expression it becomes.
fn typed_array_literal(parser: &mut Parser) -> Result<Expr, ParserError> {
    let data_type = parser.parse_data_type()?;
    parser.expect_token(&Token::LBracket)?;
    let elements = parser.parse_array_expr(false)?;
    Ok(Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(elements),
        data_type,
        format: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(sql: &str) -> String {
        let statements = Parser::parse_sql(&BigQuery, sql)
            .unwrap_or_else(|e| panic!("{sql}\ndoes not parse: {e}"));
        assert_eq!(statements.len(), 1);
        statements[0].to_string()
    }

    #[test]
    fn wrapper_still_answers_as_bigquery() {
        let dialect: &dyn Dialect = &BigQuery;
        assert!(dialect.is::<BigQueryDialect>());
        parses("SELECT * EXCEPT (a) REPLACE (b + 1 AS b) FROM `my-project.raw.t`");
        parses("SELECT 1 FROM my-project.raw.t QUALIFY ROW_NUMBER() OVER (PARTITION BY a) = 1");
    }

    #[test]
    fn typed_array_literals_parse() {
        let printed = parses(
            "SELECT ARRAY<STRUCT<metric STRING, value ARRAY<STRUCT<key STRING, value INT64>>>>[('a', [('k', 1)])] AS m",
        );
        assert!(
            printed.contains("AS ARRAY<STRUCT<metric STRING"),
            "{printed}"
        );
        parses(
            "SELECT ARRAY<STRUCT<key STRING, value FLOAT64>>[('0.1', f(x)), ('0.5', g(x))] FROM t",
        );
        parses("SELECT ARRAY<\n  STRUCT<a INT64, b STRING>\n>[] AS empty");
        parses("SELECT ARRAY<INT64>[1, 2, 3][OFFSET(1)] AS second");
        parses("SELECT x IN UNNEST(ARRAY<STRING>['a', 'b']) FROM t");
    }

    #[test]
    fn bit_shifts_parse() {
        parses("SELECT 1 << 0 AS flag, x >> (8 - n) AS high, x & 1 | y ^ z FROM t");
        parses("SELECT CAST(NULL AS ARRAY<STRUCT<a ARRAY<INT64>>>) AS nested");
    }

    #[test]
    fn safe_prefixed_keyword_functions_parse() {
        parses("SELECT SAFE.SUBSTR(sku, 1, 12), SAFE.PARSE_DATE('%Y%m%d', d) FROM t");
    }

    #[test]
    fn adjacent_raw_and_triple_quoted_literals_parse_as_one() {
        parses("SELECT REGEXP_CONTAINS(ua, r'bot|crawler|'\n  r'spider') FROM t");
        parses("SELECT CONCAT('a', '''b''' \"c\") FROM t");
    }

    #[test]
    fn a_backslash_keeps_the_quote_inside_a_raw_string() {
        let sql = r#"SELECT REGEXP_EXTRACT(m, r"""path="([^"]+)\"""") AS p, r'a\'b' AS q FROM t"#;
        let shielded = shield_raw_string_quotes(sql);
        assert_eq!(shielded.len(), sql.len());
        parses(&shielded);
        let plain = r#"SELECT 'it\'s', "a\"b" FROM t"#;
        assert_eq!(
            shield_raw_string_quotes(plain),
            plain,
            "escapes outside raw strings stay"
        );
    }

    #[test]
    fn adjacent_string_literals_parse_as_one() {
        let printed = parses(r#"SELECT CONCAT(path, "/a" "/b") FROM t"#);
        assert!(printed.contains("'/a/b'"), "{printed}");
    }
}
