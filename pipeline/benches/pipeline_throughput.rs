//! How fast the pipeline drains a backlog, next to the fastest ClickHouse can take the same rows:
//! events already in a private memory-storage broker are drained by the release `pipeline`
//! binary into a fresh ClickHouse database (once with the default batch size, once with an
//! alternative), then the same rows, normalized in this process and written to TabSeparated
//! files, are inserted by `clickhouse-client` into another fresh database. It prints figures and
//! asserts none. `cargo bench -p pipeline --bench pipeline_throughput` needs the local stack's
//! ClickHouse (and `clickhouse-client`) and the tansu binary; about a minute, all on 127.0.0.1.

use std::{
    fmt::Write as _,
    io::Write as _,
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use contracts::{Envelope, Source};
use jira_simulator::EventFixtures;
use pipeline::normalize::{self, Delivery};
use rand::{SeedableRng, rngs::StdRng};
use rdkafka::{
    ClientConfig,
    consumer::{Consumer, StreamConsumer},
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
};
use service_runtime::connections::ClickHouseConfig;
use test_kit::{Stack, TestBroker, free_port, fresh_topics, procfs, unique};
use tokio::process::Command;
use warehouse::{EventRow, FieldChangeRow};

const EVENTS: usize = 100_000;
/// Distinct bodies, drawn from the shared fixtures' mix (2–8 KB each) with a fixed seed.
const BODY_POOL: usize = 2_000;
const INSTALLATIONS: usize = 50;
/// What a fresh stack's raw topic gets: the default `KAFKA_RAW_PARTITIONS`.
const PARTITIONS: i32 = service_runtime::kafka_topics::DEFAULT_RAW_PARTITIONS;
/// The pipeline's defaults, and the alternatives tried against them.
const SETTINGS: [Settings; 4] = [
    Settings {
        rows: None,
        inserts_in_flight: None,
    },
    Settings {
        rows: Some(20_000),
        inserts_in_flight: None,
    },
    Settings {
        rows: Some(5_000),
        inserts_in_flight: Some(2),
    },
    Settings {
        rows: Some(5_000),
        inserts_in_flight: Some(3),
    },
];

/// `BATCH_MAX_ROWS` and `INSERTS_IN_FLIGHT`; `None` leaves the pipeline's default.
#[derive(Clone, Copy)]
struct Settings {
    rows: Option<usize>,
    inserts_in_flight: Option<usize>,
}

impl Settings {
    fn label(self) -> String {
        let rows = self
            .rows
            .map_or("default rows".to_owned(), |rows| format!("{rows} rows"));
        let inserts = self
            .inserts_in_flight
            .map_or("default inserts".to_owned(), |n| format!("{n} inserts"));
        format!("{rows}, {inserts}")
    }
}
/// A drain that has not finished by then is reported as such.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);
/// The broker's own read rate, with librdkafka's defaults and with a shorter fetch wait.
const BARE_READS: [(&str, &[(&str, &str)]); 2] = [
    ("default fetch settings", &[]),
    ("fetch.wait.max.ms=10", &[("fetch.wait.max.ms", "10")]),
];
const TARGET_SHARE_OF_CEILING: f64 = 0.5;
const TARGET_RSS_MIB: f64 = 256.0;

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    println!(
        "pipeline_throughput: {EVENTS} events in a private memory broker ({PARTITIONS} partitions, \
         {INSTALLATIONS} installations) drained into ClickHouse, vs clickhouse-client from a file"
    );
    let mut broker = TestBroker::start_in_memory().await;
    let stack = Stack::from_env();
    let mut databases = Vec::new();
    let outcome = measure(&broker.brokers, &stack, &mut databases).await;
    for database in databases {
        let _ = database
            .client()
            .with_database("default")
            .query(&format!("DROP DATABASE IF EXISTS {}", database.database))
            .execute()
            .await;
    }
    broker.stop().await;
    outcome
}

