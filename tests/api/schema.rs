//! `openapi.yaml` against the app. The drift test fails when a route is
//! served but not described, or described but not served: the app's side is
//! `latchkey::routes::ROUTES` (the only list `configure` registers from), and
//! every operation is also requested from a live server. Adding a route to
//! `ROUTES` without the spec fails `the_spec_and_the_app_list_the_same_operations`
//! (`drift_reports_a_route_missing_from_the_spec` shows the message).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn spec() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml");
    yaml_serde::from_str(&text).expect("valid YAML")
}

fn spec_operations(spec: &Value) -> BTreeSet<(String, String)> {
    spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

fn app_operations() -> BTreeSet<(String, String)> {
    latchkey::routes::ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect()
}

/// What differs between the app's operations and the spec's, worded for
/// whoever broke it.
fn drift(app: &BTreeSet<(String, String)>, spec: &BTreeSet<(String, String)>) -> Vec<String> {
    let served = app
        .difference(spec)
        .map(|(method, path)| format!("{method} {path} is served but not in openapi.yaml"));
    let described = spec
        .difference(app)
        .map(|(method, path)| format!("{method} {path} is in openapi.yaml but not served"));
    served.chain(described).collect()
}

#[test]
fn the_spec_and_the_app_list_the_same_operations() {
    let problems = drift(&app_operations(), &spec_operations(&spec()));
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn drift_reports_a_route_missing_from_the_spec() {
    let mut app = app_operations();
    app.insert(("POST".to_owned(), "/api/token/new-thing/".to_owned()));
    let mut spec = spec_operations(&spec());
    spec.insert(("GET".to_owned(), "/api/undocumented/".to_owned()));
    assert_eq!(
        drift(&app, &spec),
        [
            "POST /api/token/new-thing/ is served but not in openapi.yaml",
            "GET /api/undocumented/ is in openapi.yaml but not served",
        ]
    );
}

#[tokio::test]
async fn every_described_operation_is_served() {
    // Signup and the opt-in modes answer 404 while off, as if they were
    // not there.
    let app = spawn_app_with(|settings| {
        settings.signup.enabled = true;
        settings.sliding.enabled = true;
        settings.drf_token.enabled = true;
    })
    .await;
    for (method, path) in spec_operations(&spec()) {
        let url = app.url(&path.replace("{id}", "some-id"));
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = app
            .client
            .request(method.clone(), &url)
            .send()
            .await
            .expect("sent");
        let status = response.status().as_u16();
        assert!(
            status != 404 && status != 405 && status < 500,
            "{method} {path}: {status}"
        );
    }
}

#[tokio::test]
async fn the_committed_spec_is_served_as_yaml_and_json() {
    let app = spawn_app().await;
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml");
    for path in ["/api/schema/", "/api/schema", "/openapi.yaml"] {
        let response = app.client.get(app.url(path)).send().await.expect("sent");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/vnd.oai.openapi; charset=utf-8"
        );
        assert_eq!(response.text().await.expect("text"), committed, "{path}");
    }
    let expected = spec();
    for request in [
        app.client
            .get(app.url("/api/schema/"))
            .header("accept", "application/json"),
        app.client
            .get(app.url("/openapi.yaml"))
            .header("accept", "application/vnd.oai.openapi+json;version=3.1"),
        app.client.get(app.url("/api/schema/?format=json")),
    ] {
        let response = request.send().await.expect("sent");
        assert_eq!(
            response.headers()["content-type"],
            "application/vnd.oai.openapi+json; charset=utf-8"
        );
        let served: Value = response.json().await.expect("JSON");
        assert_eq!(served, expected);
    }
}
