//! Every analytical query, as a typed function the dashboards call with a [`Scope`].

pub mod activity;
mod calendar;
pub mod events;
pub mod flow;
mod hour_split;
mod permission_candidates;
mod scope;
pub mod sprints;
pub mod time_logged;
pub mod trends;
mod visibility;
pub mod weekly_rates;

pub use activity::last_event_received;
pub use events::{
    Cursor, EventDetail, EventExport, FeedFilters, FeedPage, event, event_at, export, feed,
    is_feed_kind,
};
pub use flow::{Flow, flow, flow_as_of};
pub use permission_candidates::{
    CandidateCounts, IssueToAsk, PermissionCandidates, ProjectSeen, candidate_counts,
    permission_candidates, record_grants,
};
pub use scope::{Filters, QueryError, Scope};
pub use sprints::{Sprint, SprintIssue, SprintIssues, Sprints, sprints};
pub use time_logged::{GroupSeconds, IssueSeconds, TimeLogged, WeekSeconds, time_logged};
pub use trends::{TrendWeek, Trends, trends};
pub use visibility::{Permitted, Visibility};
pub use weekly_rates::{Week, WeeklyRates, weekly_rates};