async fn measure(
    brokers: &str,
    stack: &Stack,
    databases: &mut Vec<ClickHouseConfig>,
) -> anyhow::Result<()> {
    let topics = fresh_topics(brokers, PARTITIONS).await;
    let (raw, dead) = (topics.raw, topics.dead_letter);
    let events = Events::generate()?;
    let started = Instant::now();
    events.produce(brokers, &raw).await?;
    println!(
        "  {EVENTS} events ({:.1} MB of bodies, {:.0} bytes on average) produced in {:.1} s",
        events.body_bytes() as f64 / 1e6,
        events.body_bytes() as f64 / EVENTS as f64,
        started.elapsed().as_secs_f64()
    );

    for (label, settings) in BARE_READS {
        let read = bare_read(brokers, &raw, settings).await?;
        println!(
            "  a bare rdkafka consumer ({label}, no processing) reads them all in {:.2} s: {:.0} events/s",
            read.as_secs_f64(),
            EVENTS as f64 / read.as_secs_f64()
        );
    }

    let mut drains = Vec::new();
    for settings in SETTINGS {
        let database = bench_database(stack).await?;
        databases.push(database.clone());
        warehouse::migrate(&database).await?;
        let drained = drain(brokers, &raw, &dead, &database, settings).await?;
        drains.push((settings, drained));
    }

    let database = bench_database(stack).await?;
    databases.push(database.clone());
    warehouse::migrate(&database).await?;
    let ceiling = ceiling(&events, &database).await?;

    print_report(&drains, &ceiling);
    Ok(())
}

/// The run's events: each a body from the pool, an installation, a unique delivery id.
struct Events {
    bodies: Vec<Vec<u8>>,
    installations: Vec<uuid::Uuid>,
    received_at_ms: i64,
}

impl Events {
    fn generate() -> anyhow::Result<Self> {
        let fixtures = EventFixtures::load(&EventFixtures::default_dir())
            .context("load the Jira event fixtures")?;
        let mut rng = StdRng::seed_from_u64(4);
        let bodies = (0..BODY_POOL)
            .map(|_| serde_json::to_vec(&fixtures.generate(&mut rng)))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            bodies,
            installations: (0..INSTALLATIONS).map(|_| uuid::Uuid::new_v4()).collect(),
            received_at_ms: chrono::Utc::now().timestamp_millis(),
        })
    }

    fn body(&self, n: usize) -> &[u8] {
        &self.bodies[n % self.bodies.len()]
    }

    fn body_bytes(&self) -> usize {
        (0..EVENTS).map(|n| self.body(n).len()).sum()
    }

    /// The envelope ingress would have produced for event `n`, without its payload (the body
    /// is sent from the pool as it is).
    fn envelope(&self, n: usize) -> Envelope {
        Envelope {
            installation_id: self.installations[n % self.installations.len()].into(),
            client_key: contracts::ClientKey::parse("bench-client").unwrap(),
            delivery_id: contracts::DeliveryId::parse(format!("bench-delivery-{n}")).unwrap(),
            retry: 0,
            source: Source::Connect,
            received_at_ms: self.received_at_ms,
            request_id: format!("bench-request-{n}"),
            payload: Vec::new().into(),
        }
    }

    async fn produce(&self, brokers: &str, topic: &str) -> anyhow::Result<()> {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("linger.ms", "20")
            .set("compression.type", "none")
            .create()
            .context("the benchmark's producer")?;
        for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(10_000) {
            let sends = chunk.iter().map(|&n| {
                let envelope = self.envelope(n);
                let producer = &producer;
                async move {
                    let mut headers = OwnedHeaders::new();
                    for (key, value) in envelope.headers() {
                        headers = headers.insert(Header {
                            key,
                            value: Some(value.as_bytes()),
                        });
                    }
                    let key = envelope.key();
                    producer
                        .send(
                            FutureRecord::to(topic)
                                .key(&key)
                                .payload(self.body(n))
                                .headers(headers),
                            Duration::from_secs(30),
                        )
                        .await
                        .map_err(|(err, _)| err)
                }
            });
            for sent in futures::future::join_all(sends).await {
                sent.context("produce an event")?;
            }
        }
        Ok(())
    }
}

