use clap::CommandFactory;

use super::*;

/// What the case is, how it breaks a valid config, and what the refusal must say.
type Case = (&'static str, fn(&mut Config), &'static str);

fn defaults() -> Config {
    config::defaults(std::iter::empty()).expect("the declared defaults parse")
}

#[test]
fn the_defaults_work_on_the_local_stack() {
    let config = defaults();
    config.validate().unwrap();
    assert_eq!(
        config.server.listen,
        Some("127.0.0.1:8080".parse().unwrap())
    );
    assert_eq!(config.server.admin_listen.to_string(), "127.0.0.1:9180");
    assert_eq!(config.server.max_connections, 512);
    assert_eq!(config.topics.raw_partitions, 8);
    assert_eq!(
        config.verify.forge.app_id,
        atlassian_auth::forge_fit::DEMO_APP_ID
    );
}

#[test]
fn validate_refuses_what_could_only_fail_later() {
    let cases: [Case; 6] = [
        (
            "no body at all",
            |c| c.max_body_bytes = 0,
            "INGRESS_MAX_BODY_BYTES has an invalid value \"0\": must be at least 1",
        ),
        (
            "no time for a body",
            |c| c.body_read_timeout = Duration::ZERO,
            "INGRESS_BODY_READ_TIMEOUT_MS has an invalid value \"0\"",
        ),
        (
            "no room in the queue",
            |c| c.producer.queue_max_messages = 0,
            "KAFKA_QUEUE_MAX_MESSAGES",
        ),
        (
            "a public URL that is not http",
            |c| c.verify.public_base_url = "ftp://example.org".parse().unwrap(),
            "PUBLIC_BASE_URL has an invalid value \"ftp://example.org/\": must be an http or https URL",
        ),
        (
            "dead letters into the raw topic",
            |c| c.topics.dead_letter = c.topics.raw.clone(),
            "KAFKA_DEAD_LETTER_TOPIC has an invalid value \"jira.raw-events\"",
        ),
        (
            "no pool",
            |c| c.postgres.pool_size = 0,
            "DATABASE_POOL_SIZE",
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
fn the_readme_documents_every_variable_with_its_default() {
    test_kit::readme::assert_documents(&Config::command());
}
