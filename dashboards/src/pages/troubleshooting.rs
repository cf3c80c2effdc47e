//! `GET /orgs/{organization}/troubleshooting`: "Why don't I see any events yet?", from real
//! state: each workspace's connection state, its last event, the deliveries ingress refused for
//! it and why, the pipeline's backlog, and the fix for each cause in plain words.

use std::collections::BTreeMap;

use askama::Template;
use axum::{extract::State, response::Response};

use super::{frame::Frame, render};
use crate::{AppState, error::DashboardError, view_request::PageCaller};

pub(crate) struct WorkspaceHealth {
    pub name: String,
    pub source: String,
    pub state: String,
    pub last_event: Option<String>,
    pub refusals: Option<BTreeMap<String, u64>>,
    pub advice: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "troubleshooting.html")]
struct TroubleshootingPage {
    frame: Frame,
    pipeline_lag: Option<u64>,
    workspaces: Vec<WorkspaceHealth>,
}

/// The fixes for what we see, most likely cause first.
pub(crate) fn advice(
    source: &str,
    state: &str,
    has_events: bool,
    refusals: Option<&BTreeMap<String, u64>>,
) -> Vec<&'static str> {
    let mut advice = Vec::new();
    match state {
        "uninstalled" => advice.push(
            "MetaFrazo was uninstalled from this Jira site, so Jira sends nothing. Install it again from the Atlassian Marketplace; the setup email lets you reconnect it to this organization, with its history.",
        ),
        "disabled" => advice.push(
            "The app is disabled in Jira. A Jira admin can enable it under Apps → Manage apps → MetaFrazo.",
        ),
        _ => {}
    }
    let refused = |reason: &str| refusals.is_some_and(|r| r.contains_key(reason));
    if source == "webhook" && (refused("bad_signature") || refused("missing_signature")) {
        advice.push(
            "The admin webhook's secret in Jira does not match. Paste the connection's secret again into Jira's webhook settings (or create a new connection).",
        );
    } else if refused("bad_signature") || refused("qsh_mismatch") {
        advice.push(
            "Jira's deliveries are signed with a secret MetaFrazo does not hold (after a restore or a move of the site). Reinstalling the app in Jira rotates the shared secret and fixes it.",
        );
    }
    if refused("expired") || refused("issued_in_the_future") {
        advice.push(
            "Deliveries arrive with expired signatures: the clock of the sending Jira (Data Center) is off. Fix its time (NTP).",
        );
    }
    if refused("uninstalled") {
        advice.push("Jira is still sending to a connection MetaFrazo considers uninstalled. Reinstall the app.");
    }
    if state == "installed" && !has_events && advice.is_empty() {
        advice.push(
            "Everything is connected; nothing has happened in Jira since. Create or edit an issue in this site and it appears on the Events page within seconds.",
        );
    }
    advice
}

pub(crate) async fn troubleshooting(
    State(state): State<AppState>,
    caller: PageCaller,
) -> Result<Response, DashboardError> {
    let (member, tz) = (caller.member, caller.tz);
    let mut workspaces = Vec::new();
    for installation in &member.installations {
        let last = warehouse::queries::last_event_received(&state.warehouse, installation.id)
            .await
            .inspect_err(|err| tracing::warn!(error = %err, "cannot read the last event"))
            .ok()
            .flatten();
        let refusals = state.prometheus.refusals(installation.id).await;
        workspaces.push(WorkspaceHealth {
            name: installation.label_with_address(),
            source: installation.source.clone(),
            state: installation.state.clone(),
            last_event: last.map(|at| {
                chrono::DateTime::<chrono::Utc>::from(at)
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string()
            }),
            advice: advice(
                &installation.source,
                &installation.state,
                last.is_some(),
                refusals.as_ref(),
            ),
            refusals,
        });
    }
    Ok(render(&TroubleshootingPage {
        frame: Frame::new(
            &member,
            state.onboarding_url.as_str(),
            tz,
            "troubleshooting",
        ),
        pipeline_lag: state.prometheus.pipeline_lag().await,
        workspaces,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_gets_its_fix() {
        assert!(advice("connect", "uninstalled", false, None)[0].contains("Install it again"));
        assert!(advice("connect", "disabled", false, None)[0].contains("enable it"));
        let bad = BTreeMap::from([("bad_signature".to_owned(), 3)]);
        assert!(
            advice("connect", "installed", false, Some(&bad))[0]
                .contains("rotates the shared secret")
        );
        assert!(advice("webhook", "installed", false, Some(&bad))[0].contains("webhook's secret"));
        let late = BTreeMap::from([("expired".to_owned(), 1)]);
        assert!(advice("webhook", "installed", true, Some(&late))[0].contains("clock"));
        assert!(advice("connect", "installed", false, None)[0].contains("nothing has happened"));
        assert!(advice("connect", "installed", true, Some(&BTreeMap::new())).is_empty());
    }
}
