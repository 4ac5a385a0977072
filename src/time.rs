//! Time model: durations, schedules and half-open intervals, all in UTC.
//!
//! Every scheduling decision is made on these types, so they are parsed once
//! and cannot hold a wrong state (an `Interval` always has `start < end`).

use chrono::{DateTime, Datelike, Duration as ChronoDuration, NaiveDate, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

pub type Timestamp = DateTime<Utc>;

/// A length of time written as `30s`, `15m`, `1h`, `1d` or `7d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Duration {
    seconds: i64,
}

impl Duration {
    pub fn from_seconds(seconds: i64) -> Duration {
        Duration { seconds }
    }

    pub fn seconds(self) -> i64 {
        self.seconds
    }

    pub fn chrono(self) -> ChronoDuration {
        ChronoDuration::seconds(self.seconds)
    }

    /// A positive duration: `15m`, `1h`, `1d`, `7d`.
    pub fn parse(text: &str) -> Result<Duration, String> {
        match Duration::parse_allowing_zero(text)? {
            d if d.seconds == 0 => Err(format!("`{}` must be longer than zero", text.trim())),
            d => Ok(d),
        }
    }

    /// A duration where zero means none (a lag, a lateness; SPEC §10.2).
    pub fn parse_allowing_zero(text: &str) -> Result<Duration, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let count: i64 = digits.parse().map_err(|_| {
            format!("`{text}` is not a duration; write a number and a unit, like 15m, 1h, 1d or 7d")
        })?;
        let unit_seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => {
                return Err(format!(
                    "`{text}` has an unknown unit `{unit}`; use s, m, h, d or w (e.g. 15m, 1h, 7d)"
                ))
            }
        };
        count
            .checked_mul(unit_seconds)
            .map(Duration::from_seconds)
            .ok_or_else(|| format!("`{text}` is too long"))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.seconds;
        match s {
            _ if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            _ if s % 3_600 == 0 => write!(f, "{}h", s / 3_600),
            _ if s % 60 == 0 => write!(f, "{}m", s / 60),
            _ => write!(f, "{s}s"),
        }
    }
}

/// How often a table gets a new interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Hourly,
    Daily,
    /// Weeks start on Monday 00:00 UTC.
    Weekly,
    Monthly,
}

impl Schedule {
    pub const ALL: [&'static str; 4] = ["hourly", "daily", "weekly", "monthly"];

    pub fn parse(text: &str) -> Option<Schedule> {
        match text {
            "hourly" => Some(Schedule::Hourly),
            "daily" => Some(Schedule::Daily),
            "weekly" => Some(Schedule::Weekly),
            "monthly" => Some(Schedule::Monthly),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Schedule::Hourly => "hourly",
            Schedule::Daily => "daily",
            Schedule::Weekly => "weekly",
            Schedule::Monthly => "monthly",
        }
    }

    /// The start of the period that contains `t`.
    pub fn floor(self, t: Timestamp) -> Timestamp {
        let day = t.date_naive();
        match self {
            Schedule::Hourly => utc(day, t.hour()),
            Schedule::Daily => utc(day, 0),
            Schedule::Weekly => {
                let back = day.weekday().num_days_from_monday() as i64;
                utc(day - ChronoDuration::days(back), 0)
            }
            Schedule::Monthly => utc(day.with_day(1).expect("day 1 exists"), 0),
        }
    }

    pub fn is_aligned(self, t: Timestamp) -> bool {
        self.floor(t) == t
    }

    /// The start of the period after the one that starts at `t` (which must be aligned).
    pub fn next(self, t: Timestamp) -> Timestamp {
        match self {
            Schedule::Hourly => t + ChronoDuration::hours(1),
            Schedule::Daily => t + ChronoDuration::days(1),
            Schedule::Weekly => t + ChronoDuration::days(7),
            Schedule::Monthly => {
                let d = t.date_naive();
                let (y, m) = if d.month() == 12 {
                    (d.year() + 1, 1)
                } else {
                    (d.year(), d.month() + 1)
                };
                utc(NaiveDate::from_ymd_opt(y, m, 1).expect("valid month"), 0)
            }
        }
    }

    /// The nominal length of one period (a month counts as 31 days, the longest).
    pub fn period(self) -> Duration {
        Duration::from_seconds(match self {
            Schedule::Hourly => 3_600,
            Schedule::Daily => 86_400,
            Schedule::Weekly => 7 * 86_400,
            Schedule::Monthly => 31 * 86_400,
        })
    }

    /// The interval that starts at the aligned time `t`.
    pub fn interval_at(self, t: Timestamp) -> Interval {
        Interval::new(t, self.next(t)).expect("a period is never empty")
    }

    /// Every interval from `start` (aligned) whose end is at or before `until`.
    pub fn intervals(self, start: Timestamp, until: Timestamp) -> Vec<Interval> {
        let mut out = Vec::new();
        let mut s = start;
        loop {
            let e = self.next(s);
            if e > until {
                return out;
            }
            out.push(Interval { start: s, end: e });
            s = e;
        }
    }

    /// The last interval from `start` whose end is at or before `until`.
    pub fn last_interval(self, start: Timestamp, until: Timestamp) -> Option<Interval> {
        if until < self.next(start) {
            return None;
        }
        let mut s = self.floor(until);
        if self.next(s) > until {
            s = self.floor(s - ChronoDuration::seconds(1));
        }
        Some(self.interval_at(s.max(start)))
    }
}

fn utc(day: NaiveDate, hour: u32) -> Timestamp {
    Utc.from_utc_datetime(&day.and_hms_opt(hour, 0, 0).expect("valid hour"))
}

/// A half-open time range `[start, end)` with `start < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Interval {
    #[serde(with = "micros")]
    start: Timestamp,
    #[serde(with = "micros")]
    end: Timestamp,
}

