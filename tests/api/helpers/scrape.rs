//! Reading a server's `/metrics` as Prometheus would.

/// The exposition text of `/metrics` at `base`.
pub async fn scrape(client: &reqwest::Client, base: &str) -> String {
    let response = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200, "/metrics at {base}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("application/openmetrics-text")
    );
    response.text().await.expect("text")
}

/// The value of the series named exactly `series` (name and labels, as
/// exposed), or `None` when it is not there.
pub fn series(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().expect("a number"))
    })
}
