//! Weeks and days in the viewer's time zone, as ClickHouse computes them (its `Date` values
//! arrive as days since the epoch).

use chrono::{Datelike, Days, NaiveDate};
use clickhouse::Client;

use super::scope::{QueryError, Scope};

/// The Mondays of every week the scope's range touches, in its time zone.
pub(crate) async fn week_starts(
    client: &Client,
    scope: &Scope,
) -> Result<Vec<NaiveDate>, QueryError> {
    let (first, last): (u16, u16) = client
        .query("SELECT toUInt16(toDate(toDateTime(?), ?)), toUInt16(toDate(toDateTime(?), ?))")
        .bind(scope.from.timestamp())
        .bind(&scope.time_zone)
        .bind((scope.to.timestamp() - 1).max(0))
        .bind(&scope.time_zone)
        .fetch_one()
        .await?;
    let (first, last) = (monday_of(epoch_day(first)), monday_of(epoch_day(last)));
    let mut starts = Vec::new();
    let mut start = first;
    while start <= last {
        starts.push(start);
        start = start + Days::new(7);
    }
    Ok(starts)
}

pub(crate) fn epoch_day(days: u16) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + Days::new(u64::from(days))
}

pub(crate) fn monday_of(date: NaiveDate) -> NaiveDate {
    date - Days::new(u64::from(date.weekday().num_days_from_monday()))
}
