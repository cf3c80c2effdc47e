//! Jira's project permissions and issue security levels, as an app meets them: the bulk
//! permission check (`POST /rest/api/3/permissions/check`) asked with a Connect JWT or a Forge app
//! system token, answered from each site's model, which a test changes in process or by an
//! announcement to the simulator's URL; and the events, whose issues carry their level.

mod common;

use std::{collections::BTreeSet, num::NonZeroU32};

use common::Stack;
use jira_simulator::{
    ConnectInstallation, EventFixtures, ForgeInstall, SecuredIssues, Simulator, SitePermissions,
    WorkspaceSpec, announce_failing_permission_checks, announce_permissions, connect_qsh,
    lifecycle::{self, LifecycleSpec},
    sign_connect_token,
};
use rand::SeedableRng;
use serde_json::{Value, json};
use url::Url;

const PATH: &str = "/rest/api/3/permissions/check";
const ADA: &str = "712020:ada-0000-4a5b-8c9d-000000000001";
const BEN: &str = "712020:ben-0000-4a5b-8c9d-000000000002";
const OPEN_PROJECT: u64 = 10002;
const RESTRICTED_PROJECT: u64 = 10001;
const STAFF_LEVEL: &str = "10100";

/// How an app calls: as a Connect installation (a JWT) or a Forge one (its system token).
#[derive(Clone)]
enum Caller {
    Connect(ConnectInstallation),
    Forge(ForgeInstall),
}

/// Jira's REST API of one simulator, asked as an app.
struct Jira {
    http: reqwest::Client,
    url: Url,
}

impl Jira {
    fn of(simulator: &Simulator) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: simulator.url().expect("serving"),
        }
    }

    /// `body` posted to the check with `authorization` as given (none: no header).
    async fn post(&self, authorization: Option<String>, body: String) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.url.join(PATH).expect("url"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let response = request.send().await.expect("answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// `body` as `caller` sends it, signed properly.
    async fn check(&self, caller: &Caller, body: &Value) -> (u16, Value) {
        self.post(Some(authorization(caller)), body.to_string())
            .await
    }

    /// The projects and issues of `asked` that `account` may browse, after a 200.
    async fn browsable(
        &self,
        caller: &Caller,
        account: &str,
        projects: &[u64],
        issues: &[u64],
    ) -> (Vec<u64>, Vec<u64>) {
        let (status, body) = self.check(caller, &ask(account, projects, issues)).await;
        assert_eq!(status, 200, "{body}");
        granted(&body)
    }
}

fn authorization(caller: &Caller) -> String {
    match caller {
        Caller::Connect(installation) => format!(
            "JWT {}",
            connect_token(installation, &installation.shared_secret, "POST", PATH)
        ),
        Caller::Forge(install) => format!("Bearer {}", install.system_token),
    }
}

/// A Connect JWT as the app signs it for `method` `path`, with `secret`.
fn connect_token(
    installation: &ConnectInstallation,
    secret: &str,
    method: &str,
    path: &str,
) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = json!({
        "iss": installation.app_key,
        "iat": now,
        "exp": now + 60,
        "qsh": connect_qsh(method, path, "", ""),
    });
    let signer = ConnectInstallation {
        shared_secret: secret.to_owned(),
        ..installation.clone()
    };
    sign_connect_token(&signer, &claims).expect("signs")
}

/// The request MetaFrazo sends: Browse Projects for these projects and issues.
fn ask(account: &str, projects: &[u64], issues: &[u64]) -> Value {
    json!({
        "accountId": account,
        "projectPermissions": [
            {"permissions": ["BROWSE_PROJECTS"], "projects": projects, "issues": issues}
        ],
        "globalPermissions": [],
    })
}

/// The projects and issues granted Browse Projects, checking the answer's shape on the way.
fn granted(body: &Value) -> (Vec<u64>, Vec<u64>) {
    assert_eq!(body["globalPermissions"], json!([]), "{body}");
    let grants = body["projectPermissions"].as_array().expect("grants");
    assert_eq!(grants.len(), 1, "one grant per permission asked: {body}");
    assert_eq!(grants[0]["permission"], "BROWSE_PROJECTS");
    let ids = |field: &str| -> Vec<u64> {
        grants[0][field]
            .as_array()
            .unwrap_or_else(|| panic!("{field} in {body}"))
            .iter()
            .map(|id| id.as_u64().expect("integer ids"))
            .collect()
    };
    (ids("projects"), ids("issues"))
}

