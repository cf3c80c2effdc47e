//! The weekly digest end to end (issue 19): a seeded lifecycle stream reaches ClickHouse the way
//! Jira's events do (the simulator signs each, the real ingress takes it, the stack's broker
//! carries it on a topic of the test's own, the real pipeline stores it), two members of one
//! organization subscribe in Asia/Kolkata and America/New_York, and the digest job runs at
//! instants the test picks. Every email is read from the SMTP sink after onboarding's own outbox
//! worker sent it, and its created and resolved counts are computed here from the lifecycle
//! events, never from the warehouse.

mod support;

use std::time::Duration;

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use futures::StreamExt;
use jira_simulator::{
    ConnectInstallation, DeliveryOptions, Target, WorkspaceSpec,
    lifecycle::{self, LifecycleEvent, LifecycleKind, LifecycleSpec},
};
use onboarding::{
    digest::DigestJob,
    mail::{
        OutboxWaker,
        messages::{SETUP_SUBJECT, digest_subject, hours_text},
    },
    metrics::DigestMetrics,
};
use support::{Browser, Harness, PUBLIC_BASE_URL, email, setup_path};
use test_kit::{Mail, Stack, TestApp, eventually, fresh_topics, unique};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use warehouse::queries::{Filters, Scope};

const KOLKATA: Tz = chrono_tz::Asia::Kolkata;
const NEW_YORK: Tz = chrono_tz::America::New_York;
const DIGEST_PREFIX: &str = "Your MetaFrazo week at ";
/// How long the whole stream may take from the simulator to ClickHouse on a busy machine.
const STORED_WITHIN: Duration = Duration::from_secs(180);

