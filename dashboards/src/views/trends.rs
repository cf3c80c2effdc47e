//! The trends view: created against resolved, reopens, the open backlog, the median time to
//! resolution and field changes per week. The JSON API serializes it, its weeks are the CSV's
//! rows and the trends page's table rows.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::Range;
use crate::{csv_body::CsvRow, error::DashboardError, view_request::View};

/// The fields whose changes the trends count, in the CSV's column order.
pub(crate) const TREND_FIELDS: &[&str] = &["assignee", "priority", "status"];

/// Trends per week, Monday to Sunday in `time_zone`. MetaFrazo never copies history: every
/// number is of what happened since a workspace was connected, each delivery counted once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Trends {
    #[serde(flatten)]
    pub range: Range,
    /// The weeks the range touches, oldest first.
    pub weeks: Vec<TrendWeek>,
}

/// One week of the trends.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TrendWeek {
    /// The Monday the week starts on, in the view's time zone.
    pub start: NaiveDate,
    /// Issues created (`issue_created` events).
    pub created: u64,
    /// Resolutions set where there was none (a changelog item on `resolution` from empty).
    pub resolved: u64,
    /// Resolutions cleared again (a changelog item on `resolution` to empty).
    pub reopened: u64,
    /// Issues open at the week's end: created − resolved + reopened, summed over the range's
    /// weeks up to this one. It starts from zero at the range's start, so issues opened before
    /// the range (or before the connection) are not in it.
    pub backlog: i64,
    /// The median of the hours from creation to resolution of the issues resolved this week
    /// whose creation MetaFrazo saw (issues created before the connection are left out); for
    /// an even count the upper of the two middle values. `null` when no such issue was
    /// resolved this week.
    #[schema(required = true)]
    pub median_hours_to_resolution: Option<f64>,
    /// Changelog items per field, for `assignee`, `priority` and `status`; zero when none.
    #[schema(example = json!({"assignee": 3, "priority": 0, "status": 12}))]
    pub field_changes: BTreeMap<String, u64>,
}

impl Trends {
    /// What the view shows: no weeks at all when the organization has no workspace to ask.
    pub(crate) async fn load<A>(
        warehouse: &clickhouse::Client,
        view: &View<A>,
    ) -> Result<Self, DashboardError> {
        let weeks = if view.scope.installations.is_empty() {
            Vec::new()
        } else {
            warehouse::queries::trends(warehouse, &view.scope, &fields())
                .await?
                .weeks
        };
        Ok(Self::new(Range::of(view), &weeks))
    }

    pub(crate) fn new(range: Range, weeks: &[warehouse::queries::TrendWeek]) -> Self {
        Self {
            range,
            weeks: weeks
                .iter()
                .map(|week| TrendWeek {
                    start: week.start,
                    created: week.created,
                    resolved: week.resolved,
                    reopened: week.reopened,
                    backlog: week.backlog,
                    median_hours_to_resolution: week.median_hours_to_resolution,
                    field_changes: week.field_changes.clone(),
                })
                .collect(),
        }
    }
}

/// The trend fields as the warehouse query takes them.
fn fields() -> Vec<String> {
    TREND_FIELDS
        .iter()
        .map(|field| (*field).to_owned())
        .collect()
}

impl TrendWeek {
    /// Changes of one field; zero for a field not counted.
    pub(crate) fn changes_of(&self, field: &str) -> u64 {
        self.field_changes.get(field).copied().unwrap_or(0)
    }

    /// The median as the page's table shows it: one decimal, a dash when there is none.
    pub(crate) fn median_label(&self) -> String {
        self.median_hours_to_resolution
            .map_or_else(|| "–".to_owned(), |hours| format!("{hours:.1}"))
    }
}

/// A column per trend field (`assignee_changes`, …) after the counts.
impl CsvRow for TrendWeek {
    fn header() -> Vec<String> {
        [
            "week_start",
            "created",
            "resolved",
            "reopened",
            "backlog",
            "median_hours_to_resolution",
        ]
        .into_iter()
        .map(str::to_owned)
        .chain(TREND_FIELDS.iter().map(|field| format!("{field}_changes")))
        .collect()
    }

    fn record(&self) -> Vec<String> {
        [
            self.start.to_string(),
            self.created.to_string(),
            self.resolved.to_string(),
            self.reopened.to_string(),
            self.backlog.to_string(),
            self.median_hours_to_resolution
                .map(|hours| hours.to_string())
                .unwrap_or_default(),
        ]
        .into_iter()
        .chain(
            TREND_FIELDS
                .iter()
                .map(|field| self.changes_of(field).to_string()),
        )
        .collect()
    }
}
