//! The commands end to end, in process: `install` next to a running key server sharing its key
//! file, `stream` from the file it wrote, `uninstall`, and a server that answers the email and
//! permissions lookups for installations another process made. Connect runs against a fake app;
//! Forge against the real onboarding and ingress on the running stack.

mod common;
mod services;

use std::{path::PathBuf, time::Duration};

use clap::Parser;
use common::Stack;
use jira_simulator::{
    DeliveryOptions, EventFixtures, ForgeInstall, InstallationsFile, Outcome, Simulator,
    SimulatorConfig, Target, cli::Cli,
};
use rand::SeedableRng;
use serde_json::Value;
use services::Services;
use test_kit::{Mailbox, eventually};

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("jira-simulator-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).expect("mkdir");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn run(args: &[&str]) -> anyhow::Result<()> {
    Cli::try_parse_from(std::iter::once("jira-simulator").chain(args.iter().copied()))
        .expect("valid arguments")
        .run()
        .await
}

/// `command` with the target options and then `rest`.
fn with_target<'a>(command: &'a str, target: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    std::iter::once(command)
        .chain(target.iter().copied())
        .chain(rest.iter().copied())
        .collect()
}

/// A key server with its own key file, reading the installations file next to it, as
/// `compose/local` runs `serve`.
struct Served {
    dir: TempDir,
    serve: Simulator,
}

impl Served {
    async fn start() -> Self {
        let dir = TempDir::new();
        let serve = Self::serve(&dir).await;
        Self { dir, serve }
    }

    /// A `serve` on the directory's key and installations file: call it again for a restart.
    async fn serve(dir: &TempDir) -> Simulator {
        Simulator::start(SimulatorConfig {
            key_file: Some(dir.0.join("key.pem")),
            installations_file: Some(dir.0.join("installation.json")),
            ..SimulatorConfig::default()
        })
        .await
        .expect("serve starts")
    }

    fn key_file(&self) -> String {
        self.path("key.pem")
    }

    fn out(&self) -> String {
        self.path("installation.json")
    }

    fn path(&self, name: &str) -> String {
        self.dir.0.join(name).to_str().expect("utf-8").to_owned()
    }

    fn key_url(&self) -> String {
        self.serve.url().expect("serving").to_string()
    }

    fn file(&self) -> InstallationsFile {
        InstallationsFile::read(self.out().as_ref()).expect("the installations file")
    }
}

fn target_args(target: &Target) -> [String; 4] {
    [
        "--onboarding".to_owned(),
        target.onboarding.to_string(),
        "--ingress".to_owned(),
        target.ingress.to_string(),
    ]
}

/// Runs `command` with the target options and `rest`.
async fn run_at(command: &str, target: &Target, rest: &[&str]) -> anyhow::Result<()> {
    let target = target_args(target);
    let args: Vec<&str> = std::iter::once(command)
        .chain(target.iter().map(String::as_str))
        .chain(rest.iter().copied())
        .collect();
    run(&args).await
}

/// One delivery, no retries: the test looks at the first answer.
fn once() -> DeliveryOptions {
    DeliveryOptions {
        max_retries: 0,
        ..DeliveryOptions::default()
    }
}

/// A Forge event for `install`, sent by the key server (the same key as the CLI's), until ingress
/// answers `want` (it learns of installs and uninstalls from Postgres within about a second);
/// answers the body of that answer.
async fn forge_event_until(
    served: &Simulator,
    target: &Target,
    install: &ForgeInstall,
    want: u16,
) -> String {
    let fixtures =
        EventFixtures::load(&EventFixtures::default_forge_dir()).expect("forge fixtures");
    let event = fixtures.generate(&mut rand::rngs::StdRng::seed_from_u64(9));
    eventually(
        Duration::from_secs(10),
        &format!("ingress to answer {want}"),
        || async {
            let delivery = served
                .send_forge_event(target, &install.installation, &event, once())
                .await
                .expect("delivers");
            let status = match delivery.outcome {
                Outcome::Accepted { status } | Outcome::Refused { status } => Some(status),
                Outcome::RetriesExhausted => None,
            };
            if status == Some(want) {
                Ok(delivery.last_body)
            } else {
                Err(format!("{status:?} ({})", delivery.last_body))
            }
        },
    )
    .await
}