/// One site's model: a project only Ada browses, a level only Ben is in, and the issues
/// 20001 (under the level), 20002 (in the restricted project) and 20003 (neither).
fn model() -> SitePermissions {
    SitePermissions::default()
        .restrict_project(RESTRICTED_PROJECT.to_string(), [ADA])
        .level(STAFF_LEVEL, [BEN])
        .secure_issue("20001", STAFF_LEVEL)
        .issue_in_project("20002", RESTRICTED_PROJECT.to_string())
}

const PROJECTS: [u64; 2] = [RESTRICTED_PROJECT, OPEN_PROJECT];
const ISSUES: [u64; 3] = [20001, 20002, 20003];

async fn connect_install(stack: &Stack, simulator: &Simulator) -> ConnectInstallation {
    simulator
        .install_connect(&stack.target(), &WorkspaceSpec::random())
        .await
        .expect("installs")
}

async fn forge_install(stack: &Stack, simulator: &Simulator) -> ForgeInstall {
    let installation = simulator.new_forge_installation();
    simulator
        .install_forge(&stack.target(), &installation, "ada@example.test")
        .await
        .expect("installs")
}

/// A restricted project hides itself and its issues from whoever is not let in; a level hides
/// its issues from whoever is not in it, even if they browse the project.
async fn the_model_decides_what_each_account_browses(
    jira: &Jira,
    simulator: &Simulator,
    caller: &Caller,
    site: &str,
) {
    simulator.set_permissions(site, model());
    assert_eq!(
        jira.browsable(caller, ADA, &PROJECTS, &ISSUES).await,
        (vec![RESTRICTED_PROJECT, OPEN_PROJECT], vec![20002, 20003]),
        "Ada browses both projects but is not in the level"
    );
    assert_eq!(
        jira.browsable(caller, BEN, &PROJECTS, &ISSUES).await,
        (vec![OPEN_PROJECT], vec![20001, 20003]),
        "Ben is in the level but not let into the restricted project"
    );
}

#[tokio::test]
async fn a_connect_signed_check_answers_from_its_sites_model_and_no_other() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let jira = Jira::of(&simulator);
    let installation = connect_install(&stack, &simulator).await;
    let other = connect_install(&stack, &simulator).await;
    let caller = Caller::Connect(installation.clone());

    the_model_decides_what_each_account_browses(
        &jira,
        &simulator,
        &caller,
        &installation.site_base_url,
    )
    .await;
    // The other site was never restricted: Ben sees everything there.
    assert_eq!(
        jira.browsable(&Caller::Connect(other), BEN, &PROJECTS, &ISSUES)
            .await,
        (PROJECTS.to_vec(), ISSUES.to_vec())
    );
}

#[tokio::test]
async fn a_forge_system_token_check_answers_from_its_sites_model() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let jira = Jira::of(&simulator);
    let install = forge_install(&stack, &simulator).await;
    let caller = Caller::Forge(install.clone());

    assert_eq!(
        jira.browsable(&caller, BEN, &PROJECTS, &ISSUES).await,
        (PROJECTS.to_vec(), ISSUES.to_vec()),
        "before a model is set, everyone browses everything"
    );
    the_model_decides_what_each_account_browses(
        &jira,
        &simulator,
        &caller,
        &install.installation.site_url,
    )
    .await;
}

#[tokio::test]
async fn entries_are_merged_per_permission_and_only_asked_ids_come_back() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let jira = Jira::of(&simulator);
    let installation = connect_install(&stack, &simulator).await;
    simulator.set_permissions(&installation.site_base_url, model());
    let body = json!({
        "accountId": BEN,
        "projectPermissions": [
            {"permissions": ["BROWSE_PROJECTS"], "projects": [OPEN_PROJECT], "issues": [20003]},
            {"permissions": ["BROWSE_PROJECTS"], "issues": [20001, 20002]},
        ],
    });
    let (status, answer) = jira.check(&Caller::Connect(installation), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(granted(&answer), (vec![OPEN_PROJECT], vec![20001, 20003]));
}