/// Ingress and the pipeline in process, on the harness's Postgres and ClickHouse, with topics
/// of their own on the stack's broker.
struct Path {
    ingress: TestApp,
    _pipeline: TestApp,
    stop: CancellationToken,
    consuming: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Path {
    async fn start(
        sim: &jira_simulator::Simulator,
        postgres: &service_runtime::connections::PostgresConfig,
        clickhouse: &service_runtime::connections::ClickHouseConfig,
    ) -> Self {
        let stack = Stack::from_env();
        let topics = fresh_topics(&stack.kafka.brokers, 2).await;
        let mut ingress_config = ingress::Config::from_env().unwrap();
        ingress_config.server.listen_on_free_ports();
        ingress_config.server.deployment = service_runtime::config::Deployment::Local;
        ingress_config.postgres = postgres.clone();
        ingress_config.topics = topics.clone();
        ingress_config.verify.public_base_url = PUBLIC_BASE_URL.parse().unwrap();
        ingress_config.verify.forge.jwks_url = sim.jwks_url().unwrap();
        let ingress = TestApp::spawn(ingress::build(ingress_config).await.unwrap());
        ingress.wait_until_ready().await;

        let mut pipeline_config = pipeline::Config::from_env().unwrap();
        pipeline_config.server.listen_on_free_ports();
        pipeline_config.clickhouse = clickhouse.clone();
        pipeline_config.topics = topics.clone();
        pipeline_config.consumer.group = unique("group");
        pipeline_config.batch.max_wait = Duration::from_millis(200);
        let built = pipeline::build(pipeline_config).await.unwrap();
        let stop = CancellationToken::new();
        let consuming = tokio::spawn(pipeline::Pipeline::consume(
            clickhouse.clone(),
            stack.kafka.brokers.clone(),
            topics,
            built.worker,
            built.maintenance,
            stop.clone(),
        ));
        Self {
            ingress,
            _pipeline: TestApp::spawn(built.app),
            stop,
            consuming,
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.consuming.await.unwrap().unwrap();
    }
}

/// Midnight starting `day` in `zone`.
fn midnight(zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    zone.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn at(zone: Tz, day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    zone.from_local_datetime(&day.and_hms_opt(hour, minute, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

/// What the lifecycle stream did in the week starting `monday` in `zone`: issues created, and
/// resolutions and completions (moves into a done status), counted from the events themselves.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tally {
    created: usize,
    resolved: usize,
    completed: usize,
}

fn tally(events: &[LifecycleEvent], zone: Tz, monday: NaiveDate) -> Tally {
    let (from, to) = (
        midnight(zone, monday).timestamp_millis(),
        midnight(zone, monday + Days::new(7)).timestamp_millis(),
    );
    let week: Vec<&LifecycleEvent> = events
        .iter()
        .filter(|event| (from..to).contains(&event.at_ms))
        .collect();
    let changed = |event: &LifecycleEvent, field: &str| {
        event.kind == LifecycleKind::Updated
            && event.changes.iter().any(|change| change.field == field)
    };
    Tally {
        created: week
            .iter()
            .filter(|event| event.kind == LifecycleKind::Created)
            .count(),
        resolved: week
            .iter()
            .filter(|event| {
                event.kind == LifecycleKind::Updated
                    && event.changes.iter().any(|change| {
                        change.field == "resolution" && change.from.is_none() && change.to.is_some()
                    })
            })
            .count(),
        completed: week
            .iter()
            .filter(|event| changed(event, "status") && event.issue.status.category == "done")
            .count(),
    }
}

/// The digests `recipient` got so far, oldest first.
fn digests_to(harness: &Harness, recipient: &str) -> Vec<Mail> {
    harness
        .mailbox
        .to(recipient)
        .into_iter()
        .filter(|mail| mail.subject.starts_with(DIGEST_PREFIX))
        .collect()
}

/// Waits for `recipient`'s digest number `nth` (from 1), and answers it.
async fn digest_number(harness: &Harness, recipient: &str, nth: usize) -> Mail {
    eventually(
        Duration::from_secs(20),
        &format!("digest {nth} to {recipient}"),
        || async {
            let mut got = digests_to(harness, recipient);
            if got.len() >= nth {
                Ok(got.swap_remove(nth - 1))
            } else {
                Err(format!("{} digests", got.len()))
            }
        },
    )
    .await
}

/// The path and query of the digest's one-click unsubscribe link, from `List-Unsubscribe`.
fn unsubscribe_path(mail: &Mail) -> String {
    let header = mail
        .header("List-Unsubscribe")
        .unwrap_or_else(|| panic!("no List-Unsubscribe in {:?}", mail.headers));
    let url = url::Url::parse(header.trim_start_matches('<').trim_end_matches('>')).unwrap();
    assert_eq!(
        format!("{}://{}", url.scheme(), url.host_str().unwrap()),
        PUBLIC_BASE_URL
    );
    assert_eq!(url.path(), "/digest/unsubscribe");
    format!("{}?{}", url.path(), url.query().unwrap())
}

/// The line of the text part starting `label`.
fn line<'a>(mail: &'a Mail, label: &str) -> &'a str {
    mail.text
        .lines()
        .find(|line| line.starts_with(label))
        .unwrap_or_else(|| panic!("no line {label:?} in:\n{}", mail.text))
}

/// An organization whose digests are checked, and where its flow view reads.
struct Organization<'a> {
    id: &'a str,
    name: &'a str,
    warehouse: &'a clickhouse::Client,
    installations: &'a [contracts::InstallationId],
}

/// The week a digest is about, in its member's zone, what the stream did in it, and when the
/// job queued it.
#[derive(Clone, Copy)]
struct DigestWeek {
    zone: Tz,
    monday: NaiveDate,
    want: Tally,
    sent_at: DateTime<Utc>,
}

/// Checks one digest against the week it is about: created and resolved as the stream made
/// them, the cycle time p85 and at-risk items as the flow view of that week shows them, the
/// three views' links for that week and zone, and RFC 8058's headers.
async fn check_digest(mail: &Mail, organization: &Organization<'_>, week: &DigestWeek) {
    let (id, name) = (organization.id, organization.name);
    let DigestWeek {
        zone,
        monday,
        want,
        sent_at,
    } = *week;
    let context = format!("{name}, week of {monday} in {}", zone.name());
    assert_eq!(
        mail.subject,
        digest_subject(name, want.created as i64, want.resolved as i64),
        "{context}"
    );
    assert_eq!(
        line(mail, "Created:"),
        format!("Created:   {}", want.created)
    );
    assert_eq!(
        line(mail, "Resolved:"),
        format!("Resolved:  {}", want.resolved)
    );
    let sunday = monday + Days::new(6);
    assert!(
        mail.text.contains(&format!(
            "Your week at {name} on MetaFrazo: Monday {monday} to Sunday {sunday} ({})",
            zone.name()
        )),
        "{context}: {}",
        mail.text
    );
    let tz = url::form_urlencoded::byte_serialize(zone.name().as_bytes()).collect::<String>();
    for view in ["weekly", "trends", "flow"] {
        let link =
            format!("http://dashboards.test/orgs/{id}/{view}?from={monday}&to={sunday}&tz={tz}");
        assert!(
            mail.text.contains(&link),
            "{context}: {link} in {}",
            mail.text
        );
        assert!(
            mail.html.contains(&link.replace('&', "&#38;"))
                || mail.html.contains(&link.replace('&', "&amp;")),
            "{context}: {link} in {}",
            mail.html
        );
    }
    // What the flow page of that week shows (the digest reads the same query; created and
    // resolved above are the independent check).
    let scope = Scope {
        installations: organization.installations.to_vec(),
        from: midnight(zone, monday),
        to: midnight(zone, monday + Days::new(7)),
        time_zone: zone.name().to_owned(),
        filters: Filters::default(),
        visibility: Default::default(),
    };
    let flow =
        warehouse::queries::flow_as_of(organization.warehouse, &scope, sent_at.timestamp_millis())
            .await
            .unwrap();
    let p85 = flow
        .weeks
        .iter()
        .find(|week| week.start == monday)
        .and_then(|week| week.cycle_time.p85_hours)
        .map_or_else(|| "no completions".to_owned(), hours_text);
    assert_eq!(
        line(mail, "Cycle time, 85th percentile:"),
        format!("Cycle time, 85th percentile: {p85}"),
        "{context}"
    );
    let at_risk: Vec<String> = flow
        .work_items
        .iter()
        .filter(|item| item.at_risk)
        .map(|item| item.issue_key.clone())
        .collect();
    let at_risk_line = line(mail, "At risk");
    if at_risk.is_empty() {
        assert!(
            at_risk_line.ends_with("): none"),
            "{context}: {at_risk_line}"
        );
    } else {
        for key in at_risk.iter().take(20) {
            assert!(
                at_risk_line.split([' ', ',']).any(|word| word == key),
                "{context}: {key} in {at_risk_line}"
            );
        }
    }
    assert_eq!(
        mail.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click"),
        "{context}"
    );
    let unsubscribe = unsubscribe_path(mail);
    assert!(
        mail.text
            .contains(&format!("{PUBLIC_BASE_URL}{unsubscribe}")),
        "{context}: the footer's link is the header's"
    );
}

/// Sends every event as Jira would (signed, with its webhook identifier), after ingress has
/// learnt of the installation, and waits until ClickHouse holds each delivery once.
async fn stream(
    harness: &Harness,
    target: &Target,
    installation: &ConnectInstallation,
    events: &[LifecycleEvent],
    warehouse: &clickhouse::Client,
) {
    let send = |event: &LifecycleEvent, max_retries: u32| {
        let options = DeliveryOptions {
            max_retries,
            backoff: Duration::from_millis(200),
            identifier: Some(event.identifier.clone()),
            ..DeliveryOptions::default()
        };
        let body = event.connect_body(&installation.site_base_url);
        async move {
            harness
                .sim
                .send_connect_event(target, installation, &body, options)
                .await
                .unwrap()
        }
    };
    // Ingress hears of the installation through a Postgres notification.
    eventually(
        Duration::from_secs(30),
        "ingress to accept the workspace's events",
        || async {
            let delivery = send(&events[0], 0).await;
            if delivery.is_accepted() {
                Ok(())
            } else {
                Err(format!("{:?} {}", delivery.statuses(), delivery.last_body))
            }
        },
    )
    .await;
    let refused: Vec<_> = futures::stream::iter(&events[1..])
        .map(|event| send(event, 5))
        .buffer_unordered(16)
        .filter(|delivery| std::future::ready(!delivery.is_accepted()))
        .collect()
        .await;
    assert!(refused.is_empty(), "refused: {refused:?}");
    eventually(STORED_WITHIN, "every delivery in ClickHouse", || async {
        let stored: u64 = warehouse
            .query("SELECT toUInt64(uniqExact(installation_id, delivery_id)) FROM events")
            .fetch_one()
            .await
            .map_err(|err| err.to_string())?;
        if stored == events.len() as u64 {
            Ok(())
        } else {
            Err(format!("{stored} of {}", events.len()))
        }
    })
    .await;
    // The pipeline refreshes the flow facts of a batch's issues after storing its rows, so the
    // rows can be there before the facts the digest's cycle time reads. A fact's version is the
    // number of distinct timeline rows it was computed from.
    eventually(
        STORED_WITHIN,
        "every issue's flow facts current",
        || async {
            let stale: u64 = warehouse
                .query(
                    "SELECT toUInt64(count()) FROM (
                     SELECT installation_id, issue_id, uniqExact(delivery_id, kind) AS seen
                     FROM issue_timeline GROUP BY installation_id, issue_id
                 ) AS timeline
                 LEFT JOIN (
                     SELECT installation_id, issue_id, max(version) AS version
                     FROM flow_segments GROUP BY installation_id, issue_id
                 ) AS facts USING (installation_id, issue_id)
                 WHERE facts.version != timeline.seen",
                )
                .fetch_one()
                .await
                .map_err(|err| err.to_string())?;
            if stale == 0 {
                Ok(())
            } else {
                Err(format!("{stale} issues' facts behind their history"))
            }
        },
    )
    .await;
}

async fn subscription_active(harness: &Harness, organization: &str, user: &str) -> Option<bool> {
    let client = harness.pool.get().await.unwrap();
    let user: Uuid = client
        .query_one("SELECT id FROM users WHERE email = $1", &[&user])
        .await
        .unwrap()
        .get(0);
    accounts_store::digests::of_member(&client, organization.parse().unwrap(), user)
        .await
        .unwrap()
        .map(|subscription| subscription.active)
}

/// Subscribes the browser's user to `organization`'s digest from its members page, in `zone`.
async fn subscribe(browser: &mut Browser, organization: &str, zone: &str) {
    browser
        .get(&format!("/orgs/{organization}/members"))
        .await
        .assert_status(200)
        .assert_contains("Weekly digest");
    browser
        .submit(
            &format!("/orgs/{organization}/digest"),
            &[("action", "subscribe"), ("time_zone", zone)],
        )
        .await
        .assert_redirect_to(&format!("/orgs/{organization}/members?done=digest_on"));
}

/// Onboarding with its digest job left to the test, and ingress and the pipeline on its stores;
/// the target sends installs to onboarding and events to ingress.
async fn on_the_real_path() -> (Harness, Path, Target, clickhouse::Client) {
    let mut databases = None;
    let harness = Harness::start_with(|config| {
        databases = Some((config.postgres.clone(), config.clickhouse.clone()));
        // The job runs when the test says, at the instants it picks.
        config.digest.interval = Duration::from_secs(24 * 3600);
    })
    .await;
    let (postgres, clickhouse) = databases.unwrap();
    let path = Path::start(&harness.sim, &postgres, &clickhouse).await;
    let target = Target::new(
        harness.app.address.parse().unwrap(),
        path.ingress.address.parse().unwrap(),
    );
    (harness, path, target, clickhouse.client())
}

/// The digest job as onboarding runs it, on the harness's stores and simulator, run when the
/// test says.
fn digest_job(
    harness: &Harness,
    warehouse: &clickhouse::Client,
    metrics: DigestMetrics,
) -> DigestJob {
    DigestJob {
        permissions: std::sync::Arc::new(jira_permissions::Resolver::new(
            harness.pool.clone(),
            warehouse.clone(),
            jira_permissions::BulkCheck::new("io.metafrazo.jira".to_owned(), harness.sim.url()),
            service_runtime::secret_cipher::SecretCipher::parse_key(
                service_runtime::secret_cipher::DEVELOPMENT_KEY,
            )
            .unwrap(),
            Duration::from_secs(60),
            jira_permissions::VisibilityMetrics::unregistered(),
        )),
        pool: harness.pool.clone(),
        warehouse: warehouse.clone(),
        hour: 7,
        interval: Duration::from_secs(60),
        waker: OutboxWaker::default(),
        metrics,
    }
}

#[tokio::test]
async fn the_weekly_digest_reaches_each_member_on_their_own_monday_morning() {
    let (harness, path, target, warehouse) = on_the_real_path().await;

    // Organization A: its owner (Kolkata) from the setup link, a viewer (New York) invited.
    let installation = harness
        .sim
        .install_connect(&target, &WorkspaceSpec::random())
        .await
        .unwrap();
    let setup = harness
        .mailbox
        .wait_for(&installation.installer_email, SETUP_SUBJECT, 0)
        .await;
    let (kolkata_member, new_york_member) = (email("kolkata"), email("new-york"));
    let acme = unique("Acme");
    let mut owner = harness.signed_up(&kolkata_member).await;
    let org = owner.create_organization(&setup_path(&setup), &acme).await;
    owner
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_status(200);
    owner
        .submit(
            &format!("/orgs/{org}/invites"),
            &[("email", new_york_member.as_str()), ("role", "viewer")],
        )
        .await
        .assert_redirect_to(&format!("/orgs/{org}/members?done=invited"));
    let invitation = harness
        .mailbox
        .wait_for(&new_york_member, &format!("Join {acme} on MetaFrazo"), 0)
        .await
        .link_path(&format!("{PUBLIC_BASE_URL}/invites/"));
    let mut viewer = harness.signed_up(&new_york_member).await;
    viewer.get(&invitation).await.assert_status(200);
    viewer
        .submit(&invitation, &[])
        .await
        .assert_redirect_to("http://dashboards.test/orgs/");

    // Organization B, with a member of its own and no events.
    let (_, other_setup) = harness.install_and_read_setup_email().await;
    let outsider_email = email("outsider");
    let globex = unique("Globex");
    let mut outsider = harness.signed_up(&outsider_email).await;
    let other_org = outsider
        .create_organization(&setup_path(&other_setup), &globex)
        .await;

    // Subscriptions: the owner picks Kolkata; the viewer takes the zone the page offers, their
    // browser's (the dashboards' `mf_tz` cookie); the outsider subscribes to B only.
    subscribe(&mut owner, &org, "Asia/Kolkata").await;
    owner
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_contains("You get it, in Asia/Kolkata.")
        .assert_contains("<option selected>Asia/Kolkata</option>");
    viewer.set_cookie("mf_tz", "America%2FNew_York");
    viewer
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_contains("<option selected>America/New_York</option>")
        .assert_contains("Send me the weekly digest");
    subscribe(&mut viewer, &org, "America/New_York").await;
    subscribe(&mut outsider, &other_org, "Asia/Kolkata").await;
    // Nobody subscribes to another organization's digest: a non-member gets 404.
    outsider
        .submit(
            &format!("/orgs/{org}/digest"),
            &[("action", "subscribe"), ("time_zone", "Asia/Kolkata")],
        )
        .await
        .assert_status(404);
    assert_eq!(
        subscription_active(&harness, &org, &outsider_email).await,
        None
    );
    // A zone that is not one is refused, and changes nothing.
    viewer
        .submit(
            &format!("/orgs/{org}/digest"),
            &[("action", "subscribe"), ("time_zone", "Mars/Olympus")],
        )
        .await
        .assert_status(422);

    // Three weeks of lifecycles for A, through the real path into ClickHouse.
    let now = Utc::now();
    let events = lifecycle::generate(&LifecycleSpec {
        seed: 19,
        issues: 90,
        weeks: 3,
        end_ms: now.timestamp_millis() - 60_000,
    });
    stream(&harness, &target, &installation, &events, &warehouse).await;
    let installations = vec![harness.installation_id(&installation.client_key).await];

    // The Monday `monday` whose 00:00 in New York (the later of the two) is an hour past:
    // the week before it is over in both zones, and every event of it was sent.
    let monday = monday_of(
        (now - chrono::Duration::hours(1))
            .with_timezone(&NEW_YORK)
            .date_naive(),
    );
    let last_week = monday - Days::new(7);
    let in_kolkata = tally(&events, KOLKATA, last_week);
    let in_new_york = tally(&events, NEW_YORK, last_week);
    for (zone, tally) in [("Kolkata", in_kolkata), ("New York", in_new_york)] {
        assert!(
            tally.created > 0 && tally.resolved > 0 && tally.completed > 0,
            "the stream must create, resolve and complete issues in the week in {zone}: {tally:?}"
        );
    }
    // Monday 07:30 in Kolkata is Sunday evening in New York; Monday 07:30 in New York.
    let kolkata_morning = at(KOLKATA, monday, 7, 30);
    let new_york_morning = at(NEW_YORK, monday, 7, 30);
    assert_eq!(
        new_york_morning.with_timezone(&KOLKATA).weekday(),
        chrono::Weekday::Mon
    );
    assert_eq!(
        kolkata_morning.with_timezone(&NEW_YORK).weekday(),
        chrono::Weekday::Sun
    );

    let metrics = DigestMetrics::register(&prometheus::Registry::new()).unwrap();
    let job = digest_job(&harness, &warehouse, metrics.clone());

    // 06:59 in Kolkata: nothing yet. 07:30: the Kolkata member's, and the outsider's of B.
    assert_eq!(job.run_once(at(KOLKATA, monday, 6, 59)).await.unwrap(), 0);
    assert_eq!(job.run_once(kolkata_morning).await.unwrap(), 2);
    assert_eq!(job.run_once(kolkata_morning).await.unwrap(), 0, "once");
    let first = digest_number(&harness, &kolkata_member, 1).await;
    let acme_views = Organization {
        id: &org,
        name: &acme,
        warehouse: &warehouse,
        installations: &installations,
    };
    check_digest(
        &first,
        &acme_views,
        &DigestWeek {
            zone: KOLKATA,
            monday: last_week,
            want: in_kolkata,
            sent_at: kolkata_morning,
        },
    )
    .await;
    let outsiders = digest_number(&harness, &outsider_email, 1).await;
    assert_eq!(outsiders.subject, digest_subject(&globex, 0, 0));
    assert!(!outsiders.text.contains(&acme) && !outsiders.html.contains(&acme));
    assert!(
        digests_to(&harness, &new_york_member).is_empty(),
        "still Sunday in New York"
    );

    // 07:30 in New York, with two instances racing: one digest. Later that day: none.
    let (one, other) = tokio::join!(
        job.run_once(new_york_morning),
        job.run_once(new_york_morning)
    );
    assert_eq!(
        one.unwrap() + other.unwrap(),
        1,
        "two instances, one digest"
    );
    let second = digest_number(&harness, &new_york_member, 1).await;
    check_digest(
        &second,
        &acme_views,
        &DigestWeek {
            zone: NEW_YORK,
            monday: last_week,
            want: in_new_york,
            sent_at: new_york_morning,
        },
    )
    .await;
    assert_eq!(
        job.run_once(new_york_morning + chrono::Duration::hours(10))
            .await
            .unwrap(),
        0
    );
    assert_eq!(digests_to(&harness, &kolkata_member).len(), 1);
    assert_eq!(metrics.enqueued.get(), 3);

    // A GET of the link (a mail scanner) unsubscribes nobody; RFC 8058's one-click POST, with no
    // session, cookie or CSRF token, does, and answers a page rather than a redirect.
    let new_york_link = unsubscribe_path(&second);
    let mut scanner = Browser::new(&harness.app.address);
    scanner
        .get(&new_york_link)
        .await
        .assert_status(200)
        .assert_contains("Unsubscribe from the weekly digest?")
        .assert_contains(&new_york_member);
    assert_eq!(
        subscription_active(&harness, &org, &new_york_member).await,
        Some(true)
    );
    let kolkata_link = unsubscribe_path(&first);
    let one_click = |path: &str| {
        reqwest::Client::new()
            .post(format!("{}{path}", harness.app.address))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
    };
    let altered = format!("{}x", &kolkata_link[..kolkata_link.len() - 1]);
    assert_eq!(one_click(&altered).await.unwrap().status(), 404);
    assert_eq!(
        subscription_active(&harness, &org, &kolkata_member).await,
        Some(true),
        "an altered token unsubscribes nobody"
    );
    let answer = one_click(&kolkata_link).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("You are unsubscribed")
    );
    assert_eq!(
        subscription_active(&harness, &org, &kolkata_member).await,
        Some(false)
    );
    scanner
        .get(&kolkata_link)
        .await
        .assert_status(200)
        .assert_contains("You are unsubscribed");

