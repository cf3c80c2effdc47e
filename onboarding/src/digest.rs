//! The weekly digest job: each pass queues, for every subscription whose member's Monday
//! `DIGEST_HOUR` has come (in their time zone), last week's headline numbers from the warehouse.
//!
//! A week is due on Monday from the hour; for a member who got the week before, until the week
//! ends, so a Monday missed while onboarding was down (or the warehouse did not answer) is made
//! up later that week rather than skipped. A new (or returning) subscriber starts on a Monday,
//! not with a digest of a week they subscribed after. Each digest is queued in one transaction that holds its subscription row, records
//! the numbers, moves `last_week_sent` and adds the outbox row: several instances, or a crash
//! half way, never mail a week twice nor lose one.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use contracts::InstallationId;
use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;
use url::Url;
use uuid::Uuid;

use crate::{mail::OutboxWaker, metrics::DigestMetrics};
use accounts_store::{
    digests::{self, Numbers, Subscription},
    organizations,
    outbox::{self, Email},
    users,
};
use jira_permissions::{Resolver, VisibilityError};
use warehouse::queries::{Filters, QueryError, Scope, Visibility};

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("Postgres is unavailable: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("Postgres: {0}")]
    Store(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Warehouse(#[from] QueryError),
    /// What the member may see could not be settled (Jira not answering): no digest rather than
    /// one with numbers they may not see.
    #[error(transparent)]
    Visibility(VisibilityError),
}

/// One organization's numbers for one week in one zone: the same for every member who shares
/// the zone, so a pass asks the warehouse once for them all; unless the organization shows
/// members only what their Jira account may see, when they are each member's own (the user).
type NumbersKey = (Uuid, Option<Uuid>, &'static str, NaiveDate);

/// The job, run beside the server every `interval`; [`DigestJob::run_once`] is one pass.
pub struct DigestJob {
    pub pool: Pool,
    pub warehouse: clickhouse::Client,
    /// `DIGEST_HOUR`: from this hour of their Monday, members get last week's digest.
    pub hour: u32,
    /// `DIGEST_INTERVAL_SECONDS`.
    pub interval: Duration,
    /// Wakes the outbox sender once digests are queued.
    pub waker: OutboxWaker,
    pub metrics: DigestMetrics,
    /// What each member may see, for organizations that show members only what their Jira
    /// account may: the dashboards' rule, so the digest never says more than the pages.
    pub permissions: Arc<Resolver>,
}

/// The week a digest is about: Monday 00:00 to the next Monday 00:00 in the member's zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Week {
    pub start: NaiveDate,
    pub zone: Tz,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl DigestJob {
    /// A pass every `interval` (the first one interval after start) until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
            match self.run_once(Utc::now()).await {
                Ok(0) => {}
                Ok(queued) => tracing::info!(queued, "weekly digests queued"),
                Err(err) => {
                    tracing::warn!(error = %err, "digest pass failed; the next one retries")
                }
            }
        }
    }

    /// One pass as of `now`: queues a digest for every subscription due then; answers how many
    /// were queued. A subscription that fails (the warehouse refusing its query) is logged and
    /// tried again by the next pass; the others go on.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<usize, DigestError> {
        let pending = {
            let client = self.pool.get().await?;
            digests::pending(&client, latest_week_due(now)).await?
        };
        let mut queued = 0;
        let mut computed = HashMap::new();
        for subscription in pending {
            let Ok(zone) = subscription.time_zone.parse::<Tz>() else {
                tracing::warn!(
                    organization = %subscription.organization,
                    user = %subscription.user,
                    time_zone = subscription.time_zone,
                    "a digest subscription's time zone is unknown; skipped"
                );
                continue;
            };
            if due_week(zone, subscription.last_week_sent, now, self.hour).is_none() {
                continue;
            }
            match self.queue(&subscription, now, &mut computed).await {
                Ok(true) => queued += 1,
                Ok(false) => {}
                Err(err) => tracing::warn!(
                    organization = %subscription.organization,
                    user = %subscription.user,
                    error = %err,
                    "cannot queue a weekly digest; the next pass retries"
                ),
            }
        }
        if queued > 0 {
            self.waker.wake();
        }
        Ok(queued)
    }

    /// Queues the subscription's due digest; false when it is no longer due (another instance
    /// holds or has sent it, or the member unsubscribed or changed zone meanwhile), or the
    /// organization's sign-in policy no longer admits the member's address (whoever cannot
    /// open the views gets no numbers by email either).
    async fn queue(
        &self,
        candidate: &Subscription,
        now: DateTime<Utc>,
        computed: &mut HashMap<NumbersKey, Numbers>,
    ) -> Result<bool, DigestError> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let Some(subscription) =
            digests::lock_active(&transaction, candidate.organization, candidate.user).await?
        else {
            return Ok(false);
        };
        let Some(week) = subscription
            .time_zone
            .parse::<Tz>()
            .ok()
            .and_then(|zone| due_week(zone, subscription.last_week_sent, now, self.hour))
        else {
            return Ok(false);
        };
        let organization = subscription.organization;
        let email = users::email_of(&transaction, subscription.user)
            .await?
            .unwrap_or_default();
        let policy = organizations::sign_in_policy(&transaction, organization).await?;
        if !policy.admits_address(&email) {
            return Ok(false);
        }
        let installations: Vec<InstallationId> =
            organizations::installations(&transaction, organization)
                .await?
                .into_iter()
                .map(|installation| installation.id)
                .collect();
        let visibility = match self
            .permissions
            .visibility(organization, subscription.user, &installations)
            .await
        {
            Ok(visibility) => visibility,
            // Whoever sees only a request to link their Jira account gets no numbers by email
            // either; the digest waits (the next passes) until they link one.
            Err(VisibilityError::NotLinked) => return Ok(false),
            Err(err) => return Err(DigestError::Visibility(err)),
        };
        let own = matches!(visibility, Visibility::Permitted(_)).then_some(subscription.user);
        let key = (organization, own, week.zone.name(), week.start);
        let numbers = match computed.get(&key) {
            Some(numbers) => numbers.clone(),
            None => {
                let numbers = self.numbers(installations, visibility, &week, now).await?;
                computed.insert(key, numbers.clone());
                numbers
            }
        };
        let digest = digests::record(&transaction, &subscription, week.start, &numbers).await?;
        outbox::enqueue(&transaction, &Email::Digest { digest }).await?;
        transaction.commit().await?;
        self.metrics.enqueued.inc();
        tracing::info!(
            %organization,
            user = %subscription.user,
            week = %week.start,
            time_zone = week.zone.name(),
            "weekly digest queued"
        );
        Ok(true)
    }

    /// The week's numbers as the warehouse's own views answer them: created and resolved from
    /// the trends, the p85 cycle time and the at-risk items from the flow (as of the week's end).
    async fn numbers(
        &self,
        installations: Vec<InstallationId>,
        visibility: Visibility,
        week: &Week,
        now: DateTime<Utc>,
    ) -> Result<Numbers, QueryError> {
        if installations.is_empty() {
            return Ok(Numbers {
                created: 0,
                resolved: 0,
                cycle_time_p85_hours: None,
                at_risk: Vec::new(),
            });
        }
        let scope = Scope {
            installations,
            from: week.from,
            to: week.to,
            time_zone: week.zone.name().to_owned(),
            filters: Filters::default(),
            visibility,
        };
        let (trends, flow) = tokio::try_join!(
            warehouse::queries::trends(&self.warehouse, &scope, &[]),
            warehouse::queries::flow_as_of(&self.warehouse, &scope, now.timestamp_millis()),
        )?;
        let counts = trends
            .weeks
            .iter()
            .find(|counted| counted.start == week.start);
        let count = |n: Option<u64>| i64::try_from(n.unwrap_or(0)).unwrap_or(i64::MAX);
        Ok(Numbers {
            created: count(counts.map(|week| week.created)),
            resolved: count(counts.map(|week| week.resolved)),
            cycle_time_p85_hours: flow
                .weeks
                .iter()
                .find(|flowed| flowed.start == week.start)
                .and_then(|week| week.cycle_time.p85_hours),
            at_risk: flow
                .work_items
                .into_iter()
                .filter(|item| item.at_risk)
                .map(|item| item.issue_key)
                .collect(),
        })
    }
}

