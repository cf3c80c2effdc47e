//! Atlassian's OAuth 2.0 (3LO) authorization server with PKCE, as onboarding meets it when a
//! member links their Atlassian account: the consent page, the answer sent back to the app, the
//! code exchanged for a token, and what the token opens.

mod common;

use std::collections::BTreeMap;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::Stack;
use jira_simulator::{Simulator, WorkspaceSpec};
use rand::RngCore;
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

const CLIENT_ID: &str = "metafrazo-local";
const CLIENT_SECRET: &str = "metafrazo-local-secret";
/// Nothing listens there: the tests read the redirect instead of following it.
const REDIRECT_URI: &str = "http://127.0.0.1:5123/auth/atlassian/callback";
const SCOPE: &str = "read:jira-work read:me";

/// One login as the app starts it: its PKCE verifier and its state.
struct Login {
    verifier: String,
    state: String,
}

impl Login {
    fn new() -> Self {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self {
            verifier: URL_SAFE_NO_PAD.encode(bytes),
            // Characters that must survive URL encoding on the way back.
            state: format!("st&te={}/+ ?", &URL_SAFE_NO_PAD.encode(&bytes[..6])),
        }
    }

    fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()))
    }

    /// The authorization request onboarding sends the browser with.
    fn request(&self) -> Vec<(&'static str, String)> {
        vec![
            ("audience", "api.atlassian.com".into()),
            ("client_id", CLIENT_ID.into()),
            ("scope", SCOPE.into()),
            ("redirect_uri", REDIRECT_URI.into()),
            ("state", self.state.clone()),
            ("response_type", "code".into()),
            ("prompt", "consent".into()),
            ("code_challenge", self.challenge()),
            ("code_challenge_method", "S256".into()),
        ]
    }

    /// The request with `name` set to `value`.
    fn request_with(&self, name: &str, value: &str) -> Vec<(&'static str, String)> {
        let mut request = self.request();
        for field in &mut request {
            if field.0 == name {
                field.1 = value.to_owned();
            }
        }
        request
    }

    /// The token request for `code`, as Atlassian documents it (a JSON body).
    fn token_request(&self, code: &str) -> Value {
        json!({
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": self.verifier,
        })
    }
}

/// An input of the consent form, as a browser reads it.
#[derive(Debug, Clone)]
struct Input {
    kind: String,
    name: String,
    value: String,
    checked: bool,
}

/// The consent page's form, filled in and submitted as a browser would.
#[derive(Debug)]
struct ConsentForm {
    inputs: Vec<Input>,
}

impl ConsentForm {
    fn parse(html: &str) -> Self {
        let inputs = html
            .split("<input ")
            .skip(1)
            .map(|rest| {
                let tag = &rest[..rest.find('>').expect("a closed tag")];
                let attribute = |name: &str| {
                    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
                    let end = start + tag[start..].find('"')?;
                    Some(unescape(&tag[start..end]))
                };
                Input {
                    kind: attribute("type").unwrap_or_else(|| "text".into()),
                    name: attribute("name").expect("a named input"),
                    value: attribute("value").unwrap_or_default(),
                    checked: tag.split_whitespace().any(|word| word == "checked"),
                }
            })
            .collect();
        Self { inputs }
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.inputs
            .iter()
            .find(|input| input.name == name)
            .map(|input| input.value.as_str())
    }

    fn input(&mut self, name: &str) -> &mut Input {
        self.inputs
            .iter_mut()
            .find(|input| input.name == name)
            .unwrap_or_else(|| panic!("an input named {name}"))
    }

    fn fill(&mut self, name: &str, value: &str) {
        self.input(name).value = value.to_owned();
    }

    /// The cloud ids offered, and whether each is checked.
    fn sites(&self) -> BTreeMap<String, bool> {
        self.inputs
            .iter()
            .filter(|input| input.kind == "checkbox" && input.name == "cloud_id")
            .map(|input| (input.value.clone(), input.checked))
            .collect()
    }

    fn uncheck(&mut self, cloud_id: &str) {
        let site = self
            .inputs
            .iter_mut()
            .find(|input| input.name == "cloud_id" && input.value == cloud_id)
            .expect("the site is offered");
        site.checked = false;
    }

    /// The body the browser posts when `decision` ("allow" or "deny") is pressed.
    fn submit(&self, decision: &str) -> Vec<(String, String)> {
        self.inputs
            .iter()
            .filter(|input| input.kind != "checkbox" || input.checked)
            .map(|input| (input.name.clone(), input.value.clone()))
            .chain([("decision".to_owned(), decision.to_owned())])
            .collect()
    }
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn form_body<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
        .finish()
}