    // A week later: the unsubscribed member gets nothing; the one whose link was only opened
    // does, and then unsubscribes with the page's button.
    let week = chrono::Duration::days(7);
    assert_eq!(
        job.run_once(kolkata_morning + week).await.unwrap(),
        1,
        "B's"
    );
    assert_eq!(job.run_once(new_york_morning + week).await.unwrap(), 1);
    let next = digest_number(&harness, &new_york_member, 2).await;
    let this_week = tally(&events, NEW_YORK, monday);
    assert_eq!(
        next.subject,
        digest_subject(&acme, this_week.created as i64, this_week.resolved as i64)
    );
    assert_ne!(unsubscribe_path(&next), new_york_link, "a token per digest");
    digest_number(&harness, &outsider_email, 2).await;
    assert_eq!(digests_to(&harness, &kolkata_member).len(), 1);
    let mut reader = Browser::new(&harness.app.address);
    reader.get(&new_york_link).await.assert_status(200);
    reader
        .post_raw(&new_york_link, &[("List-Unsubscribe", "One-Click")])
        .await
        .assert_status(200)
        .assert_contains("You are unsubscribed");
    assert_eq!(
        subscription_active(&harness, &org, &new_york_member).await,
        Some(false),
        "an older digest's link still works"
    );
    assert_eq!(
        job.run_once(new_york_morning + week * 2).await.unwrap(),
        1,
        "only B's, for the outsider"
    );
    let outsiders_digests = {
        digest_number(&harness, &outsider_email, 3).await;
        digests_to(&harness, &outsider_email)
    };
    assert_eq!(outsiders_digests.len(), 3);
    for mail in &outsiders_digests {
        assert_eq!(mail.subject, digest_subject(&globex, 0, 0), "nothing of A");
    }
    assert_eq!(digests_to(&harness, &kolkata_member).len(), 1);
    assert_eq!(digests_to(&harness, &new_york_member).len(), 2);

