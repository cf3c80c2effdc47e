//! The load: a pool of realistic Jira events sent to an endpoint either in a closed loop (fixed
//! concurrency, as fast as the answers come) or an open loop (a fixed rate whatever the answers
//! do), tallied into accepted/s, latency percentiles and failures.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use axum::body::Bytes;
use jira_simulator::{
    ConnectInstallation, EventFixtures, IDENTIFIER_HEADER, connect_qsh, sign_connect_token,
};
use rand::{SeedableRng, rngs::StdRng};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::json;
use test_kit::unique;
use tokio::{sync::Semaphore, task::JoinSet};

/// Jira signs each webhook's token for three minutes.
const TOKEN_LIFETIME_SECS: u64 = 180;
/// A request without an answer by then counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Open loop: requests past this many in flight wait (late, and measured as late) rather than
/// open ever more sockets against a target that has fallen behind.
pub(crate) const MAX_IN_FLIGHT: usize = 1024;
/// Open loop: how long the answers still due may take once the last request is issued.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Event bodies drawn from the shared fixtures' mix (2–8 KB each), fixed by a seed so every run
/// sends the same bytes.
pub(crate) fn event_bodies(count: usize) -> anyhow::Result<Vec<Bytes>> {
    let fixtures = EventFixtures::load(&EventFixtures::default_dir())
        .context("load the Jira event fixtures")?;
    let mut rng = StdRng::seed_from_u64(20);
    (0..count)
        .map(|_| {
            Ok(Bytes::from(serde_json::to_vec(
                &fixtures.generate(&mut rng),
            )?))
        })
        .collect()
}

pub(crate) fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .tcp_nodelay(true)
        .build()
        .context("the load generator's HTTP client")
}

/// Where the load goes and what it sends, every request prepared in advance so that neither
/// serializing nor signing is on the measured path.
pub(crate) struct Endpoint {
    url: String,
    requests: Vec<Prepared>,
    /// Makes each request's `X-Atlassian-Webhook-Identifier` unique across the run.
    delivery_prefix: String,
    sent: AtomicU64,
}

struct Prepared {
    body: Bytes,
    authorization: Option<String>,
}

impl Endpoint {
    /// The bodies alone, for the baseline.
    pub(crate) fn bare(base_url: &str, bodies: &[Bytes]) -> Arc<Self> {
        let requests = bodies
            .iter()
            .map(|body| Prepared {
                body: body.clone(),
                authorization: None,
            })
            .collect();
        Self::new(base_url, requests)
    }

    /// The bodies as Jira sends them to ingress, each with a Connect JWT of its own signed now.
    pub(crate) fn connect(
        base_url: &str,
        bodies: &[Bytes],
        installation: &ConnectInstallation,
    ) -> anyhow::Result<Arc<Self>> {
        let qsh = connect_qsh("POST", ingress::CONNECT_EVENTS, "", "");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let requests = bodies
            .iter()
            .zip(0u64..)
            .map(|(body, n)| {
                // Distinct issue times make distinct tokens, as Jira's deliveries have.
                let claims = json!({
                    "iss": installation.client_key,
                    "qsh": qsh,
                    "iat": now - n % 10,
                    "exp": now + TOKEN_LIFETIME_SECS,
                });
                Ok(Prepared {
                    body: body.clone(),
                    authorization: Some(format!(
                        "JWT {}",
                        sign_connect_token(installation, &claims)?
                    )),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self::new(base_url, requests))
    }

    fn new(base_url: &str, requests: Vec<Prepared>) -> Arc<Self> {
        Arc::new(Self {
            url: format!("{base_url}{}", ingress::CONNECT_EVENTS),
            requests,
            delivery_prefix: unique("bench"),
            sent: AtomicU64::new(0),
        })
    }

    async fn send(&self, client: &reqwest::Client) -> Answer {
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        let prepared = &self.requests[(n % self.requests.len() as u64) as usize];
        let mut request = client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header(IDENTIFIER_HEADER, format!("{}-{n}", self.delivery_prefix))
            .body(prepared.body.clone());
        if let Some(authorization) = &prepared.authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                // Read the (small) answer so the connection goes back to the pool.
                let _ = response.bytes().await;
                if status.is_success() {
                    Answer::Accepted
                } else {
                    Answer::Refused
                }
            }
            Err(_) => Answer::Failed,
        }
    }
}

#[derive(Clone, Copy)]
enum Answer {
    Accepted,
    /// Any non-2xx status.
    Refused,
    /// No answer: connection error, or none within the timeout.
    Failed,
}

/// What the runs against one target measured.
#[derive(Default)]
pub(crate) struct Measured {
    /// Latency of each accepted request, in microseconds; sorted once the run is over.
    latencies_us: Vec<u64>,
    pub(crate) accepted: u64,
    pub(crate) refused: u64,
    pub(crate) failed: u64,
    /// From the first request to the last answer (summed over the runs merged).
    pub(crate) elapsed: Duration,
}

impl Measured {
    fn record(&mut self, answer: Answer, latency: Duration) {
        match answer {
            Answer::Accepted => {
                self.accepted += 1;
                self.latencies_us
                    .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
            }
            Answer::Refused => self.refused += 1,
            Answer::Failed => self.failed += 1,
        }
    }