/// The app's side of the flow against one simulator: the browser's requests, the token
/// endpoint and the platform API.
struct App {
    http: reqwest::Client,
    base: Url,
}

impl App {
    fn new(simulator: &Simulator) -> Self {
        Self {
            // The redirect is the answer under test, not something to follow.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("an HTTP client"),
            base: simulator.url().expect("serving"),
        }
    }

    async fn consent_page<V: AsRef<str>>(&self, request: &[(&str, V)]) -> reqwest::Response {
        let mut url = self.base.join("/authorize").expect("url");
        url.query_pairs_mut()
            .extend_pairs(request.iter().map(|(k, v)| (*k, v.as_ref())));
        self.http.get(url).send().await.expect("answers")
    }

    async fn consent_form(&self, login: &Login) -> (ConsentForm, String) {
        let page = self.consent_page(&login.request()).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.expect("a page");
        (ConsentForm::parse(&html), html)
    }

    async fn answer<K: AsRef<str>, V: AsRef<str>>(&self, form: &[(K, V)]) -> reqwest::Response {
        self.http
            .post(self.base.join("/authorize").expect("url"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form_body(form))
            .send()
            .await
            .expect("answers")
    }

    /// Consents with the page's defaults; the code the browser brings back.
    async fn code(&self, login: &Login) -> String {
        let (form, _) = self.consent_form(login).await;
        let answer = redirected_to_app(&self.answer(&form.submit("allow")).await);
        assert_eq!(answer.get("state"), Some(&login.state));
        answer.get("code").expect("a code").clone()
    }

    async fn token(&self, request: &Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.base.join("/oauth/token").expect("url"))
            .json(request)
            .send()
            .await
            .expect("answers");
        (response.status(), response.json().await.expect("JSON"))
    }

    async fn token_with_form(&self, pairs: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.base.join("/oauth/token").expect("url"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form_body(pairs))
            .send()
            .await
            .expect("answers");
        (response.status(), response.json().await.expect("JSON"))
    }

    /// A platform API call with `authorization` as the Authorization header, if any.
    async fn platform(&self, path: &str, authorization: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.http.get(self.base.join(path).expect("url"));
        if let Some(authorization) = authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        let response = request.send().await.expect("answers");
        (response.status(), response.json().await.expect("JSON"))
    }
}

/// The query the browser brings back to the registered callback, from a 302.
fn redirected_to_app(response: &reqwest::Response) -> BTreeMap<String, String> {
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .expect("ascii");
    let url = Url::parse(location).expect("an absolute URL");
    assert_eq!(&url[..url::Position::AfterPath], REDIRECT_URI);
    url.query_pairs().into_owned().collect()
}

