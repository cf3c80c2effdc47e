//! Members link their own Atlassian accounts (issue 20) through the Jira simulator playing
//! Atlassian's authorization server: a member connects and disconnects after confirming; the
//! installing admin who finishes the setup link mailed to them is linked at once; and each
//! hostile or failed answer ends on a page that says so, with nothing linked and no token kept.

mod support;

use support::{
    Browser, Harness,
    atlassian::{Consent, account_id, consent},
    email, setup_path,
};
use uuid::Uuid;

impl Harness {
    /// The Atlassian accounts linked, as (organization, user's email, account id, how).
    async fn links(&self) -> Vec<(String, String, String, String)> {
        let client = self.pool.get().await.unwrap();
        client
            .query(
                "SELECT a.organization_id::text, u.email, a.account_id, a.linked_via
                 FROM atlassian_accounts a JOIN users u ON u.id = a.user_id
                 ORDER BY u.email",
                &[],
            )
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
            .collect()
    }

    async fn audit_entries(&self, action: &str) -> Vec<String> {
        let client = self.pool.get().await.unwrap();
        client
            .query(
                "SELECT detail FROM audit_log WHERE action = $1 ORDER BY id",
                &[&action],
            )
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.get(0))
            .collect()
    }

    /// The cloud id of the organization's workspace.
    async fn cloud_id(&self, org: &str) -> String {
        let client = self.pool.get().await.unwrap();
        client
            .query_one(
                "SELECT cloud_id FROM installations WHERE organization_id = $1",
                &[&Uuid::parse_str(org).unwrap()],
            )
            .await
            .unwrap()
            .get(0)
    }
}

/// Acme, made from a setup link by an owner who is not the installing admin (so nobody is
/// linked at setup), with the owner's browser on the account page.
async fn acme(harness: &Harness) -> (String, Browser, String) {
    let (_, mail) = harness.install_and_read_setup_email().await;
    let owner_email = email("owner");
    let mut owner = harness.signed_up(&owner_email).await;
    let org = owner.create_organization(&setup_path(&mail), "Acme").await;
    owner
        .get("/account")
        .await
        .assert_status(200)
        .assert_contains("Jira accounts")
        .assert_contains("not linked");
    (org, owner, owner_email)
}

/// Presses "Connect" for `org`; answers where it sends the browser (the consent screen).
async fn connect(browser: &mut Browser, org: &str) -> String {
    browser.get("/account").await.assert_status(200);
    let start = browser
        .submit(&format!("/account/atlassian/{org}/connect"), &[])
        .await;
    start.assert_redirect_to("http://127.0.0.1:");
    start.location.clone().unwrap()
}

fn allow<'a>(account: &'a str, cloud_ids: &'a [&'a str]) -> Consent<'a> {
    Consent {
        account_id: account,
        email: "jira.user@example.test",
        cloud_ids,
        allow: true,
    }
}

/// The member presses "Connect" for `org` and accepts as `account`, granting the
/// organization's site; answers the callback path.
async fn accepted(harness: &Harness, browser: &mut Browser, org: &str, account: &str) -> String {
    let cloud_id = harness.cloud_id(org).await;
    let authorize = connect(browser, org).await;
    consent(&authorize, &allow(account, &[&cloud_id]), |_| {}).await
}

