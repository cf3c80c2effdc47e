//! What every view and API call is asked for, from the query string: the time range (`from`
//! and `to` as dates, or the last `weeks`, default 12), the viewer's time zone (`tz`, else the
//! `mf_tz` cookie the pages set from the browser, else UTC), and filters (`workspace`,
//! `project`, `issue_type`, `event_type`, `priority`, `assignee`, `label`, `component`; each
//! may repeat). Turned into a warehouse `Scope`
//! limited to the caller's organization. The feed's own parameters are `feed_params`.

use chrono::{Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use contracts::InstallationId;
use serde::Deserialize;
use utoipa::IntoParams;
use warehouse::queries::{Filters, Scope};

use crate::{access::Member, error::DashboardError};

pub(crate) const DEFAULT_WEEKS: i64 = 12;
/// The longest range one view covers, however it is asked for (`weeks`, or `from` and `to`):
/// every view's rows grow with it, and the warehouse is shared by every organization.
const MAX_WEEKS: i64 = 260;
/// The days a range may name: ClickHouse 18.16's `DateTime` ends in 2106.
const FIRST_DAY: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 2).expect("a date");
const LAST_DAY: NaiveDate = NaiveDate::from_ymd_opt(2100, 12, 31).expect("a date");

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
    /// Priority names (`High`); default all. Like the three below, a delivery is judged by the
    /// issue as it states it (after the change); in the flow view a completion by the delivery
    /// that completed the issue and a status segment by the one that began it.
    #[serde(default)]
    #[param(style = Form, explode)]
    pub priority: Vec<String>,
    /// Assignees' Jira account ids; default all (an unassigned issue matches none).
    #[serde(default)]
    #[param(style = Form, explode)]
    pub assignee: Vec<String>,
    /// Labels: an issue with any of them; default all.
    #[serde(default)]
    #[param(style = Form, explode)]
    pub label: Vec<String>,
    /// Component names: an issue with any of them; default all.
    #[serde(default)]
    #[param(style = Form, explode)]
    pub component: Vec<String>,
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
            &mut query.priority,
            &mut query.assignee,
            &mut query.label,
            &mut query.component,
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

    /// The range's first day and the day after its last (`to` is inclusive), checked: within
    /// [`MAX_WEEKS`], between 1970 and 2100, `from` not after `to`.
    fn days(&self, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), DashboardError> {
        let refuse = |reason: String| Err(DashboardError::BadRequest(reason));
        let to = self.to.unwrap_or(today);
        let weeks = self.weeks.unwrap_or(DEFAULT_WEEKS);
        if !(1..=MAX_WEEKS).contains(&weeks) {
            return refuse(format!("weeks must be between 1 and {MAX_WEEKS}"));
        }
        let from = match self.from {
            Some(from) => from,
            None => to
                .checked_sub_days(Days::new(weeks as u64 * 7 - 1))
                .unwrap_or(FIRST_DAY),
        };
        for day in [from, to] {
            if !(FIRST_DAY..=LAST_DAY).contains(&day) {
                return refuse(format!("{day} is outside {FIRST_DAY} to {LAST_DAY}"));
            }
        }
        if from > to {
            return refuse("from is after to".to_owned());
        }
        if (to - from).num_days() >= MAX_WEEKS * 7 {
            return refuse(format!(
                "a view covers at most {MAX_WEEKS} weeks; narrow from and to"
            ));
        }
        Ok((from, to + Days::new(1)))
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
        let (from, after) = self.days(Utc::now().with_timezone(&tz).date_naive())?;
        let start_of = |day: NaiveDate| {
            tz.from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
                .earliest()
                .map(|at| at.with_timezone(&Utc))
                .ok_or_else(|| DashboardError::BadRequest(format!("{day} has no midnight in {tz}")))
        };
        Ok(Scope {
            installations,
            from: start_of(from)?,
            to: start_of(after)?,
            time_zone: tz.name().to_owned(),
            filters: Filters {
                projects: self.project.clone(),
                issue_types: self.issue_type.clone(),
                event_types: self.event_type.clone(),
                priorities: self.priority.clone(),
                assignees: self.assignee.clone(),
                labels: self.label.clone(),
                components: self.component.clone(),
            },
            visibility: member.visibility.clone(),
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
    fn a_filter_form_left_blank_asks_for_nothing() {
        let query = ViewQuery::parse(Some("weeks=&from=&to=&project=&tz=")).unwrap();
        assert_eq!((query.weeks, query.from, query.to), (None, None, None));
        assert!(query.project.is_empty() && query.tz.is_none());
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_range_is_bounded_whichever_way_it_is_asked_for() {
        let today = day("2026-12-03");
        let days = |query: &str| ViewQuery::parse(Some(query)).and_then(|query| query.days(today));
        assert_eq!(
            days("").unwrap(),
            (day("2026-09-11"), day("2026-12-04")),
            "12 weeks of days ending today"
        );
        assert_eq!(
            days("from=2021-12-10&to=2026-12-03").unwrap(),
            (day("2021-12-10"), day("2026-12-04")),
            "260 weeks exactly"
        );
        let refused = [
            ("from=2021-12-09&to=2026-12-03", "a day more than 260 weeks"),
            ("from=1900-01-01", "the whole of history"),
            ("to=%2B262143-12-31", "the last day chrono knows"),
            ("from=-262143-01-01&to=-262143-01-02", "the first"),
            ("weeks=261", "too many weeks"),
            ("from=2026-12-04&to=2026-12-03", "from after to"),
        ];
        for (query, case) in refused {
            assert!(
                matches!(days(query), Err(DashboardError::BadRequest(_))),
                "{case}: {query}"
            );
        }
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
