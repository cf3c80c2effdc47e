//! Dev-only, behind the `in-process` feature: the real onboarding and ingress started in the
//! calling process beside a simulator, and a workspace installed through them until ingress
//! takes its events. The benchmarks, the fault suite and the pipeline's path tests share it
//! instead of each keeping a copy.
//!
//! It configures and starts the services; nothing the simulator checks or signs calls it, so the
//! independence described in the crate's documentation still holds.

use std::{sync::Mutex, time::Duration};

use anyhow::Context;
use rand::SeedableRng;
use service_runtime::{
    config::Deployment, connections::PostgresConfig, kafka_topics::TopicsConfig,
};
use test_kit::{TestApp, eventually};

use crate::{
    ConnectInstallation, Delivery, DeliveryOptions, EventFixtures, Simulator, Target, WorkspaceSpec,
};

/// The public URL the services under test believe they are behind: install tokens' `aud` and
/// every qsh's base. Its path is empty, so a token's qsh covers an event route's path as it is.
/// Ingress must be configured with the same.
pub const PUBLIC_BASE_URL: &str = "https://metafrazo.test";

/// The event kind of the probes: one the views count, so a test tallying every delivery can
/// count the accepted probe like any other event.
pub const PROBE_KIND: &str = "issue_created";

/// How long ingress may take to hear of a new installation (a Postgres notification, then its
/// topics created in the background) on a machine busy with the rest of the suite.
const KNOWN_WITHIN: Duration = Duration::from_secs(30);

/// Onboarding on `postgres` on a port of its own, trusting `sim`'s install keys, with
/// [`PUBLIC_BASE_URL`]; `configure` changes anything else before it starts. Building it
/// migrates the database, which is then the one ingress follows.
pub async fn start_onboarding(
    sim: &Simulator,
    postgres: PostgresConfig,
    configure: impl FnOnce(&mut onboarding::Config),
) -> anyhow::Result<TestApp> {
    let mut config = onboarding::Config::from_env()?;
    config.server.listen_on_free_ports();
    // Tests run the development fallbacks (the simulator, the committed key).
    config.server.deployment = Deployment::Local;
    config.postgres = postgres;
    config.atlassian.public_base_url = PUBLIC_BASE_URL.parse()?;
    config.atlassian.install_keys_url = sim
        .install_keys_base_url()
        .context("the simulator serves no install keys")?;
    configure(&mut config);
    Ok(TestApp::spawn(onboarding::build(config).await?))
}

/// Ingress on onboarding's `postgres` (whose installations it follows) and `brokers`, writing to
/// `topics`, with [`PUBLIC_BASE_URL`] and `sim`'s Forge keys; `configure` changes anything else
/// before it starts. Answers once ingress reports ready.
pub async fn start_ingress(
    sim: &Simulator,
    postgres: PostgresConfig,
    brokers: &str,
    topics: &TopicsConfig,
    configure: impl FnOnce(&mut ingress::Config),
) -> anyhow::Result<TestApp> {
    let mut config = ingress::Config::from_env()?;
    config.server.listen_on_free_ports();
    // Tests run the development fallbacks (the simulator, the committed key).
    config.server.deployment = Deployment::Local;
    config.postgres = postgres;
    config.kafka.brokers = brokers.to_owned();
    config.topics = topics.clone();
    config.verify.public_base_url = PUBLIC_BASE_URL.parse()?;
    config.verify.forge.jwks_url = sim
        .jwks_url()
        .context("the simulator serves no Forge keys")?;
    configure(&mut config);
    let ingress = TestApp::spawn(ingress::build(config).await?);
    ingress.wait_until_ready().await;
    Ok(ingress)
}

/// A Connect installation ingress accepts events for, and the probes sent to find that out.
pub struct InstalledWorkspace {
    pub installation: ConnectInstallation,
    /// Single-attempt [`PROBE_KIND`] deliveries, in order: any refused as unknown, then the one
    /// accepted (which the pipeline stores like any other event).
    pub probes: Vec<Delivery>,
}

/// Installs a random workspace through `target`'s onboarding as Jira does, then sends probe
/// events to `target`'s ingress until one is accepted: ingress learns of the installation in
/// the background. Panics naming the last answer if it does not within 30 s.
pub async fn install_workspace(
    sim: &Simulator,
    target: &Target,
) -> anyhow::Result<InstalledWorkspace> {
    let installation = sim
        .install_connect(target, &WorkspaceSpec::random())
        .await?;
    let fixtures = EventFixtures::load(&EventFixtures::default_dir())?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let once = DeliveryOptions {
        max_retries: 0,
        ..DeliveryOptions::default()
    };
    let probes = Mutex::new(Vec::new());
    eventually(
        KNOWN_WITHIN,
        "ingress to accept the new installation's events",
        || {
            let payload = fixtures.generate_named(PROBE_KIND, &mut rng);
            let (installation, once, probes) = (&installation, once.clone(), &probes);
            async move {
                let payload = payload.ok_or(format!("no {PROBE_KIND} fixture"))?;
                let delivery = sim
                    .send_connect_event(target, installation, &payload, once)
                    .await
                    .map_err(|err| err.to_string())?;
                let accepted = delivery.is_accepted();
                let answered = format!("{:?} {}", delivery.statuses(), delivery.last_body);
                probes.lock().expect("probes").push(delivery);
                if accepted { Ok(()) } else { Err(answered) }
            }
        },
    )
    .await;
    Ok(InstalledWorkspace {
        installation,
        probes: probes.into_inner().expect("probes"),
    })
}