#[tokio::test]
async fn a_member_connects_their_atlassian_account_and_disconnects_it_after_confirming() {
    let harness = Harness::start().await;
    let (org, mut owner, owner_email) = acme(&harness).await;
    assert!(harness.links().await.is_empty(), "nobody linked at setup");
    let account = account_id();

    let callback = accepted(&harness, &mut owner, &org, &account).await;
    assert!(callback.starts_with("/auth/atlassian/callback?code="));
    owner
        .get(&callback)
        .await
        .assert_redirect_to("/account?done=atlassian_linked");
    assert_eq!(
        harness.links().await,
        [(org.clone(), owner_email, account.clone(), "oauth".into())]
    );
    owner
        .get("/account?done=atlassian_linked")
        .await
        .assert_contains("Your Atlassian account is connected")
        .assert_contains(&account)
        .assert_contains("Disconnect");
    let linked = harness.audit_entries("atlassian_account_linked").await;
    assert_eq!(linked.len(), 1);
    assert!(linked[0].starts_with(&account), "{linked:?}");

    // Disconnect asks first: opening its page changes nothing.
    let disconnect = format!("/account/atlassian/{org}/disconnect");
    owner
        .get(&disconnect)
        .await
        .assert_status(200)
        .assert_contains("Disconnect your Atlassian account?")
        .assert_contains(&account);
    assert_eq!(harness.links().await.len(), 1);
    owner
        .submit(&disconnect, &[])
        .await
        .assert_redirect_to("/account?done=atlassian_unlinked");
    assert!(harness.links().await.is_empty());
    assert_eq!(
        harness.audit_entries("atlassian_account_unlinked").await,
        [account]
    );
    // With another page's token, nothing is connected.
    owner
        .post_raw(
            &format!("/account/atlassian/{org}/connect"),
            &[("csrf", "forged")],
        )
        .await
        .assert_status(403);

    // No table keeps the tokens or codes the simulator handed out.
    let handed_out = harness.sim.atlassian_tokens_issued();
    assert!(handed_out.len() >= 2, "a code and a token: {handed_out:?}");
    assert_eq!(text_columns_holding(&harness, &handed_out).await, 0);
}

/// How many rows of any text column in the accounts store hold one of `secrets`.
async fn text_columns_holding(harness: &Harness, secrets: &[String]) -> i64 {
    let client = harness.pool.get().await.unwrap();
    let columns = client
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND data_type IN ('text', 'character varying')",
            &[],
        )
        .await
        .unwrap();
    let mut found = 0;
    for column in columns {
        let (table, name): (String, String) = (column.get(0), column.get(1));
        let holding: i64 = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM \"{table}\" WHERE \"{name}\" IS NOT NULL
                       AND EXISTS (SELECT 1 FROM unnest($1::text[]) s
                                   WHERE strpos(\"{name}\", s) > 0)"
                ),
                &[&secrets],
            )
            .await
            .unwrap()
            .get(0);
        found += holding;
    }
    found
}

#[tokio::test]
async fn the_installing_admin_who_finishes_the_link_mailed_to_them_is_linked_at_once() {
    let harness = Harness::start().await;
    let (installation, mail) = harness.install_and_read_setup_email().await;
    let mut admin = harness.signed_up(&installation.installer_email).await;
    let org = admin.create_organization(&setup_path(&mail), "Acme").await;
    assert_eq!(
        harness.links().await,
        [(
            org,
            installation.installer_email.clone(),
            installation.installer_account_id.clone(),
            "setup".into()
        )]
    );
    admin
        .get("/account")
        .await
        .assert_contains(&installation.installer_account_id)
        .assert_contains("when you finished the setup");
    assert_eq!(
        harness.audit_entries("atlassian_account_linked").await,
        [format!(
            "{} (the installing admin, at setup)",
            installation.installer_account_id
        )]
    );
}

#[tokio::test]
async fn denied_consent_ends_on_a_page_and_links_nothing() {
    let harness = Harness::start().await;
    let (org, mut owner, _) = acme(&harness).await;
    let cloud_id = harness.cloud_id(&org).await;
    let account = account_id();
    let authorize = connect(&mut owner, &org).await;
    let sites = [cloud_id.as_str()];
    let denied = Consent {
        allow: false,
        ..allow(&account, &sites)
    };
    let callback = consent(&authorize, &denied, |_| {}).await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    owner
        .get(&callback)
        .await
        .assert_status(403)
        .assert_contains("You did not connect your Atlassian account")
        .assert_contains("Nothing was linked");
    assert!(harness.links().await.is_empty());
}

