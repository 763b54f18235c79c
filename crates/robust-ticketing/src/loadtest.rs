//! `robust-ticketing loadtest`: an on-sale simulated over real HTTP.
//!
//! It starts a server in this process (or targets `--url`), creates an event,
//! and lets N buyers race for its seats: each looks at the seat map (the
//! compact availability, which may be up to two seconds old), picks a free
//! seat at random, holds it, waits a moment (reading the checkout page), and
//! pays; after a 409 it looks again. It
//! reports holds and completed checkouts per second, latency percentiles,
//! errors by kind, and the oversell check: sold units against capacity and
//! distinct seats. In the same run it measures the same client against the
//! server's cheapest endpoint (`/healthz`), the HTTP ceiling the checkout
//! throughput is a fraction of.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Attempts one buyer makes before giving up (each a hold on a random seat).
const ATTEMPTS_PER_BUYER_MAX: usize = 20;
/// Requests of the HTTP-ceiling measurement, unless told otherwise.
pub const CEILING_REQUESTS_DEFAULT: usize = 20_000;

#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// A running server; `None` starts one in this process on a fresh SQLite file.
    pub url: Option<String>,
    /// `DATABASE_URL` for the in-process server (default: a temporary SQLite file).
    pub database_url: Option<String>,
    pub buyers: usize,
    pub seats: usize,
    pub concurrency: usize,
    pub think: Duration,
    /// Requests sent to `/healthz` to measure the HTTP ceiling.
    pub ceiling_requests: usize,
}

#[derive(Default)]
struct Tally {
    /// Reads of the compact availability, one before each hold attempt: a
    /// buyer waits for the seat map too, so its latency is reported with
    /// the others.
    availability_ms: Vec<f64>,
    hold_ms: Vec<f64>,
    order_ms: Vec<f64>,
    errors: BTreeMap<String, usize>,
    sold_seats: Vec<String>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    ticketing::install_crypto_provider();
    Ok(reqwest::Client::builder().pool_max_idle_per_host(concurrency).timeout(Duration::from_secs(60)).build()?)
}

async fn json_ok(r: reqwest::Response, what: &str) -> anyhow::Result<Value> {
    let status = r.status();
    let body: Value = r.json().await.with_context(|| format!("{what}: not JSON"))?;
    if !status.is_success() {
        bail!("{what}: {status}: {body}");
    }
    Ok(body)
}

async fn signup(http: &reqwest::Client, api: &str, email: &str) -> anyhow::Result<String> {
    let body = json!({"email": email, "password": "load-test-password", "name": "Load Tester"});
    json_ok(http.post(format!("{api}/auth/register")).json(&body).send().await?, "register").await?;
    let session = json_ok(http.post(format!("{api}/auth/login")).json(&body).send().await?, "login").await?;
    Ok(session["access_token"].as_str().context("no token")?.to_owned())
}

