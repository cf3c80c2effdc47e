//! The setup email and link against the running stack: a signed install mails the installing
//! admin (found through the simulator's Jira email API) a one-time link; the link survives being
//! opened, makes exactly one organization even when two tabs race, and every bad link (unknown,
//! tampered, expired, used, superseded, uninstalled meanwhile) gets a page saying so.

mod support;

use std::time::Duration;

use support::{Harness, PUBLIC_BASE_URL, email, setup_path};
use test_kit::{TcpGate, eventually};

#[tokio::test]
async fn an_install_mails_a_working_one_time_setup_link_to_the_installing_admin() {
    let harness = Harness::start().await;
    let (installation, mail) = harness.install_and_read_setup_email().await;
    assert_eq!(mail.to, vec![installation.installer_email.clone()]);
    for body in [&mail.text, &mail.html] {
        assert!(
            body.contains(&format!("{PUBLIC_BASE_URL}/setup/")),
            "{body}"
        );
        assert!(body.contains("expires at"), "{body}");
        assert!(
            body.contains("Re-send setup email"),
            "what to do when it expired: {body}"
        );
    }
    let path = setup_path(&mail);

    // Opening the link (as a mail scanner would) does not use it up.
    let mut browser = harness.browser();
    browser
        .get(&path)
        .await
        .assert_status(200)
        .assert_contains("Finish connecting");
    browser.get(&path).await.assert_status(200);

    // Not signed in: the page offers to sign in or up and come back.
    browser
        .get(&path)
        .await
        .assert_contains("/sign-up?next=/setup/");
    let admin = email("admin");
    browser
        .get(&format!("/sign-up?next={path}"))
        .await
        .assert_status(200);
    browser
        .submit(
            "/sign-up",
            &[
                ("email", &admin),
                ("password", "a long enough password"),
                ("next", &path),
            ],
        )
        .await
        .assert_redirect_to("/account/confirm-email?next=%2Fsetup%2F");
    // Not the address the link was mailed to: it connects nothing until confirmed.
    browser
        .get(&path)
        .await
        .assert_status(403)
        .assert_contains("Confirm your email address first");
    harness.confirm_address(&admin, 0).await;
    browser
        .get(&path)
        .await
        .assert_status(200)
        .assert_contains("name your organization");
    let done = browser
        .submit(
            &path,
            &[("action", "create"), ("organization", "Acme Engineering")],
        )
        .await;
    done.assert_redirect_to("http://dashboards.test/orgs/");

    let client = harness.pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT o.name, m.role, u.email FROM installations i
             JOIN organizations o ON o.id = i.organization_id
             JOIN memberships m ON m.organization_id = o.id JOIN users u ON u.id = m.user_id
             WHERE i.client_key = $1",
            &[&installation.client_key],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Acme Engineering");
    assert_eq!(row.get::<_, String>(1), "owner");
    assert_eq!(row.get::<_, String>(2), admin);
    let organization: uuid::Uuid = client
        .query_one(
            "SELECT organization_id FROM installations WHERE client_key = $1",
            &[&installation.client_key],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        done.location
            .as_deref()
            .unwrap()
            .ends_with(&organization.to_string())
    );

    // Single use.
    browser
        .get(&path)
        .await
        .assert_status(410)
        .assert_contains("already used");
    // Only its hash is stored.
    let token = path.trim_start_matches("/setup/");
    let stored = harness
        .count(&format!(
            "SELECT count(*) FROM setup_links WHERE encode(token_sha256, 'escape') LIKE '%{token}%'"
        ))
        .await;
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn unknown_tampered_expired_and_superseded_links_each_get_a_page_that_says_so() {
    let harness = Harness::start().await;
    let (installation, mail) = harness.install_and_read_setup_email().await;
    let path = setup_path(&mail);
    let mut browser = harness.browser();

    let unknown = format!("/setup/{}", accounts_store::tokens::mint().text);
    browser
        .get(&unknown)
        .await
        .assert_status(404)
        .assert_contains("not valid");
    let tampered = &path[..path.len() - 3];
    browser
        .get(tampered)
        .await
        .assert_status(404)
        .assert_contains("incomplete or was changed");
    let mut flipped = path.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    browser
        .get(&flipped)
        .await
        .assert_status(404)
        .assert_contains("Re-send setup email");

    // A re-send (a reinstall after an uninstall) revokes the older link.
    let (_, newer) = harness.reinstall_and_read_setup_email(&installation).await;
    let newer_path = setup_path(&newer);
    assert_ne!(newer_path, path);
    browser
        .get(&path)
        .await
        .assert_status(410)
        .assert_contains("newer setup email");
    browser.get(&newer_path).await.assert_status(200);

    // Expired.
    let client = harness.pool.get().await.unwrap();
    client
        .execute("UPDATE setup_links SET expires_at = now() - interval '1 minute' WHERE used_at IS NULL AND revoked_at IS NULL", &[])
        .await
        .unwrap();
    browser
        .get(&newer_path)
        .await
        .assert_status(410)
        .assert_contains("expired")
        .assert_contains("Re-send setup email");
}

#[tokio::test]
async fn two_tabs_racing_on_one_link_make_exactly_one_organization() {
    let harness = Harness::start().await;
    let (_, mail) = harness.install_and_read_setup_email().await;
    let path = setup_path(&mail);
    let mut browser = harness.signed_up(&email("racer")).await;
    browser.get(&path).await.assert_status(200);
    let mut other_tab = browser.tab();
    let fields_a = [("action", "create"), ("organization", "Tab A")];
    let fields_b = [("action", "create"), ("organization", "Tab B")];
    let (a, b) = tokio::join!(
        browser.submit(&path, &fields_a),
        other_tab.submit(&path, &fields_b)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [303, 410],
        "one wins, one is told the link was used: {a:?} {b:?}"
    );
    assert_eq!(harness.count("SELECT count(*) FROM organizations").await, 1);
    assert_eq!(harness.count("SELECT count(*) FROM memberships").await, 1);
}

#[tokio::test]
async fn a_workspace_uninstalled_before_linking_gets_a_clear_page_and_nothing_is_created() {
    let harness = Harness::start().await;
    let (installation, mail) = harness.install_and_read_setup_email().await;
    let path = setup_path(&mail);
    let mut browser = harness.signed_up(&email("late")).await;
    browser.get(&path).await.assert_status(200);
    harness
        .sim
        .uninstall_connect(&harness.target, &installation)
        .await
        .unwrap();
    browser
        .submit(&path, &[("action", "create"), ("organization", "Too late")])
        .await
        .assert_status(409)
        .assert_contains("uninstalled");
    browser.get(&path).await.assert_status(409);
    assert_eq!(harness.count("SELECT count(*) FROM organizations").await, 0);
}

#[tokio::test]
async fn a_mail_server_that_is_down_delays_the_setup_email_and_loses_nothing() {
    let smtp = service_runtime::connections::SmtpConfig::from_env().unwrap();
    let (gate, gated) = TcpGate::for_smtp(&smtp).await;
    gate.close().await;
    let harness = Harness::start_with(move |config| config.smtp = gated).await;
    let installation = harness.install().await;
    // Attempts fail and are kept for a retry.
    eventually(
        Duration::from_secs(15),
        "a failed attempt recorded, kept for a retry",
        || async {
            let failed = harness
                .count("SELECT count(*) FROM outbox WHERE attempts >= 2 AND sent_at IS NULL AND last_error LIKE '%mail server%'")
                .await;
            if failed == 1 {
                Ok(())
            } else {
                Err(format!("{failed} such outbox rows"))
            }
        },
    )
    .await;
    assert!(
        harness
            .mailbox
            .messages(
                &installation.installer_email,
                onboarding::mail::messages::SETUP_SUBJECT
            )
            .is_empty()
    );
    let metrics = harness.app.metrics().await;
    assert!(
        metrics.contains("onboarding_email_send_failures_total{kind=\"setup\",reason=\"smtp\"}"),
        "{metrics}"
    );

    gate.open();
    let mail = harness
        .mailbox
        .wait_for(
            &installation.installer_email,
            onboarding::mail::messages::SETUP_SUBJECT,
            0,
        )
        .await;
    let mut browser = harness.browser();
    browser.get(&setup_path(&mail)).await.assert_status(200);
    assert_eq!(
        harness
            .count("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL")
            .await,
        1
    );
    // Only the link that was mailed is live: the failed attempts discarded theirs.
    assert_eq!(
        harness
            .count("SELECT count(*) FROM setup_links WHERE revoked_at IS NULL AND used_at IS NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn a_reinstalled_workspace_reconnects_to_its_organization_and_another_can_join_it() {
    let harness = Harness::start().await;
    let (first, mail) = harness.install_and_read_setup_email().await;
    let mut owner = harness.signed_up(&email("owner")).await;
    let organization = owner.create_organization(&setup_path(&mail), "Acme").await;

    // Uninstalling keeps the organization and the link; reinstalling offers to reconnect.
    harness
        .sim
        .uninstall_connect(&harness.target, &first)
        .await
        .unwrap();
    let linked = format!(
        "SELECT count(*) FROM installations WHERE organization_id = '{organization}'::uuid"
    );
    assert_eq!(harness.count(&linked).await, 1);
    let first = harness
        .sim
        .reinstall_connect(&harness.target, &first)
        .await
        .unwrap();
    let again = harness
        .mailbox
        .wait_for(
            &first.installer_email,
            onboarding::mail::messages::SETUP_SUBJECT,
            1,
        )
        .await;
    assert!(
        again
            .text
            .contains("It was connected to the MetaFrazo organization \"Acme\""),
        "{}",
        again.text
    );
    let path = setup_path(&again);
    owner
        .get(&path)
        .await
        .assert_status(200)
        .assert_contains("Reconnect it there");
    owner
        .submit(
            &path,
            &[("action", "connect"), ("organization_id", &organization)],
        )
        .await
        .assert_redirect_to(&format!("http://dashboards.test/orgs/{organization}"));

    // A second workspace joins the same organization.
    let (_, second) = harness.install_and_read_setup_email().await;
    let path = setup_path(&second);
    owner
        .get(&path)
        .await
        .assert_status(200)
        .assert_contains("Connect it to an organization you manage");
    owner
        .submit(
            &path,
            &[("action", "connect"), ("organization_id", &organization)],
        )
        .await
        .assert_redirect_to(&format!("http://dashboards.test/orgs/{organization}"));
    assert_eq!(harness.count(&linked).await, 2);
    assert_eq!(harness.count("SELECT count(*) FROM organizations").await, 1);

    // Nobody joins a workspace to an organization they do not manage.
    let (_, third) = harness.install_and_read_setup_email().await;
    let path = setup_path(&third);
    let mut stranger = harness.signed_up(&email("stranger")).await;
    stranger.get(&path).await.assert_status(200);
    stranger
        .submit(
            &path,
            &[("action", "connect"), ("organization_id", &organization)],
        )
        .await
        .assert_status(403);
    assert_eq!(harness.count(&linked).await, 2);
    stranger.get(&path).await.assert_status(200);
}

#[tokio::test]
async fn only_an_owner_of_its_organization_moves_a_connected_workspace_elsewhere() {
    let harness = Harness::start().await;
    let (first, mail) = harness.install_and_read_setup_email().await;
    let owner_address = email("owner");
    let mut owner = harness.signed_up(&owner_address).await;
    let acme = owner.create_organization(&setup_path(&mail), "Acme").await;
    // A new setup email for the same, still connected, workspace.
    let (_, again) = harness.reinstall_and_read_setup_email(&first).await;
    let path = setup_path(&again);
    let in_acme =
        format!("SELECT count(*) FROM installations WHERE organization_id = '{acme}'::uuid");

    // Whoever else holds the link cannot take the workspace, and its history, to their own.
    let mut stranger = harness.signed_up(&email("stranger")).await;
    stranger.get(&path).await.assert_status(200);
    stranger
        .submit(
            &path,
            &[("action", "create"), ("organization", "Elsewhere")],
        )
        .await
        .assert_status(409)
        .assert_contains("belongs to Acme")
        .assert_contains(&owner_address);
    assert_eq!(harness.count(&in_acme).await, 1, "the workspace stayed");
    assert_eq!(
        harness.count("SELECT count(*) FROM organizations").await,
        1,
        "nothing was created"
    );

    // Its owner can, and both organizations' audit logs say so.
    let moved_to = owner.create_organization(&path, "Acme Two").await;
    assert_eq!(harness.count(&in_acme).await, 0);
    let audited = |organization: &str, action: &str| {
        format!(
            "SELECT count(*) FROM audit_log WHERE organization_id = '{organization}'::uuid AND action = '{action}'"
        )
    };
    assert_eq!(
        harness.count(&audited(&acme, "workspace_moved_out")).await,
        1
    );
    assert_eq!(
        harness
            .count(&audited(&moved_to, "workspace_moved_in"))
            .await,
        1
    );
}
