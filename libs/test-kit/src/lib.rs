//! The harness integration tests share: where the running local stack is (the same variables
//! and defaults as the services), fresh isolated resources per test, a TCP gate to cut a
//! dependency off and bring it back, and a forwarder that loses inserts' answers.

mod confirm;
mod eventually;
mod mailbox;
pub mod procfs;
pub mod readme;
#[cfg(feature = "synthetic")]
pub mod synthetic;

pub use confirm::{
    CONFIRM_ADDRESS_PATH, CONFIRM_ADDRESS_SUBJECT, confirm_address, confirmation_link,
};
pub use eventually::eventually;
pub use mailbox::{Mail, Mailbox};

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use secrecy::ExposeSecret;
use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use service_runtime::{
    connections::{ClickHouseConfig, KafkaConfig, PostgresConfig, SmtpConfig},
    kafka_topics::TopicsConfig,
};

/// A name no other test (or earlier run) uses: `prefix_` and 12 hex digits.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}", &id[..12])
}

/// A fresh raw topic of `raw_partitions` and its dead-letter topic on `brokers`, created as the
/// services create theirs (`TopicsConfig::ensure`), for a test or benchmark of its own.
pub async fn fresh_topics(brokers: &str, raw_partitions: i32) -> TopicsConfig {
    let topics = TopicsConfig {
        raw: unique("raw"),
        dead_letter: unique("dead"),
        raw_partitions,
        replication_factor: 1,
        min_insync_replicas: 1,
    };
    topics
        .ensure(brokers)
        .await
        .expect("create the raw and dead-letter topics");
    topics
}

