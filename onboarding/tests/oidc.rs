//! "Continue with Google/Microsoft" against the real local OpenID providers
//! (`compose/oidc-provider`, started by `compose/local up`): sign-up and sign-in per provider, the
//! `next` destination kept, every tampered, replayed, foreign or denied answer refused with
//! nothing created, Microsoft's unverified email never opening an existing account nor creating
//! one before a mailed link confirms it, and linking and unlinking from the account page.

mod support;

use support::{
    Browser, Harness, email,
    oidc::{
        Login, MICROSOFT_TENANT, ProviderBrowser, continue_with, query_param, subject, with_param,
    },
};

impl Harness {
    /// The `onboarding_sign_ins_total` line for `method` and `outcome`, as `/metrics` shows it.
    async fn sign_ins(&self, method: &str, outcome: &str) -> Option<String> {
        let metrics = self.app.metrics().await;
        let prefix =
            format!(r#"onboarding_sign_ins_total{{method="{method}",outcome="{outcome}"}} "#);
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&prefix).map(str::to_owned))
    }

    async fn users_with(&self, email: &str) -> i64 {
        let client = self.pool.get().await.unwrap();
        client
            .query_one("SELECT count(*) FROM users WHERE email = $1", &[&email])
            .await
            .unwrap()
            .get(0)
    }

    /// Every table's row count, by table: what a request that should store nothing must leave.
    async fn rows_in_every_table(&self) -> Vec<(String, i64)> {
        let client = self.pool.get().await.unwrap();
        let tables = client
            .query(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                 ORDER BY 1",
                &[],
            )
            .await
            .unwrap();
        let mut counts = Vec::new();
        for table in tables {
            let name: String = table.get(0);
            let count = client
                .query_one(&format!("SELECT count(*) FROM \"{name}\""), &[])
                .await
                .unwrap()
                .get(0);
            counts.push((name, count));
        }
        counts
    }

    async fn audit_count(&self, action: &str, detail: &str) -> i64 {
        let client = self.pool.get().await.unwrap();
        client
            .query_one(
                "SELECT count(*) FROM audit_log WHERE action = $1 AND detail = $2",
                &[&action, &detail],
            )
            .await
            .unwrap()
            .get(0)
    }
}

fn google<'a>(subject: &'a str, email: &'a str) -> Login<'a> {
    Login {
        subject,
        email: Some(email),
        email_verified: true,
        ..Login::default()
    }
}

fn microsoft<'a>(subject: &'a str, email: &'a str) -> Login<'a> {
    Login {
        subject,
        email: Some(email),
        ..Login::default()
    }
}

/// Signs in through `provider` in a fresh browser; answers it signed in, after checking it
/// landed on `next`.
async fn signed_in_with(harness: &Harness, provider: &str, login: &Login<'_>) -> Browser {
    let mut app = harness.browser();
    let mut idp = ProviderBrowser::default();
    let callback = continue_with(&mut app, &mut idp, provider, "/account/tokens", login).await;
    app.get(&callback)
        .await
        .assert_redirect_to("/account/tokens");
    assert!(
        app.cookie("mf_session").is_some(),
        "no session after sign-in"
    );
    app
}

/// Signs up through Microsoft in a fresh browser: its `email` is nobody's word, so the callback
/// only mails a link, and the account exists once that link is confirmed (in this browser,
/// which it signs in, landing on `next`).
async fn signed_up_with_microsoft(harness: &Harness, login: &Login<'_>, next: &str) -> Browser {
    let mut app = harness.browser();
    let mut idp = ProviderBrowser::default();
    let callback = continue_with(&mut app, &mut idp, "microsoft", next, login).await;
    app.get(&callback)
        .await
        .assert_status(200)
        .assert_contains("Check your inbox");
    assert!(app.cookie("mf_session").is_none(), "signed in unconfirmed");
    let address = login.email.unwrap();
    assert_eq!(harness.users_with(address).await, 0, "created unconfirmed");
    let link = test_kit::confirmation_link(&harness.mailbox, address, 0).await;
    app.get(&link).await.assert_status(200);
    app.submit(&link, &[]).await.assert_redirect_to(next);
    assert!(app.cookie("mf_session").is_some(), "no session");
    app
}

