//! One running path for ingress tests: the Jira simulator plays Atlassian, onboarding takes the
//! signed installs into a fresh Postgres database, and an ingress follows that database and
//! produces to topics of the test's own on the stack's broker.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use accounts_store::installations::{self, NewInstallation, Source};
use contracts::Envelope;
use jira_simulator::{
    ConnectInstallation, DeliveryOptions, ForgeInstallation, Simulator, SimulatorConfig, Target,
    WorkspaceSpec,
};
use rdkafka::{
    ClientConfig, Message,
    consumer::{Consumer, StreamConsumer},
};
use test_kit::{Stack, TestApp, eventually, unique};

pub const PUBLIC_BASE_URL: &str = "https://metafrazo.test";

pub struct Harness {
    pub sim: Simulator,
    pub target: Target,
    pub onboarding: TestApp,
    pub ingress: TestApp,
    pub raw_topic: String,
    pub dead_letter_topic: String,
    pub brokers: String,
    pub pool: deadpool_postgres::Pool,
    pub cipher: service_runtime::secret_cipher::SecretCipher,
}

/// Retries are the simulator's business in tests that ask for them; by default one attempt.
pub fn once() -> DeliveryOptions {
    DeliveryOptions {
        max_retries: 0,
        timeout: Duration::from_secs(10),
        backoff: Duration::from_millis(10),
        identifier: None,
    }
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut ingress::Config)) -> Self {
        Self::start_tweaked(tweak, |_| {}).await
    }

    /// Both services' configs changed before they start.
    pub async fn start_tweaked(
        tweak: impl FnOnce(&mut ingress::Config),
        tweak_onboarding: impl FnOnce(&mut onboarding::Config),
    ) -> Self {
        let stack = Stack::from_env();
        let sim = Simulator::start(SimulatorConfig::default()).await.unwrap();
        let postgres = stack.fresh_postgres().await;

        let mut onboarding_config = onboarding::Config::from_env().unwrap();
        onboarding_config.server.listen_on_free_ports();
        // Tests run the development fallbacks (the simulator, the committed key).
        onboarding_config.server.deployment = service_runtime::config::Deployment::Local;
        onboarding_config.postgres = postgres.clone();
        onboarding_config.atlassian.public_base_url = PUBLIC_BASE_URL.parse().unwrap();
        onboarding_config.atlassian.install_keys_url = sim.install_keys_base_url().unwrap();
        onboarding_config.atlassian.forge.jwks_url = sim.jwks_url().unwrap();
        tweak_onboarding(&mut onboarding_config);
        let pool = onboarding_config.postgres.pool().unwrap();
        let cipher = onboarding_config.cipher.clone();
        let onboarding = TestApp::spawn(onboarding::build(onboarding_config).await.unwrap());

        let raw_topic = unique("raw");
        let dead_letter_topic = unique("dead");
        let mut config = ingress::Config::from_env().unwrap();
        config.server.listen_on_free_ports();
        // Tests run the development fallbacks (the simulator, the committed key).
        config.server.deployment = service_runtime::config::Deployment::Local;
        config.postgres = postgres;
        config.topics.raw = raw_topic.clone();
        config.topics.dead_letter = dead_letter_topic.clone();
        config.topics.raw_partitions = 2;
        config.verify.public_base_url = PUBLIC_BASE_URL.parse().unwrap();
        config.verify.forge.jwks_url = sim.jwks_url().unwrap();
        tweak(&mut config);
        let brokers = config.kafka.brokers.clone();
        service_runtime::kafka_topics::ensure(
            &brokers,
            &[
                service_runtime::kafka_topics::TopicSpec {
                    name: &raw_topic,
                    partitions: 2,
                },
                service_runtime::kafka_topics::TopicSpec {
                    name: &dead_letter_topic,
                    partitions: 1,
                },
            ],
        )
        .await
        .unwrap();
        let ingress = TestApp::spawn(ingress::build(config).await.unwrap());
        ingress.wait_until_ready().await;
        let target = Target::new(
            onboarding.address.parse().unwrap(),
            ingress.address.parse().unwrap(),
        );
        Self {
            sim,
            target,
            onboarding,
            ingress,
            raw_topic,
            dead_letter_topic,
            brokers,
            pool,
            cipher,
        }
    }

    /// A signed Connect install through onboarding, once ingress has heard of it.
    pub async fn install_connect(&self) -> ConnectInstallation {
        let installation = self
            .sim
            .install_connect(&self.target, &WorkspaceSpec::random())
            .await
            .unwrap();
        self.wait_until_known(|| async {
            self.sim
                .send_connect_event(&self.target, &installation, &probe_event(), once())
                .await
                .unwrap()
                .statuses()
        })
        .await;
        installation
    }

    /// A Forge installation, stored as onboarding's Forge lifecycle will store it.
    pub async fn install_forge(&self) -> ForgeInstallation {
        let installation = self.sim.new_forge_installation();
        let client = self.pool.get().await.unwrap();
        installations::record_install(
            &client,
            &NewInstallation {
                source: Source::Forge,
                client_key: &installation.installation_id,
                base_url: &installation.site_url,
                cloud_id: Some(&installation.cloud_id),
                encrypted_secret: None,
                installer_account_id: None,
                display_name: "forge test site",
                api_base_url: Some(&installation.api_base_url),
                encrypted_system_token: None,
            },
        )
        .await
        .unwrap()
        .expect("a fresh Forge installation id");
        self.wait_until_known(|| async {
            self.sim
                .send_forge_event(&self.target, &installation, &forge_probe_event(), once())
                .await
                .unwrap()
                .statuses()
        })
        .await;
        installation
    }

    /// Ingress learns of installations through Postgres notifications: this waits (bounded)
    /// until a probe event stops being refused as unknown.
    async fn wait_until_known<F, Fut>(&self, probe: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Vec<Option<u16>>>,
    {
        eventually(
            Duration::from_secs(5),
            "ingress to learn of the installation",
            || async {
                let statuses = probe().await;
                if statuses.last() == Some(&Some(202)) {
                    Ok(())
                } else {
                    Err(format!("the probe was answered {statuses:?}"))
                }
            },
        )
        .await;
    }

    /// Every envelope on `topic` whose payload is not a probe, waiting until `count` are there.
    pub async fn envelopes(&self, topic: &str, count: usize) -> Vec<(Envelope, Option<String>)> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", unique("reader"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        consumer.subscribe(&[topic]).unwrap();
        let mut found = Vec::new();
        while found.len() < count {
            let message = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
                .await
                .unwrap_or_else(|_| panic!("only {} of {count} messages on {topic}", found.len()))
                .unwrap();
            let headers = contracts::envelope::message_headers(&message);
            let reason = headers
                .iter()
                .find(|(key, _)| *key == contracts::envelope::header::DEAD_LETTER_REASON)
                .map(|(_, value)| String::from_utf8_lossy(value).into_owned());
            let envelope = Envelope::decode(
                headers.iter().copied(),
                message.payload().unwrap_or_default(),
            )
            .unwrap();
            if !String::from_utf8_lossy(&envelope.payload).contains("metafrazo:probe") {
                assert_eq!(message.key(), Some(envelope.key().as_bytes()));
                found.push((envelope, reason));
            }
        }
        found
    }
}

/// Events the harness sends to learn that ingress knows an installation; readers skip them.
pub fn probe_event() -> serde_json::Value {
    serde_json::json!({"webhookEvent": "metafrazo:probe", "timestamp": 0})
}

pub fn forge_probe_event() -> serde_json::Value {
    serde_json::json!({"eventType": "metafrazo:probe", "timestamp": "0"})
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../shared/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}