/// The JWT with one character in the middle of its signature changed: a wrong signature, not a
/// malformed token (the last character's spare bits could make it merely bad base64).
pub fn flip_signature_char(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let at = chars.len().saturating_sub(20);
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// Addresses of the running stack, as `compose/local` exports them.
pub struct Stack {
    pub postgres: PostgresConfig,
    pub clickhouse: ClickHouseConfig,
    pub kafka: KafkaConfig,
    pub smtp: SmtpConfig,
    /// `PROMETHEUS_URL`, default `http://127.0.0.1:9090`.
    pub prometheus_url: String,
    /// `METAFRAZO_STACK_DIR`, default `.stack/` at the workspace root.
    pub dir: PathBuf,
}

impl Stack {
    pub fn from_env() -> Self {
        Self {
            postgres: PostgresConfig::from_env().expect("DATABASE_URL"),
            clickhouse: ClickHouseConfig::from_env().expect("CLICKHOUSE_*"),
            kafka: KafkaConfig::from_env().expect("KAFKA_BROKERS"),
            smtp: SmtpConfig::from_env().expect("SMTP_URL"),
            prometheus_url: std::env::var("PROMETHEUS_URL")
                .unwrap_or_else(|_| "http://127.0.0.1:9090".to_owned()),
            dir: std::env::var_os("METAFRAZO_STACK_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace_root().join(".stack")),
        }
    }

    /// A new, empty Postgres database owned by the stack's role; returns its config.
    pub async fn fresh_postgres(&self) -> PostgresConfig {
        self.postgres_named(&unique("test")).await
    }

    /// A new, empty database named `name`: benchmarks use `bench_` names, which the next
    /// `compose/local test` does not drop from under them.
    pub async fn postgres_named(&self, name: &str) -> PostgresConfig {
        let pool = self.postgres.pool().expect("postgres pool");
        let client = pool.get().await.expect("connect to the stack's Postgres");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create a test database");
        let mut url = url::Url::parse(self.postgres.url.expose_secret()).expect("DATABASE_URL");
        url.set_path(name);
        PostgresConfig {
            url: url.to_string().into(),
            pool_size: 4,
        }
    }

    /// A new, empty ClickHouse database; returns a config pointing at it. On a cluster
    /// (`CLICKHOUSE_CLUSTER`) the database is created on every replica.
    pub async fn fresh_clickhouse(&self) -> ClickHouseConfig {
        let name = unique("test");
        let on_cluster = match self.clickhouse.cluster.as_str() {
            "" => String::new(),
            cluster => format!(" ON CLUSTER {cluster}"),
        };
        self.clickhouse
            .client()
            .with_database("default")
            .query(&format!("CREATE DATABASE {name}{on_cluster}"))
            .execute()
            .await
            .expect("create a test ClickHouse database");
        ClickHouseConfig {
            database: name,
            ..self.clickhouse.clone()
        }
    }
}

/// A port on 127.0.0.1 that was free a moment ago, for a server the test starts, which binds it
/// itself. Handed out below Linux's ephemeral range (32768 and up), from a start that differs
/// per process and never twice in one process: a port the kernel picked (a listener on port 0,
/// any outgoing connection) cannot take it between this call and the server's bind, which is
/// how a test beside another once found its port in use.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let seed = std::process::id().wrapping_mul(7_919)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
    let _ = NEXT.compare_exchange(u32::MAX, seed % SPAN, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..SPAN {
        let port = (FIRST + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + SPAN)
}

fn workspace_root() -> PathBuf {
    // This crate lives at <root>/libs/test-kit.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}

/// A TCP forwarder in front of a real server. While closed, new connections are accepted and
/// dropped at once and live ones are cut, as when the server is down; reopening restores it.
pub struct TcpGate {
    pub addr: SocketAddr,
    state: Arc<std::sync::Mutex<GateState>>,
    task: JoinHandle<()>,
}

struct GateState {
    open: bool,
    /// Cancels and tracks the forwarding of the connections accepted while open.
    cut: CancellationToken,
    connections: TaskTracker,
}

impl TcpGate {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind gate");
        let addr = listener.local_addr().expect("gate address");
        let state = Arc::new(std::sync::Mutex::new(GateState {
            open: true,
            cut: CancellationToken::new(),
            connections: TaskTracker::new(),
        }));
        let gate_state = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let state = gate_state.lock().expect("gate state");
                if !state.open {
                    continue;
                }
                let cut = state.cut.clone();
                state.connections.spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {},
                        () = cut.cancelled() => {},
                    }
                });
            }
        });
        Self { addr, state, task }
    }

    /// A gate in front of the Postgres `config` names, and that config routed through it.
    pub async fn for_postgres(config: &PostgresConfig) -> (Self, PostgresConfig) {
        let url = config.url.expose_secret();
        let gate = Self::start(url_addr(url)).await;
        let routed = PostgresConfig {
            url: url_via(url, gate.addr).into(),
            pool_size: config.pool_size,
        };
        (gate, routed)
    }

    /// A gate in front of the ClickHouse `config` names, and that config routed through it.
    pub async fn for_clickhouse(config: &ClickHouseConfig) -> (Self, ClickHouseConfig) {
        let gate = Self::start(url_addr(&config.url)).await;
        let routed = ClickHouseConfig {
            url: url_via(&config.url, gate.addr),
            ..config.clone()
        };
        (gate, routed)
    }

    /// A gate in front of the SMTP server `config` names, and that config routed through it.
    pub async fn for_smtp(config: &SmtpConfig) -> (Self, SmtpConfig) {
        let url = config.url.expose_secret();
        let gate = Self::start(url_addr(url)).await;
        let routed = SmtpConfig {
            url: url_via(url, gate.addr).into(),
        };
        (gate, routed)
    }

    /// Cuts every live connection (returning once they are closed) and refuses new ones.
    pub async fn close(&self) {
        let connections = {
            let mut state = self.state.lock().expect("gate state");
            state.open = false;
            state.cut.cancel();
            state.connections.close();
            std::mem::take(&mut state.connections)
        };
        connections.wait().await;
    }

    pub fn open(&self) {
        let mut state = self.state.lock().expect("gate state");
        state.open = true;
        state.cut = CancellationToken::new();
        state.connections = TaskTracker::new();
    }
}

impl Drop for TcpGate {
    fn drop(&mut self) {
        self.task.abort();
        if let Ok(state) = self.state.lock() {
            state.cut.cancel();
        }
    }
}

/// A forwarder in front of ClickHouse's HTTP port that lets inserts reach the server and then,
/// for the first `n` inserts into one table, cuts the connection as the server's answer begins,
/// so the client never reads it: an insert the server stored whose client saw a timeout, and
/// will retry. An insert of rows (the `clickhouse` crate's `insert`) names its table in the URL.
/// HTTP/1.1 clients wait for an answer before the next request on a connection, so the answer
/// after an `INSERT` request's bytes is that insert's.
pub struct LostInsertAnswers {
    pub addr: SocketAddr,
    lost: Arc<std::sync::atomic::AtomicUsize>,
    task: JoinHandle<()>,
}

