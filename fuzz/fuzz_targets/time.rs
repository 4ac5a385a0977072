//! Duration, schedule and timestamp parsing, and interval arithmetic on what parses.
#![no_main]

use derived::time::{parse_timestamp, Duration, Schedule};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Duration::parse(text);
    let _ = Schedule::parse(text);
    if let Ok(t) = parse_timestamp(text) {
        for schedule in [Schedule::Hourly, Schedule::Daily, Schedule::Weekly, Schedule::Monthly] {
            if t.timestamp().abs() < 10_000_000_000 {
                let start = schedule.floor(t);
                let _ = schedule.intervals(start, start + chrono::Duration::days(40));
                let _ = schedule.last_interval(start, t);
            }
        }
    }
});
