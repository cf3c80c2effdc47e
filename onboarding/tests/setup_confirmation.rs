//! What the setup link promises, kept: a visitor holding the link is offered the installing
//! admin's own account (sign in as it, or create it).

mod support;

use support::{Harness, email, setup_path};

/// The `href` of the page's link whose text is exactly `text`, as a browser would follow it.
fn href_of(body: &str, text: &str) -> String {
    let end = body
        .find(&format!(">{text}</a>"))
        .unwrap_or_else(|| panic!("no link {text:?} in:\n{body}"));
    let start = body[..end].rfind("href=\"").expect("the link's href") + "href=\"".len();
    let href = &body[start..end];
    href.strip_suffix('"').unwrap_or(href).replace("&amp;", "&")
}

#[tokio::test]
async fn a_visitor_with_the_link_is_offered_the_installers_own_account_first() {
    let harness = Harness::start().await;

    // An installer who already has an account.
    let (known, known_mail) = harness.install_and_read_setup_email().await;
    harness.signed_up(&known.installer_email).await;
    let path = setup_path(&known_mail);
    let mut stranger = harness.browser();
    let page = stranger.get(&path).await;
    page.assert_status(200).assert_contains(&format!(
        "already has an account for <strong>{}",
        known.installer_email
    ));
    let sign_in_as = format!("Sign in as {}", known.installer_email);
    let href = href_of(&page.body, &sign_in_as);
    assert!(
        href.starts_with(&format!("/sign-in?next={path}&email=")),
        "{href}"
    );
    // The first choice, before the generic ones, which stay for anyone else.
    let first = page.body.find(&sign_in_as).unwrap();
    for generic in [
        ">Sign in</a>",
        ">Create an account</a>",
        ">Continue with Google</a>",
    ] {
        let at = page
            .body
            .find(generic)
            .unwrap_or_else(|| panic!("{generic} stays on the page:\n{}", page.body));
        assert!(first < at, "{sign_in_as} comes before {generic}");
    }
    assert!(
        !page.body.contains("Create an account for"),
        "{}",
        page.body
    );
    stranger
        .get(&href)
        .await
        .assert_status(200)
        .assert_contains(&format!("value=\"{}\"", known.installer_email))
        .assert_contains(&format!("value=\"{path}\""));

    // An installer who has none.
    let (new, new_mail) = harness.install_and_read_setup_email().await;
    let path = setup_path(&new_mail);
    let page = stranger.get(&path).await;
    page.assert_status(200);
    let create_for = format!("Create an account for {}", new.installer_email);
    let href = href_of(&page.body, &create_for);
    assert!(
        href.starts_with(&format!("/sign-up?next={path}&email=")),
        "{href}"
    );
    assert!(!page.body.contains("Sign in as"), "{}", page.body);
    href_of(&page.body, "Create an account");
    href_of(&page.body, "Continue with Google");
    stranger
        .get(&href)
        .await
        .assert_status(200)
        .assert_contains(&format!("value=\"{}\"", new.installer_email));

    // Signed in as someone: the page names nobody else.
    let mut other = harness.signed_up(&email("other-admin")).await;
    let page = other.get(&path).await;
    page.assert_status(200);
    assert!(!page.body.contains(&new.installer_email), "{}", page.body);
}
