//! Sprints and time logged end to end (issue 19): a seeded lifecycle stream with sprints and
//! worklogs reaches ClickHouse the way Jira's events do (the simulator signs each, the real
//! ingress takes it, the stack's broker carries it on topics of the test's own, the real pipeline
//! stores it), out of order in small runs and with a fifth of it sent twice, from a connection
//! made in the middle of the stream (one sprint started before it, one was created before it).
//! Then the real dashboards answer the JSON API, the CSV and the pages, in UTC and Asia/Kolkata,
//! and every number is compared with one computed here from the simulator's events, never from
//! the warehouse.

#[path = "support/real_path.rs"]
mod real_path;
mod support;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use jira_simulator::{
    WorkspaceSpec,
    lifecycle::{
        self, LifecycleEvent, LifecycleSpec,
        agile::{self, AgileEvent, AgileKind, AgileSpec, SprintStep, WorklogStep},
    },
};
use real_path::{RealPath, Sent, stream};
use serde_json::Value;
use support::Setup;

const DAY_MS: i64 = 24 * 3_600_000;

/// The sprint ids a `Sprint` value lists.
fn listed(value: Option<&str>) -> BTreeSet<u32> {
    value
        .unwrap_or("")
        .split(',')
        .filter_map(|id| id.trim().parse().ok())
        .collect()
}

/// One sprint's counts as they must be: issue keys per count; `None` where unknown.
#[derive(Debug, PartialEq)]
struct WantSprint {
    name: String,
    committed: Option<BTreeSet<String>>,
    added: BTreeSet<String>,
    removed: BTreeSet<String>,
    completed: Option<BTreeSet<String>>,
    unknown: BTreeSet<String>,
    exact: bool,
}

/// Every sprint the delivered stream shows, computed from the simulator's events: membership from
/// every move (delivered or not: the truth), counted only for issues a delivered move shows in
/// the sprint; statuses from the issue's latest event, known only when that one was delivered.
fn want_sprints(
    lifecycle: &[LifecycleEvent],
    agile: &[AgileEvent],
    connected_ms: i64,
) -> BTreeMap<u32, WantSprint> {
    let moves: Vec<(i64, &LifecycleEvent)> = agile
        .iter()
        .filter_map(|event| match &event.kind {
            AgileKind::Move(update) => Some((event.at_ms, update.as_ref())),
            _ => None,
        })
        .collect();
    // Every event that says an issue's status, in time order: the lifecycle and the moves.
    let mut states: Vec<&LifecycleEvent> = lifecycle.iter().collect();
    states.extend(moves.iter().map(|(_, update)| *update));
    states.sort_by_key(|event| event.at_ms);
    let mut sprints: BTreeMap<u32, Vec<(SprintStep, i64, String, i64)>> = BTreeMap::new();
    for event in agile {
        if let AgileKind::Sprint(sprint) = &event.kind {
            sprints.entry(sprint.sprint_id).or_default().push((
                sprint.step,
                event.at_ms,
                sprint.name.clone(),
                sprint.start_ms,
            ));
        }
    }
    let mut want = BTreeMap::new();
    for (id, steps) in sprints {
        let seen = |step: SprintStep| {
            steps
                .iter()
                .find(|(s, at, ..)| *s == step && *at >= connected_ms)
                .map(|(_, at, ..)| *at)
        };
        if !steps.iter().any(|(_, at, ..)| *at >= connected_ms) {
            continue;
        }
        let start = steps
            .iter()
            .find(|(s, ..)| *s == SprintStep::Started)
            .map(|(.., start)| *start)
            .expect("every generated sprint is started");
        let close = steps
            .iter()
            .find(|(s, ..)| *s == SprintStep::Closed)
            .map(|(_, at, ..)| *at);
        let issues: BTreeSet<&str> = moves
            .iter()
            .map(|(_, update)| update.issue.key.as_str())
            .collect();
        let mentions = |update: &LifecycleEvent| {
            let change = &update.changes[0];
            listed(change.from.as_deref()).contains(&id)
                || listed(change.to.as_deref()).contains(&id)
        };
        let visible = |key: &str| {
            moves.iter().any(|(at, update)| {
                *at >= connected_ms && update.issue.key == key && mentions(update)
            })
        };
        let member_before = |key: &str, t: i64| {
            moves
                .iter()
                .rev()
                .find(|(at, update)| *at < t && update.issue.key == key)
                .is_some_and(|(_, update)| listed(update.changes[0].to.as_deref()).contains(&id))
        };
        let moved = |joined: bool| -> BTreeSet<String> {
            moves
                .iter()
                .filter(|(at, _)| {
                    *at >= connected_ms && *at >= start && close.is_none_or(|close| *at < close)
                })
                .filter(|(_, update)| {
                    let change = &update.changes[0];
                    let (was, is) = (
                        listed(change.from.as_deref()).contains(&id),
                        listed(change.to.as_deref()).contains(&id),
                    );
                    if joined { !was && is } else { was && !is }
                })
                .map(|(_, update)| update.issue.key.clone())
                .collect()
        };
        let start_seen = seen(SprintStep::Started).is_some();
        let close_seen = seen(SprintStep::Closed);
        let committed = start_seen.then(|| {
            issues
                .iter()
                .filter(|key| visible(key) && member_before(key, start))
                .map(|key| (*key).to_owned())
                .collect()
        });
        let (mut completed, mut unknown) = (BTreeSet::new(), BTreeSet::new());
        if let Some(close) = close_seen {
            for key in issues
                .iter()
                .filter(|key| visible(key) && member_before(key, close))
            {
                let latest = states
                    .iter()
                    .rev()
                    .find(|event| event.issue.key == *key && event.at_ms <= close)
                    .expect("a moved issue has events");
                if latest.at_ms < connected_ms {
                    unknown.insert((*key).to_owned());
                } else if latest.issue.status.category == "done" {
                    completed.insert((*key).to_owned());
                }
            }
        }
        let exact = seen(SprintStep::Created).is_some()
            && start_seen
            && (close.is_none() || close_seen.is_some())
            && unknown.is_empty();
        want.insert(
            id,
            WantSprint {
                name: steps[0].2.clone(),
                committed,
                added: moved(true),
                removed: moved(false),
                completed: close_seen.map(|_| completed),
                unknown,
                exact,
            },
        );
    }
    want
}

