//! Email verification against the running stack's mail sink (security issue 17, account
//! pre-hijack): a password sign-up mails a one-time link that confirms the address once and
//! expires; an unconfirmed account joins no organization and connects no workspace; the owner of
//! the address takes an unconfirmed account back through Google, or a password reset, and
//! whoever opened it is out; Microsoft's unverified `email` creates nothing by itself; bad
//! links each get a page that says so and change nothing.

mod support;

use accounts_store::api_tokens;
use support::{
    Browser, Harness, email,
    oidc::{Login, ProviderBrowser, continue_with, google, subject},
};
use test_kit::{CONFIRM_ADDRESS_SUBJECT, confirmation_link};

const PASSWORD: &str = "a long enough password";

impl Harness {
    async fn confirmed(&self, address: &str) -> bool {
        let client = self.pool.get().await.unwrap();
        client
            .query_one(
                "SELECT email_confirmed_at IS NOT NULL FROM users WHERE email = $1",
                &[&address],
            )
            .await
            .unwrap()
            .get(0)
    }

    async fn audited(&self, action: &str) -> i64 {
        let client = self.pool.get().await.unwrap();
        client
            .query_one(
                "SELECT count(*) FROM audit_log WHERE action = $1",
                &[&action],
            )
            .await
            .unwrap()
            .get(0)
    }

    async fn token_user(&self, token: &str) -> Option<String> {
        let client = self.pool.get().await.unwrap();
        api_tokens::authenticate(&client, token)
            .await
            .unwrap()
            .map(|user| user.email)
    }
}

