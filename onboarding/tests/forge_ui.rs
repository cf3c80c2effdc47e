//! `/forge/ui/{status,link,resend}` against the running stack, the simulator playing Forge's
//! `invokeRemote` and Jira's permissions API: a Jira admin sees the workspace's status, gets a
//! setup link that works (then the organization's dashboards), and re-sends the setup email once
//! a minute, with the page's fresh system token; anyone else gets 403 and changes nothing; a bad
//! or replayed FIT gets 401.

mod support;

use jira_simulator::{ForgeInstall, UiAnswer};
use serde_json::Value;
use support::{Harness, PUBLIC_BASE_URL, email};
use test_kit::flip_signature_char;

const STATUS: &str = "/forge/ui/status";
const LINK: &str = "/forge/ui/link";
const RESEND: &str = "/forge/ui/resend";

/// Installs the Forge app on a fresh site and waits for the install's setup email, so its link
/// (minted when it is sent) no longer supersedes the links a test mints.
async fn installed(harness: &Harness) -> ForgeInstall {
    let installation = harness.sim.new_forge_installation();
    let installer = email("forge-ui-admin");
    let install = harness
        .sim
        .install_forge(&harness.target, &installation, &installer)
        .await
        .unwrap();
    harness
        .mailbox
        .wait_for(&installer, onboarding::mail::messages::SETUP_SUBJECT, 0)
        .await;
    install
}

async fn call(harness: &Harness, install: &ForgeInstall, path: &str, admin: bool) -> UiAnswer {
    harness
        .sim
        .forge_ui_call(&harness.target, install, path, admin)
        .await
        .unwrap()
}

