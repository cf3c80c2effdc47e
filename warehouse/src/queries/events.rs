//! Single events: a paged feed newest first, and one event with its field changes. A delivery
//! stored twice appears once (`LIMIT 1 BY` its key). Paging is by cursor (the last row's time
//! and delivery id), so new events arriving do not shift the pages. A page reads the newest
//! day first and looks further back only when that day does not fill it.

use chrono::DateTime;
use clickhouse::{Client, query::RowCursor};
use contracts::InstallationId;
use serde::{Deserialize, Serialize};

use super::{
    scope::{QueryError, SCOPE_FILTER, Scope, bind_scope},
    visibility::Visibility,
};
use crate::{EventRow, FieldChangeRow};

/// Filters the feed adds to the scope's.
#[derive(Debug, Clone, Default)]
pub struct FeedFilters {
    pub issue_key: Option<String>,
    pub actor_account_id: Option<String>,
    /// Only the deliveries a weekly-rates or trends count counts under this kind: an event type
    /// the rates count (`issue_created`, `issue_updated`, `issue_deleted`, `comment_created`),
    /// `issue_resolved` or `resolved`, `reopened`, `transition_<category>`, `field:<name>`. What
    /// a chart's bar or a table's cell drills down to.
    pub kind: Option<String>,
}

/// The kinds that are the event's own type; the others are read from its field changes.
const EVENT_KINDS: &[&str] = &[
    "issue_created",
    "issue_updated",
    "issue_deleted",
    "comment_created",
];

/// Whether `kind` names something a count counts (see [`FeedFilters::kind`]): a weekly-rates
/// kind or a trends kind (`resolved`, `reopened`, `field:<name>`).
pub fn is_feed_kind(kind: &str) -> bool {
    super::weekly_rates::KINDS.contains(&kind)
        || ["resolved", "reopened"].contains(&kind)
        || kind
            .strip_prefix("field:")
            .is_some_and(|field| !field.is_empty() && field.len() <= 100)
}

/// The feed's own conditions on `events`, after the scope's: event types, issue, actor and, when
/// asked, the kind (only then: its field-change lookup costs a read). Bind with [`bind_feed`].
fn feed_conditions(filters: &FeedFilters) -> String {
    let mut sql =
        "AND (empty(CAST(? AS Array(String))) OR has(CAST(? AS Array(String)), event_type))
           AND (? = '' OR issue_key = ?)
           AND (? = '' OR actor_account_id = ?)"
            .to_owned();
    match filters.kind.as_deref() {
        None => {}
        Some(kind) if EVENT_KINDS.contains(&kind) => sql.push_str(" AND event_type = ?"),
        // The same conditions as the rollups' (migration 4) and the views' raw reads.
        Some(_) => sql.push_str(&format!(
            " AND (installation_id, delivery_id) IN (
                 SELECT installation_id, delivery_id FROM field_changes
                 WHERE {SCOPE_FILTER}
                   AND multiIf(
                       ? IN ('issue_resolved', 'resolved'),
                       field = 'resolution' AND from_value = '' AND to_value != '',
                       ? = 'reopened',
                       field = 'resolution' AND from_value != '' AND to_value = '',
                       startsWith(?, 'transition_'),
                       field = 'status' AND concat('transition_', status_category) = ?,
                       concat('field:', field) = ?))"
        )),
    }
    sql
}

/// Binds [`feed_conditions`]' values, in order.
fn bind_feed(
    query: clickhouse::query::Query,
    scope: &Scope,
    filters: &FeedFilters,
) -> clickhouse::query::Query {
    let issue_key = filters.issue_key.clone().unwrap_or_default();
    let actor = filters.actor_account_id.clone().unwrap_or_default();
    let query = query
        .bind(&scope.filters.event_types)
        .bind(&scope.filters.event_types)
        .bind(&issue_key)
        .bind(&issue_key)
        .bind(&actor)
        .bind(&actor);
    match filters.kind.as_deref() {
        None => query,
        Some(kind) if EVENT_KINDS.contains(&kind) => query.bind(kind),
        Some(kind) => (0..5).fold(bind_scope(query, scope), |query, _| query.bind(kind)),
    }
}

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub occurred_at_ms: i64,
    pub delivery_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    /// Newest first; `payload` is left empty here (the single-event view carries it).
    pub events: Vec<EventRow>,
    /// Present when there may be more.
    pub next: Option<Cursor>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDetail {
    pub event: EventRow,
    pub field_changes: Vec<FieldChangeRow>,
}

