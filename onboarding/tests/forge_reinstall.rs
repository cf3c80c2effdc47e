//! A Forge reinstall comes back with a new installation id for the same Jira site (cloud id):
//! its setup email and page offer the organization the site was connected to, and reconnecting
//! puts both installations (and so the old history) in that organization.

mod support;

use support::{Harness, email, setup_path};

#[tokio::test]
async fn a_forge_reinstall_is_offered_its_previous_organization() {
    let harness = Harness::start().await;
    let first = harness.sim.new_forge_installation();
    let installer = email("forge-admin");
    let install = harness
        .sim
        .install_forge(&harness.target, &first, &installer)
        .await
        .unwrap();
    let mail = harness
        .mailbox
        .wait_for(&installer, onboarding::mail::messages::SETUP_SUBJECT, 0)
        .await;
    let mut owner = harness.signed_up(&email("owner")).await;
    let organization = owner.create_organization(&setup_path(&mail), "Acme").await;
    harness
        .sim
        .uninstall_forge(&harness.target, &install)
        .await
        .unwrap();

    // Same site, new installation id.
    let mut second = harness.sim.new_forge_installation();
    second.cloud_id = first.cloud_id.clone();
    second.site_url = first.site_url.clone();
    second.api_base_url = first.api_base_url.clone();
    assert_ne!(second.installation_id, first.installation_id);
    harness
        .sim
        .install_forge(&harness.target, &second, &installer)
        .await
        .unwrap();
    let again = harness
        .mailbox
        .wait_for(&installer, onboarding::mail::messages::SETUP_SUBJECT, 1)
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
    let linked = harness
        .count(&format!(
            "SELECT count(*) FROM installations WHERE organization_id = '{organization}'::uuid"
        ))
        .await;
    assert_eq!(
        linked, 2,
        "the old installation (its history) and the new one"
    );
    assert_eq!(harness.count("SELECT count(*) FROM organizations").await, 1);

    // A stranger opening such a link is not offered the old organization.
    let mut third = harness.sim.new_forge_installation();
    third.cloud_id = first.cloud_id.clone();
    let stranger_site_admin = email("another-admin");
    harness
        .sim
        .install_forge(&harness.target, &third, &stranger_site_admin)
        .await
        .unwrap();
    let mail = harness
        .mailbox
        .wait_for(
            &stranger_site_admin,
            onboarding::mail::messages::SETUP_SUBJECT,
            0,
        )
        .await;
    let mut stranger = harness.signed_up(&email("stranger")).await;
    stranger
        .get(&setup_path(&mail))
        .await
        .assert_status(200)
        .assert_contains("Sign in as one of its owners or admins to reconnect");
}
