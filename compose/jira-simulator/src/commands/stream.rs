//! `stream`: signed events for the installations of the file, at a steady rate, each delivered
//! with Jira's retries: Forge events with a fresh FIT for a Forge installation, Connect webhooks
//! signed with the shared secret for a Connect one; a tally of the outcomes at the end.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use anyhow::{Context, bail, ensure};
use rand::{SeedableRng, rngs::StdRng};
use tokio::{sync::Semaphore, task::JoinSet, time::MissedTickBehavior};

use crate::{
    cli::StreamArgs,
    config::SimulatorConfig,
    connect::ConnectInstallation,
    delivery::{Delivery, DeliveryOptions, Outcome},
    error::Result,
    events::EventFixtures,
    forge::ForgeInstall,
    installations_file::InstallationsFile,
    lifecycle::{self, LifecycleSpec},
    simulator::Simulator,
    target::Target,
};

/// Without `--count` or `--duration`.
const DEFAULT_COUNT: u64 = 1000;

pub(crate) async fn run(args: StreamArgs) -> anyhow::Result<()> {
    let path = &args.installations.path;
    let file = InstallationsFile::read(path)?;
    ensure!(
        !file.is_empty(),
        "no installations in {}: run `jira-simulator install` first",
        path.display()
    );
    // FITs are signed with the served key; Connect webhooks with each installation's shared
    // secret, for which any key does.
    let simulator = Arc::new(
        Simulator::new(SimulatorConfig {
            key_file: (!file.forge_installations.is_empty()).then(|| args.key.key_file.clone()),
            ..SimulatorConfig::default()
        })
        .await
        .context("loading the signing key")?,
    );
    if !file.forge_installations.is_empty() {
        ensure!(
            file.kid.is_empty() || file.kid == simulator.kid(),
            "{} was installed with the key {}, but {} holds the key {}: its FITs would be refused",
            path.display(),
            file.kid,
            args.key.key_file.display(),
            simulator.kid()
        );
    }
    let connect_fixtures = (!file.installations.is_empty())
        .then(|| EventFixtures::load(&args.fixtures))
        .transpose()?;
    let forge_fixtures = (!file.forge_installations.is_empty())
        .then(|| EventFixtures::load(&args.forge_fixtures))
        .transpose()?;
    let workspaces: Vec<Workspace> = file
        .installations
        .into_iter()
        .map(Workspace::Connect)
        .chain(file.forge_installations.into_iter().map(Workspace::Forge))
        .collect();
    let target = Arc::new(args.target.target());
    let options = args.delivery.options();
    let mut planned = args
        .lifecycle
        .map(|issues| lifecycles(&workspaces, issues, args.weeks, args.seed));
    let limit = match (&planned, args.count, args.duration) {
        (Some(planned), _, _) => Limit::Count(planned.len() as u64),
        (None, _, Some(duration)) => Limit::Until(Instant::now() + duration),
        (None, count, None) => Limit::Count(count.unwrap_or(DEFAULT_COUNT)),
    };

    let tally = Arc::new(Mutex::new(Tally::default()));
    let in_flight = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let mut rng = StdRng::from_entropy();
    let mut tasks = JoinSet::new();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    // A slow ingress lowers the rate rather than causing a burst once it recovers.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let started = Instant::now();
    let mut sent: u64 = 0;
    while !limit.reached(sent) {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut ctrl_c => {
                eprintln!("interrupted: waiting for the deliveries in flight");
                break;
            }
        }
        let permit = in_flight
            .clone()
            .acquire_owned()
            .await
            .context("the delivery limit closed")?;
        let mut options = options.clone();
        let (workspace, event) = match planned.as_mut().and_then(VecDeque::pop_front) {
            Some(Planned {
                workspace,
                body,
                identifier,
            }) => {
                options.identifier = identifier;
                (workspaces[workspace].clone(), body)
            }
            None => {
                let workspace = workspaces[(sent % workspaces.len() as u64) as usize].clone();
                let fixtures = match workspace {
                    Workspace::Connect(_) => connect_fixtures.as_ref(),
                    Workspace::Forge(_) => forge_fixtures.as_ref(),
                }
                .context("no fixtures loaded for an installation's kind")?;
                (workspace, fixtures.generate(&mut rng))
            }
        };
        let (simulator, target, tally) = (simulator.clone(), target.clone(), tally.clone());
        tasks.spawn(async move {
            let result = workspace.send(&simulator, &target, &event, options).await;
            tally
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record(result);
            drop(permit);
        });
        sent += 1;
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}

    let elapsed = started.elapsed();
    let tally = tally.lock().unwrap_or_else(PoisonError::into_inner);
    println!(
        "sent {sent} events in {:.1} s ({:.1}/s) to {}",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
        args.target.ingress
    );
    println!("{}", tally.summary());
    let lost = tally.refused.values().sum::<u64>() + tally.gave_up + tally.errors;
    if lost > 0 {
        bail!("{lost} of {sent} events were not accepted");
    }
    Ok(())
}