#[tokio::test]
async fn the_sign_in_and_sign_up_pages_offer_both_providers_keeping_next() {
    let harness = Harness::start().await;
    let mut app = harness.browser();
    for page in ["/sign-in?next=/setup/abc", "/sign-up?next=/setup/abc"] {
        app.get(page)
            .await
            .assert_status(200)
            .assert_contains("href=\"/auth/oidc/google/start?next=/setup/abc\"")
            .assert_contains("Continue with Google")
            .assert_contains("Continue with Microsoft");
    }
}

#[tokio::test]
async fn an_unconfigured_provider_shows_no_button_and_has_no_routes() {
    let harness = Harness::start_with(|config| {
        config.oidc.providers.retain(|p| p.kind.name() == "google");
    })
    .await;
    let mut app = harness.browser();
    let page = app.get("/sign-in").await;
    page.assert_status(200)
        .assert_contains("Continue with Google");
    assert!(!page.body.contains("Continue with Microsoft"));
    app.get("/auth/oidc/microsoft/start")
        .await
        .assert_status(404);
}

#[tokio::test]
async fn google_signs_up_a_new_account_then_signs_it_in_again() {
    let harness = Harness::start().await;
    let address = email("gina");
    let sub = subject("gina");
    let mut app = signed_in_with(&harness, "google", &google(&sub, &address)).await;
    app.get("/")
        .await
        .assert_status(200)
        .assert_contains(&address);
    assert_eq!(harness.users_with(&address).await, 1);
    assert_eq!(
        harness
            .count("SELECT count(*) FROM users WHERE password_hash IS NULL")
            .await,
        1
    );
    assert_eq!(harness.audit_count("signed_up", "google").await, 1);

    let mut again = signed_in_with(&harness, "google", &google(&sub, &address)).await;
    again.get("/").await.assert_contains(&address);
    assert_eq!(harness.users_with(&address).await, 1);
    assert_eq!(harness.count("SELECT count(*) FROM identities").await, 1);
    assert_eq!(harness.audit_count("signed_in", "google").await, 2);
    assert_eq!(
        harness.sign_ins("google", "succeeded").await.as_deref(),
        Some("2")
    );
}

#[tokio::test]
async fn microsoft_signs_up_by_tenant_and_object_id_then_signs_in_again() {
    let harness = Harness::start().await;
    let address = email("mia");
    let oid = subject("mia");
    let mut app =
        signed_up_with_microsoft(&harness, &microsoft(&oid, &address), "/account/tokens").await;
    app.get("/")
        .await
        .assert_status(200)
        .assert_contains(&address);
    let client = harness.pool.get().await.unwrap();
    let row = client
        .query_one("SELECT issuer, subject, provider FROM identities", &[])
        .await
        .unwrap();
    let (issuer, stored_subject, provider): (String, String, String) =
        (row.get(0), row.get(1), row.get(2));
    assert!(issuer.contains(MICROSOFT_TENANT), "{issuer}");
    assert_eq!(stored_subject, oid);
    assert_eq!(provider, "microsoft");

    signed_in_with(&harness, "microsoft", &microsoft(&oid, &address)).await;
    assert_eq!(harness.users_with(&address).await, 1);
    assert_eq!(harness.audit_count("signed_in", "microsoft").await, 2);
}

#[tokio::test]
async fn a_google_verified_email_signs_in_to_the_existing_account_and_links_it() {
    let harness = Harness::start().await;
    let address = email("pat");
    harness.signed_up(&address).await;
    let mut app = signed_in_with(&harness, "google", &google(&subject("pat"), &address)).await;
    app.get("/").await.assert_contains(&address);
    assert_eq!(harness.users_with(&address).await, 1);
    assert_eq!(harness.count("SELECT count(*) FROM identities").await, 1);
    assert_eq!(
        harness
            .audit_count("identity_linked", "google (verified email)")
            .await,
        1
    );
}