/// Creates an API token on the account page; answers its text.
async fn api_token(browser: &mut Browser) -> String {
    browser.get("/account/tokens").await.assert_status(200);
    let page = browser
        .submit("/account/tokens", &[("name", "notebook")])
        .await;
    page.assert_status(200);
    let start = page.body.find(api_tokens::PREFIX).expect("the new token");
    page.body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

async fn sign_in(harness: &Harness, address: &str, password: &str) -> support::browser::Page {
    let mut browser = harness.browser();
    browser.get("/sign-in").await;
    browser
        .submit(
            "/sign-in",
            &[("email", address), ("password", password), ("next", "/")],
        )
        .await
}

#[tokio::test]
async fn sign_up_mails_a_link_that_confirms_the_address_once() {
    assert_eq!(
        CONFIRM_ADDRESS_SUBJECT,
        onboarding::mail::messages::EMAIL_VERIFICATION_SUBJECT,
        "test-kit finds the email onboarding sends"
    );
    let harness = Harness::start().await;
    let address = email("ada");
    let mut browser = harness.browser();
    browser.get("/sign-up").await.assert_status(200);
    let signed_up = browser
        .submit(
            "/sign-up",
            &[("email", &address), ("password", PASSWORD), ("next", "/")],
        )
        .await;
    signed_up.assert_redirect_to("/account/confirm-email?next=%2F");
    assert!(
        browser.cookie("mf_session").is_some(),
        "signed in meanwhile"
    );
    browser
        .get(signed_up.location.as_deref().unwrap())
        .await
        .assert_status(200)
        .assert_contains("Check your inbox")
        .assert_contains(&address)
        .assert_contains("Send the link again");
    browser
        .get("/account")
        .await
        .assert_contains("not confirmed");
    assert!(!harness.confirmed(&address).await);

    let link = confirmation_link(&harness.mailbox, &address, 0).await;
    // Opening it (a mail scanner, then the person) confirms nothing.
    for _ in 0..2 {
        harness
            .browser()
            .get(&link)
            .await
            .assert_status(200)
            .assert_contains(&format!("Confirm {address}"));
    }
    assert!(!harness.confirmed(&address).await, "confirmed by a GET");

    browser.get(&link).await.assert_status(200);
    browser.submit(&link, &[]).await.assert_redirect_to("/");
    assert!(harness.confirmed(&address).await);
    assert_eq!(harness.audited("email_confirmed").await, 1);
    browser.get("/account").await.assert_contains("confirmed");
    // Confirmed: the "check your inbox" page sends on.
    browser
        .get("/account/confirm-email?next=/orgs")
        .await
        .assert_redirect_to("/orgs");

    // Once.
    browser
        .get(&link)
        .await
        .assert_status(410)
        .assert_contains("already used");
    browser.submit(&link, &[]).await.assert_status(410);
    assert_eq!(harness.audited("email_confirmed").await, 1);
}

#[tokio::test]
async fn an_expired_link_confirms_nothing_and_a_new_one_replaces_it() {
    let harness = Harness::start().await;
    let address = email("late");
    let mut browser = harness.signed_up_unconfirmed(&address).await;
    let first = confirmation_link(&harness.mailbox, &address, 0).await;
    let client = harness.pool.get().await.unwrap();
    client
        .execute(
            "UPDATE email_verifications SET expires_at = now() - interval '1 minute'",
            &[],
        )
        .await
        .unwrap();
    browser
        .get(&first)
        .await
        .assert_status(410)
        .assert_contains("expired")
        .assert_contains("Nothing was changed");
    assert!(!harness.confirmed(&address).await);

    // A new one from the account page; the older link is replaced.
    browser.get("/account").await.assert_status(200);
    browser
        .submit("/account/confirm-email", &[("next", "/account")])
        .await
        .assert_redirect_to("/account/confirm-email?next=%2Faccount&sent=again");
    let second = confirmation_link(&harness.mailbox, &address, 1).await;
    assert_ne!(first, second);
    browser.get(&second).await.assert_status(200);
    browser
        .submit(&second, &[])
        .await
        .assert_redirect_to("/account");
    assert!(harness.confirmed(&address).await);
    browser.get(&first).await.assert_status(410);
}

#[tokio::test]
async fn a_foreign_replayed_or_altered_link_gets_a_page_that_says_so_and_changes_nothing() {
    let harness = Harness::start().await;
    let address = email("kept");
    let mut browser = harness.signed_up_unconfirmed(&address).await;
    let link = confirmation_link(&harness.mailbox, &address, 0).await;
    let token = link.rsplit('/').next().unwrap().to_owned();
    let foreign = format!(
        "/account/confirm-email/{}",
        accounts_store::tokens::mint().text
    );
    let cut = format!("/account/confirm-email/{}", &token[..20]);
    let mut flipped = token.clone().into_bytes();
    flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };
    let altered = format!(
        "/account/confirm-email/{}",
        String::from_utf8(flipped).unwrap()
    );
    for (case, path) in [("foreign", &foreign), ("cut", &cut), ("altered", &altered)] {
        browser
            .get(path)
            .await
            .assert_status(404)
            .assert_contains("not valid");
        browser.get("/account").await;
        let page = browser.submit(path, &[]).await;
        assert_eq!(page.status, 404, "{case}: {}", page.body);
        page.assert_contains("Nothing was changed");
    }
    // Without the page's CSRF token, the real link is refused too.
    let page = browser.post_raw(&link, &[("csrf", "forged")]).await;
    page.assert_status(403);
    assert!(!harness.confirmed(&address).await);
    assert_eq!(harness.audited("email_confirmed").await, 0);

    // A replay after use.
    let mut other = harness.browser();
    other.get(&link).await.assert_status(200);
    other.submit(&link, &[]).await.assert_redirect_to(&format!(
        "/sign-in?confirmed=1&email={}",
        address.replace('@', "%40")
    ));
    other.get(&link).await.assert_status(410);
    other.submit(&link, &[]).await.assert_status(410);
    assert_eq!(harness.audited("email_confirmed").await, 1);
}

