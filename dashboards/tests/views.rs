//! Every page and API call against a known stream in the real ClickHouse: the numbers equal an
//! independent count made here from the same events (with every delivery stored twice, as a
//! Jira retry would), CSV matches JSON, viewers see no payloads and export nothing, API tokens
//! work until revoked, the OpenAPI document names every API route, and every route of the
//! route table refuses a member of another organization.

mod support;

use std::collections::BTreeMap;

use accounts_store::roles::Role;
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use support::{InstallationId, Setup, workspace};

/// The known stream: per event, (delivery id, event type, issue key, occurred at).
fn stream() -> Vec<(String, &'static str, String, chrono::DateTime<Utc>)> {
    let today = Utc::now().date_naive();
    let mut events = Vec::new();
    for day in 0..21i64 {
        let date = today - Duration::days(day);
        let at = Utc.from_utc_datetime(&date.and_hms_opt(9, 0, 0).unwrap());
        // A varying number per day, so a week mixed up with another shows.
        for n in 0..(day % 4 + 1) {
            events.push((
                format!("c-{day}-{n}"),
                "issue_created",
                format!("ACME-{day}{n}"),
                at + Duration::minutes(n),
            ));
        }
        if day % 2 == 0 {
            events.push((
                format!("m-{day}"),
                "comment_created",
                format!("ACME-{day}0"),
                at + Duration::hours(1),
            ));
        }
    }
    events
}

fn monday(date: NaiveDate) -> NaiveDate {
    date - Duration::days(date.weekday().num_days_from_monday() as i64)
}

