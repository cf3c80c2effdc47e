//! The load generator: signed Connect deliveries offered open loop at a fixed rate, and the
//! tracker that follows sampled ones from their 202 until ClickHouse returns them. It runs in
//! the benchmark's own process, whose CPU is reported as the load's.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::body::Bytes;
use jira_simulator::{ConnectInstallation, EventFixtures, connect_qsh, sign_connect_token};
use rand::{SeedableRng, rngs::StdRng};
use sha2::{Digest, Sha256};
use tokio::{sync::Semaphore, task::JoinSet};

use crate::STEP;

/// One delivery in this many is followed from its 202 until it is queryable.
const SAMPLE_EVERY: u64 = 20;
/// Requests under way at once; a request that finds no room counts as not sent.
pub(crate) const MAX_IN_FLIGHT: usize = 512;
const EVENT_POOL: usize = 2_000;

/// The Connect webhook the installation posts to, signed as Jira signs it.
pub(crate) struct Webhook {
    path: String,
    query: String,
    installation: ConnectInstallation,
}

impl Webhook {
    pub(crate) fn of(installation: &ConnectInstallation) -> Self {
        let (path, query) = installation
            .webhook_path
            .split_once('?')
            .unwrap_or((&installation.webhook_path, ""));
        Self {
            path: path.to_owned(),
            query: query.to_owned(),
            installation: installation.clone(),
        }
    }

    /// The route on an ingress at `base`.
    pub(crate) fn url(&self, base: &str) -> String {
        format!("{base}{}", self.installation.webhook_path)
    }

    /// A Connect JWT for the route, good for Jira's three minutes: signed once per step, as
    /// signing each request would measure the generator rather than the path.
    pub(crate) fn token(&self) -> anyhow::Result<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let claims = serde_json::json!({
            "iss": self.installation.client_key,
            "qsh": connect_qsh("POST", &self.path, &self.query, ""),
            "iat": now,
            "exp": now + 180,
        });
        Ok(format!(
            "JWT {}",
            sign_connect_token(&self.installation, &claims)?
        ))
    }
}

/// One request in this many is a Forge event (Jira's Forge triggers), the rest Connect webhooks.
pub(crate) const FORGE_EVERY: u64 = 10;

/// Where one kind of delivery goes, as what, with which bodies.
pub(crate) struct Requests<'a> {
    pub(crate) url: &'a str,
    pub(crate) authorization: String,
    pub(crate) bodies: &'a [PoolBody],
}

/// Forge deliveries: each carries a FIT of its own (ingress refuses a token seen before), minted
/// before the step as Forge mints one per invocation; when they run out, Connect goes instead.
pub(crate) struct ForgeRequests<'a> {
    pub(crate) requests: Requests<'a>,
    pub(crate) tokens: std::vec::IntoIter<String>,
}

#[derive(Default)]
pub(crate) struct Load {
    pub(crate) accepted: u64,
    pub(crate) refused: HashMap<u16, u64>,
    /// Not sent: every slot was taken (the load generator's limit, or ingress too slow).
    pub(crate) no_room: u64,
}

