//! The real onboarding and ingress, in process, on the running stack's Postgres (a fresh database),
//! broker (topics of the test's own) and SMTP sink, trusting a given simulator as Atlassian: what
//! the CLI's Forge install, stream and uninstall are checked against.

#![allow(dead_code, unreachable_pub)] // Only the CLI tests use it.

use service_runtime::retry::RetryPolicy;
use std::time::Duration;

use jira_simulator::{Simulator, SimulatorConfig, Target};
use service_runtime::kafka_topics::{TopicSpec, ensure};
use test_kit::{Stack, TestApp, unique};

/// The public URL the services believe they are behind: install tokens' `aud` and qsh base.
pub const PUBLIC_BASE_URL: &str = "https://metafrazo.test";

pub struct Services {
    pub onboarding: TestApp,
    pub ingress: TestApp,
}

impl Services {
    /// Both services, trusting `atlassian`'s keys and asking it for installers' addresses.
    pub async fn start(atlassian: &Simulator) -> Self {
        let stack = Stack::from_env();
        let postgres = stack.fresh_postgres().await;
        let forge_app_id = SimulatorConfig::default().forge.app_ari;
        let jwks_url = atlassian.jwks_url().expect("the simulator serves");

        let mut onboarding = onboarding::Config::from_env().expect("onboarding config");
        onboarding.server.listen_on_free_ports();
        // Tests run the development fallbacks (the simulator, the committed key).
        onboarding.server.deployment = service_runtime::config::Deployment::Local;
        onboarding.postgres = postgres.clone();
        onboarding.atlassian.public_base_url = PUBLIC_BASE_URL.parse().expect("url");
        onboarding.atlassian.install_keys_url = atlassian
            .install_keys_base_url()
            .expect("the simulator serves");
        onboarding.atlassian.api_base_override = atlassian.url();
        onboarding.atlassian.forge.jwks_url = jwks_url.clone();
        onboarding.atlassian.forge.app_id = forge_app_id.clone();
        // The setup email is what the test waits for: poll the outbox often.
        onboarding.mail.poll_interval = Duration::from_millis(200);
        onboarding.mail.retry =
            RetryPolicy::new(Duration::from_millis(200), Duration::from_millis(500));
        // Onboarding migrates the database ingress then follows.
        let onboarding = TestApp::spawn(
            onboarding::build(onboarding)
                .await
                .expect("onboarding builds"),
        );

        let (raw, dead_letter) = (unique("raw"), unique("dead"));
        let mut ingress = ingress::Config::from_env().expect("ingress config");
        ingress.server.listen_on_free_ports();
        // Tests run the development fallbacks (the simulator, the committed key).
        ingress.server.deployment = service_runtime::config::Deployment::Local;
        ingress.postgres = postgres;
        ingress.topics.raw = raw.clone();
        ingress.topics.dead_letter = dead_letter.clone();
        ingress.topics.raw_partitions = 1;
        ingress.verify.public_base_url = PUBLIC_BASE_URL.parse().expect("url");
        ingress.verify.forge.jwks_url = jwks_url;
        ingress.verify.forge.app_id = forge_app_id;
        ensure(
            &ingress.kafka.brokers,
            &[
                TopicSpec {
                    name: &raw,
                    partitions: 1,
                },
                TopicSpec {
                    name: &dead_letter,
                    partitions: 1,
                },
            ],
        )
        .await
        .expect("the test's topics");
        let ingress = TestApp::spawn(ingress::build(ingress).await.expect("ingress builds"));
        ingress.wait_until_ready().await;
        Self {
            onboarding,
            ingress,
        }
    }

    pub fn target(&self) -> Target {
        Target::new(
            self.onboarding.address.parse().expect("url"),
            self.ingress.address.parse().expect("url"),
        )
    }
}
