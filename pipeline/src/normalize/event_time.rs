//! When an event happened, bounded. Jira's `timestamp` comes from the sender's clock, so it can
//! be missing, in seconds instead of milliseconds, years old (a replay) or in the future (a
//! skewed clock). Unbounded, one workspace could spread a batch over more monthly partitions than
//! ClickHouse takes in one insert (100 by default on current releases) and stall every tenant,
//! or land rows in months retention drops at once. Outside the window the receipt time stands
//! in, and the row says why; the payload keeps what Jira said. Nothing is dropped.

use chrono::{DateTime, Datelike, NaiveDate};

/// How far ahead of its receipt an event may claim to have happened: clock skew, not a
/// prophecy.
const MAX_AHEAD_MS: i64 = 24 * 60 * 60 * 1000;

/// Months back an event may claim when the warehouse keeps everything (`RETENTION_MONTHS=0`):
/// still few enough monthly partitions for one insert.
const MONTHS_WHEN_KEPT_FOREVER: u32 = 60;

/// The window of plausible event times around a delivery's receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTimeBounds {
    /// Whole months before the receipt's month that an event may fall in: the retention's.
    months_back: u32,
}

impl EventTimeBounds {
    /// The window of the default retention (`RETENTION_MONTHS`, 25).
    pub const DEFAULT: Self = Self { months_back: 25 };

    /// The window of a warehouse that keeps `retention_months` (0: forever).
    pub fn for_retention(retention_months: u32) -> Self {
        let months_back = match retention_months {
            0 => MONTHS_WHEN_KEPT_FOREVER,
            months => months.min(MONTHS_WHEN_KEPT_FOREVER),
        };
        Self { months_back }
    }

    /// The event time to store, and why it is not the claimed one (empty when it is).
    pub(super) fn occurred_at(
        &self,
        claimed_ms: Option<i64>,
        received_at_ms: i64,
    ) -> (i64, &'static str) {
        match claimed_ms {
            None => (received_at_ms, "missing"),
            Some(claimed) if claimed < self.earliest_ms(received_at_ms) => {
                (received_at_ms, "too_old")
            }
            Some(claimed) if claimed > received_at_ms.saturating_add(MAX_AHEAD_MS) => {
                (received_at_ms, "in_future")
            }
            Some(claimed) => (claimed, ""),
        }
    }

    /// Midnight UTC on the first day of the oldest month kept, as retention counts months.
    fn earliest_ms(&self, received_at_ms: i64) -> i64 {
        let Some(received) = DateTime::from_timestamp_millis(received_at_ms) else {
            return i64::MIN;
        };
        let month_index = received.year() * 12 + received.month0() as i32 - self.months_back as i32;
        NaiveDate::from_ymd_opt(
            month_index.div_euclid(12),
            month_index.rem_euclid(12) as u32 + 1,
            1,
        )
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map_or(i64::MIN, |midnight| midnight.and_utc().timestamp_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-23T10:00:00Z.
    const RECEIVED: i64 = 1_795_428_000_000;

    #[test]
    fn a_claimed_time_inside_the_window_is_kept_and_one_outside_gives_way_to_the_receipt() {
        let bounds = EventTimeBounds::for_retention(25);
        // 2024-10-01T00:00:00Z, the first day of the oldest month 25 months back.
        let first_kept_ms = 1_727_740_800_000;
        let cases = [
            (
                Some(RECEIVED - 60_000),
                (RECEIVED - 60_000, ""),
                "a minute old",
            ),
            (
                Some(first_kept_ms),
                (first_kept_ms, ""),
                "the oldest month kept",
            ),
            (
                Some(first_kept_ms - 1),
                (RECEIVED, "too_old"),
                "a millisecond before it",
            ),
            (
                Some(1_795_428_000),
                (RECEIVED, "too_old"),
                "seconds, not milliseconds",
            ),
            (Some(i64::MIN), (RECEIVED, "too_old"), "the smallest number"),
            (
                Some(RECEIVED + MAX_AHEAD_MS),
                (RECEIVED + MAX_AHEAD_MS, ""),
                "a day ahead",
            ),
            (
                Some(RECEIVED + MAX_AHEAD_MS + 1),
                (RECEIVED, "in_future"),
                "past a day ahead",
            ),
            (
                Some(i64::MAX),
                (RECEIVED, "in_future"),
                "the largest number",
            ),
            (None, (RECEIVED, "missing"), "no timestamp"),
        ];
        for (claimed, want, case) in cases {
            assert_eq!(bounds.occurred_at(claimed, RECEIVED), want, "{case}");
        }
    }

    #[test]
    fn keeping_everything_still_bounds_how_far_back_a_batch_reaches() {
        let forever = EventTimeBounds::for_retention(0);
        let six_years_ago = RECEIVED - 6 * 366 * 86_400_000;
        assert_eq!(
            forever.occurred_at(Some(six_years_ago), RECEIVED).1,
            "too_old"
        );
        let four_years_ago = RECEIVED - 4 * 365 * 86_400_000;
        assert_eq!(forever.occurred_at(Some(four_years_ago), RECEIVED).1, "");
    }
}
