//! Column-level lineage: for each output column of a table's rendered SQL, the
//! source columns it is computed from and the functions applied on the way.
//!
//! Governance (SPEC §6) propagates `policy:` tags along these derivations and
//! stops at privatizing functions, and `derived lineage TABLE.column` (SPEC §8)
//! prints them. What never changes: the analysis never fails and never guesses
//! silently. Whatever cannot be attributed exactly (an unknown `*`, an ambiguous
//! column, SQL that does not parse) is reported as a gap, so a caller can tell an
//! exact lineage from a partial one.
//!
//! Columns that only filter, join, group or order rows are `influences`. A column
//! is listed there whenever it is used that way, even if it is also selected:
//! influences record use, not exclusivity.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::ops::{ControlFlow, Range};
use std::rc::Rc;

use sqlparser::ast::{
    Cte, Distinct, DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentClause, FunctionArguments, GroupByExpr, Ident, JoinConstraint, JoinOperator,
    LambdaFunction, NamedWindowDefinition, NamedWindowExpr, ObjectName, ObjectNamePart, OrderBy,
    OrderByKind, Query, Select, SelectItem, SelectItemQualifiedWildcardKind, SetExpr,
    SetQuantifier, Statement, TableAlias, TableFactor, TableWithJoins, Value, Values, Visit,
    Visitor, WildcardAdditionalOptions, WindowSpec, WindowType, With,
};

use crate::project::dialect::SqlDialect;

/// A column of a source or table: `table` is the normalized `dataset.table`
/// (quotes/backticks removed, unquoted parts lowercased; a three-part name whose
/// first part equals `default_project` is reduced to two parts), `column` lowercased unless quoted.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourceColumn {
    pub table: String,
    pub column: String,
}

/// How one source column reaches an output column: the functions applied on the way,
/// innermost first, lowercased (`sha256(lower(email))` → ["lower", "sha256"]); aggregate and
/// window functions count as functions (`count`, `min`, `row_number`...); CASE/CAST/arithmetic
/// do not.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Derivation {
    pub source: SourceColumn,
    pub functions: Vec<String>,
}

/// One column of the query's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputColumn {
    /// The alias, else the column name, else the name the warehouse gives an
    /// unaliased expression (best effort).
    pub name: String,
    /// Sorted, deduplicated.
    pub computed_from: Vec<Derivation>,
    /// Some(source) when the output is exactly one source column passed through unchanged
    /// (no function, no expression).
    pub passthrough: Option<SourceColumn>,
}

/// The lineage of one query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnLineage {
    /// In output order.
    pub columns: Vec<OutputColumn>,
    /// Source columns used to filter, join, group or order (WHERE, JOIN ON/USING, GROUP BY,
    /// HAVING, QUALIFY, ORDER BY, window PARTITION BY/ORDER BY), sorted, deduplicated.
    pub influences: Vec<SourceColumn>,
    /// Problems that made the result partial (unknown `*` expansion, unparseable SQL, ambiguous
    /// unqualified column...). Empty = exact.
    pub gaps: Vec<String>,
    /// Whether `columns` is every column the query produces (it parsed, and
    /// every `*` was expanded), even if some derivations have gaps.
    pub columns_complete: bool,
}

/// `columns_of(table)` returns the known columns of a source/table for `*`
/// expansion and for resolving unqualified column names in joins; None when
/// unknown. `table` is the name as the dialect normalizes it (see
/// [`crate::project::refs::Reference::name`]).
pub fn column_lineage(
    sql: &str,
    dialect: SqlDialect,
    default_project: Option<&str>,
    columns_of: &dyn Fn(&str) -> Option<Vec<String>>,
) -> ColumnLineage {
    match single_query(sql, dialect) {
        Ok(query) => query_lineage(&query, dialect, default_project, columns_of),
        Err(gap) => {
            let mut analyzer = Analyzer::new(dialect, default_project, columns_of);
            analyzer.columns_gap(gap);
            analyzer.finish(Vec::new())
        }
    }
}

/// [`column_lineage`] of a query already parsed in `dialect`.
pub fn query_lineage(
    query: &Query,
    dialect: SqlDialect,
    default_project: Option<&str>,
    columns_of: &dyn Fn(&str) -> Option<Vec<String>>,
) -> ColumnLineage {
    let mut analyzer = Analyzer::new(dialect, default_project, columns_of);
    let columns = analyzer.query(query, None);
    analyzer.finish(columns)
}

impl<'c> Analyzer<'c> {
    fn new(
        dialect: SqlDialect,
        default_project: Option<&'c str>,
        columns_of: &'c dyn Fn(&str) -> Option<Vec<String>>,
    ) -> Analyzer<'c> {
        Analyzer {
            columns_of,
            default_project,
            dialect,
            influences: BTreeSet::new(),
            gaps: Vec::new(),
            columns_complete: true,
        }
    }

    fn finish(self, columns: Vec<NamedFlow>) -> ColumnLineage {
        ColumnLineage {
            columns: columns.into_iter().map(NamedFlow::into_output).collect(),
            influences: self.influences.into_iter().collect(),
            gaps: self.gaps,
            columns_complete: self.columns_complete,
        }
    }
}

fn single_query(sql: &str, dialect: SqlDialect) -> Result<Query, String> {
    let mut statements = dialect
        .parse(sql)
        .map_err(|error| format!("SQL does not parse: {error}"))?;
    match (statements.pop(), statements.is_empty()) {
        (Some(Statement::Query(query)), true) => Ok(*query),
        (Some(_), true) => Err("the SQL is not a query".to_string()),
        _ => Err("the SQL is not exactly one statement".to_string()),
    }
}

/// The derivations reaching one value, and the source column when the value is
/// that column unchanged.
#[derive(Clone, Debug, Default)]
struct Flow {
    derivations: BTreeSet<Derivation>,
    passthrough: Option<SourceColumn>,
}

impl Flow {
    fn source(table: &str, column: &str) -> Flow {
        let source = SourceColumn {
            table: table.to_string(),
            column: column.to_string(),
        };
        Flow {
            derivations: BTreeSet::from([Derivation {
                source: source.clone(),
                functions: Vec::new(),
            }]),
            passthrough: Some(source),
        }
    }

    /// The value is computed from `self` and `other`, so it is no passthrough.
    fn merge(mut self, other: Flow) -> Flow {
        self.derivations.extend(other.derivations);
        self.passthrough = None;
        self
    }

    /// The value is either `self` or `other` (set operations, FULL JOIN USING keys).
    fn either(mut self, other: Flow) -> Flow {
        if self.passthrough != other.passthrough {
            self.passthrough = None;
        }
        self.derivations.extend(other.derivations);
        self
    }

    fn computed(mut self) -> Flow {
        self.passthrough = None;
        self
    }

    fn through(self, function: &str) -> Flow {
        let derivations = self
            .derivations
            .into_iter()
            .map(|mut derivation| {
                derivation.functions.push(function.to_string());
                derivation
            })
            .collect();
        Flow {
            derivations,
            passthrough: None,
        }
    }

    fn sources(&self) -> impl Iterator<Item = SourceColumn> + '_ {
        self.derivations.iter().map(|d| d.source.clone())
    }
}

#[derive(Clone, Debug)]
struct NamedFlow {
    name: String,
    flow: Flow,
}

impl NamedFlow {
    fn new(name: impl Into<String>, flow: Flow) -> NamedFlow {
        NamedFlow {
            name: name.into(),
            flow,
        }
    }

    fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    fn into_output(self) -> OutputColumn {
        OutputColumn {
            name: self.name,
            computed_from: self.flow.derivations.into_iter().collect(),
            passthrough: self.flow.passthrough,
        }
    }
}

fn flows_of(columns: Vec<NamedFlow>) -> Flow {
    columns
        .into_iter()
        .fold(Flow::default(), |flow, column| flow.merge(column.flow))
}

/// What a FROM item offers to column references.
#[derive(Clone, Debug)]
enum Columns {
    /// A source or table; `declared` is None when its columns are unknown.
    Table {
        table: String,
        declared: Option<Vec<String>>,
    },
    /// A CTE, subquery or aliased table function: exactly these columns.
    Known(Vec<NamedFlow>),
    /// A table function with unknown columns: every column carries this flow.
    Open(Flow),
}

#[derive(Clone, Debug)]
struct Relation {
    /// Shown in gaps.
    label: String,
    /// The qualifiers that name it (`o`, or `orders` and `shop.orders`).
    qualifiers: Vec<Vec<String>>,
    columns: Columns,
}

enum Lookup {
    Found(Flow),
    Maybe(Flow),
    Missing,
}

impl Relation {
    fn lookup(&self, column: &str) -> Lookup {
        match &self.columns {
            Columns::Table {
                table,
                declared: Some(declared),
            } if declared.iter().any(|c| c.eq_ignore_ascii_case(column)) => {
                Lookup::Found(Flow::source(table, column))
            }
            Columns::Table {
                table,
                declared: None,
            } => Lookup::Maybe(Flow::source(table, column)),
            Columns::Table { .. } => Lookup::Missing,
            Columns::Known(columns) => columns
                .iter()
                .find(|c| c.is_named(column))
                .map_or(Lookup::Missing, |c| Lookup::Found(c.flow.clone())),
            Columns::Open(flow) => Lookup::Maybe(flow.clone()),
        }
    }

    /// A qualified reference trusts the qualifier: declared columns may be incomplete.
    fn qualified(&self, column: &str) -> Option<Flow> {
        match (self.lookup(column), &self.columns) {
            (Lookup::Found(flow) | Lookup::Maybe(flow), _) => Some(flow),
            (Lookup::Missing, Columns::Table { table, .. }) => Some(Flow::source(table, column)),
            (Lookup::Missing, _) => None,
        }
    }

