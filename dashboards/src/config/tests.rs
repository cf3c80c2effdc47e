use clap::CommandFactory;

use super::*;

/// What the case is, how it breaks a valid config, and what the refusal must say.
type Case = (&'static str, fn(&mut Config), &'static str);

/// The declared defaults in local mode, as the local stack runs them.
fn defaults() -> Config {
    config::defaults(["--deployment", "local"]).expect("the declared defaults parse")
}

/// Local defaults with every development fallback replaced, in production mode.
fn production() -> Config {
    let mut config = defaults();
    config.server.deployment = service_runtime::config::Deployment::Production;
    config.jira_permissions.cipher = service_runtime::secret_cipher::SecretCipher::parse_key(
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    )
    .unwrap();
    config.jira_permissions.api_base_override = None;
    config
}

#[test]
fn the_defaults_work_on_the_local_stack() {
    let config = defaults();
    config.validate().unwrap();
    assert_eq!(
        config.server.listen,
        Some("127.0.0.1:8082".parse().unwrap())
    );
    assert_eq!(config.server.admin_listen.to_string(), "127.0.0.1:9182");
    assert_eq!(config.onboarding_url.as_str(), "http://127.0.0.1:8081/");
    assert_eq!(config.dashboards_url.as_str(), "http://127.0.0.1:8082/");
}

#[test]
fn validate_refuses_what_could_only_fail_later() {
    let cases: [Case; 4] = [
        (
            "sign-in links nowhere",
            |c| c.onboarding_url = "file:///srv/onboarding".parse().unwrap(),
            "ONBOARDING_URL has an invalid value \"file:///srv/onboarding\": must be an http or https URL",
        ),
        (
            "forms compared with no origin",
            |c| c.dashboards_url = "file:///srv/dashboards".parse().unwrap(),
            "DASHBOARDS_URL has an invalid value",
        ),
        (
            "Prometheus over something else",
            |c| c.prometheus_url = "unix:/run/prometheus.sock".parse().unwrap(),
            "PROMETHEUS_URL",
        ),
        (
            "an unreadable database URL",
            |c| c.postgres.url = "postgres://[::1".into(),
            "DATABASE_URL",
        ),
    ];
    for (case, break_it, expected) in cases {
        let mut config = defaults();
        break_it(&mut config);
        let message = config.validate().expect_err(case).to_string();
        assert!(message.contains(expected), "{case}: {message}");
    }
}

#[test]
fn outside_local_mode_each_development_fallback_is_refused_naming_its_variable() {
    production().validate().expect("no fallback left");
    let cases: [Case; 3] = [
        (
            "the development SECRETS_KEY (what an unset or empty one falls back to)",
            |c| {
                c.jira_permissions.cipher = service_runtime::secret_cipher::SecretCipher::parse_key(
                    service_runtime::secret_cipher::DEVELOPMENT_KEY,
                )
                .unwrap()
            },
            "environment variable SECRETS_KEY is unset, empty or the development key committed",
        ),
        (
            "the simulator's Jira API",
            |c| {
                c.jira_permissions.api_base_override =
                    Some("http://127.0.0.1:8090".parse().unwrap())
            },
            "environment variable ATLASSIAN_API_BASE_URL is http://127.0.0.1:8090/, not https",
        ),
        (
            "no time to keep Jira's answers",
            |c| c.jira_permissions.ttl = std::time::Duration::ZERO,
            "JIRA_PERMISSIONS_TTL_SECS",
        ),
    ];
    for (case, fall_back, expected) in cases {
        let mut config = production();
        fall_back(&mut config);
        let message = config.validate().expect_err(case).to_string();
        assert!(message.contains(expected), "{case}: {message}");
    }
}

#[test]
fn the_readme_documents_every_variable_with_its_default() {
    test_kit::readme::assert_documents(&Config::command());
}