    /// Adds another run's figures to these: the total over several runs.
    pub(crate) fn merge(&mut self, other: Self) {
        self.elapsed += other.elapsed;
        self.absorb(other);
        self.latencies_us.sort_unstable();
    }

    /// Adds a worker's counts and latencies, unsorted.
    fn absorb(&mut self, other: Self) {
        self.latencies_us.extend(other.latencies_us);
        self.accepted += other.accepted;
        self.refused += other.refused;
        self.failed += other.failed;
    }

    fn finish(mut self, elapsed: Duration) -> Self {
        self.latencies_us.sort_unstable();
        self.elapsed = elapsed;
        self
    }

    pub(crate) fn accepted_per_sec(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// The `quantile` (0–1) of accepted requests' latency, nearest rank; `None` with no sample.
    pub(crate) fn latency_ms(&self, quantile: f64) -> Option<f64> {
        let rank = (quantile * self.latencies_us.len() as f64).ceil() as usize;
        let micros = *self.latencies_us.get(rank.max(1) - 1)?;
        Some(micros as f64 / 1000.0)
    }
}

/// `workers` tasks each sending its next request as soon as the previous one is answered, for
/// `duration`: the throughput the target sustains at that concurrency.
pub(crate) async fn closed_loop(
    client: &reqwest::Client,
    endpoint: &Arc<Endpoint>,
    workers: usize,
    duration: Duration,
) -> Measured {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = JoinSet::new();
    for _ in 0..workers {
        let (client, endpoint) = (client.clone(), Arc::clone(endpoint));
        tasks.spawn(async move {
            let mut measured = Measured::default();
            while Instant::now() < deadline {
                let sent = Instant::now();
                let answer = endpoint.send(&client).await;
                measured.record(answer, sent.elapsed());
            }
            measured
        });
    }
    let mut total = Measured::default();
    while let Some(measured) = tasks.join_next().await {
        total.absorb(measured.unwrap_or_default());
    }
    total.finish(start.elapsed())
}

/// `rate` requests a second for `duration`, each issued when due whatever the earlier ones are
/// doing. Latency counts from when a request was due, so time spent queued (here, or behind a
/// slow target) is in it.
pub(crate) async fn open_loop(
    client: &reqwest::Client,
    endpoint: &Arc<Endpoint>,
    rate: u64,
    duration: Duration,
) -> Measured {
    let total = rate * duration.as_secs();
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tasks = JoinSet::new();
    let mut measured = Measured::default();
    // The timer wakes at most every millisecond: each tick issues what has come due since.
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let start = Instant::now();
    let mut issued = 0;
    while issued < total {
        ticker.tick().await;
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        for n in issued..due {
            let due_at = start + Duration::from_secs_f64(n as f64 / rate as f64);
            let (client, endpoint) = (client.clone(), Arc::clone(endpoint));
            let in_flight = Arc::clone(&in_flight);
            tasks.spawn(async move {
                let _permit = in_flight.acquire_owned().await;
                let answer = endpoint.send(&client).await;
                (answer, due_at.elapsed())
            });
        }
        issued = due;
        // Collect what is done as it goes, so finished tasks do not pile up.
        while let Some(done) = tasks.try_join_next() {
            if let Ok((answer, latency)) = done {
                measured.record(answer, latency);
            }
        }
    }
    let drained = tokio::time::timeout(DRAIN_LIMIT, async {
        while let Some(done) = tasks.join_next().await {
            if let Ok((answer, latency)) = done {
                measured.record(answer, latency);
            }
        }
    })
    .await;
    if drained.is_err() {
        measured.failed += tasks.len() as u64;
        tasks.shutdown().await;
    }
    measured.finish(start.elapsed())
}
