//! Who sees what in the dashboards, against the real Postgres (accounts, sessions and
//! memberships as onboarding stores them) and ClickHouse: the empty state after setup, exports
//! for analysts and not viewers, and nothing of one organization for a member of another.

mod support;

use accounts_store::roles::Role;
use support::{Setup, workspace};

#[tokio::test]
async fn members_see_the_empty_state_then_events_and_only_analysts_export() {
    let setup = Setup::start().await;
    let (owner, owner_cookie) = setup.user("owner").await;
    let workspace = workspace();
    let org = setup.organization(owner, workspace).await;
    let (viewer, viewer_cookie) = setup.user("viewer").await;
    let (analyst, analyst_cookie) = setup.user("analyst").await;
    setup.member(org, viewer, Role::Viewer).await;
    setup.member(org, analyst, Role::Analyst).await;

    let answer = setup.get(&format!("/orgs/{org}"), &owner_cookie).await;
    let (status, body) = (answer.status, answer.body);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("MetaFrazo is now listening for Jira events"),
        "{body}"
    );

    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut insert = setup
        .warehouse
        .insert::<warehouse::EventRow>("events")
        .await
        .unwrap();
    for (i, key) in ["ACME-1", "ACME-2", "ACME-3"].into_iter().enumerate() {
        insert
            .write(&warehouse::EventRow {
                installation_id: workspace,
                delivery_id: format!("d{i}"),
                event_type: "issue_created".into(),
                issue_key: key.into(),
                occurred_at_ms: now_ms - 1000 * i as i64,
                received_at_ms: now_ms,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    insert.end().await.unwrap();
    let body = setup
        .get(&format!("/orgs/{org}"), &viewer_cookie)
        .await
        .body;
    assert!(
        !body.contains("now listening"),
        "the empty state is gone: {body}"
    );
    assert!(
        body.contains(
            r#"<div class="muted">Issues created this week</div><div class="value">3</div>"#
        ),
        "{body}"
    );
    assert!(
        !body.contains("export/events.csv"),
        "no export link for a viewer"
    );

    let export = format!("/orgs/{org}/export/events.csv");
    assert_eq!(setup.get(&export, &viewer_cookie).await.status, 403);
    let answer = setup.get(&export, &analyst_cookie).await;
    assert_eq!(answer.status, 200);
    let csv = answer.body;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "a header and three events: {csv}");
    assert!(lines[1].contains("ACME-1"), "newest first: {csv}");
}

/// More deliveries than one download used to carry (100,000), each stored twice as a Jira retry
/// would leave them: the download holds each once, newest first, with nothing cut off.
#[tokio::test]
async fn a_download_holds_every_delivery_however_many() {
    const DELIVERIES: u64 = 120_000;
    let setup = Setup::start().await;
    let (owner, owner_cookie) = setup.user("owner").await;
    let workspace = workspace();
    let org = setup.organization(owner, workspace).await;
    let now_ms = chrono::Utc::now().timestamp_millis();
    setup
        .warehouse
        .query(
            "INSERT INTO events (installation_id, delivery_id, event_type, occurred_at_ms, received_at_ms)
             SELECT ?, concat('d', toString(number % ?)), 'issue_updated', ? - toInt64(number % ?) * 1000, ?
             FROM system.numbers LIMIT ?",
        )
        .bind(workspace)
        .bind(DELIVERIES)
        .bind(now_ms)
        .bind(DELIVERIES)
        .bind(now_ms)
        .bind(2 * DELIVERIES)
        .execute()
        .await
        .unwrap();

    let answer = setup
        .get(&format!("/orgs/{org}/export/events.csv"), &owner_cookie)
        .await;
    assert_eq!(answer.status, 200);
    let mut lines = answer.body.lines();
    assert!(lines.next().unwrap().starts_with("id,"), "a header first");
    let deliveries: Vec<&str> = lines.map(|line| line.split(',').nth(2).unwrap()).collect();
    assert_eq!(deliveries.len() as u64, DELIVERIES, "each delivery once");
    assert_eq!(deliveries.first(), Some(&"d0"), "newest first");
    assert_eq!(
        deliveries.last(),
        Some(&format!("d{}", DELIVERIES - 1).as_str()),
        "down to the oldest"
    );
}

/// The download is of a view: the last 12 weeks unless the query says otherwise, with the same
/// filters as the pages, and the events page links to the download of what it shows.
#[tokio::test]
async fn a_download_holds_what_the_view_shows() {
    let setup = Setup::start().await;
    let (owner, owner_cookie) = setup.user("owner").await;
    let workspace = workspace();
    let org = setup.organization(owner, workspace).await;
    let (viewer, viewer_cookie) = setup.user("viewer").await;
    setup.member(org, viewer, Role::Viewer).await;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let day_ms = 86_400_000;
    let mut insert = setup
        .warehouse
        .insert::<warehouse::EventRow>("events")
        .await
        .unwrap();
    for (delivery, project, issue_key, days_ago) in [
        ("a1", "ALPHA", "ALPHA-1", 1),
        ("a2", "ALPHA", "ALPHA-2", 2),
        ("b1", "BETA", "BETA-1", 3),
        ("old", "ALPHA", "ALPHA-9", 100),
    ] {
        insert
            .write(&warehouse::EventRow {
                installation_id: workspace,
                delivery_id: delivery.into(),
                event_type: "issue_updated".into(),
                project_key: project.into(),
                issue_key: issue_key.into(),
                occurred_at_ms: now_ms - days_ago * day_ms,
                received_at_ms: now_ms,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    insert.end().await.unwrap();

    let deliveries = |query: &'static str| {
        let setup = &setup;
        let cookie = owner_cookie.clone();
        async move {
            let answer = setup
                .get(&format!("/orgs/{org}/export/events.csv{query}"), &cookie)
                .await;
            assert_eq!(answer.status, 200, "{query}: {}", answer.body);
            answer
                .body
                .lines()
                .skip(1)
                .map(|line| line.split(',').nth(2).unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        deliveries("").await,
        ["a1", "a2", "b1"],
        "the last 12 weeks"
    );
    assert_eq!(deliveries("?weeks=20").await, ["a1", "a2", "b1", "old"]);
    assert_eq!(deliveries("?project=ALPHA").await, ["a1", "a2"]);
    assert_eq!(deliveries("?issue_key=ALPHA-2").await, ["a2"]);
    assert_eq!(
        deliveries("?event_type=issue_created").await,
        Vec::<String>::new()
    );

    let page = setup
        .get(
            &format!("/orgs/{org}/events?project=ALPHA&weeks=20"),
            &owner_cookie,
        )
        .await;
    // Askama escapes `&` in the link; the browser reads it back as `&`.
    let unescaped = page.body.replace("&#38;", "&").replace("&amp;", "&");
    assert!(
        unescaped.contains(&format!(
            "/orgs/{org}/export/events.csv?project=ALPHA&weeks=20"
        )),
        "{}",
        page.body
    );
    let page = setup
        .get(&format!("/orgs/{org}/events?project=ALPHA"), &viewer_cookie)
        .await;
    assert!(!page.body.contains("export/events.csv"), "{}", page.body);
}

#[tokio::test]
async fn strangers_are_sent_to_sign_in_and_other_organizations_are_not_found() {
    let setup = Setup::start().await;
    let (owner, _) = setup.user("owner").await;
    let org = setup.organization(owner, workspace()).await;
    let (outsider, outsider_cookie) = setup.user("outsider").await;
    setup.organization(outsider, support::workspace()).await;

    for path in [
        format!("/orgs/{org}"),
        format!("/orgs/{org}/export/events.csv"),
    ] {
        assert_eq!(
            setup.get(&path, &outsider_cookie).await.status,
            404,
            "{path}"
        );
        let answer = setup.get(&path, "").await;
        assert_eq!(answer.status, 303);
        assert_eq!(
            answer.location.as_deref(),
            Some("http://onboarding.test/sign-in")
        );
        let forged = format!("mf_session={}", accounts_store::tokens::mint().text);
        assert_eq!(setup.get(&path, &forged).await.status, 303);
    }
    assert_eq!(
        setup.get("/orgs/not-a-uuid", &outsider_cookie).await.status,
        404
    );
}

/// `/` is the root of the one public address: a stranger signs in and comes back to it, a member
/// of one organization lands on its overview, anyone else on onboarding's list.
#[tokio::test]
async fn the_root_sends_strangers_to_sign_in_and_members_to_their_organization() {
    let setup = Setup::start().await;
    let forged = format!("mf_session={}", accounts_store::tokens::mint().text);
    for stranger in ["", forged.as_str()] {
        let answer = setup.get("/", stranger).await;
        assert_eq!(answer.status, 303, "{stranger:?}");
        assert_eq!(
            answer.location.as_deref(),
            Some("http://onboarding.test/sign-in?next=%2F"),
            "{stranger:?}"
        );
    }

    let (owner, owner_cookie) = setup.user("owner").await;
    let org = setup.organization(owner, workspace()).await;
    let answer = setup.get("/", &owner_cookie).await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.location, Some(format!("/orgs/{org}")));
    let (_, token) = setup.api_token(owner).await;
    assert_eq!(
        setup.get("/", &token).await.location,
        Some(format!("/orgs/{org}"))
    );
    let overview = setup.get(&format!("/orgs/{org}"), &owner_cookie).await;
    assert!(
        overview.body.contains(&format!(
            r#"href="http://onboarding.test/orgs/{org}/members""#
        )),
        "the overview links to onboarding's members page: {}",
        overview.body
    );

    let (_, nobody_cookie) = setup.user("nobody").await;
    setup.organization(owner, workspace()).await;
    for (who, cookie) in [("no organization", &nobody_cookie), ("two", &owner_cookie)] {
        let answer = setup.get("/", cookie).await;
        assert_eq!(answer.status, 303, "{who}");
        assert_eq!(
            answer.location.as_deref(),
            Some("http://onboarding.test/orgs"),
            "{who}"
        );
    }
}

/// An owner's sign-in policy (set in onboarding) holds in the dashboards too: a session begun
/// with a password, an API token made in one, or an address at another domain, is refused; a
/// provider's session, and a token made in one, are not.
#[tokio::test]
async fn the_organizations_sign_in_policy_is_enforced() {
    let setup = Setup::start().await;
    let (owner, password_cookie) = setup.user("owner").await;
    let org = setup.organization(owner, workspace()).await;
    let client = setup.pool.get().await.unwrap();
    let sso_token = accounts_store::sessions::start_via(
        &client,
        owner,
        std::time::Duration::from_secs(600),
        "google",
    )
    .await
    .unwrap();
    let sso_cookie = format!("mf_session={sso_token}");
    let (_, password_made_token) = setup.api_token(owner).await;
    let (_, sso_made_token) = setup.api_token_via(owner, "google").await;
    let api = format!("/api/v1/orgs/{org}/events");
    assert_eq!(setup.get(&api, &password_made_token).await.status, 200);
    assert_eq!(
        setup
            .get(&format!("/orgs/{org}"), &password_cookie)
            .await
            .status,
        200
    );

    client
        .execute(
            "UPDATE organizations SET require_sso = true WHERE id = $1",
            &[&org],
        )
        .await
        .unwrap();
    let refused = setup.get(&format!("/orgs/{org}"), &password_cookie).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("Google or Microsoft"),
        "{}",
        refused.body
    );
    assert_eq!(
        setup.get(&format!("/orgs/{org}"), &sso_cookie).await.status,
        200
    );
    assert_eq!(setup.get(&api, &password_made_token).await.status, 403);
    assert_eq!(setup.get(&api, &sso_made_token).await.status, 200);

    client
        .execute(
            "UPDATE organizations SET allowed_domains = '{elsewhere.test}' WHERE id = $1",
            &[&org],
        )
        .await
        .unwrap();
    assert_eq!(
        setup.get(&format!("/orgs/{org}"), &sso_cookie).await.status,
        403
    );
}

#[tokio::test]
async fn unknown_addresses_and_wrong_methods_get_an_answer_that_says_so() {
    let setup = Setup::start().await;
    let (_, cookie) = setup.user("someone").await;

    let page = setup.get("/no/such/page", &cookie).await;
    assert_eq!(page.status, 404);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert!(page.body.contains("Page not found"), "{}", page.body);
    let call = setup.get("/api/v1/no-such-call", &cookie).await;
    assert_eq!(call.status, 404);
    assert_eq!(call.json()["error"], "not_found");

    for (path, json) in [
        ("/api/v1/orgs", true),
        ("/orgs/00000000-0000-0000-0000-000000000000/weekly", false),
    ] {
        let answer = setup
            .app
            .client
            .post(format!("{}{path}", setup.app.address))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 405, "{path}");
        assert!(
            answer.headers()["allow"].to_str().unwrap().contains("GET"),
            "{path}: {:?}",
            answer.headers()
        );
        let body = answer.text().await.unwrap();
        if json {
            assert!(body.contains(r#""error":"method_not_allowed""#), "{body}");
        } else {
            assert!(body.contains("cannot be opened that way"), "{body}");
        }
    }
}
