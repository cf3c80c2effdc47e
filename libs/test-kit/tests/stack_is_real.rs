//! The local stack is made of real servers: a round trip through each of them with the client
//! crate the services use, Prometheus scraping every service, and promtool accepting what each
//! service exposes. Runs against the stack `compose/local up` started.

use std::time::Duration;

use rdkafka::{
    ClientConfig, Message,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::{Consumer, StreamConsumer},
    producer::{FutureProducer, FutureRecord},
};
use test_kit::{Stack, unique};

#[tokio::test]
async fn a_message_makes_a_round_trip_through_the_broker() {
    let stack = Stack::from_env();
    let topic = unique("roundtrip");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &stack.kafka.brokers)
        .create()
        .unwrap();
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    assert!(created.iter().all(Result::is_ok), "{created:?}");

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &stack.kafka.brokers)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .create()
        .unwrap();
    let payload = format!("hello from {topic}");
    producer
        .send(
            FutureRecord::to(&topic)
                .key("installation-1")
                .payload(&payload),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(err, _)| err)
        .unwrap();

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &stack.kafka.brokers)
        .set("group.id", unique("group"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("a message within 30 s")
        .unwrap();
    assert_eq!(message.key(), Some(&b"installation-1"[..]));
    assert_eq!(message.payload(), Some(payload.as_bytes()));
}

#[derive(Debug, PartialEq, clickhouse::Row, serde::Serialize, serde::Deserialize)]
struct Reading {
    id: u32,
    name: String,
}

#[tokio::test]
async fn rows_inserted_into_clickhouse_are_selected_back() {
    let stack = Stack::from_env();
    let client = stack.fresh_clickhouse().await.client();
    client
        .query("CREATE TABLE readings (id UInt32, name String) ENGINE = MergeTree ORDER BY id")
        .execute()
        .await
        .unwrap();
    let rows = vec![
        Reading {
            id: 2,
            name: "two".into(),
        },
        Reading {
            id: 1,
            name: "one".into(),
        },
    ];
    let mut insert = client.insert::<Reading>("readings").await.unwrap();
    for row in &rows {
        insert.write(row).await.unwrap();
    }
    insert.end().await.unwrap();

    let selected = client
        .query("SELECT ?fields FROM readings WHERE id >= ? ORDER BY id")
        .bind(1)
        .fetch_all::<Reading>()
        .await
        .unwrap();
    assert_eq!(
        selected,
        vec![
            Reading {
                id: 1,
                name: "one".into()
            },
            Reading {
                id: 2,
                name: "two".into()
            }
        ]
    );
}

#[tokio::test]
async fn postgres_answers_a_query_through_the_pool() {
    let stack = Stack::from_env();
    let pool = stack.fresh_postgres().await.pool().unwrap();
    let client = pool.get().await.unwrap();
    client
        .batch_execute("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)")
        .await
        .unwrap();
    client
        .execute("INSERT INTO notes VALUES ($1, $2)", &[&7, &"kept"])
        .await
        .unwrap();
    let row = client
        .query_one("SELECT body FROM notes WHERE id = $1", &[&7])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "kept");
}

#[tokio::test]
async fn mail_sent_with_lettre_lands_in_the_sink() {
    use lettre::{AsyncTransport, Message as Mail};

    let stack = Stack::from_env();
    let subject = unique("stack test");
    let mail = Mail::builder()
        .from("MetaFrazo <noreply@metafrazo.test>".parse().unwrap())
        .to("admin@example.test".parse().unwrap())
        .subject(&subject)
        .body("delivered".to_owned())
        .unwrap();
    stack.smtp.transport().unwrap().send(mail).await.unwrap();

    // The sink has written the message before it answers 250 to the client.
    let inbox = stack.dir.join("mail/new");
    let found = std::fs::read_dir(&inbox)
        .unwrap_or_else(|err| panic!("{}: {err}", inbox.display()))
        .filter_map(Result::ok)
        .any(|entry| {
            std::fs::read_to_string(entry.path()).is_ok_and(|body| body.contains(&subject))
        });
    assert!(
        found,
        "no message with subject {subject:?} in {}",
        inbox.display()
    );
}

/// Each service and the variable of its admin port, where its metrics are.
const SERVICES: [(&str, &str); 4] = [
    ("ingress", "INGRESS_ADMIN_ADDR"),
    ("onboarding", "ONBOARDING_ADMIN_ADDR"),
    ("dashboards", "DASHBOARDS_ADMIN_ADDR"),
    ("pipeline", "PIPELINE_ADMIN_ADDR"),
];

fn admin_addr(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        let port = match variable {
            "INGRESS_ADMIN_ADDR" => 9180,
            "ONBOARDING_ADMIN_ADDR" => 9181,
            "DASHBOARDS_ADMIN_ADDR" => 9182,
            _ => 9183,
        };
        format!("127.0.0.1:{port}")
    })
}

#[tokio::test]
async fn prometheus_scrapes_every_service_and_finds_it_up() {
    let stack = Stack::from_env();
    let targets: serde_json::Value = reqwest::get(format!(
        "{}/api/v1/targets?state=active",
        stack.prometheus_url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let active = targets["data"]["activeTargets"].as_array().unwrap();
    for (job, _) in SERVICES {
        let target = active
            .iter()
            .find(|target| target["labels"]["job"] == job)
            .unwrap_or_else(|| panic!("Prometheus has no target for {job}: {targets}"));
        assert_eq!(target["health"], "up", "{job}: {target}");
    }
}

#[tokio::test]
async fn promtool_accepts_what_every_service_exposes() {
    for (service, variable) in SERVICES {
        let url = format!("http://{}/metrics", admin_addr(variable));
        let body = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
        assert!(!body.is_empty(), "{service} exposes no metrics");
        let mut promtool = tokio::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("promtool (Debian's prometheus package) on PATH");
        let mut stdin = promtool.stdin.take().unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut stdin, &body)
            .await
            .unwrap();
        drop(stdin);
        let output = promtool.wait_with_output().await.unwrap();
        assert!(
            output.status.success(),
            "promtool rejects {service}'s /metrics: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn the_docker_compose_file_is_valid() {
    let compose_file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../compose/docker-compose.yml"
    );
    let output = std::process::Command::new("docker-compose")
        .args(["-f", compose_file, "config", "--quiet"])
        .output()
        .expect("docker-compose (Debian's package) on PATH");
    assert!(
        output.status.success(),
        "docker-compose rejects {compose_file}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
