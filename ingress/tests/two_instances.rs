//! Two ingress instances, as behind the front door's load balancing, following one Postgres
//! installations store: an uninstall through Atlassian's signed callback to onboarding stops
//! events at both within a second (each follows the store's notifications, not a poll), and
//! with Postgres cut off from both they keep accepting the installed workspaces' events from
//! what they hold in memory, and stay ready, so a load balancer keeps sending them traffic.

use std::time::Duration;

use jira_simulator::{ConnectInstallation, Simulator, SimulatorConfig, Target, WorkspaceSpec};
use serde_json::Value;
use test_kit::{Stack, TcpGate, TestApp, eventually};

mod support;
use support::{PUBLIC_BASE_URL, fixture, once, probe_event};

struct TwoInstances {
    sim: Simulator,
    _onboarding: TestApp,
    /// Between both ingress instances and Postgres; onboarding reaches Postgres directly.
    gate: TcpGate,
    ingresses: [TestApp; 2],
    /// Onboarding, and ingress instance 0 or 1.
    targets: [Target; 2],
}

impl TwoInstances {
    async fn start() -> Self {
        let stack = Stack::from_env();
        let sim = Simulator::start(SimulatorConfig::default()).await.unwrap();
        let postgres = stack.fresh_postgres().await;
        let (gate, gated) = TcpGate::for_postgres(&postgres).await;

        let mut onboarding_config = onboarding::Config::from_env().unwrap();
        onboarding_config.server.listen_on_free_ports();
        // Tests run the development fallbacks (the simulator, the committed key).
        onboarding_config.server.deployment = service_runtime::config::Deployment::Local;
        onboarding_config.postgres = postgres;
        onboarding_config.atlassian.public_base_url = PUBLIC_BASE_URL.parse().unwrap();
        onboarding_config.atlassian.install_keys_url = sim.install_keys_base_url().unwrap();
        let onboarding = TestApp::spawn(onboarding::build(onboarding_config).await.unwrap());

        let brokers = stack.kafka.brokers.clone();
        let topics = test_kit::fresh_topics(&brokers, 2).await;
        let start_ingress = || async {
            let mut config = ingress::Config::from_env().unwrap();
            config.server.listen_on_free_ports();
            config.server.deployment = service_runtime::config::Deployment::Local;
            config.postgres = gated.clone();
            config.topics = topics.clone();
            config.verify.public_base_url = PUBLIC_BASE_URL.parse().unwrap();
            config.verify.forge.jwks_url = sim.jwks_url().unwrap();
            // Far longer than the test: what an instance learns, it learns from notifications
            // (or from the full reload after a reconnect), never from the periodic resync.
            config.installations_resync = Duration::from_secs(3600);
            let ingress = TestApp::spawn(ingress::build(config).await.unwrap());
            ingress.wait_until_ready().await;
            ingress
        };
        let ingresses = [start_ingress().await, start_ingress().await];
        let targets = [0, 1].map(|n| {
            Target::new(
                onboarding.address.parse().unwrap(),
                ingresses[n].address.parse().unwrap(),
            )
        });
        Self {
            sim,
            _onboarding: onboarding,
            gate,
            ingresses,
            targets,
        }
    }

    /// A signed Connect install through onboarding, once both instances accept its events.
    async fn install(&self) -> ConnectInstallation {
        let installation = self
            .sim
            .install_connect(&self.targets[0], &WorkspaceSpec::random())
            .await
            .unwrap();
        eventually(
            Duration::from_secs(10),
            "both instances to learn of the installation",
            || async {
                let answers = self.answers(&installation, &probe_event()).await;
                if answers == BOTH_ACCEPT {
                    Ok(())
                } else {
                    Err(format!("probes answered {answers:?}"))
                }
            },
        )
        .await;
        installation
    }

    /// One delivery of `event` to each instance; their answers: `accepted`, the error code of
    /// a refusal (`uninstalled`, `unknown_installation`, …), or the status.
    async fn answers(&self, installation: &ConnectInstallation, event: &Value) -> [String; 2] {
        let mut answers = [String::new(), String::new()];
        for (n, target) in self.targets.iter().enumerate() {
            let delivery = self
                .sim
                .send_connect_event(target, installation, event, once())
                .await
                .unwrap();
            answers[n] = if delivery.is_accepted() {
                ACCEPTED.to_owned()
            } else {
                serde_json::from_str::<Value>(&delivery.last_body)
                    .ok()
                    .and_then(|body| body["error"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| format!("{:?}", delivery.statuses()))
            };
        }
        answers
    }
}

const ACCEPTED: &str = "accepted";
const BOTH_ACCEPT: [&str; 2] = [ACCEPTED, ACCEPTED];
const BOTH_REFUSE: [&str; 2] = ["uninstalled", "uninstalled"];

fn event() -> Value {
    serde_json::from_slice(&fixture("jira/issue_created.json")).unwrap()
}

#[tokio::test]
async fn an_uninstall_stops_events_at_both_instances_within_a_second() {
    let path = TwoInstances::start().await;
    let installation = path.install().await;
    let other = path.install().await;
    path.sim
        .uninstall_connect(&path.targets[1], &installation)
        .await
        .unwrap();
    eventually(
        Duration::from_secs(1),
        "both instances refusing the uninstalled workspace's events",
        || async {
            let answers = path.answers(&installation, &event()).await;
            if answers == BOTH_REFUSE {
                Ok(())
            } else {
                Err(format!("answered {answers:?}"))
            }
        },
    )
    .await;
    // Only that workspace: the other one's events are still taken by both.
    assert_eq!(path.answers(&other, &event()).await, BOTH_ACCEPT);
}

#[tokio::test]
async fn with_postgres_away_both_instances_keep_accepting_installed_workspaces() {
    let path = TwoInstances::start().await;
    let installation = path.install().await;
    let leaving = path.install().await;
    // Cuts the instances' notification connections and refuses their reconnects.
    path.gate.close().await;
    // Long enough for each instance's follower to fail and retry its connection several times.
    let away_until = tokio::time::Instant::now() + Duration::from_secs(4);
    let mut rounds = 0;
    while tokio::time::Instant::now() < away_until {
        assert_eq!(
            path.answers(&installation, &event()).await,
            BOTH_ACCEPT,
            "an installed workspace's event while Postgres is away (round {rounds})"
        );
        for ingress in &path.ingresses {
            ingress.assert_ready().await;
        }
        rounds += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Uninstalled meanwhile (onboarding still reaches Postgres): the instances cannot hear the
    // notification, so they learn it from the full reload once they reconnect.
    path.sim
        .uninstall_connect(&path.targets[0], &leaving)
        .await
        .unwrap();
    path.gate.open();
    eventually(
        Duration::from_secs(15),
        "both instances refusing the workspace uninstalled while they could not hear it",
        || async {
            let answers = path.answers(&leaving, &event()).await;
            if answers == BOTH_REFUSE {
                Ok(())
            } else {
                Err(format!("answered {answers:?}"))
            }
        },
    )
    .await;
    assert_eq!(path.answers(&installation, &event()).await, BOTH_ACCEPT);
}
