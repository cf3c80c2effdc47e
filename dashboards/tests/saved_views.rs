//! Saved views against the real Postgres and ClickHouse: a member saves the page they are on
//! through its own form (the CSRF token read from the page), for themselves or the
//! organization; who sees, opens and deletes which view, by role and membership; what bad input
//! gets; and forms without this browser's token, or from another site, change nothing.

mod support;

use accounts_store::roles::Role;
use serde_json::Value;
use support::{Answer, Setup, workspace};
use uuid::Uuid;

/// The address the dashboards are told browsers reach them at, and so the `Origin` of their
/// own pages' forms.
const DASHBOARDS_URL: &str = "http://dashboards.test";

async fn start() -> Setup {
    Setup::start_with(|config| config.dashboards_url = DASHBOARDS_URL.parse().unwrap()).await
}

/// A member's browser: their session, and the visitor cookie onboarding gave it at sign-in.
struct Browser<'a> {
    setup: &'a Setup,
    http: reqwest::Client,
    cookie: String,
}

impl<'a> Browser<'a> {
    fn of(setup: &'a Setup, session_cookie: &str) -> Self {
        Self {
            setup,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: format!(
                "{session_cookie}; mf_visitor={}",
                accounts_store::tokens::mint().text
            ),
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.setup.get(path, &self.cookie).await
    }

    /// The CSRF token of the forms on `page`, as the browser reads it there.
    async fn token_on(&self, page: &str) -> String {
        let page = self.get(page).await;
        assert_eq!(page.status, 200, "{}", page.body);
        hidden_field(&page.body, "csrf")
    }

    /// Posts `fields` as a form from a page of `origin` (none: a client that sends none).
    async fn post_from(&self, origin: Option<&str>, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request = self
            .http
            .post(format!("{}{path}", self.setup.app.address))
            .header("Cookie", &self.cookie)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        let response = request.send().await.unwrap();
        Answer {
            status: response.status().as_u16(),
            location: response
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned()),
            content_type: String::new(),
            content_security_policy: None,
            cache_control: None,
            strict_transport_security: None,
            body: response.text().await.unwrap(),
        }
    }

