//! Wall-clock instants as plain data: the pure core never reads a clock.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// From milliseconds since the epoch.
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch.
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// `self + d`, saturating.
    pub fn plus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// `self - d`, saturating.
    pub fn minus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// Time from `earlier` to `self`; zero when `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// `2026-11-26T00:56:29Z` (orchestrator's `LastSeenTimestamp` style).
    pub fn to_rfc3339(self) -> String {
        let (date, time) = self.civil();
        format!("{date}T{time}Z")
    }

    /// `2026-11-26 00:56:29` (orchestrator's MySQL-style timestamps).
    pub fn to_datetime(self) -> String {
        let (date, time) = self.civil();
        format!("{date} {time}")
    }

    fn civil(self) -> (String, String) {
        let secs = self.as_secs();
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        (
            format!("{y:04}-{m:02}-{d:02}"),
            format!("{:02}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60),
        )
    }
}

impl Timestamp {
    /// Parses `2026-11-26T00:56:29Z` or `2026-11-26 00:56:29` (UTC, optional
    /// fraction and `Z`).
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim().trim_end_matches('Z');
        let (date, time) = t.split_once(['T', ' '])?;
        let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
        let (y, m, day) = (d.next()??, d.next()??, d.next()??);
        let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
        let mut h = hms.split(':').map(|p| p.parse::<i64>().ok());
        let (hh, mm, ss) = (h.next()??, h.next()??, h.next()??);
        if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        let ms = frac
            .get(..frac.len().min(3))
            .filter(|f| !f.is_empty())
            .and_then(|f| format!("{f:0<3}").parse::<i64>().ok())
            .unwrap_or(0);
        let days = days_from_civil(y, m, day);
        Some(Self((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1000 + ms))
    }
}

/// Proleptic Gregorian (year, month, day) to days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_like_orchestrator() {
        // 2026-11-26 00:56:29 UTC
        let t = Timestamp::from_millis(1_795_654_589_000);
        assert_eq!(t.to_rfc3339(), "2026-11-26T00:56:29Z");
        assert_eq!(t.to_datetime(), "2026-11-26 00:56:29");
        assert_eq!(Timestamp(0).to_datetime(), "1970-01-01 00:00:00");
        assert_eq!(
            Timestamp(951_782_400_000).to_datetime(),
            "2000-02-29 00:00:00"
        );
    }

    #[test]
    fn timestamps_parse_back() {
        let t = Timestamp::from_millis(1_795_654_589_000);
        assert_eq!(Timestamp::parse(&t.to_rfc3339()), Some(t));
        assert_eq!(Timestamp::parse(&t.to_datetime()), Some(t));
        assert_eq!(
            Timestamp::parse("2026-11-26T00:56:47.691500539Z"),
            Some(Timestamp(1_795_654_607_691))
        );
        assert_eq!(
            Timestamp::parse("2000-02-29 00:00:00"),
            Some(Timestamp(951_782_400_000))
        );
        for bad in ["", "2026-13-01 00:00:00", "yesterday", "2026-11-26"] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_between_timestamps_saturate() {
        let a = Timestamp(1_000);
        let b = a.plus(Duration::from_millis(500));
        assert_eq!(b.since(a), Duration::from_millis(500));
        assert_eq!(a.since(b), Duration::ZERO);
        assert_eq!(b.minus(Duration::from_millis(500)), a);
    }
}
