//! The weekly rates view: events per week by kind, with the days of data behind each week. The
//! JSON API serializes it, its weeks are the CSV's rows and the weekly page's table rows.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;
use warehouse::queries::weekly_rates::KINDS;

use super::Range;
use crate::{csv_body::CsvRow, error::DashboardError, view_request::View};

/// Events per week, Monday to Sunday in `time_zone`, by kind. Every count is of distinct
/// deliveries: a delivery Jira sent twice counts once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WeeklyRates {
    #[serde(flatten)]
    pub range: Range,
    /// Every kind a week can count, in the CSV's column order:
    /// `issue_created` (issues created), `issue_updated` (issue updates of any kind),
    /// `issue_resolved` (updates that set a resolution where there was none),
    /// `issue_deleted` (issues deleted), `comment_created` (comments added),
    /// `transition_new`, `transition_indeterminate`, `transition_done` (status changes, by the
    /// category of the status the issue moved to: to do, in progress, done). Resolutions and
    /// transitions are updates seen another way, so they are also in `issue_updated`.
    #[schema(example = json!(KINDS))]
    pub kinds: Vec<&'static str>,
    /// The weeks the range touches, oldest first.
    pub weeks: Vec<WeekRates>,
}

/// One week of the weekly rates.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WeekRates {
    /// The Monday the week starts on, in the view's time zone.
    pub start: NaiveDate,
    /// Days of this week with data behind them, 0 to 7: on or after the first event ever
    /// received from the organization's workspaces, and not after today.
    pub days_with_data: u8,
    /// Fewer than 7 days of data (the week of the first event, or this week): a low count is
    /// not a drop.
    pub partial: bool,
    /// Distinct deliveries per kind (see `kinds`). Every kind asked for is present, zero when
    /// nothing happened; with an `event_type` filter, only the kinds it names.
    pub counts: BTreeMap<String, u64>,
}

impl WeeklyRates {
    /// What the view shows: no weeks at all when the organization has no workspace to ask.
    pub(crate) async fn load<A>(
        warehouse: &clickhouse::Client,
        view: &View<A>,
    ) -> Result<Self, DashboardError> {
        let weeks = if view.scope.installations.is_empty() {
            Vec::new()
        } else {
            warehouse::queries::weekly_rates(warehouse, &view.scope)
                .await?
                .weeks
        };
        Ok(Self::new(Range::of(view), &weeks))
    }

    pub(crate) fn new(range: Range, weeks: &[warehouse::queries::Week]) -> Self {
        Self {
            range,
            kinds: KINDS.to_vec(),
            weeks: weeks
                .iter()
                .map(|week| WeekRates {
                    start: week.start,
                    days_with_data: week.days_with_data,
                    partial: week.is_partial(),
                    counts: week.counts.clone(),
                })
                .collect(),
        }
    }
}

impl WeekRates {
    /// The count of one kind; zero for a kind the view did not ask for.
    pub(crate) fn count(&self, kind: &str) -> u64 {
        self.counts.get(kind).copied().unwrap_or(0)
    }
}

/// A column per kind, every kind, as the JSON's `kinds` lists them.
impl CsvRow for WeekRates {
    fn header() -> Vec<String> {
        ["week_start", "days_with_data", "partial"]
            .into_iter()
            .chain(KINDS.iter().copied())
            .map(str::to_owned)
            .collect()
    }

    fn record(&self) -> Vec<String> {
        [
            self.start.to_string(),
            self.days_with_data.to_string(),
            self.partial.to_string(),
        ]
        .into_iter()
        .chain(KINDS.iter().map(|kind| self.count(kind).to_string()))
        .collect()
    }
}