#[tokio::test]
async fn a_change_in_process_or_announced_over_http_holds_from_the_next_check() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let jira = Jira::of(&simulator);
    let installation = connect_install(&stack, &simulator).await;
    let caller = Caller::Connect(installation.clone());
    let site = installation.site_base_url.as_str();
    let ben_sees = || jira.browsable(&caller, BEN, &PROJECTS, &ISSUES);
    assert_eq!(ben_sees().await, (PROJECTS.to_vec(), ISSUES.to_vec()));

    simulator.set_permissions(site, model());
    assert_eq!(ben_sees().await, (vec![OPEN_PROJECT], vec![20001, 20003]));

    // A test holding only the stack simulator's URL, as against the local stack's `serve`.
    let url = simulator.url().expect("serving");
    let announced = SitePermissions::default()
        .level(STAFF_LEVEL, [ADA])
        .secure_issue("20003", STAFF_LEVEL);
    announce_permissions(&url, &format!("{site}/"), &announced)
        .await
        .expect("announced");
    assert_eq!(
        ben_sees().await,
        (PROJECTS.to_vec(), vec![20001, 20002]),
        "the announced model replaced the whole previous one"
    );

    // The announcement's JSON, as documented, for a test in another language.
    let raw = json!({
        "site": site,
        "projects": {OPEN_PROJECT.to_string(): [ADA]},
        "issue_levels": {"20001": STAFF_LEVEL},
        "levels": {STAFF_LEVEL: [BEN]},
        "issue_projects": {"20003": OPEN_PROJECT.to_string()},
    });
    let response = reqwest::Client::new()
        .post(url.join("/_simulator/permissions").expect("url"))
        .json(&raw)
        .send()
        .await
        .expect("answers");
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(
        ben_sees().await,
        (vec![RESTRICTED_PROJECT], vec![20001, 20002])
    );
}

#[tokio::test]
async fn a_failing_jira_answers_503_until_told_otherwise_and_every_check_is_counted() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let jira = Jira::of(&simulator);
    let caller = Caller::Connect(connect_install(&stack, &simulator).await);
    let body = ask(ADA, &PROJECTS, &ISSUES);
    assert_eq!(jira.check(&caller, &body).await.0, 200);

    simulator.fail_permission_checks(true);
    let (status, answer) = jira.check(&caller, &body).await;
    assert_eq!(status, 503);
    assert!(answer["errorMessages"].is_array(), "{answer}");
    simulator.fail_permission_checks(false);
    assert_eq!(jira.check(&caller, &body).await.0, 200);

    let url = simulator.url().expect("serving");
    announce_failing_permission_checks(&url, true)
        .await
        .expect("announced");
    assert_eq!(jira.check(&caller, &body).await.0, 503);
    announce_failing_permission_checks(&url, false)
        .await
        .expect("announced");
    assert_eq!(jira.check(&caller, &body).await.0, 200);
    // A refused one counts too.
    assert_eq!(jira.post(None, body.to_string()).await.0, 401);
    assert_eq!(simulator.permission_checks_answered(), 6);
}

#[tokio::test]
async fn credentials_jira_would_refuse_get_401_in_jiras_error_shape() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let jira = Jira::of(&simulator);
    let installation = connect_install(&stack, &simulator).await;
    let forge = forge_install(&stack, &simulator).await;
    let body = ask(ADA, &PROJECTS, &ISSUES).to_string();
    let jwt = |secret: &str, method: &str, path: &str| {
        Some(format!(
            "JWT {}",
            connect_token(&installation, secret, method, path)
        ))
    };
    let secret = installation.shared_secret.as_str();
    let cases = [
        (
            jwt(secret, "POST", PATH),
            200,
            "the JWT as the app signs it",
        ),
        (
            jwt("wrong-secret-wrong-secret-wrong-secret-xx", "POST", PATH),
            401,
            "a secret no installation has",
        ),
        (jwt(secret, "GET", PATH), 401, "a qsh for a GET"),
        (
            jwt(secret, "POST", "/rest/api/3/user/email"),
            401,
            "a qsh for another path",
        ),
        (Some("JWT not-a-jwt".to_owned()), 401, "an unreadable JWT"),
        (
            Some(format!("Bearer {}", forge.system_token)),
            200,
            "a live system token",
        ),
        (
            Some("Bearer forge-system-unknown".to_owned()),
            401,
            "a system token Forge never handed out",
        ),
        (
            Some(format!("Bearer {}", forge.installer_user_token)),
            401,
            "a user token is not the app's",
        ),
        (None, 401, "no credentials"),
    ];
    for (authorization, want, case) in cases {
        let (status, answer) = jira.post(authorization, body.clone()).await;
        assert_eq!(status, want, "{case}: {answer}");
        if want == 401 {
            assert!(
                answer["errorMessages"]
                    .as_array()
                    .is_some_and(|m| !m.is_empty())
                    && answer["errors"] == json!({}),
                "{case}: Jira's error body, got {answer}"
            );
        }
    }

    // Once Jira lost the installation, its secret no longer opens the API.
    simulator
        .forget_connect_installation(&installation)
        .await
        .expect("forgets");
    assert_eq!(jira.post(jwt(secret, "POST", PATH), body).await.0, 401);
}

