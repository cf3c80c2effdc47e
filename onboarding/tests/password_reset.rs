//! "Forgot your password?" against the running stack's mail sink: the emailed link sets a new
//! password once, ends every session of the account and retires the old password; an address
//! without an account gets the same page and no email; replaced, expired and altered links each
//! get a page that says so; a fourth request within the hour sends nothing.

mod support;

use support::{Browser, Harness, PUBLIC_BASE_URL, browser::Page, email};

const SUBJECT: &str = "Reset your MetaFrazo password";
const OLD_PASSWORD: &str = "a long enough password";
const NEW_PASSWORD: &str = "a brand new passphrase";

async fn ask_for_a_link(harness: &Harness, address: &str) -> Page {
    let mut browser = harness.browser();
    browser.get("/forgot-password").await.assert_status(200);
    browser
        .submit("/forgot-password", &[("email", address)])
        .await
}

fn reset_path(mail: &test_kit::Mail) -> String {
    mail.link_path(&format!("{PUBLIC_BASE_URL}/reset-password/"))
}

async fn sign_in(harness: &Harness, address: &str, password: &str) -> Page {
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
async fn the_emailed_link_sets_a_new_password_once_and_ends_every_session() {
    let harness = Harness::start().await;
    let address = email("forgetful");
    let mut signed_in_before = harness.signed_up(&address).await;
    harness
        .browser()
        .get("/sign-in")
        .await
        .assert_contains(r#"href="/forgot-password""#);

    ask_for_a_link(&harness, &address.to_uppercase())
        .await
        .assert_status(200)
        .assert_contains("Check your email");
    let mail = harness.mailbox.wait_for(&address, SUBJECT, 0).await;
    assert!(mail.html.contains("Choose a new password"), "{}", mail.html);
    let path = reset_path(&mail);

    // Opening it (a mail scanner, then the person) uses nothing up.
    let mut browser = harness.browser();
    browser.get(&path).await.assert_status(200);
    browser
        .get(&path)
        .await
        .assert_status(200)
        .assert_contains(&address);
    browser
        .submit(&path, &[("password", "short")])
        .await
        .assert_status(422)
        .assert_contains("at least 10 characters");
    browser
        .submit(&path, &[("password", NEW_PASSWORD)])
        .await
        .assert_redirect_to("/sign-in?email=");

    signed_in_before
        .get("/")
        .await
        .assert_redirect_to("/sign-in");
    sign_in(&harness, &address, OLD_PASSWORD)
        .await
        .assert_status(401);
    sign_in(&harness, &address, NEW_PASSWORD)
        .await
        .assert_redirect_to("/");

    browser
        .get(&path)
        .await
        .assert_status(410)
        .assert_contains("already used");
    browser
        .submit(&path, &[("password", "yet another passphrase")])
        .await
        .assert_status(410);
    sign_in(&harness, &address, NEW_PASSWORD)
        .await
        .assert_redirect_to("/");
    assert_eq!(
        harness
            .count("SELECT count(*) FROM audit_log WHERE action = 'password_reset'")
            .await,
        1
    );
}

#[tokio::test]
async fn strangers_learn_nothing_and_bad_links_each_get_a_page_that_says_so() {
    let harness = Harness::start().await;
    let nobody = email("nobody");
    let for_nobody = ask_for_a_link(&harness, &nobody).await;
    for_nobody
        .assert_status(200)
        .assert_contains("Check your email");

    let address = email("careful");
    harness.signed_up(&address).await;
    let for_someone = ask_for_a_link(&harness, &address).await;
    assert_eq!(
        for_someone.body.replace(&address, "ADDRESS"),
        for_nobody.body.replace(&nobody, "ADDRESS"),
        "the same page whether or not the address has an account"
    );
    let first = reset_path(&harness.mailbox.wait_for(&address, SUBJECT, 0).await);
    ask_for_a_link(&harness, &address).await.assert_status(200);
    let second = reset_path(&harness.mailbox.wait_for(&address, SUBJECT, 1).await);
    assert_ne!(first, second);

    let mut browser = harness.browser();
    browser
        .get(&first)
        .await
        .assert_status(410)
        .assert_contains("replaced");
    let mut altered = second.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    browser
        .get(&altered)
        .await
        .assert_status(404)
        .assert_contains("not valid");
    harness
        .pool
        .get()
        .await
        .unwrap()
        .execute(
            "UPDATE password_resets SET expires_at = now() - interval '1 minute'
             WHERE used_at IS NULL AND revoked_at IS NULL",
            &[],
        )
        .await
        .unwrap();
    browser
        .get(&second)
        .await
        .assert_status(410)
        .assert_contains("expired");

    // A third request is sent; a fourth within the hour is not, though its page is the same.
    ask_for_a_link(&harness, &address).await.assert_status(200);
    ask_for_a_link(&harness, &address)
        .await
        .assert_status(200)
        .assert_contains("Check your email");
    assert_eq!(
        harness
            .count("SELECT count(*) FROM outbox WHERE kind = 'password_reset'")
            .await,
        3,
        "three emails for the account, none for the address without one"
    );
    harness.mailbox.wait_for(&address, SUBJECT, 2).await;
    assert!(harness.mailbox.messages(&nobody, SUBJECT).is_empty());
}

#[tokio::test]
async fn a_request_without_the_forms_csrf_token_is_refused() {
    let harness = Harness::start().await;
    let mut browser = Browser::new(&harness.app.address);
    browser.get("/forgot-password").await.assert_status(200);
    browser
        .post_raw(
            "/forgot-password",
            &[("email", &email("someone")), ("csrf", "forged")],
        )
        .await
        .assert_status(403);
}
