//! "Members see only what their Jira account can see" on the organization page: off until an
//! owner turns it on; only owners change it (checked on the server, CSRF too), each change in
//! the audit log; and while it is on the page counts the members who have not linked a Jira
//! account, who would see only a request to link one.

mod support;

use accounts_store::{
    atlassian_accounts::{self, LinkedVia},
    jira_permissions::jira_permissions_enforced,
};
use support::{Browser, Harness, atlassian::account_id, browser::Page, email, setup_path};
use uuid::Uuid;

/// The checkbox as the page shows it to an owner, ticked or not.
const CHECKBOX_OFF: &str = r#"name="enforced" value="on">"#;
const CHECKBOX_ON: &str = r#"name="enforced" value="on" checked>"#;

impl Harness {
    /// The setting as the dashboards read it.
    async fn jira_permissions_enforced(&self, org: &str) -> bool {
        let client = self.pool.get().await.unwrap();
        jira_permissions_enforced(&client, Uuid::parse_str(org).unwrap())
            .await
            .unwrap()
    }

    /// The details of the organization's `jira_permissions_changed` entries, oldest first.
    async fn jira_permissions_changes(&self, org: &str) -> Vec<String> {
        let client = self.pool.get().await.unwrap();
        client
            .query(
                "SELECT detail FROM audit_log
                 WHERE organization_id = $1 AND action = 'jira_permissions_changed' ORDER BY id",
                &[&Uuid::parse_str(org).unwrap()],
            )
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.get(0))
            .collect()
    }

    /// Links an Atlassian account to the member at `address`, as finishing the consent does.
    async fn link_jira_account(&self, org: &str, address: &str) {
        let client = self.pool.get().await.unwrap();
        let user = accounts_store::users::by_email(&client, address)
            .await
            .unwrap()
            .expect("a user with that address");
        let linked = atlassian_accounts::link(
            &client,
            Uuid::parse_str(org).unwrap(),
            user.id,
            &account_id(),
            LinkedVia::OAuth,
        )
        .await
        .unwrap();
        assert!(linked);
    }
}

/// Acme, made from a setup link by an owner who is not the installing admin (so nobody has a
/// Jira account linked); answers its id, the owner's address and browser.
async fn acme(harness: &Harness) -> (String, String, Browser) {
    let (_, mail) = harness.install_and_read_setup_email().await;
    let owner_email = email("owner");
    let mut owner = harness.signed_up(&owner_email).await;
    let org = owner.create_organization(&setup_path(&mail), "Acme").await;
    (org, owner_email, owner)
}

fn members_page(org: &str) -> String {
    format!("/orgs/{org}/members")
}

/// Opens the members page (for its form's token) and sends the Jira permissions form with the
/// checkbox ticked or not.
async fn set_jira_permissions(browser: &mut Browser, org: &str, on: bool) -> Page {
    browser.get(&members_page(org)).await.assert_status(200);
    let fields: &[(&str, &str)] = if on { &[("enforced", "on")] } else { &[] };
    browser
        .submit(&format!("/orgs/{org}/jira-permissions"), fields)
        .await
}

#[tokio::test]
async fn jira_permissions_are_off_until_an_owner_turns_them_on_and_each_change_is_audited() {
    let harness = Harness::start().await;
    let (org, _, mut owner) = acme(&harness).await;
    assert!(
        !harness.jira_permissions_enforced(&org).await,
        "off at first"
    );
    owner
        .get(&members_page(&org))
        .await
        .assert_status(200)
        .assert_contains("Jira permissions")
        .assert_contains("security levels")
        .assert_contains(CHECKBOX_OFF);

    set_jira_permissions(&mut owner, &org, true)
        .await
        .assert_redirect_to(&format!("{}?done=jira_permissions_on", members_page(&org)));
    assert!(harness.jira_permissions_enforced(&org).await);
    owner
        .get(&format!("{}?done=jira_permissions_on", members_page(&org)))
        .await
        .assert_status(200)
        .assert_contains("Saved: members see only what their Jira account can see.")
        .assert_contains(CHECKBOX_ON);

    // Sending the form again as it is changes nothing, and logs nothing.
    set_jira_permissions(&mut owner, &org, true)
        .await
        .assert_redirect_to(&format!("{}?done=jira_permissions_on", members_page(&org)));
    assert_eq!(harness.jira_permissions_changes(&org).await, ["on"]);

    set_jira_permissions(&mut owner, &org, false)
        .await
        .assert_redirect_to(&format!("{}?done=jira_permissions_off", members_page(&org)));
    assert!(!harness.jira_permissions_enforced(&org).await);
    assert_eq!(harness.jira_permissions_changes(&org).await, ["on", "off"]);
    owner
        .get(&format!("/orgs/{org}/audit"))
        .await
        .assert_status(200)
        .assert_contains("jira_permissions_changed");
}

