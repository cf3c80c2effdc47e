//! What every view and API call is asked for, from the query string: the time range (`from`
//! and `to` as dates, or the last `weeks`, default 12), the viewer's time zone (`tz`, else the
//! `mf_tz` cookie the pages set from the browser, else UTC), and filters (`workspace`,
//! `project`, `issue_type`, `event_type`; each may repeat). Turned into a warehouse `Scope`
//! limited to the caller's organization.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use contracts::InstallationId;
use serde::Deserialize;
use warehouse::queries::{Filters, Scope};

use crate::{access::Member, error::DashboardError};

pub(crate) const DEFAULT_WEEKS: i64 = 12;
const MAX_WEEKS: i64 = 260;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ViewQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub weeks: Option<i64>,
    pub tz: Option<String>,
    /// Feed filters (events only).
    pub issue_key: Option<String>,
    pub actor: Option<String>,
    /// Feed paging: where the previous page ended.
    pub after: Option<String>,
    /// Installation ids (MetaFrazo's, as the workspace picker offers them).
    #[serde(default)]
    pub workspace: Vec<String>,
    #[serde(default)]
    pub project: Vec<String>,
    #[serde(default)]
    pub issue_type: Vec<String>,
    #[serde(default)]
    pub event_type: Vec<String>,
}

impl ViewQuery {
    /// Parses a query string where filters may repeat (`project=A&project=B`).
    /// Empty fields (a filter form left blank) filter nothing.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, DashboardError> {
        let mut query: Self = serde_html_form::from_str(raw.unwrap_or(""))
            .map_err(|err| DashboardError::BadRequest(format!("unreadable query: {err}")))?;
        for list in [
            &mut query.workspace,
            &mut query.project,
            &mut query.issue_type,
            &mut query.event_type,
        ] {
            list.retain(|value| !value.trim().is_empty());
        }
        query.tz = query.tz.filter(|tz| !tz.trim().is_empty());
        Ok(query)
    }

    /// The time zone asked for, or the browser's (cookie), or UTC; a name that is not an IANA
    /// zone is refused rather than silently replaced.
    pub(crate) fn time_zone(&self, cookie: Option<&str>) -> Result<Tz, DashboardError> {
        let name = self.tz.as_deref().or(cookie).unwrap_or("UTC");
        name.parse::<Tz>().map_err(|_| {
            DashboardError::BadRequest(format!(
                "{name:?} is not a time zone name (try Europe/Berlin)"
            ))
        })
    }

    /// Whether the `workspace` filter names this installation.
    pub(crate) fn asks_for_workspace(&self, installation: InstallationId) -> bool {
        let id = installation.to_string();
        self.workspace.contains(&id)
    }

    /// The scope for the caller's organization. `to` is inclusive (whole days).
    pub(crate) fn scope(&self, member: &Member, tz: Tz) -> Result<Scope, DashboardError> {
        let installations = member.installation_ids();
        let installations = if self.workspace.is_empty() {
            installations
        } else {
            // Only the organization's own workspaces can be asked for; others are dropped.
            installations
                .into_iter()
                .filter(|id| self.asks_for_workspace(*id))
                .collect()
        };
        let today = Utc::now().with_timezone(&tz).date_naive();
        let to = self.to.unwrap_or(today);
        let weeks = self.weeks.unwrap_or(DEFAULT_WEEKS);
        if !(1..=MAX_WEEKS).contains(&weeks) {
            return Err(DashboardError::BadRequest(format!(
                "weeks must be between 1 and {MAX_WEEKS}"
            )));
        }
        let from = self
            .from
            .unwrap_or(to - Duration::weeks(weeks) + Duration::days(1));
        if from > to {
            return Err(DashboardError::BadRequest("from is after to".to_owned()));
        }
        let start_of = |day: NaiveDate| {
            tz.from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
                .earliest()
                .map(|at| at.with_timezone(&Utc))
                .ok_or_else(|| DashboardError::BadRequest(format!("{day} has no midnight in {tz}")))
        };
        Ok(Scope {
            installations,
            from: start_of(from)?,
            to: start_of(to + Duration::days(1))?,
            time_zone: tz.name().to_owned(),
            filters: Filters {
                projects: self.project.clone(),
                issue_types: self.issue_type.clone(),
                event_types: self.event_type.clone(),
            },
        })
    }
}

/// One view request, resolved: who asks, what for, in which zone, over which scope.
pub(crate) struct View {
    pub member: Member,
    pub query: ViewQuery,
    pub tz: Tz,
    pub scope: Scope,
}

impl View {
    /// Checks membership, then reads the query. Pages fall back on the browser's zone (the
    /// `mf_tz` cookie); the API (`browser_zone` false) answers in UTC unless `tz` is given.
    pub(crate) async fn load(
        state: &crate::AppState,
        headers: &axum::http::HeaderMap,
        organization: &str,
        raw_query: Option<&str>,
        browser_zone: bool,
    ) -> Result<Self, DashboardError> {
        let member =
            crate::access::member(&state.postgres, headers, organization, &state.sign_in_url)
                .await?;
        let query = ViewQuery::parse(raw_query)?;
        let cookie = browser_zone
            .then(|| crate::access::time_zone_cookie(headers))
            .flatten();
        let tz = query.time_zone(cookie.as_deref())?;
        let scope = query.scope(&member, tz)?;
        Ok(Self {
            member,
            query,
            tz,
            scope,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_filters_and_dates_parse() {
        let query = ViewQuery::parse(Some(
            "from=2026-01-05&to=2026-03-29&project=A&project=B&tz=Europe/Berlin",
        ))
        .unwrap();
        assert_eq!(query.project, vec!["A", "B"]);
        assert_eq!(query.from, NaiveDate::from_ymd_opt(2026, 1, 5));
        assert_eq!(query.time_zone(None).unwrap(), chrono_tz::Europe::Berlin);
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        assert!(ViewQuery::parse(Some("from=yesterday")).is_err());
        let query = ViewQuery::parse(Some("tz=Mars/Olympus")).unwrap();
        assert!(query.time_zone(None).is_err());
        assert_eq!(
            ViewQuery::parse(None)
                .unwrap()
                .time_zone(Some("Asia/Tokyo"))
                .unwrap(),
            chrono_tz::Asia::Tokyo
        );
    }
}
