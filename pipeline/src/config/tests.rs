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
    assert_eq!(config.server.listen, None, "no public port");
    assert_eq!(config.server.admin_listen.to_string(), "127.0.0.1:9183");
    assert_eq!(config.batch.max_bytes, 33_554_432);
    assert_eq!(config.consumer.instance_id, None);
    assert_eq!(config.retention.interval, Duration::from_secs(3600));
}

#[test]
fn validate_refuses_what_would_stall_the_pipeline() {
    let cases: [Case; 6] = [
        (
            "empty batches",
            |c| c.batch.max_rows = 0,
            "BATCH_MAX_ROWS has an invalid value \"0\": must be at least 1",
        ),
        ("no bytes", |c| c.batch.max_bytes = 0, "BATCH_MAX_BYTES"),
        (
            "no wait",
            |c| c.batch.max_wait = Duration::ZERO,
            "BATCH_MAX_WAIT_MS",
        ),
        (
            "no insert ever in flight",
            |c| c.batch.inserts_in_flight = 0,
            "INSERTS_IN_FLIGHT",
        ),
        (
            "ClickHouse over its native protocol",
            |c| c.clickhouse.url = "tcp://user:hunter2@127.0.0.1:9000".to_owned(),
            "CLICKHOUSE_URL has an invalid value \"tcp://user:***@127.0.0.1:9000\"",
        ),
        (
            "a raw topic with no partitions",
            |c| c.topics.raw_partitions = 0,
            "KAFKA_RAW_PARTITIONS",
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