#[tokio::test]
async fn only_owners_change_jira_permissions_and_the_others_see_them_read_only() {
    let harness = Harness::start().await;
    let (org, _, mut owner) = acme(&harness).await;
    assert_eq!(
        set_jira_permissions(&mut owner, &org, true).await.status,
        303
    );
    for role in ["admin", "analyst", "viewer"] {
        let mut member = harness
            .invite_and_accept(&mut owner, &org, &email(role), role)
            .await;
        let page = member.get(&members_page(&org)).await;
        page.assert_status(200)
            .assert_contains(
                "Members see only what their Jira account can see: <strong>on</strong>",
            )
            .assert_contains("Owners change this.");
        assert!(
            !page.body.contains("/jira-permissions"),
            "a {role} is offered the form:\n{}",
            page.body
        );
        let refused = set_jira_permissions(&mut member, &org, false).await;
        assert_eq!(refused.status, 403, "{role}: {}", refused.body);
        refused.assert_contains("only owners change");
        assert!(
            harness.jira_permissions_enforced(&org).await,
            "a {role} turned it off"
        );
    }
    assert_eq!(harness.jira_permissions_changes(&org).await, ["on"]);
}

#[tokio::test]
async fn a_non_member_gets_404_and_changes_nothing() {
    let harness = Harness::start().await;
    let (theirs, _, _) = acme(&harness).await;
    let (ours, _, mut outsider) = acme(&harness).await;
    outsider.get(&members_page(&ours)).await.assert_status(200);
    outsider
        .submit(
            &format!("/orgs/{theirs}/jira-permissions"),
            &[("enforced", "on")],
        )
        .await
        .assert_status(404);
    assert!(!harness.jira_permissions_enforced(&theirs).await);
    assert!(harness.jira_permissions_changes(&theirs).await.is_empty());
}

#[tokio::test]
async fn a_form_without_the_pages_token_changes_nothing() {
    let harness = Harness::start().await;
    let (org, _, mut owner) = acme(&harness).await;
    owner.get(&members_page(&org)).await.assert_status(200);
    let path = format!("/orgs/{org}/jira-permissions");
    for (case, fields) in [
        ("no token", vec![("enforced", "on")]),
        (
            "another token",
            vec![("enforced", "on"), ("csrf", "not-this-browsers-token")],
        ),
    ] {
        let refused = owner.post_raw(&path, &fields).await;
        assert_eq!(refused.status, 403, "{case}: {}", refused.body);
    }
    assert!(!harness.jira_permissions_enforced(&org).await);
    assert!(harness.jira_permissions_changes(&org).await.is_empty());
}

#[tokio::test]
async fn while_on_the_page_counts_the_members_who_have_not_linked_a_jira_account() {
    let harness = Harness::start().await;
    let (org, owner_email, mut owner) = acme(&harness).await;
    let mut viewer = harness
        .invite_and_accept(&mut owner, &org, &email("viewer"), "viewer")
        .await;
    harness
        .invite_and_accept(&mut owner, &org, &email("admin"), "admin")
        .await;
    // Off, nobody is counted: nobody's views depend on it yet.
    let page = owner.get(&members_page(&org)).await;
    page.assert_status(200);
    assert!(
        !page.body.contains("not linked a Jira account"),
        "{}",
        page.body
    );

    assert_eq!(
        set_jira_permissions(&mut owner, &org, true).await.status,
        303
    );
    owner
        .get(&members_page(&org))
        .await
        .assert_status(200)
        .assert_contains("3 members have not linked a Jira account yet")
        .assert_contains("they see only a request to link it")
        .assert_contains("You have not linked yours");

    harness.link_jira_account(&org, &owner_email).await;
    let page = owner.get(&members_page(&org)).await;
    page.assert_status(200)
        .assert_contains("2 members have not linked a Jira account yet");
    assert!(
        !page.body.contains("You have not linked yours"),
        "{}",
        page.body
    );
    viewer
        .get(&members_page(&org))
        .await
        .assert_status(200)
        .assert_contains("2 members have not linked a Jira account yet")
        .assert_contains("You have not linked yours");
}
