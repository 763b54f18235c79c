//! The independent auditor (`ledger verify`) and the witness (`ledger
//! witness`): a healthy log verifies; changed, reordered or removed leaves
//! are caught; a witness refuses a head that forks from the one it holds.

use std::path::Path;

use reqwest::StatusCode;
use robust_ticketing::audit::{self, FileWitness, SavedHead, Witness, WitnessOutcome};
use serde_json::Value;

use crate::helpers::*;

/// Polls the signed tree head until the log holds `size` entries.
async fn wait_for_size(app: &TestApp, size: u64) {
    for _ in 0..100 {
        let sth: Value = app.get("/api/v1/ledger/sth", None).await.json().await.unwrap();
        if sth["tree_size"] == size {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the log never reached {size} entries");
}

/// A log of 4 entries: three tickets issued, the first admitted. Returns the
/// ticket ids.
async fn log_of_four(app: &TestApp) -> (Fixture, Account, Vec<String>) {
    let f = app.fixture(1, 8, 10).await;
    let buyer = app.signup(&format!("audit-{}@example.org", uuid::Uuid::new_v4())).await;
    let order = app.buy(&buyer.token, &f.event_id, &[&f.seats[0], &f.seats[1], &f.seats[2]], &[]).await;
    let tickets: Vec<String> =
        order["tickets"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect();
    let r = app.checkin(&f.org.owner.token, &f.event_id, order["tickets"][0]["barcode"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    wait_for_size(app, 4).await;
    (f, buyer, tickets)
}

async fn database(app: &TestApp) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new().max_connections(1).connect(app.db_url()).await.expect("test database")
}

fn assert_passed(report: &audit::Report) {
    assert!(report.passed(), "expected every check to pass:\n{}", report.lines().join("\n"));
}

fn assert_failed(report: &audit::Report, needle: &str) {
    assert!(!report.passed(), "tampering went unnoticed:\n{}", report.lines().join("\n"));
    assert!(report.failed_with(needle), "expected a failure about {needle}:\n{}", report.lines().join("\n"));
}

fn read_head(path: &Path) -> SavedHead {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test]
async fn a_healthy_log_verifies_and_later_runs_check_consistency_with_the_saved_head() {
    let app = spawn_app().await;
    let (f, buyer, tickets) = log_of_four(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");

    let report = audit::verify(&app.root, Some(&state), &tickets).await;
    assert_passed(&report);
    let lines = report.lines().join("\n");
    assert!(lines.contains("first use"), "{lines}");
    assert!(lines.contains("ok: root"), "{lines}");
    assert!(lines.contains(&format!("ok: ticket {}: 2 entries proven", tickets[0])), "{lines}");
    assert_eq!(read_head(&state).tree_size, 4, "the verified head is saved");

    // More sales; the next run proves the new log extends the saved one.
    app.buy(&buyer.token, &f.event_id, &[&f.seats[3], &f.seats[4]], &[]).await;
    wait_for_size(&app, 6).await;
    let report = audit::verify(&app.root, Some(&state), &tickets[..1]).await;
    assert_passed(&report);
    let lines = report.lines().join("\n");
    assert!(lines.contains("size 6") && lines.contains("extends the saved size 4"), "{lines}");
    assert_eq!(read_head(&state).tree_size, 6);

    // A saved head that the log does not extend (same key, a root it never had).
    let mut forged = read_head(&state);
    forged.tree_size = 5;
    forged.root_hash[0] ^= 1;
    std::fs::write(&state, serde_json::to_vec(&forged).unwrap()).unwrap();
    let report = audit::verify(&app.root, Some(&state), &[]).await;
    assert_failed(&report, "consistency proof");
    assert_eq!(read_head(&state), forged, "a failed run leaves the state alone");

    // A server that is not a log at all fails cleanly, without panicking.
    let report = audit::verify(&format!("{}/nothing-here", app.root), None, &[]).await;
    assert!(!report.passed(), "{}", report.lines().join("\n"));
}

/// Verifies once (saving the head), tampers, and expects a failure about `needle`.
async fn tamper_and_verify(tamper: impl AsyncFnOnce(&sqlx::AnyPool), needle: &str) {
    let app = spawn_app().await;
    let (_, _, tickets) = log_of_four(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    assert_passed(&audit::verify(&app.root, Some(&state), &tickets).await);
    let saved = read_head(&state);

    tamper(&database(&app).await).await;

    let report = audit::verify(&app.root, Some(&state), &tickets).await;
    assert_failed(&report, needle);
    assert_eq!(read_head(&state), saved, "the state keeps the last good head");
    // Without a saved head, the leaves alone betray the change.
    let report = audit::verify(&app.root, None, &[]).await;
    assert_failed(&report, needle);
}

#[tokio::test]
async fn a_changed_leaf_is_detected() {
    tamper_and_verify(
        async |db| {
            let mut input: Vec<u8> = sqlx::query_scalar("SELECT leaf_input FROM ledger_entries WHERE leaf_index = $1")
                .bind(2_i64)
                .fetch_one(db)
                .await
                .unwrap();
            // A byte of the holder pseudonym: the leaf still decodes, only its hash changes.
            input[60] ^= 0x01;
            let done = sqlx::query("UPDATE ledger_entries SET leaf_input = $1 WHERE leaf_index = $2")
                .bind(input)
                .bind(2_i64)
                .execute(db)
                .await
                .unwrap();
            assert_eq!(done.rows_affected(), 1);
        },
        "root",
    )
    .await;
}

#[tokio::test]
async fn reordered_leaves_are_detected() {
    tamper_and_verify(
        async |db| {
            for (from, to) in [(0_i64, -1_i64), (1, 0), (-1, 1)] {
                let done = sqlx::query("UPDATE ledger_entries SET leaf_index = $1 WHERE leaf_index = $2")
                    .bind(to)
                    .bind(from)
                    .execute(db)
                    .await
                    .unwrap();
                assert_eq!(done.rows_affected(), 1);
            }
        },
        "root",
    )
    .await;
}

#[tokio::test]
async fn a_removed_leaf_is_detected() {
    tamper_and_verify(
        async |db| {
            let done =
                sqlx::query("DELETE FROM ledger_entries WHERE leaf_index = $1").bind(3_i64).execute(db).await.unwrap();
            assert_eq!(done.rows_affected(), 1);
            sqlx::query("UPDATE ledger_state SET tree_size = tree_size - 1 WHERE id = 1").execute(db).await.unwrap();
        },
        "entries",
    )
    .await;
}

#[tokio::test]
async fn a_witness_records_an_extending_log_and_refuses_a_fork() {
    let app = spawn_app().await;
    let (f, buyer, _) = log_of_four(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let witness = FileWitness::new(dir.path().join("witness")).unwrap();

    let first = match audit::witness(&app.root, &witness).await.unwrap() {
        WitnessOutcome::First(head) => head,
        other => panic!("expected the first head, got {other:?}"),
    };
    assert_eq!(first.tree_size, 4);
    assert_eq!(witness.latest().unwrap(), Some(first.clone()));
    assert!(matches!(audit::witness(&app.root, &witness).await.unwrap(), WitnessOutcome::Unchanged(_)));

    app.buy(&buyer.token, &f.event_id, &[&f.seats[3]], &[]).await;
    wait_for_size(&app, 5).await;
    match audit::witness(&app.root, &witness).await.unwrap() {
        WitnessOutcome::Extended { from, to } => assert_eq!((from.tree_size, to.tree_size), (4, 5)),
        other => panic!("expected an extension, got {other:?}"),
    }
    assert!(dir.path().join("witness/sth-4.json").exists() && dir.path().join("witness/sth-5.json").exists());
    let honest = witness.latest().unwrap().unwrap();

    // A second witness was shown another history by the same log (same key):
    // a head of the same size with a different root...
    let other = FileWitness::new(dir.path().join("other")).unwrap();
    let mut forked = honest.clone();
    forked.root_hash[31] ^= 0x80;
    other.record(&forked).unwrap();
    let err = audit::witness(&app.root, &other).await.unwrap_err().to_string();
    assert!(err.contains("forked log") && err.contains("two different roots"), "{err}");
    assert_eq!(other.latest().unwrap(), Some(forked.clone()), "the recorded head is kept");

    // ...or an older head that the current log does not extend.
    let mut older = first.clone();
    older.root_hash[0] ^= 0x01;
    other.record(&older).unwrap();
    let err = audit::witness(&app.root, &other).await.unwrap_err().to_string();
    assert!(err.contains("forked log") && err.contains("consistency proof"), "{err}");
    assert_eq!(other.latest().unwrap(), Some(older));
    let conflicts = std::fs::read_dir(dir.path().join("other"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("conflict-"))
        .count();
    assert!(conflicts >= 1, "the refused heads are kept as evidence");

    // A larger head than the log now shows: the log shrank.
    let mut ahead = honest.clone();
    ahead.tree_size = 9;
    other.record(&ahead).unwrap();
    let err = audit::witness(&app.root, &other).await.unwrap_err().to_string();
    assert!(err.contains("shrank"), "{err}");

    // A store holding another log's heads refuses this one.
    let mut foreign = honest.clone();
    foreign.public_key[0] ^= 0x01;
    other.record(&foreign).unwrap();
    let err = audit::witness(&app.root, &other).await.unwrap_err().to_string();
    assert!(err.contains("key"), "{err}");

    // The honest witness still accepts the honest log.
    assert!(matches!(audit::witness(&app.root, &witness).await.unwrap(), WitnessOutcome::Unchanged(_)));
}

#[tokio::test]
async fn the_cli_exits_non_zero_when_the_log_does_not_verify() {
    let app = spawn_app().await;
    let (_, _, tickets) = log_of_four(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let run = async |extra: &[&str]| {
        let mut args = vec!["ledger", "verify", "--server", &app.root, "--state", state.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_robust-ticketing"))
            .args(&args)
            .output()
            .await
            .expect("the binary runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (ok, stdout, stderr) = run(&["--ticket", &tickets[0]]).await;
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.lines().all(|l| l.starts_with("ok: ") || l.contains("verifies")), "{stdout}");

    let db = database(&app).await;
    sqlx::query("UPDATE ledger_entries SET leaf_index = $1 WHERE leaf_index = $2")
        .bind(-1_i64)
        .bind(0_i64)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE ledger_entries SET leaf_index = $1 WHERE leaf_index = $2")
        .bind(0_i64)
        .bind(3_i64)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("UPDATE ledger_entries SET leaf_index = $1 WHERE leaf_index = $2")
        .bind(3_i64)
        .bind(-1_i64)
        .execute(&db)
        .await
        .unwrap();
    let (ok, stdout, stderr) = run(&[]).await;
    assert!(!ok, "a reordered log must fail:\n{stdout}\n{stderr}");
    assert!(stdout.contains("FAILED: root"), "{stdout}");
    assert!(stderr.contains("does not verify"), "{stderr}");
}

#[tokio::test]
async fn a_log_that_shows_two_witnesses_different_histories_is_caught_when_they_compare() {
    let app = spawn_app().await;
    let (f, buyer, _) = log_of_four(&app).await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let [a, b, c] = [0, 1, 2].map(|i| FileWitness::new(dirs[i].path()).unwrap());
    audit::witness(&app.root, &a).await.unwrap();
    app.buy(&buyer.token, &f.event_id, &[&f.seats[5]], &[]).await;
    wait_for_size(&app, 5).await;
    audit::witness(&app.root, &b).await.unwrap();
    assert_eq!(audit::compare_witnesses(&app.root, &a, &b).await.unwrap(), None, "one history, two sizes");

    // The log signs another history of the same size for a third witness.
    let honest = b.latest().unwrap().unwrap();
    let pool = database(&app).await;
    let (secret,): (Vec<u8>,) =
        sqlx::query_as("SELECT secret FROM ledger_keys WHERE name = 'log-signing'").fetch_one(&pool).await.unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&secret.try_into().unwrap());
    let mut forked = honest.clone();
    forked.root_hash[0] ^= 1;
    forked.signature = ledger::sign_tree_head(&key, &forked.tree_head());
    assert!(forked.signature_verifies(), "a validly signed, different history");
    c.record(&forked).unwrap();

    let why = audit::compare_witnesses(&app.root, &b, &c).await.unwrap().expect("same size, two roots");
    assert!(why.contains("two different roots"), "{why}");
    let why = audit::compare_witnesses(&app.root, &a, &c).await.unwrap().expect("not an extension");
    assert!(why.contains("does not verify"), "{why}");
}