    // The subscription ends with the membership, and with the organization.
    owner
        .get(&format!("/orgs/{org}/members"))
        .await
        .assert_status(200);
    let viewer_id: Uuid = harness
        .pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT id FROM users WHERE email = $1", &[&new_york_member])
        .await
        .unwrap()
        .get(0);
    owner
        .submit(&format!("/orgs/{org}/members/{viewer_id}/remove"), &[])
        .await
        .assert_redirect_to(&format!("/orgs/{org}/members?done=removed"));
    assert_eq!(
        subscription_active(&harness, &org, &new_york_member).await,
        None
    );
    outsider
        .get(&format!("/orgs/{other_org}/members"))
        .await
        .assert_status(200);
    outsider
        .submit(
            &format!("/orgs/{other_org}/delete"),
            &[("confirm", globex.as_str())],
        )
        .await
        .assert_redirect_to("/");
    assert_eq!(
        harness
            .count("SELECT count(*) FROM digest_subscriptions")
            .await,
        1,
        "only the Kolkata member's (unsubscribed) row is left"
    );
    assert!(
        harness
            .app
            .metrics()
            .await
            .contains("onboarding_digests_enqueued_total"),
        "the service registers the counter"
    );
    path.stop().await;
}

/// The events of `events` the account may see by the test's rule: PAY only for `pay`, and an
/// issue under the level only for its `members`.
fn seen_by(
    events: &[LifecycleEvent],
    account: &str,
    pay: &[&str],
    members: &[&str],
) -> Vec<LifecycleEvent> {
    events
        .iter()
        .filter(|event| event.issue.project_key != "PAY" || pay.contains(&account))
        .filter(|event| event.issue.security_level.is_none() || members.contains(&account))
        .cloned()
        .collect()
}