const COLUMNS: &str = "installation_id, delivery_id, source, family, event_type, occurred_at_ms,
    received_at_ms, project_id, project_key, issue_id, issue_key, issue_type, status,
    status_category, priority, assignee_account_id, assignee_name, labels, components,
    security_level,
    actor_account_id, occurred_at_note";

const DAY_MS: i64 = 86_400_000;
/// The windows a page looks back, newest first, before it reads the whole range: a busy
/// tenant's page is in the last day, a quiet one's within weeks.
const WINDOWS_DAYS: &[i64] = &[1, 7, 35];

pub async fn feed(
    client: &Client,
    scope: &Scope,
    filters: &FeedFilters,
    after: Option<&Cursor>,
    page_size: u32,
) -> Result<FeedPage, QueryError> {
    scope.validate()?;
    let page_size = page_size.clamp(1, 500);
    let sql = format!(
        "SELECT {COLUMNS}, '' AS payload
         FROM events
         WHERE {SCOPE_FILTER}
           {conditions}
           AND (? = 0 OR occurred_at_ms < ? OR (occurred_at_ms = ? AND delivery_id < ?))
         ORDER BY occurred_at_ms DESC, delivery_id DESC
         LIMIT 1 BY installation_id, delivery_id
         LIMIT ?",
        conditions = feed_conditions(filters),
    );
    let (has_cursor, cursor_ms, cursor_id) = match after {
        Some(cursor) => (1u8, cursor.occurred_at_ms, cursor.delivery_id.clone()),
        None => (0u8, 0, String::new()),
    };
    // Newest first without sorting the whole range (ClickHouse 18.16 cannot read in key order):
    // look back one window at a time from where the page starts; a window holding a full page
    // of distinct deliveries holds the newest ones, since everything newer than its start is in.
    let (from_ms, to_ms) = (scope.from.timestamp_millis(), scope.to.timestamp_millis());
    let end_ms = match after {
        Some(cursor) => cursor.occurred_at_ms.saturating_add(1).min(to_ms),
        None => to_ms,
    };
    let mut events = Vec::new();
    for window in WINDOWS_DAYS
        .iter()
        .map(|days| Some(days * DAY_MS))
        .chain([None])
    {
        if end_ms <= from_ms {
            break;
        }
        let start_ms = window.map_or(from_ms, |window| (end_ms - window).max(from_ms));
        let (Some(from), Some(to)) = (
            DateTime::from_timestamp_millis(start_ms),
            DateTime::from_timestamp_millis(end_ms),
        ) else {
            return Err(QueryError::EmptyRange);
        };
        let window_scope = Scope {
            from,
            to,
            ..scope.clone()
        };
        let query = bind_scope(client.query(&sql), &window_scope);
        events = bind_feed(query, &window_scope, filters)
            .bind(has_cursor)
            .bind(cursor_ms)
            .bind(cursor_ms)
            .bind(&cursor_id)
            .bind(page_size)
            .fetch_all::<EventRow>()
            .await?;
        if events.len() == page_size as usize || start_ms == from_ms {
            break;
        }
    }
    let next = (events.len() == page_size as usize)
        .then(|| events.last())
        .flatten()
        .map(|last| Cursor {
            occurred_at_ms: last.occurred_at_ms,
            delivery_id: last.delivery_id.clone(),
        });
    Ok(FeedPage { events, next })
}

/// One event, if it belongs to one of `installations` and `visibility` shows it (anything else
/// is as if it did not exist, so another organization's ids, or an issue Jira hides from the
/// viewer, reveal nothing).
pub async fn event(
    client: &Client,
    installations: &[InstallationId],
    visibility: &Visibility,
    installation_id: InstallationId,
    delivery_id: &str,
) -> Result<Option<EventDetail>, QueryError> {
    let found = lookup(client, installations, installation_id, delivery_id, None).await?;
    Ok(found.filter(|detail| detail.visible_to(visibility)))
}

/// [`event`], told when the event happened (as the feed showed it): the primary key then
/// narrows the search to that second instead of the installation's whole history.
pub async fn event_at(
    client: &Client,
    installations: &[InstallationId],
    visibility: &Visibility,
    installation_id: InstallationId,
    delivery_id: &str,
    occurred_at_ms: i64,
) -> Result<Option<EventDetail>, QueryError> {
    let found = lookup(
        client,
        installations,
        installation_id,
        delivery_id,
        Some(occurred_at_ms),
    )
    .await?;
    Ok(found.filter(|detail| detail.visible_to(visibility)))
}

impl EventDetail {
    fn visible_to(&self, visibility: &Visibility) -> bool {
        let event = &self.event;
        visibility.shows(event.installation_id, &event.project_key, &event.issue_id)
    }
}

