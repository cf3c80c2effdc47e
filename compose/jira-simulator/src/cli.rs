//! The command line: `serve`, `install`, `stream`, `uninstall`. Every option can also come from a
//! `SIMULATOR_*` environment variable, and every default works on the local stack.

use std::{net::SocketAddr, num::NonZeroU32, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand, ValueEnum};
use url::Url;

use crate::{commands, delivery::DeliveryOptions, events::EventFixtures, target::Target};

#[derive(Debug, Parser)]
#[command(
    name = "jira-simulator",
    version,
    about = "Plays Atlassian against the local MetaFrazo stack."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the Connect install keys, the Forge JWKS and Jira's user-email and permissions
    /// endpoints until SIGTERM.
    Serve(ServeArgs),
    /// Install the app on new Jira sites (Forge or Connect lifecycle calls) and write the installations.
    Install(InstallArgs),
    /// Stream signed events for the installations at a steady rate, with Jira's retries: Forge
    /// events with a FIT or Connect webhooks, as each installation was made.
    Stream(StreamArgs),
    /// Uninstall the installations of the file (Forge: preUninstall; Connect: uninstalled).
    Uninstall(UninstallArgs),
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => commands::serve::run(args).await,
            Command::Install(args) => commands::install::run(args).await,
            Command::Stream(args) => commands::stream::run(args).await,
            Command::Uninstall(args) => commands::uninstall::run(args).await,
        }
    }
}

/// Which of Atlassian's two app frameworks installs the app on a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Via {
    /// Forge Remote: lifecycle calls with a FIT and the app system token, Forge-shaped events.
    /// Atlassian lists new Marketplace apps only as Forge apps, so this is the default.
    Forge,
    /// Atlassian Connect: the descriptor, a signed install, webhooks signed with a shared secret.
    Connect,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The RSA signing key (PEM), created on first use. `serve`, `install`, `uninstall` and a
    /// Forge `stream` must share it: it signs install tokens and FITs.
    #[arg(
        long,
        env = "SIMULATOR_KEY_FILE",
        default_value = ".stack/simulator/key.pem"
    )]
    pub key_file: PathBuf,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Onboarding: the descriptor and lifecycle callbacks go here. The default is the local
    /// stack's front door, one address for both, as Atlassian sees the app.
    #[arg(
        long,
        env = "SIMULATOR_ONBOARDING_URL",
        default_value = "http://127.0.0.1:8000"
    )]
    pub onboarding: Url,
    /// The ingress: `/atlassian/events`, `/forge/events` and `/webhooks/` go here (by default
    /// the front door too).
    #[arg(
        long,
        env = "SIMULATOR_INGRESS_URL",
        default_value = "http://127.0.0.1:8000"
    )]
    pub ingress: Url,
}

impl TargetArgs {
    pub(crate) fn target(&self) -> Target {
        Target::new(self.onboarding.clone(), self.ingress.clone())
    }
}

#[derive(Debug, Args)]
pub struct InstallationsArgs {
    /// The installations file `install` writes and the other commands read.
    #[arg(
        long = "from",
        env = "SIMULATOR_INSTALLATIONS",
        default_value = ".stack/simulator/installation.json"
    )]
    pub path: PathBuf,
}

#[derive(Debug, Args)]
pub struct DeliveryArgs {
    /// Retries after the first attempt, on 408/409/425/429/5xx, timeouts and failed connections.
    #[arg(long, env = "SIMULATOR_MAX_RETRIES", default_value_t = 5)]
    pub max_retries: u32,
    /// How long one attempt may take (e.g. `10s`, `500ms`).
    #[arg(long, env = "SIMULATOR_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The delay before the first retry; it doubles for each further one.
    #[arg(long, env = "SIMULATOR_BACKOFF", default_value = "1s", value_parser = parse_duration)]
    pub backoff: Duration,
}

