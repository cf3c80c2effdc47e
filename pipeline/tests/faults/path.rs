//! The whole path a fault is injected into: the Jira simulator signs installs and events,
//! onboarding and ingress run in-process, the pipeline runs as real processes (so it can be
//! killed with SIGKILL), and every store is reached through a gate the test can close. Each
//! fault test gets its own Postgres database, ClickHouse database and broker, so faults run
//! beside the rest of the suite without disturbing it.

use std::{collections::HashSet, path::PathBuf, sync::Arc, time::Duration};

use contracts::envelope::header;
use jira_simulator::{
    Simulator, SimulatorConfig, Target,
    in_process::{self, InstalledWorkspace},
};
use rdkafka::{
    ClientConfig, Message,
    consumer::{Consumer, StreamConsumer},
    message::Headers,
};
use service_runtime::connections::ClickHouseConfig;
use test_kit::{Stack, TcpGate, TestApp, TestBroker, eventually, free_port, fresh_topics, unique};

/// How a pipeline joins its consumer group.
#[derive(Clone, Copy)]
pub(crate) enum Membership {
    /// A fixed `group.instance.id`, as the stack runs its one pipeline: a restarted instance
    /// takes its partitions back at once.
    Static,
    /// No instance id, as for several instances: on tansu 0.6 a group of two static members
    /// read nothing for about a minute after forming, dynamic members at once.
    Dynamic,
}

struct PipelineProcess {
    child: Option<tokio::process::Child>,
    membership: Membership,
    /// Its admin port: health, readiness and metrics.
    addr: String,
}
const RAW_PARTITIONS: i32 = 4;

/// The path's broker: always one of the test's own, so a fault is judged on its own traffic,
/// not slowed by the rest of the suite sharing the stack's broker.
pub(crate) enum Broker {
    /// Memory storage: fast, for faults that leave the broker alone.
    Memory,
    /// Durable SQLite storage, which the test may stop and start again.
    Durable,
}

pub(crate) struct FaultPath {
    pub(crate) sim: Arc<Simulator>,
    pub(crate) target: Target,
    pub(crate) onboarding: TestApp,
    /// Runs for as long as the path does; the simulator reaches it through `target`.
    _ingress: TestApp,
    /// Between onboarding and ingress and their Postgres database.
    pub(crate) postgres_gate: TcpGate,
    /// Between the pipelines and ClickHouse.
    pub(crate) clickhouse_gate: TcpGate,
    /// Straight to ClickHouse, for counting what was stored.
    pub(crate) clickhouse: ClickHouseConfig,
    broker: TestBroker,
    brokers: String,
    raw_topic: String,
    dead_letter_topic: String,
    group: String,
    pipelines: Vec<PipelineProcess>,
    logs: PathBuf,
}

impl FaultPath {
    pub(crate) async fn start(name: &'static str, broker: Broker) -> Self {
        let stack = Stack::from_env();
        let sim = Arc::new(Simulator::start(SimulatorConfig::default()).await.unwrap());
        let (postgres_gate, postgres) = TcpGate::for_postgres(&stack.fresh_postgres().await).await;
        let clickhouse = stack.fresh_clickhouse().await;
        let (clickhouse_gate, _) = TcpGate::for_clickhouse(&clickhouse).await;
        let broker = match broker {
            Broker::Memory => TestBroker::start_in_memory().await,
            Broker::Durable => TestBroker::start().await,
        };
        let brokers = broker.brokers.clone();
        let topics = fresh_topics(&brokers, RAW_PARTITIONS).await;

        let onboarding = in_process::start_onboarding(&sim, postgres.clone(), |_| {})
            .await
            .unwrap();

        let ingress = in_process::start_ingress(&sim, postgres, &brokers, &topics, |_| {})
            .await
            .unwrap();

        let target = Target::new(
            onboarding.address.parse().unwrap(),
            ingress.address.parse().unwrap(),
        );
        let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("faults")
            .join(unique(name));
        std::fs::create_dir_all(&logs).unwrap();
        Self {
            sim,
            target,
            onboarding,
            _ingress: ingress,
            postgres_gate,
            clickhouse_gate,
            clickhouse,
            broker,
            brokers,
            raw_topic: topics.raw,
            dead_letter_topic: topics.dead_letter,
            group: unique("group"),
            pipelines: Vec::new(),
            logs,
        }
    }

    /// A signed Connect install through onboarding, once ingress accepts its events; the probes
    /// that found that out (refused as unknown until ingress heard of it) count in the tally.
    pub(crate) async fn install(&self) -> InstalledWorkspace {
        in_process::install_workspace(&self.sim, &self.target)
            .await
            .unwrap()
    }

    /// Starts a pipeline process (the real binary) on the path's topics; answers its number.
    pub(crate) fn start_pipeline(&mut self, membership: Membership) -> usize {
        let number = self.pipelines.len();
        let process = self.spawn_pipeline(number, membership);
        self.pipelines.push(process);
        number
    }

    /// Starts pipeline `number` again after a kill, as a supervisor would: the same member of
    /// the group, so it takes its partitions back at once.
    pub(crate) fn restart_pipeline(&mut self, number: usize) {
        self.pipelines[number] = self.spawn_pipeline(number, self.pipelines[number].membership);
    }

