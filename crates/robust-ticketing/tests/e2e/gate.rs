//! Gate staff: the scanner admits a ticket once and rejects it after; offline
//! scans are verified on the device, queued and synced.

use serde_json::json;

use crate::buyer::sign_in;
use crate::helpers::{one_at_a_time, screenshot_dir, spawn_app};
use crate::webdriver::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scanner_admits_a_ticket_then_rejects_it_the_second_time() {
    let _one = one_at_a_time().await;
    let app = spawn_app().await;
    let event = app.small_event("Gate Night").await;
    let buyer = app.account("buyer").await;
    let order = app.buy(&buyer, &event.id, &[&event.seats[3], &event.seats[4]]).await;
    let barcode = order["tickets"][0]["barcode"].as_str().unwrap().to_owned();
    let entry_code = order["tickets"][1]["entry_code"].as_str().unwrap().to_owned();

    let b = Browser::start(&app.root, 360).await;
    sign_in(&b, &event.owner.email, "/gate").await;
    // Gate staff find the scanner in their menu.
    assert!(
        b.js("return document.querySelector('header a[href=\"/gate\"]') !== null", vec![]).await.as_bool().unwrap()
    );
    b.click(&format!("a[href='/gate/{}']", event.id)).await;
    b.wait_for("document.documentElement.dataset.scannerReady === '1'", "the scanner").await;

    b.fill("#barcode", &format!("{barcode}\n")).await;
    b.wait_for("document.getElementById('scan-result').dataset.result === 'admitted'", "admitted").await;
    let said = b.text("#scan-result").await;
    assert!(said.to_uppercase().contains("ADMITTED"), "{said}");
    assert!(said.contains("row A, seat 4"), "the gate says where the holder goes: {said}");
    if let Some(d) = screenshot_dir() {
        b.screenshot(&d.join("scanner-admitted-360.png").display().to_string()).await;
    }
    b.fill("#barcode", &format!("{barcode}\n")).await;
    b.wait_for("document.getElementById('scan-result').dataset.result === 'rejected'", "rejected").await;
    let text = b.text("#scan-result").await.to_uppercase();
    assert!(text.contains("ALREADY CHECKED IN"), "{text}");
    if let Some(d) = screenshot_dir() {
        b.screenshot(&d.join("scanner-rejected-360.png").display().to_string()).await;
    }

    // A forged code is rejected with its reason.
    b.fill("#barcode", "RT1.forged\n").await;
    b.wait_for("document.getElementById('scan-result').innerText.toUpperCase().includes('INVALID')", "invalid").await;
    // A QR code that will not scan: the entry code typed as heard admits,
    // and a typo says so.
    b.fill("#barcode", &format!("{}\n", entry_code.to_lowercase().replace('-', " "))).await;
    b.wait_for("document.getElementById('scan-result').dataset.result === 'admitted'", "admitted by entry code").await;
    b.fill("#barcode", "ZZZZ-ZZZZ-ZZZZ\n").await;
    b.wait_for(
        "document.getElementById('scan-result').innerText.includes('No ticket of this event has this code')",
        "a typo",
    )
    .await;
    // The form's address opened as a page (a reload after a scan without
    // JavaScript) leads back to the scanner, not to a browser error.
    b.goto(&format!("/gate/{}/scan", event.id)).await;
    assert_eq!(b.path().await, format!("/gate/{}", event.id));
    b.quit().await;

    // A buyer is told at once that the scanner is not theirs, instead of a
    // scanner that can only refuse.
    let b = Browser::start(&app.root, 360).await;
    sign_in(&b, &buyer.email, "/tickets").await;
    b.goto(&format!("/gate/{}", event.id)).await;
    let text = b.text("main").await;
    assert!(text.contains("Only the organizer's gate staff"), "{text}");
    assert!(b.js("return document.getElementById('scanner') === null", vec![]).await.as_bool().unwrap());
    // The scanner is not in a buyer's menu.
    assert!(
        b.js("return document.querySelector('header a[href=\"/gate\"]') === null", vec![]).await.as_bool().unwrap()
    );
    // A mistyped address does not look like being signed out.
    b.goto("/no-such-page").await;
    assert!(b.text("main").await.contains("Page not found"));
    assert!(
        b.js("return document.querySelector('header form[action=\"/signout\"]') !== null", vec![])
            .await
            .as_bool()
            .unwrap()
    );
    b.quit().await;
}

