//! `uninstall`: the `uninstalled` callback for every installation of the file; the file keeps
//! only those that could not be uninstalled.

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
        ..SimulatorConfig::default()
    };
    let simulator = Simulator::new(config)
        .await
        .context("loading the signing key")?;
    let target = args.target.target();
    let mut remaining = Vec::new();
    for installation in std::mem::take(&mut file.installations) {
        match simulator.uninstall_connect(&target, &installation).await {
            Ok(()) => println!(
                "uninstalled from {} (client key {})",
                installation.site_base_url, installation.client_key
            ),
            Err(err) => {
                eprintln!(
                    "could not uninstall {}: {:#}",
                    installation.client_key,
                    anyhow::Error::from(err)
                );
                remaining.push(installation);
            }
        }
    }
    let failed = remaining.len();
    file.installations = remaining;
    file.write(path)?;
    if failed > 0 {
        bail!(
            "{failed} installation(s) are still installed; they stay in {}",
            path.display()
        );
    }
    Ok(())
}
