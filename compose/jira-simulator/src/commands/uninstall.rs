//! `uninstall`: every installation of the file uninstalled the way it was installed (Forge: the
//! `preUninstall` call; Connect: the `uninstalled` callback); the file keeps only those that could
//! not be uninstalled.

use anyhow::{Context, bail};

use crate::{
    cli::UninstallArgs, config::SimulatorConfig, installations_file::InstallationsFile,
    simulator::Simulator,
};

pub(crate) async fn run(args: UninstallArgs) -> anyhow::Result<()> {
    let path = &args.installations.path;
    let mut file = InstallationsFile::read(path)?;
    let config = SimulatorConfig {
        key_file: Some(args.key.key_file),
        announce_to: Some(args.serve.key_url),
        ..SimulatorConfig::default()
    };
    let simulator = Simulator::new(config)
        .await
        .context("loading the signing key")?;
    let target = args.target.target();

    let mut connect_left = Vec::new();
    for installation in std::mem::take(&mut file.installations) {
        match simulator.uninstall_connect(&target, &installation).await {
            Ok(()) => println!(
                "uninstalled from {} (client key {})",
                installation.site_base_url, installation.client_key
            ),
            Err(err) => {
                report_failure(&installation.client_key, err.into());
                connect_left.push(installation);
            }
        }
    }
    let mut forge_left = Vec::new();
    for install in std::mem::take(&mut file.forge_installations) {
        match simulator.uninstall_forge(&target, &install).await {
            Ok(()) => println!(
                "uninstalled the Forge app from {} (installation id {})",
                install.installation.site_url, install.installation.installation_id
            ),
            Err(err) => {
                report_failure(&install.installation.installation_id, err.into());
                forge_left.push(install);
            }
        }
    }

    file.installations = connect_left;
    file.forge_installations = forge_left;
    // `serve` reads the file afresh on each lookup: what is gone from it is no longer answered.
    file.write(path)?;
    if !file.is_empty() {
        bail!(
            "{} installation(s) are still installed; they stay in {}",
            file.len(),
            path.display()
        );
    }
    Ok(())
}

fn report_failure(which: &str, err: anyhow::Error) {
    eprintln!("could not uninstall {which}: {err:#}");
}