/// Two gates scan the same ticket while offline: both admit it locally (they
/// cannot know), the queues sync when the network is back, and the later
/// one is reported as a conflict. A forged code is rejected offline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_gates_verify_locally_queue_and_report_a_conflict_after_sync() {
    let _one = one_at_a_time().await;
    let app = spawn_app().await;
    let event = app.small_event("Offline Gate Night").await;
    let (status, _) = app
        .call(reqwest::Method::GET, &format!("/events/{}/gate-manifest", event.id), Some(&event.owner.token), None)
        .await;
    assert_eq!(status, 200, "the gate manifest is served");
    let buyer = app.account("buyer").await;
    let order = app.buy(&buyer, &event.id, &[&event.seats[0], &event.seats[1]]).await;
    let barcode = order["tickets"][0]["barcode"].as_str().unwrap().to_owned();
    let typed = order["tickets"][1]["entry_code"].as_str().unwrap().to_owned();
    // A third ticket passed on to a friend before the gates open: the code it
    // had before is retired.
    let passed_on = app.buy(&buyer, &event.id, &[&event.seats[2]]).await;
    let friend = app.account("friend").await;
    let offer = app
        .post(
            &format!("/tickets/{}/transfers", passed_on["tickets"][0]["id"].as_str().unwrap()),
            Some(&buyer.token),
            json!({"to_email": friend.email}),
        )
        .await;
    app.post(&format!("/transfers/{}/accept", offer["id"].as_str().unwrap()), Some(&friend.token), json!({})).await;
    let retired = passed_on["tickets"][0]["entry_code"].as_str().unwrap().to_owned();

    let mut gates = Vec::new();
    for _ in 0..2 {
        let b = Browser::start(&app.root, 360).await;
        sign_in(&b, &event.owner.email, "/gate").await;
        b.goto(&format!("/gate/{}", event.id)).await;
        b.wait_for("document.documentElement.dataset.gateManifest === '1'", "the ticket list downloaded").await;
        gates.push(b);
    }
    // Sold after the gates downloaded their lists: unknown to them offline.
    let late = app.buy(&buyer, &event.id, &[&event.seats[3]]).await;
    let late_code = late["tickets"][0]["entry_code"].as_str().unwrap().to_owned();
    app.relay.set_cut(true);
    for b in &gates {
        b.set_offline(true).await;
        b.wait_for("!navigator.onLine", "offline").await;
        b.fill("#barcode", &format!("{barcode}\n")).await;
        b.wait_for("document.getElementById('scan-result').dataset.result === 'admitted'", "admitted offline").await;
        assert_eq!(b.js("return document.documentElement.dataset.gateQueue", vec![]).await, json!("1"));
    }
    // The same gate again: rejected locally.
    gates[0].fill("#barcode", &format!("{barcode}\n")).await;
    gates[0]
        .wait_for(
            "document.getElementById('scan-result').innerText.toUpperCase().includes('ALREADY')",
            "rejected offline",
        )
        .await;
    gates[0].fill("#barcode", "RT1.AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n").await;
    gates[0]
        .wait_for(
            "document.getElementById('scan-result').dataset.result === 'rejected'",
            "forged code rejected offline",
        )
        .await;
    // The entry code of another ticket, typed offline: found in the ticket list.
    gates[0].fill("#barcode", &format!("{typed}\n")).await;
    gates[0].wait_for("document.getElementById('scan-result').dataset.result === 'admitted'", "typed offline").await;
    // A code the list does not know is refused, and nobody was let in.
    gates[0].fill("#barcode", &format!("{late_code}\n")).await;
    gates[0]
        .wait_for(
            "document.getElementById('scan-result').dataset.result === 'rejected' \
             && document.getElementById('scan-result').innerText.includes('No ticket of this event has this code')",
            "an unknown code refused offline",
        )
        .await;
    // The code the passed-on ticket had before: re-issued, not unknown.
    gates[0].fill("#barcode", &format!("{retired}\n")).await;
    gates[0]
        .wait_for(
            "document.getElementById('scan-result').dataset.result === 'rejected' \
             && document.getElementById('scan-result').innerText.toUpperCase().includes('REVOKED')",
            "a retired code answered as re-issued offline",
        )
        .await;
    if let Some(d) = screenshot_dir() {
        gates[0].screenshot(&d.join("scanner-offline-360.png").display().to_string()).await;
    }

    app.relay.set_cut(false);
    for b in &gates {
        b.set_offline(false).await;
        b.wait_for("document.documentElement.dataset.gateQueue === '0'", "the queue synced").await;
    }
    let conflicts: u64 = {
        let mut n = 0;
        for b in &gates {
            n += b.js("return Number(document.documentElement.dataset.gateConflicts)", vec![]).await.as_u64().unwrap();
        }
        n
    };
    assert_eq!(conflicts, 1, "the later of the two offline admissions is a conflict");
    let typed_ticket =
        app.get(&format!("/tickets/{}", order["tickets"][1]["id"].as_str().unwrap()), Some(&buyer.token)).await;
    assert!(typed_ticket["checked_in_at"].is_string(), "the typed admission synced: {typed_ticket}");
    // Refusals are not synced as admissions: the holder turned away offline
    // still gets in once the gate is back online.
    let late_ticket =
        app.get(&format!("/tickets/{}", late["tickets"][0]["id"].as_str().unwrap()), Some(&buyer.token)).await;
    assert!(late_ticket["checked_in_at"].is_null(), "a refused scan checked nobody in: {late_ticket}");
    for b in gates {
        b.quit().await;
    }
}