/// The week whose digest is due at `now` for a member in `zone` who was last sent the week
/// starting `last_week_sent`: last week, on Monday from `hour` there, unless it was sent
/// already; for a member who got the week before, also later in the week (a missed Monday).
pub fn due_week(
    zone: Tz,
    last_week_sent: Option<NaiveDate>,
    now: DateTime<Utc>,
    hour: u32,
) -> Option<Week> {
    let today = now.with_timezone(&zone).date_naive();
    let this_monday = monday_of(today);
    if now < local_instant(zone, this_monday, hour)? {
        return None;
    }
    let start = this_monday.checked_sub_days(Days::new(7))?;
    let steady = start.checked_sub_days(Days::new(7));
    match last_week_sent {
        Some(sent) if sent >= start => return None,
        Some(sent) if Some(sent) == steady => {}
        _ if today == this_monday => {}
        _ => return None,
    }
    Some(Week {
        start,
        zone,
        from: local_instant(zone, start, 0)?,
        to: local_instant(zone, this_monday, 0)?,
    })
}

/// The latest week any zone can be due for at `now` (no zone's date is more than a day ahead
/// of UTC's): subscriptions sent that week or later are not read at all.
fn latest_week_due(now: DateTime<Utc>) -> NaiveDate {
    let tomorrow = now.date_naive() + Days::new(1);
    monday_of(tomorrow) - Days::new(7)
}

