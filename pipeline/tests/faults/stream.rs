//! A steady stream of Jira events from the simulator, under Jira's retry rule, with a record of
//! what became of each delivery: the ground truth a fault is judged against.

use std::{sync::Arc, time::Duration};

use jira_simulator::{
    ConnectInstallation, Delivery, DeliveryOptions, EventFixtures, Simulator, Target,
    in_process::PROBE_KIND,
};
use rand::SeedableRng;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The event kinds sent, by fixture name; each delivery counts once under the weekly-rates
/// kind of the same name, which keeps the independent count of the views a plain tally. The
/// probes an install is checked with are of the first.
pub(crate) const KINDS: [&str; 2] = [PROBE_KIND, "comment_created"];

/// What became of one delivery, as the simulator saw it.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    /// What ingress knows a Connect delivery by, and ClickHouse stores: the body's SHA-256.
    pub(crate) delivery_id: String,
    pub(crate) kind: &'static str,
    pub(crate) accepted: bool,
    pub(crate) retries: u32,
}

pub(crate) struct SteadyStream {
    stop: CancellationToken,
    sender: tokio::task::JoinHandle<Vec<Sent>>,
}

impl SteadyStream {
    /// Sends `per_second` events a second until [`SteadyStream::finish`].
    pub(crate) fn start(
        sim: Arc<Simulator>,
        target: Target,
        installation: ConnectInstallation,
        per_second: u32,
    ) -> Self {
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let sender = tokio::spawn(async move {
            let fixtures = Arc::new(EventFixtures::load(&EventFixtures::default_dir()).unwrap());
            let (target, installation) = (Arc::new(target), Arc::new(installation));
            let mut rng = rand::rngs::StdRng::seed_from_u64(7);
            let mut in_flight = JoinSet::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second);
            let mut sequence = 0usize;
            loop {
                tokio::select! {
                    () = stopped.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let kind = KINDS[sequence % KINDS.len()];
                sequence += 1;
                let payload = fixtures.generate_named(kind, &mut rng).unwrap();
                let (sim, target, installation) = (
                    Arc::clone(&sim),
                    Arc::clone(&target),
                    Arc::clone(&installation),
                );
                in_flight.spawn(async move {
                    let delivery = sim
                        .send_connect_event(&target, &installation, &payload, jira_retries())
                        .await
                        .unwrap();
                    Sent {
                        delivery_id: delivery.body_sha256.clone(),
                        kind,
                        accepted: delivery.is_accepted(),
                        retries: delivery.retries(),
                    }
                });
            }
            // Deliveries under way finish their retries, as Jira's would.
            in_flight.join_all().await
        });
        Self { stop, sender }
    }

    /// Stops sending and waits for every delivery under way to end.
    pub(crate) async fn finish(self) -> Vec<Sent> {
        self.stop.cancel();
        self.sender.await.unwrap()
    }
}

/// Jira's rule with shorter delays: retries on 5xx, timeouts and refused connections, doubling
/// from 250 ms, about a minute in all, so every outage the suite injects is ridden out.
fn jira_retries() -> DeliveryOptions {
    DeliveryOptions {
        max_retries: 8,
        timeout: Duration::from_secs(10),
        backoff: Duration::from_millis(250),
        identifier: None,
    }
}

/// The single-attempt probes sent until ingress accepted a new installation's events, in the
/// tally like every other delivery.
pub(crate) fn probes_sent(probes: Vec<Delivery>) -> Vec<Sent> {
    probes
        .into_iter()
        .map(|probe| Sent {
            accepted: probe.is_accepted(),
            delivery_id: probe.body_sha256,
            kind: PROBE_KIND,
            retries: 0,
        })
        .collect()
}
