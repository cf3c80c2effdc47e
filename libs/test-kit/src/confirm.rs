//! Confirming an account's address as its owner does: the "confirm your email address" email
//! read from the SMTP sink, its link opened and its button pressed, from a browser of its own
//! (the recipient's mail app, not signed in).

use crate::Mailbox;

/// The subject of onboarding's confirmation email (`EMAIL_VERIFICATION_SUBJECT` there; test-kit
/// links no service, so the text is repeated, and onboarding's tests check the two agree).
pub const CONFIRM_ADDRESS_SUBJECT: &str = "Confirm your email address for MetaFrazo";

/// Where the link of a confirmation email points, below the public URL.
pub const CONFIRM_ADDRESS_PATH: &str = "/account/confirm-email/";

/// The path (from `/`) of the link in the newest confirmation email to `email`, once there
/// are more than `already` of them (waits up to 20 s).
pub async fn confirmation_link(mailbox: &Mailbox, email: &str, already: usize) -> String {
    let mail = mailbox
        .wait_for(email, CONFIRM_ADDRESS_SUBJECT, already)
        .await;
    let start = mail
        .text
        .find(CONFIRM_ADDRESS_PATH)
        .unwrap_or_else(|| panic!("no confirmation link in:\n{}", mail.text));
    mail.text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect()
}

/// Confirms `email`: reads its newest confirmation email (the first one after `already`), opens
/// the link on `base` (the service's own address or the front door: the email's links name the
/// public URL, which a test may not reach) and presses "Confirm". Answers where the
/// confirmation sent the browser (`Location`); panics if it did not confirm.
pub async fn confirm_address(mailbox: &Mailbox, base: &str, email: &str, already: usize) -> String {
    let path = confirmation_link(mailbox, email, already).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .expect("an HTTP client");
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let page = http
        .get(&url)
        .send()
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err}"));
    assert_eq!(page.status(), 200, "GET {url}");
    // The page's form is bound to the visitor cookie it sets.
    let cookies: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let body = page.text().await.expect("the confirmation page");
    let marker = "name=\"csrf\" value=\"";
    let start = body
        .find(marker)
        .unwrap_or_else(|| panic!("no form on the confirmation page:\n{body}"))
        + marker.len();
    let csrf = &body[start..start + body[start..].find('"').expect("a quoted token")];
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", csrf)
        .finish();
    let confirmed = http
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Cookie", cookies.join("; "))
        .body(form)
        .send()
        .await
        .unwrap_or_else(|err| panic!("POST {url}: {err}"));
    assert_eq!(
        confirmed.status(),
        303,
        "POST {url}: {:?}",
        confirmed.text().await
    );
    confirmed
        .headers()
        .get("location")
        .and_then(|location| location.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