#[tokio::test]
async fn forge_install_mails_the_installer_its_events_are_accepted_and_uninstall_stops_them() {
    let served = Served::start().await;
    let services = Services::start(&served.serve).await;
    let target = services.target();
    let (key_file, out, key_url) = (served.key_file(), served.out(), served.key_url());

    // Forge is the default.
    run_at(
        "install",
        &target,
        &[
            "--key-file",
            &key_file,
            "--key-url",
            &key_url,
            "--out",
            &out,
        ],
    )
    .await
    .expect("install succeeds");
    let file = served.file();
    assert!(file.installations.is_empty(), "nothing through Connect");
    let [install] = file.forge_installations.as_slice() else {
        panic!("one Forge installation: {file:#?}");
    };
    assert_eq!(file.kid, served.serve.kid());
    assert_eq!(file.forge_app_id, SimulatorConfig::default().forge.app_ari);

    // Onboarding found the installer's address with the app system token, asking the key server,
    // which knows the install only from the file.
    let mail = Mailbox::of_stack()
        .wait_for(
            &install.installer_email,
            onboarding::mail::messages::SETUP_SUBJECT,
            0,
        )
        .await;
    assert_eq!(mail.to, std::slice::from_ref(&install.installer_email));

    forge_event_until(&served.serve, &target, install, 202).await;
    run_at(
        "stream",
        &target,
        &[
            "--from",
            &out,
            "--key-file",
            &key_file,
            "--count",
            "10",
            "--rate",
            "200",
            "--backoff",
            "5ms",
        ],
    )
    .await
    .expect("every Forge event is accepted");

    let install = install.clone();
    run_at(
        "uninstall",
        &target,
        &["--from", &out, "--key-file", &key_file],
    )
    .await
    .expect("uninstall succeeds");
    assert!(
        served.file().is_empty(),
        "the file keeps nothing uninstalled"
    );
    let refusal = forge_event_until(&served.serve, &target, &install, 401).await;
    let refusal: Value = serde_json::from_str(&refusal).expect("a JSON refusal");
    assert_eq!(refusal["error"], "uninstalled", "{refusal}");
}

#[tokio::test]
async fn a_restarted_serve_answers_for_forge_installs_from_the_file() {
    let app = Stack::start().await; // a fake app: answers every lifecycle call with 200
    let served = Served::start().await;
    let (key_file, out, key_url) = (served.key_file(), served.out(), served.key_url());
    run_at(
        "install",
        &app.target(),
        &[
            "--via",
            "forge",
            "--key-file",
            &key_file,
            "--key-url",
            &key_url,
            "--out",
            &out,
        ],
    )
    .await
    .expect("install succeeds");
    let install = served.file().forge_installations[0].clone();
    let request = app.onboarding.only_request();
    assert_eq!(request.path, "/forge/lifecycle");
    assert_eq!(
        request.header("x-forge-oauth-system"),
        Some(install.system_token.as_str())
    );

    served.serve.shutdown().await;
    let restarted = Served::serve(&served.dir).await;
    let api = restarted.url().expect("serving");
    let http = reqwest::Client::new();
    let email = |token: String| {
        let url = api
            .join(&format!(
                "/rest/api/3/user/email?accountId={}",
                jira_simulator::qsh::percent_encode(&install.installer_account_id)
            ))
            .expect("url");
        let request = http.get(url).bearer_auth(token);
        async move { request.send().await.expect("answers") }
    };
    let answer = email(install.system_token.clone()).await;
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.expect("json");
    assert_eq!(answer["email"], install.installer_email.as_str());

    let permissions = http
        .get(
            api.join("/rest/api/3/mypermissions?permissions=ADMINISTER")
                .expect("url"),
        )
        .bearer_auth(&install.installer_user_token)
        .send()
        .await
        .expect("answers");
    assert_eq!(permissions.status(), 200);
    let permissions: Value = permissions.json().await.expect("json");
    assert_eq!(
        permissions["permissions"]["ADMINISTER"]["havePermission"], true,
        "the installer is a Jira administrator: {permissions}"
    );

    run_at(
        "uninstall",
        &app.target(),
        &["--from", &out, "--key-file", &key_file],
    )
    .await
    .expect("uninstall succeeds");
    assert_eq!(
        app.onboarding.requests()[1].json()["eventType"],
        jira_simulator::UNINSTALLED_EVENT
    );
    assert_eq!(
        email(install.system_token.clone()).await.status(),
        401,
        "an uninstalled app's system token no longer works"
    );
}

