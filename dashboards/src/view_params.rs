//! What every view and API call is asked for, from the query string: the time range (`from`
//! and `to` as dates, or the last `weeks`, default 12), the viewer's time zone (`tz`, else the
//! `mf_tz` cookie the pages set from the browser, else UTC), and filters (`workspace`,
//! `project`, `issue_type`, `event_type`; each may repeat). Turned into a warehouse `Scope`
//! limited to the caller's organization. The feed's own parameters are `feed_params`.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use contracts::InstallationId;
use serde::Deserialize;
use utoipa::IntoParams;
use warehouse::queries::{Filters, Scope};

use crate::{access::Member, error::DashboardError};

pub(crate) const DEFAULT_WEEKS: i64 = 12;
const MAX_WEEKS: i64 = 260;

/// A view's range, zone and filters, as the query string gives them. The doc comments are the
/// API's parameter descriptions in the OpenAPI document.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ViewQuery {
    /// First day of the range, inclusive, in the time zone; default `weeks` before `to`.
    pub from: Option<NaiveDate>,
    /// Last day of the range, inclusive, in the time zone; default today.
    pub to: Option<NaiveDate>,
    /// Without `from`: this many weeks of days ending on `to`.
    #[param(minimum = 1, maximum = 260, default = 12)]
    pub weeks: Option<i64>,
    /// The IANA time zone (`Europe/Berlin`) of days and of weeks (Monday to Sunday); the API's
    /// default is UTC, the pages' the browser's.
    #[param(default = "UTC")]
    pub tz: Option<String>,
    /// Installation ids (MetaFrazo's, as the workspace picker offers them); default all of the
    /// organization's. Ids of other organizations' workspaces are ignored.
    #[serde(default)]
    #[param(style = Form, explode)]
    pub workspace: Vec<String>,
    /// Jira project keys (`ACME`); default all.
    #[serde(default)]
    #[param(style = Form, explode)]
    pub project: Vec<String>,
    /// Jira issue type names (`Bug`); default all.
    #[serde(default)]
    #[param(style = Form, explode)]
    pub issue_type: Vec<String>,
    /// Event types (`issue_created`, …): limits the kinds the weekly rates count and the
    /// events listed; trends are not by event type and ignore it.
    #[serde(default)]
    #[param(style = Form, explode)]
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