/// How fast the broker hands the topic to a consumer that does nothing with it: the pipeline
/// cannot be faster than this.
async fn bare_read(
    brokers: &str,
    topic: &str,
    settings: &[(&str, &str)],
) -> anyhow::Result<Duration> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("bench_bare"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    for (key, value) in settings {
        config.set(*key, *value);
    }
    let consumer: StreamConsumer = config.create().context("the bare consumer")?;
    consumer.subscribe(&[topic])?;
    let started = Instant::now();
    let mut read = 0;
    while read < EVENTS && started.elapsed() < DRAIN_LIMIT {
        match tokio::time::timeout(Duration::from_secs(1), consumer.recv()).await {
            Ok(message) => {
                message.context("the bare consumer's read")?;
                read += 1;
            }
            Err(_elapsed) => continue,
        }
    }
    if read < EVENTS {
        bail!("the bare consumer read only {read} of {EVENTS} in {DRAIN_LIMIT:?}");
    }
    Ok(started.elapsed())
}

struct Drained {
    /// From the process's start until every delivery is countable.
    total: Duration,
    /// From the first rows seen until every delivery is countable, and how many were first seen.
    steady: Duration,
    first_seen: u64,
    finished: bool,
    stored: u64,
    peak_rss_kib: Option<u64>,
    cpu_seconds: Option<f64>,
}

impl Drained {
    fn sustained_per_sec(&self) -> f64 {
        (self.stored - self.first_seen) as f64 / self.steady.as_secs_f64().max(f64::EPSILON)
    }
}

/// The release binary from the topic's start, in a consumer group of its own, until
/// `uniqExact(installation_id, delivery_id)` reaches `EVENTS` (or `DRAIN_LIMIT`).
async fn drain(
    brokers: &str,
    raw: &str,
    dead: &str,
    database: &ClickHouseConfig,
    settings: Settings,
) -> anyhow::Result<Drained> {
    let log = std::env::temp_dir().join(format!("{}.log", unique("bench-pipeline")));
    let mut command = Command::new(env!("CARGO_BIN_EXE_pipeline"));
    command
        .env("PIPELINE_ADMIN_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("KAFKA_BROKERS", brokers)
        .env("KAFKA_RAW_TOPIC", raw)
        .env("KAFKA_DEAD_LETTER_TOPIC", dead)
        .env("KAFKA_CONSUMER_GROUP", unique("bench_group"))
        .env("KAFKA_GROUP_INSTANCE_ID", "bench-pipeline-0")
        .env("CLICKHOUSE_URL", &database.url)
        .env("CLICKHOUSE_DATABASE", &database.database)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).context("create the pipeline's log")?)
        .kill_on_drop(true);
    if let Some(rows) = settings.rows {
        command.env("BATCH_MAX_ROWS", rows.to_string());
    }
    if let Some(inserts) = settings.inserts_in_flight {
        command.env("INSERTS_IN_FLIGHT", inserts.to_string());
    }
    let client = database.client();
    let stored = || async {
        client
            .query("SELECT toUInt64(uniqExact(installation_id, delivery_id)) FROM events")
            .fetch_one::<u64>()
            .await
            .unwrap_or(0)
    };

    let started = Instant::now();
    let mut child = command.spawn().context("start the pipeline binary")?;
    let pid = child.id().context("the pipeline exited at once")?;
    let mut first: Option<(Instant, u64)> = None;
    let mut count = 0;
    while count < EVENTS as u64 && started.elapsed() < DRAIN_LIMIT {
        if let Some(status) = child.try_wait()? {
            bail!("the pipeline exited ({status}); its log: {}", log.display());
        }
        tokio::time::sleep(POLL).await;
        count = stored().await;
        if first.is_none() && count > 0 {
            first = Some((Instant::now(), count));
        }
    }
    let done = Instant::now();
    let peak_rss_kib = procfs::peak_rss_kib(pid);
    let cpu_seconds = procfs::cpu_seconds(pid);
    let _ = child.kill().await;
    let (first_at, first_seen) = first.unwrap_or((done, 0));
    Ok(Drained {
        total: done - started,
        steady: done - first_at,
        first_seen,
        finished: count >= EVENTS as u64,
        stored: count,
        peak_rss_kib,
        cpu_seconds,
    })
}

