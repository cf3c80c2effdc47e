//! Who sees what in the dashboards, against the real Postgres (accounts, sessions and
//! memberships as onboarding stores them) and ClickHouse: the empty state after setup, exports
//! for analysts and not viewers, and nothing of one organization for a member of another.

use onboarding::{
    db::{organizations, sessions, users},
    roles::Role,
};
use service_kit::testing::{Stack, TestApp};
use std::time::Duration;

struct Setup {
    app: TestApp,
    pool: deadpool_postgres::Pool,
    warehouse: clickhouse::Client,
}

async fn setup() -> Setup {
    let stack = Stack::from_env();
    let mut config = dashboards::Config::from_env().unwrap();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.postgres = stack.fresh_postgres().await;
    config.clickhouse = stack.fresh_clickhouse().await;
    config.onboarding_url = "http://onboarding.test".parse().unwrap();
    let pool = config.postgres.pool().unwrap();
    onboarding::db::migrate(&pool).await.unwrap();
    let warehouse = config.clickhouse.client();
    warehouse::migrate(&warehouse).await.unwrap();
    Setup {
        app: TestApp::spawn(dashboards::build(config).await.unwrap()),
        pool,
        warehouse,
    }
}

impl Setup {
    /// A user with a session; answers the session cookie.
    async fn user(&self, name: &str) -> (uuid::Uuid, String) {
        let client = self.pool.get().await.unwrap();
        let email = format!("{name}.{}@example.test", uuid::Uuid::new_v4().simple());
        let id = users::create(&client, &email, "not-a-real-hash")
            .await
            .unwrap()
            .unwrap();
        let token = sessions::start(&client, id, Duration::from_secs(600))
            .await
            .unwrap();
        (id, format!("mf_session={token}"))
    }

    /// An organization owning one installed workspace with `client_key`.
    async fn organization(&self, owner: uuid::Uuid, client_key: &str) -> uuid::Uuid {
        let client = self.pool.get().await.unwrap();
        let organization = organizations::create_with_owner(&client, "Acme", owner)
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO installations (id, source, client_key, base_url, state, organization_id)
                 VALUES ($1, 'connect', $2, 'https://acme.atlassian.net', 'installed', $3)",
                &[&uuid::Uuid::new_v4(), &client_key, &organization],
            )
            .await
            .unwrap();
        organization
    }

    async fn get(&self, path: &str, cookie: &str) -> (u16, String, Option<String>) {
        let response = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(format!("{}{path}", self.app.address))
            .header("Cookie", cookie)
            .send()
            .await
            .unwrap();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        (
            response.status().as_u16(),
            response.text().await.unwrap(),
            location,
        )
    }
}

#[tokio::test]
async fn members_see_the_empty_state_then_events_and_only_analysts_export() {
    let setup = setup().await;
    let (owner, owner_cookie) = setup.user("owner").await;
    let client_key = format!("ck-{}", uuid::Uuid::new_v4());
    let org = setup.organization(owner, &client_key).await;
    let (viewer, viewer_cookie) = setup.user("viewer").await;
    let (analyst, analyst_cookie) = setup.user("analyst").await;
    {
        let client = setup.pool.get().await.unwrap();
        organizations::add_member(&client, org, viewer, Role::Viewer)
            .await
            .unwrap();
        organizations::add_member(&client, org, analyst, Role::Analyst)
            .await
            .unwrap();
    }

    let (status, body, _) = setup.get(&format!("/orgs/{org}"), &owner_cookie).await;
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
                installation_id: client_key.clone(),
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
    let (_, body, _) = setup.get(&format!("/orgs/{org}"), &viewer_cookie).await;
    assert!(!body.contains("now listening"), "the empty state is gone: {body}");
    assert!(
        body.contains(r#"<div class="muted">Issues created this week</div><div class="value">3</div>"#),
        "{body}"
    );
    assert!(
        !body.contains("export/events.csv"),
        "no export link for a viewer"
    );

    let export = format!("/orgs/{org}/export/events.csv");
    assert_eq!(setup.get(&export, &viewer_cookie).await.0, 403);
    let (status, csv, _) = setup.get(&export, &analyst_cookie).await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "a header and three events: {csv}");
    assert!(lines[1].contains("ACME-1"), "newest first: {csv}");
}

#[tokio::test]
async fn strangers_are_sent_to_sign_in_and_other_organizations_are_not_found() {
    let setup = setup().await;
    let (owner, _) = setup.user("owner").await;
    let org = setup
        .organization(owner, &format!("ck-{}", uuid::Uuid::new_v4()))
        .await;
    let (outsider, outsider_cookie) = setup.user("outsider").await;
    setup
        .organization(outsider, &format!("ck-{}", uuid::Uuid::new_v4()))
        .await;

    for path in [
        format!("/orgs/{org}"),
        format!("/orgs/{org}/export/events.csv"),
    ] {
        assert_eq!(setup.get(&path, &outsider_cookie).await.0, 404, "{path}");
        let (status, _, location) = setup.get(&path, "").await;
        assert_eq!(status, 303);
        assert_eq!(location.as_deref(), Some("http://onboarding.test/sign-in"));
        let forged = format!("mf_session={}", onboarding::tokens::mint().text);
        assert_eq!(setup.get(&path, &forged).await.0, 303);
    }
    assert_eq!(setup.get("/orgs/not-a-uuid", &outsider_cookie).await.0, 404);
}