/// Creates an organizer, a venue of `seats` seats and a published event.
async fn setup(http: &reqwest::Client, api: &str, seats: usize) -> anyhow::Result<(String, Vec<String>)> {
    let owner = signup(http, api, &format!("organizer-{}@loadtest.example", uuid_suffix())).await?;
    let org = json_ok(
        http.post(format!("{api}/organizations"))
            .bearer_auth(&owner)
            .json(&json!({"name": "Load Test"}))
            .send()
            .await?,
        "organization",
    )
    .await?;
    let org = org["id"].as_str().context("org id")?;
    // Rows of 50, longer when a section would otherwise exceed its row limit.
    let per_row = 50usize.max(seats.div_ceil(domain::seatmap::ROWS_PER_SECTION_MAX));
    let rows: Vec<Value> = (0..seats.div_ceil(per_row))
        .map(|i| json!({"label": format!("R{i}"), "seats": per_row.min(seats - i * per_row)}))
        .collect();
    let venue = json_ok(
        http.post(format!("{api}/organizations/{org}/venues"))
            .bearer_auth(&owner)
            .json(&json!({"name": "Load Arena", "timezone": "UTC",
                          "seat_map": {"sections": [{"name": "Main", "price_zone": "main", "rows": rows}]}}))
            .send()
            .await?,
        "venue",
    )
    .await?;
    let starts = chrono::Utc::now() + chrono::Duration::days(7);
    let event = json_ok(
        http.post(format!("{api}/organizations/{org}/events"))
            .bearer_auth(&owner)
            .json(&json!({"venue_id": venue["id"], "title": "Load Test On-Sale", "category": "concert",
                          "starts_at": starts, "ends_at": starts + chrono::Duration::hours(3),
                          "ticket_types": [{"name": "Seat", "price": {"amount": 5000, "currency": "EUR"},
                                            "price_zone": "main", "max_per_order": 10}]}))
            .send()
            .await?,
        "event",
    )
    .await?;
    let event = event["id"].as_str().context("event id")?.to_owned();
    json_ok(http.post(format!("{api}/events/{event}/publish")).bearer_auth(&owner).send().await?, "publish").await?;
    let map = json_ok(
        http.get(format!("{api}/venues/{}/seat-map", venue["id"].as_str().unwrap_or_default())).send().await?,
        "map",
    )
    .await?;
    let seat_ids = map["sections"][0]["rows"]
        .as_array()
        .context("rows")?
        .iter()
        .flat_map(|r| r["seats"].as_array().into_iter().flatten().filter_map(|s| s["id"].as_str().map(str::to_owned)))
        .collect();
    Ok((event, seat_ids))
}

fn uuid_suffix() -> String {
    domain::ids::CheckinId::new().to_string()[..8].to_owned()
}

/// The parts of the compact availability a buyer reads.
#[derive(serde::Deserialize)]
struct Compact {
    seat_count: usize,
    statuses: String,
}

/// The part of a hold or an order the client reads back. The client shares
/// the machine with the server, so it parses only what it uses.
#[derive(serde::Deserialize)]
struct Created {
    id: String,
}

#[derive(serde::Deserialize)]
struct Order {
    tickets: Vec<OrderTicket>,
}

#[derive(serde::Deserialize)]
struct OrderTicket {
    seat_id: Option<String>,
}

#[derive(serde::Serialize)]
struct HoldSeats<'a> {
    seats: [&'a str; 1],
}

#[derive(serde::Serialize)]
struct PlaceOrder<'a> {
    hold_id: &'a str,
    payment: Payment,
}

#[derive(serde::Serialize)]
struct Payment {
    gateway: &'static str,
    token: &'static str,
}

/// Random probes for a free seat before the whole map is scanned.
const PICK_PROBES_MAX: usize = 32;

/// A seat (its index in seat-map order) the compact availability shows free,
/// picked uniformly at random: `Some(None)` when none is free, `None` when
/// the availability could not be read.
async fn pick_free_seat(http: &reqwest::Client, api: &str, event: &str) -> Option<Option<usize>> {
    use base64::Engine;
    use domain::availability::{AVAILABLE, get};
    let r = http.get(format!("{api}/events/{event}/availability/compact")).send().await.ok()?;
    let body: Compact = r.json().await.ok()?;
    let packed = base64::engine::general_purpose::STANDARD.decode(&body.statuses).ok()?;
    let count = body.seat_count.min(packed.len() * 4);
    if count == 0 {
        return Some(None);
    }
    // Probing is uniform over the free seats and, while many are free, far
    // cheaper than listing them: the client shares the CPU it measures.
    for _ in 0..PICK_PROBES_MAX {
        let i = rand::random_range(0..count);
        if get(&packed, i) == AVAILABLE {
            return Some(Some(i));
        }
    }
    let free = (0..count).filter(|&i| get(&packed, i) == AVAILABLE).count();
    if free == 0 {
        return Some(None);
    }
    let nth = rand::random_range(0..free);
    Some((0..count).filter(|&i| get(&packed, i) == AVAILABLE).nth(nth))
}

/// The same client's requests per second against `/healthz`.
async fn ceiling(http: &reqwest::Client, root: &str, concurrency: usize, requests: usize) -> f64 {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, url, next) = (http.clone(), format!("{root}/healthz"), next.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let _ = http.get(&url).send().await.and_then(|r| r.error_for_status());
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    requests as f64 / started.elapsed().as_secs_f64()
}

