//! The commands end to end, in process: `install` next to a running key server sharing its key
//! file, `stream` from the file it wrote, `uninstall`, and a server that answers the email lookup
//! for installations another process made.

mod common;

use std::path::PathBuf;

use clap::Parser;
use common::Stack;
use jira_simulator::{InstallationsFile, Simulator, SimulatorConfig, cli::Cli};

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

#[tokio::test]
async fn install_stream_and_uninstall_against_the_local_stack() {
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
