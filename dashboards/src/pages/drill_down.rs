//! Where a page's numbers lead: the events behind a week's cell (the feed over that week's days
//! within the view's range, with the page's filters and the cell's kind), or a page over other
//! days with the same filters.

use chrono::{Days, NaiveDate};

use crate::view_request::PageView;

/// The page's own query as pairs: its range and filters, never a feed's issue, kind or paging.
pub(crate) fn page_query(raw_query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw_query.unwrap_or("").as_bytes())
        .filter(|(key, _)| !matches!(key.as_ref(), "issue_key" | "kind" | "after"))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

/// The events feed over the page's own range and filters, to which [`IssueEvents::of`] adds an
/// issue: where every issue a page lists leads.
pub(crate) struct IssueEvents(String);

impl IssueEvents {
    pub(crate) fn new(organization: &str, page_query: &[(String, String)]) -> Self {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(page_query)
            .finish();
        Self(format!("/orgs/{organization}/events?{query}"))
    }

    /// `issue_key`'s events.
    pub(crate) fn of(&self, issue_key: &str) -> String {
        let key: String = url::form_urlencoded::byte_serialize(issue_key.as_bytes()).collect();
        format!("{}&issue_key={key}", self.0)
    }
}

pub(crate) struct DrillDown {
    organization: String,
    /// The page's query without its range (a link names its own days) and without a feed's
    /// issue, kind or paging.
    filters: Vec<(String, String)>,
    /// The view's first and last day, in its time zone: a week's link never reaches past them,
    /// so the events listed are the ones the cell counted.
    first_day: NaiveDate,
    last_day: NaiveDate,
}

impl DrillDown {
    pub(crate) fn new(view: &PageView, raw_query: Option<&str>) -> Self {
        let filters = page_query(raw_query)
            .into_iter()
            .filter(|(key, _)| !matches!(key.as_str(), "weeks" | "from" | "to"))
            .collect();
        let day = |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&view.tz).date_naive();
        Self {
            organization: view.member.organization_id.to_string(),
            filters,
            first_day: day(view.scope.from),
            last_day: day(view.scope.to - chrono::Duration::milliseconds(1)),
        }
    }

    /// The events counted under `kind` in the week starting `monday`.
    pub(crate) fn week_events(&self, monday: NaiveDate, kind: &str) -> String {
        let (from, to) = self.week(monday);
        self.link("events", from, to, &[("kind", kind)], "")
    }

    /// `page` over `from` to `to` (inclusive), at `anchor`.
    pub(crate) fn page(&self, page: &str, from: NaiveDate, to: NaiveDate, anchor: &str) -> String {
        self.link(page, from, to, &[], anchor)
    }

    /// The days of the week starting `monday` that the view covers.
    fn week(&self, monday: NaiveDate) -> (NaiveDate, NaiveDate) {
        let sunday = monday + Days::new(6);
        (monday.max(self.first_day), sunday.min(self.last_day))
    }

    fn link(
        &self,
        page: &str,
        from: NaiveDate,
        to: NaiveDate,
        extra: &[(&str, &str)],
        anchor: &str,
    ) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.filters)
            .append_pair("from", &from.to_string())
            .append_pair("to", &to.to_string())
            .extend_pairs(extra)
            .finish();
        let anchor = if anchor.is_empty() {
            String::new()
        } else {
            format!("#{anchor}")
        };
        format!("/orgs/{}/{page}?{query}{anchor}", self.organization)
    }
}