/// Offers `per_sec` events a second to `url` for one step, open loop: requests start on
/// schedule whether or not earlier ones have been answered, up to `MAX_IN_FLIGHT` at once.
pub(crate) async fn offer(
    http: &reqwest::Client,
    connect: &Requests<'_>,
    forge: &mut ForgeRequests<'_>,
    per_sec: u32,
    tracker: &DelayTracker,
) -> anyhow::Result<Load> {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let sequence = AtomicU64::new(0);
    let mut in_flight = JoinSet::new();
    let mut load = Load::default();
    // Requests go out in bursts every 10 ms, as a timer cannot tick 8,000 times a second.
    let bursts = STEP.as_millis() as u64 / 10;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut due = 0.0;
    for _ in 0..bursts {
        tick.tick().await;
        due += f64::from(per_sec) / 100.0;
        while due >= 1.0 {
            due -= 1.0;
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                load.no_room += 1;
                continue;
            };
            let n = sequence.fetch_add(1, Ordering::Relaxed);
            let forge_turn = n % FORGE_EVERY == FORGE_EVERY - 1;
            let (url, authorization, body, sampled) = if forge_turn
                && let Some(token) = forge.tokens.next()
            {
                let body =
                    unique_body(&forge.requests.bodies[n as usize % forge.requests.bodies.len()]);
                (forge.requests.url, token, body, None)
            } else {
                let body = unique_body(&connect.bodies[n as usize % connect.bodies.len()]);
                // Ingress knows a Connect delivery by its body's SHA-256, never by a header;
                // only the sampled ones are hashed here, to keep the generator light.
                let sampled = n
                    .is_multiple_of(SAMPLE_EVERY)
                    .then(|| (tracker.clone(), hex::encode(Sha256::digest(&body))));
                (connect.url, connect.authorization.clone(), body, sampled)
            };
            let request = http
                .post(url)
                .header("Authorization", authorization)
                .header("Content-Type", "application/json")
                .body(body);
            in_flight.spawn(async move {
                let status = request
                    .send()
                    .await
                    .map(|response| response.status().as_u16());
                drop(slot);
                if let (Ok(202), Some((tracker, identifier))) = (&status, sampled) {
                    tracker.accepted(identifier, Instant::now());
                }
                status.unwrap_or(0)
            });
        }
    }
    while let Some(status) = in_flight.join_next().await {
        match status? {
            200..=299 => load.accepted += 1,
            other => *load.refused.entry(other).or_default() += 1,
        }
    }
    Ok(load)
}

/// Follows sampled deliveries from ingress's 202 until ClickHouse returns them.
#[derive(Clone)]
pub(crate) struct DelayTracker {
    pending: Arc<Mutex<HashMap<String, Instant>>>,
    delays: Arc<Mutex<Vec<Duration>>>,
    stop: tokio_util::sync::CancellationToken,
    poller: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl DelayTracker {
    /// Follows deliveries sent from now on.
    pub(crate) fn start(store: clickhouse::Client) -> Self {
        // A second of slack: a delivery's time is its own clock's, rounded down by the key.
        let since = chrono::Utc::now().timestamp() - 1;
        let tracker = Self {
            pending: Arc::default(),
            delays: Arc::default(),
            stop: tokio_util::sync::CancellationToken::new(),
            poller: Arc::default(),
        };
        let polling = tracker.clone();
        let handle = tokio::spawn(async move { polling.poll(store, since).await });
        *tracker.poller.lock().expect("poller") = Some(handle);
        tracker
    }

    fn accepted(&self, identifier: String, at: Instant) {
        self.pending.lock().expect("pending").insert(identifier, at);
    }

    /// Every 50 ms, asks ClickHouse which pending deliveries it now returns; the delay is
    /// measured to the answer, so it includes up to one polling interval. The lookup reads only
    /// rows from `since` on (the key is by time) and matches ids through a set: `has(ids, id)`
    /// over every row took ClickHouse 2.5 s of CPU a poll at 200k rows, and made the tracker
    /// ClickHouse's largest load.
    async fn poll(&self, store: clickhouse::Client, since: i64) {
        loop {
            let ids: Vec<String> = self
                .pending
                .lock()
                .expect("pending")
                .keys()
                .take(2_000)
                .cloned()
                .collect();
            if !ids.is_empty()
                && let Ok(found) = store
                    .query(
                        "SELECT delivery_id FROM events WHERE occurred_at >= toDateTime(?) \
                         AND delivery_id IN (SELECT arrayJoin(CAST(? AS Array(String))))",
                    )
                    .bind(since)
                    .bind(&ids)
                    .fetch_all::<String>()
                    .await
            {
                let now = Instant::now();
                let mut pending = self.pending.lock().expect("pending");
                let mut delays = self.delays.lock().expect("delays");
                for id in found {
                    if let Some(accepted_at) = pending.remove(&id) {
                        delays.push(now.duration_since(accepted_at));
                    }
                }
            }
            if self.stop.is_cancelled() && self.pending.lock().expect("pending").is_empty() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
                () = self.stop.cancelled(), if !self.stop.is_cancelled() => {}
            }
        }
    }