/// One event of a `--lifecycle` stream, for installation `workspace` of the file.
struct Planned {
    workspace: usize,
    body: serde_json::Value,
    /// Jira's webhook identifier (Connect sends one; Forge none).
    identifier: Option<String>,
}

/// Every installation's lifecycles (installation n seeded `seed + n`), merged in time order.
fn lifecycles(workspaces: &[Workspace], issues: u32, weeks: u32, seed: u64) -> VecDeque<Planned> {
    let mut all: Vec<(i64, Planned)> = Vec::new();
    for (n, workspace) in workspaces.iter().enumerate() {
        let spec = LifecycleSpec::recent(seed + n as u64, issues, weeks);
        for event in lifecycle::generate(&spec) {
            let planned = match workspace {
                Workspace::Connect(installation) => Planned {
                    workspace: n,
                    body: event.connect_body(&installation.site_base_url),
                    identifier: Some(event.identifier.clone()),
                },
                Workspace::Forge(install) => Planned {
                    workspace: n,
                    body: event.forge_body(&install.installation.site_url),
                    identifier: None,
                },
            };
            all.push((event.at_ms, planned));
        }
    }
    all.sort_by_key(|(at, _)| *at);
    all.into_iter().map(|(_, planned)| planned).collect()
}

/// An installation of the file, as it was made: its events go the same way.
#[derive(Debug, Clone)]
enum Workspace {
    Connect(ConnectInstallation),
    Forge(ForgeInstall),
}

impl Workspace {
    async fn send(
        &self,
        simulator: &Simulator,
        target: &Target,
        event: &serde_json::Value,
        options: DeliveryOptions,
    ) -> Result<Delivery> {
        match self {
            Self::Connect(installation) => {
                simulator
                    .send_connect_event(target, installation, event, options)
                    .await
            }
            Self::Forge(install) => {
                simulator
                    .send_forge_event(target, &install.installation, event, options)
                    .await
            }
        }
    }
}

enum Limit {
    Count(u64),
    Until(Instant),
}

impl Limit {
    fn reached(&self, sent: u64) -> bool {
        match self {
            Self::Count(count) => sent >= *count,
            Self::Until(deadline) => Instant::now() >= *deadline,
        }
    }
}

#[derive(Debug, Default)]
struct Tally {
    accepted: u64,
    /// Final refusals by status.
    refused: BTreeMap<u16, u64>,
    gave_up: u64,
    /// Deliveries that needed at least one retry, and the retries they took.
    retried: u64,
    retries: u64,
    /// Deliveries that could not even be attempted (a signing failure).
    errors: u64,
    last_refusal: Option<String>,
}

impl Tally {
    fn record(&mut self, result: Result<Delivery>) {
        let delivery = match result {
            Ok(delivery) => delivery,
            Err(err) => {
                self.errors += 1;
                self.last_refusal = Some(format!("{:#}", anyhow::Error::from(err)));
                return;
            }
        };
        if delivery.retries() > 0 {
            self.retried += 1;
            self.retries += u64::from(delivery.retries());
        }
        match delivery.outcome {
            Outcome::Accepted { .. } => self.accepted += 1,
            Outcome::Refused { status } => {
                *self.refused.entry(status).or_default() += 1;
                self.last_refusal = Some(format!("HTTP {status}: {}", delivery.last_body));
            }
            Outcome::RetriesExhausted => {
                self.gave_up += 1;
                self.last_refusal = delivery
                    .attempts
                    .last()
                    .map(|attempt| format!("{:?}", attempt.result));
            }
        }
    }

    fn summary(&self) -> String {
        let refused: u64 = self.refused.values().sum();
        let by_status: Vec<String> = self
            .refused
            .iter()
            .map(|(status, n)| format!("{n}×{status}"))
            .collect();
        let mut text = format!(
            "accepted {}, refused {refused}{}, gave up {}, retried {} ({} retries)",
            self.accepted,
            if by_status.is_empty() {
                String::new()
            } else {
                format!(" ({})", by_status.join(", "))
            },
            self.gave_up,
            self.retried,
            self.retries,
        );
        if self.errors > 0 {
            text.push_str(&format!(", not sent {}", self.errors));
        }
        if let Some(last) = &self.last_refusal {
            text.push_str(&format!("\nlast failure: {last}"));
        }
        text
    }
}