async fn lookup(
    client: &Client,
    installations: &[InstallationId],
    installation_id: InstallationId,
    delivery_id: &str,
    occurred_at_ms: Option<i64>,
) -> Result<Option<EventDetail>, QueryError> {
    if !installations.contains(&installation_id) {
        return Ok(None);
    }
    // Written out rather than `? = 0 OR …`, which 18.16 cannot use the index for.
    let at_second = if occurred_at_ms.is_some() {
        "AND occurred_at = toDateTime(intDiv(?, 1000))"
    } else {
        ""
    };
    let mut query = client
        .query(&format!(
            "SELECT {COLUMNS}, payload FROM events
             WHERE installation_id = ? {at_second} AND delivery_id = ?
             LIMIT 1"
        ))
        .bind(installation_id.to_string());
    if let Some(at) = occurred_at_ms {
        query = query.bind(at);
    }
    let event = query.bind(delivery_id).fetch_optional::<EventRow>().await?;
    let Some(event) = event else {
        return Ok(None);
    };
    let field_changes = client
        .query(
            "SELECT installation_id, delivery_id, item_index, occurred_at_ms, project_key,
                    issue_id, issue_key, issue_type, field, field_id, from_value, to_value,
                    from_string, to_string, status_category, priority, assignee_account_id,
                    labels, components
             FROM field_changes
             WHERE installation_id = ? AND occurred_at = toDateTime(intDiv(?, 1000))
               AND delivery_id = ?
             ORDER BY item_index
             LIMIT 1 BY item_index",
        )
        .bind(installation_id.to_string())
        .bind(event.occurred_at_ms)
        .bind(delivery_id)
        .fetch_all::<FieldChangeRow>()
        .await?;
    Ok(Some(EventDetail {
        event,
        field_changes,
    }))
}

/// How much of the range one query of an export reads. Sorting and de-duplicating a day at a
/// time keeps an export inside one query's memory limit at any size: 12 weeks of a tenant of
/// 10 million events, sorted at once, was refused for needing more than 2 GiB. A delivery's
/// copies share its time, so they always fall in one day and are de-duplicated there.
const EXPORT_SLICE_MS: i64 = 24 * 3_600_000;

/// Every event of the scope and `filters`, newest first, each delivery once, without payloads,
/// read row by row as ClickHouse sends them, a day of the range per query: a download of any
/// size holds one chunk in memory, its first bytes leave before the last row is read, and no
/// row is cut off by a cap.
pub fn export(
    client: &Client,
    scope: &Scope,
    filters: &FeedFilters,
) -> Result<EventExport, QueryError> {
    scope.validate()?;
    Ok(EventExport {
        client: client.clone(),
        scope: scope.clone(),
        filters: filters.clone(),
        unread_to_ms: scope.to.timestamp_millis(),
        slice: None,
    })
}

/// An export under way: the rows of the slice being read, and where the next slice ends.
pub struct EventExport {
    client: Client,
    scope: Scope,
    filters: FeedFilters,
    /// The range before this (exclusive) is still to be read.
    unread_to_ms: i64,
    slice: Option<RowCursor<EventRow>>,
}

impl EventExport {
    /// The next row, newest first; `None` once the range is read.
    pub async fn next(&mut self) -> Result<Option<EventRow>, QueryError> {
        loop {
            if let Some(slice) = &mut self.slice {
                if let Some(row) = slice.next().await? {
                    return Ok(Some(row));
                }
                self.slice = None;
            }
            let from_ms = self.scope.from.timestamp_millis();
            if self.unread_to_ms <= from_ms {
                return Ok(None);
            }
            let start_ms = (self.unread_to_ms - EXPORT_SLICE_MS).max(from_ms);
            self.slice = Some(self.read_slice(start_ms, self.unread_to_ms)?);
            self.unread_to_ms = start_ms;
        }
    }

    fn read_slice(&self, from_ms: i64, to_ms: i64) -> Result<RowCursor<EventRow>, QueryError> {
        let slice = Scope {
            from: DateTime::from_timestamp_millis(from_ms).unwrap_or(self.scope.from),
            to: DateTime::from_timestamp_millis(to_ms).unwrap_or(self.scope.to),
            ..self.scope.clone()
        };
        let sql = format!(
            "SELECT {COLUMNS}, '' AS payload
             FROM events
             WHERE {SCOPE_FILTER}
               {conditions}
             ORDER BY occurred_at_ms DESC, delivery_id DESC
             LIMIT 1 BY installation_id, delivery_id",
            conditions = feed_conditions(&self.filters),
        );
        let query = bind_scope(self.client.query(&sql), &slice);
        Ok(bind_feed(query, &slice, &self.filters).fetch::<EventRow>()?)
    }
}