struct Ceiling {
    rows: (usize, usize),
    file_bytes: u64,
    insert: Duration,
}

/// The same rows the pipeline would write, normalized here, inserted from TabSeparated files
/// by `clickhouse-client` over the native protocol: field changes first, then events, as the
/// pipeline does. Normalizing and writing the files are not timed.
async fn ceiling(events: &Events, database: &ClickHouseConfig) -> anyhow::Result<Ceiling> {
    let dir = std::env::temp_dir().join(unique("bench-ceiling"));
    std::fs::create_dir_all(&dir).context("create the ceiling's folder")?;
    let (events_file, changes_file) = (dir.join("events.tsv"), dir.join("field_changes.tsv"));
    let mut events_out = std::io::BufWriter::new(std::fs::File::create(&events_file)?);
    let mut changes_out = std::io::BufWriter::new(std::fs::File::create(&changes_file)?);
    let mut rows = (0, 0);
    let mut line = String::new();
    let (mut event_columns, mut change_columns) = (String::new(), String::new());
    for n in 0..EVENTS {
        let envelope = events.envelope(n);
        let normalized = normalize::normalize(
            &Delivery {
                installation_id: envelope.installation_id,
                delivery_id: envelope.delivery_id.as_str(),
                source: envelope.source.as_str(),
                received_at_ms: envelope.received_at_ms,
                payload: events.body(n),
            },
            normalize::EventTimeBounds::DEFAULT,
        )
        .context("normalize a benchmark event")?;
        line.clear();
        event_columns = tsv_line(&mut line, event_fields(&normalized.event));
        events_out.write_all(line.as_bytes())?;
        rows.0 += 1;
        for change in &normalized.field_changes {
            line.clear();
            change_columns = tsv_line(&mut line, field_change_fields(change));
            changes_out.write_all(line.as_bytes())?;
            rows.1 += 1;
        }
    }
    events_out.flush()?;
    changes_out.flush()?;
    drop((events_out, changes_out));
    let file_bytes =
        std::fs::metadata(&events_file)?.len() + std::fs::metadata(&changes_file)?.len();

    let started = Instant::now();
    client_insert(
        &database.database,
        "field_changes",
        &change_columns,
        &changes_file,
    )
    .await?;
    client_insert(&database.database, "events", &event_columns, &events_file).await?;
    let insert = started.elapsed();
    let _ = std::fs::remove_dir_all(&dir);

    let stored: u64 = database
        .client()
        .query("SELECT toUInt64(uniqExact(installation_id, delivery_id)) FROM events")
        .fetch_one()
        .await?;
    if stored != EVENTS as u64 {
        bail!("clickhouse-client stored {stored} of {EVENTS} events");
    }
    Ok(Ceiling {
        rows,
        file_bytes,
        insert,
    })
}

