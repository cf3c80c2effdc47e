//! Consenting at the Jira simulator's Atlassian authorization server, as a member's browser
//! would: the consent form's fields are posted to its `/authorize`, and the redirect back is
//! turned into the callback path on onboarding.

use super::PUBLIC_BASE_URL;

/// What the member answers on the consent screen.
pub struct Consent<'a> {
    pub account_id: &'a str,
    pub email: &'a str,
    /// The sites granted, by cloud id (the simulator knows its own sites; others are foreign).
    pub cloud_ids: &'a [&'a str],
    pub allow: bool,
}

/// Consents to the authorization request `authorize_url` (where onboarding's Connect
/// redirected), optionally altered first by `alter`, and answers the callback path with its
/// query, relative to onboarding.
pub async fn consent(
    authorize_url: &str,
    consent: &Consent<'_>,
    alter: impl FnOnce(&mut Vec<(String, String)>),
) -> String {
    let url = url::Url::parse(authorize_url).unwrap();
    let mut fields: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    alter(&mut fields);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    http.get(url.as_str())
        .send()
        .await
        .unwrap()
        .error_for_status()
        .expect("the consent screen opens");
    fields.push(("account_id".into(), consent.account_id.into()));
    fields.push(("email".into(), consent.email.into()));
    fields.extend(
        consent
            .cloud_ids
            .iter()
            .map(|id| ("cloud_id".to_owned(), (*id).to_owned())),
    );
    let decision = if consent.allow { "allow" } else { "deny" };
    fields.push(("decision".into(), decision.into()));
    let mut form_url = url.clone();
    form_url.set_query(None);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&fields)
        .finish();
    let answer = http
        .post(form_url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 302, "{}", answer.text().await.unwrap());
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    location
        .strip_prefix(PUBLIC_BASE_URL)
        .unwrap_or_else(|| panic!("sent back to {location}"))
        .to_owned()
}

/// A fresh Atlassian account id, in the shape Atlassian gives them.
pub fn account_id() -> String {
    format!("712020:{}", uuid::Uuid::new_v4())
}
