//! What every page shares: the header (organization, navigation, who is looking, in which time
//! zone) and the filter form, filled from the request.

use chrono_tz::Tz;

use warehouse::queries::Visibility;

use crate::{access::Member, view_params::ViewQuery};

pub(crate) struct Frame {
    pub organization: String,
    pub organization_id: String,
    pub onboarding_url: String,
    pub email: String,
    pub role: &'static str,
    pub time_zone: String,
    /// Whether the page shows only what the member's Jira account may see (the organization
    /// follows Jira's permissions), so its numbers are theirs, not the organization's.
    pub limited_by_jira: bool,
    /// Which navigation entry is this page.
    pub active: &'static str,
}

impl Frame {
    pub(crate) fn new(member: &Member, onboarding_url: &str, tz: Tz, active: &'static str) -> Self {
        Self {
            organization: member.organization_name.clone(),
            organization_id: member.organization_id.to_string(),
            onboarding_url: onboarding_url.trim_end_matches('/').to_owned(),
            email: member.user.email.clone(),
            role: member.role.as_str(),
            time_zone: tz.name().to_owned(),
            limited_by_jira: matches!(member.visibility, Visibility::Permitted(_)),
            active,
        }
    }
}

pub(crate) struct FilterForm {
    /// Offered ranges in weeks, and whether selected: none when `from` sets the range.
    pub weeks: Vec<(i64, bool)>,
    /// The range's first and last day as asked for (`YYYY-MM-DD`, empty when not): kept by
    /// the form, so a drill-down's days stay when a filter changes.
    pub from: String,
    pub to: String,
    /// Id, name, selected.
    pub workspaces: Vec<(String, String, bool)>,
    pub project: String,
    pub issue_type: String,
    pub event_type: String,
    pub priority: String,
    pub assignee: String,
    pub label: String,
    pub component: String,
    pub issue_key: String,
    pub actor: String,
    /// What a count counted the events as (a drill-down's `kind`).
    pub kind: String,
    pub time_zone: String,
    pub show_event_type: bool,
    pub show_feed_filters: bool,
    /// Priority, assignee, label and component: off on the views that cannot filter by them.
    pub show_issue_dimensions: bool,
}

impl FilterForm {
    /// The form of a view that filters by workspace, project and issue type only.
    pub(crate) fn without_issue_dimensions(member: &Member, query: &ViewQuery, tz: Tz) -> Self {
        Self {
            show_issue_dimensions: false,
            ..Self::new(member, query, tz)
        }
    }

    pub(crate) fn new(member: &Member, query: &ViewQuery, tz: Tz) -> Self {
        // With `from`, weeks count for nothing (the view says so), so none is shown as chosen.
        let weeks = match query.from {
            Some(_) => None,
            None => Some(query.weeks.unwrap_or(crate::view_params::DEFAULT_WEEKS)),
        };
        let day = |date: Option<chrono::NaiveDate>| date.map(|d| d.to_string()).unwrap_or_default();
        Self {
            weeks: [4, 8, 12, 26, 52]
                .into_iter()
                .map(|value| (value, Some(value) == weeks))
                .collect(),
            from: day(query.from),
            to: day(query.to),
            workspaces: member
                .installations
                .iter()
                .map(|installation| {
                    let name = installation.label().to_owned();
                    let selected = query.asks_for_workspace(installation.id);
                    (installation.id.to_string(), name, selected)
                })
                .collect(),
            project: query.project.first().cloned().unwrap_or_default(),
            issue_type: query.issue_type.first().cloned().unwrap_or_default(),
            event_type: query.event_type.first().cloned().unwrap_or_default(),
            priority: query.priority.first().cloned().unwrap_or_default(),
            assignee: query.assignee.first().cloned().unwrap_or_default(),
            label: query.label.first().cloned().unwrap_or_default(),
            component: query.component.first().cloned().unwrap_or_default(),
            issue_key: String::new(),
            actor: String::new(),
            kind: String::new(),
            time_zone: tz.name().to_owned(),
            show_event_type: false,
            show_feed_filters: false,
            show_issue_dimensions: true,
        }
    }
}