#[tokio::test]
async fn requests_jira_would_refuse_get_400() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let jira = Jira::of(&simulator);
    let caller = Caller::Connect(connect_install(&stack, &simulator).await);
    simulator.delete_user(BEN);
    let ids = |count: u64| (1..=count).collect::<Vec<u64>>();
    let browse = |projects: Vec<u64>, issues: Vec<u64>| ask(ADA, &projects, &issues).to_string();
    let cases = [
        (browse(vec![OPEN_PROJECT], vec![]), 200, "a plain check"),
        ("{\"accountId\": ".to_owned(), 400, "not JSON"),
        (
            json!({"projectPermissions": [{"permissions": ["BROWSE_PROJECTS"], "projects": [1]}]})
                .to_string(),
            400,
            "no accountId",
        ),
        (
            json!({"accountId": ADA, "projectPermissions": [{"permissions": ["BROWSE_PROJECTS"], "projects": ["1"]}]})
                .to_string(),
            400,
            "ids as strings",
        ),
        (
            json!({"accountId": ADA, "projectPermissions": [{"projects": [1]}]}).to_string(),
            400,
            "an entry without permissions",
        ),
        (browse(vec![], ids(1000)), 200, "1000 issues"),
        (browse(ids(1000), vec![]), 200, "1000 projects"),
        (browse(vec![], ids(1001)), 400, "1001 issues"),
        (browse(ids(1001), vec![]), 400, "1001 projects"),
        (
            json!({"accountId": ADA, "projectPermissions": [
                {"permissions": ["BROWSE_PROJECTS"], "issues": ids(600)},
                {"permissions": ["BROWSE_PROJECTS"], "issues": ids(600)},
            ]})
            .to_string(),
            400,
            "1200 issues over two entries",
        ),
        (
            json!({"accountId": ADA, "projectPermissions": [{"permissions": ["EDIT_ISSUES"], "projects": [1]}]})
                .to_string(),
            400,
            "a permission the simulator does not model",
        ),
        (
            json!({"accountId": ADA, "globalPermissions": ["ADMINISTER"]}).to_string(),
            400,
            "a global permission",
        ),
        (
            ask(BEN, &[OPEN_PROJECT], &[]).to_string(),
            400,
            "an account Jira deleted",
        ),
    ];
    for (body, want, case) in cases {
        let (status, answer) = jira.post(Some(authorization(&caller)), body).await;
        assert_eq!(status, want, "{case}: {answer}");
        if want == 400 {
            assert!(
                answer["errorMessages"]
                    .as_array()
                    .is_some_and(|m| !m.is_empty()),
                "{case}: Jira's error body, got {answer}"
            );
        }
    }
}

fn staff_only(every_nth: u32) -> SecuredIssues {
    SecuredIssues {
        level_id: STAFF_LEVEL.to_owned(),
        level_name: "Staff only".to_owned(),
        every_nth: NonZeroU32::new(every_nth).expect("non-zero"),
    }
}