async fn client_insert(
    database: &str,
    table: &str,
    columns: &str,
    file: &Path,
) -> anyhow::Result<()> {
    let output = Command::new("clickhouse-client")
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            "9000",
            "--database",
            database,
        ])
        .args([
            "--query",
            &format!("INSERT INTO {table} ({columns}) FORMAT TabSeparated"),
        ])
        .stdin(std::fs::File::open(file)?)
        .output()
        .await
        .context("run clickhouse-client")?;
    if !output.status.success() {
        bail!(
            "clickhouse-client could not insert into {table}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// One TabSeparated line of `fields`; returns their columns, comma-separated, for the insert.
fn tsv_line<'a>(
    out: &mut String,
    fields: impl IntoIterator<Item = (&'static str, TsvField<'a>)>,
) -> String {
    let mut columns = Vec::new();
    for (i, (column, field)) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        columns.push(column);
        match field {
            TsvField::Text(text) => escape_tsv(out, &text),
            TsvField::Number(number) => {
                let _ = write!(out, "{number}");
            }
            TsvField::Strings(strings) => {
                // ClickHouse's text form of an array: its elements quoted, with the same
                // escapes, and no second escaping of the whole.
                out.push('[');
                for (j, string) in strings.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    out.push('\'');
                    escape_tsv(out, string);
                    out.push('\'');
                }
                out.push(']');
            }
        }
    }
    out.push('\n');
    columns.join(", ")
}

/// Backslash escapes, as TabSeparated fields and quoted strings both read them.
fn escape_tsv(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
}