    fn is_named(&self, qualifier: &[String]) -> bool {
        self.qualifiers.iter().any(|q| {
            q.len() == qualifier.len()
                && q.iter()
                    .zip(qualifier)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
        })
    }

    /// The columns `*` expands to, None when unknown.
    fn star(&self) -> Option<Vec<NamedFlow>> {
        match &self.columns {
            Columns::Table {
                table,
                declared: Some(declared),
            } => Some(
                declared
                    .iter()
                    .map(|c| NamedFlow::new(c.clone(), Flow::source(table, c)))
                    .collect(),
            ),
            Columns::Known(columns) => Some(columns.clone()),
            Columns::Table { declared: None, .. } | Columns::Open(_) => None,
        }
    }
}

#[derive(Clone, Debug)]
struct UsingColumn {
    name: String,
    full_join: bool,
}

#[derive(Debug)]
struct CteDef {
    name: String,
    columns: Vec<NamedFlow>,
    influences: BTreeSet<SourceColumn>,
}

/// One level of name resolution: a query's CTEs or a SELECT's FROM items,
/// linked to the enclosing level for CTE lookup and correlated references.
#[derive(Default)]
struct Frame<'a> {
    parent: Option<&'a Frame<'a>>,
    ctes: Vec<Rc<CteDef>>,
    relations: Vec<Relation>,
    using: Vec<UsingColumn>,
    windows: &'a [NamedWindowDefinition],
}

impl<'a> Frame<'a> {
    fn child(parent: Option<&'a Frame<'a>>) -> Frame<'a> {
        Frame {
            parent,
            ..Frame::default()
        }
    }

    fn with_relations(parent: &'a Frame<'a>, relations: &[Relation]) -> Frame<'a> {
        Frame {
            relations: relations.to_vec(),
            ..Frame::child(Some(parent))
        }
    }

    fn ancestors(&self) -> impl Iterator<Item = &Frame<'a>> {
        std::iter::successors(Some(self), |frame| frame.parent)
    }

    fn cte(&self, name: &str) -> Option<Rc<CteDef>> {
        self.ancestors().find_map(|frame| {
            frame
                .ctes
                .iter()
                .rev()
                .find(|cte| cte.name.eq_ignore_ascii_case(name))
                .cloned()
        })
    }

    fn relation(&self, qualifier: &[String]) -> Option<&Relation> {
        self.ancestors()
            .find_map(|frame| frame.relations.iter().find(|r| r.is_named(qualifier)))
    }

    fn window(&self, name: &Ident) -> Option<&'a NamedWindowExpr> {
        self.ancestors().find_map(|frame| {
            frame
                .windows
                .iter()
                .find(|NamedWindowDefinition(window, _)| window.value == name.value)
                .map(|NamedWindowDefinition(_, expr)| expr)
        })
    }

    fn using_column(&self, name: &str) -> Option<&UsingColumn> {
        self.using
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name))
    }

    /// The FROM items of the nearest SELECT (lambda frames have none).
    fn nearest_relations(&self) -> &[Relation] {
        self.ancestors()
            .map(|frame| frame.relations.as_slice())
            .find(|relations| !relations.is_empty())
            .unwrap_or_default()
    }
}

/// Where an expression is resolved: its frame, and the SELECT's output columns
/// that clauses after the projection (GROUP BY, ORDER BY...) may name.
#[derive(Clone, Copy)]
struct Scope<'s> {
    frame: &'s Frame<'s>,
    aliases: &'s [NamedFlow],
}

impl<'s> Scope<'s> {
    fn of(frame: &'s Frame<'s>) -> Scope<'s> {
        Scope {
            frame,
            aliases: &[],
        }
    }
}

/// The FROM items of one SELECT as they are read, left to right.
#[derive(Default)]
struct FromItems {
    relations: Vec<Relation>,
    using: Vec<UsingColumn>,
}

struct Analyzer<'c> {
    columns_of: &'c dyn Fn(&str) -> Option<Vec<String>>,
    default_project: Option<&'c str>,
    dialect: SqlDialect,
    influences: BTreeSet<SourceColumn>,
    gaps: Vec<String>,
    columns_complete: bool,
}