/// The nOAuth takeover: an identity provider's email claim nobody verified names someone
/// else's account. It must not sign in to it, link to it, or create anything.
#[tokio::test]
async fn an_unverified_email_never_opens_an_existing_account() {
    let harness = Harness::start().await;
    let victim = email("victim");
    harness.signed_up(&victim).await;
    for (provider, login) in [
        ("microsoft", microsoft("attacker-oid", &victim)),
        (
            "google",
            Login {
                email_verified: false,
                ..google("attacker-sub", &victim)
            },
        ),
    ] {
        let mut app = harness.browser();
        let mut idp = ProviderBrowser::default();
        let callback = continue_with(&mut app, &mut idp, provider, "/", &login).await;
        app.get(&callback)
            .await
            .assert_status(409)
            .assert_contains("Sign in the way you did before")
            .assert_contains("Nothing was changed");
        assert!(app.cookie("mf_session").is_none(), "{provider}: signed in");
    }
    assert_eq!(harness.count("SELECT count(*) FROM identities").await, 0);
    assert_eq!(harness.count("SELECT count(*) FROM sessions").await, 1);
    assert_eq!(harness.users_with(&victim).await, 1);
}

#[tokio::test]
async fn an_anonymous_start_stores_nothing_and_its_sign_in_still_completes() {
    let harness = Harness::start().await;
    let before = harness.rows_in_every_table().await;
    for provider in ["google", "microsoft"] {
        for _ in 0..10 {
            harness
                .browser()
                .get(&format!("/auth/oidc/{provider}/start?next=/"))
                .await
                .assert_status(303);
        }
    }
    assert_eq!(harness.rows_in_every_table().await, before);
    // The flow the browser carries is enough to finish.
    signed_in_with(&harness, "google", &google(&subject("ana"), &email("ana"))).await;
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let harness = Harness::start().await;
    let address = email("rex");
    let mut app = harness.browser();
    let mut idp = ProviderBrowser::default();
    let callback = continue_with(
        &mut app,
        &mut idp,
        "google",
        "/",
        &google(&subject("rex"), &address),
    )
    .await;
    app.get(&callback).await.assert_redirect_to("/");
    let sessions = harness.count("SELECT count(*) FROM sessions").await;
    app.get(&callback)
        .await
        .assert_status(400)
        .assert_contains("already used");
    assert_eq!(
        harness.count("SELECT count(*) FROM sessions").await,
        sessions
    );
}

