//! What the setup link promises, kept: a visitor holding the link is offered the installing
//! admin's own account (sign in as it, or create it), and using the link first asks Jira (the
//! simulator) that the app is still installed on the site. When Jira says no, or cannot be asked,
//! the page says so and the link is not used up.

mod support;

use jira_simulator::ForgeInstall;
use support::{Browser, Harness, email, setup_path};
use test_kit::Mail;

/// The `href` of the page's link whose text is exactly `text`, as a browser would follow it.
fn href_of(body: &str, text: &str) -> String {
    let end = body
        .find(&format!(">{text}</a>"))
        .unwrap_or_else(|| panic!("no link {text:?} in:\n{body}"));
    let start = body[..end].rfind("href=\"").expect("the link's href") + "href=\"".len();
    let href = &body[start..end];
    href.strip_suffix('"').unwrap_or(href).replace("&amp;", "&")
}

/// How many of the installation's setup links were used.
async fn used_links(harness: &Harness, client_key: &str) -> i64 {
    let client = harness.pool.get().await.unwrap();
    client
        .query_one(
            "SELECT count(*) FROM setup_links l JOIN installations i ON i.id = l.installation_id
             WHERE i.client_key = $1 AND l.used_at IS NOT NULL",
            &[&client_key],
        )
        .await
        .unwrap()
        .get(0)
}

async fn organizations(harness: &Harness) -> i64 {
    harness.count("SELECT count(*) FROM organizations").await
}

/// A Forge install on a fresh site, and its setup email.
async fn forge_installed(harness: &Harness) -> (ForgeInstall, Mail) {
    let installation = harness.sim.new_forge_installation();
    let installer = email("forge-installer");
    let install = harness
        .sim
        .install_forge(&harness.target, &installation, &installer)
        .await
        .unwrap();
    let mail = harness
        .mailbox
        .wait_for(&installer, onboarding::mail::messages::SETUP_SUBJECT, 0)
        .await;
    (install, mail)
}

/// Signed in on the setup page, ready to name the organization.
async fn ready_to_finish(harness: &Harness, path: &str) -> Browser {
    let mut browser = harness.signed_up(&email("finisher")).await;
    browser
        .get(path)
        .await
        .assert_status(200)
        .assert_contains("name your organization");
    browser
}

#[tokio::test]
async fn a_visitor_with_the_link_is_offered_the_installers_own_account_first() {
    let harness = Harness::start().await;

    // An installer who already has an account.
    let (known, known_mail) = harness.install_and_read_setup_email().await;
    harness.signed_up(&known.installer_email).await;
    let path = setup_path(&known_mail);
    let mut stranger = harness.browser();
    let page = stranger.get(&path).await;
    page.assert_status(200).assert_contains(&format!(
        "already has an account for <strong>{}",
        known.installer_email
    ));
    let sign_in_as = format!("Sign in as {}", known.installer_email);
    let href = href_of(&page.body, &sign_in_as);
    assert!(
        href.starts_with(&format!("/sign-in?next={path}&email=")),
        "{href}"
    );
    // The first choice, before the generic ones, which stay for anyone else.
    let first = page.body.find(&sign_in_as).unwrap();
    for generic in [
        ">Sign in</a>",
        ">Create an account</a>",
        ">Continue with Google</a>",
    ] {
        let at = page
            .body
            .find(generic)
            .unwrap_or_else(|| panic!("{generic} stays on the page:\n{}", page.body));
        assert!(first < at, "{sign_in_as} comes before {generic}");
    }
    assert!(
        !page.body.contains("Create an account for"),
        "{}",
        page.body
    );
    stranger
        .get(&href)
        .await
        .assert_status(200)
        .assert_contains(&format!("value=\"{}\"", known.installer_email))
        .assert_contains(&format!("value=\"{path}\""));

    // An installer who has none.
    let (new, new_mail) = harness.install_and_read_setup_email().await;
    let path = setup_path(&new_mail);
    let page = stranger.get(&path).await;
    page.assert_status(200);
    let create_for = format!("Create an account for {}", new.installer_email);
    let href = href_of(&page.body, &create_for);
    assert!(
        href.starts_with(&format!("/sign-up?next={path}&email=")),
        "{href}"
    );
    assert!(!page.body.contains("Sign in as"), "{}", page.body);
    href_of(&page.body, "Create an account");
    href_of(&page.body, "Continue with Google");
    stranger
        .get(&href)
        .await
        .assert_status(200)
        .assert_contains(&format!("value=\"{}\"", new.installer_email));

    // Signed in as someone: the page names nobody else.
    let mut other = harness.signed_up(&email("other-admin")).await;
    let page = other.get(&path).await;
    page.assert_status(200);
    assert!(!page.body.contains(&new.installer_email), "{}", page.body);
}