impl Analyzer<'_> {
    fn gap(&mut self, gap: String) {
        if !self.gaps.contains(&gap) {
            self.gaps.push(gap);
        }
    }

    /// A gap that also leaves the output columns unknown.
    fn columns_gap(&mut self, gap: String) {
        self.columns_complete = false;
        self.gap(gap);
    }

    fn influence(&mut self, flow: &Flow) {
        self.influences.extend(flow.sources());
    }

    fn influence_expr(&mut self, expr: &Expr, scope: Scope) {
        let flow = self.expr(expr, scope);
        self.influence(&flow);
    }

    // ---- queries ----

    fn query(&mut self, query: &Query, parent: Option<&Frame>) -> Vec<NamedFlow> {
        if !query.pipe_operators.is_empty() {
            self.columns_gap("pipe syntax is not analyzed".to_string());
        }
        let mut frame = Frame::child(parent);
        if let Some(with) = &query.with {
            frame.ctes = self.ctes(with, parent);
        }
        self.body(&query.body, query.order_by.as_ref(), &frame)
    }

    /// Each CTE sees the ones before it; its influences count only where it is read.
    fn ctes(&mut self, with: &With, parent: Option<&Frame>) -> Vec<Rc<CteDef>> {
        let mut defined = Vec::new();
        for cte in &with.cte_tables {
            let frame = Frame {
                ctes: defined.clone(),
                ..Frame::child(parent)
            };
            let outer_influences = std::mem::take(&mut self.influences);
            let columns = if with.recursive {
                self.recursive_cte(cte, &frame)
            } else {
                self.query(&cte.query, Some(&frame))
            };
            defined.push(Rc::new(CteDef {
                name: ident_name(&cte.alias.name),
                columns: renamed(columns, &cte.alias),
                influences: std::mem::replace(&mut self.influences, outer_influences),
            }));
        }
        defined
    }

    /// The recursive part reads the CTE itself, whose columns come from the anchor branch.
    fn recursive_cte(&mut self, cte: &Cte, frame: &Frame) -> Vec<NamedFlow> {
        let SetExpr::SetOperation { left, .. } = cte.query.body.as_ref() else {
            return self.query(&cte.query, Some(frame));
        };
        let anchor = self.body(left, None, frame);
        let provisional = Frame {
            ctes: vec![Rc::new(CteDef {
                name: ident_name(&cte.alias.name),
                columns: renamed(anchor, &cte.alias),
                influences: BTreeSet::new(),
            })],
            ..Frame::child(Some(frame))
        };
        self.query(&cte.query, Some(&provisional))
    }

    fn body(
        &mut self,
        body: &SetExpr,
        order_by: Option<&OrderBy>,
        frame: &Frame,
    ) -> Vec<NamedFlow> {
        let columns = match body {
            SetExpr::Select(select) => return self.select(select, order_by, frame),
            SetExpr::Query(query) => self.query(query, Some(frame)),
            SetExpr::SetOperation {
                left,
                right,
                set_quantifier,
                ..
            } => {
                let left = self.body(left, None, frame);
                let right = self.body(right, None, frame);
                self.set_operation(left, right, set_quantifier)
            }
            SetExpr::Values(values) => self.values(values, frame),
            other => {
                self.columns_gap(format!("query body is not analyzed: {other}"));
                Vec::new()
            }
        };
        if let Some(order_by) = order_by {
            self.order_by_outputs(order_by, &columns, frame);
        }
        columns
    }

    /// Column i derives from column i of each branch (or the same-named column for BY NAME).
    fn set_operation(
        &mut self,
        left: Vec<NamedFlow>,
        right: Vec<NamedFlow>,
        quantifier: &SetQuantifier,
    ) -> Vec<NamedFlow> {
        let by_name = matches!(
            quantifier,
            SetQuantifier::ByName | SetQuantifier::AllByName | SetQuantifier::DistinctByName
        );
        if by_name {
            return union_by_name(left, right);
        }
        if left.len() != right.len() {
            self.gap(format!(
                "set operation branches have {} and {} columns",
                left.len(),
                right.len()
            ));
        }
        let mut right = right.into_iter();
        left.into_iter()
            .map(|column| match right.next() {
                Some(other) => NamedFlow::new(column.name, column.flow.either(other.flow)),
                None => column,
            })
            .collect()
    }

    fn values(&mut self, values: &Values, frame: &Frame) -> Vec<NamedFlow> {
        let width = values.rows.first().map_or(0, |row| row.content.len());
        (0..width)
            .map(|i| {
                let flow = values
                    .rows
                    .iter()
                    .filter_map(|row| row.content.get(i))
                    .fold(Flow::default(), |flow, expr| {
                        flow.merge(self.expr(expr, Scope::of(frame)))
                    });
                NamedFlow::new(format!("col{i}"), flow)
            })
            .collect()
    }

    /// ORDER BY after a set operation names output columns.
    fn order_by_outputs(&mut self, order_by: &OrderBy, outputs: &[NamedFlow], parent: &Frame) {
        let relation = Relation {
            label: "query result".to_string(),
            qualifiers: Vec::new(),
            columns: Columns::Known(outputs.to_vec()),
        };
        let frame = Frame::with_relations(parent, &[relation]);
        self.order_by(order_by, Scope::of(&frame), outputs);
    }

    fn order_by(&mut self, order_by: &OrderBy, scope: Scope, outputs: &[NamedFlow]) {
        match &order_by.kind {
            OrderByKind::All(_) => outputs.iter().for_each(|c| self.influence(&c.flow)),
            OrderByKind::Expressions(exprs) => {
                for order in exprs {
                    self.grouping_or_ordering_expr(&order.expr, scope, outputs);
                }
            }
        }
    }

    /// `GROUP BY 2` / `ORDER BY 2` name the second output column.
    fn grouping_or_ordering_expr(&mut self, expr: &Expr, scope: Scope, outputs: &[NamedFlow]) {
        match output_position(expr).and_then(|i| outputs.get(i)) {
            Some(column) => self.influence(&column.flow),
            None => self.influence_expr(expr, scope),
        }
    }

    // ---- SELECT ----

    fn select(
        &mut self,
        select: &Select,
        order_by: Option<&OrderBy>,
        parent: &Frame,
    ) -> Vec<NamedFlow> {
        let from = self.read_from(&select.from, parent);
        let frame = Frame {
            relations: from.relations,
            using: from.using,
            windows: &select.named_window,
            ..Frame::child(Some(parent))
        };
        if !select.lateral_views.is_empty() {
            self.gap("LATERAL VIEW is not analyzed".to_string());
        }
        let (mut outputs, grouped) = self.projection(select, &frame);
        let scope = Scope {
            frame: &frame,
            aliases: &outputs,
        };
        self.filters(select, scope);
        self.group_by(&select.group_by, scope, &outputs, &grouped);
        if let Some(order_by) = order_by {
            self.order_by(order_by, scope, &outputs);
        }
        if let Some(exclude) = &select.exclude {
            let excluded = excluded_names(exclude);
            outputs.retain(|c| !excluded.iter().any(|name| c.is_named(name)));
        }
        outputs
    }

    fn filters(&mut self, select: &Select, scope: Scope) {
        let conditions = [
            &select.prewhere,
            &select.selection,
            &select.having,
            &select.qualify,
        ];
        for condition in conditions.into_iter().flatten() {
            self.influence_expr(condition, scope);
        }
        if let Some(Distinct::On(exprs)) = &select.distinct {
            exprs.iter().for_each(|e| self.influence_expr(e, scope));
        }
    }

    /// `GROUP BY ALL` groups by every output column without an aggregate.
    fn group_by(
        &mut self,
        group_by: &GroupByExpr,
        scope: Scope,
        outputs: &[NamedFlow],
        grouped: &[bool],
    ) {
        match group_by {
            GroupByExpr::All(_) => {
                for (column, _) in outputs.iter().zip(grouped).filter(|(_, g)| **g) {
                    self.influence(&column.flow);
                }
            }
            GroupByExpr::Expressions(exprs, _) => {
                for expr in exprs {
                    self.grouping_or_ordering_expr(expr, scope, outputs);
                }
            }
        }
    }

    /// The output columns, and for each whether it is a grouping key under `GROUP BY ALL`.
    fn projection(&mut self, select: &Select, frame: &Frame) -> (Vec<NamedFlow>, Vec<bool>) {
        let scope = Scope::of(frame);
        let mut outputs = Vec::new();
        let mut grouped = Vec::new();
        let mut anonymous = 0;
        for item in &select.projection {
            let (columns, is_key) = match item {
                SelectItem::UnnamedExpr(expr) => {
                    let name = self.unaliased_name(expr, &mut anonymous);
                    (
                        vec![NamedFlow::new(name, self.expr(expr, scope))],
                        !has_aggregate(expr),
                    )
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    let flow = self.expr(expr, scope);
                    (
                        vec![NamedFlow::new(ident_name(alias), flow)],
                        !has_aggregate(expr),
                    )
                }
                SelectItem::ExprWithAliases { expr, aliases } => {
                    let flow = self.expr(expr, scope);
                    let columns = aliases
                        .iter()
                        .map(|alias| NamedFlow::new(ident_name(alias), flow.clone()))
                        .collect();
                    (columns, !has_aggregate(expr))
                }
                SelectItem::Wildcard(options) => {
                    let columns = self.star(frame);
                    (self.wildcard_options(columns, options, scope), true)
                }
                SelectItem::QualifiedWildcard(kind, options) => {
                    let columns = self.qualified_star(kind, frame);
                    (self.wildcard_options(columns, options, scope), true)
                }
            };
            grouped.extend(std::iter::repeat_n(is_key, columns.len()));
            outputs.extend(columns);
        }
        (outputs, grouped)
    }

    /// `*` over every FROM item; a USING key appears once.
    fn star(&mut self, frame: &Frame) -> Vec<NamedFlow> {
        let mut columns: Vec<NamedFlow> = Vec::new();
        for relation in &frame.relations {
            for column in self.relation_star(relation) {
                let repeated_key = frame.using_column(&column.name).is_some()
                    && columns.iter().any(|c| c.is_named(&column.name));
                if !repeated_key {
                    columns.push(column);
                }
            }
        }
        columns
    }

    fn relation_star(&mut self, relation: &Relation) -> Vec<NamedFlow> {
        relation.star().unwrap_or_else(|| {
            self.columns_gap(format!(
                "cannot expand `*` over {}: its columns are unknown",
                relation.label
            ));
            Vec::new()
        })
    }

    fn qualified_star(
        &mut self,
        kind: &SelectItemQualifiedWildcardKind,
        frame: &Frame,
    ) -> Vec<NamedFlow> {
        let SelectItemQualifiedWildcardKind::ObjectName(name) = kind else {
            self.columns_gap(format!("cannot expand `{kind}`"));
            return Vec::new();
        };
        match frame.relation(&name_parts(name)) {
            Some(relation) => self.relation_star(relation),
            None => {
                self.columns_gap(format!(
                    "cannot expand `{kind}`: no FROM item is named {name}"
                ));
                Vec::new()
            }
        }
    }

    /// DuckDB `EXCLUDE`/`REPLACE`, BigQuery `EXCEPT`/`REPLACE`, Snowflake `RENAME`.
    fn wildcard_options(
        &mut self,
        mut columns: Vec<NamedFlow>,
        options: &WildcardAdditionalOptions,
        scope: Scope,
    ) -> Vec<NamedFlow> {
        if options.opt_ilike.is_some() {
            self.columns_gap("`* ILIKE` is not analyzed".to_string());
        }
        let mut removed = options
            .opt_exclude
            .as_ref()
            .map(excluded_names)
            .unwrap_or_default();
        if let Some(except) = &options.opt_except {
            removed.extend(
                std::iter::once(&except.first_element)
                    .chain(&except.additional_elements)
                    .map(ident_name),
            );
        }
        columns.retain(|c| !removed.iter().any(|name| c.is_named(name)));
        for element in options.opt_replace.iter().flat_map(|r| &r.items) {
            let name = ident_name(&element.column_name);
            let flow = self.expr(&element.expr, scope);
            if let Some(column) = columns.iter_mut().find(|c| c.is_named(&name)) {
                column.flow = flow;
            }
        }
        if let Some(rename) = &options.opt_rename {
            let renames = match rename {
                sqlparser::ast::RenameSelectItem::Single(one) => std::slice::from_ref(one),
                sqlparser::ast::RenameSelectItem::Multiple(many) => many.as_slice(),
            };
            for rename in renames {
                let from = ident_name(&rename.ident);
                if let Some(column) = columns.iter_mut().find(|c| c.is_named(&from)) {
                    column.name = ident_name(&rename.alias);
                }
            }
        }
        columns
    }

    /// DuckDB names an unaliased expression by its text, BigQuery `f0_`, `f1_`...
    fn unaliased_name(&self, expr: &Expr, anonymous: &mut usize) -> String {
        match expr {
            Expr::Identifier(ident) => ident_name(ident),
            Expr::CompoundIdentifier(parts) => parts.last().map(ident_name).unwrap_or_default(),
            Expr::Nested(inner) => self.unaliased_name(inner, anonymous),
            _ if self.dialect == SqlDialect::BigQuery => {
                *anonymous += 1;
                format!("f{}_", *anonymous - 1)
            }
            Expr::Function(function) if is_count_star(function) => "count_star()".to_string(),
            _ => expr.to_string(),
        }
    }

    // ---- FROM ----

    fn read_from(&mut self, from: &[TableWithJoins], parent: &Frame) -> FromItems {
        let mut items = FromItems::default();
        for table in from {
            self.table_with_joins(table, parent, &mut items);
        }
        items
    }

    fn table_with_joins(&mut self, table: &TableWithJoins, parent: &Frame, items: &mut FromItems) {
        let start = items.relations.len();
        self.table_factor(&table.relation, parent, items);
        for join in &table.joins {
            let right = items.relations.len();
            self.table_factor(&join.relation, parent, items);
            let (constraint, condition, full_join) = join_parts(&join.join_operator);
            let frame = Frame::with_relations(parent, &items.relations);
            if let Some(condition) = condition {
                self.influence_expr(condition, Scope::of(&frame));
            }
            let sides = (start..right, right..items.relations.len());
            self.join_constraint(constraint, sides, full_join, &frame, items);
        }
    }

    fn join_constraint(
        &mut self,
        constraint: Option<&JoinConstraint>,
        (left, right): (Range<usize>, Range<usize>),
        full_join: bool,
        frame: &Frame,
        items: &mut FromItems,
    ) {
        let keys = match constraint {
            Some(JoinConstraint::On(condition)) => {
                self.influence_expr(condition, Scope::of(frame));
                return;
            }
            Some(JoinConstraint::Using(names)) => {
                names.iter().filter_map(|n| name_parts(n).pop()).collect()
            }
            Some(JoinConstraint::Natural) => self.natural_join_keys(
                &items.relations[left.clone()],
                &items.relations[right.clone()],
            ),
            Some(JoinConstraint::None) | None => return,
        };
        for key in keys {
            for side in [left.clone(), right.clone()] {
                for flow in candidates(&items.relations[side], &key).flows() {
                    self.influence(&flow);
                }
            }
            items.using.push(UsingColumn {
                name: key,
                full_join,
            });
        }
    }

    fn natural_join_keys(&mut self, left: &[Relation], right: &[Relation]) -> Vec<String> {
        let names = |relations: &[Relation]| -> Option<Vec<String>> {
            let columns = relations
                .iter()
                .map(Relation::star)
                .collect::<Option<Vec<_>>>()?;
            Some(columns.into_iter().flatten().map(|c| c.name).collect())
        };
        match (names(left), names(right)) {
            (Some(left), Some(right)) => left
                .into_iter()
                .filter(|l| right.iter().any(|r| r.eq_ignore_ascii_case(l)))
                .collect(),
            _ => {
                self.gap("NATURAL JOIN over tables with unknown columns".to_string());
                Vec::new()
            }
        }
    }

    fn table_factor(&mut self, factor: &TableFactor, parent: &Frame, items: &mut FromItems) {
        let lateral = Frame::with_relations(parent, &items.relations);
        let relation = match factor {
            TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } => self.named_table(name, alias.as_ref(), parent),
            TableFactor::Table {
                name,
                alias,
                args: Some(args),
                ..
            } => {
                let flow = self.arguments(&args.args, Scope::of(&lateral));
                table_function(&function_name(name), alias.as_ref(), flow)
            }
            TableFactor::Function {
                name, args, alias, ..
            } => {
                let flow = self.arguments(args, Scope::of(&lateral));
                table_function(&function_name(name), alias.as_ref(), flow)
            }
            TableFactor::TableFunction { expr, alias } => {
                let flow = self.expr(expr, Scope::of(&lateral)).computed();
                table_function("table function", alias.as_ref(), flow)
            }
            TableFactor::Derived {
                lateral: is_lateral,
                subquery,
                alias,
                ..
            } => {
                let frame = if *is_lateral { &lateral } else { parent };
                let columns = self.query(subquery, Some(frame));
                derived_table(columns, alias.as_ref())
            }
            TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset,
                with_offset_alias,
                ..
            } => {
                let flows = array_exprs
                    .iter()
                    .map(|e| self.expr(e, Scope::of(&lateral)).through("unnest"))
                    .collect();
                let offset = with_offset.then(|| {
                    with_offset_alias
                        .as_ref()
                        .map_or("offset".to_string(), ident_name)
                });
                unnest(flows, alias.as_ref(), offset)
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => {
                self.table_with_joins(table_with_joins, parent, items);
                return;
            }
            other => {
                self.gap(format!("FROM item is not analyzed: {other}"));
                table_function("unanalyzed FROM item", None, Flow::default())
            }
        };
        items.relations.push(relation);
    }

    /// A CTE in scope shadows a table of the same name.
    fn named_table(
        &mut self,
        name: &ObjectName,
        alias: Option<&TableAlias>,
        frame: &Frame,
    ) -> Relation {
        let parts = name_parts(name);
        if let [single] = parts.as_slice() {
            if let Some(cte) = frame.cte(single) {
                self.influences.extend(cte.influences.iter().cloned());
                let qualifiers =
                    vec![vec![alias.map_or(cte.name.clone(), |a| ident_name(&a.name))]];
                return Relation {
                    label: format!("CTE {}", cte.name),
                    qualifiers,
                    columns: Columns::Known(
                        alias.map_or(cte.columns.clone(), |a| renamed(cte.columns.clone(), a)),
                    ),
                };
            }
        }
        let table = self.table_name(name);
        let declared =
            (self.columns_of)(&table).map(|cols| cols.iter().map(|c| c.to_lowercase()).collect());
        let qualifiers = match alias {
            Some(alias) => vec![vec![ident_name(&alias.name)]],
            None => (0..parts.len()).map(|i| parts[i..].to_vec()).collect(),
        };
        let mut relation = Relation {
            label: table.clone(),
            qualifiers,
            columns: Columns::Table { table, declared },
        };
        if let Some(alias) = alias.filter(|a| !a.columns.is_empty()) {
            relation.columns = Columns::Known(renamed(self.relation_star(&relation), alias));
        }
        relation
    }

    /// The table's name as the dialect normalizes it, without the default project.
    fn table_name(&self, name: &ObjectName) -> String {
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(ObjectNamePart::as_ident)
            .flat_map(|ident| match ident.quote_style {
                Some('`') => ident.value.split('.').map(str::to_string).collect(),
                None if self.dialect.folds_unquoted_names() => vec![ident.value.to_lowercase()],
                _ => vec![ident.value.clone()],
            })
            .collect();
        match (parts.as_slice(), self.default_project) {
            ([project, dataset, table], Some(default)) if project.eq_ignore_ascii_case(default) => {
                format!("{dataset}.{table}")
            }
            _ => parts.join("."),
        }
    }

    // ---- expressions ----

    fn expr(&mut self, expr: &Expr, scope: Scope) -> Flow {
        match expr {
            Expr::Identifier(ident) => self.unqualified(&ident_name(ident), scope),
            Expr::CompoundIdentifier(parts) => self.compound(parts, scope),
            Expr::Nested(inner) => self.expr(inner, scope),
            Expr::Function(function) => self.function(function, scope),
            Expr::Subquery(query) => self.subquery(query, scope),
            Expr::InSubquery { expr, subquery, .. } => {
                let flow = self.expr(expr, scope);
                flow.merge(self.subquery(subquery, scope))
            }
            Expr::Exists { subquery, .. } => {
                self.subquery(subquery, scope);
                Flow::default()
            }
            Expr::CompoundFieldAccess { root, .. } => self.expr(root, scope).computed(),
            Expr::JsonAccess { value, .. } => self.expr(value, scope).computed(),
            Expr::Lambda(lambda) => self.lambda(lambda, scope),
            other => {
                let flow = self.children(other, scope);
                match function_like_name(other) {
                    Some(name) => flow.through(name),
                    None => flow,
                }
            }
        }
    }

    /// Every other expression is computed from its sub-expressions.
    fn children(&mut self, expr: &Expr, scope: Scope) -> Flow {
        let children = Children::of(expr);
        let mut flow = Flow::default();
        // SAFETY: the pointers were taken from `expr`'s own subtree by the
        // visitor, and `expr` is borrowed (so alive and unchanged) for this call.
        for &child in &children.exprs {
            flow = flow.merge(self.expr(unsafe { &*child }, scope));
        }
        for &query in &children.queries {
            flow = flow.merge(self.subquery(unsafe { &*query }, scope));
        }
        flow.computed()
    }

    fn subquery(&mut self, query: &Query, scope: Scope) -> Flow {
        flows_of(self.query(query, Some(scope.frame)))
    }

    fn lambda(&mut self, lambda: &LambdaFunction, scope: Scope) -> Flow {
        let parameters = lambda
            .params
            .iter()
            .map(|p| NamedFlow::new(ident_name(&p.name), Flow::default()))
            .collect();
        let relation = Relation {
            label: "lambda".to_string(),
            qualifiers: Vec::new(),
            columns: Columns::Known(parameters),
        };
        let frame = Frame::with_relations(scope.frame, &[relation]);
        let scope = Scope {
            frame: &frame,
            aliases: scope.aliases,
        };
        self.expr(&lambda.body, scope).computed()
    }

    fn function(&mut self, function: &Function, scope: Scope) -> Flow {
        let name = function_name(&function.name);
        if name == "columns" {
            self.gap(format!("`{function}` is not analyzed"));
        }
        let mut flow = match &function.args {
            FunctionArguments::None => Flow::default(),
            FunctionArguments::Subquery(query) => self.subquery(query, scope),
            FunctionArguments::List(list) => {
                for clause in &list.clauses {
                    self.argument_clause(clause, scope);
                }
                self.arguments(&list.args, scope)
            }
        };
        for order in &function.within_group {
            flow = flow.merge(self.expr(&order.expr, scope));
        }
        if let Some(filter) = &function.filter {
            self.influence_expr(filter, scope);
        }
        if let Some(window) = &function.over {
            self.window(window, scope);
        }
        flow.through(&name)
    }

    fn arguments(&mut self, args: &[FunctionArg], scope: Scope) -> Flow {
        args.iter()
            .filter_map(argument_expr)
            .fold(Flow::default(), |flow, arg| {
                flow.merge(self.expr(arg, scope))
            })
    }

    fn argument_clause(&mut self, clause: &FunctionArgumentClause, scope: Scope) {
        match clause {
            FunctionArgumentClause::OrderBy(orders) => {
                orders
                    .iter()
                    .for_each(|o| self.influence_expr(&o.expr, scope));
            }
            FunctionArgumentClause::Where(condition) => self.influence_expr(condition, scope),
            _ => {}
        }
    }

    fn window(&mut self, window: &WindowType, scope: Scope) {
        match window {
            WindowType::WindowSpec(spec) => self.window_spec(spec, scope),
            WindowType::NamedWindow(name) => self.named_window(name, scope, 0),
        }
    }

    fn window_spec(&mut self, spec: &WindowSpec, scope: Scope) {
        for expr in spec
            .partition_by
            .iter()
            .chain(spec.order_by.iter().map(|o| &o.expr))
        {
            self.influence_expr(expr, scope);
        }
        if let Some(base) = &spec.window_name {
            self.named_window(base, scope, 0);
        }
    }

    fn named_window(&mut self, name: &Ident, scope: Scope, depth: usize) {
        const MAX_WINDOW_CHAIN: usize = 32;
        match scope.frame.window(name) {
            Some(NamedWindowExpr::WindowSpec(spec)) => self.window_spec(spec, scope),
            Some(NamedWindowExpr::NamedWindow(next)) if depth < MAX_WINDOW_CHAIN => {
                self.named_window(next, scope, depth + 1)
            }
            _ => self.gap(format!("window `{name}` is not defined")),
        }
    }

    // ---- column references ----

    fn compound(&mut self, parts: &[Ident], scope: Scope) -> Flow {
        let names: Vec<String> = parts.iter().map(ident_name).collect();
        for split in (1..names.len()).rev() {
            if let Some(relation) = scope.frame.relation(&names[..split]) {
                let flow = self.qualified(relation, &names[split]);
                let is_whole_column = split + 1 == names.len();
                return if is_whole_column {
                    flow
                } else {
                    flow.computed()
                };
            }
        }
        // `struct_column.field`
        match names.first() {
            Some(column) => self.unqualified(column, scope).computed(),
            None => Flow::default(),
        }
    }

    fn qualified(&mut self, relation: &Relation, column: &str) -> Flow {
        relation.qualified(column).unwrap_or_else(|| {
            self.gap(format!("column `{column}` is not in {}", relation.label));
            Flow::default()
        })
    }

    /// Nearest frame first; in each, a FROM column before a SELECT alias before a column
    /// that a table of unknown columns might have.
    fn unqualified(&mut self, name: &str, scope: Scope) -> Flow {
        let mut aliases = scope.aliases;
        for frame in scope.frame.ancestors() {
            if let Some(flow) = self.unqualified_in(name, frame, aliases) {
                return flow;
            }
            aliases = &[];
        }
        match scope.frame.nearest_relations() {
            [Relation {
                columns: Columns::Table { table, .. },
                ..
            }] => Flow::source(table, name),
            _ => {
                self.gap(format!("column `{name}` is not found in any FROM item"));
                Flow::default()
            }
        }
    }

    fn unqualified_in(&mut self, name: &str, frame: &Frame, aliases: &[NamedFlow]) -> Option<Flow> {
        let alias = aliases.iter().find(|a| a.is_named(name));
        match (candidates(&frame.relations, name), alias) {
            (Candidates::Found(found), _) => Some(self.pick(name, frame, found)),
            (_, Some(alias)) => Some(alias.flow.clone()),
            (Candidates::Maybe(maybe), None) => Some(self.pick(name, frame, maybe)),
            (Candidates::None, None) => None,
        }
    }

    /// Several FROM items offer the column: a USING key is the left one (either for a
    /// FULL JOIN); anything else is ambiguous and attributed to every candidate.
    fn pick(&mut self, name: &str, frame: &Frame, candidates: Vec<(String, Flow)>) -> Flow {
        let full_join = frame.using_column(name).map(|using| using.full_join);
        if candidates.len() > 1 && full_join.is_none() {
            let labels: Vec<&str> = candidates.iter().map(|(label, _)| label.as_str()).collect();
            self.gap(format!(
                "column `{name}` is ambiguous: it may come from {}",
                labels.join(", ")
            ));
        }
        let mut flows = candidates.into_iter().map(|(_, flow)| flow);
        let flow = match full_join {
            Some(false) => flows.next(),
            _ => flows.reduce(Flow::either),
        };
        flow.unwrap_or_default()
    }
}

