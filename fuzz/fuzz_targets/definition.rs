//! A definition file (YAML, templates, SQL) through the whole loader and DAG.
#![no_main]

use derived::project::load::{load_from, InMemory};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let root = Path::new("/fuzz");
    let mut files = HashMap::new();
    files.insert(root.join("tables/t.yml"), text.to_string());
    files.insert(root.join("tables/raw.yml"), "name: raw.events\nkind: source\ntime_column: ts\n".to_string());
    files.insert(root.join("tables/q.sql"), "SELECT * FROM raw.events".to_string());
    let project = load_from(root, &InMemory { files });
    let _ = derived::dag::Dag::build(&project);
});
