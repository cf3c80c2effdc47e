//! `install`: signed Connect installs on new sites, with the key the running `serve` publishes,
//! written to the installations file for the other commands and for any other tool.

use anyhow::{Context, ensure};

use crate::{
    cli::InstallArgs, config::SimulatorConfig, connect::WorkspaceSpec,
    installations_file::InstallationsFile, simulator::Simulator,
};

pub(crate) async fn run(args: InstallArgs) -> anyhow::Result<()> {
    let config = SimulatorConfig {
        key_file: Some(args.key.key_file.clone()),
        ..SimulatorConfig::default()
    };
    let simulator = Simulator::new(config)
        .await
        .context("loading the signing key")?;
    let key_url = args
        .key_url
        .join(&format!("install-keys/{}", simulator.kid()))
        .context("building the install key URL")?;
    check_served(&key_url, simulator.public_key_pem())
        .await
        .with_context(|| {
            format!(
                "the app fetches the install key at {key_url}, which does not serve it: start \
             `jira-simulator serve --key-file {}` there first",
                args.key.key_file.display()
            )
        })?;

    let target = args.target.target();
    let mut installations = Vec::new();
    for _ in 0..args.workspaces.get() {
        let installation = simulator
            .install_connect(&target, &WorkspaceSpec::random())
            .await
            .context("installing the app")?;
        println!(
            "installed on {} (client key {})",
            installation.site_base_url, installation.client_key
        );
        installations.push(installation);
    }
    let file = InstallationsFile {
        kid: simulator.kid().to_owned(),
        install_keys_url: key_url.to_string(),
        installations,
    };
    file.write(&args.out)?;
    println!("wrote {}", args.out.display());
    Ok(())
}

async fn check_served(key_url: &url::Url, expected_pem: &str) -> anyhow::Result<()> {
    let response = reqwest::get(key_url.clone()).await.context("no answer")?;
    ensure!(
        response.status().is_success(),
        "it answers HTTP {}",
        response.status()
    );
    let served = response.text().await.context("reading the key")?;
    ensure!(
        served.trim() == expected_pem.trim(),
        "it serves a different key under this kid"
    );
    Ok(())
}
