//! The load benchmark runs here at a small size, so that it cannot rot: a
//! real on-sale over HTTP against the backend under test, sold out, with the
//! oversell check exact.

use std::time::Duration;

use robust_ticketing::loadtest::{LoadConfig, run};

use crate::helpers::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_on_sale_sells_out_exactly() {
    let db = TestDatabase::new().await;
    let report = run(LoadConfig {
        url: None,
        database_url: Some(db.url.clone()),
        buyers: 120,
        seats: 60,
        concurrency: 32,
        think: Duration::from_millis(5),
        ceiling_requests: 500,
    })
    .await
    .unwrap_or_else(|e| panic!("the load test failed: {e:#}"));
    assert!(report.contains("completed checkouts 60 "), "not sold out:\n{report}");
    assert!(report.contains("sold in the database 60, capacity 60: exact"), "{report}");
    for kind in ["availability", "hold", "order"] {
        assert!(report.contains(&format!("\n{kind} latency ms: p50")), "{report}");
    }
    assert!(report.contains("HTTP ceiling"), "{report}");
    // Every request is counted: at least a look, a hold and a payment per sale.
    let requests: usize = report
        .split("requests during the sale ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count:\n{report}"));
    assert!(requests >= 3 * 60, "{requests} requests for 60 checkouts:\n{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_availability_run_reports_latency_and_memory() {
    let db = TestDatabase::new().await;
    let report = robust_ticketing::loadtest::run_availability(robust_ticketing::loadtest::AvailabilityConfig {
        url: None,
        database_url: Some(db.url.clone()),
        seats: 3_000,
        readers: 4,
        buyers: 2,
        duration: Duration::from_secs(1),
    })
    .await
    .unwrap_or_else(|e| panic!("the availability run failed: {e:#}"));
    assert!(report.contains("compact availability latency ms: p50"), "{report}");
    // 3,000 seats at two bits each, base64: 1,000 characters of statuses.
    assert!(report.contains("errors 0"), "{report}");
    assert!(report.contains("peak resident memory"), "{report}");
}