fn keys_of(value: &Value) -> Option<BTreeSet<String>> {
    let issues = value.get("issues")?.as_array()?;
    let keys: BTreeSet<String> = issues
        .iter()
        .map(|issue| issue["issue_key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(value["count"].as_u64(), Some(keys.len() as u64), "{value}");
    Some(keys)
}

/// Time logged as it must be: seconds per week, per (project, week) and per (person, week).
#[derive(Debug, Default, PartialEq)]
struct WantTime {
    weeks: BTreeMap<NaiveDate, i64>,
    projects: BTreeMap<String, BTreeMap<NaiveDate, i64>>,
    people: BTreeMap<String, BTreeMap<NaiveDate, i64>>,
    worklogs: u64,
}

fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

fn midnight(zone: Tz, day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(zone)
        .earliest()
        .unwrap()
        .timestamp_millis()
}

fn local_day(zone: Tz, ms: i64) -> NaiveDate {
    DateTime::from_timestamp_millis(ms)
        .unwrap()
        .with_timezone(&zone)
        .date_naive()
}

/// Each worklog as its latest delivered event left it, counted in the week of its start in
/// `zone`, under its issue's project when a delivered event named the issue.
fn want_time(
    lifecycle: &[LifecycleEvent],
    agile: &[AgileEvent],
    connected_ms: i64,
    zone: Tz,
    (from_ms, to_ms): (i64, i64),
) -> WantTime {
    let mut latest: BTreeMap<&str, (i64, u8, &agile::WorklogEvent)> = BTreeMap::new();
    for event in agile.iter().filter(|event| event.at_ms >= connected_ms) {
        if let AgileKind::Worklog(worklog) = &event.kind {
            let rank = match worklog.step {
                WorklogStep::Created => 0,
                WorklogStep::Updated => 1,
                WorklogStep::Deleted => 2,
            };
            let entry = latest
                .entry(&worklog.worklog_id)
                .or_insert((event.at_ms, rank, worklog));
            if (event.at_ms, rank) > (entry.0, entry.1) {
                *entry = (event.at_ms, rank, worklog);
            }
        }
    }
    let seen_issues: BTreeSet<&str> = lifecycle
        .iter()
        .filter(|event| event.at_ms >= connected_ms)
        .map(|event| event.issue.id.as_str())
        .chain(agile.iter().filter(|e| e.at_ms >= connected_ms).filter_map(
            |event| match &event.kind {
                AgileKind::Move(update) => Some(update.issue.id.as_str()),
                _ => None,
            },
        ))
        .collect();
    let mut want = WantTime::default();
    for (_, _, worklog) in latest.values() {
        if worklog.step == WorklogStep::Deleted
            || worklog.started_ms < from_ms
            || worklog.started_ms >= to_ms
        {
            continue;
        }
        let week = monday_of(local_day(zone, worklog.started_ms));
        let project = if seen_issues.contains(worklog.issue_id.as_str()) {
            worklog.project_key.to_owned()
        } else {
            String::new()
        };
        want.worklogs += 1;
        *want.weeks.entry(week).or_default() += worklog.seconds;
        *want
            .projects
            .entry(project)
            .or_default()
            .entry(week)
            .or_default() += worklog.seconds;
        *want
            .people
            .entry(worklog.author.account_id.to_owned())
            .or_default()
            .entry(week)
            .or_default() += worklog.seconds;
    }
    want
}

fn groups(value: &Value) -> BTreeMap<String, BTreeMap<NaiveDate, i64>> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|group| {
            let weeks = group["weeks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|week| week["seconds"].as_i64() != Some(0))
                .map(|week| {
                    (
                        week["start"].as_str().unwrap().parse().unwrap(),
                        week["seconds"].as_i64().unwrap(),
                    )
                })
                .collect();
            (group["key"].as_str().unwrap().to_owned(), weeks)
        })
        .collect()
}

fn hours(seconds: i64) -> String {
    format!("{:.2}", seconds as f64 / 3600.0)
}

/// A piece of HTML without its tags.
fn text_of(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.trim().to_owned()
}

/// The `<tr>` of the page whose opening tag holds `marker`.
fn row<'a>(page: &'a str, marker: &str) -> &'a str {
    let start = page
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in the page"));
    let end = page[start..].find("</tr>").unwrap() + start;
    &page[start..end]
}