#[tokio::test]
async fn finishing_setup_asks_jira_first_on_the_normal_path_for_connect_and_forge() {
    let harness = Harness::start().await;
    let (_, mail) = harness.install_and_read_setup_email().await;
    let mut browser = ready_to_finish(&harness, &setup_path(&mail)).await;
    let asked = harness.sim.installation_checks_answered();
    browser
        .submit(
            &setup_path(&mail),
            &[("action", "create"), ("organization", "Connect Co")],
        )
        .await
        .assert_redirect_to("http://dashboards.test/orgs/");
    assert_eq!(
        harness.sim.installation_checks_answered(),
        asked + 1,
        "Jira was asked once (Connect)"
    );

    let (_, mail) = forge_installed(&harness).await;
    let mut browser = ready_to_finish(&harness, &setup_path(&mail)).await;
    let asked = harness.sim.installation_checks_answered();
    browser
        .submit(
            &setup_path(&mail),
            &[("action", "create"), ("organization", "Forge Co")],
        )
        .await
        .assert_redirect_to("http://dashboards.test/orgs/");
    assert_eq!(
        harness.sim.installation_checks_answered(),
        asked + 1,
        "Jira was asked once (Forge)"
    );
}

#[tokio::test]
async fn a_link_used_after_jira_lost_the_connect_app_is_refused_and_not_used_up() {
    let harness = Harness::start().await;
    let (installation, mail) = harness.install_and_read_setup_email().await;
    let path = setup_path(&mail);
    let mut browser = ready_to_finish(&harness, &path).await;
    // Uninstalled in Jira without the callback reaching us: onboarding still thinks it is
    // installed, so only asking Jira finds out.
    harness
        .sim
        .forget_connect_installation(&installation)
        .await
        .unwrap();

    browser
        .submit(&path, &[("action", "create"), ("organization", "Too Late")])
        .await
        .assert_status(409)
        .assert_contains(&format!(
            "Jira says MetaFrazo is no longer installed on {}: install it again from the Atlassian Marketplace, then use the new email",
            installation.site_base_url
        ));
    assert_eq!(organizations(&harness).await, 0, "nothing was created");
    assert_eq!(used_links(&harness, &installation.client_key).await, 0);
    browser
        .get(&path)
        .await
        .assert_status(200)
        .assert_contains("name your organization");
}

#[tokio::test]
async fn a_link_used_after_jira_revoked_the_forge_apps_token_is_refused_and_not_used_up() {
    let harness = Harness::start().await;
    let (install, mail) = forge_installed(&harness).await;
    let path = setup_path(&mail);
    let mut browser = ready_to_finish(&harness, &path).await;
    harness
        .sim
        .forget_forge_installation(&install)
        .await
        .unwrap();

    browser
        .submit(&path, &[("action", "create"), ("organization", "Too Late")])
        .await
        .assert_status(409)
        .assert_contains("Jira says MetaFrazo is no longer installed on")
        .assert_contains("open Apps → MetaFrazo in Jira once");
    assert_eq!(organizations(&harness).await, 0, "nothing was created");
    assert_eq!(
        used_links(&harness, &install.installation.installation_id).await,
        0
    );
}

#[tokio::test]
async fn jira_failing_answers_503_and_the_same_link_works_once_jira_is_back() {
    let harness = Harness::start().await;
    let (installation, mail) = harness.install_and_read_setup_email().await;
    let path = setup_path(&mail);
    let mut browser = ready_to_finish(&harness, &path).await;

    harness.sim.fail_installation_checks(true);
    let refused = browser
        .submit(
            &path,
            &[("action", "create"), ("organization", "Patient Co")],
        )
        .await;
    refused
        .assert_status(503)
        .assert_contains("try again in a minute")
        .assert_contains("this link still works");
    assert_eq!(organizations(&harness).await, 0, "nothing was created");
    assert_eq!(used_links(&harness, &installation.client_key).await, 0);

    harness.sim.fail_installation_checks(false);
    browser.get(&path).await.assert_status(200);
    browser
        .submit(
            &path,
            &[("action", "create"), ("organization", "Patient Co")],
        )
        .await
        .assert_redirect_to("http://dashboards.test/orgs/");
    assert_eq!(used_links(&harness, &installation.client_key).await, 1);
}

#[tokio::test]
async fn jira_unreachable_answers_503_and_uses_nothing_up() {
    let harness = Harness::start().await;
    let (installation, mail) = harness.install_and_read_setup_email().await;
    let path = setup_path(&mail);
    let mut browser = ready_to_finish(&harness, &path).await;
    // Nothing listens where onboarding calls Jira any more.
    let Harness { sim, pool, .. } = harness;
    sim.shutdown().await;

    browser
        .submit(
            &path,
            &[("action", "create"), ("organization", "Offline Co")],
        )
        .await
        .assert_status(503)
        .assert_contains("Jira cannot confirm the connection right now");
    let client = pool.get().await.unwrap();
    let used: i64 = client
        .query_one(
            "SELECT count(*) FROM setup_links l JOIN installations i ON i.id = l.installation_id
             WHERE i.client_key = $1 AND l.used_at IS NOT NULL",
            &[&installation.client_key],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(used, 0);
    browser.get(&path).await.assert_status(200);
}