#[tokio::test]
async fn with_jira_permissions_on_each_digest_counts_only_what_its_members_account_may_see() {
    const LEVEL: &str = "10100";
    let (harness, path, target, warehouse) = on_the_real_path().await;
    let installation = harness
        .sim
        .install_connect(&target, &WorkspaceSpec::random())
        .await
        .unwrap();
    let setup = harness
        .mailbox
        .wait_for(&installation.installer_email, SETUP_SUBJECT, 0)
        .await;
    // The installing admin finishes the link mailed to them: their Jira account is linked.
    let owner_account = installation.installer_account_id.clone();
    let mut owner = harness.signed_up(&installation.installer_email).await;
    let org = owner.create_organization(&setup_path(&setup), "Acme").await;
    let analyst_email = email("analyst");
    let mut analyst = harness
        .invite_and_accept(&mut owner, &org, &analyst_email, "analyst")
        .await;
    let newcomer_email = email("newcomer");
    let mut newcomer = harness
        .invite_and_accept(&mut owner, &org, &newcomer_email, "viewer")
        .await;
    // The analyst links their own account at Atlassian's consent screen.
    let analyst_account = support::atlassian::account_id();
    let cloud_id: String = harness
        .pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT cloud_id FROM installations WHERE client_key = $1",
            &[&installation.client_key],
        )
        .await
        .unwrap()
        .get(0);
    analyst.get("/account").await.assert_status(200);
    let authorize = analyst
        .submit(&format!("/account/atlassian/{org}/connect"), &[])
        .await
        .location
        .clone()
        .unwrap();
    let consent = support::atlassian::Consent {
        account_id: &analyst_account,
        email: "analyst@jira.example.test",
        cloud_ids: &[&cloud_id],
        allow: true,
    };
    let callback = support::atlassian::consent(&authorize, &consent, |_| {}).await;
    analyst
        .get(&callback)
        .await
        .assert_redirect_to("/account?done=atlassian_linked");
    // The owner turns Jira permissions on; everyone subscribes, in UTC.
    owner.get(&format!("/orgs/{org}/members")).await;
    owner
        .submit(
            &format!("/orgs/{org}/jira-permissions"),
            &[("enforced", "on")],
        )
        .await
        .assert_redirect_to(&format!("/orgs/{org}/members?done=jira_permissions_on"));
    for browser in [&mut owner, &mut analyst, &mut newcomer] {
        subscribe(browser, &org, "UTC").await;
    }

    // Three weeks with a third of the issues under a security level; in Jira, PAY and the
    // level are the owner's only.
    let now = Utc::now();
    let events = lifecycle::generate_secured(
        &LifecycleSpec {
            seed: 20,
            issues: 90,
            weeks: 3,
            end_ms: now.timestamp_millis() - 60_000,
        },
        &jira_simulator::SecuredIssues {
            level_id: LEVEL.to_owned(),
            level_name: "Staff only".to_owned(),
            every_nth: std::num::NonZeroU32::new(3).unwrap(),
        },
    );
    stream(&harness, &target, &installation, &events, &warehouse).await;
    let mut model = jira_simulator::SitePermissions::default()
        .restrict_project("20001", [owner_account.as_str()])
        .level(LEVEL, [owner_account.as_str()]);
    for event in events
        .iter()
        .filter(|event| event.issue.security_level.is_some())
    {
        model = model.secure_issue(event.issue.id.clone(), LEVEL);
    }
    harness
        .sim
        .set_permissions(&installation.site_base_url, model);

    let utc = chrono_tz::UTC;
    let monday = monday_of((now - chrono::Duration::hours(1)).date_naive());
    let last_week = monday - Days::new(7);
    let owners = [owner_account.as_str()];
    let for_owner = tally(&events, utc, last_week);
    let for_analyst = tally(
        &seen_by(&events, &analyst_account, &owners, &owners),
        utc,
        last_week,
    );
    assert_eq!(
        seen_by(&events, &owner_account, &owners, &owners).len(),
        events.len()
    );
    assert!(
        for_analyst.created < for_owner.created && for_analyst.created > 0,
        "the accounts see different weeks: {for_owner:?} {for_analyst:?}"
    );

    let metrics = DigestMetrics::register(&prometheus::Registry::new()).unwrap();
    let job = digest_job(&harness, &warehouse, metrics);
    let morning = at(utc, monday, 7, 30);
    // Jira not answering: nobody's digest goes out (the next pass retries).
    harness.sim.fail_permission_checks(true);
    assert_eq!(job.run_once(morning).await.unwrap(), 0);
    harness.sim.fail_permission_checks(false);
    assert_eq!(
        job.run_once(morning).await.unwrap(),
        2,
        "the owner's and the analyst's; the newcomer has linked no Jira account"
    );
    for (recipient, want) in [
        (&installation.installer_email, for_owner),
        (&analyst_email, for_analyst),
    ] {
        let mail = digest_number(&harness, recipient, 1).await;
        assert_eq!(
            line(&mail, "Created:"),
            format!("Created:   {}", want.created),
            "{recipient}"
        );
        assert_eq!(
            line(&mail, "Resolved:"),
            format!("Resolved:  {}", want.resolved),
            "{recipient}"
        );
    }
    assert!(digests_to(&harness, &newcomer_email).is_empty());
    path.stop().await;
}