#[tokio::test]
async fn a_replayed_foreign_or_altered_answer_is_refused() {
    let harness = Harness::start().await;
    let (org, mut owner, _) = acme(&harness).await;
    let callback = accepted(&harness, &mut owner, &org, &account_id()).await;

    // An altered state belongs to no link begun here, and leaves the genuine answer usable.
    let altered = callback.replace("state=", "state=x");
    owner
        .get(&altered)
        .await
        .assert_status(400)
        .assert_contains("did not belong to a link started in this browser");
    // The same answer in another browser (its own visitor cookie, the member's session).
    let mut elsewhere = harness.browser();
    elsewhere.set_cookie("mf_session", owner.cookie("mf_session").unwrap());
    elsewhere.get(&callback).await.assert_status(400);
    assert!(harness.links().await.is_empty());

    owner
        .get(&callback)
        .await
        .assert_redirect_to("/account?done=atlassian_linked");
    owner
        .get(&callback)
        .await
        .assert_status(400)
        .assert_contains("already used once");
    assert_eq!(harness.links().await.len(), 1);
}

#[tokio::test]
async fn a_code_issued_for_another_pkce_challenge_is_refused() {
    let harness = Harness::start().await;
    let (org, mut owner, _) = acme(&harness).await;
    let cloud_id = harness.cloud_id(&org).await;
    let account = account_id();
    let authorize = connect(&mut owner, &org).await;
    // Someone between the browser and Atlassian swaps the challenge for their own.
    let callback = consent(&authorize, &allow(&account, &[&cloud_id]), |fields| {
        for (name, value) in fields.iter_mut() {
            if name == "code_challenge" {
                *value = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into();
            }
        }
    })
    .await;
    owner
        .get(&callback)
        .await
        .assert_status(401)
        .assert_contains("Atlassian did not confirm your account")
        .assert_contains("Nothing was linked");
    assert!(harness.links().await.is_empty());
}

#[tokio::test]
async fn a_consent_that_reaches_none_of_the_organizations_sites_is_refused() {
    let harness = Harness::start().await;
    let (org, mut owner, _) = acme(&harness).await;
    let account = account_id();
    let authorize = connect(&mut owner, &org).await;
    let foreign = Uuid::new_v4().to_string();
    let callback = consent(&authorize, &allow(&account, &[&foreign]), |_| {}).await;
    owner
        .get(&callback)
        .await
        .assert_status(409)
        .assert_contains("cannot see this organization")
        .assert_contains("Nothing was linked");
    assert!(harness.links().await.is_empty());
}

#[tokio::test]
async fn an_atlassian_account_linked_to_another_member_cannot_be_linked_again() {
    let harness = Harness::start().await;
    let (org, mut owner, owner_email) = acme(&harness).await;
    let mut analyst = harness
        .invite_and_accept(&mut owner, &org, &email("analyst"), "analyst")
        .await;
    let account = account_id();
    let callback = accepted(&harness, &mut owner, &org, &account).await;
    owner
        .get(&callback)
        .await
        .assert_redirect_to("/account?done=atlassian_linked");

    let callback = accepted(&harness, &mut analyst, &org, &account).await;
    analyst
        .get(&callback)
        .await
        .assert_status(409)
        .assert_contains("linked to another member");
    assert_eq!(
        harness.links().await,
        [(org, owner_email, account, "oauth".into())]
    );
}

#[tokio::test]
async fn atlassian_unreachable_ends_on_a_page_to_try_again_and_links_nothing() {
    let harness = Harness::start().await;
    let (org, mut owner, _) = acme(&harness).await;
    let callback = accepted(&harness, &mut owner, &org, &account_id()).await;
    harness.sim.fail_atlassian_oauth(true);
    owner
        .get(&callback)
        .await
        .assert_status(503)
        .assert_contains("Atlassian cannot be reached")
        .assert_contains("Nothing was linked");
    assert!(harness.links().await.is_empty());
}

#[tokio::test]
async fn only_members_connect_or_disconnect() {
    let harness = Harness::start().await;
    let (org, _, _) = acme(&harness).await;
    let mut stranger = harness.signed_up(&email("stranger")).await;
    stranger.get("/account").await.assert_status(200);
    stranger
        .submit(&format!("/account/atlassian/{org}/connect"), &[])
        .await
        .assert_status(404);
    stranger
        .get(&format!("/account/atlassian/{org}/disconnect"))
        .await
        .assert_status(404);
    assert!(harness.links().await.is_empty());
}
