//! Views that show each member only what their Jira account may see (issue 20), end to end: the
//! simulator installs the app (onboarding stores the shared secret, encrypted) and sends a
//! lifecycle stream, a third of whose issues are under an issue security level, through the real
//! ingress, broker and pipeline; the organization turns the setting on; two members are linked
//! to Jira accounts the simulator's permission model treats differently (the owner browses both
//! projects and is in the level; the analyst browses one project and is not). The real
//! dashboards ask the simulator's bulk permission check with the app's credentials, and every
//! number (weekly rates and trends, API and pages; the feed; the CSV) is compared with one
//! computed here from the events each account may see, by the test's own rule, never from the
//! warehouse. Then: a member with no linked account sees only the request to link one; a
//! revoked permission disappears within the time an answer is kept; with Jira not answering
//! and the answer too old, nothing is shown; with the setting off, everything is.

#[path = "support/real_path.rs"]
mod real_path;
mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use accounts_store::{
    atlassian_accounts::{self, LinkedVia},
    jira_permissions::set_jira_permissions_enforced,
    roles::Role,
};
use chrono::Utc;
use golden_path::{
    expected::{self, KINDS, ViewRange},
    html,
};
use jira_simulator::{
    SecuredIssues, SitePermissions, WorkspaceSpec,
    lifecycle::{self, LifecycleEvent, LifecycleKind, LifecycleSpec},
};
use real_path::{RealPath, Sent, stream};
use serde_json::Value;
use support::Setup;
use test_kit::eventually;
use uuid::Uuid;

/// How long the dashboards keep Jira's answer for a member: short, so the test sees it expire.
const KEPT: Duration = Duration::from_secs(2);
const WEEKS_VIEWED: u32 = 8;
const LEVEL: &str = "10100";
/// The lifecycle stream's projects (`jira_simulator::lifecycle`).
const PAY: (&str, &str) = ("PAY", "20001");
const MOB: (&str, &str) = ("MOB", "20002");
const OWNER_ACCOUNT: &str = "712020:0f0e0d0c-aaaa-4bbb-8ccc-000000000001";
const ANALYST_ACCOUNT: &str = "712020:0f0e0d0c-aaaa-4bbb-8ccc-000000000002";

/// One member as the test signs in: a session for pages, an API token for the API.
struct Member {
    user: Uuid,
    cookie: String,
    token: String,
}

/// Who may see what, the test's own rule: the projects each account browses, and the members
/// of the security level.
struct Rule {
    projects: BTreeMap<&'static str, Vec<&'static str>>,
    level_members: Vec<&'static str>,
}

impl Rule {
    fn sees(&self, account: &str, event: &LifecycleEvent) -> bool {
        self.projects
            .get(account)
            .is_some_and(|projects| projects.contains(&event.issue.project_key))
            && (event.issue.security_level.is_none() || self.level_members.contains(&account))
    }

    fn visible(&self, account: &str, events: &[LifecycleEvent]) -> Vec<LifecycleEvent> {
        events
            .iter()
            .filter(|event| self.sees(account, event))
            .cloned()
            .collect()
    }

    /// The same rule as the simulator's model: PAY only for the accounts listed for it (MOB
    /// likewise, when it is restricted), the level's members, every secured issue.
    fn model(&self, events: &[LifecycleEvent]) -> SitePermissions {
        let browsing = |key: &str| -> Vec<&'static str> {
            self.projects
                .iter()
                .filter(|(_, projects)| projects.contains(&key))
                .map(|(account, _)| *account)
                .collect()
        };
        let mut model = SitePermissions::default()
            .restrict_project(PAY.1, browsing(PAY.0))
            .restrict_project(MOB.1, browsing(MOB.0))
            .level(LEVEL, self.level_members.clone());
        let secured: BTreeSet<&str> = events
            .iter()
            .filter(|event| event.issue.security_level.is_some())
            .map(|event| event.issue.id.as_str())
            .collect();
        for issue in secured {
            model = model.secure_issue(issue, LEVEL);
        }
        model
    }
}

fn rule(analyst_projects: Vec<&'static str>) -> Rule {
    Rule {
        projects: BTreeMap::from([
            (OWNER_ACCOUNT, vec![PAY.0, MOB.0]),
            (ANALYST_ACCOUNT, analyst_projects),
        ]),
        level_members: vec![OWNER_ACCOUNT],
    }
}

async fn member(setup: &Setup, organization: Uuid, name: &str, role: Role) -> Member {
    let (user, cookie) = setup.user(name).await;
    if role != Role::Owner {
        setup.member(organization, user, role).await;
    }
    let (_, token) = setup.api_token(user).await;
    Member {
        user,
        cookie,
        token,
    }
}

