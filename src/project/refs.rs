//! Table references in a definition's SQL: the edges of the DAG.
//!
//! Derived infers what a table depends on from the relation names its rendered
//! query reads (SPEC §3): `FROM`/`JOIN`, subqueries, CTE bodies, set operations,
//! `IN`/`EXISTS`/scalar subqueries, lateral joins — minus CTE names in scope,
//! table functions (`read_parquet('x')`, `range(10)`, `UNNEST(...)`,
//! `EXTERNAL_QUERY(...)`) and BigQuery correlated paths (`FROM t, t.arr`).
//!
//! The query is parsed with sqlparser in the project's dialect and walked with a
//! [`Visitor`] that keeps a CTE scope stack. Warehouses accept more SQL than
//! sqlparser does, so a statement sqlparser rejects is not an error by itself:
//! a token-level check separates *definite* syntax errors (unterminated literal
//! or comment, unbalanced brackets, not a query, several statements) from
//! *unsupported constructs*, whose references come from a token scan and carry
//! a [`FallbackWarning`]. Either way a failed parse is never silent.
//!
//! Names come back normalized (quotes removed, unquoted parts lowercased,
//! `default_project.` stripped from three-part names) and unvalidated: the
//! caller decides whether `events` or `dataset.INFORMATION_SCHEMA.TABLES`
//! (see [`Reference::is_information_schema`]) is acceptable.
//!
//! The [`Extraction::normalized`] text is a fingerprint: whitespace, comments and
//! the case of keywords and unquoted identifiers never change it.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::{ControlFlow, Range};

use sqlparser::ast::{
    Ident, ObjectName, Query, Select, Spanned, Statement, TableFactor, TableWithJoins, Visit,
    VisitMut, Visitor, VisitorMut,
};

pub use super::dialect::SqlDialect;
use crate::project::columns::{query_lineage, ColumnLineage};

/// One table reference found in the SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// Normalized name: parts joined with '.', quotes/backticks removed, unquoted
    /// parts lowercased where the dialect folds them (PostgreSQL), else as written.
    /// A three-part name whose first part equals `default_project` (case-insensitive) is reduced to two parts.
    pub name: String,
    /// Byte range of the reference in the SQL text (best effort; empty range at 0 if unknown).
    pub span: Range<usize>,
}

impl Reference {
    /// A BigQuery metadata view such as `dataset.information_schema.tables` or
    /// `region-us.information_schema.jobs`: it is no table of the project, so
    /// callers must not report it as an unknown dependency.
    pub fn is_information_schema(&self) -> bool {
        is_information_schema(&self.name)
    }

    /// A BigQuery wildcard table such as `dataset.events_*`.
    pub fn is_wildcard(&self) -> bool {
        self.name.ends_with('*')
    }
}

/// Whether a normalized relation name is a metadata view (see
/// [`Reference::is_information_schema`]).
pub fn is_information_schema(name: &str) -> bool {
    name.split('.')
        .any(|part| part.eq_ignore_ascii_case("information_schema"))
}

/// What [`extract_references`] found in one query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extraction {
    /// Every distinct referenced relation, in order of first appearance (deduplicated by name, first span kept).
    pub references: Vec<Reference>,
    /// The query re-printed from the AST (sqlparser Display) — or, after a fallback, the token stream
    /// with comments removed, whitespace collapsed to single spaces and unquoted keywords/identifiers lowercased.
    /// Used as a fingerprint: whitespace, comments and keyword case must not change it.
    pub normalized: String,
    /// Some(message) when sqlparser could not parse the statement and the token-level fallback scan produced
    /// `references`; the message says so and includes sqlparser's error.
    pub fallback_warning: Option<FallbackWarning>,
}

/// sqlparser could not parse the query; its references come from a token scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FallbackWarning {
    pub message: String,
    /// Who found the references instead of sqlparser.
    pub found_by: FoundBy,
    /// What sqlparser said.
    pub parser_message: String,
    /// Byte offset of the construct sqlparser stopped at (0 when it did not say).
    pub offset: usize,
}

/// What found a statement's references when sqlparser could not parse it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoundBy {
    /// The last resort: a scan of the tokens.
    TokenScan,
    /// The warehouse's own parser (DuckDB).
    Warehouse,
}

impl fmt::Display for FallbackWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A definite syntax error: message plus byte offset into the SQL text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlSyntaxError {
    pub message: String,
    pub offset: usize,
}

impl fmt::Display for SqlSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SqlSyntaxError {}

/// Finds the relations that `sql` (one query, optionally ending with `;`) reads.
pub fn extract_references(
    sql: &str,
    dialect: SqlDialect,
    default_project: Option<&str>,
) -> Result<Extraction, SqlSyntaxError> {
    extract_with_lineage(sql, dialect, default_project, None).map(|(x, _)| x)
}

/// What `columns_of` says about a table's columns (see [`column_lineage`]).
pub type ColumnsOf<'a> = &'a (dyn Fn(&str) -> Option<Vec<String>> + Sync);

/// [`extract_references`] and, with `columns_of`, the query's column lineage
/// from the same parse (None when sqlparser cannot parse the query).
pub fn extract_with_lineage(
    sql: &str,
    dialect: SqlDialect,
    default_project: Option<&str>,
    columns_of: Option<ColumnsOf>,
) -> Result<(Extraction, Option<ColumnLineage>), SqlSyntaxError> {
    match dialect.parse(sql) {
        Ok(statements) => from_statements(sql, statements, dialect, default_project, columns_of),
        Err(error) => {
            after_parse_error(sql, &error.to_string(), dialect, default_project).map(|x| (x, None))
        }
    }
}

/// One place a query reads a relation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    /// Normalized as [`Reference::name`].
    pub name: String,
    pub span: Range<usize>,
    /// The FROM item names an alias of its own.
    pub aliased: bool,
}

impl From<Occurrence> for Reference {
    fn from(o: Occurrence) -> Reference {
        Reference {
            name: o.name,
            span: o.span,
        }
    }
}

/// Every place `sql` reads a relation, in text order, CTEs left out: what a
/// unit test replaces with its fixture rows. A query sqlparser cannot parse
/// is read by the token scan.
pub fn occurrences(
    sql: &str,
    dialect: SqlDialect,
    default_project: Option<&str>,
) -> Result<Vec<Occurrence>, SqlSyntaxError> {
    let mut found = match dialect.parse(sql) {
        Ok(statements) => {
            let (_, query) = single_query(sql, &statements)?;
            let mut collector = Collector::new(sql, dialect, default_project, query);
            let _ = query.visit(&mut collector);
            collector.found
        }
        Err(error) => {
            let tokens = tokens_after_parse_error(sql, &error.to_string(), dialect)?;
            scan_occurrences(&tokens, dialect, default_project)
        }
    };
    found.sort_by_key(|o| o.span.start);
    Ok(found)
}

/// Convert 1-based line/column (as in sqlparser spans / error messages) to a byte offset in `text`.
///
/// Columns count characters, as sqlparser does. Line 0 (sqlparser's "unknown")
/// gives 0; a position past the end gives `text.len()`.
pub fn offset_of(text: &str, line: u64, column: u64) -> usize {
    if line == 0 {
        return 0;
    }
    let mut line_start = 0;
    for _ in 1..line {
        match text[line_start..].find('\n') {
            Some(newline) => line_start += newline + 1,
            None => return text.len(),
        }
    }
    let skip = usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX);
    text[line_start..]
        .char_indices()
        .nth(skip)
        .map_or(text.len(), |(offset, _)| line_start + offset)
}

// ---------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------

/// One part of a dotted name as written: its text without quotes, and the quote used.
#[derive(Clone, Debug)]
struct NamePart {
    text: String,
    quote: Option<char>,
}

impl NamePart {
    fn from_ident(ident: &Ident) -> NamePart {
        NamePart {
            text: ident.value.clone(),
            quote: ident.quote_style,
        }
    }

    /// The part as compared with CTE names and aliases, which SQL matches case-insensitively.
    fn key(&self) -> String {
        self.text.to_lowercase()
    }

    /// The part as the dialect resolves it: PostgreSQL (and the generic
    /// dialect) fold unquoted names to lower case; BigQuery names are
    /// case-sensitive and DuckDB keeps the spelling (it matches names
    /// case-insensitively, see [`SqlDialect::reference_key`]).
    fn normalized(&self, dialect: SqlDialect) -> String {
        match self.quote {
            None if dialect.folds_unquoted_names() => self.text.to_lowercase(),
            _ => self.text.clone(),
        }
    }
}