enum Candidates {
    Found(Vec<(String, Flow)>),
    Maybe(Vec<(String, Flow)>),
    None,
}

impl Candidates {
    fn flows(self) -> Vec<Flow> {
        match self {
            Candidates::Found(c) | Candidates::Maybe(c) => {
                c.into_iter().map(|(_, flow)| flow).collect()
            }
            Candidates::None => Vec::new(),
        }
    }
}

/// The FROM items that have the column, else those that might have it.
fn candidates(relations: &[Relation], name: &str) -> Candidates {
    let mut found = Vec::new();
    let mut maybe = Vec::new();
    for relation in relations {
        match relation.lookup(name) {
            Lookup::Found(flow) => found.push((relation.label.clone(), flow)),
            Lookup::Maybe(flow) => maybe.push((relation.label.clone(), flow)),
            Lookup::Missing => {}
        }
    }
    match (found.is_empty(), maybe.is_empty()) {
        (false, _) => Candidates::Found(found),
        (true, false) => Candidates::Maybe(maybe),
        (true, true) => Candidates::None,
    }
}

fn union_by_name(left: Vec<NamedFlow>, right: Vec<NamedFlow>) -> Vec<NamedFlow> {
    let mut columns = left;
    for column in right {
        match columns.iter_mut().find(|c| c.is_named(&column.name)) {
            Some(existing) => {
                existing.flow = std::mem::take(&mut existing.flow).either(column.flow)
            }
            None => columns.push(column),
        }
    }
    columns
}

