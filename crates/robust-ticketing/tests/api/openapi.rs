//! The OpenAPI document covers every route of the contract.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

const CONTRACT: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("get", "/api/v1/me"),
    ("post", "/api/v1/organizations"),
    ("post", "/api/v1/organizations/{org}/members"),
    ("post", "/api/v1/organizations/{org}/venues"),
    ("get", "/api/v1/venues/{venue}/seat-map"),
    ("post", "/api/v1/organizations/{org}/events"),
    ("post", "/api/v1/events/{event}/publish"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/events/{event}"),
    ("get", "/api/v1/events/{event}/availability"),
    ("post", "/api/v1/events/{event}/holds"),
    ("delete", "/api/v1/holds/{hold}"),
    ("post", "/api/v1/orders"),
    ("get", "/api/v1/me/orders"),
    ("get", "/api/v1/me/tickets"),
    ("get", "/api/v1/tickets/{ticket}"),
    ("get", "/api/v1/tickets/{ticket}/qr.svg"),
    ("get", "/api/v1/tickets/{ticket}/qr.png"),
    ("post", "/api/v1/events/{event}/checkins"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/healthz"),
    ("get", "/metrics"),
];

#[tokio::test]
async fn the_openapi_document_is_3_1_and_covers_every_contract_route() {
    let app = spawn_app().await;
    let r = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    for (method, path) in CONTRACT {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn every_documented_route_is_served() {
    // The document is generated from the router; check the reverse too: no
    // documented operation answers 404-no-such-route or 405.
    let app = spawn_app().await;
    let doc: Value = app.get("/api/v1/openapi.json", None).await.json().await.unwrap();
    let nil = "00000000-0000-0000-0000-000000000000";
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{org}", nil)
            .replace("{venue}", nil)
            .replace("{event}", nil)
            .replace("{hold}", nil)
            .replace("{order}", nil)
            .replace("{ticket}", nil);
        for method in item.as_object().unwrap().keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = app.client.request(m, app.url(&concrete)).json(&serde_json::json!({})).send().await.unwrap();
            assert_ne!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            let body = r.text().await.unwrap();
            assert!(!body.contains("no such route"), "{method} {path} is documented but not routed");
        }
    }
}
