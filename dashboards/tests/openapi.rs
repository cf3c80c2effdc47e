//! The OpenAPI document cannot drift from what is served: for every API route, the keys of a
//! real answer (from the real Postgres and ClickHouse) are exactly the properties the generated
//! schema lists, at every depth, so a field added, renamed or dropped in either shows here.

mod support;

use std::collections::BTreeSet;

use chrono::Utc;
use serde_json::Value;
use support::{Setup, workspace};

/// `schema` with its `$ref` followed.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            resolve(document, &document["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// The properties of an object schema, its `allOf` parts (a flattened struct) merged.
fn properties(document: &Value, schema: &Value) -> serde_json::Map<String, Value> {
    let schema = resolve(document, schema);
    let mut all = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        all.extend(properties(document, part));
    }
    all
}

/// Walks `value` beside `schema`: every object with listed properties has exactly those keys.
/// Maps (counts by kind) list none and are left alone.
fn assert_described(document: &Value, schema: &Value, value: &Value, at: &str) {
    let schema = resolve(document, schema);
    match value {
        Value::Object(object) => {
            let listed = properties(document, schema);
            if listed.is_empty() {
                return;
            }
            let keys: BTreeSet<&String> = object.keys().collect();
            let names: BTreeSet<&String> = listed.keys().collect();
            assert_eq!(keys, names, "{at}: the answer's keys against the schema's");
            for (key, inner) in object {
                assert_described(document, &listed[key], inner, &format!("{at}.{key}"));
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                assert_described(document, &schema["items"], item, &format!("{at}[{index}]"));
            }
        }
        _ => {}
    }
}

/// One event with one field change, so every level of every answer has something in it.
async fn store_one_event(setup: &Setup, workspace: support::InstallationId) {
    let at = Utc::now().timestamp_millis() - 3_600_000;
    let mut events = setup
        .warehouse
        .insert::<warehouse::EventRow>("events")
        .await
        .unwrap();
    events
        .write(&warehouse::EventRow {
            installation_id: workspace,
            delivery_id: "d-1".into(),
            source: "connect".into(),
            family: "issue".into(),
            event_type: "issue_updated".into(),
            occurred_at_ms: at,
            received_at_ms: at + 500,
            project_key: "ACME".into(),
            issue_id: "10001".into(),
            issue_key: "ACME-1".into(),
            issue_type: "Task".into(),
            payload: r#"{"webhookEvent":"jira:issue_updated"}"#.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    events.end().await.unwrap();
    let mut changes = setup
        .warehouse
        .insert::<warehouse::FieldChangeRow>("field_changes")
        .await
        .unwrap();
    changes
        .write(&warehouse::FieldChangeRow {
            installation_id: workspace,
            delivery_id: "d-1".into(),
            item_index: 0,
            occurred_at_ms: at,
            project_key: "ACME".into(),
            issue_id: "10001".into(),
            issue_key: "ACME-1".into(),
            issue_type: "Task".into(),
            field: "priority".into(),
            field_id: "priority".into(),
            from_value: "3".into(),
            to_value: "2".into(),
            from_string: "Medium".into(),
            to_string: "High".into(),
            status_category: String::new(),
            priority: String::new(),
            assignee_account_id: String::new(),
            labels: Vec::new(),
            components: Vec::new(),
        })
        .await
        .unwrap();
    changes.end().await.unwrap();
}

#[tokio::test]
async fn every_api_answer_has_exactly_the_fields_its_schema_lists() {
    let setup = Setup::start().await;
    // The owner sees payloads, so the one optional field is in the answer too.
    let (owner, owner_cookie) = setup.user("owner").await;
    let workspace = workspace();
    let org = setup.organization(owner, workspace).await;
    store_one_event(&setup, workspace).await;
    let document = setup.get("/api/v1/openapi.json", "").await.json();
    let feed = setup
        .get(&format!("/api/v1/orgs/{org}/events"), &owner_cookie)
        .await
        .json();
    let id = feed["events"][0]["id"].as_str().expect("the stored event");

    for route in [
        "/api/v1/orgs",
        "/api/v1/orgs/{organization}/weekly-rates",
        "/api/v1/orgs/{organization}/trends",
        "/api/v1/orgs/{organization}/flow",
        "/api/v1/orgs/{organization}/events",
        "/api/v1/orgs/{organization}/events/{id}",
    ] {
        let path = route
            .replace("{organization}", &org.to_string())
            .replace("{id}", id);
        let answer = setup.get(&path, &owner_cookie).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        let schema = &document["paths"][route]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"];
        assert!(
            !properties(&document, schema).is_empty(),
            "{route} documents no JSON object answer"
        );
        assert_described(&document, schema, &answer.json(), route);
    }

    // An error answers the documented error body.
    let refused = setup
        .get(
            &format!("/api/v1/orgs/{org}/weekly-rates?tz=Mars/Olympus"),
            &owner_cookie,
        )
        .await;
    assert_eq!(refused.status, 400);
    let schema = &document["paths"]["/api/v1/orgs/{organization}/weekly-rates"]["get"]["responses"]
        ["400"]["content"]["application/json"]["schema"];
    assert_described(&document, schema, &refused.json(), "the 400");
}