#[tokio::test]
async fn sprints_and_time_logged_match_the_stream_in_two_time_zones() {
    let path = RealPath::start().await;
    let setup = Setup::start_with(|config| {
        config.postgres = path.postgres.clone();
        config.clickhouse = path.clickhouse.clone();
    })
    .await;
    let installation = path
        .sim
        .install_connect(&path.target, &WorkspaceSpec::random())
        .await
        .unwrap();
    let (owner, cookie) = setup.user("owner").await;
    let organization = setup
        .organization_of_install(owner, &installation.client_key)
        .await;

    let end_ms = Utc::now().timestamp_millis() - 60_000;
    let spec = LifecycleSpec {
        seed: 19,
        issues: 36,
        weeks: 6,
        end_ms,
    };
    let events = lifecycle::generate(&spec);
    let agile_events = agile::generate(
        &AgileSpec {
            seed: 19,
            sprint_days: 7,
            planned: 5,
            worklogs: 60,
        },
        &events,
        end_ms,
    );
    // Connected in the middle of the second sprint's planning: the first started before it.
    let first_start = agile_events
        .iter()
        .find_map(|event| match &event.kind {
            AgileKind::Sprint(s) if s.step == SprintStep::Started => Some(event.at_ms),
            _ => None,
        })
        .unwrap();
    let connected_ms = first_start + 6 * DAY_MS;
    let site = &installation.site_base_url;
    let mut deliveries: Vec<Sent> = events
        .iter()
        .filter(|event| event.at_ms >= connected_ms)
        .map(|event| Sent {
            at_ms: event.at_ms,
            identifier: event.identifier.clone(),
            body: event.connect_body(site),
        })
        .chain(
            agile_events
                .iter()
                .filter(|event| event.at_ms >= connected_ms)
                .map(|event| Sent {
                    at_ms: event.at_ms,
                    identifier: event.identifier.clone(),
                    body: event.connect_body(site),
                }),
        )
        .collect();
    deliveries.sort_by_key(|delivery| delivery.at_ms);
    stream(&path, &installation, &deliveries, &setup.warehouse).await;

    let want = want_sprints(&events, &agile_events, connected_ms);
    assert!(want.len() >= 4, "enough sprints: {}", want.len());
    assert!(
        want.values().any(|s| s.committed.is_none()),
        "a sprint started before the connection"
    );
    assert!(
        want.values().any(|s| s.committed.is_some() && !s.exact),
        "a sprint created before the connection"
    );
    assert!(want.values().any(|s| s.exact), "a sprint seen whole");
    assert!(
        want.values()
            .any(|s| s.completed.as_ref().is_some_and(|c| !c.is_empty())),
        "a sprint with completions"
    );
    assert!(
        want.values().any(|s| !s.added.is_empty()) && want.values().any(|s| !s.removed.is_empty())
    );

    let org = organization.to_string();
    let today = Utc::now().date_naive();
    for zone in [chrono_tz::UTC, chrono_tz::Asia::Kolkata] {
        let from = local_day(zone, spec.end_ms - 7 * 7 * DAY_MS);
        let to = local_day(zone, Utc::now().timestamp_millis()).max(today);
        let tz: String = url::form_urlencoded::byte_serialize(zone.name().as_bytes()).collect();
        let query = format!("from={from}&to={to}&tz={tz}");
        let context = zone.name();

        // Sprints: the JSON API.
        let answer = setup
            .get(&format!("/api/v1/orgs/{org}/sprints?{query}"), &cookie)
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let json = answer.json();
        let got: BTreeMap<u32, WantSprint> = json["sprints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|sprint| {
                (
                    sprint["sprint_id"].as_str().unwrap().parse().unwrap(),
                    WantSprint {
                        name: sprint["name"].as_str().unwrap().to_owned(),
                        committed: keys_of(&sprint["committed"]),
                        added: keys_of(&sprint["added"]).unwrap(),
                        removed: keys_of(&sprint["removed"]).unwrap(),
                        completed: keys_of(&sprint["completed"]),
                        unknown: keys_of(&sprint["completed_unknown"]).unwrap(),
                        exact: sprint["exact"].as_bool().unwrap(),
                    },
                )
            })
            .collect();
        assert_eq!(got, want, "{context}: sprints");

        // Filters these views cannot apply are refused, not ignored.
        for path in ["sprints", "time-logged"] {
            let refused = setup
                .get(
                    &format!("/api/v1/orgs/{org}/{path}?{query}&label=backend"),
                    &cookie,
                )
                .await;
            assert_eq!(refused.status, 400, "{path}: {}", refused.body);
            assert!(refused.body.contains("label"), "{path}: {}", refused.body);
        }

        // The CSV: a row per sprint with the same counts.
        let csv = setup
            .get(
                &format!("/api/v1/orgs/{org}/sprints?{query}&format=csv"),
                &cookie,
            )
            .await;
        assert_eq!(csv.status, 200);
        let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
        let header = reader.headers().unwrap().clone();
        let column = |name: &str| header.iter().position(|h| h == name).unwrap();
        let mut rows = 0;
        for record in reader.records() {
            let record = record.unwrap();
            rows += 1;
            let id: u32 = record[column("sprint_id")].parse().unwrap();
            let sprint = &want[&id];
            let count =
                |set: Option<&BTreeSet<String>>| set.map_or(String::new(), |s| s.len().to_string());
            assert_eq!(
                &record[column("committed")],
                count(sprint.committed.as_ref()),
                "{context} csv {id}"
            );
            assert_eq!(&record[column("added")], sprint.added.len().to_string());
            assert_eq!(&record[column("removed")], sprint.removed.len().to_string());
            assert_eq!(
                &record[column("completed")],
                count(sprint.completed.as_ref())
            );
        }
        assert_eq!(rows, want.len(), "{context}: a CSV row per sprint");

        // The page: each count in its sprint's row, linked to the issues behind it.
        let page = setup
            .get(&format!("/orgs/{org}/sprints?{query}"), &cookie)
            .await;
        assert_eq!(page.status, 200);
        for (id, sprint) in &want {
            let html = row(&page.body, &format!("data-sprint=\"{id}\""));
            assert!(html.contains(&sprint.name), "{context}: {html}");
            let shows = |what: &str, set: Option<&BTreeSet<String>>| {
                let text = set.map_or("unknown".to_owned(), |s| s.len().to_string());
                let cell = html
                    .split(&format!("data-count=\"{what}\">"))
                    .nth(1)
                    .unwrap_or_else(|| panic!("{context}: no {what} in {html}"));
                let cell = &cell[..cell.find("</td>").unwrap()];
                assert_eq!(
                    cell.starts_with("<a href=\"#sprint-"),
                    set.is_some(),
                    "{context}: {what} of {id} links to its issues when known: {cell}"
                );
                assert_eq!(text_of(cell), text, "{context}: {what} of sprint {id}");
            };
            shows("committed", sprint.committed.as_ref());
            shows("added", Some(&sprint.added));
            shows("removed", Some(&sprint.removed));
            shows("completed", sprint.completed.as_ref());
            if !sprint.exact {
                assert!(html.contains("partial"), "{context}: {html}");
            }
            for key in sprint.added.iter().chain(&sprint.removed) {
                assert!(
                    page.body.contains(&format!("issue_key={key}\">{key}</a>")),
                    "{context}: {key} is listed with a link to its events"
                );
            }
        }

        // Time logged: the JSON API, the CSV and the page.
        let range = (midnight(zone, from), midnight(zone, to + Days::new(1)));
        let want_time = want_time(&events, &agile_events, connected_ms, zone, range);
        assert!(want_time.worklogs >= 20, "{context}: enough worklogs");
        let answer = setup
            .get(&format!("/api/v1/orgs/{org}/time-logged?{query}"), &cookie)
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let json = answer.json();
        let weeks: BTreeMap<NaiveDate, i64> = json["weeks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|week| week["seconds"].as_i64() != Some(0))
            .map(|week| {
                (
                    week["start"].as_str().unwrap().parse().unwrap(),
                    week["seconds"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(weeks, want_time.weeks, "{context}: weeks");
        assert_eq!(json["worklogs"].as_u64(), Some(want_time.worklogs));
        assert_eq!(
            json["total_seconds"].as_i64(),
            Some(want_time.weeks.values().sum::<i64>())
        );
        assert_eq!(
            groups(&json["projects"]),
            want_time.projects,
            "{context}: projects"
        );
        assert_eq!(
            groups(&json["people"]),
            want_time.people,
            "{context}: people"
        );

        let csv = setup
            .get(
                &format!("/api/v1/orgs/{org}/time-logged?{query}&format=csv"),
                &cookie,
            )
            .await;
        assert_eq!(csv.status, 200);
        let mut csv_weeks = BTreeMap::new();
        let mut csv_people: BTreeMap<String, BTreeMap<NaiveDate, i64>> = BTreeMap::new();
        for record in csv::Reader::from_reader(csv.body.as_bytes()).records() {
            let record = record.unwrap();
            let (week, seconds): (NaiveDate, i64) =
                (record[0].parse().unwrap(), record[3].parse().unwrap());
            if seconds == 0 {
                continue;
            }
            match &record[1] {
                "total" => {
                    csv_weeks.insert(week, seconds);
                }
                "person" => {
                    csv_people
                        .entry(record[2].to_owned())
                        .or_default()
                        .insert(week, seconds);
                }
                _ => {}
            }
        }
        assert_eq!(csv_weeks, want_time.weeks, "{context}: CSV weeks");
        assert_eq!(csv_people, want_time.people, "{context}: CSV people");

        let page = setup
            .get(&format!("/orgs/{org}/time-logged?{query}"), &cookie)
            .await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains(&format!(
            "id=\"total-hours\">{}<",
            hours(want_time.weeks.values().sum())
        )));
        for (week, seconds) in &want_time.weeks {
            assert!(
                row(&page.body, &format!("data-week=\"{week}\""))
                    .contains(&format!("<td class=\"num\">{}</td>", hours(*seconds))),
                "{context}: week {week}"
            );
        }
        for (person, weeks) in &want_time.people {
            let total: i64 = weeks.values().sum();
            assert!(
                row(&page.body, &format!("data-person=\"{person}\""))
                    .contains(&format!(">{}</a>", hours(total))),
                "{context}: {person}"
            );
        }
    }
    path.stop().await;
}