/// Ages every queued email past the re-send interval.
async fn age_the_outbox(harness: &Harness) {
    let client = harness.pool.get().await.unwrap();
    client
        .execute(
            "UPDATE outbox SET created_at = now() - interval '2 minutes'",
            &[],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_jira_admin_sees_the_status_and_finishes_setup_with_a_fresh_link() {
    let harness = Harness::start().await;
    let install = installed(&harness).await;

    let status = call(&harness, &install, STATUS, true).await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.body["connected"], false, "{}", status.body);
    assert_eq!(status.body["organization"], Value::Null);
    assert_eq!(status.body["last_event_at"], Value::Null, "no event yet");
    assert_eq!(status.body["state"], "installed");

    let link = call(&harness, &install, LINK, true).await;
    assert_eq!(link.status, 200, "{}", link.body);
    let url = link.body["url"].as_str().unwrap();
    let path = url
        .strip_prefix(PUBLIC_BASE_URL)
        .unwrap_or_else(|| panic!("a link to our public URL: {url}"));
    assert!(path.starts_with("/setup/"), "{url}");
    let mut browser = harness.signed_up(&email("forge-ui-owner")).await;
    browser
        .get(path)
        .await
        .assert_status(200)
        .assert_contains("name your organization");
    browser
        .submit(
            path,
            &[("action", "create"), ("organization", "Forge UI Co")],
        )
        .await
        .assert_redirect_to("http://dashboards.test/orgs/");

    let status = call(&harness, &install, STATUS, true).await;
    assert_eq!(status.status, 200, "{}", status.body);
    assert_eq!(status.body["connected"], true, "{}", status.body);
    assert_eq!(status.body["organization"], "Forge UI Co");
    let organization = status.body["organization_id"].as_str().unwrap();

    let link = call(&harness, &install, LINK, true).await;
    assert_eq!(link.status, 200, "{}", link.body);
    assert_eq!(
        link.body["url"],
        format!("http://dashboards.test/orgs/{organization}"),
        "a connected workspace opens its organization"
    );
}

#[tokio::test]
async fn a_jira_admin_resends_the_setup_email_at_most_once_a_minute() {
    let harness = Harness::start().await;
    let install = installed(&harness).await;

    // The install's own email was queued moments ago.
    let too_soon = call(&harness, &install, RESEND, true).await;
    assert_eq!(too_soon.status, 429, "{}", too_soon.body);
    assert_eq!(too_soon.body["error"], "too_soon");

    age_the_outbox(&harness).await;
    let resent = call(&harness, &install, RESEND, true).await;
    assert_eq!(resent.status, 202, "{}", resent.body);
    let mail = harness
        .mailbox
        .wait_for(
            &install.installer_email,
            onboarding::mail::messages::SETUP_SUBJECT,
            1,
        )
        .await;
    assert_eq!(mail.to, vec![install.installer_email.clone()]);

    let again = call(&harness, &install, RESEND, true).await;
    assert_eq!(again.status, 429, "{}", again.body);
    assert_eq!(harness.count("SELECT count(*) FROM outbox").await, 2);
}

/// Forge's system tokens are short-lived: by the time an admin re-sends the setup email, the
/// install's token no longer opens Jira's user-email API. The page's call carries a live one.
#[tokio::test]
async fn a_resend_long_after_the_install_looks_the_installer_up_with_the_pages_token() {
    let harness = Harness::start().await;
    let mut install = installed(&harness).await;
    harness.sim.expire_forge_system_token(&mut install);
    age_the_outbox(&harness).await;

    let resent = call(&harness, &install, RESEND, true).await;
    assert_eq!(resent.status, 202, "{}", resent.body);
    let mail = harness
        .mailbox
        .wait_for(
            &install.installer_email,
            onboarding::mail::messages::SETUP_SUBJECT,
            1,
        )
        .await;
    assert_eq!(mail.to, vec![install.installer_email.clone()]);
}

#[tokio::test]
async fn a_user_who_is_not_a_jira_admin_gets_403_and_nothing_is_minted_or_queued() {
    let harness = Harness::start().await;
    let install = installed(&harness).await;
    // A re-send would be allowed now: only the permission check can refuse it.
    age_the_outbox(&harness).await;
    let links = harness.count("SELECT count(*) FROM setup_links").await;
    let emails = harness.count("SELECT count(*) FROM outbox").await;

    for path in [STATUS, LINK, RESEND] {
        let answer = call(&harness, &install, path, false).await;
        assert_eq!(answer.status, 403, "{path}: {}", answer.body);
        assert_eq!(answer.body["error"], "not_jira_admin", "{path}");
        assert!(answer.body["message"].is_string(), "{path}");
    }
    assert_eq!(
        harness.count("SELECT count(*) FROM setup_links").await,
        links,
        "no link minted"
    );
    assert_eq!(
        harness.count("SELECT count(*) FROM outbox").await,
        emails,
        "no email queued"
    );
}

#[tokio::test]
async fn a_bad_replayed_or_userless_invocation_gets_401_and_changes_nothing() {
    let harness = Harness::start().await;
    let sim = &harness.sim;
    let install = installed(&harness).await;
    age_the_outbox(&harness).await;
    let links = harness.count("SELECT count(*) FROM setup_links").await;
    let emails = harness.count("SELECT count(*) FROM outbox").await;
    let admin = sim.new_admin_page_user(&install.installation, true);
    let unknown = sim.new_forge_installation();
    let stranger = sim.new_admin_page_user(&unknown, true);

    for path in [STATUS, LINK, RESEND] {
        let fit = sim.mint_ui_fit(&install.installation, &admin).unwrap();
        let cases: Vec<(&str, String, Option<&str>)> = vec![
            (
                "bad signature",
                flip_signature_char(&fit),
                Some(&admin.user_token),
            ),
            (
                "unknown installation",
                sim.mint_ui_fit(&unknown, &stranger).unwrap(),
                Some(&stranger.user_token),
            ),
            ("no user token", fit.clone(), None),
            (
                "no principal",
                sim.mint_fit(&install.installation, &serde_json::json!({}))
                    .unwrap(),
                Some(&admin.user_token),
            ),
        ];
        for (case, fit, user_token) in cases {
            let answer = sim
                .post_forge_ui(&harness.target, path, &fit, user_token)
                .await
                .unwrap();
            assert_eq!(answer.status, 401, "{path}, {case}: {}", answer.body);
            assert!(answer.body["error"].is_string(), "{path}, {case}");
        }
    }
    assert_eq!(
        harness.count("SELECT count(*) FROM setup_links").await,
        links
    );
    assert_eq!(harness.count("SELECT count(*) FROM outbox").await, emails);

    // A FIT answers one call.
    let fit = sim.mint_ui_fit(&install.installation, &admin).unwrap();
    let first = sim
        .post_forge_ui(&harness.target, STATUS, &fit, Some(&admin.user_token))
        .await
        .unwrap();
    assert_eq!(first.status, 200, "{}", first.body);
    let replayed = sim
        .post_forge_ui(&harness.target, LINK, &fit, Some(&admin.user_token))
        .await
        .unwrap();
    assert_eq!(replayed.status, 401, "{}", replayed.body);
    assert_eq!(replayed.body["error"], "replayed");
    assert_eq!(
        harness.count("SELECT count(*) FROM setup_links").await,
        links
    );
}

#[tokio::test]
async fn jira_unreachable_for_the_permission_check_gets_503() {
    let harness = Harness::start_with(|config| {
        // Nothing listens on port 9 of this host.
        config.atlassian.api_base_override = Some("http://127.0.0.1:9".parse().unwrap());
    })
    .await;
    let installation = harness.sim.new_forge_installation();
    let install = harness
        .sim
        .install_forge(&harness.target, &installation, &email("forge-ui-offline"))
        .await
        .unwrap();
    let answer = call(&harness, &install, STATUS, true).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.body["error"], "jira_unreachable");
}
