//! Reading typed configuration from environment variables with clap: every setting is a field
//! declared once, with its variable, its default and its help (`#[arg(long, env, default_value)]`).
//! A variable set to blank counts as unset, and a value that does not parse is refused with an
//! error naming the variable, as the services always did.

pub mod check;
mod deployment;
pub mod parse;

pub use deployment::Deployment;

use std::ffi::OsStr;

use clap::{
    Arg, Args, Command, FromArgMatches,
    error::{ContextKind, ContextValue},
};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} has an invalid value {value:?}: {reason}")]
    Invalid {
        name: String,
        value: String,
        reason: String,
    },
    #[error("environment variable {name} is not valid unicode")]
    NotUnicode { name: String },
    /// A development fallback (a committed key, the local simulator's URLs) outside local mode.
    #[error(
        "environment variable {name} {what}, a development fallback only DEPLOYMENT=local allows"
    )]
    DevelopmentFallback { name: String, what: String },
    /// Anything else clap refuses: only a mistake in a declaration gets here.
    #[error("reading the configuration: {0}")]
    Unreadable(String),
}

impl ConfigError {
    /// A value refused after it parsed (out of range, the wrong scheme…), named by its variable.
    pub fn invalid(name: &str, value: impl ToString, reason: impl ToString) -> Self {
        Self::Invalid {
            name: name.to_owned(),
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// `C` read from the environment alone: command-line arguments are not looked at, so a service's
/// own CLI (onboarding's subcommands) and its configuration do not interfere.
pub fn from_env<C: Args + FromArgMatches>() -> Result<C, ConfigError> {
    read(std::iter::empty::<&str>())
}

/// `C` from the environment and `args` (flags win), so tests can give values without touching
/// the process's environment.
fn read<'a, C: Args + FromArgMatches>(
    args: impl IntoIterator<Item = &'a str>,
) -> Result<C, ConfigError> {
    let command = C::augment_args(Command::new("config").no_binary_name(true));
    for name in command.get_arguments().filter_map(Arg::get_env) {
        if std::env::var_os(name).is_some_and(|value| value.to_str().is_none()) {
            return Err(ConfigError::NotUnicode {
                name: name.to_string_lossy().into_owned(),
            });
        }
    }
    matches(command.mut_args(blank_as_unset), args)
}

/// `C` from its declared defaults and `args` alone, whatever the environment says.
pub fn defaults<'a, C: Args + FromArgMatches>(
    args: impl IntoIterator<Item = &'a str>,
) -> Result<C, ConfigError> {
    let command = C::augment_args(Command::new("defaults").no_binary_name(true));
    matches(command.mut_args(|arg| arg.env(None)), args)
}

fn matches<'a, C: FromArgMatches>(
    mut command: Command,
    args: impl IntoIterator<Item = &'a str>,
) -> Result<C, ConfigError> {
    let matches = command
        .try_get_matches_from_mut(args)
        .map_err(|err| from_clap(&command, &err))?;
    C::from_arg_matches(&matches).map_err(|err| from_clap(&command, &err))
}

/// Compose files and shells pass `NAME=` to mean "the default"; clap would parse the empty string.
fn blank_as_unset(arg: Arg) -> Arg {
    let blank = arg
        .get_env()
        .and_then(std::env::var_os)
        .is_some_and(|value| value.to_str().is_some_and(|value| value.trim().is_empty()));
    if blank { arg.env(None) } else { arg }
}

/// clap names the flag (`--batch-max-rows <BATCH_MAX_ROWS>`); our errors name the variable, and
/// never show a secret's value.
fn from_clap(command: &Command, err: &clap::Error) -> ConfigError {
    let context = |kind| match err.get(kind) {
        Some(ContextValue::String(value)) => Some(value.clone()),
        _ => None,
    };
    let arg = context(ContextKind::InvalidArg)
        .and_then(|shown| command.get_arguments().find(|arg| arg.to_string() == shown));
    let name = arg.and_then(Arg::get_env).map(OsStr::to_string_lossy);
    match (arg, name, context(ContextKind::InvalidValue)) {
        (Some(arg), Some(name), Some(value)) => ConfigError::Invalid {
            name: name.into_owned(),
            value: if arg.is_hide_env_values_set() {
                "<hidden>".to_owned()
            } else {
                value
            },
            reason: std::error::Error::source(err)
                .map_or_else(|| err.kind().to_string(), ToString::to_string),
        },
        _ => ConfigError::Unreadable(err.to_string()),
    }
}

/// The variables `command` reads, each with its default and help, for a binary's `--help`
/// (`#[command(after_long_help = environment_help(&Config::command()))]`): the configuration
/// itself is read from the environment only.
pub fn environment_help(command: &Command) -> String {
    let mut help = String::from("Configuration (environment variables):\n");
    for arg in command.get_arguments() {
        let Some(name) = arg.get_env() else { continue };
        help.push_str(&format!("  {}", name.to_string_lossy()));
        let defaults = arg.get_default_values();
        if !arg.is_hide_default_value_set() && !defaults.is_empty() {
            let shown: Vec<_> = defaults
                .iter()
                .map(|value| value.to_string_lossy())
                .collect();
            match shown.join(",") {
                empty if empty.is_empty() => help.push_str(" [default: empty]"),
                shown => help.push_str(&format!(" [default: {shown}]")),
            }
        }
        if let Some(about) = arg.get_help() {
            help.push_str(&format!("\n      {about}"));
        }
        help.push('\n');
    }
    help
}

/// A URL with its password replaced, fit for a log line.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "<unparseable url>".to_owned(),
    }
}

#[cfg(test)]
mod tests;