impl LostInsertAnswers {
    /// A forwarder in front of the ClickHouse `config` names, and that config routed through it.
    pub async fn for_clickhouse(
        config: &ClickHouseConfig,
        table: &str,
        n: usize,
    ) -> (Self, ClickHouseConfig) {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let target = url_addr(&config.url);
        // `INSERT INTO `table`(columns) …`, form-encoded in the request line.
        let pattern: Arc<[u8]> = format!("query=INSERT+INTO+%60{table}%60%28")
            .into_bytes()
            .into();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let to_lose = Arc::new(AtomicUsize::new(n));
        let lost = Arc::new(AtomicUsize::new(0));
        let (to_lose_in_task, lost_in_task) = (to_lose, Arc::clone(&lost));
        let task = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                let (to_lose, lost) = (Arc::clone(&to_lose_in_task), Arc::clone(&lost_in_task));
                let pattern = Arc::clone(&pattern);
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = inbound.into_split();
                    let (mut server_read, mut server_write) = outbound.into_split();
                    // Set when an insert's request passed and its answer is to be lost.
                    let losing = Arc::new(AtomicBool::new(false));
                    let losing_up = Arc::clone(&losing);
                    let up = tokio::spawn(async move {
                        let mut buffer = vec![0u8; 64 * 1024];
                        loop {
                            let Ok(read) = client_read.read(&mut buffer).await else {
                                return;
                            };
                            if read == 0 {
                                return;
                            }
                            let chunk = &buffer[..read];
                            let is_insert = chunk.windows(pattern.len()).any(|w| w == &pattern[..]);
                            if is_insert
                                && to_lose
                                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                                        left.checked_sub(1)
                                    })
                                    .is_ok()
                            {
                                losing_up.store(true, Ordering::SeqCst);
                            }
                            if server_write.write_all(chunk).await.is_err() {
                                return;
                            }
                        }
                    });
                    let mut buffer = vec![0u8; 64 * 1024];
                    while let Ok(read) = server_read.read(&mut buffer).await {
                        if read == 0 {
                            break;
                        }
                        if losing.load(Ordering::SeqCst) {
                            lost.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        if client_write.write_all(&buffer[..read]).await.is_err() {
                            break;
                        }
                    }
                    up.abort();
                });
            }
        });
        let routed = ClickHouseConfig {
            url: url_via(&config.url, addr),
            ..config.clone()
        };
        (Self { addr, lost, task }, routed)
    }

    /// Inserts whose answer was cut off so far.
    pub fn lost(&self) -> usize {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for LostInsertAnswers {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `host:port` a URL points at, resolved to a socket address.
fn url_addr(raw: &str) -> SocketAddr {
    let url = url::Url::parse(raw).expect("a URL");
    let host = url.host_str().expect("a host");
    let port = url.port_or_known_default().expect("a port");
    std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .expect("resolvable host")
        .next()
        .expect("an address")
}

/// The same URL pointed at `addr`.
fn url_via(raw: &str, addr: SocketAddr) -> String {
    let mut url = url::Url::parse(raw).expect("a URL");
    url.set_host(Some(&addr.ip().to_string())).expect("host");
    url.set_port(Some(addr.port())).expect("port");
    url.to_string()
}

/// A service running inside the test process on ports of its own.
pub struct TestApp {
    /// `http://127.0.0.1:<port>` of its public routes; for a service with none (the pipeline),
    /// its admin port's.
    pub address: String,
    /// `http://127.0.0.1:<port>` of its admin port: `/healthz`, `/readyz`, `/metrics`.
    pub admin_address: String,
    pub client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl TestApp {
    pub fn spawn(app: service_runtime::Application) -> Self {
        let admin_address = format!("http://{}", app.admin_addr());
        let address = app
            .public_addr()
            .map_or_else(|| admin_address.clone(), |addr| format!("http://{addr}"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Self {
            address,
            admin_address,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("HTTP client"),
            stop: Some(stop),
            task,
        }
    }

    /// `GET path` on the public port.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("the service answers")
    }

    /// `GET path` on the admin port (`/healthz`, `/readyz`, `/metrics`).
    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.admin_address))
            .send()
            .await
            .expect("the admin port answers")
    }

    /// The Prometheus text `/metrics` answers on the admin port.
    pub async fn metrics(&self) -> String {
        self.admin_get("/metrics")
            .await
            .text()
            .await
            .expect("a metrics body")
    }

    /// Triggers a graceful shutdown and waits for the server to finish.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("server task")
    }

    /// `/readyz` answers 200 now.
    pub async fn assert_ready(&self) {
        let response = self.admin_get("/readyz").await;
        let status = response.status();
        assert_eq!(
            status,
            200,
            "not ready: {}",
            response.text().await.unwrap_or_default()
        );
    }

    /// Waits (up to 10 s) for `/readyz` to answer 200: for services that load state in the
    /// background after they start listening.
    pub async fn wait_until_ready(&self) {
        self.wait_for_readyz(Duration::from_secs(10), "/readyz to answer 200")
            .await;
    }

    /// Polls `/readyz` until it answers 200; the panic shows its last body.
    async fn wait_for_readyz(&self, timeout: Duration, what: &str) {
        eventually(timeout, what, || async {
            let response = self.admin_get("/readyz").await;
            if response.status() == 200 {
                Ok(())
            } else {
                Err(response.text().await.unwrap_or_default())
            }
        })
        .await;
    }

    /// Waits (up to 5 s: a readiness answer is kept for a second) for `/readyz` to answer 503
    /// because `why`; returns its body.
    pub async fn wait_until_not_ready(&self, why: &str) -> serde_json::Value {
        eventually(
            Duration::from_secs(5),
            &format!("/readyz to answer 503: {why}"),
            || async {
                let response = self.admin_get("/readyz").await;
                match response.status().as_u16() {
                    503 => Ok(response
                        .json::<serde_json::Value>()
                        .await
                        .expect("JSON body")),
                    status => Err(status),
                }
            },
        )
        .await
    }

    /// With `gate` closed `/readyz` turns 503 and names `dependency` (once the last answer,
    /// kept for a second, has expired); once it opens again the service reports ready by itself
    /// within a few seconds, and `/healthz` stays 200 throughout.
    pub async fn assert_readiness_follows(&self, gate: &TcpGate, dependency: &str) {
        self.assert_ready().await;
        gate.close().await;
        let body = self
            .wait_until_not_ready(&format!("{dependency} is cut off"))
            .await;
        assert_names_the_dependency(&body, dependency);
        assert_eq!(self.admin_get("/healthz").await.status(), 200);

        gate.open();
        self.wait_for_readyz(
            Duration::from_secs(10),
            &format!("ready again once {dependency} came back"),
        )
        .await;
    }

    /// `/readyz` answers 503 naming `dependency` until `remedy` has run, then 200 by itself
    /// within a few seconds.
    pub async fn assert_not_ready_until(&self, dependency: &str, remedy: impl Future<Output = ()>) {
        let body = self
            .wait_until_not_ready(&format!("waiting for {dependency}"))
            .await;
        assert_names_the_dependency(&body, dependency);
        remedy.await;
        self.wait_for_readyz(
            Duration::from_secs(10),
            &format!("ready once {dependency} is"),
        )
        .await;
    }
}

