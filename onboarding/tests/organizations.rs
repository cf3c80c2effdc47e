//! Accounts and organizations against the running stack: sign-up and sign-in with the rate
//! limit, invitations by email, roles enforced on the server, removal cutting access at once,
//! nothing of one organization visible to another, the audit log, the Jira admin page, and
//! deleting an organization with its events.

mod support;

use std::time::Duration;

use jira_simulator::sign_connect_token;
use serde_json::json;
use support::{Browser, Harness, email, setup_path};
use test_kit::eventually;

/// An organization set up through its setup link; answers its id and the owner's browser.
async fn organization(
    harness: &Harness,
    owner: &str,
) -> (String, Browser, jira_simulator::ConnectInstallation) {
    let (installation, mail) = harness.install_and_read_setup_email().await;
    let mut browser = harness.signed_up(owner).await;
    let id = browser
        .create_organization(&setup_path(&mail), "Acme")
        .await;
    (id, browser, installation)
}

async fn user_id(harness: &Harness, email: &str) -> String {
    let client = harness.pool.get().await.unwrap();
    let id: uuid::Uuid = client
        .query_one("SELECT id FROM users WHERE email = $1", &[&email])
        .await
        .unwrap()
        .get(0);
    id.to_string()
}

/// `/` never says "Page not found": a stranger signs in and comes back, a member of exactly one
/// organization goes to its dashboards, anyone else sees the list, which `/orgs` always shows.
/// The members page moved to `/orgs/{id}/members` (`/orgs/{id}` is the dashboards' overview on
/// the one public address), and its old address sends there.
#[tokio::test]
async fn the_root_sends_strangers_to_sign_in_and_members_to_their_organization() {
    let harness = Harness::start().await;
    let mut stranger = harness.browser();
    stranger
        .get("/")
        .await
        .assert_status(303)
        .assert_redirect_to("/sign-in?next=%2F");
    stranger
        .get("/orgs")
        .await
        .assert_redirect_to("/sign-in?next=%2Forgs");

    let mut nobody = harness.signed_up(&email("nobody")).await;
    nobody
        .get("/")
        .await
        .assert_status(200)
        .assert_contains("not a member of any organization yet");

    let (org, mut owner, _) = organization(&harness, &email("owner")).await;
    owner
        .get("/")
        .await
        .assert_status(303)
        .assert_redirect_to(&format!("http://dashboards.test/orgs/{org}"));
    owner
        .get("/orgs")
        .await
        .assert_status(200)
        .assert_contains(&format!(r#"href="http://dashboards.test/orgs/{org}""#))
        .assert_contains(&format!(r#"href="/orgs/{org}/members""#));
    owner
        .get(&format!("/orgs/{org}"))
        .await
        .assert_status(303)
        .assert_redirect_to(&format!("/orgs/{org}/members"));
    owner.get("/orgs/not-an-id").await.assert_status(404);

    let (_, mail) = harness.install_and_read_setup_email().await;
    let second = owner.create_organization(&setup_path(&mail), "Beta").await;
    let list = owner.get("/").await;
    list.assert_status(200);
    for id in [&org, &second] {
        list.assert_contains(&format!(r#"href="/orgs/{id}/members""#));
    }
}

#[tokio::test]
async fn sign_in_checks_the_password_and_limits_failed_attempts() {
    let harness = Harness::start().await;
    let address = email("ada");
    let mut browser = harness.signed_up(&address).await;
    assert!(browser.cookie("mf_session").is_some());
    browser
        .get("/")
        .await
        .assert_status(200)
        .assert_contains(&address);

    // A second account with the same address (in any case) is refused.
    let mut other = harness.browser();
    other.get("/sign-up").await;
    other
        .submit(
            "/sign-up",
            &[
                ("email", &address.to_uppercase()),
                ("password", "a long enough password"),
            ],
        )
        .await
        .assert_status(409);
    other.get("/sign-up").await;
    other
        .submit(
            "/sign-up",
            &[("email", &email("short")), ("password", "short")],
        )
        .await
        .assert_status(422)
        .assert_contains("at least 10 characters");

    // Sign out ends the session on the server, not just in the browser.
    let session = browser.cookie("mf_session").unwrap().to_owned();
    browser
        .submit("/sign-out", &[])
        .await
        .assert_redirect_to("/sign-in");
    let mut replay = harness.browser();
    replay.get("/sign-in").await;
    let stale = harness
        .app
        .client
        .get(format!("{}/", harness.app.address))
        .header("Cookie", format!("mf_session={session}"))
        .send()
        .await
        .unwrap();
    assert!(
        stale.url().path().starts_with("/sign-in"),
        "a revoked session is signed out"
    );

    let mut browser = harness.browser();
    browser.get("/sign-in").await.assert_status(200);
    browser
        .submit(
            "/sign-in",
            &[("email", &address), ("password", "not the password")],
        )
        .await
        .assert_status(401)
        .assert_contains("Wrong email or password");
    browser
        .submit(
            "/sign-in",
            &[("email", &address), ("password", "a long enough password")],
        )
        .await
        .assert_redirect_to("/");
    // Forms without the page's CSRF token, or from another origin, are refused.
    let mut forger = harness.browser();
    forger.get("/sign-in").await;
    forger
        .post_raw(
            "/sign-in",
            &[
                ("email", &address),
                ("password", "a long enough password"),
                ("csrf", "0000"),
            ],
        )
        .await
        .assert_status(403);

    // The limit (3 in the harness): further attempts are refused even with the right password.
    let mut attacker = harness.browser();
    attacker.get("/sign-in").await;
    for _ in 0..3 {
        attacker
            .submit(
                "/sign-in",
                &[("email", &address), ("password", "guess guess guess")],
            )
            .await
            .assert_status(401);
    }
    attacker
        .submit(
            "/sign-in",
            &[("email", &address), ("password", "a long enough password")],
        )
        .await
        .assert_status(429);

    // What an SRE sees: every attempt with a valid form, by outcome (the forged one is not one).
    let metrics = harness.app.metrics().await;
    for (outcome, count) in [("refused", 4), ("succeeded", 1), ("rate_limited", 1)] {
        let line = format!(
            r#"onboarding_sign_ins_total{{method="password",outcome="{outcome}"}} {count}"#
        );
        assert!(metrics.contains(&line), "no {line:?} in:\n{metrics}");
    }
}

#[tokio::test]
async fn invites_roles_and_removal_are_enforced_on_the_server_at_once() {
    let harness = Harness::start().await;
    let owner_email = email("owner");
    let (org, mut owner, _) = organization(&harness, &owner_email).await;
    let viewer_email = email("viewer");
    let mut viewer = harness
        .invite_and_accept(&mut owner, &org, &viewer_email, "viewer")
        .await;
    let admin_email = email("admin");
    let mut admin = harness
        .invite_and_accept(&mut owner, &org, &admin_email, "admin")
        .await;

    // A viewer sees the organization but manages nothing and reads no audit log.
    viewer
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_status(200);
    viewer
        .get(&format!("/orgs/{org}/audit"))
        .await
        .assert_status(403);
    viewer
        .submit(
            &format!("/orgs/{org}/invites"),
            &[("email", &email("x")), ("role", "viewer")],
        )
        .await
        .assert_status(403);

    // An admin manages below owner only.
    let owner_id = user_id(&harness, &owner_email).await;
    let viewer_id = user_id(&harness, &viewer_email).await;
    admin
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_status(200);
    admin
        .submit(
            &format!("/orgs/{org}/members/{owner_id}/role"),
            &[("role", "viewer")],
        )
        .await
        .assert_status(403);
    admin
        .submit(
            &format!("/orgs/{org}/invites"),
            &[("email", &email("boss")), ("role", "owner")],
        )
        .await
        .assert_status(403);
    admin
        .submit(
            &format!("/orgs/{org}/members/{viewer_id}/role"),
            &[("role", "analyst")],
        )
        .await
        .assert_redirect_to(&format!("/orgs/{org}/members?done=role_changed"));

    // The last owner cannot step down.
    owner.get(&format!("/orgs/{org}/members")).await;
    owner
        .submit(
            &format!("/orgs/{org}/members/{owner_id}/role"),
            &[("role", "admin")],
        )
        .await
        .assert_status(409)
        .assert_contains("at least one owner");
    owner
        .submit(&format!("/orgs/{org}/leave"), &[])
        .await
        .assert_status(409);

    // Removal cuts access at once.
    owner
        .submit(&format!("/orgs/{org}/members/{viewer_id}/remove"), &[])
        .await
        .assert_redirect_to(&format!("/orgs/{org}/members?done=removed"));
    viewer
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_redirect_to("/sign-in");

    // The audit log tells the story.
    let audit = owner.get(&format!("/orgs/{org}/audit")).await;
    audit.assert_status(200);
    for action in [
        "organization_created",
        "workspace_connected",
        "member_invited",
        "invite_accepted",
        "role_changed",
        "member_removed",
        "signed_up",
    ] {
        audit.assert_contains(action);
    }
}

#[tokio::test]
async fn a_member_of_one_organization_is_refused_everything_of_another() {
    let harness = Harness::start().await;
    let (theirs, _, _) = organization(&harness, &email("them")).await;
    let (_, mut outsider, _) = organization(&harness, &email("us")).await;
    let victim = user_id(&harness, &harness_owner(&harness, &theirs).await).await;
    for path in [
        format!("/orgs/{theirs}/members"),
        format!("/orgs/{theirs}/audit"),
    ] {
        outsider.get(&path).await.assert_status(404);
    }
    for (path, fields) in [
        (
            format!("/orgs/{theirs}/invites"),
            vec![("email", "spy@example.test"), ("role", "owner")],
        ),
        (
            format!("/orgs/{theirs}/members/{victim}/role"),
            vec![("role", "viewer")],
        ),
        (format!("/orgs/{theirs}/members/{victim}/remove"), vec![]),
        (format!("/orgs/{theirs}/leave"), vec![]),
        (format!("/orgs/{theirs}/delete"), vec![("confirm", "Acme")]),
    ] {
        outsider.submit(&path, &fields).await.assert_status(404);
    }
    assert_eq!(harness.count("SELECT count(*) FROM organizations").await, 2);
    assert_eq!(harness.count("SELECT count(*) FROM invites").await, 0);
}

async fn harness_owner(harness: &Harness, org: &str) -> String {
    let client = harness.pool.get().await.unwrap();
    client
        .query_one(
            "SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.organization_id = $1::text::uuid AND m.role = 'owner'",
            &[&org],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn the_jira_admin_page_shows_the_connection_and_re_sends_the_setup_email() {
    let harness = Harness::start().await;
    let (installation, first) = harness.install_and_read_setup_email().await;
    let now = jsonwebtoken::get_current_timestamp();
    let context_token = |qsh: &str| {
        sign_connect_token(
            &installation,
            &json!({"iss": installation.client_key, "sub": installation.installer_account_id, "iat": now, "exp": now + 900, "qsh": qsh}),
        )
        .unwrap()
    };
    let page = |token: String| {
        let client = harness.app.client.clone();
        let url = format!("{}/atlassian/admin?jwt={token}", harness.app.address);
        async move {
            let response = client.get(url).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (status, body) = page(context_token("context-qsh")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Not yet"), "{body}");
    assert!(body.contains("None yet"), "no event has arrived: {body}");
    assert_eq!(page(context_token("not-the-request-hash")).await.0, 401);
    assert_eq!(
        page(test_kit::flip_signature_char(&context_token("context-qsh")))
            .await
            .0,
        401
    );
    let foreign = sign_connect_token(
        &jira_simulator::ConnectInstallation { shared_secret: "another-secret-another-secret-another".into(), ..installation.clone() },
        &json!({"iss": installation.client_key, "iat": now, "exp": now + 900, "qsh": "context-qsh"}),
    )
    .unwrap();
    assert_eq!(page(foreign).await.0, 401);
    let (status, _) = {
        let response = harness.app.get("/atlassian/admin").await;
        (response.status().as_u16(), ())
    };
    assert_eq!(status, 401);

    let resend = |token: String| {
        let client = harness.app.client.clone();
        let url = format!("{}/atlassian/admin/resend?jwt={token}", harness.app.address);
        async move {
            let response = client.post(url).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    // The install's own email was queued moments ago: a re-send waits a minute.
    let (status, body) = resend(context_token("context-qsh")).await;
    assert_eq!(status, 429, "{body}");
    let client = harness.pool.get().await.unwrap();
    client
        .execute(
            "UPDATE outbox SET created_at = now() - interval '2 minutes'",
            &[],
        )
        .await
        .unwrap();
    let (status, body) = resend(context_token("context-qsh")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("on its way"));
    let second = harness
        .mailbox
        .wait_for(
            &installation.installer_email,
            onboarding::mail::messages::SETUP_SUBJECT,
            1,
        )
        .await;
    // The older link is superseded once the new email has left, a moment after it arrives.
    let first_link = setup_path(&first);
    eventually(
        Duration::from_secs(10),
        "the first setup link superseded",
        || async {
            match harness.browser().get(&first_link).await.status {
                410 => Ok(()),
                other => Err(other),
            }
        },
    )
    .await;
    harness
        .browser()
        .get(&setup_path(&second))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn deleting_an_organization_removes_its_members_links_and_events() {
    let harness = Harness::start().await;
    let (org, mut owner, installation) = organization(&harness, &email("owner")).await;
    let (_, _, kept) = organization(&harness, &email("neighbour")).await;
    let row = |installation: contracts::InstallationId, delivery: &str| warehouse::EventRow {
        installation_id: installation,
        delivery_id: delivery.to_owned(),
        event_type: "jira:issue_created".to_owned(),
        occurred_at_ms: 1_795_000_000_000,
        received_at_ms: 1_795_000_000_000,
        ..Default::default()
    };
    let (installation, kept) = (
        harness.installation_id(&installation.client_key).await,
        harness.installation_id(&kept.client_key).await,
    );
    let mut insert = harness
        .warehouse
        .insert::<warehouse::EventRow>("events")
        .await
        .unwrap();
    for delivery in ["d1", "d2"] {
        insert.write(&row(installation, delivery)).await.unwrap();
        insert.write(&row(kept, delivery)).await.unwrap();
    }
    insert.end().await.unwrap();

    owner
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_status(200);
    owner
        .submit(
            &format!("/orgs/{org}/delete"),
            &[("confirm", "Not the name")],
        )
        .await
        .assert_status(422);
    owner
        .submit(&format!("/orgs/{org}/delete"), &[("confirm", "Acme")])
        .await
        .assert_redirect_to("/");
    assert_eq!(harness.count("SELECT count(*) FROM organizations").await, 1);
    assert_eq!(
        harness
            .count("SELECT count(*) FROM installations WHERE organization_id IS NOT NULL")
            .await,
        1
    );
    let count = |installation: contracts::InstallationId| {
        let warehouse = harness.warehouse.clone();
        async move {
            warehouse
                .query("SELECT count() FROM events WHERE installation_id = ?")
                .bind(installation.to_string())
                .fetch_one::<u64>()
                .await
                .unwrap()
        }
    };
    eventually(
        Duration::from_secs(20),
        "the organization's events erased",
        || async {
            match count(installation).await {
                0 => Ok(()),
                left => Err(format!("{left} events left")),
            }
        },
    )
    .await;
    assert_eq!(count(kept).await, 2, "another organization's events stay");
    owner
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_status(404);
}

#[tokio::test]
async fn unknown_pages_and_wrong_methods_get_a_page_that_says_so() {
    let harness = Harness::start().await;
    let mut browser = harness.browser();
    browser
        .get("/no/such/page")
        .await
        .assert_status(404)
        .assert_contains("Page not found");
    // A form's target opened as a link.
    browser
        .get("/orgs/00000000-0000-0000-0000-000000000000/delete")
        .await
        .assert_status(405)
        .assert_contains("cannot be opened that way");
}

/// A Jira admin at Apps → MetaFrazo need not wait for the installer's email: "Finish setup here"
/// hands over a fresh link (the emailed one stops working), and once connected opens the
/// organization's dashboards.
#[tokio::test]
async fn a_jira_admin_finishes_setup_from_the_admin_page_without_the_email() {
    let harness = Harness::start().await;
    let (installation, emailed) = harness.install_and_read_setup_email().await;
    let now = jsonwebtoken::get_current_timestamp();
    let context_token = sign_connect_token(
        &installation,
        &json!({"iss": installation.client_key, "sub": "a-jira-admin", "iat": now, "exp": now + 900, "qsh": "context-qsh"}),
    )
    .unwrap();
    let page = harness
        .app
        .get(&format!("/atlassian/admin?jwt={context_token}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Finish setup here"), "{page}");

    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let finish = |token: String| {
        let url = format!("{}/atlassian/admin/setup?jwt={token}", harness.app.address);
        let client = no_redirects.clone();
        async move {
            let response = client.post(url).send().await.unwrap();
            let location = response
                .headers()
                .get("location")
                .map(|value| value.to_str().unwrap().to_owned());
            (response.status().as_u16(), location)
        }
    };
    assert_eq!(
        finish(test_kit::flip_signature_char(&context_token))
            .await
            .0,
        401
    );
    let (status, location) = finish(context_token.clone()).await;
    assert_eq!(status, 303);
    let handed_over = location.unwrap();
    assert!(handed_over.starts_with("/setup/"), "{handed_over}");

    let mut browser = harness.signed_up(&email("jira-admin")).await;
    browser
        .get(&setup_path(&emailed))
        .await
        .assert_status(410)
        .assert_contains("newer");
    let organization = browser.create_organization(&handed_over, "Acme").await;

    let (status, location) = finish(context_token).await;
    assert_eq!(status, 303);
    assert_eq!(
        location.as_deref(),
        Some(format!("http://dashboards.test/orgs/{organization}").as_str()),
        "once connected, the button opens the dashboards"
    );
}

#[tokio::test]
async fn sign_ups_past_the_hashing_slots_get_503_with_retry_after_and_none_is_queued() {
    // One slot, so two sign-ups hashing at once already overflow it: the memory bound holds
    // whatever the crowd (argon2id takes 19 MiB a hash, and sign-up is open to anyone).
    let harness = Harness::start_with(|config| config.accounts.password_hashes_in_flight = 1).await;
    let mut crowd = tokio::task::JoinSet::new();
    let mut browsers = Vec::new();
    for n in 0..16 {
        let mut browser = harness.browser();
        browser.get("/sign-up").await.assert_status(200);
        browsers.push((browser, email(&format!("crowd{n}"))));
    }
    for (mut browser, address) in browsers {
        crowd.spawn(async move {
            browser
                .submit(
                    "/sign-up",
                    &[
                        ("email", address.as_str()),
                        ("password", "a long enough password"),
                        ("next", "/"),
                    ],
                )
                .await
        });
    }
    let answers = crowd.join_all().await;
    let busy: Vec<&support::browser::Page> =
        answers.iter().filter(|page| page.status == 503).collect();
    assert!(
        answers.iter().all(|page| page.status == 503
            || page
                .location
                .as_deref()
                .is_some_and(|to| to.starts_with("/account/confirm-email?next="))),
        "every sign-up either went through or was told to come back: {:?}",
        answers.iter().map(|page| page.status).collect::<Vec<_>>()
    );
    assert!(
        !busy.is_empty(),
        "16 sign-ups at once through one hashing slot, none refused"
    );
    for page in &busy {
        assert_eq!(page.retry_after.as_deref(), Some("5"), "{}", page.body);
        page.assert_contains("MetaFrazo is busy");
    }
    let accounts = harness
        .count("SELECT count(*) FROM users WHERE email LIKE 'crowd%'")
        .await;
    assert_eq!(
        accounts as usize,
        answers.len() - busy.len(),
        "an account for each sign-up that went through, none for the refused"
    );
    // The slot is free again once the crowd has gone.
    harness.signed_up(&email("after-the-crowd")).await;
}

#[tokio::test]
async fn parallel_guesses_get_no_more_tries_than_the_limit() {
    let harness = Harness::start().await;
    let address = email("ada");
    harness.signed_up(&address).await;
    let mut guesses = tokio::task::JoinSet::new();
    let mut browsers = Vec::new();
    for _ in 0..10 {
        let mut browser = harness.browser();
        browser.get("/sign-in").await.assert_status(200);
        browsers.push(browser);
    }
    for (n, mut browser) in browsers.into_iter().enumerate() {
        let address = address.clone();
        guesses.spawn(async move {
            browser
                .submit(
                    "/sign-in",
                    &[
                        ("email", address.as_str()),
                        ("password", &format!("guess number {n}")),
                    ],
                )
                .await
                .status
        });
    }
    let mut statuses = guesses.join_all().await;
    statuses.sort_unstable();
    // The harness allows 3 failures: each guess takes its try before hashing, so however many
    // arrive at once, 3 are checked and the rest are refused unheard.
    assert_eq!(statuses, [401, 401, 401, 429, 429, 429, 429, 429, 429, 429]);
}

/// A sign-in answered "busy" checked nothing, so it costs no try: after a crowd of right
/// passwords through one hashing slot, no failure is left counted against any address or the
/// client, and each crowd member signs in on its next try.
#[tokio::test]
async fn a_sign_in_answered_busy_costs_no_try() {
    let harness = Harness::start_with(|config| config.accounts.password_hashes_in_flight = 1).await;
    let members: Vec<String> = (0..12).map(|n| email(&format!("member{n}"))).collect();
    for member in &members {
        harness.signed_up(member).await;
    }
    let mut crowd = tokio::task::JoinSet::new();
    for member in members.clone() {
        let mut browser = harness.browser();
        browser.get("/sign-in").await.assert_status(200);
        crowd.spawn(async move {
            let page = browser
                .submit(
                    "/sign-in",
                    &[("email", &member), ("password", "a long enough password")],
                )
                .await;
            (member, page.status)
        });
    }
    let answers = crowd.join_all().await;
    assert!(
        answers.iter().any(|(_, status)| *status == 503),
        "12 sign-ins at once through one hashing slot, none busy: {answers:?}"
    );
    assert!(
        answers
            .iter()
            .all(|(_, status)| [303, 503].contains(status)),
        "{answers:?}"
    );
    assert_eq!(
        harness.count("SELECT count(*) FROM sign_in_failures").await,
        0,
        "a busy answer left a try counted"
    );
}

/// One client guessing across many addresses is stopped by its own count, before any address's
/// count is reached, and only that client: the owner of an address it tried signs in from
/// elsewhere. The address the client claims (left of what the front door wrote) changes nothing.
#[tokio::test]
async fn one_client_guessing_many_addresses_is_stopped_and_no_one_else() {
    let harness = Harness::start_with(|config| {
        config.accounts.forwarded_for_hops = 1;
        config.accounts.sign_in_max_failures_per_client = 4;
    })
    .await;
    let victims: Vec<String> = (0..6).map(|n| email(&format!("victim{n}"))).collect();
    for victim in &victims {
        harness.signed_up(victim).await;
    }
    let mut attacker = harness.browser();
    attacker.get("/sign-in").await.assert_status(200);
    let mut statuses = Vec::new();
    for victim in &victims {
        // One wrong guess each: no address comes near its own limit of 3.
        let page = attacker
            .submit_from(
                "203.0.113.7",
                "/sign-in",
                &[("email", victim), ("password", "a wrong guess, again")],
            )
            .await;
        statuses.push(page.status);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429, 429]);

    // The last address tried, with its right password: still refused from that client...
    attacker
        .submit_from(
            "203.0.113.7",
            "/sign-in",
            &[
                ("email", &victims[5]),
                ("password", "a long enough password"),
            ],
        )
        .await
        .assert_status(429)
        .assert_contains("from your network");
    // ...and let in from another.
    let mut owner = harness.browser();
    owner.get("/sign-in").await.assert_status(200);
    owner
        .submit_from(
            "198.51.100.20",
            "/sign-in",
            &[
                ("email", &victims[5]),
                ("password", "a long enough password"),
            ],
        )
        .await
        .assert_redirect_to("/");
}

/// An invitation grants no more than its sender holds now: once the admin who sent it is made
/// a viewer, the link is refused and the owner's list no longer shows it as pending.
#[tokio::test]
async fn an_invitation_lapses_once_its_inviter_can_no_longer_give_its_role() {
    let harness = Harness::start().await;
    let owner_email = email("owner");
    let (org, mut owner, _) = organization(&harness, &owner_email).await;
    let admin_email = email("admin");
    let mut admin = harness
        .invite_and_accept(&mut owner, &org, &admin_email, "admin")
        .await;

    let invitee = email("invitee");
    admin.get(&format!("/orgs/{org}/members")).await;
    admin
        .submit(
            &format!("/orgs/{org}/invites"),
            &[("email", &invitee), ("role", "analyst")],
        )
        .await
        .assert_redirect_to(&format!("/orgs/{org}/members?done=invited"));
    let mail = harness
        .mailbox
        .wait_for(&invitee, "Join Acme on MetaFrazo", 0)
        .await;
    let path = mail.link_path(&format!("{}/invites/", support::PUBLIC_BASE_URL));
    owner
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_contains(&invitee);

    let admin_id = user_id(&harness, &admin_email).await;
    owner
        .submit(
            &format!("/orgs/{org}/members/{admin_id}/role"),
            &[("role", "viewer")],
        )
        .await
        .assert_redirect_to(&format!("/orgs/{org}/members?done=role_changed"));

    let mut browser = harness.signed_up(&invitee).await;
    browser
        .get(&path)
        .await
        .assert_status(410)
        .assert_contains("can no longer give that role");
    browser.submit(&path, &[]).await.assert_status(410);
    let members = owner.get(&format!("/orgs/{org}/members")).await;
    assert!(!members.body.contains(&invitee), "still listed as pending");
    assert_eq!(
        harness
            .count("SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email LIKE 'invitee%'")
            .await,
        0
    );
}

/// The role a form acts on is read inside its own transaction: an owner's demotion of the admin,
/// still uncommitted when the admin's invitation arrives, makes the invitation wait, and once
/// committed the invitation is refused rather than sent on the rights the admin had.
#[tokio::test]
async fn a_form_racing_its_callers_demotion_acts_on_the_role_after_it() {
    let harness = Harness::start().await;
    let owner_email = email("owner");
    let (org, mut owner, _) = organization(&harness, &owner_email).await;
    let admin_email = email("admin");
    let mut admin = harness
        .invite_and_accept(&mut owner, &org, &admin_email, "admin")
        .await;
    admin.get(&format!("/orgs/{org}/members")).await;

    let organization: uuid::Uuid = org.parse().unwrap();
    let admin_id: uuid::Uuid = user_id(&harness, &admin_email).await.parse().unwrap();
    let mut client = harness.pool.get().await.unwrap();
    let demotion = client.transaction().await.unwrap();
    accounts_store::organizations::set_role(
        &demotion,
        organization,
        admin_id,
        accounts_store::roles::Role::Viewer,
    )
    .await
    .unwrap();

    let invitee = email("racing");
    let invite_path = format!("/orgs/{org}/invites");
    let inviting = tokio::spawn(async move {
        admin
            .submit(&invite_path, &[("email", &invitee), ("role", "analyst")])
            .await
            .status
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !inviting.is_finished(),
        "the invitation was decided on the role from before the demotion"
    );
    demotion.commit().await.unwrap();
    assert_eq!(inviting.await.unwrap(), 403);
    assert_eq!(
        harness
            .count("SELECT count(*) FROM invites WHERE email LIKE 'racing%'")
            .await,
        0
    );
}

/// An email that can never arrive is given up on rather than retried for ever, and the Jira
/// admin page says the setup email did not arrive, pointing to finishing the setup there.
#[tokio::test]
async fn a_setup_email_to_a_user_jira_no_longer_knows_is_given_up_and_the_admin_page_says_so() {
    let harness = Harness::start().await;
    let (installation, _) = harness.install_and_read_setup_email().await;
    harness.sim.delete_user(&installation.installer_account_id);
    let id = harness.installation_id(&installation.client_key).await;
    let client = harness.pool.get().await.unwrap();
    accounts_store::outbox::enqueue(
        &client,
        &accounts_store::outbox::Email::Setup {
            installation: id.into(),
        },
    )
    .await
    .unwrap();
    let given_up = "SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL AND attempts = 1";
    eventually(
        Duration::from_secs(20),
        "the setup email given up on",
        || async {
            match harness.count(given_up).await {
                1 => Ok(()),
                other => Err(other),
            }
        },
    )
    .await;
    // Retries come after 200-500 ms here: a few of those later, it was still tried only once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(harness.count(given_up).await, 1, "tried again");

    let now = jsonwebtoken::get_current_timestamp();
    let token = sign_connect_token(
        &installation,
        &json!({"iss": installation.client_key, "sub": installation.installer_account_id, "iat": now, "exp": now + 900, "qsh": "context-qsh"}),
    )
    .unwrap();
    let response = harness
        .app
        .client
        .get(format!(
            "{}/atlassian/admin?jwt={token}",
            harness.app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("The setup email could not be delivered")
            && page.contains("Jira does not know the installing user"),
        "{page}"
    );
}

/// Every page refuses framing and caching, keeps its URL out of other sites' Referer, and tells
/// browsers to keep to HTTPS.
#[tokio::test]
async fn pages_carry_the_browser_security_headers() {
    let harness = Harness::start().await;
    for path in ["/sign-in", "/sign-up", "/no-such-page"] {
        let response = harness.app.get(path).await;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(
            header("content-security-policy").contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("cache-control"), "no-store", "{path}");
        assert_eq!(header("referrer-policy"), "same-origin", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(
            header("strict-transport-security"),
            "max-age=31536000; includeSubDomains",
            "{path}"
        );
    }
}
