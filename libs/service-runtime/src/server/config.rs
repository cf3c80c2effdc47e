//! What every service's server is configured with: its addresses (named by each service), the
//! deployment mode, and the limits and timeouts all services share.

use std::{net::SocketAddr, time::Duration};

use crate::config::{Deployment, check, parse};

/// Where a service listens (its public port, and the admin port that alone answers health,
/// readiness and metrics), how many connections each takes, how long a client may take over its
/// headers, and how long the service drains on shutdown.
///
/// Each service names its own address variables and defaults, so `listen` and `admin_listen`
/// have neither here: a service sets them with
/// `#[command(mut_arg("listen", |arg| arg.env(…).default_value(…)))]`. A service with no public
/// routes (the pipeline) leaves `listen` alone, so it is `None`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerConfig {
    /// Where this service serves its public routes.
    #[arg(id = "listen", long = "listen")]
    pub listen: Option<SocketAddr>,
    /// Where this service answers `/healthz`, `/readyz` and `/metrics`: kept off the public port
    /// because readiness costs a Postgres connection and an SMTP session, and the metrics name
    /// tenants. Loopback by default; expose it only to probes and Prometheus.
    // Not `required`: clap would demand the flag even once the service has given it a default.
    #[arg(id = "admin_listen", long = "admin-listen", required = false)]
    pub admin_listen: SocketAddr,
    /// `local` allows the development fallbacks (the committed SECRETS_KEY, the simulator's
    /// plain-http URLs); `production` refuses to start on any of them.
    #[arg(
        long = "deployment",
        env = "DEPLOYMENT",
        value_enum,
        ignore_case = true,
        default_value = "production"
    )]
    pub deployment: Deployment,
    /// Connections each listener serves at once; past it, new connections wait in the kernel's
    /// accept queue until one closes, so a flood costs queued sockets rather than tasks, memory
    /// and file descriptors.
    #[arg(
        long = "max-connections",
        env = "MAX_CONNECTIONS",
        default_value_t = 512
    )]
    pub max_connections: usize,
    /// Seconds in-flight requests get to finish on shutdown.
    #[arg(
        long = "shutdown-grace-secs",
        env = "SHUTDOWN_GRACE_SECS",
        default_value = "10",
        value_parser = parse::secs
    )]
    pub shutdown_grace: Duration,
    /// Milliseconds a client gets for each request's headers. Hyper runs the timer while a
    /// kept-alive connection waits for its next request too, so this is also the idle limit:
    /// the default stays above the 60 s idle timeout of common load balancers, which must close
    /// an idle connection before we do.
    #[arg(
        long = "header-read-timeout-ms",
        env = "HEADER_READ_TIMEOUT_MS",
        default_value = "65000",
        value_parser = parse::millis
    )]
    pub header_read_timeout: Duration,
}

impl ServerConfig {
    /// Both listeners on port 0 on loopback, local mode, and the declared defaults (whatever the
    /// environment says), for tests.
    pub fn loopback() -> Self {
        crate::config::defaults([
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--deployment",
            "local",
        ])
        .expect("the declared defaults parse")
    }

    /// Each listener this service has on a port of its own (port 0 on loopback), so tests run
    /// side by side with each other and with the local stack's services.
    pub fn listen_on_free_ports(&mut self) {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        if self.listen.is_some() {
            self.listen = Some(loopback);
        }
        self.admin_listen = loopback;
    }

    /// A zero header timeout would cut every connection before its first request, and a zero
    /// connection cap would never serve one.
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
        check::not_zero("HEADER_READ_TIMEOUT_MS", self.header_read_timeout)?;
        check::at_least_one("MAX_CONNECTIONS", self.max_connections)
    }
}
