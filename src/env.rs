//! Environments: production, or a named copy beside it (SPEC §2, §9).
//!
//! An environment decides where a table physically lives: `dataset.table` in
//! production, `<env>__dataset.table` anywhere else. Sources are shared by every
//! environment and always read from production. This module is the one place
//! that knows the production environment's name.

use crate::name::TableName;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Env {
    Prod,
    /// A shadow or development copy; never `prod`.
    Named(String),
}

impl Env {
    const PROD: &'static str = "prod";
    const SHADOW: &'static str = "shadow_";

    /// An environment by name: letters, digits and `_` (it prefixes datasets).
    pub fn parse(name: &str) -> Result<Env, String> {
        if name == Env::PROD {
            return Ok(Env::Prod);
        }
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(format!(
                "`{name}` is not an environment name; use letters, digits and _"
            ));
        }
        Ok(Env::Named(name.to_string()))
    }

    /// The environment `derived ci` builds a change into: `shadow_<commit>`
    /// (its first 7 characters), or `shadow_worktree` for uncommitted definitions.
    pub fn shadow(commit: Option<&str>) -> Env {
        let suffix = commit.map_or("worktree", |c| &c[..c.len().min(7)]);
        Env::Named(format!("{}{suffix}", Env::SHADOW))
    }

    /// A shadow environment of `derived ci`, by its name.
    pub fn is_shadow(name: &str) -> bool {
        name.starts_with(Env::SHADOW)
    }

    pub fn name(&self) -> &str {
        match self {
            Env::Prod => Env::PROD,
            Env::Named(name) => name,
        }
    }

    pub fn is_prod(&self) -> bool {
        *self == Env::Prod
    }

    /// The schema (BigQuery dataset) that holds `dataset` in this environment.
    pub fn schema(&self, dataset: &str) -> String {
        match self {
            Env::Prod => dataset.to_string(),
            Env::Named(name) => format!("{name}__{dataset}"),
        }
    }
}

impl fmt::Display for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// Where a table lives in one environment: `dataset` in prod, `<env>__dataset`
/// elsewhere. Each warehouse spells it in its own SQL (`warehouse::Dialect`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhysicalName {
    pub schema: String,
    pub table: String,
}

impl PhysicalName {
    pub fn of(name: &TableName, env: &Env) -> PhysicalName {
        PhysicalName {
            schema: env.schema(name.dataset()),
            table: name.table().to_string(),
        }
    }

    /// Where a source (or any production table) lives.
    pub fn prod(name: &TableName) -> PhysicalName {
        PhysicalName::of(name, &Env::Prod)
    }
}

impl fmt::Display for PhysicalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_keeps_datasets_and_others_prefix_them() {
        assert_eq!(Env::parse("prod").unwrap().schema("core"), "core");
        assert_eq!(Env::parse("ci_42").unwrap().schema("core"), "ci_42__core");
        assert_eq!(
            Env::shadow(Some("0123456789abcdef0123")).name(),
            "shadow_0123456"
        );
        assert_eq!(Env::shadow(None).name(), "shadow_worktree");
        assert!(Env::parse("a b").is_err());
    }
}