async fn link(setup: &Setup, organization: Uuid, member: &Member, account: &str) {
    let client = setup.pool.get().await.unwrap();
    let linked = atlassian_accounts::link(
        &client,
        organization,
        member.user,
        account,
        LinkedVia::OAuth,
    )
    .await
    .unwrap();
    assert!(linked);
}

async fn enforce(setup: &Setup, organization: Uuid, enforced: bool) {
    let client = setup.pool.get().await.unwrap();
    set_jira_permissions_enforced(&client, organization, enforced)
        .await
        .unwrap();
}

/// Every event id of the feed, page by page, with its issue key.
async fn feed(setup: &Setup, organization: Uuid, member: &Member) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let after = next
            .as_deref()
            .map(|cursor| format!("&after={cursor}"))
            .unwrap_or_default();
        let answer = setup
            .get(
                &format!("/api/v1/orgs/{organization}/events?weeks={WEEKS_VIEWED}&tz=UTC{after}"),
                &member.token,
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let page = answer.json();
        seen.extend(page["events"].as_array().unwrap().iter().map(|event| {
            (
                event["id"].as_str().unwrap().to_owned(),
                event["issue_key"].as_str().unwrap().to_owned(),
            )
        }));
        match page["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => return seen,
        }
    }
}

/// The weekly rates as the API answers them, by week and kind.
fn weekly_of(body: &Value) -> BTreeMap<chrono::NaiveDate, BTreeMap<&'static str, u64>> {
    body["weeks"]
        .as_array()
        .expect("weeks")
        .iter()
        .map(|week| {
            let start = week["start"].as_str().unwrap().parse().unwrap();
            let counts = KINDS
                .iter()
                .map(|kind| (*kind, week["counts"][kind].as_u64().expect("a count")))
                .collect();
            (start, counts)
        })
        .collect()
}

/// Every view the member opens equals the same view computed from `visible`; nothing of an
/// issue outside it (its key) appears in any page or answer.
async fn check_member(
    setup: &Setup,
    organization: Uuid,
    member: &Member,
    visible: &[LifecycleEvent],
    hidden_keys: &BTreeSet<String>,
    who: &str,
) {
    let range = ViewRange::last_weeks(Utc::now().timestamp_millis(), WEEKS_VIEWED, chrono_tz::UTC);
    let query = format!("?weeks={WEEKS_VIEWED}&tz=UTC");
    let api = |path: &str| format!("/api/v1/orgs/{organization}{path}{query}");
    let page = |path: &str| format!("/orgs/{organization}{path}{query}");

    let want = expected::weekly_rates(visible, &range, chrono_tz::UTC);
    let weekly = setup.get(&api("/weekly-rates"), &member.token).await;
    assert_eq!(weekly.status, 200, "{who}: {}", weekly.body);
    assert_eq!(weekly_of(&weekly.json()), want, "{who}: weekly rates (API)");
    let weekly_page = setup.get(&page("/weekly"), &member.cookie).await;
    let rows: BTreeMap<chrono::NaiveDate, Vec<u64>> = html::table_rows(&weekly_page.body)
        .into_iter()
        .map(|row| {
            let start = row[0][..10].parse().expect("a week");
            (start, row[2..].iter().map(|n| n.parse().unwrap()).collect())
        })
        .collect();
    let want_rows: BTreeMap<_, _> = want
        .iter()
        .map(|(week, counts)| (*week, KINDS.iter().map(|kind| counts[kind]).collect()))
        .collect();
    assert_eq!(rows, want_rows, "{who}: weekly rates (page)");

    let trends = setup.get(&api("/trends"), &member.token).await.json();
    let want_trends = expected::trends(visible, &range, chrono_tz::UTC);
    let got_trends = trends["weeks"].as_array().expect("weeks");
    assert_eq!(got_trends.len(), want_trends.len(), "{who}: trend weeks");
    for (got, want) in got_trends.iter().zip(&want_trends) {
        assert_eq!(got["start"], want.start.to_string(), "{who}");
        assert_eq!(
            got["created"], want.created,
            "{who}: created {}",
            want.start
        );
        assert_eq!(
            got["resolved"], want.resolved,
            "{who}: resolved {}",
            want.start
        );
        assert_eq!(
            got["reopened"], want.reopened,
            "{who}: reopened {}",
            want.start
        );
    }

    let events = feed(setup, organization, member).await;
    assert_eq!(
        events.len(),
        visible.len(),
        "{who}: the feed, each delivery once"
    );
    let keys: BTreeSet<String> = events.iter().map(|(_, key)| key.clone()).collect();
    let want_keys: BTreeSet<String> = visible
        .iter()
        .map(|event| event.issue.key.clone())
        .collect();
    assert_eq!(keys, want_keys, "{who}: the feed's issues");
    // A drill-down: the creations behind the weekly bars.
    let drilled = setup
        .get(
            &api("/events").replace("?", "?kind=issue_created&"),
            &member.token,
        )
        .await
        .json();
    let created = visible
        .iter()
        .filter(|event| event.kind == LifecycleKind::Created)
        .count();
    assert_eq!(
        drilled["events"].as_array().unwrap().len(),
        created,
        "{who}: the drill-down to creations"
    );
    let csv = setup
        .get(
            &format!("/orgs/{organization}/export/events.csv{query}"),
            &member.cookie,
        )
        .await;
    assert_eq!(csv.status, 200, "{who}: {}", csv.body);
    assert_eq!(
        csv.body.lines().count(),
        visible.len() + 1,
        "{who}: the CSV"
    );

    // Nothing of a hidden issue anywhere: pages, the flow's lists, the CSV.
    let mut texts = vec![csv.body, weekly_page.body];
    for path in [
        "",
        "/trends",
        "/flow",
        "/events",
        "/sprints",
        "/time-logged",
    ] {
        let answer = setup.get(&page(path), &member.cookie).await;
        assert_eq!(answer.status, 200, "{who}: {path}: {}", answer.body);
        texts.push(answer.body);
    }
    let flow = setup.get(&api("/flow"), &member.token).await;
    assert_eq!(flow.status, 200, "{who}: {}", flow.body);
    texts.push(flow.body);
    for key in hidden_keys {
        for text in &texts {
            for shown in [format!(">{key}<"), format!("\"{key}\""), format!(",{key},")] {
                assert!(!text.contains(&shown), "{who} sees {key}");
            }
        }
    }
}

