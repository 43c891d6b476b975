//! `/healthz` and `/readyz`.

use serde_json::json;

use crate::helpers::{assert_response, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_and_readiness_answer_when_all_is_well() {
    let app = spawn_app().await;

    assert_response(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("sent"),
        200,
        json!({"status": "ok"}),
    )
    .await;
    assert_response(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("sent"),
        200,
        json!({"status": "ok", "database": "ok"}),
    )
    .await;
}

#[tokio::test]
async fn readiness_is_503_when_no_database_connection_can_be_had() {
    let app = spawn_app_with(|s| {
        s.database.pool_size = 1;
        s.database.connect_timeout_seconds = 1;
    })
    .await;
    // Hold the only connection, so the check cannot reach the database.
    let pool = app.state.db.pool().clone();
    let held = tokio::task::spawn_blocking(move || pool.get().expect("connection"))
        .await
        .expect("task");

    let response = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("sent");

    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["status"], "unavailable");
    drop(held);
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("sent")
            .status(),
        200
    );
}
