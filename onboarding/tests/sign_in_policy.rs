//! An organization's sign-in policy: owners require single sign-on and restrict email domains;
//! members who signed in another way, or whose address is elsewhere, are refused with a page
//! saying what to do, and invitations outside the domains are not sent.

mod support;

use support::{
    Browser, Harness, email,
    oidc::{google, signed_in, subject},
    setup_path,
};

/// An organization whose owner signed up with Google; answers its id and the owner's browser.
async fn organization_of_google_owner(harness: &Harness, owner: &str) -> (String, Browser) {
    let (_, mail) = harness.install_and_read_setup_email().await;
    let mut browser = signed_in(harness, "google", &google(&subject("owner"), owner)).await;
    let id = browser
        .create_organization(&setup_path(&mail), "Acme")
        .await;
    (id, browser)
}

/// Invites `invitee` and has them accept with a password account; answers their browser.
async fn password_member(
    harness: &Harness,
    owner: &mut Browser,
    org: &str,
    invitee: &str,
) -> Browser {
    harness
        .invite_and_accept(owner, org, invitee, "analyst")
        .await
}

async fn set_policy(owner: &mut Browser, org: &str, require_sso: bool, domains: &str) -> u16 {
    owner
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_status(200);
    let mut fields = vec![("allowed_domains", domains)];
    if require_sso {
        fields.push(("require_sso", "on"));
    }
    owner
        .submit(&format!("/orgs/{org}/sign-in-policy"), &fields)
        .await
        .status
}

#[tokio::test]
async fn requiring_sso_asks_password_members_to_sign_in_with_a_provider() {
    let harness = Harness::start().await;
    let (org, mut owner) = organization_of_google_owner(&harness, &email("owner")).await;
    let member_address = email("member");
    let mut member = password_member(&harness, &mut owner, &org, &member_address).await;
    member
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_status(200);

    assert_eq!(set_policy(&mut owner, &org, true, "").await, 303);
    owner
        .get(&format!("/orgs/{org}/members?done=policy"))
        .await
        .assert_status(200)
        .assert_contains("Sign-in policy saved")
        .assert_contains("name=\"require_sso\" value=\"on\" checked");
    member
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_status(403)
        .assert_contains("Acme requires signing in with Google or Microsoft");

    // The member signs in with Google (their verified address links the account): admitted.
    let mut again = signed_in(
        &harness,
        "google",
        &google(&subject("member"), &member_address),
    )
    .await;
    again
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_status(200);
    assert_eq!(
        harness
            .count("SELECT count(*) FROM audit_log WHERE action = 'sign_in_policy_changed' AND detail = 'single sign-on required; any domain'")
            .await,
        1
    );
}

#[tokio::test]
async fn an_owner_signed_in_with_a_password_cannot_lock_themselves_out() {
    let harness = Harness::start().await;
    let (_, mail) = harness.install_and_read_setup_email().await;
    let mut owner = harness.signed_up(&email("pw-owner")).await;
    let org = owner.create_organization(&setup_path(&mail), "Acme").await;
    assert_eq!(set_policy(&mut owner, &org, true, "").await, 422);
    assert_eq!(
        set_policy(&mut owner, &org, false, "elsewhere.test").await,
        422
    );
    owner
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_status(200);
}

#[tokio::test]
async fn only_allowed_domains_are_invited_and_admitted() {
    let harness = Harness::start().await;
    let (org, mut owner) = organization_of_google_owner(&harness, &email("owner")).await;
    let outsider = email("outsider").replace("@example.test", "@outside.test");
    let mut member = password_member(&harness, &mut owner, &org, &outsider).await;

    assert_eq!(
        set_policy(&mut owner, &org, false, "Example.test").await,
        303
    );
    member
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_status(403)
        .assert_contains("admits only addresses at example.test");
    owner.get(&format!("/orgs/{org}/members")).await;
    owner
        .submit(
            &format!("/orgs/{org}/invites"),
            &[("email", "other@outside.test"), ("role", "viewer")],
        )
        .await
        .assert_status(422);
    assert_eq!(
        harness
            .count("SELECT count(*) FROM invites WHERE email = 'other@outside.test'")
            .await,
        0
    );
}

#[tokio::test]
async fn only_owners_change_the_policy() {
    let harness = Harness::start().await;
    let (org, mut owner) = organization_of_google_owner(&harness, &email("owner")).await;
    let mut member = password_member(&harness, &mut owner, &org, &email("analyst")).await;
    assert_eq!(
        set_policy(&mut member, &org, false, "example.test").await,
        403
    );
}

/// Connecting a workspace uses the organization: an admin signed in with a password cannot
/// connect one to an organization that requires single sign-on, and nothing is connected.
#[tokio::test]
async fn a_setup_link_connects_a_workspace_only_within_the_policy() {
    let harness = Harness::start().await;
    let (org, mut owner) = organization_of_google_owner(&harness, &email("owner")).await;
    let mut admin = harness
        .invite_and_accept(&mut owner, &org, &email("admin"), "admin")
        .await;
    assert_eq!(set_policy(&mut owner, &org, true, "").await, 303);

    let (_, mail) = harness.install_and_read_setup_email().await;
    let path = setup_path(&mail);
    admin.get(&path).await.assert_status(200);
    admin
        .submit(&path, &[("action", "connect"), ("organization_id", &org)])
        .await
        .assert_status(403)
        .assert_contains("Acme requires signing in with Google or Microsoft");
    assert_eq!(
        harness
            .count("SELECT count(*) FROM installations WHERE organization_id IS NOT NULL")
            .await,
        1
    );
}