impl DeliveryArgs {
    pub(crate) fn options(&self) -> DeliveryOptions {
        DeliveryOptions {
            max_retries: self.max_retries,
            timeout: self.timeout,
            backoff: self.backoff,
            identifier: None,
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[arg(long, env = "SIMULATOR_ADDR", default_value = "127.0.0.1:8090")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Installations made by `install`, for the user-email and permissions endpoints.
    #[arg(
        long,
        env = "SIMULATOR_INSTALLATIONS",
        default_value = ".stack/simulator/installation.json"
    )]
    pub installations: PathBuf,
}

/// The running `serve`, which plays Atlassian's key server and Jira's REST API: installs and
/// uninstalls are announced to it, so it answers the app's lookups of their installers.
#[derive(Debug, Args)]
pub struct ServeUrlArgs {
    /// The running `serve`: install is refused unless it serves this key, since the app fetches it there.
    #[arg(
        long,
        env = "SIMULATOR_KEY_URL",
        default_value = "http://127.0.0.1:8090"
    )]
    pub key_url: Url,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub serve: ServeUrlArgs,
    /// How many Jira sites to install on.
    #[arg(long, env = "SIMULATOR_WORKSPACES", default_value = "1")]
    pub workspaces: NonZeroU32,
    /// Install as a Forge app or through Connect.
    #[arg(long, value_enum, env = "SIMULATOR_INSTALL_VIA", default_value_t = Via::Forge)]
    pub via: Via,
    /// Where to write the installations (replaced).
    #[arg(
        long,
        env = "SIMULATOR_INSTALLATIONS",
        default_value = ".stack/simulator/installation.json"
    )]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct StreamArgs {
    #[command(flatten)]
    pub installations: InstallationsArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Events per second, spread over the installations in turn.
    #[arg(long, env = "SIMULATOR_RATE", default_value_t = 50.0, value_parser = parse_rate)]
    pub rate: f64,
    /// How many events to send (default 1000 unless `--duration` is given).
    #[arg(long, env = "SIMULATOR_COUNT", conflicts_with = "duration")]
    pub count: Option<u64>,
    /// How long to send for instead of a count (e.g. `30s`, `2m`).
    #[arg(long, env = "SIMULATOR_DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Deliveries in flight at most; when the ingress is slower, the rate drops.
    #[arg(long, env = "SIMULATOR_CONCURRENCY", default_value_t = 64)]
    pub concurrency: usize,
    /// Instead of the fixture mix: this many issues per installation living their lifecycles
    /// (created, commented, moved through To Do → In Progress → In Review → Done, some paused,
    /// reopened or deleted), timestamped over the past `--weeks` as Jira would have sent them.
    #[arg(long, env = "SIMULATOR_LIFECYCLE_ISSUES", conflicts_with_all = ["count", "duration"])]
    pub lifecycle: Option<u32>,
    /// The span of a `--lifecycle` stream, ending now.
    #[arg(long, env = "SIMULATOR_LIFECYCLE_WEEKS", default_value_t = 6)]
    pub weeks: u32,
    /// The seed of a `--lifecycle` stream (installation n uses seed + n): the same seed, the
    /// same events.
    #[arg(long, env = "SIMULATOR_LIFECYCLE_SEED", default_value_t = 1)]
    pub seed: u64,
    /// The Connect event fixtures to vary.
    #[arg(long, env = "SIMULATOR_FIXTURES", default_value_os_t = EventFixtures::default_dir())]
    pub fixtures: PathBuf,
    /// The Forge event fixtures to vary.
    #[arg(
        long,
        env = "SIMULATOR_FORGE_FIXTURES",
        default_value_os_t = EventFixtures::default_forge_dir()
    )]
    pub forge_fixtures: PathBuf,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    #[command(flatten)]
    pub installations: InstallationsArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub serve: ServeUrlArgs,
}

/// `500ms`, `30s`, `2m`, `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s or 500ms"))?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}: use ms, s, m or h"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|err| format!("{text:?}: {err}"))
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "{text:?} is not a positive number of events per second"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        let cases = [
            ("500ms", 500),
            ("30s", 30_000),
            ("2m", 120_000),
            ("1h", 3_600_000),
            ("1.5", 1_500),
        ];
        for (text, millis) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(millis)),
                "{text}"
            );
        }
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3d").is_err());
    }

    #[test]
    fn stream_defaults_work_on_the_local_stack() {
        // Read the declared defaults, not a parse: `compose/local` exports the SIMULATOR_*
        // variables, which a parse would pick up.
        let command = <Cli as clap::CommandFactory>::command();
        let stream = command.find_subcommand("stream").expect("stream");
        let default = |id: &str| {
            stream
                .get_arguments()
                .find(|arg| arg.get_id() == id)
                .unwrap_or_else(|| panic!("no argument {id}"))
                .get_default_values()
                .iter()
                .map(|value| value.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(default("rate"), ["50"]);
        assert_eq!(default("ingress"), ["http://127.0.0.1:8000"]);
        assert_eq!(default("path"), [".stack/simulator/installation.json"]);
        assert_eq!(default("key_file"), [".stack/simulator/key.pem"]);
        assert!(
            Cli::try_parse_from([
                "jira-simulator",
                "stream",
                "--count",
                "5",
                "--duration",
                "1s"
            ])
            .is_err()
        );
    }

    #[test]
    fn install_goes_through_forge_unless_told_connect() {
        let command = <Cli as clap::CommandFactory>::command();
        let install = command.find_subcommand("install").expect("install");
        let via = install
            .get_arguments()
            .find(|arg| arg.get_id() == "via")
            .expect("a --via option");
        assert_eq!(via.get_default_values(), ["forge"]);
        let parsed = Cli::try_parse_from(["jira-simulator", "install", "--via", "connect"])
            .expect("connect is a choice");
        let Command::Install(args) = parsed.command else {
            panic!("not install");
        };
        assert_eq!(args.via, Via::Connect);
        assert!(Cli::try_parse_from(["jira-simulator", "install", "--via", "webhook"]).is_err());
    }
}
