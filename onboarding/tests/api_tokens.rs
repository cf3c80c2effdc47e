//! Per-user API tokens against the running stack: created on the account page and shown there
//! once, stored only as a hash, accepted by `authenticate` until revoked, refused when altered or
//! unprefixed; one user cannot revoke another's, and forms without the CSRF token are refused.

mod support;

use std::time::{Duration, SystemTime};

use accounts_store::api_tokens;
use sha2::{Digest, Sha256};
use support::{Browser, Harness, email};

const SHOWN_ONCE: &str = "Copy it now; it is not shown again.";

/// Creates a token named `name` on the account page; answers its text, read off the page.
async fn create_token(browser: &mut Browser, name: &str) -> String {
    browser.get("/account/tokens").await.assert_status(200);
    let page = browser.submit("/account/tokens", &[("name", name)]).await;
    page.assert_status(200)
        .assert_contains(SHOWN_ONCE)
        .assert_contains(name);
    token_in(&page.body).expect("the new token is on the page")
}

fn token_in(body: &str) -> Option<String> {
    let start = body.find(api_tokens::PREFIX)?;
    let end = body[start..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .map_or(body.len(), |end| start + end);
    Some(body[start..end].to_owned())
}

/// The id in the page's first revoke form.
fn first_revoke_path(body: &str) -> String {
    let start = body
        .find("/account/tokens/")
        .expect("a revoke form on the page");
    let end = start + body[start..].find('"').unwrap();
    body[start..end].to_owned()
}

async fn authenticate(harness: &Harness, token: &str) -> Option<String> {
    let client = harness.pool.get().await.unwrap();
    api_tokens::authenticate(&client, token)
        .await
        .unwrap()
        .map(|user| user.email)
}

async fn last_used(harness: &Harness) -> SystemTime {
    let client = harness.pool.get().await.unwrap();
    client
        .query_one("SELECT last_used_at FROM api_tokens", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_token_is_shown_once_stored_only_hashed_and_authenticates_its_user() {
    let harness = Harness::start().await;
    let address = email("analyst");
    let mut browser = harness.signed_up(&address).await;
    browser
        .get("/")
        .await
        .assert_status(200)
        .assert_contains("href=\"/account/tokens\"");
    let token = create_token(&mut browser, "Jupyter on my laptop").await;
    assert!(api_tokens::well_formed(&token), "{token}");

    // Never again on any page.
    for path in ["/account/tokens", "/"] {
        let page = browser.get(path).await;
        page.assert_status(200);
        assert!(!page.body.contains(&token), "{path} shows the token again");
        assert!(!page.body.contains(SHOWN_ONCE), "{path}");
    }
    browser
        .get("/account/tokens")
        .await
        .assert_contains("Jupyter on my laptop")
        .assert_contains("never");

    // Only its SHA-256 is in the database: no row of any table holds the text.
    let client = harness.pool.get().await.unwrap();
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    let stored: i64 = client
        .query_one(
            "SELECT count(*) FROM api_tokens WHERE token_sha256 = $1",
            &[&hash],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 1);
    let secret = &token[api_tokens::PREFIX.len()..];
    for table in ["api_tokens", "audit_log", "sessions", "users"] {
        let leaks: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM {table} row WHERE row::text LIKE '%' || $1 || '%'"),
                &[&secret],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(leaks, 0, "{table} holds the token's text");
    }
    assert_eq!(
        harness
            .count("SELECT count(*) FROM audit_log WHERE action = 'api_token_created' AND organization_id IS NULL")
            .await,
        1
    );

    // It answers its user, and its use shows on the page.
    assert_eq!(authenticate(&harness, &token).await, Some(address));
    assert_eq!(
        harness
            .count("SELECT count(*) FROM api_tokens WHERE last_used_at IS NOT NULL")
            .await,
        1
    );
    let listed = browser.get("/account/tokens").await;
    assert!(
        !listed.body.contains(r#"<span class="muted">never</span>"#),
        "{}",
        listed.body
    );

    // Its use is written at most once a minute: a use within the minute leaves the time alone.
    client
        .execute(
            "UPDATE api_tokens SET last_used_at = now() - interval '30 seconds'",
            &[],
        )
        .await
        .unwrap();
    let recent = last_used(&harness).await;
    assert!(authenticate(&harness, &token).await.is_some());
    assert_eq!(last_used(&harness).await, recent);
    client
        .execute(
            "UPDATE api_tokens SET last_used_at = now() - interval '2 minutes'",
            &[],
        )
        .await
        .unwrap();
    let stale = last_used(&harness).await;
    assert!(authenticate(&harness, &token).await.is_some());
    assert!(last_used(&harness).await > stale);
}

#[tokio::test]
async fn revoked_altered_and_unprefixed_tokens_are_refused() {
    let harness = Harness::start().await;
    let address = email("owner");
    let mut browser = harness.signed_up(&address).await;
    let token = create_token(&mut browser, "BI tool").await;
    let kept = create_token(&mut browser, "notebook").await;
    assert_eq!(authenticate(&harness, &token).await, Some(address.clone()));

    let secret = token[api_tokens::PREFIX.len()..].to_owned();
    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let malformed = [
        (secret.clone(), "without the prefix"),
        (token[..token.len() - 1].to_owned(), "one character short"),
        (format!("{token}A"), "one character long"),
        (format!("mfs_{secret}"), "another prefix"),
        (String::new(), "empty"),
    ];
    assert_eq!(authenticate(&harness, &flipped).await, None, "altered");
    for (bad, why) in &malformed {
        assert_eq!(authenticate(&harness, bad).await, None, "{why}");
    }

    // Malformed tokens are refused without a query: on a connection whose transaction has
    // failed, any query is an error, as the altered but well-formed token shows.
    let mut client = harness.pool.get().await.unwrap();
    let broken = client.transaction().await.unwrap();
    assert!(broken.execute("SELECT 1/0", &[]).await.is_err());
    assert!(api_tokens::authenticate(&broken, &flipped).await.is_err());
    for (bad, why) in &malformed {
        let answer = api_tokens::authenticate(&broken, bad).await;
        assert!(matches!(answer, Ok(None)), "{why}: {answer:?}");
    }
    drop(broken);

    // Revoking: the newest token's form comes first.
    let page = browser.get("/account/tokens").await;
    let revoke_newest = first_revoke_path(&page.body);
    browser
        .submit(&revoke_newest, &[])
        .await
        .assert_redirect_to("/account/tokens?done=revoked");
    assert_eq!(authenticate(&harness, &kept).await, None, "revoked");
    assert_eq!(
        authenticate(&harness, &token).await,
        Some(address.clone()),
        "the other token still works"
    );
    browser
        .get("/account/tokens?done=revoked")
        .await
        .assert_contains("Token revoked")
        .assert_contains("revoked ");
    // Revoking twice keeps the first time; each request is in the audit log.
    browser
        .submit(&revoke_newest, &[])
        .await
        .assert_redirect_to("/account/tokens?done=revoked");
    assert_eq!(authenticate(&harness, &kept).await, None);
    assert_eq!(
        harness
            .count("SELECT count(*) FROM audit_log WHERE action = 'api_token_revoked'")
            .await,
        2
    );

    // A token goes with its account.
    let client = harness.pool.get().await.unwrap();
    client
        .execute("DELETE FROM users WHERE email = $1", &[&address])
        .await
        .unwrap();
    assert_eq!(
        authenticate(&harness, &token).await,
        None,
        "account deleted"
    );
    assert_eq!(harness.count("SELECT count(*) FROM api_tokens").await, 0);
}

#[tokio::test]
async fn a_user_cannot_see_or_revoke_another_users_token() {
    let harness = Harness::start().await;
    let victim_email = email("victim");
    let mut victim = harness.signed_up(&victim_email).await;
    let token = create_token(&mut victim, "the victim notebook").await;
    let page = victim.get("/account/tokens").await;
    let revoke_path = first_revoke_path(&page.body);

    let mut attacker = harness.signed_up(&email("attacker")).await;
    attacker
        .get("/account/tokens")
        .await
        .assert_status(200)
        .assert_contains("You have no API tokens");
    let page = attacker.get("/account/tokens").await;
    assert!(!page.body.contains("victim"), "{}", page.body);
    attacker.submit(&revoke_path, &[]).await.assert_status(404);
    attacker
        .submit("/account/tokens/not-a-uuid/revoke", &[])
        .await
        .assert_status(404);
    assert_eq!(authenticate(&harness, &token).await, Some(victim_email));
    assert_eq!(
        harness
            .count("SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL")
            .await,
        0
    );

    // Signed out, the page asks to sign in first.
    let mut stranger = harness.browser();
    stranger
        .get("/account/tokens")
        .await
        .assert_redirect_to("/sign-in?next=%2Faccount%2Ftokens");
}

#[tokio::test]
async fn token_forms_need_the_csrf_token_and_a_sensible_name() {
    let harness = Harness::start().await;
    let mut browser = harness.signed_up(&email("ada")).await;
    let token = create_token(&mut browser, "first").await;
    let page = browser.get("/account/tokens").await;
    let revoke_path = first_revoke_path(&page.body);

    browser
        .post_raw("/account/tokens", &[("name", "forged")])
        .await
        .assert_status(403);
    browser
        .post_raw("/account/tokens", &[("name", "forged"), ("csrf", "0000")])
        .await
        .assert_status(403);
    browser.post_raw(&revoke_path, &[]).await.assert_status(403);
    assert_eq!(harness.count("SELECT count(*) FROM api_tokens").await, 1);
    assert!(authenticate(&harness, &token).await.is_some());

    browser.get("/account/tokens").await;
    for (name, why) in [("   ".to_owned(), "blank"), ("x".repeat(101), "too long")] {
        let page = browser.submit("/account/tokens", &[("name", &name)]).await;
        page.assert_status(422)
            .assert_contains("Please check the name");
        assert!(token_in(&page.body).is_none(), "{why}: no token minted");
    }
    let longest = "é".repeat(100);
    create_token(&mut browser, &longest).await;
    assert_eq!(harness.count("SELECT count(*) FROM api_tokens").await, 2);
}

#[tokio::test]
async fn a_token_expires_in_a_year_unless_its_owner_chooses_and_is_refused_once_expired() {
    let harness = Harness::start().await;
    let address = email("analyst");
    let mut browser = harness.signed_up(&address).await;

    // The default, as the form offers it: a year from today, shown in the list.
    let page = browser.get("/account/tokens").await;
    page.assert_status(200)
        .assert_contains(r#"<option value="365" selected>in a year</option>"#);
    let yearly = create_token(&mut browser, "BI tool").await;
    let in_a_year = chrono::Utc::now() + chrono::Duration::days(365);
    browser
        .get("/account/tokens")
        .await
        .assert_contains(&in_a_year.format("%Y-%m-%d").to_string());
    assert_eq!(authenticate(&harness, &yearly).await, Some(address.clone()));

    // "Never" is the owner's explicit choice, and nothing else is accepted.
    browser
        .submit(
            "/account/tokens",
            &[("name", "forever"), ("expires", "never")],
        )
        .await
        .assert_status(200)
        .assert_contains(SHOWN_ONCE);
    assert_eq!(
        harness
            .count("SELECT count(*) FROM api_tokens WHERE name = 'forever' AND expires_at IS NULL")
            .await,
        1
    );
    browser
        .submit("/account/tokens", &[("name", "odd"), ("expires", "36500")])
        .await
        .assert_status(422)
        .assert_contains("Please check the expiry");
    assert_eq!(
        harness
            .count("SELECT count(*) FROM api_tokens WHERE name = 'odd'")
            .await,
        0
    );

    // A token past its expiry is refused, and the list says it expired.
    let client = harness.pool.get().await.unwrap();
    let user = accounts_store::users::by_email(&client, &address)
        .await
        .unwrap()
        .expect("signed up")
        .id;
    let name = api_tokens::TokenName::parse("short-lived").unwrap();
    let (_, short) = api_tokens::create(
        &client,
        user,
        &name,
        Some(SystemTime::now() + Duration::from_secs(1)),
        "password",
    )
    .await
    .unwrap();
    assert_eq!(authenticate(&harness, &short.text).await, Some(address));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(authenticate(&harness, &short.text).await, None, "expired");
    browser
        .get("/account/tokens")
        .await
        .assert_contains("expired ");
}