/// `AS t(a, b)` renames the first columns.
fn renamed(mut columns: Vec<NamedFlow>, alias: &TableAlias) -> Vec<NamedFlow> {
    for (column, new_name) in columns.iter_mut().zip(&alias.columns) {
        column.name = ident_name(&new_name.name);
    }
    columns
}

fn derived_table(columns: Vec<NamedFlow>, alias: Option<&TableAlias>) -> Relation {
    let label = alias.map_or("subquery".to_string(), |a| {
        format!("subquery {}", ident_name(&a.name))
    });
    Relation {
        label,
        qualifiers: alias
            .map(|a| vec![ident_name(&a.name)])
            .into_iter()
            .collect(),
        columns: Columns::Known(match alias {
            Some(alias) => renamed(columns, alias),
            None => columns,
        }),
    }
}

/// Every column of a table function is computed from its arguments.
fn table_function(name: &str, alias: Option<&TableAlias>, arguments: Flow) -> Relation {
    let flow = arguments.through(name);
    let columns = match alias.filter(|a| !a.columns.is_empty()) {
        Some(alias) => Columns::Known(
            alias
                .columns
                .iter()
                .map(|c| NamedFlow::new(ident_name(&c.name), flow.clone()))
                .collect(),
        ),
        None => Columns::Open(flow),
    };
    let qualifier = alias.map_or(name.to_string(), |a| ident_name(&a.name));
    Relation {
        label: qualifier.clone(),
        qualifiers: vec![vec![qualifier]],
        columns,
    }
}

/// `UNNEST(a, b) AS u(x, y)`, or BigQuery's `UNNEST(tags) AS tag` where the alias names the value.
fn unnest(flows: Vec<Flow>, alias: Option<&TableAlias>, offset: Option<String>) -> Relation {
    let Some(alias) = alias else {
        return table_function(
            "unnest",
            None,
            flows.into_iter().fold(Flow::default(), Flow::merge),
        );
    };
    let names: Vec<String> = if alias.columns.is_empty() {
        vec![ident_name(&alias.name)]
    } else {
        alias.columns.iter().map(|c| ident_name(&c.name)).collect()
    };
    let mut columns: Vec<NamedFlow> = if names.len() == flows.len() {
        names
            .into_iter()
            .zip(flows)
            .map(|(name, flow)| NamedFlow::new(name, flow))
            .collect()
    } else {
        let merged = flows.into_iter().fold(Flow::default(), Flow::merge);
        names
            .into_iter()
            .map(|name| NamedFlow::new(name, merged.clone()))
            .collect()
    };
    columns.extend(offset.map(|name| NamedFlow::new(name, Flow::default())));
    let name = ident_name(&alias.name);
    Relation {
        label: format!("unnest {name}"),
        qualifiers: vec![vec![name]],
        columns: Columns::Known(columns),
    }
}

/// The join's constraint, an extra condition (ASOF), and whether it is a FULL join.
fn join_parts(operator: &JoinOperator) -> (Option<&JoinConstraint>, Option<&Expr>, bool) {
    match operator {
        JoinOperator::FullOuter(c) => (Some(c), None, true),
        JoinOperator::AsOf {
            match_condition,
            constraint,
        } => (Some(constraint), Some(match_condition), false),
        JoinOperator::Join(c)
        | JoinOperator::Inner(c)
        | JoinOperator::Left(c)
        | JoinOperator::LeftOuter(c)
        | JoinOperator::Right(c)
        | JoinOperator::RightOuter(c)
        | JoinOperator::CrossJoin(c)
        | JoinOperator::Semi(c)
        | JoinOperator::LeftSemi(c)
        | JoinOperator::RightSemi(c)
        | JoinOperator::Anti(c)
        | JoinOperator::LeftAnti(c)
        | JoinOperator::RightAnti(c)
        | JoinOperator::StraightJoin(c) => (Some(c), None, false),
        _ => (None, None, false),
    }
}

fn argument_expr(arg: &FunctionArg) -> Option<&Expr> {
    let value = match arg {
        FunctionArg::Named { arg, .. }
        | FunctionArg::ExprNamed { arg, .. }
        | FunctionArg::Unnamed(arg) => arg,
    };
    match value {
        FunctionArgExpr::Expr(expr) => Some(expr),
        _ => None,
    }
}

/// Special syntax that is a function in all but name.
fn function_like_name(expr: &Expr) -> Option<&'static str> {
    match expr {
        Expr::Extract { .. } => Some("extract"),
        Expr::Ceil { .. } => Some("ceil"),
        Expr::Floor { .. } => Some("floor"),
        Expr::Position { .. } => Some("position"),
        Expr::Substring { .. } => Some("substring"),
        Expr::Trim { .. } => Some("trim"),
        Expr::Overlay { .. } => Some("overlay"),
        _ => None,
    }
}

fn output_position(expr: &Expr) -> Option<usize> {
    match expr {
        Expr::Value(value) => match &value.value {
            Value::Number(n, _) => n.parse::<usize>().ok().and_then(|n| n.checked_sub(1)),
            _ => None,
        },
        _ => None,
    }
}

