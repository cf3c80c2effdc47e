//! The flow metrics' facts: each issue's history (its segments of time in one status) and what
//! it implies (cycles, completions), kept in `flow_segments` and `flow_completions` by the
//! pipeline as deliveries arrive ([`refresh`]), so a flow view aggregates them in ClickHouse
//! (`queries::flow`). One computation of a cycle, here; the queries only count and rank.

pub mod compaction;
pub mod facts;
pub(crate) mod history;
pub mod refresh;

pub use refresh::{IssueKey, Refreshed, refresh, refresh_all};