/// A `/readyz` 503 body that says `dependency` is what is missing.
fn assert_names_the_dependency(body: &serde_json::Value, dependency: &str) {
    assert_eq!(body["error"], "not_ready");
    assert_ne!(body["dependencies"][dependency], "ok", "body: {body}");
    assert!(
        body["message"].as_str().unwrap_or("").contains(dependency),
        "the message should name {dependency}: {body}"
    );
}

/// `/healthz`, `/readyz` and `/metrics` answer on the app's admin port and are unknown paths
/// (404) on its public port, where anyone could flood readiness or read the metrics' tenants.
/// The app must be ready.
pub async fn assert_operational_routes_on_the_admin_port_only(app: &TestApp) {
    assert_ne!(app.address, app.admin_address, "a public and an admin port");
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            app.get(path).await.status(),
            404,
            "{path} on the public port"
        );
        assert_eq!(
            app.admin_get(path).await.status(),
            200,
            "{path} on the admin port"
        );
    }
    let metrics = app.metrics().await;
    assert!(metrics.contains("dependency_up{"), "{metrics}");
}

/// Runs a service binary on free ports in local mode (`public_var`, its public address's
/// variable, is `None` for the pipeline; `admin_var` its admin address's), waits until it
/// listens, sends SIGTERM and asserts it exits 0 within its grace period: what
/// `compose/local down` and orchestrators rely on.
pub async fn assert_binary_stops_cleanly_on_sigterm(
    binary: &str,
    public_var: Option<&str>,
    admin_var: &str,
) {
    let admin_port = free_port();
    // Databases of its own: a binary built from a branch with a newer migration must not
    // migrate the stack's own databases, or the stack's services refuse to start.
    let stack = Stack::from_env();
    let postgres = stack.fresh_postgres().await;
    let clickhouse = stack.fresh_clickhouse().await;
    let mut command = tokio::process::Command::new(binary);
    if let Some(public_var) = public_var {
        command.env(public_var, format!("127.0.0.1:{}", free_port()));
    }
    let mut child = command
        .env(admin_var, format!("127.0.0.1:{admin_port}"))
        // The local stack's development fallbacks (the committed key, the simulator's URLs).
        .env("DEPLOYMENT", "local")
        .env("DATABASE_URL", postgres.url.expose_secret())
        .env("CLICKHOUSE_DATABASE", &clickhouse.database)
        .env("SHUTDOWN_GRACE_SECS", "5")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the service binary");
    let health = format!("http://127.0.0.1:{admin_port}/healthz");
    eventually(
        Duration::from_secs(20),
        &format!("{binary} to listen"),
        || async { reqwest::get(&health).await.map(drop) },
    )
    .await;
    let pid = child.id().expect("running").to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits within 10 s of SIGTERM")
        .expect("exit status");
    assert!(status.success(), "{binary} exited with {status}");
}