/// Joins the parts of a relation name, splitting BigQuery's `` `proj.raw.events` ``
/// and dropping the warehouse's default project from `proj.dataset.table`.
fn normalize_name(
    parts: &[NamePart],
    dialect: SqlDialect,
    default_project: Option<&str>,
) -> String {
    let mut names: Vec<String> = parts
        .iter()
        .flat_map(|part| match part.quote {
            Some('`') => part.text.split('.').map(str::to_string).collect(),
            _ => vec![part.normalized(dialect)],
        })
        .collect();
    let is_default_project =
        |first: &String| default_project.is_some_and(|p| first.eq_ignore_ascii_case(p));
    if names.len() >= 3 && is_default_project(&names[0]) {
        names.remove(0);
    }
    names.join(".")
}

/// Keeps the first reference of each name, in text order.
fn dedup_in_text_order(mut found: Vec<Reference>) -> Vec<Reference> {
    found.sort_by_key(|reference| reference.span.start);
    let mut seen = HashSet::new();
    found.retain(|reference| seen.insert(reference.name.clone()));
    found
}

// ---------------------------------------------------------------------------
// The AST path
// ---------------------------------------------------------------------------

fn from_statements(
    sql: &str,
    mut statements: Vec<Statement>,
    dialect: SqlDialect,
    default_project: Option<&str>,
    columns_of: Option<ColumnsOf>,
) -> Result<(Extraction, Option<ColumnLineage>), SqlSyntaxError> {
    let (_, query) = single_query(sql, &statements)?;
    let mut collector = Collector::new(sql, dialect, default_project, query);
    let _ = query.visit(&mut collector);
    let references =
        dedup_in_text_order(collector.found.into_iter().map(Reference::from).collect());
    let lineage =
        columns_of.map(|columns_of| query_lineage(query, dialect, default_project, columns_of));
    let extraction = Extraction {
        references,
        normalized: normalize_statement(&mut statements[0]),
        fallback_warning: None,
    };
    Ok((extraction, lineage))
}

/// The one query statement of the text, or the syntax error that says why there is none.
fn single_query<'s>(
    sql: &str,
    statements: &'s [Statement],
) -> Result<(&'s Statement, &'s Query), SqlSyntaxError> {
    match statements {
        [] => Err(SqlSyntaxError {
            message: "the SQL is empty: expected one query".to_string(),
            offset: 0,
        }),
        [statement @ Statement::Query(query)] => Ok((statement, query)),
        [statement] => Err(SqlSyntaxError {
            message: format!(
                "expected a query (SELECT, WITH, FROM or VALUES), found `{}`",
                first_word(&statement.to_string())
            ),
            offset: span_start(sql, statement),
        }),
        [_, second, ..] => Err(SqlSyntaxError {
            message: format!(
                "expected one query, found {} statements; remove all but one",
                statements.len()
            ),
            offset: span_start(sql, second),
        }),
    }
}

fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or_default()
}

fn span_start(sql: &str, node: &impl Spanned) -> usize {
    let start = node.span().start;
    offset_of(sql, start.line, start.column)
}

/// sqlparser's Display, with unquoted identifiers lowercased so that their case,
/// like keyword case, whitespace and comments, does not change the fingerprint.
fn normalize_statement(statement: &mut Statement) -> String {
    struct LowercaseIdents;
    impl VisitorMut for LowercaseIdents {
        type Break = ();
        fn pre_visit_ident(&mut self, ident: &mut Ident) -> ControlFlow<()> {
            if ident.quote_style.is_none() {
                ident.value = ident.value.to_lowercase();
            }
            ControlFlow::Continue(())
        }
    }
    let _ = VisitMut::visit(statement, &mut LowercaseIdents);
    statement.to_string()
}

/// CTE names are compared case-insensitively, like unquoted identifiers.
type CteNames = HashSet<String>;

/// Walks one query, collecting relations read in FROM position.
struct Collector<'a> {
    sql: &'a str,
    default_project: Option<&'a str>,
    dialect: SqlDialect,
    /// The CTE names visible in each query being visited, innermost last.
    cte_scopes: Vec<CteNames>,
    /// What a CTE body sees is decided by its WITH clause (earlier siblings, or
    /// all of them when RECURSIVE), not by the query around it.
    cte_body_scopes: HashMap<*const Query, CteNames>,
    /// Range variables of each SELECT being visited, with the FROM item naming them.
    from_aliases: Vec<Vec<(String, *const TableFactor)>>,
    /// Where a reference with an unknown span points: the start of the query.
    unknown_span: Range<usize>,
    found: Vec<Occurrence>,
}

impl<'a> Collector<'a> {
    fn new(
        sql: &'a str,
        dialect: SqlDialect,
        default_project: Option<&'a str>,
        query: &Query,
    ) -> Collector<'a> {
        let start = span_start(sql, query);
        Collector {
            sql,
            default_project,
            dialect,
            cte_scopes: Vec::new(),
            cte_body_scopes: HashMap::new(),
            from_aliases: Vec::new(),
            unknown_span: start..start,
            found: Vec::new(),
        }
    }

    fn register_cte_bodies(&mut self, query: &Query, outer: &CteNames) {
        let Some(with) = &query.with else { return };
        let names: Vec<String> = with
            .cte_tables
            .iter()
            .map(|cte| cte.alias.name.value.to_lowercase())
            .collect();
        for (index, cte) in with.cte_tables.iter().enumerate() {
            let visible = if with.recursive {
                &names[..]
            } else {
                &names[..index]
            };
            let mut scope = outer.clone();
            scope.extend(visible.iter().cloned());
            self.cte_body_scopes
                .insert(std::ptr::from_ref(cte.query.as_ref()), scope);
        }
    }

    fn consider(&mut self, name: &ObjectName, factor: &TableFactor) {
        let Some(parts) = name
            .0
            .iter()
            .map(|part| part.as_ident().map(NamePart::from_ident))
            .collect::<Option<Vec<_>>>()
        else {
            return;
        };
        if self.is_not_a_table(&parts, factor) {
            return;
        }
        self.found.push(Occurrence {
            name: normalize_name(&parts, self.dialect, self.default_project),
            span: self.span_of(name),
            aliased: matches!(factor, TableFactor::Table { alias: Some(_), .. }),
        });
    }

    fn is_not_a_table(&self, parts: &[NamePart], factor: &TableFactor) -> bool {
        match parts {
            // DuckDB reads `FROM 'data/file.parquet'` directly.
            [file] if file.quote == Some('\'') => true,
            [single] => self
                .cte_scopes
                .last()
                .is_some_and(|ctes| ctes.contains(&single.key())),
            [first, ..] => {
                self.dialect.has_correlated_paths() && self.is_range_variable(&first.key(), factor)
            }
            [] => true,
        }
    }

    /// Whether `name` is the alias of another FROM item of this or an enclosing SELECT.
    fn is_range_variable(&self, name: &str, factor: &TableFactor) -> bool {
        let factor = std::ptr::from_ref(factor);
        self.from_aliases
            .iter()
            .flatten()
            .any(|(alias, owner)| alias == name && *owner != factor)
    }

    fn span_of(&self, name: &ObjectName) -> Range<usize> {
        let span = name.span();
        if span.start.line == 0 {
            return self.unknown_span.clone();
        }
        offset_of(self.sql, span.start.line, span.start.column)
            ..offset_of(self.sql, span.end.line, span.end.column)
    }
}

impl Visitor for Collector<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let outer = self
            .cte_body_scopes
            .remove(&std::ptr::from_ref(query))
            .unwrap_or_else(|| self.cte_scopes.last().cloned().unwrap_or_default());
        self.register_cte_bodies(query, &outer);
        let mut visible = outer;
        if let Some(with) = &query.with {
            visible.extend(
                with.cte_tables
                    .iter()
                    .map(|cte| cte.alias.name.value.to_lowercase()),
            );
        }
        self.cte_scopes.push(visible);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.cte_scopes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        let mut aliases = Vec::new();
        for table in &select.from {
            collect_aliases(table, &mut aliases);
        }
        self.from_aliases.push(aliases);
        ControlFlow::Continue(())
    }

    fn post_visit_select(&mut self, _select: &Select) -> ControlFlow<()> {
        self.from_aliases.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        // With `args` the name is a table function: read_parquet('x'), range(10), UNNEST(l).
        if let TableFactor::Table {
            name, args: None, ..
        } = factor
        {
            self.consider(name, factor);
        }
        ControlFlow::Continue(())
    }
}

/// The range variables a FROM item introduces: its alias, or a table's last name part.
fn collect_aliases(table: &TableWithJoins, out: &mut Vec<(String, *const TableFactor)>) {
    let factors = std::iter::once(&table.relation).chain(table.joins.iter().map(|j| &j.relation));
    for factor in factors {
        if let TableFactor::NestedJoin {
            table_with_joins, ..
        } = factor
        {
            collect_aliases(table_with_joins, out);
        }
        if let Some(alias) = alias_of(factor) {
            out.push((alias.to_lowercase(), std::ptr::from_ref(factor)));
        }
    }
}

