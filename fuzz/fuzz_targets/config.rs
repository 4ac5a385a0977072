//! The `derived.yml` loader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = derived::project::config::load(Path::new("/fuzz"), Path::new("/fuzz/derived.yml"), text);
});