fn monday_of(date: NaiveDate) -> NaiveDate {
    date - Days::new(u64::from(date.weekday().num_days_from_monday()))
}

/// `hour`:00 on `date` in `zone`; where a clock change skips that time, the first half hour
/// after it that exists.
fn local_instant(zone: Tz, date: NaiveDate, hour: u32) -> Option<DateTime<Utc>> {
    let at = date.and_hms_opt(hour, 0, 0)?;
    (0..=6).find_map(|half_hours| {
        zone.from_local_datetime(&(at + chrono::Duration::minutes(30 * half_hours)))
            .earliest()
            .map(|instant| instant.with_timezone(&Utc))
    })
}

/// A dashboards view (`weekly`, `trends`, `flow`) of the organization for the week, as its
/// pages read their query (`from` and `to` inclusive days, `tz` the zone).
pub fn view_link(
    dashboards_url: &Url,
    organization: Uuid,
    view: &str,
    week_start: NaiveDate,
    time_zone: &str,
) -> String {
    let sunday = week_start + Days::new(6);
    let zone: String = url::form_urlencoded::byte_serialize(time_zone.as_bytes()).collect();
    format!(
        "{}/orgs/{organization}/{view}?from={week_start}&to={sunday}&tz={zone}",
        dashboards_url.as_str().trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn last_week_is_due_from_monday_at_the_hour_in_the_members_zone() {
        let kolkata = chrono_tz::Asia::Kolkata;
        let new_york = chrono_tz::America::New_York;
        // Monday 2026-12-07 07:30 in Kolkata is 02:00 UTC, still Sunday evening in New York.
        let monday_morning_in_kolkata = at("2026-12-07T02:00:00Z");
        let week = due_week(kolkata, None, monday_morning_in_kolkata, 7).expect("due");
        assert_eq!(week.start, day("2026-11-30"));
        assert_eq!(week.from, at("2026-11-29T18:30:00Z"));
        assert_eq!(week.to, at("2026-12-06T18:30:00Z"));
        assert_eq!(
            due_week(new_york, None, monday_morning_in_kolkata, 7),
            None,
            "Sunday in New York: the week is not over"
        );
        let cases = [
            (
                "2026-12-07T11:59:00Z",
                None,
                None,
                "06:59 Monday (EST) in New York: not yet",
            ),
            (
                "2026-12-07T12:30:00Z",
                None,
                Some("2026-11-30"),
                "07:30 Monday",
            ),
            (
                "2026-12-07T12:30:00Z",
                Some("2026-11-30"),
                None,
                "the week was sent already",
            ),
            (
                "2026-12-10T15:00:00Z",
                Some("2026-11-23"),
                Some("2026-11-30"),
                "Thursday: a missed Monday is made up for who got the week before",
            ),
            (
                "2026-12-10T15:00:00Z",
                None,
                None,
                "Thursday: a new subscriber starts on a Monday",
            ),
            (
                "2026-12-10T15:00:00Z",
                Some("2026-11-09"),
                None,
                "Thursday: so does a returning one",
            ),
            (
                "2026-12-14T11:00:00Z",
                Some("2026-11-30"),
                None,
                "the next Monday, 06:00: the next week is not yet due",
            ),
        ];
        for (now, sent, want, case) in cases {
            let got = due_week(new_york, sent.map(day), at(now), 7).map(|week| week.start);
            assert_eq!(got, want.map(day), "{case}");
        }
    }

    #[test]
    fn no_zone_is_due_for_a_week_after_the_prefilter_bound() {
        // Kiribati (UTC+14) is the first to reach Monday.
        let now = at("2026-12-06T10:30:00Z");
        let kiritimati = chrono_tz::Pacific::Kiritimati;
        let week = due_week(kiritimati, None, now, 0).expect("Monday 00:30 there");
        assert_eq!(week.start, day("2026-11-30"));
        assert!(week.start <= latest_week_due(now));
    }

    #[test]
    fn a_skipped_hour_moves_to_the_first_that_exists() {
        // Clocks in Santiago jump from 00:00 to 01:00 on 2026-09-06.
        let santiago = chrono_tz::America::Santiago;
        let instant = local_instant(santiago, day("2026-09-06"), 0).unwrap();
        assert_eq!(instant, at("2026-09-06T04:00:00Z"));
    }

    #[test]
    fn view_links_name_the_week_as_the_dashboards_read_it() {
        let link = view_link(
            &"http://127.0.0.1:8000/".parse().unwrap(),
            Uuid::nil(),
            "flow",
            day("2026-11-30"),
            "America/New_York",
        );
        assert_eq!(
            link,
            "http://127.0.0.1:8000/orgs/00000000-0000-0000-0000-000000000000/flow\
             ?from=2026-11-30&to=2026-12-06&tz=America%2FNew_York"
        );
    }
}