#[test]
fn a_secured_lifecycle_renders_the_level_on_exactly_its_issues_in_both_bodies() {
    let spec = LifecycleSpec {
        seed: 7,
        issues: 30,
        weeks: 4,
        end_ms: 1_796_000_000_000,
    };
    let site = "https://acme-eng.atlassian.net";
    let events = lifecycle::generate_secured(&spec, &staff_only(3));
    let expected_security = json!({
        "self": format!("{site}/rest/api/2/securitylevel/{STAFF_LEVEL}"),
        "id": STAFF_LEVEL,
        "name": "Staff only",
        "description": "",
    });
    let mut secured = BTreeSet::new();
    let mut issues = BTreeSet::new();
    for event in &events {
        issues.insert(event.issue.id.clone());
        for body in [event.connect_body(site), event.forge_body(site)] {
            let security = body.pointer("/issue/fields/security");
            match &event.issue.security_level {
                Some(level) => {
                    assert_eq!(level, STAFF_LEVEL);
                    assert_eq!(security, Some(&expected_security), "{body}");
                    secured.insert(event.issue.id.clone());
                }
                None => assert_eq!(security, None, "no security field at all: {body}"),
            }
        }
    }
    assert_eq!(issues.len(), 30);
    assert_eq!(secured.len(), 10, "every third issue: {secured:?}");
    // Without `secured`, the same stream has no level anywhere.
    assert!(lifecycle::generate(&spec).iter().all(|event| {
        event.issue.security_level.is_none()
            && event
                .connect_body(site)
                .pointer("/issue/fields/security")
                .is_none()
    }));
}

#[test]
fn secured_fixture_events_carry_the_level_for_every_nth_issue_of_the_pool() {
    for dir in [
        EventFixtures::default_dir(),
        EventFixtures::default_forge_dir(),
    ] {
        let fixtures = EventFixtures::load(&dir)
            .expect("fixtures")
            .with_secured(staff_only(4));
        let mut rng = rand::rngs::StdRng::seed_from_u64(17);
        let (mut with, mut without) = (0, 0);
        for _ in 0..400 {
            let event = fixtures.generate(&mut rng);
            let Some(key) = event.pointer("/issue/key").and_then(Value::as_str) else {
                continue;
            };
            if event.pointer("/issue/fields").is_none() {
                continue;
            }
            let number: u64 = key
                .rsplit_once('-')
                .and_then(|(_, n)| n.parse().ok())
                .expect("a numbered key");
            let security = event.pointer("/issue/fields/security");
            if number.is_multiple_of(4) {
                assert_eq!(
                    security.map(|s| (s["id"].clone(), s["name"].clone())),
                    Some((json!(STAFF_LEVEL), json!("Staff only"))),
                    "{key} in {}",
                    dir.display()
                );
                with += 1;
            } else {
                assert_eq!(security, None, "{key} in {}", dir.display());
                without += 1;
            }
        }
        assert!(with > 10 && without > 10, "{with} secured, {without} not");
    }
}

/// How a test computes what each account may see from a secured stream, then checks Jira's
/// answer against it.
#[tokio::test]
async fn a_secured_stream_and_the_model_built_from_it_agree_on_what_a_non_member_sees() {
    let stack = Stack::start().await;
    let simulator = common::simulator().await;
    let jira = Jira::of(&simulator);
    let install = forge_install(&stack, &simulator).await;
    let events = lifecycle::generate_secured(
        &LifecycleSpec {
            seed: 3,
            issues: 20,
            weeks: 2,
            end_ms: 1_796_000_000_000,
        },
        &staff_only(5),
    );
    let mut model = SitePermissions::default().level(STAFF_LEVEL, [BEN]);
    let mut all = BTreeSet::new();
    let mut visible_to_ada = BTreeSet::new();
    for event in &events {
        let id: u64 = event.issue.id.parse().expect("numeric id");
        all.insert(id);
        match &event.issue.security_level {
            Some(level) => model = model.secure_issue(&event.issue.id, level),
            None => {
                visible_to_ada.insert(id);
            }
        }
    }
    simulator.set_permissions(&install.installation.site_url, model);
    let all: Vec<u64> = all.into_iter().collect();
    let caller = Caller::Forge(install);
    assert_eq!(
        jira.browsable(&caller, ADA, &[], &all).await.1,
        visible_to_ada.into_iter().collect::<Vec<_>>()
    );
    assert_eq!(jira.browsable(&caller, BEN, &[], &all).await.1, all);
}

#[tokio::test]
async fn an_announcement_nobody_takes_is_an_error() {
    // Port 9 (discard) on localhost: nothing of ours listens there.
    let nowhere = Url::parse("http://127.0.0.1:9").expect("url");
    assert!(
        announce_permissions(
            &nowhere,
            "https://x.atlassian.net",
            &SitePermissions::default()
        )
        .await
        .is_err()
    );
    assert!(
        announce_failing_permission_checks(&nowhere, true)
            .await
            .is_err()
    );
}