/// A phone whose browser has no QR decoder of its own (as Safari on an
/// iPhone) scans with its camera through the bundled decoder: the camera
/// films the holder's QR code and the ticket is admitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_camera_scans_a_ticket_with_the_bundled_decoder() {
    let _one = one_at_a_time().await;
    let app = spawn_app().await;
    let event = app.small_event("Camera Night").await;
    let buyer = app.account("buyer").await;
    let order = app.buy(&buyer, &event.id, &[&event.seats[0]]).await;
    let ticket = order["tickets"][0]["id"].as_str().unwrap().to_owned();
    // The QR code as the holder's phone shows it, filmed: a file the
    // browser's stand-in camera plays.
    let png = reqwest::Client::new()
        .get(format!("{}/tickets/{ticket}/qr.png", app.root))
        .header("cookie", format!("rt_session={}", buyer.token))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let film = dir.path().join("qr.y4m");
    std::fs::write(&film, filmed(&png)).unwrap();
    let camera = [
        "--use-fake-ui-for-media-stream".to_owned(),
        "--use-fake-device-for-media-stream".to_owned(),
        format!("--use-file-for-fake-video-capture={}", film.display()),
    ];
    let b = Browser::start_with(&app.root, 390, &camera).await;
    sign_in(&b, &event.owner.email, &format!("/gate/{}", event.id)).await;
    b.wait_for("document.documentElement.dataset.scannerReady === '1'", "the scanner").await;
    // As on a browser without one, whichever this is.
    let native = b.js("delete window.BarcodeDetector; return 'BarcodeDetector' in window", vec![]).await;
    assert_eq!(native, json!(false));
    assert_eq!(b.js("return document.getElementById('camera').hidden", vec![]).await, json!(false), "a camera button");
    b.click("#camera-toggle").await;
    b.wait_for("document.getElementById('scan-result').dataset.result === 'admitted'", "admitted from the camera")
        .await;
    b.click("#camera-toggle").await;
    let admitted = app.get(&format!("/tickets/{ticket}"), Some(&buyer.token)).await;
    assert!(admitted["checked_in_at"].is_string(), "{admitted}");
    b.quit().await;
}

/// A 640 × 480 video (YUV4MPEG2, two frames) of the QR code `png` in the
/// middle of a white frame, as a phone held up to the camera shows it.
fn filmed(png: &[u8]) -> Vec<u8> {
    let qr = image::load_from_memory(png).expect("a PNG").to_luma8();
    let (w, h, side) = (640u32, 480u32, 400u32);
    let (left, top) = ((w - side) / 2, (h - side) / 2);
    let mut luma = vec![255u8; (w * h) as usize];
    for y in 0..side {
        for x in 0..side {
            let pixel = qr.get_pixel(x * qr.width() / side, y * qr.height() / side)[0];
            luma[((top + y) * w + left + x) as usize] = pixel;
        }
    }
    let mut out = format!("YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\n").into_bytes();
    for _ in 0..2 {
        out.extend_from_slice(b"FRAME\n");
        out.extend_from_slice(&luma);
        // No colour: both chroma planes at their middle value.
        out.extend(std::iter::repeat_n(128u8, (w * h / 2) as usize));
    }
    out
}
