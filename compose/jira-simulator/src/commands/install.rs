//! `install`: the app installed on new sites, through Forge (the default) or Connect, signed with
//! the key the running `serve` publishes, and written to the installations file for the other
//! commands, for a restarted `serve` and for any other tool.

use anyhow::{Context, ensure};
use url::Url;

use crate::{
    cli::{InstallArgs, Via},
    config::SimulatorConfig,
    connect::WorkspaceSpec,
    installations_file::InstallationsFile,
    keys::Jwk,
    simulator::Simulator,
    target::Target,
};

pub(crate) async fn run(args: InstallArgs) -> anyhow::Result<()> {
    let config = SimulatorConfig {
        key_file: Some(args.key.key_file.clone()),
        // The `serve` the app calls must know this install, whichever file it is written to.
        announce_to: Some(args.serve.key_url.clone()),
        ..SimulatorConfig::default()
    };
    let simulator = Simulator::new(config)
        .await
        .context("loading the signing key")?;
    let key_url = args
        .serve
        .key_url
        .join(&format!("install-keys/{}", simulator.kid()))
        .context("building the install key URL")?;
    let jwks_url = args
        .serve
        .key_url
        .join("forge/jwks.json")
        .context("building the Forge JWKS URL")?;
    // The app fetches the key where Atlassian would publish it: a key no `serve` publishes would
    // make every install fail as untrusted, so say that plainly first.
    let (served, at) = match args.via {
        Via::Connect => (
            check_pem_served(&key_url, simulator.public_key_pem()).await,
            &key_url,
        ),
        Via::Forge => (check_in_jwks(&jwks_url, &simulator.jwk()).await, &jwks_url),
    };
    served.with_context(|| {
        format!(
            "the app fetches the key at {at}, which does not serve it: start \
             `jira-simulator serve --key-file {}` there first",
            args.key.key_file.display()
        )
    })?;

    let mut file = InstallationsFile {
        kid: simulator.kid().to_owned(),
        install_keys_url: key_url.to_string(),
        forge_jwks_url: jwks_url.to_string(),
        forge_app_id: simulator.forge.app_ari.clone(),
        ..InstallationsFile::default()
    };
    let target = args.target.target();
    let mut installed = Ok(());
    for _ in 0..args.workspaces.get() {
        installed = install_one(&simulator, &target, args.via, &mut file).await;
        if installed.is_err() {
            break;
        }
    }
    // Written even after a failure, so `uninstall` finds the sites installed before it; a run
    // that installed nothing leaves an earlier file alone.
    if file.is_empty() {
        return installed;
    }
    file.write(&args.out)?;
    println!("wrote {}", args.out.display());
    installed
}

/// Installs on one new site and adds it to `file`.
async fn install_one(
    simulator: &Simulator,
    target: &Target,
    via: Via,
    file: &mut InstallationsFile,
) -> anyhow::Result<()> {
    match via {
        Via::Connect => {
            let installation = simulator
                .install_connect(target, &WorkspaceSpec::random())
                .await
                .context("installing the app through Connect")?;
            println!(
                "installed through Connect on {} (client key {})",
                installation.site_base_url, installation.client_key
            );
            file.installations.push(installation);
        }
        Via::Forge => {
            let installation = simulator.new_forge_installation();
            let installer = installer_email(&installation.site_url);
            let install = simulator
                .install_forge(target, &installation, &installer)
                .await
                .context("installing the Forge app")?;
            println!(
                "installed through Forge on {} (installation id {})",
                installation.site_url, installation.installation_id
            );
            file.forge_installations.push(install);
        }
    }
    Ok(())
}

/// `admin.<site name>@example.test`, as a Connect install's installer is named.
fn installer_email(site_url: &str) -> String {
    let site = Url::parse(site_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default();
    let name = site.split('.').next().unwrap_or("forge");
    format!("admin.{name}@example.test")
}

async fn check_pem_served(key_url: &Url, expected_pem: &str) -> anyhow::Result<()> {
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

async fn check_in_jwks(jwks_url: &Url, expected: &Jwk) -> anyhow::Result<()> {
    #[derive(serde::Deserialize)]
    struct Jwks {
        keys: Vec<Jwk>,
    }
    let response = reqwest::get(jwks_url.clone()).await.context("no answer")?;
    ensure!(
        response.status().is_success(),
        "it answers HTTP {}",
        response.status()
    );
    let jwks: Jwks = response.json().await.context("reading the JWKS")?;
    ensure!(
        jwks.keys.iter().any(|key| key == expected),
        "its JWKS has no key {}",
        expected.kid
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forge_installer_is_named_after_the_site() {
        assert_eq!(
            installer_email("https://forge-0123456789ab.atlassian.net"),
            "admin.forge-0123456789ab@example.test"
        );
    }
}