fn excluded_names(exclude: &sqlparser::ast::ExcludeSelectItem) -> Vec<String> {
    let names = match exclude {
        sqlparser::ast::ExcludeSelectItem::Single(one) => std::slice::from_ref(one),
        sqlparser::ast::ExcludeSelectItem::Multiple(many) => many.as_slice(),
    };
    names.iter().filter_map(|n| name_parts(n).pop()).collect()
}

fn ident_name(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// Normalized parts; a backticked `project.dataset.table` counts as three parts.
fn name_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .filter_map(ObjectNamePart::as_ident)
        .flat_map(|ident| match ident.quote_style {
            Some('`') if ident.value.contains('.') => {
                ident.value.split('.').map(str::to_string).collect()
            }
            _ => vec![ident_name(ident)],
        })
        .collect()
}

fn function_name(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => ident.value.to_lowercase(),
            ObjectNamePart::Function(function) => function.name.value.to_lowercase(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn is_count_star(function: &Function) -> bool {
    let FunctionArguments::List(list) = &function.args else {
        return false;
    };
    function_is(&function.name, "count")
        && matches!(
            list.args.as_slice(),
            [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)]
        )
}

/// Sorted, for a binary search.
const AGGREGATES: [&str; 59] = [
    "any_value",
    "approx_count_distinct",
    "approx_quantile",
    "approx_top_count",
    "approx_top_sum",
    "arbitrary",
    "arg_max",
    "arg_min",
    "argmax",
    "argmin",
    "array_agg",
    "array_concat_agg",
    "avg",
    "bit_and",
    "bit_or",
    "bit_xor",
    "bool_and",
    "bool_or",
    "corr",
    "count",
    "count_if",
    "countif",
    "covar_pop",
    "covar_samp",
    "every",
    "favg",
    "first",
    "fsum",
    "geomean",
    "group_concat",
    "histogram",
    "kurtosis",
    "last",
    "list",
    "listagg",
    "logical_and",
    "logical_or",
    "max",
    "max_by",
    "mean",
    "median",
    "min",
    "min_by",
    "mode",
    "percentile_cont",
    "percentile_disc",
    "product",
    "quantile",
    "quantile_cont",
    "quantile_disc",
    "skewness",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "string_agg",
    "sum",
    "var_pop",
    "var_samp",
    "variance",
];

fn is_aggregate(function: &Function) -> bool {
    let distinct = matches!(
        &function.args,
        FunctionArguments::List(list) if list.duplicate_treatment == Some(DuplicateTreatment::Distinct)
    );
    function.over.is_none()
        && (distinct
            || function.filter.is_some()
            || !function.within_group.is_empty()
            || single_part(&function.name).is_some_and(|name| {
                AGGREGATES
                    .binary_search_by(|a| cmp_lowercased(a, name))
                    .is_ok()
            }))
}

/// Whether [`function_name`] of `name` is `lowercase`, without building it:
/// this runs for every function call in every expression.
fn function_is(name: &ObjectName, lowercase: &str) -> bool {
    single_part(name).is_some_and(|value| cmp_lowercased(lowercase, value).is_eq())
}

/// How `lowercase` compares with `name` lowercased, without lowercasing an
/// ASCII name into a new string.
fn cmp_lowercased(lowercase: &str, name: &str) -> std::cmp::Ordering {
    if name.is_ascii() {
        lowercase
            .bytes()
            .cmp(name.bytes().map(|b| b.to_ascii_lowercase()))
    } else {
        lowercase.cmp(name.to_lowercase().as_str())
    }
}

/// The one part of a function's name, as written.
fn single_part(name: &ObjectName) -> Option<&str> {
    match name.0.as_slice() {
        [ObjectNamePart::Identifier(ident)] => Some(&ident.value),
        [ObjectNamePart::Function(function)] => Some(&function.name.value),
        _ => None,
    }
}

/// Whether the expression aggregates at this query level (not inside a subquery).
fn has_aggregate(expr: &Expr) -> bool {
    struct AggregateFinder {
        query_depth: usize,
    }
    impl Visitor for AggregateFinder {
        type Break = ();
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.query_depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.query_depth -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            match expr {
                Expr::Function(f) if self.query_depth == 0 && is_aggregate(f) => {
                    ControlFlow::Break(())
                }
                _ => ControlFlow::Continue(()),
            }
        }
    }
    expr.visit(&mut AggregateFinder { query_depth: 0 })
        .is_break()
}

/// The direct sub-expressions and subqueries of an expression, found with
/// sqlparser's visitor so that every expression kind is covered. The visitor
/// hands out references without the tree's lifetime, so they are kept as
/// pointers into it (cloning each level's subtrees made lineage quadratic).
#[derive(Default)]
struct Children {
    depth: usize,
    query_depth: usize,
    exprs: Vec<*const Expr>,
    queries: Vec<*const Query>,
}

impl Children {
    fn of(expr: &Expr) -> Children {
        let mut children = Children::default();
        let _ = expr.visit(&mut children);
        children
    }

    fn is_direct(&self) -> bool {
        self.depth == 1 && self.query_depth == 0
    }
}

impl Visitor for Children {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if self.is_direct() {
            self.queries.push(std::ptr::from_ref(query));
        }
        self.query_depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.query_depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if self.is_direct() {
            self.exprs.push(std::ptr::from_ref(expr));
        }
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_are_sorted_for_their_binary_search() {
        assert!(AGGREGATES.is_sorted());
        let sum = Function {
            name: ObjectName::from(vec![Ident::new("SUM")]),
            ..count_star()
        };
        assert!(is_aggregate(&sum));
        let upper = Function {
            name: ObjectName::from(vec![Ident::new("UPPER")]),
            ..count_star()
        };
        assert!(!is_aggregate(&upper));
    }

    fn count_star() -> Function {
        let expr = sqlparser::parser::Parser::new(&sqlparser::dialect::DuckDbDialect {})
            .try_with_sql("count(*)")
            .unwrap()
            .parse_expr()
            .unwrap();
        let Expr::Function(function) = expr else {
            panic!("count(*) is a call")
        };
        function
    }

    #[test]
    fn function_is_agrees_with_function_name() {
        for (sql, name) in [
            ("SUM(x)", "sum"),
            ("Count(*)", "count"),
            ("main.sum(x)", "sum"),
            ("\"Sum\"(x)", "sum"),
            ("ÄVG(x)", "ävg"),
            ("f(x)", "sum"),
        ] {
            let expr = sqlparser::parser::Parser::new(&sqlparser::dialect::DuckDbDialect {})
                .try_with_sql(sql)
                .unwrap()
                .parse_expr()
                .unwrap();
            let Expr::Function(function) = expr else {
                panic!("{sql} is a call")
            };
            assert_eq!(
                function_is(&function.name, name),
                function_name(&function.name) == name,
                "{sql}"
            );
        }
    }

    fn declared_columns(table: &str) -> Option<Vec<String>> {
        let columns: &[&str] = match table {
            "shop.orders" => &["id", "user_id", "amount", "status", "created_at"],
            "shop.users" => &["id", "email", "country", "signup_at"],
            "shop.payments" => &["order_id", "amount", "method"],
            "shop.order_items" => &["order_id", "sku", "quantity", "price"],
            "shop.shipments" => &["order_id", "carrier", "shipped_at"],
            "Shop.Users" => &["Email"],
            _ => return None,
        };
        Some(columns.iter().map(|c| c.to_string()).collect())
    }

    /// `name = table.column` for a passthrough, `name <- table.column[f, g], ...` otherwise.
    fn render(column: &OutputColumn) -> String {
        if let Some(source) = &column.passthrough {
            return format!("{} = {}", column.name, render_source(source));
        }
        let derivations: Vec<String> = column
            .computed_from
            .iter()
            .map(|d| match d.functions.as_slice() {
                [] => render_source(&d.source),
                functions => format!("{}[{}]", render_source(&d.source), functions.join(", ")),
            })
            .collect();
        match derivations.as_slice() {
            [] => format!("{} <- nothing", column.name),
            _ => format!("{} <- {}", column.name, derivations.join(", ")),
        }
    }

    fn render_source(source: &SourceColumn) -> String {
        format!("{}.{}", source.table, source.column)
    }