    /// Posts `fields` as the dashboards' own page would.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.post_from(Some(DASHBOARDS_URL), path, fields).await
    }

    /// Saves `page` with `query` as `name` through the page's own form.
    async fn save(&self, org: Uuid, page: &str, query: &str, name: &str, shared: bool) -> Answer {
        let at = format!("/orgs/{org}/{page}?{query}");
        let html = self.get(&at).await;
        assert_eq!(html.status, 200, "{at}: {}", html.body);
        let mut fields = vec![
            ("csrf", hidden_field(&html.body, "csrf")),
            ("page", hidden_field(&html.body, "page")),
            ("query", hidden_field(&html.body, "query")),
            ("name", name.to_owned()),
        ];
        if shared {
            fields.push(("shared", "on".to_owned()));
        }
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.post(&format!("/orgs/{org}/views"), &fields).await
    }

    /// The saved views this member's API lists, by name.
    async fn listed(&self, org: Uuid) -> Vec<Value> {
        let answer = self.get(&format!("/api/v1/orgs/{org}/views")).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.json()["views"].as_array().unwrap().clone()
    }

    async fn id_of(&self, org: Uuid, name: &str) -> String {
        self.listed(org)
            .await
            .iter()
            .find(|view| view["name"] == name)
            .unwrap_or_else(|| panic!("{name} is listed"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// The value of the first `<input type="hidden" name="{name}">` of a page, unescaped.
fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!(r#"<input type="hidden" name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    let value = &html[start..start + html[start..].find('"').unwrap()];
    value
        .replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
}

#[tokio::test]
async fn members_save_views_for_themselves_or_the_organization_and_see_what_is_theirs_to_see() {
    let setup = start().await;
    let (owner, owner_cookie) = setup.user("owner").await;
    let org = setup.organization(owner, workspace()).await;
    let (analyst, analyst_cookie) = setup.user("analyst").await;
    setup.member(org, analyst, Role::Analyst).await;
    let (viewer, viewer_cookie) = setup.user("viewer").await;
    setup.member(org, viewer, Role::Viewer).await;
    let (outsider, outsider_cookie) = setup.user("outsider").await;
    let elsewhere = setup.organization(outsider, workspace()).await;
    let (owner, analyst, viewer, outsider) = (
        Browser::of(&setup, &owner_cookie),
        Browser::of(&setup, &analyst_cookie),
        Browser::of(&setup, &viewer_cookie),
        Browser::of(&setup, &outsider_cookie),
    );

    // Every page that reads a range and filters offers the form; sharing only to analysts up.
    for page in ["weekly", "trends", "flow", "events"] {
        let html = viewer.get(&format!("/orgs/{org}/{page}?weeks=4")).await;
        assert_eq!(hidden_field(&html.body, "page"), page);
        assert_eq!(hidden_field(&html.body, "query"), "weeks=4");
        assert!(html.body.contains("Save this view"), "{page}");
        assert!(!html.body.contains(r#"name="shared""#), "{page}: a viewer");
        let html = analyst.get(&format!("/orgs/{org}/{page}")).await;
        assert!(html.body.contains(r#"name="shared""#), "{page}: an analyst");
    }

    // A personal view: the page and its query (the feed's paging cursor left out), for its
    // author alone.
    let saved = analyst
        .save(
            org,
            "flow",
            "weeks=8&project=PAY&tz=UTC&issue_type=&after=abc",
            "Payments, 8 weeks",
            false,
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        saved.location.as_deref(),
        Some(format!("/orgs/{org}/views?done=saved").as_str())
    );
    let listed = analyst.listed(org).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let view = &listed[0];
    assert_eq!(view["name"], "Payments, 8 weeks");
    assert_eq!(view["page"], "flow");
    assert_eq!(view["query"], "weeks=8&project=PAY&tz=UTC");
    assert_eq!(view["shared"], false);
    assert_eq!(view["mine"], true);
    let opens = format!("/orgs/{org}/flow?weeks=8&project=PAY&tz=UTC");
    assert_eq!(view["opens"], opens.as_str());
    let personal = view["id"].as_str().unwrap().to_owned();
    let link = format!("/orgs/{org}/views/{personal}");
    let opened = analyst.get(&link).await;
    assert_eq!(
        (opened.status, opened.location.as_deref()),
        (303, Some(opens.as_str())),
        "the link leads to the page with the saved query"
    );
    let list = analyst.get(&format!("/orgs/{org}/views?done=saved")).await;
    assert!(list.body.contains("View saved."), "{}", list.body);
    assert!(
        list.body
            .contains(&format!(r#"<a href="{link}">Payments, 8 weeks</a>"#))
    );
    assert!(
        list.body
            .contains(&format!(r#"value="{DASHBOARDS_URL}{link}""#)),
        "the link to share names the public address"
    );
    for (who, browser) in [("the owner", &owner), ("a viewer", &viewer)] {
        assert!(browser.listed(org).await.is_empty(), "{who}");
        assert_eq!(browser.get(&link).await.status, 404, "{who}");
        assert!(
            !browser
                .get(&format!("/orgs/{org}/views"))
                .await
                .body
                .contains("Payments")
        );
    }

    // A shared view: every member sees and opens it; a viewer may not share, but saves for
    // themselves, and may use the same name as a shared view.
    let saved = analyst
        .save(org, "events", "weeks=2&issue_key=PAY-7", "Team flow", true)
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let shared = viewer.id_of(org, "Team flow").await;
    let opened = viewer.get(&format!("/orgs/{org}/views/{shared}")).await;
    assert_eq!(
        opened.location.as_deref(),
        Some(format!("/orgs/{org}/events?weeks=2&issue_key=PAY-7").as_str())
    );
    let refused = viewer.save(org, "weekly", "", "Mine to share", true).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("analyst role"), "{}", refused.body);
    assert_eq!(
        viewer
            .save(org, "weekly", "", "Team flow", false)
            .await
            .status,
        303
    );
    let names = |views: Vec<Value>| -> Vec<(String, bool, bool)> {
        views
            .iter()
            .map(|v| {
                (
                    v["name"].as_str().unwrap().to_owned(),
                    v["shared"].as_bool().unwrap(),
                    v["mine"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        names(viewer.listed(org).await),
        [
            ("Team flow".to_owned(), false, true),
            ("Team flow".to_owned(), true, false)
        ],
        "their own first, then the organization's"
    );
    assert_eq!(owner.listed(org).await.len(), 1, "the shared one");

    // An outsider sees none of it, whichever way they ask.
    for path in [
        format!("/orgs/{org}/views"),
        format!("/orgs/{org}/views/{shared}"),
        format!("/orgs/{org}/views/{personal}"),
        format!("/api/v1/orgs/{org}/views"),
    ] {
        assert_eq!(outsider.get(&path).await.status, 404, "{path}");
    }
    let token = outsider.token_on(&format!("/orgs/{elsewhere}/flow")).await;
    let answer = outsider
        .post(
            &format!("/orgs/{org}/views"),
            &[
                ("csrf", &token),
                ("name", "Theirs"),
                ("page", "flow"),
                ("query", ""),
            ],
        )
        .await;
    assert_eq!(answer.status, 404, "saving into another organization");
    // Nor does another organization's path open a view of this one.
    assert_eq!(
        outsider
            .get(&format!("/orgs/{elsewhere}/views/{shared}"))
            .await
            .status,
        404
    );

    // Deleting: a viewer not another's shared view; admins and owners do; nobody another's
    // personal view, which they cannot see.
    let token = viewer.token_on(&format!("/orgs/{org}/weekly")).await;
    let answer = viewer
        .post(
            &format!("/orgs/{org}/views/{shared}/delete"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    let token = owner.token_on(&format!("/orgs/{org}/weekly")).await;
    let answer = owner
        .post(
            &format!("/orgs/{org}/views/{personal}/delete"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(answer.status, 404, "another's personal view");
    let list = owner.get(&format!("/orgs/{org}/views")).await;
    assert!(
        list.body
            .contains(&format!(r#"action="/orgs/{org}/views/{shared}/delete""#)),
        "the owner is offered to delete a shared view"
    );
    let answer = owner
        .post(
            &format!("/orgs/{org}/views/{shared}/delete"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(
        (answer.status, answer.location.as_deref()),
        (
            303,
            Some(format!("/orgs/{org}/views?done=deleted").as_str())
        )
    );
    assert_eq!(
        viewer
            .get(&format!("/orgs/{org}/views/{shared}"))
            .await
            .status,
        404
    );
    let token = analyst.token_on(&format!("/orgs/{org}/weekly")).await;
    let answer = analyst
        .post(
            &format!("/orgs/{org}/views/{personal}/delete"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(answer.status, 303, "its author deletes it");
    assert!(analyst.listed(org).await.is_empty());
}

#[tokio::test]
async fn bad_input_is_refused_saying_what_to_change() {
    let setup = start().await;
    let (owner, cookie) = setup.user("owner").await;
    let org = setup.organization(owner, workspace()).await;
    let browser = Browser::of(&setup, &cookie);
    let token = browser.token_on(&format!("/orgs/{org}/weekly")).await;
    let path = format!("/orgs/{org}/views");
    let long = "x".repeat(101);
    let cases: [(&str, &str, &str, &str, u16, &str); 7] = [
        ("an empty name", "  ", "weekly", "", 400, "needs a name"),
        ("a name too long", &long, "weekly", "", 400, "at most 100"),
        (
            "a page not saved",
            "T",
            "troubleshooting",
            "",
            400,
            "can be saved",
        ),
        ("no page", "T", "", "", 400, "can be saved"),
        (
            "too many weeks",
            "T",
            "weekly",
            "weeks=999",
            400,
            "weeks must be",
        ),
        (
            "no such zone",
            "T",
            "weekly",
            "tz=Mars/Olympus",
            400,
            "time zone",
        ),
        (
            "a bad date",
            "T",
            "trends",
            "from=yesterday",
            400,
            "cannot be saved",
        ),
    ];
    for (case, name, page, query, status, says) in cases {
        let answer = browser
            .post(
                &path,
                &[
                    ("csrf", &token),
                    ("name", name),
                    ("page", page),
                    ("query", query),
                ],
            )
            .await;
        assert_eq!(answer.status, status, "{case}: {}", answer.body);
        assert!(answer.body.contains(says), "{case}: {}", answer.body);
    }
    let long_filters = format!("project={}", "P".repeat(2100));
    let answer = browser
        .post(
            &path,
            &[
                ("csrf", &token),
                ("name", "Long"),
                ("page", "weekly"),
                ("query", &long_filters),
            ],
        )
        .await;
    assert_eq!(answer.status, 400, "filters too long: {}", answer.body);
    let huge = "x".repeat(20 * 1024);
    let answer = browser
        .post(
            &path,
            &[("csrf", &token), ("name", &huge), ("page", "weekly")],
        )
        .await;
    assert_eq!(answer.status, 413, "a form past 16 KiB: {}", answer.body);
    assert!(answer.body.contains("could not be read"), "{}", answer.body);
    assert!(browser.listed(org).await.is_empty(), "nothing was saved");

    // A duplicate name, however it is capitalized.
    assert_eq!(
        browser.save(org, "weekly", "", "Bugs", false).await.status,
        303
    );
    let answer = browser.save(org, "trends", "", " bugs ", false).await;
    assert_eq!(answer.status, 409, "{}", answer.body);
    assert!(
        answer.body.contains("already have a view named"),
        "{}",
        answer.body
    );
    assert_eq!(
        browser.save(org, "trends", "", "Bugs", true).await.status,
        303
    );
    let answer = browser.save(org, "flow", "", "BUGS", true).await;
    assert_eq!(answer.status, 409, "{}", answer.body);

    // Ids that are not a view of this organization's.
    for id in [Uuid::new_v4().to_string(), "not-an-id".to_owned()] {
        assert_eq!(
            browser.get(&format!("/orgs/{org}/views/{id}")).await.status,
            404,
            "{id}"
        );
        let answer = browser
            .post(
                &format!("/orgs/{org}/views/{id}/delete"),
                &[("csrf", &token)],
            )
            .await;
        assert_eq!(answer.status, 404, "{id}");
    }
}

#[tokio::test]
async fn a_form_without_this_browsers_token_or_from_another_site_changes_nothing() {
    let setup = start().await;
    let (owner, cookie) = setup.user("owner").await;
    let org = setup.organization(owner, workspace()).await;
    let browser = Browser::of(&setup, &cookie);
    let token = browser.token_on(&format!("/orgs/{org}/flow")).await;
    let visitor = browser
        .cookie
        .split("mf_visitor=")
        .nth(1)
        .unwrap()
        .to_owned();
    assert_eq!(
        token,
        accounts_store::csrf::token_for(&visitor),
        "the token is the visitor cookie's, as onboarding derives it"
    );
    let path = format!("/orgs/{org}/views");
    let other_browsers = accounts_store::csrf::token_for(&accounts_store::tokens::mint().text);
    let form = |csrf: &'static str| -> Vec<(&'static str, &'static str)> {
        vec![
            ("csrf", csrf),
            ("name", "Forged"),
            ("page", "flow"),
            ("query", "weeks=4"),
        ]
    };
    let other: &'static str = Box::leak(other_browsers.into_boxed_str());
    let own: &'static str = Box::leak(token.clone().into_boxed_str());
    for (case, origin, fields) in [
        ("no token", Some(DASHBOARDS_URL), form("")[1..].to_vec()),
        ("an empty token", Some(DASHBOARDS_URL), form("")),
        ("another browser's token", Some(DASHBOARDS_URL), form(other)),
        ("another site's page", Some("http://evil.test"), form(own)),
        (
            "a look-alike origin",
            Some("http://dashboards.test.evil.test"),
            form(own),
        ),
        ("a null origin", Some("null"), form(own)),
    ] {
        let answer = browser.post_from(origin, &path, &fields).await;
        assert_eq!(answer.status, 403, "{case}: {}", answer.body);
        assert!(answer.body.contains("Please try again"), "{case}");
    }
    let token = own.to_owned();
    let id = {
        let answer = browser.save(org, "flow", "weeks=4", "Kept", false).await;
        assert_eq!(answer.status, 303);
        browser.id_of(org, "Kept").await
    };
    let answer = browser
        .post_from(
            Some("http://evil.test"),
            &format!("{path}/{id}/delete"),
            &[("csrf", &token)],
        )
        .await;
    assert_eq!(answer.status, 403, "a delete from another site");
    let answer = browser
        .post(&format!("{path}/{id}/delete"), &[("csrf", "")])
        .await;
    assert_eq!(answer.status, 403, "a delete without the token");
    let listed = browser.listed(org).await;
    assert_eq!(listed.len(), 1, "only the view saved properly: {listed:?}");

    // A client that sends no Origin (a script) still needs the token, and with it is served.
    let answer = browser.post_from(None, &path, &form(own)).await;
    assert_eq!(answer.status, 303, "{}", answer.body);

    // A browser without a visitor cookie gets one with its page, and the page's token is
    // derived from it.
    let page = setup.get(&format!("/orgs/{org}/weekly"), &cookie).await;
    let response = setup
        .app
        .client
        .get(format!("{}/orgs/{org}/weekly", setup.app.address))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.starts_with("mf_visitor="), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let minted = &set_cookie["mf_visitor=".len()..set_cookie.find(';').unwrap()];
    let html = response.text().await.unwrap();
    assert_eq!(
        hidden_field(&html, "csrf"),
        accounts_store::csrf::token_for(minted)
    );
    assert_ne!(
        hidden_field(&page.body, "csrf"),
        hidden_field(&html, "csrf")
    );
    // The API sets none.
    let api = setup
        .app
        .client
        .get(format!("{}/api/v1/orgs/{org}/views", setup.app.address))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(api.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn the_views_api_answers_the_fields_its_schema_lists() {
    let setup = start().await;
    let (owner, cookie) = setup.user("owner").await;
    let org = setup.organization(owner, workspace()).await;
    let browser = Browser::of(&setup, &cookie);
    assert_eq!(
        browser
            .save(org, "trends", "weeks=26", "Half a year", true)
            .await
            .status,
        303
    );
    let document = setup.get("/api/v1/openapi.json", "").await.json();
    let schemas = &document["components"]["schemas"];
    let keys = |schema: &Value| -> Vec<String> {
        let mut keys: Vec<String> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    let listed = browser.listed(org).await;
    let mut answered: Vec<String> = listed[0].as_object().unwrap().keys().cloned().collect();
    answered.sort();
    assert_eq!(answered, keys(&schemas["SavedViewEntry"]));
    assert_eq!(
        listed[0]["author"],
        setup_email(&setup, owner).await.as_str()
    );
    assert!(
        document["paths"]["/api/v1/orgs/{organization}/views"]["get"]["responses"]["200"]
            .is_object()
    );
}

async fn setup_email(setup: &Setup, user: Uuid) -> String {
    let client = setup.pool.get().await.unwrap();
    client
        .query_one("SELECT email FROM users WHERE id = $1", &[&user])
        .await
        .unwrap()
        .get(0)
}

/// The token a browser's onboarding pages carry is the one its dashboards forms take: one
/// visitor cookie, one derivation, whichever service rendered the page.
#[tokio::test]
async fn a_token_from_an_onboarding_page_is_taken_by_a_dashboards_form() {
    let setup = start().await;
    let (owner, cookie) = setup.user("owner").await;
    let org = setup.organization(owner, workspace()).await;
    let browser = Browser::of(&setup, &cookie);

    let stack = test_kit::Stack::from_env();
    let mut config = onboarding::Config::from_env().unwrap();
    config.server.listen_on_free_ports();
    config.server.deployment = service_runtime::config::Deployment::Local;
    config.postgres = stack.fresh_postgres().await;
    config.clickhouse = stack.fresh_clickhouse().await;
    let onboarding = test_kit::TestApp::spawn(onboarding::build(config).await.unwrap());
    let sign_in = onboarding
        .client
        .get(format!("{}/sign-in", onboarding.address))
        .header("Cookie", &browser.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = hidden_field(&sign_in, "csrf");
    assert_eq!(token, browser.token_on(&format!("/orgs/{org}/flow")).await);
    let answer = browser
        .post(
            &format!("/orgs/{org}/views"),
            &[
                ("csrf", &token),
                ("name", "From onboarding's token"),
                ("page", "flow"),
                ("query", ""),
            ],
        )
        .await;
    assert_eq!(answer.status, 303, "{}", answer.body);
}
