//! The public ownership log: tickets issued and admitted appear as RFC 6962
//! leaves under signed tree heads, with proofs an outsider can check.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

fn b64(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

fn hash(v: &Value) -> [u8; 32] {
    b64(v).try_into().unwrap()
}

/// Polls the signed tree head until the log holds `size` entries.
async fn sth_of_size(app: &TestApp, size: u64) -> Value {
    for _ in 0..100 {
        let sth: Value = app.get("/api/v1/ledger/sth", None).await.json().await.unwrap();
        if sth["tree_size"] == size {
            return sth;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the log never reached {size} entries");
}

fn verify_sth(sth: &Value) -> [u8; 32] {
    let head = ledger::TreeHead {
        tree_size: sth["tree_size"].as_u64().unwrap(),
        timestamp_ms: sth["timestamp"].as_u64().unwrap(),
        root_hash: hash(&sth["root_hash"]),
    };
    let signature: [u8; 64] = b64(&sth["signature"]).try_into().unwrap();
    assert!(ledger::verify_tree_head(&hash(&sth["public_key"]), &head, &signature), "tree head signature");
    let mut forged = head;
    forged.tree_size += 1;
    assert!(!ledger::verify_tree_head(&hash(&sth["public_key"]), &forged, &signature));
    head.root_hash
}

#[tokio::test]
async fn issues_and_check_ins_are_logged_with_verifiable_proofs_and_no_personal_data() {
    let app = spawn_app().await;
    let f = app.fixture(1, 4, 10).await;
    let buyer = app.signup("privacy-buyer@example.org").await;
    let order = app.buy(&buyer.token, &f.event_id, &[&f.seats[0], &f.seats[1]], &[]).await;
    let first = order["tickets"][0].clone();
    let r = app.checkin(&f.org.owner.token, &f.event_id, first["barcode"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);

    let sth = sth_of_size(&app, 3).await;
    let root = verify_sth(&sth);
    let r = app.get("/api/v1/ledger/entries?start=0&end=2", None).await;
    let entries: Value = r.json().await.unwrap();
    let entries = entries["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["issue", "issue", "check_in"]);
    let user_id = uuid::Uuid::parse_str(&buyer.id).unwrap();
    for (i, e) in entries.iter().enumerate() {
        let input = b64(&e["leaf_input"]);
        let decoded = ledger::Entry::decode(&input).expect("a canonical entry");
        assert_eq!(uuid::Uuid::from_bytes(decoded.ticket.0).to_string(), e["ticket_id"].as_str().unwrap());
        // Pseudonymous: neither the user id nor the e-mail address is in the leaf.
        assert!(!input.windows(16).any(|w| w == user_id.as_bytes()));
        assert!(!String::from_utf8_lossy(&input).contains("privacy-buyer"));
        let r = app.get(&format!("/api/v1/ledger/proof/inclusion?leaf_index={i}&tree_size=3"), None).await;
        let proof: Value = r.json().await.unwrap();
        let path: Vec<[u8; 32]> = proof["audit_path"].as_array().unwrap().iter().map(hash).collect();
        assert!(ledger::verify_inclusion(&ledger::leaf_hash(&input), i as u64, 3, &path, &root), "leaf {i}");
    }
    // The same holder appears under the same pseudonym in both issues.
    let holders: Vec<_> =
        entries.iter().map(|e| ledger::Entry::decode(&b64(&e["leaf_input"])).unwrap().holder).collect();
    assert_eq!(holders[0], holders[1]);

    // The log grows; the old tree is a prefix of the new one.
    app.buy(&buyer.token, &f.event_id, &[&f.seats[2]], &[]).await;
    let sth4 = sth_of_size(&app, 4).await;
    let root4 = verify_sth(&sth4);
    let r = app.get("/api/v1/ledger/proof/consistency?first=3&second=4", None).await;
    let proof: Value = r.json().await.unwrap();
    let path: Vec<[u8; 32]> = proof["consistency"].as_array().unwrap().iter().map(hash).collect();
    assert!(ledger::verify_consistency(3, 4, &root, &root4, &path));
    assert!(!ledger::verify_consistency(3, 4, &root4, &root4, &path), "a different history is caught");

    // A ticket's history: issued, then admitted.
    let r = app.get(&format!("/api/v1/tickets/{}/history", first["id"].as_str().unwrap()), None).await;
    let history: Value = r.json().await.unwrap();
    let kinds: Vec<&str> = history["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["issue", "check_in"]);

    // Impossible requests are 400s, unknown tickets 404.
    for bad in [
        "/api/v1/ledger/proof/inclusion?leaf_index=9&tree_size=4",
        "/api/v1/ledger/proof/inclusion?leaf_index=0&tree_size=99",
        "/api/v1/ledger/proof/consistency?first=4&second=3",
        "/api/v1/ledger/entries?start=7&end=9",
        "/api/v1/ledger/entries?start=2&end=1",
        "/api/v1/ledger/entries?start=x&end=1",
    ] {
        assert_problem(app.get(bad, None).await, StatusCode::BAD_REQUEST).await;
    }
    let r = app.get(&format!("/api/v1/tickets/{}/history", uuid::Uuid::new_v4()), None).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
}
