//! Budget periods as UTC calendar buckets: the day, the ISO week (from
//! Monday) or the calendar month a moment falls in.
//!
//! Pure date arithmetic on milliseconds since the Unix epoch.

use sluice_store::policy::Period;

const DAY_MS: i64 = 86_400_000;

/// One period: its bucket number and its bounds in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Identifies the period (days, weeks or months since the epoch).
    pub bucket: u64,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Span {
    /// Milliseconds from `now_ms` to the end of the period (at least 1).
    pub fn left_ms(&self, now_ms: i64) -> u64 {
        u64::try_from(self.end_ms - now_ms).unwrap_or(0).max(1)
    }
}

/// The period of kind `period` containing `now_ms`.
pub fn span(period: Period, now_ms: i64) -> Span {
    let day = now_ms.div_euclid(DAY_MS);
    match period {
        Period::Daily => Span {
            bucket: day.max(0) as u64,
            start_ms: day * DAY_MS,
            end_ms: (day + 1) * DAY_MS,
        },
        Period::Weekly => {
            // 1970-01-01 was a Thursday: Monday-based weeks start 3 days later.
            let week = (day - 4).div_euclid(7);
            let start = week * 7 + 4;
            Span {
                bucket: (week + 1).max(0) as u64,
                start_ms: start * DAY_MS,
                end_ms: (start + 7) * DAY_MS,
            }
        }
        Period::Monthly => {
            let (y, m, _) = civil_from_days(day);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            Span {
                bucket: ((y - 1970) * 12 + i64::from(m) - 1).max(0) as u64,
                start_ms: days_from_civil(y, m, 1) * DAY_MS,
                end_ms: days_from_civil(ny, nm, 1) * DAY_MS,
            }
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
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

    // 2026-11-22T15:30:00Z, a Sunday.
    const NOW: i64 = 1_795_361_400_000;

    #[test]
    fn calendar_round_trip() {
        for day in [-1000, 0, 59, 365, 10_957, 20_000, 20_779] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(civil_from_days(20_414), (2025, 11, 22));
    }

    #[test]
    fn periods_contain_now_and_are_calendar_aligned() {
        let (y, m, d) = civil_from_days(NOW.div_euclid(DAY_MS));
        assert_eq!((y, m, d), (2026, 11, 22));
        let day = span(Period::Daily, NOW);
        assert_eq!(day.end_ms - day.start_ms, DAY_MS);
        let week = span(Period::Weekly, NOW);
        assert!(week.start_ms <= NOW && NOW < week.end_ms);
        // Monday 2026-11-16.
        assert_eq!(civil_from_days(week.start_ms / DAY_MS), (2026, 11, 16));
        let month = span(Period::Monthly, NOW);
        assert_eq!(civil_from_days(month.start_ms / DAY_MS), (2026, 11, 1));
        assert_eq!(civil_from_days(month.end_ms / DAY_MS), (2026, 12, 1));
        let dec = span(Period::Monthly, month.end_ms);
        assert_eq!(dec.bucket, month.bucket + 1);
        assert_eq!(dec.start_ms, month.end_ms);
        assert_eq!(span(Period::Monthly, month.end_ms - 1).bucket, month.bucket);
    }
}