fn alias_of(factor: &TableFactor) -> Option<&str> {
    match factor {
        TableFactor::Table {
            alias: None, name, ..
        } => name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .map(|i| i.value.as_str()),
        TableFactor::Table { alias, .. }
        | TableFactor::Derived { alias, .. }
        | TableFactor::TableFunction { alias, .. }
        | TableFactor::Function { alias, .. }
        | TableFactor::UNNEST { alias, .. }
        | TableFactor::NestedJoin { alias, .. }
        | TableFactor::Pivot { alias, .. }
        | TableFactor::Unpivot { alias, .. } => alias.as_ref().map(|a| a.name.value.as_str()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// After sqlparser failed: definite error or token-scan fallback
// ---------------------------------------------------------------------------

fn after_parse_error(
    sql: &str,
    parser_message: &str,
    dialect: SqlDialect,
    default_project: Option<&str>,
) -> Result<Extraction, SqlSyntaxError> {
    let tokens = tokens_after_parse_error(sql, parser_message, dialect)?;
    let parser_message = without_prefix(parser_message);
    let parser_offset = parser_error_offset(sql, parser_message);
    let references = scan_references(&tokens, dialect, default_project);
    let outcome = if references.is_empty() {
        "a token scan found no table reference"
    } else {
        "dependencies were found by a token scan"
    };
    Ok(Extraction {
        references,
        normalized: normalize_tokens(&tokens),
        fallback_warning: Some(FallbackWarning {
            message: format!(
                "sqlparser could not parse this statement ({parser_message}); {outcome}"
            ),
            found_by: FoundBy::TokenScan,
            parser_message: parser_message.to_string(),
            offset: parser_offset.unwrap_or(0),
        }),
    })
}

/// The tokens of a query sqlparser rejected, unless the text is definitely
/// wrong (a bad token, an unbalanced bracket): then the syntax error.
fn tokens_after_parse_error<'s>(
    sql: &'s str,
    parser_message: &str,
    dialect: SqlDialect,
) -> Result<Vec<Token<'s>>, SqlSyntaxError> {
    let parser_message = without_prefix(parser_message);
    let parser_offset = parser_error_offset(sql, parser_message);
    let definite = |problem: Problem| SqlSyntaxError {
        message: format!("{} (sqlparser: {parser_message})", problem.message),
        offset: error_offset(&problem, parser_offset),
    };
    let tokens = lex(sql, dialect).map_err(definite)?;
    if let Some(problem) = structural_problem(&tokens) {
        return Err(definite(problem));
    }
    Ok(tokens)
}

fn without_prefix(parser_message: &str) -> &str {
    parser_message
        .strip_prefix("sql parser error: ")
        .unwrap_or(parser_message)
}

/// For a bracket problem, where sqlparser stopped is where the fix goes
/// (`Expected: ), found: ORDER`) unless it stopped before the bracket, tripping
/// over something else. Every other problem is located best by the check itself:
/// sqlparser reports an unterminated comment at the end of the text, and a second
/// statement wherever it first failed.
fn error_offset(problem: &Problem, parser_offset: Option<usize>) -> usize {
    match parser_offset {
        Some(offset) if problem.bracket && offset >= problem.offset => offset,
        _ => problem.offset,
    }
}

/// The position in sqlparser's "... at Line: X, Column: Y" messages.
fn parser_error_offset(sql: &str, message: &str) -> Option<usize> {
    let (_, position) = message.rsplit_once("Line: ")?;
    let (line, column) = position.split_once(", Column: ")?;
    let line: u64 = line.trim().parse().ok()?;
    let column: u64 = column
        .trim()
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    (line > 0).then(|| offset_of(sql, line, column))
}

/// A definite syntax error found without parsing.
#[derive(Debug)]
struct Problem {
    message: String,
    offset: usize,
    /// An unbalanced parenthesis or bracket.
    bracket: bool,
}

impl Problem {
    fn at(message: String, offset: usize) -> Problem {
        Problem {
            message,
            offset,
            bracket: false,
        }
    }

    fn bracket(message: String, offset: usize) -> Problem {
        Problem {
            message,
            offset,
            bracket: true,
        }
    }
}

fn structural_problem(tokens: &[Token<'_>]) -> Option<Problem> {
    query_start_problem(tokens)
        .or_else(|| bracket_problem(tokens))
        .or_else(|| statement_count_problem(tokens))
}

const QUERY_STARTS: &[&str] = &[
    "SELECT", "WITH", "FROM", "VALUES", "TABLE", "PIVOT", "UNPIVOT",
];

fn query_start_problem(tokens: &[Token<'_>]) -> Option<Problem> {
    let Some(first) = tokens.iter().find(|t| !t.is_punct('(')) else {
        return Some(Problem::at(
            "the SQL is empty: expected one query".to_string(),
            0,
        ));
    };
    let is_query = QUERY_STARTS.iter().any(|keyword| first.is_word(keyword));
    (!is_query).then(|| {
        Problem::at(
            format!(
                "expected a query starting with SELECT, WITH, FROM or VALUES, found `{}`",
                first.text
            ),
            first.start,
        )
    })
}

fn bracket_problem(tokens: &[Token<'_>]) -> Option<Problem> {
    let mut open: Vec<&Token<'_>> = Vec::new();
    for token in tokens.iter().filter(|t| t.kind == Kind::Punct) {
        let c = token.punct();
        if closer_of(c).is_some() {
            open.push(token);
        } else if is_closer(c) {
            match open.pop() {
                Some(opener) if closer_of(opener.punct()) == Some(c) => {}
                Some(opener) => {
                    return Some(Problem::bracket(
                        format!("`{c}` does not close `{}`", opener.text),
                        token.start,
                    ))
                }
                None => {
                    return Some(Problem::bracket(
                        format!("`{c}` has no matching opening bracket"),
                        token.start,
                    ))
                }
            }
        }
    }
    open.pop()
        .map(|opener| Problem::bracket(format!("`{}` is never closed", opener.text), opener.start))
}

fn statement_count_problem(tokens: &[Token<'_>]) -> Option<Problem> {
    let mut depth = 0usize;
    let mut after_semicolon = false;
    for token in tokens {
        if token.kind == Kind::Punct && token.punct() == ';' {
            after_semicolon |= depth == 0;
            continue;
        }
        if after_semicolon {
            return Some(Problem::at(
                "expected one query, but a second statement starts here".to_string(),
                token.start,
            ));
        }
        depth = next_depth(depth, token);
    }
    None
}

fn next_depth(depth: usize, token: &Token<'_>) -> usize {
    if token.kind != Kind::Punct {
        depth
    } else if closer_of(token.punct()).is_some() {
        depth + 1
    } else if is_closer(token.punct()) {
        depth.saturating_sub(1)
    } else {
        depth
    }
}

fn closer_of(c: char) -> Option<char> {
    match c {
        '(' => Some(')'),
        '[' => Some(']'),
        '{' => Some('}'),
        _ => None,
    }
}

fn is_closer(c: char) -> bool {
    matches!(c, ')' | ']' | '}')
}

/// The fallback fingerprint: tokens without comments, one space apart, words lowercased.
fn normalize_tokens(tokens: &[Token<'_>]) -> String {
    let end = tokens
        .iter()
        .rposition(|t| !t.is_punct(';'))
        .map_or(0, |last| last + 1);
    tokens[..end]
        .iter()
        .map(|token| match token.kind {
            Kind::Word => token.text.to_lowercase(),
            _ => token.text.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Keyword or unquoted identifier.
    Word,
    /// Quoted identifier: `"x"` (not BigQuery) or `` `x` ``.
    Quoted,
    /// String literal of any form.
    Str,
    Number,
    /// One punctuation character.
    Punct,
}

#[derive(Clone, Copy, Debug)]
struct Token<'s> {
    kind: Kind,
    text: &'s str,
    start: usize,
}

impl Token<'_> {
    fn end(&self) -> usize {
        self.start + self.text.len()
    }

    fn is_word(&self, keyword: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(keyword)
    }

    fn is_punct(&self, c: char) -> bool {
        self.kind == Kind::Punct && self.punct() == c
    }

    fn punct(&self) -> char {
        self.text.chars().next().unwrap_or_default()
    }

    fn is_name(&self) -> bool {
        matches!(self.kind, Kind::Word | Kind::Quoted)
    }
}

fn lex(sql: &str, dialect: SqlDialect) -> Result<Vec<Token<'_>>, Problem> {
    let mut lexer = Lexer {
        sql,
        pos: 0,
        dialect,
    };
    let mut tokens = Vec::new();
    while let Some(token) = lexer.next_token()? {
        tokens.push(token);
    }
    Ok(tokens)
}

struct Lexer<'s> {
    sql: &'s str,
    pos: usize,
    dialect: SqlDialect,
}

impl<'s> Lexer<'s> {
    fn rest(&self) -> &'s str {
        &self.sql[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    fn is_bigquery(&self) -> bool {
        self.dialect == SqlDialect::BigQuery
    }

    fn next_token(&mut self) -> Result<Option<Token<'s>>, Problem> {
        self.skip_trivia()?;
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let kind = match c {
            '\'' => self.string(start, self.is_bigquery())?,
            '"' if self.is_bigquery() => self.string(start, true)?,
            '"' | '`' => self.quoted_identifier(start)?,
            '$' if self.dollar_tag().is_some() => self.dollar_string(start)?,
            c if c.is_ascii_digit() => self.number(),
            c if c.is_alphabetic() || c == '_' => self.word_or_prefixed_string(start)?,
            _ => {
                self.bump();
                Kind::Punct
            }
        };
        Ok(Some(Token {
            kind,
            text: &self.sql[start..self.pos],
            start,
        }))
    }

    fn skip_trivia(&mut self) -> Result<(), Problem> {
        loop {
            let rest = self.rest();
            if rest.starts_with(char::is_whitespace) {
                self.bump();
            } else if rest.starts_with("--") || (self.is_bigquery() && rest.starts_with('#')) {
                self.pos += rest.find('\n').unwrap_or(rest.len());
            } else if rest.starts_with("/*") {
                self.block_comment()?;
            } else {
                return Ok(());
            }
        }
    }

    /// PostgreSQL and DuckDB nest block comments; BigQuery does not.
    fn block_comment(&mut self) -> Result<(), Problem> {
        let start = self.pos;
        let nests = !self.is_bigquery();
        let mut depth = 0usize;
        while !self.rest().is_empty() {
            let rest = self.rest();
            if rest.starts_with("/*") && (nests || depth == 0) {
                depth += 1;
                self.pos += 2;
            } else if rest.starts_with("*/") {
                depth -= 1;
                self.pos += 2;
                if depth == 0 {
                    return Ok(());
                }
            } else {
                self.bump();
            }
        }
        Err(unterminated("block comment", start))
    }

    /// A quoted string starting at the current quote character; BigQuery also
    /// has triple-quoted strings, and `backslash` says whether `\` escapes.
    fn string(&mut self, start: usize, backslash: bool) -> Result<Kind, Problem> {
        let quote = self.peek().unwrap_or('\'');
        let triple: String = std::iter::repeat_n(quote, 3).collect();
        if self.is_bigquery() && self.rest().starts_with(&triple) {
            self.pos += 3;
            return self.until(&triple, backslash, start, "string literal");
        }
        self.bump();
        self.until_quote(quote, backslash, start, "string literal")?;
        Ok(Kind::Str)
    }

    fn quoted_identifier(&mut self, start: usize) -> Result<Kind, Problem> {
        let quote = self.peek().unwrap_or('"');
        self.bump();
        self.until_quote(quote, self.is_bigquery(), start, "quoted identifier")?;
        Ok(Kind::Quoted)
    }

    /// Consumes up to and including the closing `quote`; a doubled quote is an escaped one.
    fn until_quote(
        &mut self,
        quote: char,
        backslash: bool,
        start: usize,
        what: &str,
    ) -> Result<(), Problem> {
        while let Some(c) = self.peek() {
            self.bump();
            if c == '\\' && backslash {
                self.bump();
            } else if c == quote {
                if self.peek() != Some(quote) {
                    return Ok(());
                }
                self.bump();
            }
        }
        Err(unterminated(what, start))
    }

    fn until(
        &mut self,
        delimiter: &str,
        backslash: bool,
        start: usize,
        what: &str,
    ) -> Result<Kind, Problem> {
        while !self.rest().is_empty() {
            if self.rest().starts_with(delimiter) {
                self.pos += delimiter.len();
                return Ok(Kind::Str);
            }
            if backslash && self.rest().starts_with('\\') {
                self.bump();
            }
            self.bump();
        }
        Err(unterminated(what, start))
    }

    /// `$tag$` or `$$` at the current position, in the dialects with dollar quoting.
    fn dollar_tag(&self) -> Option<&'s str> {
        if self.is_bigquery() {
            return None;
        }
        let rest = self.rest();
        let tag_len = rest[1..].find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
        let tag_end = 1 + tag_len;
        let starts_like_tag = !rest[1..].starts_with(|c: char| c.is_ascii_digit());
        (rest[tag_end..].starts_with('$') && starts_like_tag).then(|| &rest[..=tag_end])
    }

    fn dollar_string(&mut self, start: usize) -> Result<Kind, Problem> {
        let tag = self.dollar_tag().unwrap_or("$$");
        self.pos += tag.len();
        self.until(tag, false, start, "dollar-quoted string")
    }

    fn number(&mut self) -> Kind {
        while let Some(c) = self.peek() {
            let decimal_point =
                c == '.' && self.rest()[1..].starts_with(|d: char| d.is_ascii_digit());
            if !(c.is_alphanumeric() || c == '_' || decimal_point) {
                break;
            }
            self.bump();
        }
        Kind::Number
    }

    /// A word, or a string with a prefix: BigQuery `r'..'`, `b'..'`, `rb'..'`;
    /// PostgreSQL/DuckDB `E'..'` (backslash escapes) and other one-letter prefixes.
    fn word_or_prefixed_string(&mut self, start: usize) -> Result<Kind, Problem> {
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
        {
            self.bump();
        }
        let prefix = self.sql[start..self.pos].to_ascii_lowercase();
        let next = self.peek();
        let quoted_next = next == Some('\'') || (self.is_bigquery() && next == Some('"'));
        if !quoted_next {
            return Ok(Kind::Word);
        }
        if self.is_bigquery() && matches!(prefix.as_str(), "r" | "b" | "rb" | "br") {
            // In a raw string a backslash keeps its next character, a quote too.
            return self.string(start, true);
        }
        if !self.is_bigquery() && matches!(prefix.as_str(), "e" | "x" | "n" | "b") {
            return self.string(start, prefix == "e");
        }
        Ok(Kind::Word)
    }
}

fn unterminated(what: &str, offset: usize) -> Problem {
    Problem::at(format!("unterminated {what}"), offset)
}

// ---------------------------------------------------------------------------
// Token scan
// ---------------------------------------------------------------------------

/// A relation in FROM position, as the token scan sees it.
struct FromItem {
    /// The name, or None for a table function call (`range(10)`, `UNNEST(x)`).
    parts: Option<Vec<NamePart>>,
    /// The alias written, else the name's last part.
    alias: Option<String>,
    /// An alias is written.
    aliased: bool,
    span: Range<usize>,
}

/// One bracket level of the scan.
struct Frame {
    /// Index of the level's first token.
    first: usize,
    root: bool,
    saw_select: bool,
    /// Between FROM (or JOIN) and the end of the FROM clause: a comma starts another item.
    in_from: bool,
}

impl Frame {
    fn new(first: usize, root: bool) -> Frame {
        Frame {
            first,
            root,
            saw_select: false,
            in_from: false,
        }
    }
}

/// Query forms that name their table right after the keyword: `TABLE t`, DuckDB's `PIVOT t ON ...`.
const STATEMENTS_ON_A_TABLE: &[&str] = &["TABLE", "PIVOT", "UNPIVOT"];

/// Clause keywords that end a FROM list.
const FROM_ENDS: &[&str] = &[
    "WHERE",
    "GROUP",
    "HAVING",
    "QUALIFY",
    "WINDOW",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "FETCH",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "RETURNING",
];

/// Words after a FROM item that are never its alias.
const NOT_ALIASES: &[&str] = &[
    "WHERE",
    "GROUP",
    "HAVING",
    "QUALIFY",
    "WINDOW",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "FETCH",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "ON",
    "USING",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "CROSS",
    "OUTER",
    "NATURAL",
    "ASOF",
    "POSITIONAL",
    "ANTI",
    "SEMI",
    "LATERAL",
    "FOR",
    "TABLESAMPLE",
    "PIVOT",
    "UNPIVOT",
    "SELECT",
    "WITH",
    "AT",
    "MATCH_RECOGNIZE",
];

fn scan_references(
    tokens: &[Token<'_>],
    dialect: SqlDialect,
    default_project: Option<&str>,
) -> Vec<Reference> {
    dedup_in_text_order(
        scan_occurrences(tokens, dialect, default_project)
            .into_iter()
            .map(Reference::from)
            .collect(),
    )
}

fn scan_occurrences(
    tokens: &[Token<'_>],
    dialect: SqlDialect,
    default_project: Option<&str>,
) -> Vec<Occurrence> {
    let ctes = scanned_cte_names(tokens);
    let items = scanned_from_items(tokens, dialect);
    let is_range_variable = |name: &str, item: usize| {
        items
            .iter()
            .enumerate()
            .any(|(other, o)| other != item && o.alias.as_deref() == Some(name))
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            let parts = item.parts.as_ref()?;
            let not_a_table = match &parts[..] {
                [single] => ctes.contains(&single.key()),
                [first, ..] => {
                    dialect.has_correlated_paths() && is_range_variable(&first.key(), index)
                }
                [] => true,
            };
            (!not_a_table).then(|| Occurrence {
                name: normalize_name(parts, dialect, default_project),
                span: item.span.clone(),
                aliased: item.aliased,
            })
        })
        .collect()
}

/// Names defined by `name [(columns)] AS [NOT] [MATERIALIZED] (query)` anywhere in
/// the text: the scan does not track CTE scopes.
fn scanned_cte_names(tokens: &[Token<'_>]) -> HashSet<String> {
    (0..tokens.len())
        .filter(|&index| tokens[index].is_word("AS"))
        .filter_map(|index| cte_name_before(tokens, index))
        .collect()
}

fn cte_name_before(tokens: &[Token<'_>], as_index: usize) -> Option<String> {
    let mut body = as_index + 1;
    while tokens
        .get(body)
        .is_some_and(|t| t.is_word("NOT") || t.is_word("MATERIALIZED"))
    {
        body += 1;
    }
    let opens_query = tokens.get(body).is_some_and(|t| t.is_punct('('))
        && tokens.get(body + 1).is_some_and(|t| {
            t.is_punct('(') || QUERY_STARTS.iter().any(|keyword| t.is_word(keyword))
        });
    if !opens_query {
        return None;
    }
    let mut name = as_index.checked_sub(1)?;
    if tokens[name].is_punct(')') {
        name = matching_open(tokens, name)?.checked_sub(1)?;
    }
    let token = &tokens[name];
    token.is_name().then(|| name_part(token).key())
}

fn scanned_from_items(tokens: &[Token<'_>], dialect: SqlDialect) -> Vec<FromItem> {
    let mut frames = vec![Frame::new(0, true)];
    let mut items = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        let starts_item = match token.kind {
            Kind::Punct => punct_starts_item(&mut frames, tokens, index),
            Kind::Word => word_starts_item(&mut frames, tokens, index),
            _ => false,
        };
        if starts_item {
            items.extend(from_item(tokens, index + 1, dialect));
        }
    }
    items
}

fn punct_starts_item(frames: &mut Vec<Frame>, tokens: &[Token<'_>], index: usize) -> bool {
    let c = tokens[index].punct();
    let in_from = frames.last().is_some_and(|frame| frame.in_from);
    if closer_of(c).is_some() {
        let nested_join = c == '(' && in_from && opens_nested_join(tokens, index);
        frames.push(Frame::new(index + 1, false));
        if let Some(frame) = frames.last_mut() {
            frame.in_from = nested_join;
        }
        return nested_join;
    }
    if is_closer(c) && frames.len() > 1 {
        frames.pop();
    }
    c == ',' && in_from
}

/// `FROM (a JOIN b ON ...)`: a parenthesis in FROM position that holds names, not a query.
fn opens_nested_join(tokens: &[Token<'_>], open: usize) -> bool {
    let after_item_start = open.checked_sub(1).is_some_and(|prev| {
        let prev = &tokens[prev];
        prev.is_word("FROM") || prev.is_word("JOIN") || prev.is_punct(',') || prev.is_punct('(')
    });
    let holds_name = tokens.get(open + 1).is_some_and(|next| {
        next.is_name() && !QUERY_STARTS.iter().any(|keyword| next.is_word(keyword))
    });
    after_item_start && holds_name
}

fn word_starts_item(frames: &mut [Frame], tokens: &[Token<'_>], index: usize) -> bool {
    let Some(frame) = frames.last_mut() else {
        return false;
    };
    let token = &tokens[index];
    if token.is_word("SELECT") {
        frame.saw_select = true;
        frame.in_from = false;
    } else if token.is_word("FROM") {
        // Not `a IS DISTINCT FROM b`, nor `EXTRACT(DAY FROM ts)` / `SUBSTRING(s FROM 2)`.
        let after_distinct = index > 0 && tokens[index - 1].is_word("DISTINCT");
        let in_query = frame.root || frame.saw_select || frame.first == index;
        frame.in_from = in_query && !after_distinct;
        return frame.in_from;
    } else if token.is_word("JOIN") {
        frame.in_from = true;
        return true;
    } else if index == frame.first && STATEMENTS_ON_A_TABLE.iter().any(|k| token.is_word(k)) {
        return true;
    } else if FROM_ENDS.iter().any(|keyword| token.is_word(keyword)) {
        frame.in_from = false;
    }
    false
}

/// The FROM item starting at `start`; None for a subquery or nested join (the
/// scan reads its FROM lists on its own) and for anything that is not a name.
fn from_item(tokens: &[Token<'_>], start: usize, dialect: SqlDialect) -> Option<FromItem> {
    let mut start = start;
    if tokens
        .get(start)
        .is_some_and(|t| t.is_word("LATERAL") || t.is_word("ONLY"))
    {
        start += 1;
    }
    let (parts, next) = read_name(tokens, start, dialect)?;
    let is_call = tokens.get(next).is_some_and(|t| t.is_punct('('));
    let after = if is_call {
        matching_close(tokens, next)? + 1
    } else {
        next
    };
    let implicit_alias = (!is_call)
        .then(|| parts.last().map(NamePart::key))
        .flatten();
    let written_alias = read_alias(tokens, after);
    Some(FromItem {
        aliased: written_alias.is_some(),
        alias: written_alias.or(implicit_alias),
        span: tokens[start].start..tokens[next - 1].end(),
        parts: (!is_call).then_some(parts),
    })
}

/// A dotted name `a.b.c` starting at `start`, and the index after it.
fn read_name(
    tokens: &[Token<'_>],
    start: usize,
    dialect: SqlDialect,
) -> Option<(Vec<NamePart>, usize)> {
    let mut parts = Vec::new();
    let mut index = start;
    loop {
        let (part, next) = read_part(tokens, index, dialect)?;
        parts.push(part);
        index = next;
        let dot_then_name = tokens.get(index).is_some_and(|t| t.is_punct('.'))
            && tokens.get(index + 1).is_some_and(Token::is_name);
        if !dot_then_name {
            return Some((parts, index));
        }
        index += 1;
    }
}

/// One name part; in BigQuery an unquoted project may contain dashes (`region-us`, `my-proj`).
fn read_part(tokens: &[Token<'_>], index: usize, dialect: SqlDialect) -> Option<(NamePart, usize)> {
    let token = tokens.get(index).filter(|t| t.is_name())?;
    let mut part = name_part(token);
    let mut next = index + 1;
    if token.kind == Kind::Word && dialect == SqlDialect::BigQuery {
        while let [dash, segment, ..] = &tokens[next.min(tokens.len())..] {
            let adjacent = dash.start == tokens[next - 1].end() && segment.start == dash.end();
            let is_segment = matches!(segment.kind, Kind::Word | Kind::Number);
            if !(dash.is_punct('-') && adjacent && is_segment) {
                break;
            }
            part.text = format!("{}-{}", part.text, segment.text);
            next += 2;
        }
    }
    Some((part, next))
}

fn name_part(token: &Token<'_>) -> NamePart {
    match token.kind {
        Kind::Quoted => {
            let quote = token.punct();
            let inner = &token.text[quote.len_utf8()..token.text.len() - quote.len_utf8()];
            let doubled: String = [quote, quote].iter().collect();
            NamePart {
                text: inner.replace(&doubled, &quote.to_string()),
                quote: Some(quote),
            }
        }
        _ => NamePart {
            text: token.text.to_string(),
            quote: None,
        },
    }
}

fn read_alias(tokens: &[Token<'_>], index: usize) -> Option<String> {
    let explicit = tokens.get(index).is_some_and(|t| t.is_word("AS"));
    let token = tokens.get(if explicit { index + 1 } else { index })?;
    let is_keyword = NOT_ALIASES.iter().any(|keyword| token.is_word(keyword));
    let is_alias = token.kind == Kind::Quoted || (token.kind == Kind::Word && !is_keyword);
    is_alias.then(|| name_part(token).key())
}

fn matching_close(tokens: &[Token<'_>], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (index, token) in tokens.iter().enumerate().skip(open) {
        depth = next_depth(depth, token);
        if depth == 0 {
            return Some(index);
        }
    }
    None
}

fn matching_open(tokens: &[Token<'_>], close: usize) -> Option<usize> {
    let mut depth = 0usize;
    for index in (0..=close).rev() {
        let token = &tokens[index];
        if token.kind == Kind::Punct && is_closer(token.punct()) {
            depth += 1;
        } else if token.kind == Kind::Punct && closer_of(token.punct()).is_some() {
            depth -= 1;
            if depth == 0 {
                return Some(index);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    use SqlDialect::{BigQuery, DuckDb, Generic, Postgres};

    const PROJECT: Option<&str> = Some("proj");

    fn extract(dialect: SqlDialect, sql: &str) -> Extraction {
        extract_references(sql, dialect, PROJECT)
            .unwrap_or_else(|e| panic!("{sql}\nfailed: {e} at {}", e.offset))
    }

    fn names_in_order(dialect: SqlDialect, sql: &str) -> Vec<String> {
        let references = extract(dialect, sql).references;
        references.into_iter().map(|r| r.name).collect()
    }

    fn syntax_error(dialect: SqlDialect, sql: &str) -> SqlSyntaxError {
        match extract_references(sql, dialect, PROJECT) {
            Err(error) => error,
            Ok(extraction) => panic!("{sql}\nexpected a syntax error, got {extraction:?}"),
        }
    }

    /// (dialect, SQL, the exact sorted reference names).
    const CASES: &[(SqlDialect, &str, &[&str])] = &[
        // FROM / JOIN and subqueries
        (DuckDb, "SELECT * FROM raw.events", &["raw.events"]),
        (
            DuckDb,
            "SELECT a FROM raw.events e JOIN raw.users u ON e.user_id = u.id \
             LEFT JOIN dim.country c USING (country_id)",
            &["dim.country", "raw.events", "raw.users"],
        ),
        (
            DuckDb,
            "SELECT * FROM (SELECT * FROM raw.events) AS sub",
            &["raw.events"],
        ),
        (
            DuckDb,
            "SELECT (SELECT max(ts) FROM raw.b) AS latest, * FROM raw.a",
            &["raw.a", "raw.b"],
        ),
        (
            DuckDb,
            "SELECT * FROM raw.a WHERE id IN (SELECT id FROM raw.b) \
             AND EXISTS (SELECT 1 FROM raw.c WHERE c.id = a.id)",
            &["raw.a", "raw.b", "raw.c"],
        ),
        (
            DuckDb,
            "SELECT * FROM raw.a, LATERAL (SELECT * FROM raw.b WHERE b.id = a.id) l",
            &["raw.a", "raw.b"],
        ),
        (Generic, "SELECT * FROM a NATURAL JOIN b", &["a", "b"]),
        // set operations
        (
            DuckDb,
            "SELECT id FROM raw.a UNION SELECT id FROM raw.b EXCEPT SELECT id FROM raw.c \
             INTERSECT SELECT id FROM raw.d",
            &["raw.a", "raw.b", "raw.c", "raw.d"],
        ),
        (
            DuckDb,
            "(SELECT 1 FROM a) UNION (SELECT 2 FROM b)",
            &["a", "b"],
        ),
        (
            DuckDb,
            "SELECT * FROM raw.t1 UNION ALL BY NAME SELECT * FROM raw.t2",
            &["raw.t1", "raw.t2"],
        ),
        // CTEs
        (
            DuckDb,
            "WITH recent AS (SELECT * FROM raw.events) \
             SELECT * FROM recent JOIN raw.users USING (id)",
            &["raw.events", "raw.users"],
        ),
        (
            DuckDb,
            "WITH events AS (SELECT * FROM events WHERE ok) SELECT * FROM events",
            &["events"],
        ),
        (
            DuckDb,
            "WITH a AS (SELECT * FROM raw.a), b AS (SELECT * FROM a JOIN raw.b USING (id)) \
             SELECT * FROM b",
            &["raw.a", "raw.b"],
        ),
        (
            DuckDb,
            "WITH a AS (SELECT * FROM b), b AS (SELECT 1 AS x) SELECT * FROM a",
            &["b"],
        ),
        (
            DuckDb,
            "SELECT * FROM (WITH inner_cte AS (SELECT * FROM raw.x) SELECT * FROM inner_cte) s \
             JOIN inner_cte USING (id)",
            &["inner_cte", "raw.x"],
        ),
        (
            DuckDb,
            "SELECT * FROM (WITH t AS (SELECT 1 AS x) SELECT * FROM t) s \
             UNION ALL SELECT * FROM t",
            &["t"],
        ),
        (
            DuckDb,
            "WITH outer_cte AS (SELECT * FROM raw.a) \
             SELECT * FROM (WITH inner_cte AS (SELECT * FROM outer_cte) SELECT * FROM inner_cte)",
            &["raw.a"],
        ),
        (
            DuckDb,
            "WITH RECURSIVE walk AS (SELECT id, parent FROM core.nodes UNION ALL \
             SELECT n.id, n.parent FROM core.nodes n JOIN walk w ON n.parent = w.id) \
             SELECT * FROM walk",
            &["core.nodes"],
        ),
        (
            Postgres,
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) \
             SELECT * FROM r JOIN app.items ON items.id = r.n",
            &["app.items"],
        ),
        // table functions, UNNEST, files, VALUES
        (
            DuckDb,
            "SELECT * FROM read_parquet('data/*.parquet') p JOIN range(0, 10) r ON true, \
             generate_series(1, 5) g",
            &[],
        ),
        (
            DuckDb,
            "SELECT unnest(tags) FROM raw.a, UNNEST([1, 2, 3]) AS u(x)",
            &["raw.a"],
        ),
        (DuckDb, "SELECT * FROM 'data/events.parquet'", &[]),
        (DuckDb, "VALUES (1), (2)", &[]),
        (
            DuckDb,
            "SELECT * FROM (VALUES (1), (2)) v(x) JOIN raw.t ON t.id = v.x;",
            &["raw.t"],
        ),
        (
            Postgres,
            "SELECT DISTINCT ON (a) a, count(*) FILTER (WHERE b) \
             FROM public.t, generate_series(1, 3) g",
            &["public.t"],
        ),
        // quoted names and projects
        (DuckDb, r#"SELECT * FROM "raw"."Events""#, &["raw.Events"]),
        (
            DuckDb,
            "SELECT * FROM proj.raw.events JOIN Other.raw.users USING (id)",
            &["Other.raw.users", "raw.events"],
        ),
        (Generic, "SELECT * FROM x.y.z", &["x.y.z"]),
        // names keep the case the dialect keeps
        (BigQuery, "SELECT * FROM raw.Events_V1", &["raw.Events_V1"]),
        (
            Postgres,
            r#"SELECT * FROM Raw.Events JOIN "Raw"."Users" USING (id)"#,
            &["Raw.Users", "raw.events"],
        ),
        (BigQuery, "SELECT * FROM `proj.raw.events`", &["raw.events"]),
        (
            BigQuery,
            "SELECT * FROM `proj`.raw.`events`",
            &["raw.events"],
        ),
        (BigQuery, "SELECT * FROM `PROJ.raw.events`", &["raw.events"]),
        (
            BigQuery,
            "SELECT * FROM `other-project.raw.events`",
            &["other-project.raw.events"],
        ),
        (
            BigQuery,
            "SELECT * FROM other-project.raw.events",
            &["other-project.raw.events"],
        ),
        // BigQuery real-world constructs
        (
            BigQuery,
            "SELECT * FROM `proj.analytics.events_*` \
             WHERE _TABLE_SUFFIX BETWEEN '20240101' AND '20240131'",
            &["analytics.events_*"],
        ),
        (
            BigQuery,
            "SELECT job_id FROM `region-us`.INFORMATION_SCHEMA.JOBS",
            &["region-us.INFORMATION_SCHEMA.JOBS"],
        ),
        (
            BigQuery,
            "SELECT job_id FROM region-us.INFORMATION_SCHEMA.JOBS",
            &["region-us.INFORMATION_SCHEMA.JOBS"],
        ),
        (
            BigQuery,
            "SELECT table_name FROM raw.INFORMATION_SCHEMA.TABLES",
            &["raw.INFORMATION_SCHEMA.TABLES"],
        ),
        (
            BigQuery,
            "SELECT * FROM EXTERNAL_QUERY('proj.us.conn', '''SELECT * FROM pg_table''')",
            &[],
        ),
        (
            BigQuery,
            r#"SELECT * FROM raw.users u JOIN EXTERNAL_QUERY("conn", "SELECT id FROM accounts") a
               ON a.id = u.id"#,
            &["raw.users"],
        ),
        (
            BigQuery,
            "SELECT mozfun.map.get_key(attrs, 'k') AS k, `proj.udfs.f`(x) AS y, \
             SAFE.PARSE_DATE('%Y%m%d', d) AS day FROM raw.events",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT * FROM UNNEST(ARRAY<STRUCT<a INT64, b STRING>>[(1, 'x'), (2, 'y')]) \
             JOIN raw.events USING (a)",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT flags >> 2 AS hi, 1 << 3 AS bit FROM raw.events",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT 'a' 'b' AS s FROM raw.events",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT * EXCEPT (payload) REPLACE (LOWER(country) AS country) FROM raw.events \
             QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY ts DESC) = 1",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT * FROM raw.sales PIVOT (SUM(amount) FOR quarter IN ('Q1', 'Q2'))",
            &["raw.sales"],
        ),
        (
            BigQuery,
            "SELECT * FROM raw.events TABLESAMPLE SYSTEM (10 PERCENT)",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT * FROM raw.events FOR SYSTEM_TIME AS OF \
             TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR)",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT e.id, x FROM raw.events AS e, UNNEST(e.items) AS x",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT e.id, item FROM raw.events AS e, e.items AS item",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT item FROM raw.events, events.items AS item",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT extra.key FROM raw.sessions s CROSS JOIN UNNEST(s.events) AS event, \
             event.extra AS extra",
            &["raw.sessions"],
        ),
        (
            BigQuery,
            "SELECT ARRAY(SELECT x FROM e.items AS x WHERE x > 0) AS positive \
             FROM raw.events AS e",
            &["raw.events"],
        ),
        (BigQuery, "SELECT * FROM raw.events AS raw", &["raw.events"]),
        (
            BigQuery,
            "SELECT t.payload.user.id, STRUCT(1 AS a, 'x' AS b) AS s FROM raw.t AS t \
             WHERE t.payload.user.id > 0",
            &["raw.t"],
        ),
        (
            BigQuery,
            "SELECT id, ARRAY(SELECT AS STRUCT key, value FROM UNNEST(attrs) ORDER BY key) AS kv, \
             ARRAY(SELECT name FROM dim.tags WHERE tags.id = e.tag_id) AS names \
             FROM raw.events e",
            &["dim.tags", "raw.events"],
        ),
        (
            BigQuery,
            "SELECT a, b, FROM raw.events WHERE DATE(ts) = @submission_date",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT \"\"\"FROM fake.string\"\"\" AS s # FROM fake.comment\nFROM raw.events",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT d FROM UNNEST(GENERATE_DATE_ARRAY('2024-01-01', '2024-02-01')) AS d",
            &[],
        ),
        // BigQuery constructs that only the token scan reads
        (
            BigQuery,
            "WITH base AS (SELECT ARRAY<STRUCT<k STRING, v INT64>>[('a', 1)] AS kv \
             FROM raw.events), flat AS (SELECT k FROM base, UNNEST(kv)) SELECT * FROM flat",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT EXTRACT(DAY FROM ts) AS d, 1 << 2 AS s FROM raw.events \
             WHERE a IS DISTINCT FROM b",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT x, 1 << 2 FROM raw.events AS e, e.items AS x",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT ARRAY(SELECT x FROM e.items AS x) AS xs, 1 << 2 FROM raw.events AS e",
            &["raw.events"],
        ),
        (
            BigQuery,
            "SELECT 1 << 2 FROM EXTERNAL_QUERY('c', '''SELECT * FROM pg''') AS ext, `proj.raw.t`",
            &["raw.t"],
        ),
        (
            BigQuery,
            "SELECT 'a' 'b', mozfun.hist.merge(ARRAY_AGG(h)) FROM raw.a \
             JOIN `proj`.raw.`b` USING (id) WHERE id IN (SELECT id FROM raw.c) GROUP BY 1",
            &["raw.a", "raw.b", "raw.c"],
        ),
        // DuckDB specifics
        (
            DuckDb,
            "FROM raw.events SELECT user_id, count(*) GROUP BY ALL",
            &["raw.events"],
        ),
        (DuckDb, "FROM raw.events", &["raw.events"]),
        (
            DuckDb,
            "SELECT * FROM (FROM raw.events SELECT user_id)",
            &["raw.events"],
        ),
        (
            DuckDb,
            "SELECT [x * 2 FOR x IN tags IF x > 0] AS doubled FROM raw.events",
            &["raw.events"],
        ),
        (
            DuckDb,
            "SELECT * EXCLUDE (payload), COLUMNS('^metric_') FROM raw.events",
            &["raw.events"],
        ),
        (
            DuckDb,
            "SELECT * FROM raw.trades t ASOF JOIN raw.quotes q \
             ON t.symbol = q.symbol AND t.ts >= q.ts",
            &["raw.quotes", "raw.trades"],
        ),
        (
            DuckDb,
            "SELECT * FROM raw.a POSITIONAL JOIN raw.b",
            &["raw.a", "raw.b"],
        ),
        (
            DuckDb,
            "SELECT * FROM raw.sales PIVOT (sum(amount) FOR year IN (2023, 2024))",
            &["raw.sales"],
        ),
        (
            DuckDb,
            "PIVOT raw.sales ON year USING sum(amount)",
            &["raw.sales"],
        ),
        (DuckDb, "TABLE raw.t", &["raw.t"]),
        (
            DuckDb,
            "SELECT * FROM raw.events USING SAMPLE 10%",
            &["raw.events"],
        ),
        (
            DuckDb,
            "SELECT s.a.b, ts::DATE, TIMESTAMP '2024-01-01 00:00:00' AS t0, INTERVAL 30 DAY, \
             current_date - 6 FROM raw.events WHERE ts >= TIMESTAMP '2024-01-01 00:00:00'",
            &["raw.events"],
        ),
        (
            DuckDb,
            "SELECT list_transform(l, x -> x + 1), {'a': 1} AS s FROM raw.events \
             QUALIFY row_number() OVER (PARTITION BY id) = 1",
            &["raw.events"],
        ),
        (
            DuckDb,
            "WITH t AS MATERIALIZED (SELECT * FROM raw.x) SELECT * FROM t",
            &["raw.x"],
        ),
        (
            DuckDb,
            "SELECT * FROM raw.events AS raw JOIN raw.users USING (id)",
            &["raw.events", "raw.users"],
        ),
        (DuckDb, "SELECT 1;", &[]),
        (
            DuckDb,
            r"SELECT E'it\'s FROM fake.t' AS s, [x FOR x IN l] FROM raw.t",
            &["raw.t"],
        ),
        (
            DuckDb,
            "SELECT * FROM raw.a ASOF JOIN (raw.b JOIN raw.c USING (id)) ON a.ts >= b.ts",
            &["raw.a", "raw.b", "raw.c"],
        ),
        (
            DuckDb,
            "SELECT * FROM (raw.a JOIN raw.b USING (id)) JOIN raw.c USING (id)",
            &["raw.a", "raw.b", "raw.c"],
        ),
        (
            Postgres,
            r"SELECT $q$FROM fake.t$q$ AS s, E'it\'s' FROM app.t",
            &["app.t"],
        ),
    ];

    #[test]
    fn every_case_yields_exactly_its_references() {
        let mut failures = Vec::new();
        for (dialect, sql, expected) in CASES {
            let result = extract_references(sql, *dialect, PROJECT).map(|e| {
                let mut names: Vec<String> = e.references.into_iter().map(|r| r.name).collect();
                names.sort();
                names
            });
            match result {
                Ok(names) if names == *expected => {}
                other => failures.push(format!(
                    "[{dialect}] {sql}\n  expected {expected:?}\n  got {other:?}"
                )),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(CASES.len() >= 50);
    }

    #[test]
    fn references_come_in_text_order_without_duplicates() {
        let sql = "SELECT * FROM raw.b JOIN raw.a USING (id) WHERE id IN (SELECT id FROM raw.b)";
        let references = extract(DuckDb, sql).references;
        let order: Vec<&str> = references.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(order, ["raw.b", "raw.a"]);
        assert_eq!(references[0].span, 14..19);
    }

    #[test]
    fn scalar_subquery_before_from_still_comes_in_text_order() {
        let sql = "SELECT (SELECT max(x) FROM raw.late) FROM raw.main";
        assert_eq!(names_in_order(DuckDb, sql), ["raw.late", "raw.main"]);
    }

    #[test]
    fn spans_point_at_the_reference_text() {
        let cases: &[(SqlDialect, &str)] = &[
            (
                DuckDb,
                "SELECT *\n  FROM raw.events e\n  JOIN \"raw\".\"Users\" u USING (id)",
            ),
            (
                BigQuery,
                "-- header\nSELECT * FROM `proj.raw.events` JOIN raw.users USING (id)",
            ),
            (
                BigQuery,
                "SELECT 'é', x >> 1 FROM\n raw.events, `proj`.raw.users",
            ),
            (
                DuckDb,
                "SELECT [x FOR x IN l] FROM raw.events\nJOIN raw.users USING (id)",
            ),
        ];
        for (dialect, sql) in cases {
            let references = extract(*dialect, sql).references;
            assert_eq!(references.len(), 2, "{sql}");
            for reference in references {
                let text = sql[reference.span.clone()].to_lowercase();
                let table = reference.name.rsplit('.').next().unwrap().to_lowercase();
                assert!(
                    text.contains(&table),
                    "{sql}: {text:?} should contain {table:?}"
                );
            }
        }
    }

    #[test]
    fn normalized_text_ignores_whitespace_comments_and_case() {
        let same: &[(SqlDialect, &str, &str)] = &[
            (
                DuckDb,
                "SELECT a, count(*) AS n FROM raw.events WHERE a > 1 GROUP BY ALL",
                "select  A,\n  COUNT(*) as N -- count\nfrom RAW.EVENTS /* src */ where a>1 group by all;",
            ),
            (
                BigQuery,
                "SELECT x FROM `proj.raw.events` WHERE d = @day",
                "select X\nfrom `proj.raw.events`   where D = @day # trailing",
            ),
            (
                BigQuery,
                "SELECT flags >> 2 AS hi FROM raw.events",
                "select FLAGS>>2 as HI -- shift\n from raw.events;",
            ),
        ];
        for (dialect, a, b) in same {
            let (a, b) = (extract(*dialect, a), extract(*dialect, b));
            assert_eq!(a.normalized, b.normalized);
        }
        let different: &[(SqlDialect, &str, &str)] = &[
            (
                DuckDb,
                "SELECT a FROM raw.events WHERE a > 1",
                "SELECT a FROM raw.events WHERE a > 2",
            ),
            (
                DuckDb,
                "SELECT 'A' FROM raw.events",
                "SELECT 'a' FROM raw.events",
            ),
            (
                BigQuery,
                "SELECT flags >> 2 FROM raw.events",
                "SELECT flags >> 3 FROM raw.events",
            ),
        ];
        for (dialect, a, b) in different {
            let (a, b) = (extract(*dialect, a), extract(*dialect, b));
            assert_ne!(a.normalized, b.normalized);
        }
    }

    #[test]
    fn misspelled_keyword_is_a_syntax_error_at_the_start() {
        let error = syntax_error(DuckDb, "SELEC a FROM x");
        assert_eq!(error.offset, 0);
        assert!(error.message.contains("SELEC"), "{}", error.message);
    }

    #[test]
    fn unclosed_parenthesis_is_a_syntax_error_at_the_parenthesis() {
        let sql = "SELECT a FROM x WHERE (a > 1";
        let error = syntax_error(DuckDb, sql);
        assert_eq!(error.offset, sql.find('(').unwrap());
        assert!(error.message.contains("never closed"), "{}", error.message);
    }

    #[test]
    fn unterminated_string_is_a_syntax_error_at_the_quote() {
        let error = syntax_error(DuckDb, "SELECT 'abc FROM t");
        assert_eq!(error.offset, 7);
        assert!(
            error.message.contains("unterminated string"),
            "{}",
            error.message
        );
    }

    #[test]
    fn unterminated_comment_and_identifier_are_syntax_errors_where_they_start() {
        assert_eq!(syntax_error(DuckDb, "SELECT 1 /* never closed").offset, 9);
        assert_eq!(
            syntax_error(BigQuery, "SELECT * FROM `raw.events").offset,
            14
        );
        assert_eq!(syntax_error(BigQuery, "SELECT '''abc FROM t").offset, 7);
    }

    #[test]
    fn syntax_error_points_where_sqlparser_expected_the_fix() {
        let sql = "SELECT a FROM x WHERE (a > 1 ORDER BY a";
        assert_eq!(syntax_error(DuckDb, sql).offset, sql.find("ORDER").unwrap());
    }

    #[test]
    fn syntax_error_ignores_an_unsupported_construct_before_the_problem() {
        let sql = "SELECT 1 << 2 FROM t WHERE (a";
        assert_eq!(syntax_error(BigQuery, sql).offset, sql.find('(').unwrap());
    }

    #[test]
    fn stray_closing_parenthesis_is_a_syntax_error() {
        assert_eq!(syntax_error(DuckDb, "SELECT a) FROM t").offset, 8);
    }

    #[test]
    fn more_than_one_statement_is_a_syntax_error_at_the_second() {
        let sql = "SELECT 1 FROM a; SELECT 2 FROM b";
        assert_eq!(syntax_error(DuckDb, sql).offset, 17);
        let sql = "SELECT 1 << 2 FROM a; SELECT 2 FROM b";
        assert_eq!(syntax_error(BigQuery, sql).offset, 22);
        let sql = "SELECT 1 FROM a; SELECT 1 << 2 FROM b";
        assert_eq!(syntax_error(BigQuery, sql).offset, 17);
    }

    #[test]
    fn statements_other_than_queries_are_syntax_errors() {
        let delete = syntax_error(DuckDb, "DELETE FROM raw.events");
        assert!(delete.message.contains("DELETE"), "{}", delete.message);
        let insert = syntax_error(DuckDb, "INSERT INTO x SELECT 1");
        assert!(insert.message.contains("INSERT"), "{}", insert.message);
        let empty = syntax_error(DuckDb, "  -- only a comment\n");
        assert!(empty.message.contains("empty"), "{}", empty.message);
    }

    #[test]
    fn unsupported_construct_falls_back_to_a_token_scan_with_a_warning() {
        let sql = "SELECT [x * 2 FOR x IN tags] AS doubled FROM raw.events \
                   JOIN raw.users USING (id)";
        let extraction = extract(DuckDb, sql);
        let warning = extraction.fallback_warning.expect("a fallback warning");
        assert!(warning
            .message
            .starts_with("sqlparser could not parse this statement ("));
        assert!(warning.message.contains("Expected"), "{}", warning.message);
        assert!(
            warning.message.contains("token scan"),
            "{}",
            warning.message
        );
        assert_eq!(warning.offset, sql.find("FOR").unwrap());
        let names: Vec<&str> = extraction
            .references
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["raw.events", "raw.users"]);
    }

    #[test]
    fn fallback_that_finds_nothing_still_warns() {
        let extraction = extract(DuckDb, "SELECT 42 AS answer USING SAMPLE 10%");
        assert!(extraction.references.is_empty());
        let warning = extraction.fallback_warning.expect("a fallback warning");
        assert!(
            warning.message.contains("found no table reference"),
            "{}",
            warning.message
        );
    }

    #[test]
    fn parsed_query_has_no_warning() {
        let extraction = extract(DuckDb, "SELECT * FROM raw.events");
        assert_eq!(extraction.fallback_warning, None);
    }

    #[test]
    fn without_default_project_three_part_names_stay_whole() {
        let sql = "SELECT * FROM `proj.raw.events`";
        let extraction = extract_references(sql, BigQuery, None).unwrap();
        assert_eq!(extraction.references[0].name, "proj.raw.events");
    }

    #[test]
    fn information_schema_and_wildcard_references_are_recognisable() {
        let sql = "SELECT * FROM raw.INFORMATION_SCHEMA.TABLES, `proj.raw.events_*`";
        let references = extract(BigQuery, sql).references;
        assert!(references[0].is_information_schema() && !references[0].is_wildcard());
        assert!(references[1].is_wildcard() && !references[1].is_information_schema());
    }

    #[test]
    fn dialect_names_round_trip() {
        for dialect in [DuckDb, BigQuery, Postgres, Generic] {
            assert_eq!(SqlDialect::parse_name(dialect.name()), Some(dialect));
        }
        assert_eq!(SqlDialect::parse_name("PostgreSQL"), Some(Postgres));
        assert_eq!(SqlDialect::parse_name("mysql"), None);
        assert_eq!(SqlDialect::default(), DuckDb);
    }

    #[test]
    fn offset_of_counts_lines_and_characters() {
        let text = "ab\ncé d\nx";
        assert_eq!(offset_of(text, 1, 1), 0);
        assert_eq!(offset_of(text, 2, 1), 3);
        assert_eq!(offset_of(text, 2, 3), 6);
        assert_eq!(offset_of(text, 3, 1), 9);
        assert_eq!(offset_of(text, 0, 0), 0);
        assert_eq!(offset_of(text, 9, 1), text.len());
        assert_eq!(offset_of(text, 3, 9), text.len());
    }
}