impl Interval {
    /// The interval `[start, end)`; None unless `start < end`.
    pub fn new(start: Timestamp, end: Timestamp) -> Option<Interval> {
        (start < end).then_some(Interval { start, end })
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// The smallest interval holding both.
    pub fn span(&self, other: &Interval) -> Interval {
        Interval {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn overlaps(&self, other: &Interval) -> bool {
        self.start < other.end && other.start < self.end
    }

    pub fn contains(&self, other: &Interval) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", format_ts(self.start), format_ts(self.end))
    }
}

/// A sorted set of disjoint intervals; adjacent ranges are merged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntervalSet {
    ranges: Vec<Interval>,
}

impl IntervalSet {
    pub fn insert(&mut self, interval: Interval) {
        let at = self.ranges.partition_point(|r| r.end < interval.start);
        let mut merged = interval;
        let mut until = at;
        while until < self.ranges.len() && self.ranges[until].start <= merged.end {
            merged.start = merged.start.min(self.ranges[until].start);
            merged.end = merged.end.max(self.ranges[until].end);
            until += 1;
        }
        self.ranges.splice(at..until, [merged]);
    }

    /// Takes `interval` out of the set, splitting the range it falls in.
    pub fn remove(&mut self, interval: Interval) {
        let mut kept = Vec::with_capacity(self.ranges.len() + 1);
        for r in self.ranges.drain(..) {
            if !r.overlaps(&interval) {
                kept.push(r);
                continue;
            }
            kept.extend(Interval::new(r.start, interval.start));
            kept.extend(Interval::new(interval.end, r.end));
        }
        self.ranges = kept;
    }