fn error_of(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_linked_account_reads_back_the_account_and_the_sites_it_granted() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let connect = simulator
        .install_connect(&stack.target(), &WorkspaceSpec::random())
        .await
        .expect("installs with Connect");
    let forge = simulator
        .install_forge(
            &stack.target(),
            &simulator.new_forge_installation(),
            "ada@example.test",
        )
        .await
        .expect("installs with Forge");
    let app = App::new(&simulator);
    let login = Login::new();

    let (mut form, html) = app.consent_form(&login).await;
    for (name, value) in login.request() {
        assert_eq!(
            form.value(name),
            Some(value.as_str()),
            "{name} carried over"
        );
    }
    assert_eq!(
        form.sites(),
        BTreeMap::from([
            (connect.cloud_id.clone(), true),
            (forge.installation.cloud_id.clone(), true)
        ]),
        "every hosted site offered, checked"
    );
    assert!(html.contains(&connect.site_base_url), "{html}");
    assert!(html.contains(&forge.installation.site_url), "{html}");
    assert_eq!(form.value("other_cloud_id"), Some(""));
    let account_id = form.value("account_id").expect("an account id").to_owned();
    assert!(account_id.starts_with("712020:"), "{account_id}");
    assert!(
        form.value("email").is_some_and(
            |email| email.starts_with("jira-user-") && email.ends_with("@example.test")
        ),
        "{form:?}"
    );
    form.uncheck(&forge.installation.cloud_id);
    form.fill("other_cloud_id", "0b6f4c4e-elsewhere");
    form.fill("email", "ada.lovelace@example.test");

    let answer = redirected_to_app(&app.answer(&form.submit("allow")).await);
    assert_eq!(answer.get("state"), Some(&login.state));
    let code = answer.get("code").expect("a code");
    assert!(code.len() >= 22, "at least 128 random bits: {code}");

    let (status, token) = app.token(&login.token_request(code)).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 3600);
    assert_eq!(token["scope"], SCOPE);
    let access_token = token["access_token"].as_str().expect("a token");
    let bearer = format!("Bearer {access_token}");

    let (status, resources) = app
        .platform("/oauth/token/accessible-resources", Some(&bearer))
        .await;
    assert_eq!(status, StatusCode::OK, "{resources}");
    let connect_name = connect
        .site_base_url
        .trim_start_matches("https://")
        .trim_end_matches(".atlassian.net");
    assert_eq!(
        resources,
        json!([
            {
                "id": connect.cloud_id,
                "url": connect.site_base_url,
                "name": connect_name,
                "scopes": ["read:jira-work", "read:me"],
                "avatarUrl": "",
            },
            {
                "id": "0b6f4c4e-elsewhere",
                "url": "https://other-site.atlassian.net",
                "name": "other-site",
                "scopes": ["read:jira-work", "read:me"],
                "avatarUrl": "",
            },
        ]),
        "the checked site and the typed one, not the unchecked one"
    );

    let (status, me) = app.platform("/me", Some(&bearer)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        me,
        json!({
            "account_id": account_id,
            "email": "ada.lovelace@example.test",
            "name": "Jira user",
            "account_status": "active",
            "account_type": "atlassian",
        })
    );
    assert_eq!(
        simulator.atlassian_tokens_issued(),
        vec![code.clone(), access_token.to_owned()]
    );
}

#[tokio::test]
async fn the_token_endpoint_takes_a_form_body_and_a_code_only_once() {
    let simulator = common::simulator().await;
    let app = App::new(&simulator);
    let login = Login::new();
    let code = app.code(&login).await;

    let (status, token) = app
        .token_with_form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &login.verifier),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert!(token["access_token"].is_string(), "{token}");

    let (status, again) = app.token(&login.token_request(&code)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{again}");
    assert_eq!(error_of(&again), "invalid_grant", "{again}");
    assert!(again["error_description"].is_string(), "{again}");
}