#[tokio::test]
async fn a_callback_carried_to_another_browser_is_refused() {
    let harness = Harness::start().await;
    let mut attacker = harness.browser();
    let mut idp = ProviderBrowser::default();
    let callback = continue_with(
        &mut attacker,
        &mut idp,
        "google",
        "/",
        &google(&subject("mallory"), &email("mallory")),
    )
    .await;
    // Login CSRF: the attacker's answer, opened in the victim's browser.
    let mut victim = harness.browser();
    victim
        .get(&callback)
        .await
        .assert_status(400)
        .assert_contains("started in this browser");
    assert!(victim.cookie("mf_session").is_none());
    assert_eq!(harness.count("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn a_tampered_or_missing_state_is_refused() {
    let harness = Harness::start().await;
    let mut app = harness.browser();
    let mut idp = ProviderBrowser::default();
    let callback = continue_with(
        &mut app,
        &mut idp,
        "google",
        "/",
        &google(&subject("tess"), &email("tess")),
    )
    .await;
    let state = query_param(&callback, "state").unwrap();
    let mut altered = state.clone().into_bytes();
    altered[0] = if altered[0] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    app.get(&with_param(&callback, "state", &altered))
        .await
        .assert_status(400);
    let without_state = callback.replace(&format!("state={state}"), "x=1");
    app.get(&without_state).await.assert_status(400);
    assert_eq!(harness.count("SELECT count(*) FROM users").await, 0);
    // The genuine answer still works once: tampering did not burn it.
    app.get(&callback).await.assert_redirect_to("/");
}

#[tokio::test]
async fn an_answer_for_another_provider_is_refused() {
    let harness = Harness::start().await;
    let mut app = harness.browser();
    let mut idp = ProviderBrowser::default();
    let callback = continue_with(
        &mut app,
        &mut idp,
        "google",
        "/",
        &google(&subject("mix"), &email("mix")),
    )
    .await;
    let mixed_up = callback.replace("/auth/oidc/google/", "/auth/oidc/microsoft/");
    app.get(&mixed_up).await.assert_status(400);
    assert_eq!(harness.count("SELECT count(*) FROM users").await, 0);
}

/// The authorization request altered on its way to the provider (by an extension, a proxy, an
/// attacker): a PKCE challenge or nonce that is not ours gets a code or token we refuse.
#[tokio::test]
async fn a_tampered_pkce_challenge_or_nonce_is_refused() {
    let harness = Harness::start().await;
    for (param, value) in [
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("nonce", "a-nonce-the-attacker-chose"),
    ] {
        let mut app = harness.browser();
        let mut idp = ProviderBrowser::default();
        let start = app.get("/auth/oidc/google/start?next=/").await;
        let url = with_param(start.location.as_deref().unwrap(), param, value);
        let callback = idp
            .authorize(&url, &google(&subject("eve"), &email("eve")))
            .await;
        app.get(&callback)
            .await
            .assert_status(401)
            .assert_contains("could not be verified");
        assert!(app.cookie("mf_session").is_none(), "{param}");
    }
    assert_eq!(harness.count("SELECT count(*) FROM users").await, 0);
}

/// A code issued to another client (another app on the same provider) cannot be redeemed by
/// us: the provider refuses it, and nothing is created.
#[tokio::test]
async fn a_code_issued_to_another_client_is_refused() {
    let harness = Harness::start().await;
    let mut app = harness.browser();
    let mut idp = ProviderBrowser::default();
    let start = app.get("/auth/oidc/google/start?next=/").await;
    let url = with_param(
        start.location.as_deref().unwrap(),
        "client_id",
        "metafrazo-other",
    );
    let callback = idp
        .authorize(&url, &google(&subject("other"), &email("other")))
        .await;
    app.get(&callback).await.assert_status(401);
    assert_eq!(harness.count("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn a_microsoft_token_whose_tenant_is_not_its_issuers_is_refused() {
    let harness = Harness::start().await;
    let mut app = harness.browser();
    let mut idp = ProviderBrowser::default();
    let login = Login {
        tenant: Some("00000000-0000-0000-0000-000000000000"),
        ..microsoft("tina-oid", "tina@example.test")
    };
    let callback = continue_with(&mut app, &mut idp, "microsoft", "/", &login).await;
    app.get(&callback).await.assert_status(401);
    assert_eq!(harness.count("SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn denied_consent_ends_on_a_page_and_creates_nothing() {
    let harness = Harness::start().await;
    let mut app = harness.browser();
    let mut idp = ProviderBrowser::default();
    let login = Login {
        deny: true,
        ..google("dan", "dan@example.test")
    };
    let callback = continue_with(&mut app, &mut idp, "google", "/", &login).await;
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("access_denied")
    );
    app.get(&callback)
        .await
        .assert_status(403)
        .assert_contains("You did not sign in with Google");
    assert_eq!(harness.count("SELECT count(*) FROM users").await, 0);
    assert_eq!(
        harness.sign_ins("google", "refused").await.as_deref(),
        Some("1")
    );
    assert_eq!(harness.sign_ins("google", "succeeded").await, None);
}

#[tokio::test]
async fn a_password_account_links_and_unlinks_microsoft_from_its_settings() {
    let harness = Harness::start().await;
    let address = email("lin");
    let mut app = harness.signed_up(&address).await;
    app.get("/account")
        .await
        .assert_status(200)
        .assert_contains("Link Microsoft");
    // The link is asked for with a form (CSRF-checked), then goes through the provider.
    let start = app
        .submit("/account/sign-in-methods/microsoft/link", &[])
        .await;
    start.assert_redirect_to("http://127.0.0.1:");
    let mut idp = ProviderBrowser::default();
    let oid = subject("lin");
    // Microsoft's address may differ, and need not be verified: the user proved both ends.
    let callback = idp
        .authorize(
            start.location.as_deref().unwrap(),
            &microsoft(&oid, "lin@work.example.test"),
        )
        .await;
    app.get(&callback)
        .await
        .assert_redirect_to("/account?done=linked");
    app.get("/account")
        .await
        .assert_contains("linked as lin@work.example.test")
        .assert_contains("Unlink");
    assert_eq!(harness.audit_count("identity_linked", "microsoft").await, 1);

    // Now Microsoft signs in to the same account.
    let mut other = signed_in_with(
        &harness,
        "microsoft",
        &microsoft(&oid, "lin@work.example.test"),
    )
    .await;
    other.get("/").await.assert_contains(&address);

    app.get("/account").await;
    app.submit("/account/sign-in-methods/microsoft/unlink", &[])
        .await
        .assert_redirect_to("/account?done=unlinked");
    assert_eq!(harness.count("SELECT count(*) FROM identities").await, 0);
    assert_eq!(
        harness.audit_count("identity_unlinked", "microsoft").await,
        1
    );
}

#[tokio::test]
async fn the_only_way_to_sign_in_cannot_be_unlinked() {
    let harness = Harness::start().await;
    let address = email("solo");
    let mut app = signed_in_with(&harness, "google", &google(&subject("solo"), &address)).await;
    app.get("/account")
        .await
        .assert_contains("your only way to sign in");
    app.submit("/account/sign-in-methods/google/unlink", &[])
        .await
        .assert_status(409);
    assert_eq!(harness.count("SELECT count(*) FROM identities").await, 1);
}

#[tokio::test]
async fn an_identity_linked_to_one_account_cannot_be_linked_to_another() {
    let harness = Harness::start().await;
    let sub = subject("dup");
    signed_in_with(&harness, "google", &google(&sub, &email("dup"))).await;
    let mut other = harness.signed_up(&email("other")).await;
    other.get("/account").await;
    let start = other
        .submit("/account/sign-in-methods/google/link", &[])
        .await;
    let mut idp = ProviderBrowser::default();
    let callback = idp
        .authorize(
            start.location.as_deref().unwrap(),
            &google(&sub, "x@example.test"),
        )
        .await;
    other
        .get(&callback)
        .await
        .assert_status(409)
        .assert_contains("belongs to another MetaFrazo account");
    assert_eq!(harness.count("SELECT count(*) FROM identities").await, 1);
}

/// ID tokens the provider altered after signing: issued to another audience, expired, or signed
/// by a key the provider does not publish. Each is refused and nothing is created.
#[tokio::test]
async fn an_id_token_for_another_audience_expired_or_wrongly_signed_is_refused() {
    let harness = Harness::start().await;
    for tamper in ["aud", "exp", "sig"] {
        for provider in ["google", "microsoft"] {
            let mut app = harness.browser();
            let mut idp = ProviderBrowser::default();
            let sub = subject(tamper);
            let address = email(tamper);
            let login = Login {
                tamper: Some(tamper),
                ..google(&sub, &address)
            };
            let callback = continue_with(&mut app, &mut idp, provider, "/", &login).await;
            let page = app.get(&callback).await;
            assert_eq!(page.status, 401, "{tamper} at {provider}: {}", page.body);
            page.assert_contains("could not be verified");
            assert!(app.cookie("mf_session").is_none(), "{tamper} at {provider}");
        }
    }
    assert_eq!(harness.count("SELECT count(*) FROM users").await, 0);
    // The same provider's untouched tokens still verify.
    signed_in_with(
        &harness,
        "google",
        &google(&subject("fine"), &email("fine")),
    )
    .await;
}

/// From an invitation, "Continue with Google" comes back to it; the invite is accepted only by
/// an account at the invited address, which Google verified.
#[tokio::test]
async fn an_invite_is_accepted_through_google_only_for_the_invited_verified_address() {
    let harness = Harness::start().await;
    let invitee = email("invitee");
    let invite = harness.invitation_to_acme(&invitee).await;

    // Someone else's Google account, from the invitation: back on it, but it is not theirs.
    let mut stranger = harness.browser();
    stranger
        .get(&invite)
        .await
        .assert_status(200)
        .assert_contains(&format!("/auth/oidc/google/start?next={invite}"));
    let mut idp = ProviderBrowser::default();
    let callback = continue_with(
        &mut stranger,
        &mut idp,
        "google",
        &invite,
        &google(&subject("stranger"), &email("stranger")),
    )
    .await;
    stranger.get(&callback).await.assert_redirect_to(&invite);
    stranger
        .get(&invite)
        .await
        .assert_contains("This invitation is for");
    stranger.submit(&invite, &[]).await.assert_status(403);

    // The invited address, verified by Google: accepted.
    let mut app = harness.browser();
    app.get(&invite).await.assert_status(200);
    let mut idp = ProviderBrowser::default();
    let callback = continue_with(
        &mut app,
        &mut idp,
        "google",
        &invite,
        &google(&subject("invitee"), &invitee),
    )
    .await;
    app.get(&callback).await.assert_redirect_to(&invite);
    app.get(&invite).await.assert_contains("Accept and join");
    app.submit(&invite, &[])
        .await
        .assert_redirect_to("http://dashboards.test/orgs/");
    assert_eq!(
        harness
            .count("SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email LIKE 'invitee.%'")
            .await,
        1
    );
}

/// The setup email's link, then "Continue with Microsoft" on its first step: back on the setup
/// page, signed in, the workspace is connected to a new organization.
#[tokio::test]
async fn setup_continues_with_microsoft_back_to_the_setup_link() {
    let harness = Harness::start().await;
    let (_, mail) = harness.install_and_read_setup_email().await;
    let setup = support::setup_path(&mail);
    let mut app = harness.browser();
    app.get(&setup)
        .await
        .assert_status(200)
        .assert_contains(&format!("/auth/oidc/microsoft/start?next={setup}"));
    // Microsoft's address is confirmed by email first, then the link goes on.
    let admin = email("admin");
    let mut app =
        signed_up_with_microsoft(&harness, &microsoft(&subject("admin"), &admin), &setup).await;
    app.create_organization(&setup, "Acme").await;
}

/// Microsoft's multi-tenant endpoint (`organizations`): discovery names the issuer as a pattern,
/// each token's `iss` must be it with the token's own `tid`, and the identity is the tenant's.
#[tokio::test]
async fn microsofts_multi_tenant_endpoint_checks_each_tokens_tenant() {
    let harness = Harness::start_with(|config| {
        for provider in &mut config.oidc.providers {
            if provider.kind.name() == "microsoft" {
                provider.issuer = "http://127.0.0.1:8091/microsoft/organizations/v2.0"
                    .parse()
                    .unwrap();
            }
        }
    })
    .await;
    let address = email("multi");
    let oid = subject("multi");
    signed_up_with_microsoft(&harness, &microsoft(&oid, &address), "/account/tokens").await;
    let client = harness.pool.get().await.unwrap();
    let issuer: String = client
        .query_one("SELECT issuer FROM identities", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        issuer,
        format!("http://127.0.0.1:8091/microsoft/{MICROSOFT_TENANT}/v2.0")
    );

    // A token whose tid is another tenant than its issuer's.
    let mut app = harness.browser();
    let mut idp = ProviderBrowser::default();
    let other_oid = subject("other-tenant");
    let login = Login {
        tenant: Some("00000000-0000-0000-0000-000000000000"),
        ..microsoft(&other_oid, "other@example.test")
    };
    let callback = continue_with(&mut app, &mut idp, "microsoft", "/", &login).await;
    app.get(&callback).await.assert_status(401);
    assert_eq!(harness.users_with("other@example.test").await, 0);
}

/// Microsoft's `email` claim is anyone's to set: signing in through it at the invited address
/// creates no account (the link goes to the invitee's inbox), so nothing accepts the invitation
/// (the nOAuth class), and nobody joins.
#[tokio::test]
async fn an_invite_is_never_accepted_on_microsofts_unverified_email() {
    let harness = Harness::start().await;
    let invitee = email("invitee");
    let invite = harness.invitation_to_acme(&invitee).await;

    let mut claimant = harness.browser();
    claimant.get(&invite).await.assert_status(200);
    let mut idp = ProviderBrowser::default();
    let callback = continue_with(
        &mut claimant,
        &mut idp,
        "microsoft",
        &invite,
        &microsoft(&subject("claimant"), &invitee),
    )
    .await;
    claimant
        .get(&callback)
        .await
        .assert_status(200)
        .assert_contains("Check your inbox");
    assert!(claimant.cookie("mf_session").is_none());
    // Back on the invitation, still a stranger: offered to sign in, nothing to accept.
    let page = claimant.get(&invite).await;
    page.assert_status(200).assert_contains("/sign-in?next=");
    assert!(!page.body.contains("Accept and join"), "{}", page.body);
    assert_eq!(harness.users_with(&invitee).await, 0);
    assert_eq!(
        harness
            .count("SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email LIKE 'invitee.%'")
            .await,
        0
    );
}