    pub fn contains(&self, interval: &Interval) -> bool {
        let at = self.ranges.partition_point(|r| r.end < interval.end);
        self.ranges.get(at).is_some_and(|r| r.contains(interval))
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The end of the range that starts at `from`, if the set covers `from`.
    pub fn covered_through(&self, from: Timestamp) -> Option<Timestamp> {
        self.ranges
            .iter()
            .find(|r| r.start <= from && from < r.end)
            .map(|r| r.end)
    }

    pub fn ranges(&self) -> &[Interval] {
        &self.ranges
    }
}

pub fn format_ts(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Like `format_ts`, with fractional seconds when there are any.
pub fn format_ts_precise(t: Timestamp) -> String {
    if t.timestamp_subsec_micros() == 0 {
        format_ts(t)
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

/// Parses an RFC 3339 timestamp, a `YYYY-MM-DD` date or `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(utc(d, 0));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(Utc.from_utc_datetime(&t));
        }
    }
    Err(format!(
        "`{text}` is not a time; write a date (2024-01-01) or an RFC 3339 UTC timestamp (2024-01-01T00:00:00Z)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        parse_timestamp(text).unwrap()
    }

    #[test]
    fn removing_an_interval_splits_the_range_it_falls_in() {
        let mut set = IntervalSet::default();
        set.insert(Interval::new(ts("2024-01-01"), ts("2024-01-11")).unwrap());
        set.insert(Interval::new(ts("2024-01-20"), ts("2024-01-21")).unwrap());
        set.remove(Interval::new(ts("2024-01-06"), ts("2024-01-07")).unwrap());
        set.remove(Interval::new(ts("2024-01-20"), ts("2024-01-22")).unwrap());
        let ranges: Vec<String> = set.ranges().iter().map(ToString::to_string).collect();
        assert_eq!(
            ranges,
            [
                Interval::new(ts("2024-01-01"), ts("2024-01-06"))
                    .unwrap()
                    .to_string(),
                Interval::new(ts("2024-01-07"), ts("2024-01-11"))
                    .unwrap()
                    .to_string(),
            ]
        );
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(Duration::parse("15m").unwrap().seconds(), 900);
        assert_eq!(Duration::parse("1h").unwrap().seconds(), 3_600);
        assert_eq!(Duration::parse("7d").unwrap().seconds(), 604_800);
        assert_eq!(Duration::parse("28d").unwrap().to_string(), "28d");
        assert!(Duration::parse("1x").unwrap_err().contains("unknown unit"));
        assert!(Duration::parse("h").is_err());
        assert!(Duration::parse("0d").is_err());
    }

    #[test]
    fn weeks_start_on_monday() {
        let wednesday = ts("2024-01-10T13:00:00Z");
        assert_eq!(Schedule::Weekly.floor(wednesday), ts("2024-01-08"));
        assert_eq!(Schedule::Weekly.next(ts("2024-01-08")), ts("2024-01-15"));
    }

    #[test]
    fn months_have_their_own_lengths() {
        assert_eq!(Schedule::Monthly.next(ts("2024-02-01")), ts("2024-03-01"));
        assert_eq!(Schedule::Monthly.next(ts("2024-12-01")), ts("2025-01-01"));
        assert_eq!(
            Schedule::Monthly.floor(ts("2024-02-29T23:00:00Z")),
            ts("2024-02-01")
        );
    }

    #[test]
    fn only_intervals_that_ended_are_listed() {
        let hours = Schedule::Hourly.intervals(ts("2024-01-01"), ts("2024-01-01T03:30:00Z"));
        assert_eq!(hours.len(), 3);
        assert_eq!(hours[2].end, ts("2024-01-01T03:00:00Z"));
        assert_eq!(
            Schedule::Daily.last_interval(ts("2024-01-01"), ts("2024-01-03T05:00:00Z")),
            Some(Schedule::Daily.interval_at(ts("2024-01-02")))
        );
        assert_eq!(
            Schedule::Daily.last_interval(ts("2024-01-01"), ts("2024-01-01T05:00:00Z")),
            None
        );
    }

    #[test]
    fn interval_sets_merge_adjacent_ranges() {
        let mut set = IntervalSet::default();
        let day = |d: &str| Schedule::Daily.interval_at(ts(d));
        set.insert(day("2024-01-03"));
        set.insert(day("2024-01-01"));
        assert_eq!(set.ranges().len(), 2);
        set.insert(day("2024-01-02"));
        assert_eq!(set.ranges().len(), 1);
        assert!(set.contains(&day("2024-01-02")));
        assert!(!set.contains(&day("2024-01-04")));
        assert_eq!(
            set.covered_through(ts("2024-01-01")),
            Some(ts("2024-01-04"))
        );
    }
}

/// Microseconds since the epoch, the form timestamps take in the stores.
pub fn to_micros(t: Timestamp) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(micros: i64) -> Timestamp {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// Microseconds since the epoch: how caches keep timestamps (no text to parse).
pub mod micros {
    use super::{from_micros, to_micros, Timestamp};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(to_micros(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        Ok(from_micros(i64::deserialize(d)?))
    }

    pub mod option {
        use super::super::{from_micros, to_micros, Timestamp};
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_some(&to_micros(*t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            Ok(Option::<i64>::deserialize(d)?.map(from_micros))
        }
    }
}

/// RFC 3339 UTC (`2024-01-01T00:00:00Z`) in JSON.
pub mod serde_ts {
    use super::{format_ts, parse_timestamp, Timestamp};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_ts(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        parse_timestamp(&text).map_err(serde::de::Error::custom)
    }
}

pub mod serde_opt_ts {
    use super::{format_ts, parse_timestamp, Timestamp};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format_ts(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| parse_timestamp(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}