#[tokio::test]
async fn a_wrong_verifier_is_refused_and_uses_up_the_code() {
    let simulator = common::simulator().await;
    let app = App::new(&simulator);
    let login = Login::new();
    let code = app.code(&login).await;

    let mut wrong = login.token_request(&code);
    wrong["code_verifier"] = json!(Login::new().verifier);
    let (status, refused) = app.token(&wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(error_of(&refused), "invalid_grant", "{refused}");

    let (status, late) = app.token(&login.token_request(&code)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{late}");
    assert_eq!(
        error_of(&late),
        "invalid_grant",
        "the right verifier comes too late: {late}"
    );
}

#[tokio::test]
async fn the_token_endpoint_refuses_another_redirect_uri_and_a_wrong_secret() {
    let simulator = common::simulator().await;
    let app = App::new(&simulator);
    let login = Login::new();

    let code = app.code(&login).await;
    let mut elsewhere = login.token_request(&code);
    elsewhere["redirect_uri"] = json!("http://localhost:5123/auth/atlassian/callback");
    let (status, refused) = app.token(&elsewhere).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(error_of(&refused), "invalid_grant", "{refused}");

    let code = app.code(&login).await;
    for (field, value) in [
        ("client_secret", "metafrazo-other-secret"),
        ("client_id", "metafrazo-other"),
    ] {
        let mut request = login.token_request(&code);
        request[field] = json!(value);
        let (status, refused) = app.token(&request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{field}: {refused}");
        assert_eq!(error_of(&refused), "access_denied", "{field}: {refused}");
    }
    // Without the secret nobody could use the code up: the app still can.
    let (status, token) = app.token(&login.token_request(&code)).await;
    assert_eq!(status, StatusCode::OK, "{token}");
}

#[tokio::test]
async fn a_bad_client_or_redirect_uri_gets_a_page_and_never_a_redirect() {
    let simulator = common::simulator().await;
    let app = App::new(&simulator);
    let login = Login::new();
    let refused = [
        ("client_id", "metafrazo-other", "another client"),
        ("client_id", "", "no client"),
        (
            "redirect_uri",
            "https://evil.example/auth/atlassian/callback",
            "another host",
        ),
        (
            "redirect_uri",
            "http://127.0.0.1:5123/auth/oidc/google/callback",
            "another path",
        ),
        (
            "redirect_uri",
            "https://metafrazo.test:8443/auth/atlassian/callback",
            "another port",
        ),
        (
            "redirect_uri",
            "http://127.0.0.1:5123/auth/atlassian/callback?x=1",
            "a query",
        ),
        ("response_type", "token", "the implicit flow"),
        ("code_challenge_method", "plain", "a plain challenge"),
        ("code_challenge", "", "no challenge"),
    ];
    for (name, value, case) in refused {
        let request = login.request_with(name, value);
        let page = app.consent_page(&request).await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "GET, {case}");
        assert!(
            page.headers().get(header::LOCATION).is_none(),
            "GET, {case}"
        );
        let content_type = page.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("ascii");
        assert!(
            content_type.starts_with("text/html"),
            "GET, {case}: {content_type}"
        );

        // A form altered on its way back is checked again.
        let mut form = request.clone();
        form.extend([
            ("account_id", "712020:someone".to_owned()),
            ("email", "someone@example.test".to_owned()),
            ("decision", "allow".to_owned()),
        ]);
        let answer = app.answer(&form).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "POST, {case}");
        assert!(
            answer.headers().get(header::LOCATION).is_none(),
            "POST, {case}"
        );
    }
    assert_eq!(simulator.atlassian_tokens_issued(), Vec::<String>::new());

    for redirect_uri in [
        "http://localhost:8081/auth/atlassian/callback",
        "http://127.0.0.1:40123/auth/atlassian/callback",
        "https://metafrazo.test/auth/atlassian/callback",
    ] {
        let page = app
            .consent_page(&login.request_with("redirect_uri", redirect_uri))
            .await;
        assert_eq!(
            page.status(),
            StatusCode::OK,
            "{redirect_uri} is registered"
        );
    }
}

#[tokio::test]
async fn cancel_sends_the_browser_back_with_access_denied_and_the_state() {
    let simulator = common::simulator().await;
    let app = App::new(&simulator);
    let login = Login::new();
    let (form, _) = app.consent_form(&login).await;

    let answer = redirected_to_app(&app.answer(&form.submit("deny")).await);
    assert_eq!(
        answer.get("error").map(String::as_str),
        Some("access_denied")
    );
    assert!(
        answer
            .get("error_description")
            .is_some_and(|text| !text.is_empty()),
        "{answer:?}"
    );
    assert_eq!(answer.get("state"), Some(&login.state));
    assert!(!answer.contains_key("code"), "{answer:?}");
    assert_eq!(simulator.atlassian_tokens_issued(), Vec::<String>::new());
}

#[tokio::test]
async fn the_platform_api_refuses_a_token_it_did_not_hand_out() {
    let simulator = common::simulator().await;
    let app = App::new(&simulator);
    let unauthorized = json!({ "code": 401, "message": "Unauthorized" });
    for path in ["/oauth/token/accessible-resources", "/me"] {
        for authorization in [
            None,
            Some("Bearer not-a-token-it-handed-out"),
            Some("Basic bWV0YWZyYXpvLWxvY2FsOm1ldGFmcmF6by1sb2NhbC1zZWNyZXQ="),
        ] {
            let (status, body) = app.platform(path, authorization).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{path} with {authorization:?}"
            );
            assert_eq!(body, unauthorized, "{path} with {authorization:?}");
        }
    }
}

#[tokio::test]
async fn while_atlassian_oauth_fails_the_token_endpoint_and_platform_api_answer_503() {
    let simulator = common::simulator().await;
    let app = App::new(&simulator);
    let login = Login::new();
    let first = app.code(&login).await;
    let (_, token) = app.token(&login.token_request(&first)).await;
    let bearer = format!(
        "Bearer {}",
        token["access_token"].as_str().expect("a token")
    );
    let pending = app.code(&login).await;

    simulator.fail_atlassian_oauth(true);
    let (status, _) = app.token(&login.token_request(&pending)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "token endpoint");
    for path in ["/oauth/token/accessible-resources", "/me"] {
        let (status, body) = app.platform(path, Some(&bearer)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
    }

    simulator.fail_atlassian_oauth(false);
    let (status, body) = app.platform("/me", Some(&bearer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, token) = app.token(&login.token_request(&pending)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a code sent while Atlassian was down is still good: {token}"
    );
}