    enum Sql {
        DuckDb(&'static str),
        BigQuery(&'static str),
    }

    fn check(sql: Sql, columns: &[&str], influences: &[&str], gaps: &[&str]) {
        let lineage = match sql {
            Sql::DuckDb(sql) => column_lineage(sql, SqlDialect::DuckDb, None, &declared_columns),
            Sql::BigQuery(sql) => {
                column_lineage(sql, SqlDialect::BigQuery, Some("proj"), &declared_columns)
            }
        };
        let rendered: Vec<String> = lineage.columns.iter().map(render).collect();
        assert_eq!(rendered, columns, "columns");
        let rendered: Vec<String> = lineage.influences.iter().map(render_source).collect();
        assert_eq!(rendered, influences, "influences");
        assert_eq!(lineage.gaps.len(), gaps.len(), "gaps: {:?}", lineage.gaps);
        for (gap, expected) in lineage.gaps.iter().zip(gaps) {
            assert!(
                gap.contains(expected),
                "gap {gap:?} should mention {expected:?}"
            );
        }
        for column in &lineage.columns {
            if let Some(source) = &column.passthrough {
                let unchanged = Derivation {
                    source: source.clone(),
                    functions: Vec::new(),
                };
                assert_eq!(
                    column.computed_from,
                    [unchanged],
                    "a passthrough derives from its source alone"
                );
            }
        }
    }

    /// Each case becomes a test named for the behaviour it pins down.
    macro_rules! lineage_cases {
        ($($name:ident: $sql:expr => columns $columns:expr, influences $influences:expr, gaps $gaps:expr;)*) => {
            $(
                #[test]
                fn $name() {
                    check($sql, &$columns, &$influences, &$gaps);
                }
            )*
        };
    }

    const NONE: [&str; 0] = [];

    lineage_cases! {
        plain_projection_passes_columns_through_under_their_aliases:
            Sql::DuckDb(r#"SELECT id AS order_id, amount, status AS "State" FROM shop.orders"#)
            => columns ["order_id = shop.orders.id", "amount = shop.orders.amount", "State = shop.orders.status"],
            influences NONE, gaps NONE;

        qualified_and_unqualified_columns_name_the_same_source:
            Sql::DuckDb("SELECT orders.id, shop.orders.amount, status FROM shop.orders")
            => columns ["id = shop.orders.id", "amount = shop.orders.amount", "status = shop.orders.status"],
            influences NONE, gaps NONE;

        quoted_identifiers_keep_their_case:
            Sql::DuckDb(r#"SELECT "Email" AS "E" FROM "Shop"."Users""#)
            => columns ["E = Shop.Users.Email"], influences NONE, gaps NONE;

        joined_tables_resolve_through_their_aliases:
            Sql::DuckDb("SELECT o.id AS order_id, u.email FROM shop.orders AS o JOIN shop.users u ON o.user_id = u.id")
            => columns ["order_id = shop.orders.id", "email = shop.users.email"],
            influences ["shop.orders.user_id", "shop.users.id"], gaps NONE;

        unqualified_columns_in_a_join_resolve_by_declared_columns:
            Sql::DuckDb("SELECT email, amount, country FROM shop.orders o LEFT JOIN shop.users u ON o.user_id = u.id")
            => columns ["email = shop.users.email", "amount = shop.orders.amount", "country = shop.users.country"],
            influences ["shop.orders.user_id", "shop.users.id"], gaps NONE;

        using_keys_are_influences_and_resolve_to_the_left_table:
            Sql::DuckDb("SELECT order_id, sku, carrier FROM shop.order_items JOIN shop.shipments USING (order_id)")
            => columns ["order_id = shop.order_items.order_id", "sku = shop.order_items.sku", "carrier = shop.shipments.carrier"],
            influences ["shop.order_items.order_id", "shop.shipments.order_id"], gaps NONE;

        ambiguous_unqualified_column_is_a_gap_attributed_to_every_candidate:
            Sql::DuckDb("SELECT amount FROM shop.orders o JOIN shop.payments p ON o.id = p.order_id")
            => columns ["amount <- shop.orders.amount, shop.payments.amount"],
            influences ["shop.orders.id", "shop.payments.order_id"], gaps ["`amount` is ambiguous"];

        unqualified_column_over_two_unknown_tables_is_a_gap:
            Sql::DuckDb("SELECT url FROM events.clicks c JOIN events.views v ON c.session_id = v.session_id")
            => columns ["url <- events.clicks.url, events.views.url"],
            influences ["events.clicks.session_id", "events.views.session_id"], gaps ["`url` is ambiguous"];

        a_single_unknown_table_owns_every_unqualified_column:
            Sql::DuckDb("SELECT url, user_id FROM events.clicks WHERE url IS NOT NULL")
            => columns ["url = events.clicks.url", "user_id = events.clicks.user_id"],
            influences ["events.clicks.url"], gaps NONE;

        two_level_cte_chain_maps_to_the_underlying_source:
            Sql::DuckDb("WITH paid AS (SELECT id, user_id, amount FROM shop.orders WHERE status = 'paid'), \
                         per_user AS (SELECT user_id, sum(amount) AS total FROM paid GROUP BY user_id) \
                         SELECT user_id, total FROM per_user")
            => columns ["user_id = shop.orders.user_id", "total <- shop.orders.amount[sum]"],
            influences ["shop.orders.status", "shop.orders.user_id"], gaps NONE;

        three_level_cte_chain_concatenates_functions_innermost_first:
            Sql::DuckDb("WITH a AS (SELECT id, lower(email) AS e FROM shop.users), \
                         b AS (SELECT id, sha256(e) AS h FROM a WHERE id > 0), \
                         c AS (SELECT h FROM b) \
                         SELECT upper(h) AS email_hash FROM c")
            => columns ["email_hash <- shop.users.email[lower, sha256, upper]"],
            influences ["shop.users.id"], gaps NONE;

        cte_shadows_a_table_of_the_same_name:
            Sql::DuckDb("WITH users AS (SELECT id, country FROM shop.users WHERE country <> 'FR') SELECT u.country FROM users AS u")
            => columns ["country = shop.users.country"], influences ["shop.users.country"], gaps NONE;

        cte_body_reads_the_table_it_shadows:
            Sql::DuckDb("WITH orders AS (SELECT id, amount * 100 AS cents FROM orders) SELECT cents FROM orders")
            => columns ["cents <- orders.amount"], influences NONE, gaps NONE;

        unused_cte_adds_no_influences:
            Sql::DuckDb("WITH unused AS (SELECT id FROM shop.users WHERE country = 'FR') SELECT id FROM shop.orders")
            => columns ["id = shop.orders.id"], influences NONE, gaps NONE;

        recursive_cte_takes_its_columns_from_the_anchor:
            Sql::DuckDb("WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 10) SELECT n FROM t")
            => columns ["n <- nothing"], influences NONE, gaps NONE;

        subquery_in_from_is_resolved_through_its_alias:
            Sql::DuckDb("SELECT big.id, big.doubled FROM (SELECT id, amount * 2 AS doubled FROM shop.orders WHERE amount > 100) AS big")
            => columns ["id = shop.orders.id", "doubled <- shop.orders.amount"],
            influences ["shop.orders.amount"], gaps NONE;

        subqueries_joined_using_a_renamed_key:
            Sql::DuckDb("SELECT user_id, total, email \
                         FROM (SELECT user_id, sum(amount) AS total FROM shop.orders GROUP BY user_id) t \
                         JOIN (SELECT id AS user_id, email FROM shop.users) u USING (user_id)")
            => columns ["user_id = shop.orders.user_id", "total <- shop.orders.amount[sum]", "email = shop.users.email"],
            influences ["shop.orders.user_id", "shop.users.id"], gaps NONE;

        aggregates_are_functions_and_group_keys_are_influences:
            Sql::DuckDb("SELECT user_id, sum(amount) AS total, count(DISTINCT status) AS statuses, \
                         min(created_at) AS first_at, max(created_at) AS last_at FROM shop.orders GROUP BY user_id")
            => columns ["user_id = shop.orders.user_id", "total <- shop.orders.amount[sum]",
                        "statuses <- shop.orders.status[count]", "first_at <- shop.orders.created_at[min]",
                        "last_at <- shop.orders.created_at[max]"],
            influences ["shop.orders.user_id"], gaps NONE;

        count_distinct_derives_from_the_counted_column:
            Sql::DuckDb("SELECT COUNT(DISTINCT user_id) AS buyers FROM shop.orders")
            => columns ["buyers <- shop.orders.user_id[count]"], influences NONE, gaps NONE;

        count_star_derives_from_nothing_and_is_named_like_duckdb:
            Sql::DuckDb("SELECT count(*) AS n, count(*) FROM shop.orders")
            => columns ["n <- nothing", "count_star() <- nothing"], influences NONE, gaps NONE;

        aggregate_filter_and_ordering_columns_are_influences:
            Sql::DuckDb("SELECT count(*) FILTER (WHERE status = 'paid') AS paid, \
                         string_agg(CAST(id AS VARCHAR), ',' ORDER BY created_at) AS ids FROM shop.orders")
            => columns ["paid <- nothing", "ids <- shop.orders.id[string_agg]"],
            influences ["shop.orders.created_at", "shop.orders.status"], gaps NONE;

        case_is_computed_from_all_its_inputs_without_a_function:
            Sql::DuckDb("SELECT CASE WHEN status = 'refunded' THEN -amount WHEN user_id IS NULL THEN 0 ELSE amount END AS net FROM shop.orders")
            => columns ["net <- shop.orders.amount, shop.orders.status, shop.orders.user_id"],
            influences NONE, gaps NONE;

        cast_is_an_expression_not_a_function_nor_a_passthrough:
            Sql::DuckDb("SELECT CAST(amount AS BIGINT) AS whole, amount::VARCHAR AS label FROM shop.orders")
            => columns ["whole <- shop.orders.amount", "label <- shop.orders.amount"], influences NONE, gaps NONE;

        arithmetic_over_two_tables_derives_from_both:
            Sql::DuckDb("SELECT o.amount - p.amount AS outstanding FROM shop.orders o JOIN shop.payments p ON p.order_id = o.id")
            => columns ["outstanding <- shop.orders.amount, shop.payments.amount"],
            influences ["shop.orders.id", "shop.payments.order_id"], gaps NONE;

        nested_functions_are_listed_innermost_first:
            Sql::DuckDb("SELECT sha256(lower(trim(email))) AS email_key FROM shop.users")
            => columns ["email_key <- shop.users.email[trim, lower, sha256]"], influences NONE, gaps NONE;

        extract_counts_as_a_function:
            Sql::DuckDb("SELECT EXTRACT(year FROM created_at) AS y FROM shop.orders")
            => columns ["y <- shop.orders.created_at[extract]"], influences NONE, gaps NONE;

        literals_have_no_sources:
            Sql::DuckDb("SELECT 1 AS one, 'x' AS label, NULL AS missing, current_date AS today FROM shop.orders")
            => columns ["one <- nothing", "label <- nothing", "missing <- nothing", "today <- nothing"],
            influences NONE, gaps NONE;

        row_number_is_computed_from_nothing_and_its_window_columns_are_influences:
            Sql::DuckDb("SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY created_at) AS nth FROM shop.orders")
            => columns ["id = shop.orders.id", "nth <- nothing"],
            influences ["shop.orders.created_at", "shop.orders.user_id"], gaps NONE;

        windowed_sum_derives_from_its_argument:
            Sql::DuckDb("SELECT sum(amount) OVER (PARTITION BY user_id ORDER BY created_at \
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running FROM shop.orders")
            => columns ["running <- shop.orders.amount[sum]"],
            influences ["shop.orders.created_at", "shop.orders.user_id"], gaps NONE;

        named_window_columns_are_influences:
            Sql::DuckDb("SELECT rank() OVER w AS r FROM shop.orders WINDOW w AS (PARTITION BY status ORDER BY amount DESC)")
            => columns ["r <- nothing"], influences ["shop.orders.amount", "shop.orders.status"], gaps NONE;

        union_all_output_derives_from_every_branch_and_is_named_by_the_first:
            Sql::DuckDb("SELECT id, amount FROM shop.orders UNION ALL SELECT order_id, amount FROM shop.payments")
            => columns ["id <- shop.orders.id, shop.payments.order_id", "amount <- shop.orders.amount, shop.payments.amount"],
            influences NONE, gaps NONE;

        union_of_the_same_column_stays_a_passthrough:
            Sql::DuckDb("SELECT id FROM shop.orders WHERE status = 'a' UNION SELECT id FROM shop.orders WHERE status = 'b' ORDER BY id")
            => columns ["id = shop.orders.id"], influences ["shop.orders.id", "shop.orders.status"], gaps NONE;

        except_derives_from_both_branches:
            Sql::DuckDb("SELECT user_id FROM shop.orders EXCEPT SELECT id FROM shop.users WHERE country = 'FR'")
            => columns ["user_id <- shop.orders.user_id, shop.users.id"], influences ["shop.users.country"], gaps NONE;

        union_by_name_matches_columns_by_name:
            Sql::DuckDb("SELECT id, amount FROM shop.orders UNION ALL BY NAME SELECT amount, order_id AS id FROM shop.payments")
            => columns ["id <- shop.orders.id, shop.payments.order_id", "amount <- shop.orders.amount, shop.payments.amount"],
            influences NONE, gaps NONE;

        select_star_expands_declared_columns:
            Sql::DuckDb("SELECT * FROM shop.users")
            => columns ["id = shop.users.id", "email = shop.users.email", "country = shop.users.country", "signup_at = shop.users.signup_at"],
            influences NONE, gaps NONE;

        qualified_star_expands_one_table:
            Sql::DuckDb("SELECT o.*, u.email FROM shop.orders o JOIN shop.users u ON u.id = o.user_id")
            => columns ["id = shop.orders.id", "user_id = shop.orders.user_id", "amount = shop.orders.amount",
                        "status = shop.orders.status", "created_at = shop.orders.created_at", "email = shop.users.email"],
            influences ["shop.orders.user_id", "shop.users.id"], gaps NONE;

        star_over_a_using_join_lists_the_key_once:
            Sql::DuckDb("SELECT * FROM shop.order_items JOIN shop.shipments USING (order_id)")
            => columns ["order_id = shop.order_items.order_id", "sku = shop.order_items.sku", "quantity = shop.order_items.quantity",
                        "price = shop.order_items.price", "carrier = shop.shipments.carrier", "shipped_at = shop.shipments.shipped_at"],
            influences ["shop.order_items.order_id", "shop.shipments.order_id"], gaps NONE;

        star_exclude_drops_columns:
            Sql::DuckDb("SELECT * EXCLUDE (email, signup_at) FROM shop.users")
            => columns ["id = shop.users.id", "country = shop.users.country"], influences NONE, gaps NONE;

        star_replace_recomputes_a_column_in_place:
            Sql::DuckDb("SELECT * REPLACE (sha256(email) AS email) FROM shop.users")
            => columns ["id = shop.users.id", "email <- shop.users.email[sha256]", "country = shop.users.country", "signup_at = shop.users.signup_at"],
            influences NONE, gaps NONE;

        bigquery_star_except_drops_columns_of_a_default_project_table:
            Sql::BigQuery("SELECT * EXCEPT (email) FROM `proj.shop.users`")
            => columns ["id = shop.users.id", "country = shop.users.country", "signup_at = shop.users.signup_at"],
            influences NONE, gaps NONE;

        bigquery_table_in_another_project_keeps_three_parts:
            Sql::BigQuery("SELECT id FROM `other.shop.users`")
            => columns ["id = other.shop.users.id"], influences NONE, gaps NONE;

        bigquery_names_unaliased_expressions_f0_f1:
            Sql::BigQuery("SELECT id, UPPER(email), LOWER(email) FROM proj.shop.users")
            => columns ["id = shop.users.id", "f0_ <- shop.users.email[upper]", "f1_ <- shop.users.email[lower]"],
            influences NONE, gaps NONE;

        bigquery_unnest_value_is_derived_from_the_array:
            Sql::BigQuery("SELECT u.id, tag FROM `proj.shop.users` AS u, UNNEST(u.tags) AS tag")
            => columns ["id = shop.users.id", "tag <- shop.users.tags[unnest]"], influences NONE, gaps NONE;

        group_by_all_groups_by_the_non_aggregated_columns:
            Sql::DuckDb("SELECT country, date_trunc('month', signup_at) AS month, count(*) AS n FROM shop.users GROUP BY ALL")
            => columns ["country = shop.users.country", "month <- shop.users.signup_at[date_trunc]", "n <- nothing"],
            influences ["shop.users.country", "shop.users.signup_at"], gaps NONE;

        group_by_position_and_order_by_alias_are_influences:
            Sql::DuckDb("SELECT lower(country) AS c, count(email) AS n FROM shop.users GROUP BY 1 ORDER BY n DESC")
            => columns ["c <- shop.users.country[lower]", "n <- shop.users.email[count]"],
            influences ["shop.users.country", "shop.users.email"], gaps NONE;

        group_by_alias_wins_over_a_column_an_unknown_table_might_have:
            Sql::DuckDb("SELECT lower(url) AS page, count(*) AS hits FROM events.clicks GROUP BY page")
            => columns ["page <- events.clicks.url[lower]", "hits <- nothing"],
            influences ["events.clicks.url"], gaps NONE;

        where_having_and_qualify_columns_are_influences:
            Sql::DuckDb("SELECT user_id, sum(amount) AS total FROM shop.orders WHERE status = 'paid' GROUP BY user_id \
                         HAVING max(created_at) > DATE '2024-01-01' QUALIFY row_number() OVER (ORDER BY id) <= 10")
            => columns ["user_id = shop.orders.user_id", "total <- shop.orders.amount[sum]"],
            influences ["shop.orders.created_at", "shop.orders.id", "shop.orders.status", "shop.orders.user_id"], gaps NONE;

        scalar_subquery_contributes_its_selected_column:
            Sql::DuckDb("SELECT u.id, (SELECT max(o.amount) FROM shop.orders o WHERE o.user_id = u.id) AS largest FROM shop.users u")
            => columns ["id = shop.users.id", "largest <- shop.orders.amount[max]"],
            influences ["shop.orders.user_id", "shop.users.id"], gaps NONE;

        exists_subquery_columns_are_influences:
            Sql::DuckDb("SELECT id FROM shop.users u WHERE EXISTS (SELECT 1 FROM shop.orders o WHERE o.user_id = u.id AND o.status = 'paid')")
            => columns ["id = shop.users.id"],
            influences ["shop.orders.status", "shop.orders.user_id", "shop.users.id"], gaps NONE;

        in_subquery_columns_are_influences:
            Sql::DuckDb("SELECT id FROM shop.orders WHERE user_id IN (SELECT id FROM shop.users WHERE country = 'FR')")
            => columns ["id = shop.orders.id"],
            influences ["shop.orders.user_id", "shop.users.country", "shop.users.id"], gaps NONE;

        struct_field_derives_from_its_column_without_passing_it_through:
            Sql::DuckDb("SELECT c.payload.device AS device FROM events.clicks c")
            => columns ["device <- events.clicks.payload"], influences NONE, gaps NONE;

        lambda_parameters_are_not_columns:
            Sql::DuckDb("SELECT list_transform(tags, t -> upper(t)) AS upper_tags FROM events.clicks")
            => columns ["upper_tags <- events.clicks.tags[list_transform]"], influences NONE, gaps NONE;

        table_function_columns_have_no_table_source:
            Sql::DuckDb("SELECT range AS n FROM range(10)")
            => columns ["n <- nothing"], influences NONE, gaps NONE;

        values_columns_have_no_source:
            Sql::DuckDb("SELECT n, label FROM (VALUES (1, 'a'), (2, 'b')) AS v(n, label)")
            => columns ["n <- nothing", "label <- nothing"], influences NONE, gaps NONE;

        star_over_a_table_of_unknown_columns_is_a_gap:
            Sql::DuckDb("SELECT * FROM events.clicks")
            => columns NONE, influences NONE, gaps ["cannot expand `*` over events.clicks"];

        star_over_a_table_function_of_unknown_columns_is_a_gap:
            Sql::DuckDb("SELECT * FROM read_parquet('clicks.parquet')")
            => columns NONE, influences NONE, gaps ["cannot expand `*` over read_parquet"];

        unparseable_sql_is_a_gap_with_no_columns:
            Sql::DuckDb("SELECT amount FROM WHERE (")
            => columns NONE, influences NONE, gaps ["does not parse"];

        a_statement_that_is_not_a_query_is_a_gap:
            Sql::DuckDb("DELETE FROM shop.orders")
            => columns NONE, influences NONE, gaps ["not a query"];
    }
}