/// A Kafka-protocol broker of the test's own (tansu, durable SQLite storage in a folder of its
/// own under the stack directory), which the test may stop and start again: the shared broker
/// cannot be stopped without disturbing every other test. `TANSU_BIN` names the binary
/// (`compose/local` exports it).
pub struct TestBroker {
    pub brokers: String,
    port: u16,
    dir: PathBuf,
    storage: &'static str,
    child: Option<tokio::process::Child>,
}

impl TestBroker {
    /// Durable SQLite storage: survives `stop` and `start_again`, as a real broker's log does.
    pub async fn start() -> Self {
        Self::start_with_storage("sqlite://tansu.db").await
    }

    /// Memory storage, ~35x faster and forgetting everything on a restart: for benchmarks, so
    /// the shared broker's SQLite is not what gets measured.
    pub async fn start_in_memory() -> Self {
        Self::start_with_storage("memory://tansu/").await
    }

    /// The broker's process, for measuring what it costs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(tokio::process::Child::id)
    }

    async fn start_with_storage(storage: &'static str) -> Self {
        let port = free_port();
        let dir = Stack::from_env()
            .dir
            .join("test-brokers")
            .join(unique("broker"));
        std::fs::create_dir_all(&dir).expect("broker folder");
        let mut broker = Self {
            brokers: format!("127.0.0.1:{port}"),
            port,
            dir,
            storage,
            child: None,
        };
        broker.start_again().await;
        broker
    }

    /// Starts the broker on the same port and storage, waiting until it accepts connections.
    pub async fn start_again(&mut self) {
        // `compose/local` exports TANSU_BIN; without it, where `compose/local up` builds tansu.
        let binary = std::env::var_os("TANSU_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                    .join(".cache/metafrazo/tansu-0.6.0/bin/tansu")
            });
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let child = tokio::process::Command::new(binary)
            .current_dir(&self.dir)
            .env("RUST_LOG", "warn")
            .args([
                "broker",
                "--listener-url",
                &listener,
                "--advertised-listener-url",
                &listener,
                "--storage-engine",
                self.storage,
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        eventually(
            Duration::from_secs(20),
            "the test broker to accept connections",
            || async { TcpStream::connect(("127.0.0.1", self.port)).await.map(drop) },
        )
        .await;
    }

    /// Kills the broker (SIGKILL: as abrupt as a crash) and waits for it to be gone.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill the test broker");
        }
    }
}