#[tokio::test]
async fn an_unconfirmed_account_cannot_accept_an_invitation_or_finish_a_setup_link() {
    let harness = Harness::start().await;
    let invitee = email("invitee");
    let invite = harness.invitation_to_acme(&invitee).await;
    let mut browser = harness.signed_up_unconfirmed(&invitee).await;

    browser
        .get(&invite)
        .await
        .assert_status(403)
        .assert_contains("Confirm your email address first")
        .assert_contains("Send the link again");
    browser.submit(&invite, &[]).await.assert_status(403);
    let members = "SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email LIKE 'invitee.%'";
    assert_eq!(harness.count(members).await, 0);

    let (installation, mail) = harness.install_and_read_setup_email().await;
    let setup = support::setup_path(&mail);
    browser
        .get(&setup)
        .await
        .assert_status(403)
        .assert_contains("Confirm your email address first");
    browser.get(&invite).await;
    browser
        .submit(&setup, &[("action", "create"), ("organization", "Squat")])
        .await
        .assert_status(403);
    let client = harness.pool.get().await.unwrap();
    let connected: Option<uuid::Uuid> = client
        .query_one(
            "SELECT organization_id FROM installations WHERE client_key = $1",
            &[&installation.client_key],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(connected, None, "the workspace was connected");

    // The resend on that page, then the link: now it joins.
    browser.get(&invite).await;
    browser
        .submit("/account/confirm-email", &[("next", &invite)])
        .await
        .assert_redirect_to("/account/confirm-email?next=");
    let link = confirmation_link(&harness.mailbox, &invitee, 1).await;
    browser.get(&link).await;
    browser.submit(&link, &[]).await.assert_redirect_to(&invite);
    browser
        .get(&invite)
        .await
        .assert_contains("Accept and join");
    browser
        .submit(&invite, &[])
        .await
        .assert_redirect_to("http://dashboards.test/orgs/");
    assert_eq!(harness.count(members).await, 1);
}

/// Following a link mailed to the address proves it: an account created on the way from one is
/// confirmed, and no confirmation email is sent.
#[tokio::test]
async fn signing_up_from_an_invitation_mailed_to_the_address_confirms_it() {
    let harness = Harness::start().await;
    let invitee = email("invitee");
    let invite = harness.invitation_to_acme(&invitee).await;
    let mut browser = harness.browser();
    browser.get(&invite).await.assert_status(200);
    browser
        .get(&format!("/sign-up?next={invite}"))
        .await
        .assert_status(200);
    browser
        .submit(
            "/sign-up",
            &[
                ("email", &invitee),
                ("password", PASSWORD),
                ("next", &invite),
            ],
        )
        .await
        .assert_redirect_to(&invite);
    assert!(harness.confirmed(&invitee).await);
    browser
        .get(&invite)
        .await
        .assert_contains("Accept and join");
    browser
        .submit(&invite, &[])
        .await
        .assert_redirect_to("http://dashboards.test/orgs/");
    assert_eq!(
        harness
            .count("SELECT count(*) FROM email_verifications WHERE email LIKE 'invitee.%'")
            .await,
        0,
        "a confirmation email for a proven address"
    );
}

/// The pre-hijack: someone signs up first with Alice's address and a password of theirs. When
/// Alice signs in with Google, which vouches for the address, the account is hers: the
/// squatter's password, session and API token stop working, and the log says so.
#[tokio::test]
async fn google_takes_back_an_unconfirmed_account_and_the_squatter_is_out() {
    let harness = Harness::start().await;
    let alice = email("alice");
    let mut squatter = harness.signed_up_unconfirmed(&alice).await;
    let token = api_token(&mut squatter).await;
    assert_eq!(
        harness.token_user(&token).await.as_deref(),
        Some(alice.as_str())
    );
    squatter.get("/").await.assert_status(200);

    let mut app = harness.browser();
    let mut idp = ProviderBrowser::default();
    let callback = continue_with(
        &mut app,
        &mut idp,
        "google",
        "/account",
        &google(&subject("alice"), &alice),
    )
    .await;
    app.get(&callback).await.assert_redirect_to("/account");
    app.get("/account")
        .await
        .assert_status(200)
        .assert_contains(&alice)
        .assert_contains("not set: you sign in with a provider");

    squatter.get("/").await.assert_redirect_to("/sign-in");
    sign_in(&harness, &alice, PASSWORD).await.assert_status(401);
    assert_eq!(
        harness.token_user(&token).await,
        None,
        "the squatter's token"
    );
    assert!(harness.confirmed(&alice).await);
    assert_eq!(harness.audited("account_claimed").await, 1);
    assert_eq!(harness.count("SELECT count(*) FROM users").await, 1);
    assert_eq!(harness.count("SELECT count(*) FROM identities").await, 1);
    // The squatter's confirmation link is worth nothing now.
    let link = confirmation_link(&harness.mailbox, &alice, 0).await;
    harness.browser().get(&link).await.assert_status(410);
}

/// Microsoft's `email` is whatever a tenant admin typed: signing in with it creates no account
/// and links none; the address gets a link, and only that link makes the account.
#[tokio::test]
async fn microsofts_unverified_email_creates_nothing_by_itself() {
    let harness = Harness::start().await;
    let address = email("mira");
    let mut app = harness.browser();
    let mut idp = ProviderBrowser::default();
    let oid = subject("mira");
    let login = Login {
        subject: &oid,
        email: Some(&address),
        ..Login::default()
    };
    let callback = continue_with(&mut app, &mut idp, "microsoft", "/account", &login).await;
    app.get(&callback)
        .await
        .assert_status(200)
        .assert_contains("Check your inbox")
        .assert_contains("No account was created");
    assert!(app.cookie("mf_session").is_none());
    assert_eq!(harness.count("SELECT count(*) FROM users").await, 0);
    assert_eq!(harness.count("SELECT count(*) FROM identities").await, 0);
    let mail = harness
        .mailbox
        .wait_for(&address, CONFIRM_ADDRESS_SUBJECT, 0)
        .await;
    assert!(mail.text.contains("with Microsoft"), "{}", mail.text);

    // An address someone signed up with (unconfirmed): still nothing is linked to it.
    let squatted = email("squatted");
    harness.signed_up_unconfirmed(&squatted).await;
    let mut other = harness.browser();
    let squatter_oid = subject("squatter");
    let callback = continue_with(
        &mut other,
        &mut ProviderBrowser::default(),
        "microsoft",
        "/",
        &Login {
            subject: &squatter_oid,
            email: Some(&squatted),
            ..Login::default()
        },
    )
    .await;
    other.get(&callback).await.assert_status(409);
    assert_eq!(harness.count("SELECT count(*) FROM identities").await, 0);

    // The owner of the first address follows the link: the account exists, signed in.
    let link = confirmation_link(&harness.mailbox, &address, 0).await;
    app.get(&link)
        .await
        .assert_status(200)
        .assert_contains("Microsoft");
    app.submit(&link, &[]).await.assert_redirect_to("/account");
    app.get("/account").await.assert_contains(&address);
    assert!(harness.confirmed(&address).await);
    assert_eq!(harness.count("SELECT count(*) FROM identities").await, 1);
}

/// A reset proves the address: it ends every session, API token and open link of the account,
/// and an unconfirmed account's opener loses it to the address's owner.
#[tokio::test]
async fn a_password_reset_ends_sessions_api_tokens_and_open_links() {
    let harness = Harness::start().await;
    let address = email("reset");
    let mut before = harness.signed_up_unconfirmed(&address).await;
    let token = api_token(&mut before).await;
    let confirm = confirmation_link(&harness.mailbox, &address, 0).await;
    let mut confirmed_user = harness.signed_up(&email("linker")).await;
    let linker_token = api_token(&mut confirmed_user).await;
    confirmed_user.get("/account").await;
    // A "link Google" begun, its answer from Google not yet brought back.
    let start = confirmed_user
        .submit("/account/sign-in-methods/google/link", &[])
        .await;
    start.assert_redirect_to("http://127.0.0.1:");
    let callback = ProviderBrowser::default()
        .authorize(
            start.location.as_deref().unwrap(),
            &google(&subject("linker"), "linker@work.example.test"),
        )
        .await;

    let mut browser = harness.browser();
    browser.get("/forgot-password").await;
    browser
        .submit("/forgot-password", &[("email", &address)])
        .await
        .assert_status(200);
    let mail = harness
        .mailbox
        .wait_for(&address, "Reset your MetaFrazo password", 0)
        .await;
    let reset = mail.link_path(&format!("{}/reset-password/", support::PUBLIC_BASE_URL));
    let mut browser = harness.browser();
    browser.get(&reset).await.assert_status(200);
    browser
        .submit(&reset, &[("password", "a brand new passphrase")])
        .await
        .assert_redirect_to("/sign-in?email=");

    before.get("/").await.assert_redirect_to("/sign-in");
    assert_eq!(harness.token_user(&token).await, None, "the API token");
    harness.browser().get(&confirm).await.assert_status(410);
    assert!(
        harness.confirmed(&address).await,
        "the reset link proves it"
    );
    assert_eq!(harness.audited("account_claimed").await, 1);
    sign_in(&harness, &address, "a brand new passphrase")
        .await
        .assert_redirect_to("/");

    // The other account's reset ends its token and the link to Google it began.
    let linker_address: String = {
        let client = harness.pool.get().await.unwrap();
        client
            .query_one("SELECT email FROM users WHERE email LIKE 'linker.%'", &[])
            .await
            .unwrap()
            .get(0)
    };
    let mut browser = harness.browser();
    browser.get("/forgot-password").await;
    browser
        .submit("/forgot-password", &[("email", &linker_address)])
        .await;
    let mail = harness
        .mailbox
        .wait_for(&linker_address, "Reset your MetaFrazo password", 0)
        .await;
    let reset = mail.link_path(&format!("{}/reset-password/", support::PUBLIC_BASE_URL));
    browser.get(&reset).await;
    browser
        .submit(&reset, &[("password", "a brand new passphrase")])
        .await
        .assert_redirect_to("/sign-in?email=");
    assert_eq!(harness.token_user(&linker_token).await, None);
    confirmed_user.get("/").await.assert_redirect_to("/sign-in");
    confirmed_user
        .get(&callback)
        .await
        .assert_status(403)
        .assert_contains("Sign in again to link this account");
    assert_eq!(harness.count("SELECT count(*) FROM identities").await, 0);
    // A confirmed account keeps being its owner's: nothing was claimed.
    assert_eq!(harness.audited("account_claimed").await, 1);
}