async fn store(setup: &Setup, workspace: InstallationId) {
    let mut insert = setup
        .warehouse
        .insert::<warehouse::EventRow>("events")
        .await
        .unwrap();
    // Every delivery twice, in two inserts: duplicates must change no number.
    for _ in 0..2 {
        for (delivery, event_type, issue_key, at) in stream() {
            insert
                .write(&warehouse::EventRow {
                    installation_id: workspace,
                    delivery_id: delivery,
                    source: "connect".into(),
                    family: if event_type == "issue_created" {
                        "issue"
                    } else {
                        "comment"
                    }
                    .into(),
                    event_type: event_type.into(),
                    occurred_at_ms: at.timestamp_millis(),
                    received_at_ms: at.timestamp_millis() + 500,
                    project_key: "ACME".into(),
                    issue_key,
                    issue_type: "Task".into(),
                    payload: r#"{"webhookEvent":"secret-ish payload"}"#.into(),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        insert = {
            insert.end().await.unwrap();
            setup
                .warehouse
                .insert::<warehouse::EventRow>("events")
                .await
                .unwrap()
        };
    }
    insert.end().await.unwrap();
}

/// The delivery changed the issue's summary: its old and new text are Jira's content.
async fn store_summary_change(
    setup: &Setup,
    workspace: InstallationId,
    delivery: &str,
    occurred_at_ms: i64,
) {
    let mut insert = setup
        .warehouse
        .insert::<warehouse::FieldChangeRow>("field_changes")
        .await
        .unwrap();
    insert
        .write(&warehouse::FieldChangeRow {
            installation_id: workspace,
            delivery_id: delivery.to_owned(),
            item_index: 0,
            occurred_at_ms,
            project_key: "ACME".into(),
            issue_id: String::new(),
            issue_key: String::new(),
            issue_type: "Task".into(),
            field: "summary".into(),
            field_id: "summary".into(),
            from_value: String::new(),
            to_value: String::new(),
            from_string: "Secret plan A".into(),
            to_string: "Secret plan B".into(),
            status_category: String::new(),
            priority: String::new(),
            assignee_account_id: String::new(),
            labels: Vec::new(),
            components: Vec::new(),
        })
        .await
        .unwrap();
    insert.end().await.unwrap();
}

#[tokio::test]
async fn pages_and_api_show_exactly_what_the_warehouse_holds_to_the_right_people() {
    let setup = Setup::start().await;
    let (owner, owner_cookie) = setup.user("owner").await;
    let workspace = workspace();
    let org = setup.organization(owner, workspace).await;
    let (viewer, viewer_cookie) = setup.user("viewer").await;
    setup.member(org, viewer, Role::Viewer).await;
    let (analyst, _) = setup.user("analyst").await;
    setup.member(org, analyst, Role::Analyst).await;
    let (token_id, token) = setup.api_token(analyst).await;
    store(&setup, workspace).await;

    // The independent count: created issues and comments per Monday (UTC).
    let mut expected: BTreeMap<(String, &str), u64> = BTreeMap::new();
    for (_, event_type, _, at) in stream() {
        *expected
            .entry((monday(at.date_naive()).to_string(), event_type))
            .or_default() += 1;
    }

    // Weekly rates, JSON, through an API token.
    let weekly = setup
        .get(
            &format!("/api/v1/orgs/{org}/weekly-rates?weeks=4&tz=UTC"),
            &token,
        )
        .await;
    assert_eq!(weekly.status, 200, "{}", weekly.body);
    let weekly = weekly.json();
    let weeks = weekly["weeks"].as_array().unwrap();
    let today = Utc::now().date_naive();
    let mondays: std::collections::BTreeSet<NaiveDate> =
        (0..28).map(|d| monday(today - Duration::days(d))).collect();
    assert_eq!(weeks.len(), mondays.len(), "the 28 days touch these weeks");
    for week in weeks {
        let start = week["start"].as_str().unwrap().to_owned();
        for kind in ["issue_created", "comment_created"] {
            let want = expected.get(&(start.clone(), kind)).copied().unwrap_or(0);
            assert_eq!(
                week["counts"][kind].as_u64(),
                Some(want),
                "{kind} in the week of {start}"
            );
        }
    }
    assert_eq!(
        weeks.last().unwrap()["partial"],
        true,
        "this week is still running"
    );

    // CSV matches JSON.
    let csv = setup
        .get(
            &format!("/api/v1/orgs/{org}/weekly-rates?weeks=4&tz=UTC&format=csv"),
            &token,
        )
        .await;
    assert!(csv.content_type.starts_with("text/csv"));
    let mut lines = csv.body.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let created_column = header.iter().position(|c| *c == "issue_created").unwrap();
    for (line, week) in lines.zip(weeks) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], week["start"].as_str().unwrap());
        assert_eq!(
            cells[created_column].parse::<u64>().unwrap(),
            week["counts"]["issue_created"].as_u64().unwrap()
        );
    }

    // The weekly page shows the same numbers in its table, with the chart's hover values.
    let page = setup
        .get(&format!("/orgs/{org}/weekly?weeks=4&tz=UTC"), &owner_cookie)
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let this_monday = monday(Utc::now().date_naive()).to_string();
    let created_this_week = expected
        .get(&(this_monday.clone(), "issue_created"))
        .copied()
        .unwrap();
    assert!(page.body.contains("<svg class=\"chart\""));
    assert_page_runs_only_its_own_script(&page);
    assert!(
        page.body
            .contains(&format!(": {created_this_week} events</title>")),
        "hover value of this week"
    );
    assert!(page.body.contains("partial"));
    assert!(page.body.contains(r#"<option value="4" selected>"#));

    // A drill-down's days stay in the filter form, so changing a filter keeps them, and no
    // number of weeks is shown as chosen (`from` sets the range).
    let last_monday = monday(Utc::now().date_naive()) - Duration::days(7);
    let sunday = last_monday + Duration::days(6);
    let page = setup
        .get(
            &format!("/orgs/{org}/weekly?from={last_monday}&to={sunday}&tz=UTC"),
            &owner_cookie,
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains(&format!(r#"name="from" value="{last_monday}""#)),
        "the form keeps from"
    );
    assert!(
        page.body
            .contains(&format!(r#"name="to" value="{sunday}""#))
    );
    assert!(
        page.body
            .contains(r#"<option value="" selected>from the date</option>"#)
    );
    assert!(!page.body.contains(r#"<option value="12" selected>"#));

    // Trends: created per week equals the count.
    let trends = setup
        .get(
            &format!("/api/v1/orgs/{org}/trends?weeks=3&tz=UTC"),
            &owner_cookie,
        )
        .await
        .json();
    for week in trends["weeks"].as_array().unwrap() {
        let start = week["start"].as_str().unwrap().to_owned();
        assert_eq!(
            week["created"].as_u64(),
            Some(
                expected
                    .get(&(start, "issue_created"))
                    .copied()
                    .unwrap_or(0)
            )
        );
    }
    for path in ["/trends", "/flow", "/events", "/troubleshooting", ""] {
        let page = setup
            .get(&format!("/orgs/{org}{path}"), &viewer_cookie)
            .await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
    }

    // The feed pages through every delivery once, newest first; CSV has the same ids.
    let total = stream().len();
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let after = next
            .as_deref()
            .map(|n| format!("&after={n}"))
            .unwrap_or_default();
        let page = setup
            .get(&format!("/api/v1/orgs/{org}/events?weeks=4{after}"), &token)
            .await
            .json();
        seen.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_owned()),
        );
        match page["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), total, "each delivery once, though stored twice");
    let download = setup
        .get(&format!("/orgs/{org}/export/events.csv"), &token)
        .await;
    assert_eq!(
        download.body.lines().count(),
        total + 1,
        "the download too: a header and each delivery once"
    );
    let first_page = setup
        .get(&format!("/api/v1/orgs/{org}/events?weeks=4"), &token)
        .await
        .json();
    let csv = setup
        .get(
            &format!("/api/v1/orgs/{org}/events?weeks=4&format=csv"),
            &token,
        )
        .await;
    let csv_ids: Vec<&str> = csv
        .body
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap())
        .collect();
    let json_ids: Vec<&str> = first_page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(csv_ids, json_ids);

    // One event: payload and changed values for analysts; for viewers, which fields changed
    // and nothing more (a summary's old and new text is payload too). A viewer cannot export.
    let id = json_ids[0];
    let for_analyst = setup
        .get(&format!("/api/v1/orgs/{org}/events/{id}"), &token)
        .await
        .json();
    assert_eq!(for_analyst["payload"]["webhookEvent"], "secret-ish payload");
    store_summary_change(
        &setup,
        workspace,
        for_analyst["delivery_id"].as_str().unwrap(),
        for_analyst["occurred_at_ms"].as_i64().unwrap(),
    )
    .await;
    let for_analyst = setup
        .get(&format!("/api/v1/orgs/{org}/events/{id}"), &token)
        .await
        .json();
    assert_eq!(for_analyst["field_changes"][0]["field"], "summary");
    assert_eq!(
        for_analyst["field_changes"][0]["to_string"],
        "Secret plan B"
    );
    let for_viewer = setup
        .get(&format!("/api/v1/orgs/{org}/events/{id}"), &viewer_cookie)
        .await
        .json();
    assert!(for_viewer.get("payload").is_none());
    assert_eq!(for_viewer["field_changes"][0]["field"], "summary");
    assert!(
        !for_viewer.to_string().contains("Secret plan"),
        "a viewer sees changed values: {for_viewer}"
    );
    let page = setup
        .get(&format!("/orgs/{org}/events/{id}"), &viewer_cookie)
        .await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("secret-ish payload"));
    assert!(page.body.contains("summary") && !page.body.contains("Secret plan"));
    let refused = setup
        .get(
            &format!("/api/v1/orgs/{org}/events?format=csv"),
            &viewer_cookie,
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json()["error"], "forbidden");

    // Bad input: a clear 400 with a reason.
    let bad = setup
        .get(
            &format!("/api/v1/orgs/{org}/weekly-rates?tz=Mars/Olympus"),
            &token,
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["message"]
            .as_str()
            .unwrap()
            .contains("time zone")
    );

    // A revoked token stops working at once; no credential is a 401 in JSON.
    {
        let client = setup.pool.get().await.unwrap();
        accounts_store::api_tokens::revoke(&client, analyst, token_id)
            .await
            .unwrap();
    }
    let revoked = setup
        .get(&format!("/api/v1/orgs/{org}/weekly-rates"), &token)
        .await;
    assert_eq!(revoked.status, 401);
    assert_eq!(revoked.json()["error"], "unauthenticated");
}

#[tokio::test]
async fn every_route_refuses_members_of_other_organizations() {
    let setup = Setup::start().await;
    let (owner, _) = setup.user("owner").await;
    let workspace = workspace();
    let org = setup.organization(owner, workspace).await;
    store(&setup, workspace).await;
    let (outsider, outsider_cookie) = setup.user("outsider").await;
    setup.organization(outsider, support::workspace()).await;
    let (_, outsider_token) = setup.api_token(outsider).await;
    let (_, owner_cookie) = {
        let (id, cookie) = setup.user("second-owner").await;
        setup.member(org, id, Role::Owner).await;
        (id, cookie)
    };
    let events = setup
        .get(&format!("/api/v1/orgs/{org}/events"), &owner_cookie)
        .await
        .json();
    let event_id = events["events"][0]["id"].as_str().unwrap().to_owned();
    let view = {
        use accounts_store::saved_views::{self, Created, NewView, SavedPage, ViewName};
        let client = setup.pool.get().await.unwrap();
        let name = ViewName::parse("Shared").unwrap();
        let view = NewView {
            name: &name,
            page: SavedPage::Weekly,
            query: "weeks=4",
            shared: true,
        };
        match saved_views::create(&client, org, owner, &view)
            .await
            .unwrap()
        {
            Created::Created(id) => id.to_string(),
            other => panic!("{other:?}"),
        }
    };

    for route in dashboards::ORGANIZATION_ROUTES {
        let path = route
            .replace("{organization}", &org.to_string())
            .replace("{id}", &event_id)
            .replace("{view}", &view);
        // A saved view's link sends its members on to its page.
        let answers = if route.ends_with("{view}") { 303 } else { 200 };
        assert_eq!(
            setup.get(&path, &owner_cookie).await.status,
            answers,
            "{path} answers its members"
        );
        for credential in [&outsider_cookie, &outsider_token] {
            let answer = setup.get(&path, credential).await;
            assert_eq!(
                answer.status, 404,
                "{path} must not answer an outsider: {}",
                answer.body
            );
        }
    }
}

#[tokio::test]
async fn the_openapi_document_describes_every_api_route() {
    let setup = Setup::start().await;
    let document = setup.get("/api/v1/openapi.json", "").await.json();
    let paths = document["paths"].as_object().unwrap();
    for route in dashboards::ORGANIZATION_ROUTES
        .iter()
        .filter(|r| r.starts_with("/api/"))
    {
        assert!(paths.contains_key(*route), "{route} is not in openapi.json");
    }
    assert!(paths.contains_key("/api/v1/orgs"));
    assert_eq!(paths.len(), 9, "no documented route that does not exist");
}

/// The page may not be framed or cached, and its CSP allows exactly the inline script it serves
/// (by hash): a script edited without its hash would be blocked in every browser.
fn assert_page_runs_only_its_own_script(page: &support::Answer) {
    use base64::Engine;
    use sha2::Digest;
    let policy = page.content_security_policy.as_deref().unwrap_or_default();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(page.cache_control.as_deref(), Some("no-store"));
    assert_eq!(
        page.strict_transport_security.as_deref(),
        Some("max-age=31536000; includeSubDomains")
    );
    let (_, rest) = page
        .body
        .split_once("<script>")
        .expect("the layout's script");
    let (script, _) = rest.split_once("</script>").unwrap();
    let hash =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script.as_bytes()));
    assert!(
        policy.contains(&format!("script-src 'sha256-{hash}'")),
        "the served script hashes to {hash}; update page_headers::CONTENT_SECURITY_POLICY: {policy}"
    );
}

#[tokio::test]
async fn a_view_past_the_warehouse_limits_is_answered_422_saying_to_narrow_it() {
    // One row read per query: any view of a workspace with events is past it.
    let setup = Setup::start_with(|config| config.query_limits.max_rows_read = 1).await;
    let (owner, cookie) = setup.user("owner").await;
    let workspace = workspace();
    let org = setup.organization(owner, workspace).await;
    store(&setup, workspace).await;
    let api = setup
        .get(&format!("/api/v1/orgs/{org}/weekly-rates?weeks=4"), &cookie)
        .await;
    assert_eq!(api.status, 422, "{}", api.body);
    assert_eq!(api.json()["error"], "too_large", "{}", api.body);
    let page = setup
        .get(&format!("/orgs/{org}/trends?weeks=4"), &cookie)
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body.contains("That view is too large"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn an_event_stored_at_its_receipt_time_says_so_on_its_page_in_the_api_and_the_export() {
    let setup = Setup::start().await;
    let (owner, cookie) = setup.user("owner").await;
    let workspace = workspace();
    let org = setup.organization(owner, workspace).await;
    let received = Utc::now().timestamp_millis();
    let mut insert = setup
        .warehouse
        .insert::<warehouse::EventRow>("events")
        .await
        .unwrap();
    insert
        .write(&warehouse::EventRow {
            installation_id: workspace,
            delivery_id: "clock-in-1999".into(),
            family: "issue".into(),
            event_type: "issue_created".into(),
            occurred_at_ms: received,
            received_at_ms: received,
            issue_key: "SEC-1".into(),
            occurred_at_note: "too_old".into(),
            payload: "{}".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    insert.end().await.unwrap();
    let feed = setup
        .get(&format!("/api/v1/orgs/{org}/events"), &cookie)
        .await
        .json();
    let id = feed["events"][0]["id"]
        .as_str()
        .expect("the event")
        .to_owned();
    // The API and the export say it too, so an analyst's own numbers can leave it out.
    assert_eq!(feed["events"][0]["occurred_at_note"], "too_old");
    let csv = setup
        .get(&format!("/api/v1/orgs/{org}/events?format=csv"), &cookie)
        .await;
    let mut lines = csv.body.lines();
    assert!(lines.next().unwrap().ends_with(",occurred_at_note"));
    assert!(lines.next().unwrap().ends_with(",too_old"), "{}", csv.body);
    let page = setup
        .get(&format!("/orgs/{org}/events/{id}"), &cookie)
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("Jira&#x27;s time was older than the history MetaFrazo keeps")
            || page
                .body
                .contains("Jira&#39;s time was older than the history MetaFrazo keeps"),
        "{}",
        page.body
    );
}
