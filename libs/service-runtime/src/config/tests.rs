use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::*;

/// Stands in for a service's config: names no harness sets.
#[derive(clap::Args, Debug)]
struct Probe {
    /// A count.
    #[arg(
        long = "probe-count",
        env = "METAFRAZO_CONFIG_TEST_COUNT",
        default_value_t = 7
    )]
    count: u16,
    /// A duration in its variable's unit.
    #[arg(
        long = "probe-wait-ms",
        env = "METAFRAZO_CONFIG_TEST_WAIT_MS",
        default_value = "1000",
        value_parser = parse::millis
    )]
    wait: Duration,
    /// A secret that must parse, as `SECRETS_KEY` must.
    #[arg(
        long = "probe-pin",
        env = "METAFRAZO_CONFIG_TEST_PIN",
        default_value_t = 1234,
        hide_env_values = true
    )]
    pin: u32,
    #[arg(
        long = "probe-password",
        env = "METAFRAZO_CONFIG_TEST_PASSWORD",
        default_value = "",
        value_parser = parse::secret,
        hide_env_values = true
    )]
    password: SecretString,
}

#[test]
fn unset_variables_give_the_defaults() {
    let probe: Probe = from_env().unwrap();
    assert_eq!(probe.count, 7);
    assert_eq!(probe.wait, Duration::from_secs(1));
    assert_eq!(probe.pin, 1234);
    assert_eq!(probe.password.expose_secret(), "");
}

#[test]
fn a_value_that_does_not_parse_is_refused_naming_its_variable() {
    let err = read::<Probe>(["--probe-count", "many"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment variable METAFRAZO_CONFIG_TEST_COUNT has an invalid value \"many\": \
         invalid digit found in string"
    );
    let err = read::<Probe>(["--probe-wait-ms", "1.5"]).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "environment variable METAFRAZO_CONFIG_TEST_WAIT_MS has an invalid value \"1.5\""
        ),
        "{err}"
    );
}

#[test]
fn a_secret_that_does_not_parse_is_not_shown() {
    let err = read::<Probe>(["--probe-pin", "s3cr3t"]).unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    assert!(
        err.to_string().contains("METAFRAZO_CONFIG_TEST_PIN"),
        "{err}"
    );
}

/// Edition 2024 makes `set_var` unsafe (and we forbid unsafe code), so the cases that need a
/// variable set run this test binary again with it, and the child checks what it read.
#[test]
fn the_environment_is_read_and_a_blank_variable_is_unset() {
    for (case, vars) in [
        (
            "read",
            [
                ("METAFRAZO_CONFIG_TEST_COUNT", " "),
                ("METAFRAZO_CONFIG_TEST_WAIT_MS", "250"),
            ],
        ),
        (
            "invalid",
            [
                ("METAFRAZO_CONFIG_TEST_COUNT", "9"),
                ("METAFRAZO_CONFIG_TEST_PIN", "s3cr3t"),
            ],
        ),
    ] {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["config::tests::child_reads_its_environment", "--exact"])
            .env("METAFRAZO_CONFIG_TEST_CHILD", case)
            .envs(vars)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{case}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

#[test]
fn child_reads_its_environment() {
    match std::env::var("METAFRAZO_CONFIG_TEST_CHILD").as_deref() {
        Ok("read") => {
            let probe: Probe = from_env().unwrap();
            assert_eq!(probe.count, 7, "blank is unset");
            assert_eq!(probe.wait, Duration::from_millis(250));
        }
        Ok("invalid") => {
            let err = from_env::<Probe>().unwrap_err().to_string();
            assert_eq!(
                err,
                "environment variable METAFRAZO_CONFIG_TEST_PIN has an invalid value \
                 \"<hidden>\": invalid digit found in string"
            );
        }
        _ => {} // Run directly: nothing to check.
    }
}

#[test]
fn help_lists_each_variable_with_its_default_and_what_it_is_for() {
    let help = environment_help(&Probe::augment_args(Command::new("probe")));
    assert!(
        help.contains("  METAFRAZO_CONFIG_TEST_COUNT [default: 7]\n      A count\n"),
        "{help}"
    );
    assert!(
        help.contains("  METAFRAZO_CONFIG_TEST_PASSWORD [default: empty]\n"),
        "{help}"
    );
}

#[test]
fn redacted_url_keeps_everything_but_the_password() {
    assert_eq!(
        redact_url("postgres://user:hunter2@db:5432/app"),
        "postgres://user:***@db:5432/app"
    );
    assert_eq!(redact_url("http://host:8123"), "http://host:8123/");
    assert_eq!(redact_url("::nonsense"), "<unparseable url>");
}