#[tokio::test]
async fn connect_install_stream_and_uninstall_against_a_fake_app() {
    let stack = Stack::start().await;
    let dir = TempDir::new();
    let key_file = dir.0.join("key.pem");
    let out = dir.0.join("installation.json");
    let serve = Simulator::start(SimulatorConfig {
        key_file: Some(key_file.clone()),
        installations_file: Some(out.clone()),
        ..SimulatorConfig::default()
    })
    .await
    .expect("serve starts");
    let (onboarding, ingress) = (
        stack.onboarding.url.to_string(),
        stack.ingress.url.to_string(),
    );
    let key_url = serve.url().expect("serving").to_string();
    let (key_file, out) = (
        key_file.to_str().expect("utf-8"),
        out.to_str().expect("utf-8"),
    );
    let target = ["--onboarding", &onboarding, "--ingress", &ingress];

    let install = [
        "--via",
        "connect",
        "--key-file",
        key_file,
        "--key-url",
        &key_url,
        "--workspaces",
        "2",
        "--out",
        out,
    ];
    run(&with_target("install", &target, &install))
        .await
        .expect("install succeeds");
    let file = InstallationsFile::read(out.as_ref()).expect("the file is written");
    assert_eq!(file.installations.len(), 2);
    assert_eq!(file.kid, serve.kid(), "install signs with the served key");
    assert_eq!(stack.onboarding.requests().len(), 2);

    // The key server learns of the installations from the file.
    let installer = &file.installations[0];
    let query = format!(
        "accountId={}",
        jira_simulator::qsh::percent_encode(&installer.installer_account_id)
    );
    let now = jsonwebtoken::get_current_timestamp();
    let claims = serde_json::json!({
        "iss": installer.app_key, "iat": now, "exp": now + 60,
        "qsh": jira_simulator::connect_qsh("GET", "/rest/api/3/user/email", &query, ""),
    });
    let token = jira_simulator::sign_connect_token(installer, &claims).expect("signs");
    let url = serve
        .url()
        .expect("serving")
        .join(&format!("/rest/api/3/user/email?{query}"))
        .expect("url");
    let response = reqwest::Client::new()
        .get(url)
        .header("Authorization", format!("JWT {token}"))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);

    let stream = [
        "--from",
        out,
        "--count",
        "20",
        "--rate",
        "500",
        "--backoff",
        "5ms",
    ];
    run(&with_target("stream", &target, &stream))
        .await
        .expect("every event is accepted");
    let events = stack.ingress.requests();
    assert_eq!(events.len(), 20);
    let issuers: std::collections::HashSet<_> = events
        .iter()
        .map(|event| {
            jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(event.token("JWT"))
                .expect("jwt")
                .claims["iss"]
                .clone()
        })
        .collect();
    assert_eq!(issuers.len(), 2, "events are spread over the installations");

    run(&with_target(
        "uninstall",
        &target,
        &["--from", out, "--key-file", key_file],
    ))
    .await
    .expect("uninstall succeeds");
    assert!(
        InstallationsFile::read(out.as_ref())
            .expect("file")
            .installations
            .is_empty()
    );
    assert_eq!(stack.onboarding.requests().len(), 4);
}

#[tokio::test]
async fn install_refuses_when_no_server_publishes_its_key() {
    let stack = Stack::start().await;
    let dir = TempDir::new();
    let key_file = dir.0.join("key.pem");
    let other = common::simulator().await; // serves a different key
    let (onboarding, key_url) = (
        stack.onboarding.url.to_string(),
        other.url().expect("serving").to_string(),
    );
    let out = dir.0.join("out.json");
    let err = run(&[
        "install",
        "--onboarding",
        &onboarding,
        "--key-file",
        key_file.to_str().expect("utf-8"),
        "--key-url",
        &key_url,
        "--out",
        out.to_str().expect("utf-8"),
    ])
    .await
    .expect_err("refused");
    assert!(
        format!("{err:#}").contains("jira-simulator serve"),
        "{err:#}"
    );
    assert!(
        stack.onboarding.requests().is_empty(),
        "nothing was installed"
    );
}
