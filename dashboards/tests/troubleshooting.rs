//! "Why don't I see any events yet?" from real state: each workspace's cause and its fix, with
//! monitoring unreachable shown as unknown rather than as a fault of the customer's.

mod support;

use support::{Setup, client_key, workspace};

#[tokio::test]
async fn each_workspace_gets_its_state_and_the_fix_for_it() {
    // Monitoring that does not answer: the page still answers, and says what it cannot know.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let setup = Setup::start_with(|config| {
        config.prometheus_url = format!("http://{closed}").parse().unwrap();
    })
    .await;
    let (owner, cookie) = setup.user("owner").await;
    let org = setup.organization(owner, workspace()).await;
    let client = setup.pool.get().await.unwrap();
    for (key, state, name) in [
        (client_key(), "uninstalled", "Gone"),
        (client_key(), "disabled", "Paused"),
    ] {
        client
            .execute(
                "INSERT INTO installations (id, source, client_key, base_url, state, organization_id, display_name)
                 VALUES ($1, 'connect', $2, 'https://other.atlassian.net', $3, $4, $5)",
                &[&uuid::Uuid::new_v4(), &key, &state, &org, &name],
            )
            .await
            .unwrap();
    }

    let page = setup
        .get(&format!("/orgs/{org}/troubleshooting"), &cookie)
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let section = |name: &str| {
        let start = page
            .body
            .find(&format!("<h2>{name}"))
            .unwrap_or_else(|| panic!("{name} missing: {}", page.body));
        let rest = &page.body[start..];
        rest[..rest[4..].find("<h2>").map_or(rest.len(), |end| end + 4)].to_owned()
    };
    let gone = section("Gone");
    assert!(gone.contains("connect, uninstalled"));
    assert!(gone.contains("Install it again"), "{gone}");
    assert!(section("Paused").contains("Apps → Manage apps"));
    let quiet = section("https://acme.atlassian.net");
    assert!(quiet.contains("none yet"));
    assert!(
        quiet.contains("nothing has happened in Jira since"),
        "{quiet}"
    );
    assert!(
        quiet.contains("unknown (monitoring did not answer)"),
        "{quiet}"
    );
    assert!(page.body.contains("backlog is unknown right now"));

    // The empty state on the overview points here.
    let overview = setup.get(&format!("/orgs/{org}"), &cookie).await;
    assert!(
        overview
            .body
            .contains(&format!("/orgs/{org}/troubleshooting"))
    );
}