    /// Waits (bounded) for the sampled deliveries still pending; the delays, sorted.
    pub(crate) async fn finish(self) -> Vec<Duration> {
        self.stop.cancel();
        let handle = self.poller.lock().expect("poller").take();
        if let Some(handle) = handle {
            let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
        }
        let mut delays = std::mem::take(&mut *self.delays.lock().expect("delays"));
        delays.sort();
        delays
    }
}

/// A pool body, and where its `timestamp` is, to be set to the moment it is sent.
pub(crate) struct PoolBody {
    json: Bytes,
    timestamp_at: Option<usize>,
}

/// Stands in for the time in a pool body: 13 digits, as every millisecond time until 2286 has.
const TIMESTAMP_PLACEHOLDER: i64 = 1_234_567_890_123;

/// The shared fixtures' mix (2–8 KB each), drawn with a fixed seed: Connect's from
/// `fixtures/jira`, and Forge's from `fixtures/forge` (only events that carry a time: a Forge
/// delivery is known by its names and time, so the time is what makes each one new).
pub(crate) fn event_bodies(forge: bool) -> anyhow::Result<Vec<PoolBody>> {
    let dir = if forge {
        EventFixtures::default_forge_dir()
    } else {
        EventFixtures::default_dir()
    };
    let fixtures = EventFixtures::load(&dir)?;
    let mut rng = StdRng::seed_from_u64(42);
    let placeholder = TIMESTAMP_PLACEHOLDER.to_string();
    let mut bodies = Vec::with_capacity(EVENT_POOL);
    for _ in 0..EVENT_POOL * 2 {
        let mut event = fixtures.generate(&mut rng);
        if let Some(timestamp) = event.get_mut("timestamp") {
            *timestamp = if timestamp.is_string() {
                serde_json::json!(placeholder)
            } else {
                serde_json::json!(TIMESTAMP_PLACEHOLDER)
            };
        }
        let json = serde_json::to_vec(&event)?;
        let timestamp_at = json
            .windows(placeholder.len())
            .position(|window| window == placeholder.as_bytes());
        if forge && (timestamp_at.is_none() || event.get("eventType").is_none()) {
            continue;
        }
        bodies.push(PoolBody {
            json: json.into(),
            timestamp_at,
        });
        if bodies.len() == EVENT_POOL {
            break;
        }
    }
    anyhow::ensure!(!bodies.is_empty(), "no event fixtures in {}", dir.display());
    Ok(bodies)
}

/// Now, in milliseconds, but never the same twice: a Forge delivery is known by its names and
/// time, and two pool bodies may share their names, so two events sent in one millisecond
/// would be one delivery. Ahead of the clock by at most the requests of one burst.
fn event_time() -> i64 {
    static LAST: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let now = chrono::Utc::now().timestamp_millis();
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .expect("the update always gives a value");
    now.max(previous + 1)
}

/// A pool body made a delivery of its own, as Jira would send it now: its time is the moment
/// it is sent (so the tracker's lookups read only the newest rows, as the warehouse's key is by
/// time), and, as ingress stores one copy of each distinct body, it carries a fresh field (the
/// normalizer keeps unknown fields in the payload).
fn unique_body(pooled: &PoolBody) -> Bytes {
    let json = &pooled.json;
    let end = json
        .iter()
        .rposition(|byte| *byte == b'}')
        .expect("a pool body is a JSON object");
    let mut body = Vec::with_capacity(json.len() + 64);
    body.extend_from_slice(&json[..end]);
    if let Some(at) = pooled.timestamp_at {
        let now = event_time().to_string();
        body[at..at + now.len()].copy_from_slice(now.as_bytes());
    }
    body.extend_from_slice(b",\"benchDelivery\":\"");
    body.extend_from_slice(
        uuid::Uuid::new_v4()
            .hyphenated()
            .encode_lower(&mut uuid::Uuid::encode_buffer())
            .as_bytes(),
    );
    body.extend_from_slice(b"\"}");
    body.into()
}