#[tokio::test]
async fn each_member_sees_only_what_their_jira_account_may_see() {
    let path = RealPath::start().await;
    let sim_url = path.sim.url().unwrap();
    let setup = Setup::start_with(|config| {
        config.postgres = path.postgres.clone();
        config.clickhouse = path.clickhouse.clone();
        config.jira_permissions.api_base_override = Some(sim_url);
        config.jira_permissions.ttl = KEPT;
    })
    .await;
    let installation = path
        .sim
        .install_connect(&path.target, &WorkspaceSpec::random())
        .await
        .unwrap();
    let site = installation.site_base_url.clone();
    let (owner_user, owner_cookie) = setup.user("owner").await;
    let organization = setup
        .organization_of_install(owner_user, &installation.client_key)
        .await;
    let (_, owner_token) = setup.api_token(owner_user).await;
    let owner = Member {
        user: owner_user,
        cookie: owner_cookie,
        token: owner_token,
    };
    let analyst = member(&setup, organization, "analyst", Role::Analyst).await;
    let unlinked = member(&setup, organization, "newcomer", Role::Analyst).await;
    link(&setup, organization, &owner, OWNER_ACCOUNT).await;
    link(&setup, organization, &analyst, ANALYST_ACCOUNT).await;

    let spec = LifecycleSpec {
        seed: 20,
        issues: 30,
        weeks: 5,
        end_ms: Utc::now().timestamp_millis() - 60_000,
    };
    let secured = SecuredIssues {
        level_id: LEVEL.to_owned(),
        level_name: "Staff only".to_owned(),
        every_nth: std::num::NonZeroU32::new(3).unwrap(),
    };
    let events = lifecycle::generate_secured(&spec, &secured);
    let deliveries: Vec<Sent> = events
        .iter()
        .map(|event| Sent {
            at_ms: event.at_ms,
            identifier: event.identifier.clone(),
            body: event.connect_body(&site),
        })
        .collect();
    stream(&path, &installation, &deliveries, &setup.warehouse).await;

    let granted = rule(vec![MOB.0]);
    path.sim.set_permissions(&site, granted.model(&events));
    enforce(&setup, organization, true).await;

    let all_keys: BTreeSet<String> = events.iter().map(|event| event.issue.key.clone()).collect();
    let hidden_from = |rule: &Rule, account: &str| -> BTreeSet<String> {
        let seen: BTreeSet<String> = rule
            .visible(account, &events)
            .iter()
            .map(|event| event.issue.key.clone())
            .collect();
        all_keys.difference(&seen).cloned().collect()
    };
    let owner_sees = granted.visible(OWNER_ACCOUNT, &events);
    let analyst_sees = granted.visible(ANALYST_ACCOUNT, &events);
    assert_eq!(
        owner_sees.len(),
        events.len(),
        "the owner's account sees it all"
    );
    assert!(
        !analyst_sees.is_empty() && analyst_sees.len() < events.len() / 2,
        "the analyst's account sees some: {} of {}",
        analyst_sees.len(),
        events.len()
    );
    assert!(
        events
            .iter()
            .any(|event| event.issue.project_key == MOB.0 && event.issue.security_level.is_some()),
        "a secured issue in the analyst's project"
    );
    check_member(
        &setup,
        organization,
        &owner,
        &owner_sees,
        &BTreeSet::new(),
        "owner",
    )
    .await;
    check_member(
        &setup,
        organization,
        &analyst,
        &analyst_sees,
        &hidden_from(&granted, ANALYST_ACCOUNT),
        "analyst",
    )
    .await;

    // One event of a secured issue: the owner opens it, for the analyst it does not exist.
    let secured_key = events
        .iter()
        .find(|event| event.issue.project_key == MOB.0 && event.issue.security_level.is_some())
        .map(|event| event.issue.key.clone())
        .unwrap();
    let (secured_id, _) = feed(&setup, organization, &owner)
        .await
        .into_iter()
        .find(|(_, key)| *key == secured_key)
        .unwrap();
    let one = format!("/api/v1/orgs/{organization}/events/{secured_id}");
    assert_eq!(setup.get(&one, &owner.token).await.status, 200);
    assert_eq!(setup.get(&one, &analyst.token).await.status, 404);
    let one_page = format!("/orgs/{organization}/events/{secured_id}");
    assert_eq!(setup.get(&one_page, &analyst.cookie).await.status, 404);

    // A member with no linked account: the request to link one, on every page and call.
    let weekly_page = format!("/orgs/{organization}/weekly?weeks={WEEKS_VIEWED}");
    let refused = setup.get(&weekly_page, &unlinked.cookie).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("Link your Jira account"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("/account\""), "{}", refused.body);
    for key in &all_keys {
        assert!(!refused.body.contains(key.as_str()));
    }
    let refused = setup
        .get(
            &format!("/api/v1/orgs/{organization}/weekly-rates?weeks={WEEKS_VIEWED}"),
            &unlinked.token,
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json()["error"], "jira_account_not_linked");

    // Jira revokes the analyst's project: gone within the time an answer is kept.
    let revoked = rule(Vec::new());
    path.sim.set_permissions(&site, revoked.model(&events));
    let weekly_api =
        format!("/api/v1/orgs/{organization}/weekly-rates?weeks={WEEKS_VIEWED}&tz=UTC");
    let range = ViewRange::last_weeks(Utc::now().timestamp_millis(), WEEKS_VIEWED, chrono_tz::UTC);
    let nothing = expected::weekly_rates(&[], &range, chrono_tz::UTC);
    eventually(KEPT * 5, "the revoked project disappears", || async {
        let answer = setup.get(&weekly_api, &analyst.token).await;
        if weekly_of(&answer.json()) == nothing {
            Ok(())
        } else {
            Err(answer.body)
        }
    })
    .await;
    check_member(
        &setup,
        organization,
        &analyst,
        &[],
        &all_keys,
        "analyst, revoked",
    )
    .await;

    // Granted again, then Jira stops answering: once the kept answer is too old, nothing.
    path.sim.set_permissions(&site, granted.model(&events));
    let want = expected::weekly_rates(&analyst_sees, &range, chrono_tz::UTC);
    eventually(KEPT * 5, "the project is back", || async {
        let answer = setup.get(&weekly_api, &analyst.token).await;
        if weekly_of(&answer.json()) == want {
            Ok(())
        } else {
            Err(answer.body)
        }
    })
    .await;
    path.sim.fail_permission_checks(true);
    tokio::time::sleep(KEPT + Duration::from_millis(500)).await;
    let down = setup.get(&weekly_api, &analyst.token).await;
    assert_eq!(down.status, 503, "{}", down.body);
    assert_eq!(down.json()["error"], "jira_unavailable");
    let down_page = setup.get(&weekly_page, &analyst.cookie).await;
    assert_eq!(down_page.status, 503);
    assert!(down_page.body.contains("Jira is not answering"));
    path.sim.fail_permission_checks(false);
    assert_eq!(setup.get(&weekly_api, &analyst.token).await.status, 200);

    // The setting off: every member sees everything again, linked or not.
    enforce(&setup, organization, false).await;
    check_member(
        &setup,
        organization,
        &unlinked,
        &events,
        &BTreeSet::new(),
        "unlinked analyst, setting off",
    )
    .await;
    path.stop().await;
}