fn progress(done: usize, total: usize, sold: usize, capacity: usize) {
    let width = 30;
    let filled = (done * width).checked_div(total).unwrap_or(width);
    eprint!(
        "\r[{}{}] buyers {done}/{total}  sold {sold}/{capacity}   ",
        "#".repeat(filled),
        ".".repeat(width - filled)
    );
    let _ = std::io::stderr().flush();
}

/// The server under test: `url`, or one started in this process.
async fn server(url: Option<&str>, database_url: Option<&str>) -> anyhow::Result<(String, Option<crate::Running>)> {
    if let Some(url) = url {
        return Ok((url.trim_end_matches('/').to_owned(), None));
    }
    let dir = tempfile_dir()?;
    let config = crate::Config {
        bind: "127.0.0.1:0".parse()?,
        database_url: database_url.map_or_else(|| format!("sqlite://{}/loadtest.db", dir.display()), str::to_owned),
        demo: false,
        // Thousands of accounts are made for the test; their hashing is not what is measured.
        password_hashing: ticketing::accounts::PasswordHashing::insecure_fast(),
        // Every simulated buyer comes from this one address.
        rate_limits: web::limits::RateLimitConfig::off(),
        ..crate::Config::default()
    };
    let payments = ticketing::Payments::default().with(Arc::new(ticketing::TestGateway::default()));
    let r = crate::start(&config, Arc::new(ticketing::SystemClock), payments).await?;
    Ok((format!("http://{}", r.addr), Some(r)))
}

