//! What every analytical query is asked about: which installations (the caller's organization's,
//! decided by the caller), which time range, in which time zone, with which filters.

use chrono::{DateTime, Utc};
use contracts::InstallationId;

use super::visibility::{
    Visibility, bind_visible_issues, bind_visible_projects, visible_issue, visible_project,
};

#[derive(Debug, Clone)]
pub struct Scope {
    /// The installations to count (MetaFrazo's ids, as the pipeline stores them); never empty
    /// (an empty set is a query about nothing).
    pub installations: Vec<InstallationId>,
    /// Inclusive start of the range.
    pub from: DateTime<Utc>,
    /// Exclusive end of the range.
    pub to: DateTime<Utc>,
    /// An IANA time zone name (`Europe/Berlin`); weeks and days are the viewer's.
    pub time_zone: String,
    pub filters: Filters,
    /// Whose permissions the view follows: everything of the installations, or only what one
    /// Jira account may browse.
    pub visibility: Visibility,
}

/// Empty lists filter nothing; a list keeps what matches any of its values, and all lists must
/// match. A row is judged by the issue as its delivery states it (after the change).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub projects: Vec<String>,
    pub issue_types: Vec<String>,
    pub event_types: Vec<String>,
    pub priorities: Vec<String>,
    /// Jira account ids; an unassigned issue matches none.
    pub assignees: Vec<String>,
    /// An issue matches when it has any of them.
    pub labels: Vec<String>,
    /// Component names; an issue matches when it has any of them.
    pub components: Vec<String>,
}

impl Filters {
    /// Whether a filter asks for what the hourly rollup does not keep (it is grouped by project
    /// and issue type only): such a view reads raw rows for its whole range.
    fn beyond_rollup(&self) -> bool {
        !(self.priorities.is_empty()
            && self.assignees.is_empty()
            && self.labels.is_empty()
            && self.components.is_empty())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no installation to query")]
    NoInstallations,
    #[error("the time range ends before it starts")]
    EmptyRange,
    #[error("{0:?} is not a time zone name")]
    BadTimeZone(String),
    #[error("the warehouse cannot answer: {0}")]
    Warehouse(#[from] clickhouse::error::Error),
}

impl Scope {
    /// 1 when the scope has one installation, whose rows the visibility's tests key by project
    /// or issue alone.
    pub(crate) fn one_installation(&self) -> u8 {
        u8::from(self.installations.len() == 1)
    }

    /// Whether the view reads raw rows for its whole range: a filter the hourly rollup does
    /// not keep, or issues the visibility hides.
    pub(crate) fn beyond_rollup(&self) -> bool {
        self.filters.beyond_rollup() || self.visibility.hides_issues()
    }

    /// Checks what SQL cannot: the time zone is passed to ClickHouse as a bound string (so it
    /// cannot inject), but only zone-shaped names are sent at all; ClickHouse rejects unknown ones.
    pub(crate) fn validate(&self) -> Result<(), QueryError> {
        if self.installations.is_empty() {
            return Err(QueryError::NoInstallations);
        }
        if self.to <= self.from {
            return Err(QueryError::EmptyRange);
        }
        let tz = &self.time_zone;
        let shaped = !tz.is_empty()
            && tz.len() <= 64
            && tz
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'));
        if shaped {
            Ok(())
        } else {
            Err(QueryError::BadTimeZone(tz.clone()))
        }
    }
}

/// The scope's row filter, for `events`, `field_changes` and `resolutions` alike (all have the
/// columns): installations, time range, projects, issue types, the visibility's two tests,
/// priorities, assignees, labels and components. Bind its values with [`bind_scope`].
/// Installations and time are written so the primary key (installation_id, occurred_at, …)
/// prunes: `IN (SELECT arrayJoin(…))` and the `occurred_at` bounds use the index, where
/// `has(array, installation_id)` and a condition on `occurred_at_ms` alone scan every row
/// (measured: ~1 s per view over 10M events). Lists are cast because ClickHouse 18.16 types
/// an empty array literal as Array(Nothing), which `has` refuses.
pub(crate) const SCOPE_FILTER: &str = concat!(
    "installation_id IN (SELECT arrayJoin(CAST(? AS Array(String))))
    AND occurred_at >= toDateTime(intDiv(?, 1000)) AND occurred_at <= toDateTime(intDiv(?, 1000))
    AND occurred_at_ms >= ? AND occurred_at_ms < ?
    AND (empty(CAST(? AS Array(String))) OR has(CAST(? AS Array(String)), project_key))
    AND (empty(CAST(? AS Array(String))) OR has(CAST(? AS Array(String)), issue_type))
    AND ",
    visible_project!(),
    " AND ",
    visible_issue!(),
    " AND ",
    dimension_filter!()
);

/// The filters beyond project and issue type, for any table with the columns `priority`,
/// `assignee_account_id`, `labels` and `components`; a macro so [`SCOPE_FILTER`] can `concat!`
/// it. Bind with [`bind_dimensions`].
macro_rules! dimension_filter {
    () => {
        "(empty(CAST(? AS Array(String))) OR has(CAST(? AS Array(String)), priority))
    AND (empty(CAST(? AS Array(String))) OR has(CAST(? AS Array(String)), assignee_account_id))
    AND (empty(CAST(? AS Array(String))) OR hasAny(labels, CAST(? AS Array(String))))
    AND (empty(CAST(? AS Array(String))) OR hasAny(components, CAST(? AS Array(String))))"
    };
}
use dimension_filter;

/// Binds the values of one [`SCOPE_FILTER`], in its order.
pub(crate) fn bind_scope(
    query: clickhouse::query::Query,
    scope: &Scope,
) -> clickhouse::query::Query {
    let query = query
        .bind(&scope.installations)
        .bind(scope.from.timestamp_millis())
        .bind(scope.to.timestamp_millis())
        .bind(scope.from.timestamp_millis())
        .bind(scope.to.timestamp_millis())
        .bind(&scope.filters.projects)
        .bind(&scope.filters.projects)
        .bind(&scope.filters.issue_types)
        .bind(&scope.filters.issue_types);
    let query = bind_visible_projects(query, scope);
    let query = bind_visible_issues(query, scope);
    bind_dimensions(query, &scope.filters)
}

/// Binds the values of one `dimension_filter!()`, in its order.
pub(crate) fn bind_dimensions(
    query: clickhouse::query::Query,
    filters: &Filters,
) -> clickhouse::query::Query {
    [
        &filters.priorities,
        &filters.assignees,
        &filters.labels,
        &filters.components,
    ]
    .into_iter()
    .fold(query, |query, values| query.bind(values).bind(values))
}