    fn spawn_pipeline(&self, number: usize, membership: Membership) -> PipelineProcess {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("pipeline-{number}.log")))
            .unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
            .env("PIPELINE_ADMIN_ADDR", &addr)
            .env(
                "CLICKHOUSE_URL",
                format!("http://{}", self.clickhouse_gate.addr),
            )
            .env("CLICKHOUSE_DATABASE", &self.clickhouse.database)
            .env("KAFKA_BROKERS", &self.brokers)
            .env("KAFKA_RAW_TOPIC", &self.raw_topic)
            .env("KAFKA_DEAD_LETTER_TOPIC", &self.dead_letter_topic)
            .env("KAFKA_CONSUMER_GROUP", &self.group)
            .env(
                "KAFKA_GROUP_INSTANCE_ID",
                match membership {
                    Membership::Static => format!("pipeline-{number}"),
                    Membership::Dynamic => String::new(),
                },
            )
            // Small, frequent batches, so a fault lands between inserts and offset commits.
            .env("BATCH_MAX_ROWS", "100")
            .env("BATCH_MAX_WAIT_MS", "100")
            // Several inserts under way, so a kill also lands between them: offsets must still
            // be stored in order.
            .env("INSERTS_IN_FLIGHT", "3")
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start the pipeline binary");
        PipelineProcess {
            child: Some(child),
            membership,
            addr,
        }
    }

    /// Waits (bounded) until pipeline `number` has consumed from its partitions: the group has
    /// settled, so a fault lands on a pipeline at work rather than on one still joining.
    pub(crate) async fn wait_until_consuming(&self, number: usize) {
        let url = format!("http://{}/metrics", self.pipelines[number].addr);
        eventually(
            Duration::from_secs(60),
            &format!("pipeline {number} consuming (logs in {})", self.logs()),
            || async {
                let consumed = match reqwest::get(&url).await {
                    Ok(response) => response.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                }
                .lines()
                .filter(|line| line.starts_with(pipeline::metrics::CONSUMED_TOTAL))
                .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>();
                if consumed > 0.0 {
                    Ok(())
                } else {
                    Err("nothing consumed")
                }
            },
        )
        .await;
    }

    /// SIGKILL: no flush, no offset commit, as a crash or the OOM killer.
    pub(crate) async fn kill_pipeline(&mut self, number: usize) {
        if let Some(mut child) = self.pipelines[number].child.take() {
            child.kill().await.expect("kill the pipeline");
        }
    }

    pub(crate) async fn stop_broker(&mut self) {
        self.broker.stop().await;
    }

    pub(crate) async fn start_broker(&mut self) {
        self.broker.start_again().await;
    }

    /// MetaFrazo's id of the workspace whose accepted probe is among `probes`, once stored.
    pub(crate) async fn installation_of(&self, probes: &[jira_simulator::Delivery]) -> String {
        let accepted: Vec<String> = probes
            .iter()
            .filter(|probe| probe.is_accepted())
            .map(|probe| probe.body_sha256.clone())
            .collect();
        let client = self.clickhouse.client();
        eventually(
            Duration::from_secs(60),
            "the new workspace's probe stored",
            || async {
                client
                    .query("SELECT installation_id FROM events WHERE has(?, delivery_id) LIMIT 1")
                    .bind(&accepted)
                    .fetch_optional::<String>()
                    .await
                    .ok()
                    .flatten()
                    .ok_or("not yet")
            },
        )
        .await
    }

    /// Makes ClickHouse refuse every later row of `installation` with a data error (a check
    /// column that throws), as it refuses a workspace's rows it cannot take.
    pub(crate) async fn refuse_rows_of(&self, installation: &str) {
        self.clickhouse
            .client()
            .query(
                "ALTER TABLE events ADD COLUMN refused UInt8 MATERIALIZED throwIf(installation_id = ?)",
            )
            .bind(installation)
            .execute()
            .await
            .expect("add the refusing column");
    }

    /// The delivery ids on the dead-letter topic with a reason starting `reason`, read until
    /// `count` are found (bounded).
    pub(crate) async fn dead_lettered(&self, reason: &str, count: usize) -> HashSet<String> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", unique("dead-letter-reader"))
            .set("auto.offset.reset", "earliest")
            .create()
            .expect("a dead-letter reader");
        consumer
            .subscribe(&[&self.dead_letter_topic])
            .expect("subscribe to the dead letters");
        let mut found = HashSet::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while found.len() < count {
            let Ok(message) = tokio::time::timeout_at(deadline, consumer.recv()).await else {
                break;
            };
            let message = message.expect("a dead letter");
            let header = |name: &str| {
                message
                    .headers()
                    .and_then(|headers| headers.iter().find(|header| header.key == name))
                    .and_then(|header| header.value)
                    .map(|value| String::from_utf8_lossy(value).into_owned())
                    .unwrap_or_default()
            };
            if header(header::DEAD_LETTER_REASON).starts_with(reason) {
                found.insert(header(header::DELIVERY_ID));
            }
        }
        found
    }

    /// Where the pipelines' logs are, for a failure message.
    pub(crate) fn logs(&self) -> String {
        self.logs.display().to_string()
    }
}

/// How long a store stays down in the outage faults: `FAULT_OUTAGE_SECS`, 30 by default.
pub(crate) fn outage() -> Duration {
    Duration::from_secs(
        std::env::var("FAULT_OUTAGE_SECS")
            .ok()
            .and_then(|secs| secs.parse().ok())
            .unwrap_or(30),
    )
}