pub async fn run(cfg: LoadConfig) -> anyhow::Result<String> {
    let (root, running) = server(cfg.url.as_deref(), cfg.database_url.as_deref()).await?;
    let api = format!("{root}/api/v1");
    let http = client(cfg.concurrency)?;
    eprintln!("setting up an event with {} seats and {} buyers at {root}", cfg.seats, cfg.buyers);
    let (event, seats) = setup(&http, &api, cfg.seats).await?;
    let capacity = seats.len();

    let gate = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency));
    let mut tasks = Vec::new();
    for i in 0..cfg.buyers {
        let (http, api, gate) = (http.clone(), api.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _p = gate.acquire().await;
            signup(&http, &api, &format!("buyer{i}-{}@loadtest.example", uuid_suffix())).await
        }));
    }
    let mut tokens = Vec::with_capacity(cfg.buyers);
    for t in tasks {
        tokens.push(t.await??);
    }

    let ceiling_rps = ceiling(&http, &root, cfg.concurrency, cfg.ceiling_requests.max(1)).await;

    let tally = Arc::new(Mutex::new(Tally::default()));
    let done = Arc::new(AtomicUsize::new(0));
    let sold = Arc::new(AtomicUsize::new(0));
    let seats = Arc::new(seats);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let (http, api, gate, tally, done, sold, seats, event) = (
            http.clone(),
            api.clone(),
            gate.clone(),
            tally.clone(),
            done.clone(),
            sold.clone(),
            seats.clone(),
            event.clone(),
        );
        let think = cfg.think;
        tasks.push(tokio::spawn(async move {
            let _p = gate.acquire().await;
            for attempt in 0..ATTEMPTS_PER_BUYER_MAX {
                if sold.load(Ordering::Relaxed) >= seats.len() {
                    break;
                }
                // Like a person at the seat map: look at what is free (the
                // compact snapshot, up to two seconds old), pick one of those.
                let t0 = Instant::now();
                let free = pick_free_seat(&http, &api, &event).await;
                tally.lock().expect("tally").availability_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
                let pick = match free {
                    Some(None) => break,
                    Some(Some(free)) => free,
                    None => (i * 7919 + attempt * 104_729 + rand::random_range(0..seats.len())) % seats.len(),
                };
                let Some(seat) = seats.get(pick) else { continue };
                let t0 = Instant::now();
                let r = http
                    .post(format!("{api}/events/{event}/holds"))
                    .bearer_auth(&token)
                    .json(&HoldSeats { seats: [seat.as_str()] })
                    .send()
                    .await;
                let hold_ms = t0.elapsed().as_secs_f64() * 1000.0;
                let hold = match r {
                    Ok(r) if r.status() == reqwest::StatusCode::CREATED => r.json::<Created>().await.ok(),
                    Ok(r) => {
                        let mut t = tally.lock().expect("tally");
                        t.hold_ms.push(hold_ms);
                        *t.errors.entry(format!("hold {}", r.status().as_u16())).or_default() += 1;
                        continue;
                    }
                    Err(e) => {
                        *tally.lock().expect("tally").errors.entry(format!("hold transport: {e}")).or_default() += 1;
                        continue;
                    }
                };
                tally.lock().expect("tally").hold_ms.push(hold_ms);
                let Some(hold) = hold else { continue };
                tokio::time::sleep(think).await;
                let t0 = Instant::now();
                let r = http
                    .post(format!("{api}/orders"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("load-{i}-{attempt}"))
                    .json(&PlaceOrder { hold_id: &hold.id, payment: Payment { gateway: "test", token: "tok_ok" } })
                    .send()
                    .await;
                let order_ms = t0.elapsed().as_secs_f64() * 1000.0;
                tally.lock().expect("tally").order_ms.push(order_ms);
                let outcome = match r {
                    Ok(r) if r.status() == reqwest::StatusCode::CREATED => Ok(r.json::<Order>().await.ok()),
                    Ok(r) => Err(format!("order {}", r.status().as_u16())),
                    Err(e) => Err(format!("order transport: {e}")),
                };
                let mut t = tally.lock().expect("tally");
                match outcome {
                    Ok(order) => {
                        for ticket in order.into_iter().flat_map(|o| o.tickets) {
                            t.sold_seats.push(ticket.seat_id.unwrap_or_default());
                        }
                        sold.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(kind) => *t.errors.entry(kind).or_default() += 1,
                }
            }
            done.fetch_add(1, Ordering::Relaxed);
        }));
    }
    let total = tasks.len();
    let watch = {
        let (done, sold) = (done.clone(), sold.clone());
        tokio::spawn(async move {
            loop {
                progress(done.load(Ordering::Relaxed), total, sold.load(Ordering::Relaxed), capacity);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    for t in tasks {
        t.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    watch.abort();
    progress(total, total, sold.load(Ordering::Relaxed), capacity);
    eprintln!();

    let availability =
        json_ok(http.get(format!("{api}/events/{event}/availability")).send().await?, "availability").await?;
    let sold_in_db =
        availability["seats"].as_array().map(|s| s.iter().filter(|s| s["status"] == "sold").count()).unwrap_or(0);
    let mut t = std::mem::take(&mut *tally.lock().expect("tally"));
    let check = OversellCheck::of(&t.sold_seats, sold_in_db, capacity);
    let tickets = check.tickets;
    t.availability_ms.sort_by(f64::total_cmp);
    t.hold_ms.sort_by(f64::total_cmp);
    t.order_ms.sort_by(f64::total_cmp);
    let holds = t.hold_ms.len();
    let checkouts_per_sec = tickets as f64 / elapsed;
    let mut out = String::new();
    out.push_str(&format!(
        "buyers {}  seats {capacity}  concurrency {}  think {} ms  duration {elapsed:.2} s\n",
        cfg.buyers,
        cfg.concurrency,
        cfg.think.as_millis()
    ));
    out.push_str(&format!("holds attempted {holds} ({:.0}/s)\n", holds as f64 / elapsed));
    out.push_str(&format!("completed checkouts {tickets} ({checkouts_per_sec:.0}/s)\n"));
    for (name, v) in [("availability", &t.availability_ms), ("hold", &t.hold_ms), ("order", &t.order_ms)] {
        out.push_str(&format!(
            "{name} latency ms: p50 {:.1}  p95 {:.1}  p99 {:.1}\n",
            percentile(v, 50.0),
            percentile(v, 95.0),
            percentile(v, 99.0)
        ));
    }
    out.push_str(&format!("errors: {:?}\n", t.errors));
    // Every request of the sale: a look at the seat map before each hold
    // attempt, the holds (409s included) and the payments.
    let requests = t.availability_ms.len() + holds + t.order_ms.len();
    let requests_per_sec = requests as f64 / elapsed;
    out.push_str(&format!(
        "requests during the sale {requests} ({requests_per_sec:.0}/s): availability {}, holds {holds}, orders {}; \
         {:.1} per completed checkout\n",
        t.availability_ms.len(),
        t.order_ms.len(),
        requests as f64 / tickets.max(1) as f64
    ));
    out.push_str(&format!(
        "HTTP ceiling (GET /healthz, same client): {ceiling_rps:.0} req/s; checkouts/s are {:.1} % of it, \
         the sale's requests/s {:.1} %\n",
        100.0 * checkouts_per_sec / ceiling_rps,
        100.0 * requests_per_sec / ceiling_rps
    ));
    out.push_str(&format!("{check}\n"));
    if let Some(r) = running {
        r.shutdown().await?;
    }
    if !check.exact() {
        bail!("{out}the oversell check failed");
    }
    Ok(out)
}

/// What the buyers were sold against what the database holds. Exact means:
/// every ticket a buyer was given is for a different seat, the database
/// shows exactly those as sold, and no more than the capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OversellCheck {
    pub tickets: usize,
    pub distinct: usize,
    pub sold_in_db: usize,
    pub capacity: usize,
}

impl OversellCheck {
    pub fn of(sold_seats: &[String], sold_in_db: usize, capacity: usize) -> Self {
        let distinct: HashSet<&String> = sold_seats.iter().collect();
        Self { tickets: sold_seats.len(), distinct: distinct.len(), sold_in_db, capacity }
    }

    pub fn exact(&self) -> bool {
        self.tickets <= self.capacity && self.distinct == self.tickets && self.sold_in_db == self.tickets
    }
}

impl std::fmt::Display for OversellCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "oversell check: tickets {}, distinct seats {}, sold in the database {}, capacity {}: {}",
            self.tickets,
            self.distinct,
            self.sold_in_db,
            self.capacity,
            if self.exact() { "exact" } else { "FAILED" }
        )
    }
}

#[derive(Clone, Debug)]
pub struct AvailabilityConfig {
    pub url: Option<String>,
    pub database_url: Option<String>,
    pub seats: usize,
    /// Clients reading availability in a loop.
    pub readers: usize,
    /// Buyers holding and paying for random seats meanwhile, so that the
    /// snapshot keeps changing.
    pub buyers: usize,
    pub duration: Duration,
}

/// Resident memory of this process in KiB (Linux), `None` elsewhere.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Availability of a big event under load: many clients read the compact
/// availability while buyers keep buying; reports latency percentiles and
/// the process's peak resident memory (server and load client together
/// when the server runs in this process).
pub async fn run_availability(cfg: AvailabilityConfig) -> anyhow::Result<String> {
    let (root, running) = server(cfg.url.as_deref(), cfg.database_url.as_deref()).await?;
    let api = format!("{root}/api/v1");
    let http = client(cfg.readers + cfg.buyers)?;
    eprintln!("setting up an event with {} seats at {root}", cfg.seats);
    let t0 = Instant::now();
    let (event, seats) = setup(&http, &api, cfg.seats).await?;
    let setup_secs = t0.elapsed().as_secs_f64();
    let full_t0 = Instant::now();
    let full = http.get(format!("{api}/events/{event}/availability")).send().await?.bytes().await?;
    let full_ms = full_t0.elapsed().as_secs_f64() * 1000.0;
    let mut tokens = Vec::new();
    for i in 0..cfg.buyers {
        tokens.push(signup(&http, &api, &format!("reader-buyer{i}-{}@loadtest.example", uuid_suffix())).await?);
    }
    let deadline = Instant::now() + cfg.duration;
    let rss_peak = Arc::new(AtomicUsize::new(rss_kib().unwrap_or(0) as usize));
    let sampler = {
        let peak = rss_peak.clone();
        tokio::spawn(async move {
            loop {
                if let Some(kib) = rss_kib() {
                    peak.fetch_max(kib as usize, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let seats = Arc::new(seats);
    let sold = Arc::new(AtomicUsize::new(0));
    let mut buyers = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let (http, api, event, seats, sold) = (http.clone(), api.clone(), event.clone(), seats.clone(), sold.clone());
        buyers.push(tokio::spawn(async move {
            let mut n = 0usize;
            while Instant::now() < deadline {
                n += 1;
                let seat = &seats[rand::random_range(0..seats.len())];
                let Ok(r) = http
                    .post(format!("{api}/events/{event}/holds"))
                    .bearer_auth(&token)
                    .json(&json!({"seats": [seat]}))
                    .send()
                    .await
                else {
                    continue;
                };
                if r.status() != reqwest::StatusCode::CREATED {
                    continue;
                }
                let Ok(hold) = r.json::<Value>().await else { continue };
                let paid = http
                    .post(format!("{api}/orders"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("avail-{i}-{n}"))
                    .json(&json!({"hold_id": hold["id"], "payment": {"gateway": "test", "token": "tok_ok"}}))
                    .send()
                    .await;
                if paid.is_ok_and(|r| r.status() == reqwest::StatusCode::CREATED) {
                    sold.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut readers = Vec::new();
    for _ in 0..cfg.readers {
        let (http, url) = (http.clone(), format!("{api}/events/{event}/availability/compact"));
        readers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut bytes = 0usize;
            let mut errors = 0usize;
            while Instant::now() < deadline {
                let t = Instant::now();
                match http.get(&url).send().await {
                    Ok(r) if r.status().is_success() => match r.bytes().await {
                        Ok(b) => {
                            bytes = b.len();
                            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                        }
                        Err(_) => errors += 1,
                    },
                    _ => errors += 1,
                }
            }
            (latencies, bytes, errors)
        }));
    }
    let started = Instant::now();
    let (mut latencies, mut body_bytes, mut errors) = (Vec::new(), 0, 0);
    for r in readers {
        let (l, b, e) = r.await?;
        latencies.extend(l);
        body_bytes = body_bytes.max(b);
        errors += e;
    }
    for b in buyers {
        b.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    sampler.abort();
    latencies.sort_by(f64::total_cmp);
    let mut out = String::new();
    out.push_str(&format!(
        "seats {}  readers {}  buyers {}  duration {elapsed:.1} s  (venue and event set up in {setup_secs:.1} s)\n",
        cfg.seats, cfg.readers, cfg.buyers
    ));
    out.push_str(&format!(
        "compact availability: {} reads ({:.0}/s), {body_bytes} bytes each, errors {errors}\n",
        latencies.len(),
        latencies.len() as f64 / elapsed
    ));
    out.push_str(&format!(
        "compact availability latency ms: p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}\n",
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0.0)
    ));
    out.push_str(&format!(
        "full JSON availability, one read before the run: {} bytes in {full_ms:.0} ms\n",
        full.len()
    ));
    out.push_str(&format!("seats sold during the run: {}\n", sold.load(Ordering::Relaxed)));
    out.push_str(&format!(
        "peak resident memory of this process{}: {} MiB\n",
        if running.is_some() { " (server and load client)" } else { " (load client only)" },
        rss_peak.load(Ordering::Relaxed) / 1024
    ));
    if let Some(r) = running {
        r.shutdown().await?;
    }
    if errors > 0 {
        bail!("{out}{errors} availability reads failed");
    }
    Ok(out)
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("robust-ticketing-loadtest-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seats(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_oversell_check_is_exact_only_when_buyers_and_database_agree() {
        assert!(OversellCheck::of(&seats(&["a", "b"]), 2, 2).exact());
        // The database holds a sale no buyer was told about, or lost one.
        assert!(!OversellCheck::of(&seats(&["a", "b"]), 3, 3).exact());
        assert!(!OversellCheck::of(&seats(&["a", "b"]), 1, 3).exact());
        // One seat sold to two buyers.
        assert!(!OversellCheck::of(&seats(&["a", "a"]), 2, 3).exact());
        // More sold than there is.
        assert!(!OversellCheck::of(&seats(&["a", "b", "c"]), 3, 2).exact());
        assert!(OversellCheck::of(&seats(&["a", "a"]), 2, 3).to_string().ends_with("FAILED"));
    }
}