enum TsvField<'a> {
    Text(std::borrow::Cow<'a, str>),
    Number(i64),
    Strings(&'a [String]),
}

/// An event's TabSeparated fields, each with its column: the file is inserted with the
/// columns named, so a column the warehouse gains later is not silently shifted.
fn event_fields(row: &EventRow) -> Vec<(&'static str, TsvField<'_>)> {
    use TsvField::{Number, Strings, Text};
    vec![
        (
            "installation_id",
            Text(row.installation_id.to_string().into()),
        ),
        ("delivery_id", Text(row.delivery_id.as_str().into())),
        ("source", Text(row.source.as_str().into())),
        ("family", Text(row.family.as_str().into())),
        ("event_type", Text(row.event_type.as_str().into())),
        ("occurred_at_ms", Number(row.occurred_at_ms)),
        ("received_at_ms", Number(row.received_at_ms)),
        ("project_id", Text(row.project_id.as_str().into())),
        ("project_key", Text(row.project_key.as_str().into())),
        ("issue_id", Text(row.issue_id.as_str().into())),
        ("issue_key", Text(row.issue_key.as_str().into())),
        ("issue_type", Text(row.issue_type.as_str().into())),
        ("status", Text(row.status.as_str().into())),
        ("status_category", Text(row.status_category.as_str().into())),
        ("priority", Text(row.priority.as_str().into())),
        (
            "assignee_account_id",
            Text(row.assignee_account_id.as_str().into()),
        ),
        ("assignee_name", Text(row.assignee_name.as_str().into())),
        ("labels", Strings(&row.labels)),
        ("components", Strings(&row.components)),
        (
            "actor_account_id",
            Text(row.actor_account_id.as_str().into()),
        ),
        ("payload", Text(row.payload.as_str().into())),
        (
            "occurred_at_note",
            Text(row.occurred_at_note.as_str().into()),
        ),
    ]
}

/// A field change's TabSeparated fields, each with its column (see [`event_fields`]).
fn field_change_fields(row: &FieldChangeRow) -> Vec<(&'static str, TsvField<'_>)> {
    use TsvField::{Number, Strings, Text};
    vec![
        (
            "installation_id",
            Text(row.installation_id.to_string().into()),
        ),
        ("delivery_id", Text(row.delivery_id.as_str().into())),
        ("item_index", Number(i64::from(row.item_index))),
        ("occurred_at_ms", Number(row.occurred_at_ms)),
        ("project_key", Text(row.project_key.as_str().into())),
        ("issue_id", Text(row.issue_id.as_str().into())),
        ("issue_key", Text(row.issue_key.as_str().into())),
        ("issue_type", Text(row.issue_type.as_str().into())),
        ("field", Text(row.field.as_str().into())),
        ("field_id", Text(row.field_id.as_str().into())),
        ("from_value", Text(row.from_value.as_str().into())),
        ("to_value", Text(row.to_value.as_str().into())),
        ("from_string", Text(row.from_string.as_str().into())),
        ("to_string", Text(row.to_string.as_str().into())),
        ("status_category", Text(row.status_category.as_str().into())),
        ("priority", Text(row.priority.as_str().into())),
        (
            "assignee_account_id",
            Text(row.assignee_account_id.as_str().into()),
        ),
        ("labels", Strings(&row.labels)),
        ("components", Strings(&row.components)),
    ]
}

fn print_report(drains: &[(Settings, Drained)], ceiling: &Ceiling) {
    let ceiling_per_sec = EVENTS as f64 / ceiling.insert.as_secs_f64().max(f64::EPSILON);
    println!(
        "  ceiling: {} events + {} field changes ({:.1} MB of TabSeparated) inserted by \
         clickhouse-client in {:.2} s",
        ceiling.rows.0,
        ceiling.rows.1,
        ceiling.file_bytes as f64 / 1e6,
        ceiling.insert.as_secs_f64()
    );
    println!();
    println!(
        "  {:<26} {:>9} {:>9} {:>11} {:>9} {:>10} {:>8}",
        "run", "total s", "steady s", "events/s", "of ceil.", "peak RSS", "CPU s"
    );
    println!(
        "  {:<26} {:>9} {:>9.2} {:>11.0} {:>8.0}% {:>10} {:>8}",
        "clickhouse-client (file)",
        "",
        ceiling.insert.as_secs_f64(),
        ceiling_per_sec,
        100.0,
        "",
        ""
    );
    for (settings, drained) in drains {
        let label = format!("pipeline, {}", settings.label());
        let unfinished = if drained.finished {
            String::new()
        } else {
            format!(
                "  (UNFINISHED: {} of {EVENTS} after {DRAIN_LIMIT:?})",
                drained.stored
            )
        };
        println!(
            "  {label:<26} {:>9.2} {:>9.2} {:>11.0} {:>8.0}% {:>10} {:>8}{unfinished}",
            drained.total.as_secs_f64(),
            drained.steady.as_secs_f64(),
            drained.sustained_per_sec(),
            100.0 * drained.sustained_per_sec() / ceiling_per_sec,
            drained.peak_rss_kib.map_or("?".to_owned(), |kib| format!(
                "{:.0} MiB",
                kib as f64 / 1024.0
            )),
            drained
                .cpu_seconds
                .map_or("?".to_owned(), |cpu| format!("{cpu:.1}")),
        );
    }
    println!();
    println!(
        "  (steady: from the first rows visible, {POLL:?} polls of uniqExact, to all {EVENTS}; \
         total adds start-up, group join and the first batch)"
    );
    for (settings, drained) in drains {
        let share = drained.sustained_per_sec() / ceiling_per_sec;
        let rss_mib = drained.peak_rss_kib.map(|kib| kib as f64 / 1024.0);
        println!(
            "  target, {}: >= {:.0}% of the ceiling: {} ({:.0}%); peak RSS < {TARGET_RSS_MIB:.0} MiB: {}",
            settings.label(),
            TARGET_SHARE_OF_CEILING * 100.0,
            verdict(drained.finished && share >= TARGET_SHARE_OF_CEILING),
            share * 100.0,
            match rss_mib {
                Some(mib) => format!("{} ({mib:.0} MiB)", verdict(mib < TARGET_RSS_MIB)),
                None => "unknown".to_owned(),
            }
        );
    }
}

/// A new, empty database of its own. Not `Stack::fresh_clickhouse`: its `test_` databases are
/// dropped by the next `compose/local test`, which would pull this one away mid-run.
async fn bench_database(stack: &Stack) -> anyhow::Result<ClickHouseConfig> {
    let mut config = stack.clickhouse.clone();
    config.database = unique("bench");
    config
        .client()
        .with_database("default")
        .query(&format!("CREATE DATABASE {}", config.database))
        .execute()
        .await
        .context("create the benchmark's database")?;
    Ok(config)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}
