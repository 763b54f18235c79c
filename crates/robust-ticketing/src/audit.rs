//! An independent auditor and a witness for the public ownership log.
//!
//! Everything here talks to a RobustTicketing server only through its public
//! HTTP API (`/api/v1/ledger/...`) and checks what it is told with the
//! verifiers of the `ledger` crate; it never trusts the server's word.
//!
//! # `verify`: the auditor
//!
//! [`verify`] fetches the signed tree head (STH) and checks, each as one
//! [`Check`] of the [`Report`]:
//!
//! 1. the Ed25519 signature of the tree head;
//! 2. every entry `0..tree_size` (downloaded in pages of
//!    [`ENTRIES_PER_REQUEST`]): each decodes as a canonical leaf, names the
//!    ticket and kind the server claims, and carries its own leaf index;
//! 3. the Merkle root recomputed from all those leaves equals the signed root,
//!    so a changed, removed, added or reordered leaf is caught;
//! 4. for each ticket asked about, an inclusion proof of every sequenced entry
//!    of its history against the tree head;
//! 5. with a state file: the same signing key as the head saved by the last
//!    successful run, a tree that did not shrink, and a consistency proof from
//!    the saved head to the new one. The first run trusts what it sees and
//!    saves it (trust on first use). The state file is only rewritten when
//!    every check passed.
//!
//! A misbehaving server is the case being tested: malformed or hostile
//! responses are failed checks, never panics, and responses are bounded in
//! size ([`RESPONSE_BYTES_MAX`]) and time ([`REQUEST_TIMEOUT`]).
//!
//! # Witnesses: anchoring the log outside the server
//!
//! A log can only be caught showing two different histories to two parties if
//! those parties compare notes. A witness is such a party: it periodically
//! fetches the tree head ([`witness`]), verifies its signature and, if it
//! already holds a head of the same log, requires a consistency proof from
//! that head to the new one before recording it. A head that is not an
//! extension of the recorded one (different root at the same size, a smaller
//! tree, or a failing proof) is a fork: the witness refuses it, keeps its old
//! head, and keeps the conflicting pair as evidence. Two honest witnesses of
//! one log thus always hold heads on one line of history; a server that
//! forks its log between them is refused by at least one of them as soon as
//! it presents the other branch.
//!
//! Where heads are kept is pluggable: [`Witness`] has two methods (`latest`,
//! `record`, plus an optional `report_conflict`). [`FileWitness`] keeps JSON
//! files in a directory (`sth-<size>.json` per tree size, `latest.json`,
//! `conflict-<time>.json`); an HTTP witness (posting heads to a third party
//! that runs the same checks) would implement the same trait.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ledger::{Entry, EntryKind, Hash, TreeHead};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Entries asked for per request (the server's cap).
pub const ENTRIES_PER_REQUEST: u64 = 1_000;
/// Largest response body the auditor reads, in bytes.
pub const RESPONSE_BYTES_MAX: usize = 8 * 1024 * 1024;
/// How long one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Problems listed per check before the rest are only counted.
const PROBLEMS_LISTED_MAX: usize = 10;

/// A signed tree head as the server publishes it and as state files and
/// witnesses store it: JSON with base64 (standard) hashes and keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SthJson", into = "SthJson")]
pub struct SavedHead {
    pub tree_size: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    pub root_hash: Hash,
    pub signature: [u8; 64],
    pub public_key: [u8; 32],
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct SthJson {
    tree_size: u64,
    timestamp: i64,
    root_hash: String,
    signature: String,
    public_key: String,
}

fn decode_fixed<const N: usize>(what: &str, b64: &str) -> Result<[u8; N], String> {
    let bytes = STANDARD.decode(b64).map_err(|e| format!("{what} is not base64: {e}"))?;
    let len = bytes.len();
    bytes.try_into().map_err(|_| format!("{what} is {len} bytes, not {N}"))
}

impl TryFrom<SthJson> for SavedHead {
    type Error = String;
    fn try_from(j: SthJson) -> Result<Self, String> {
        Ok(Self {
            tree_size: j.tree_size,
            timestamp_ms: u64::try_from(j.timestamp).map_err(|_| format!("negative timestamp {}", j.timestamp))?,
            root_hash: decode_fixed("root_hash", &j.root_hash)?,
            signature: decode_fixed("signature", &j.signature)?,
            public_key: decode_fixed("public_key", &j.public_key)?,
        })
    }
}

impl From<SavedHead> for SthJson {
    fn from(h: SavedHead) -> Self {
        Self {
            tree_size: h.tree_size,
            timestamp: i64::try_from(h.timestamp_ms).unwrap_or(i64::MAX),
            root_hash: STANDARD.encode(h.root_hash),
            signature: STANDARD.encode(h.signature),
            public_key: STANDARD.encode(h.public_key),
        }
    }
}

impl SavedHead {
    pub fn tree_head(&self) -> TreeHead {
        TreeHead { tree_size: self.tree_size, timestamp_ms: self.timestamp_ms, root_hash: self.root_hash }
    }

    /// Whether the signature is the log key's over this head.
    pub fn signature_verifies(&self) -> bool {
        ledger::verify_tree_head(&self.public_key, &self.tree_head(), &self.signature)
    }

    /// Short description for messages: size and root.
    pub fn describe(&self) -> String {
        format!("size {} root {}", self.tree_size, STANDARD.encode(self.root_hash))
    }

    fn read(path: &Path) -> anyhow::Result<Option<Self>> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let head = serde_json::from_slice(&bytes)
                    .with_context(|| format!("{} is not a saved tree head", path.display()))?;
                Ok(Some(head))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes atomically: a temporary file renamed over `path`.
    fn write(&self, path: &Path) -> anyhow::Result<()> {
        write_atomically(path, &serde_json::to_vec_pretty(self)?)
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

// ---------------------------------------------------------------------------
// The log's HTTP API, as an untrusted source.

#[derive(Deserialize)]
struct EntryJson {
    leaf_index: Option<u64>,
    leaf_input: String,
    kind: String,
    ticket_id: String,
}

#[derive(Deserialize)]
struct EntriesJson {
    entries: Vec<EntryJson>,
}

#[derive(Deserialize)]
struct InclusionJson {
    audit_path: Vec<String>,
}

#[derive(Deserialize)]
struct ConsistencyJson {
    consistency: Vec<String>,
}

/// A client of one log server. Every error is a message, never a panic.
pub struct LogClient {
    base: String,
    http: reqwest::Client,
}

impl LogClient {
    pub fn new(server: &str) -> anyhow::Result<Self> {
        ticketing::install_crypto_provider();
        let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().context("cannot build HTTP client")?;
        Ok(Self { base: server.trim_end_matches('/').to_owned(), http })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let url = format!("{}{path}", self.base);
        let mut r = self.http.get(&url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
        let status = r.status();
        let mut body = Vec::new();
        while let Some(chunk) = r.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
            if body.len() + chunk.len() > RESPONSE_BYTES_MAX {
                return Err(format!("GET {url}: response larger than {RESPONSE_BYTES_MAX} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            return Err(format!("GET {url}: HTTP {status}: {text}"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: malformed response: {e}"))
    }

    /// The newest signed tree head, parsed (its signature not yet checked).
    pub async fn sth(&self) -> Result<SavedHead, String> {
        self.get("/api/v1/ledger/sth").await
    }

    async fn entries(&self, start: u64, end: u64) -> Result<Vec<EntryJson>, String> {
        Ok(self.get::<EntriesJson>(&format!("/api/v1/ledger/entries?start={start}&end={end}")).await?.entries)
    }

    async fn inclusion(&self, leaf_index: u64, tree_size: u64) -> Result<Vec<Hash>, String> {
        let path = format!("/api/v1/ledger/proof/inclusion?leaf_index={leaf_index}&tree_size={tree_size}");
        hashes("audit_path", &self.get::<InclusionJson>(&path).await?.audit_path)
    }

    /// The consistency proof from the tree of `first` leaves to `second`.
    pub async fn consistency(&self, first: u64, second: u64) -> Result<Vec<Hash>, String> {
        let path = format!("/api/v1/ledger/proof/consistency?first={first}&second={second}");
        hashes("consistency", &self.get::<ConsistencyJson>(&path).await?.consistency)
    }

    async fn history(&self, ticket: &str) -> Result<Vec<EntryJson>, String> {
        Ok(self.get::<EntriesJson>(&format!("/api/v1/tickets/{ticket}/history")).await?.entries)
    }
}

fn hashes(what: &str, list: &[String]) -> Result<Vec<Hash>, String> {
    if list.len() > ledger::PROOF_HASHES_MAX {
        return Err(format!("{what} has {} hashes, more than any tree needs", list.len()));
    }
    list.iter().enumerate().map(|(i, h)| decode_fixed(&format!("{what}[{i}]"), h)).collect()
}

fn kind_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Issue => "issue",
        EntryKind::Transfer => "transfer",
        EntryKind::Resale => "resale",
        EntryKind::CheckIn => "check_in",
        EntryKind::Refund => "refund",
        EntryKind::Revoke => "revoke",
    }
}

/// Checks one entry's own claims; returns its leaf input.
fn check_entry(e: &EntryJson) -> Result<Vec<u8>, String> {
    let input = STANDARD.decode(&e.leaf_input).map_err(|err| format!("leaf_input is not base64: {err}"))?;
    let entry = Entry::decode(&input).map_err(|err| format!("leaf_input does not decode: {err}"))?;
    let in_leaf = uuid::Uuid::from_bytes(entry.ticket.0);
    match uuid::Uuid::parse_str(&e.ticket_id) {
        Ok(claimed) if claimed == in_leaf => {}
        _ => return Err(format!("ticket_id {} but the leaf names ticket {in_leaf}", e.ticket_id)),
    }
    if e.kind != kind_name(entry.kind) {
        return Err(format!("kind {} but the leaf says {}", e.kind, kind_name(entry.kind)));
    }
    Ok(input)
}

// ---------------------------------------------------------------------------
// The report.

/// One verified property: `Ok(detail)` or `Err(what failed and why)`.
#[derive(Clone, Debug)]
pub struct Check {
    pub name: String,
    pub outcome: Result<String, String>,
}

/// Everything `verify` checked, in order.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub checks: Vec<Check>,
    /// The tree head verified against, when one was fetched.
    pub head: Option<SavedHead>,
}

impl Report {
    fn ok(&mut self, name: impl Into<String>, detail: impl Into<String>) {
        self.checks.push(Check { name: name.into(), outcome: Ok(detail.into()) });
    }

    fn fail(&mut self, name: impl Into<String>, why: impl Into<String>) {
        self.checks.push(Check { name: name.into(), outcome: Err(why.into()) });
    }

    /// Whether every check passed (and there was at least one).
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.outcome.is_ok())
    }

    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome.is_err())
    }

    /// Whether a failed check's name or reason contains `needle`.
    pub fn failed_with(&self, needle: &str) -> bool {
        self.failures().any(|c| c.name.contains(needle) || c.outcome.as_ref().err().is_some_and(|w| w.contains(needle)))
    }

    /// One line per check: `ok: name: detail` or `FAILED: name: why`.
    pub fn lines(&self) -> Vec<String> {
        self.checks
            .iter()
            .map(|c| match &c.outcome {
                Ok(detail) => format!("ok: {}: {detail}", c.name),
                Err(why) => format!("FAILED: {}: {why}", c.name),
            })
            .collect()
    }
}

fn summarize(problems: &[String]) -> String {
    let mut s = problems.iter().take(PROBLEMS_LISTED_MAX).cloned().collect::<Vec<_>>().join("; ");
    if problems.len() > PROBLEMS_LISTED_MAX {
        s.push_str(&format!("; and {} more", problems.len() - PROBLEMS_LISTED_MAX));
    }
    s
}

// ---------------------------------------------------------------------------
// verify

/// Audits the log at `server` (see the module docs). `state` is the file
/// holding the head of the last successful run; `tickets` are ticket ids whose
/// whole history is proven included.
pub async fn verify(server: &str, state: Option<&Path>, tickets: &[String]) -> Report {
    let mut report = Report::default();
    let client = match LogClient::new(server) {
        Ok(c) => c,
        Err(e) => {
            report.fail("connect", format!("{e:#}"));
            return report;
        }
    };

    // 1. The tree head and its signature.
    let head = match client.sth().await {
        Ok(h) => h,
        Err(e) => {
            report.fail("tree head", e);
            return report;
        }
    };
    report.head = Some(head.clone());
    if head.signature_verifies() {
        report.ok("tree head signature", format!("{} signed by {}", head.describe(), STANDARD.encode(head.public_key)));
    } else {
        report.fail("tree head signature", format!("the signature over {} does not verify", head.describe()));
    }

    // 2 and 3. Every leaf, and the root recomputed from them.
    let leaves = verify_entries(&client, &head, &mut report).await;
    if let Some(leaves) = &leaves {
        let hashes: Vec<Hash> = leaves.iter().map(|l| ledger::leaf_hash(l)).collect();
        let root = ledger::root_of(&hashes);
        if root == head.root_hash {
            report.ok("root", format!("the {} leaves hash to the signed root", leaves.len()));
        } else {
            report.fail(
                "root",
                format!(
                    "the {} leaves served hash to {}, not the signed root {}: leaves were changed, removed or reordered",
                    leaves.len(),
                    STANDARD.encode(root),
                    STANDARD.encode(head.root_hash)
                ),
            );
        }
    } else {
        report.fail("root", "not computed: the entries could not all be read (see above)");
    }

    // 4. Inclusion proofs of each ticket's history.
    for ticket in tickets {
        verify_ticket(&client, &head, ticket, leaves.as_deref(), &mut report).await;
    }

    // 5. Consistency with the saved head.
    if let Some(path) = state {
        verify_state(&client, &head, path, &mut report).await;
    }
    report
}

/// Downloads entries `0..tree_size`; `None` if they could not all be read.
async fn verify_entries(client: &LogClient, head: &SavedHead, report: &mut Report) -> Option<Vec<Vec<u8>>> {
    let size = head.tree_size;
    if size > ledger::TREE_SIZE_MAX {
        report.fail("entries", format!("tree size {size} is beyond any real log"));
        return None;
    }
    let mut leaves: Vec<Vec<u8>> = Vec::new();
    let mut problems = Vec::new();
    let mut next = 0u64;
    while next < size {
        let end = (next + ENTRIES_PER_REQUEST - 1).min(size - 1);
        let page = match client.entries(next, end).await {
            Ok(p) => p,
            Err(e) => {
                report.fail("entries", format!("cannot read entries {next}..={end} of {size}: {e}"));
                return None;
            }
        };
        if page.is_empty() || page.len() as u64 > end - next + 1 {
            report.fail("entries", format!("asked for entries {next}..={end}, got {} entries", page.len()));
            return None;
        }
        for e in page {
            if e.leaf_index != Some(next) {
                problems.push(format!("entry at position {next} claims leaf index {:?}", e.leaf_index));
            }
            match check_entry(&e) {
                Ok(input) => leaves.push(input),
                Err(why) => {
                    problems.push(format!("leaf {next}: {why}"));
                    // Still hash what was served, so the root check says whether it matches.
                    leaves.push(STANDARD.decode(&e.leaf_input).unwrap_or_default());
                }
            }
            next += 1;
        }
    }
    if problems.is_empty() {
        report.ok("entries", format!("all {size} entries read, each a canonical leaf matching its ticket and kind"));
    } else {
        report.fail("entries", summarize(&problems));
    }
    Some(leaves)
}

async fn verify_ticket(
    client: &LogClient,
    head: &SavedHead,
    ticket: &str,
    leaves: Option<&[Vec<u8>]>,
    report: &mut Report,
) {
    let name = format!("ticket {ticket}");
    let history = match client.history(ticket).await {
        Ok(h) => h,
        Err(e) => return report.fail(name, format!("cannot read its history: {e}")),
    };
    let mut problems = Vec::new();
    let (mut proven, mut pending) = (0, 0);
    for (i, e) in history.iter().enumerate() {
        let input = match check_entry(e) {
            Ok(input) => input,
            Err(why) => {
                problems.push(format!("history entry {i}: {why}"));
                continue;
            }
        };
        let asked = uuid::Uuid::parse_str(ticket).ok();
        if asked.is_none() || uuid::Uuid::parse_str(&e.ticket_id).ok() != asked {
            problems.push(format!("history entry {i} belongs to ticket {}", e.ticket_id));
        }
        let Some(index) = e.leaf_index.filter(|&i| i < head.tree_size) else {
            // Not sequenced yet, or sequenced after this tree head.
            pending += 1;
            continue;
        };
        if let Some(served) = leaves.and_then(|l| l.get(index as usize))
            && *served != input
        {
            problems.push(format!("history entry {i} differs from leaf {index} of the entries"));
        }
        match client.inclusion(index, head.tree_size).await {
            Ok(path) => {
                if ledger::verify_inclusion(&ledger::leaf_hash(&input), index, head.tree_size, &path, &head.root_hash) {
                    proven += 1;
                } else {
                    problems.push(format!("leaf {index} ({}): inclusion proof does not verify", e.kind));
                }
            }
            Err(why) => problems.push(format!("leaf {index}: no inclusion proof: {why}")),
        }
    }
    if history.is_empty() {
        problems.push("the server returned an empty history".into());
    }
    if problems.is_empty() {
        let pending = if pending > 0 { format!(", {pending} not yet in this tree head") } else { String::new() };
        report.ok(name, format!("{proven} entries proven included in the tree of size {}{pending}", head.tree_size));
    } else {
        report.fail(name, summarize(&problems));
    }
}

/// Why `new` is not an extension of `old`, or `None` if it is (with the proof
/// fetched from `client` when needed).
pub async fn consistency_problem(client: &LogClient, old: &SavedHead, new: &SavedHead) -> Option<String> {
    if old.public_key != new.public_key {
        return Some(format!(
            "the log key changed from {} to {}",
            STANDARD.encode(old.public_key),
            STANDARD.encode(new.public_key)
        ));
    }
    if new.tree_size < old.tree_size {
        return Some(format!("the log shrank from {} to {} leaves", old.tree_size, new.tree_size));
    }
    if new.tree_size == old.tree_size {
        return (new.root_hash != old.root_hash).then(|| {
            format!("two different roots for size {}: {} and {}", old.tree_size, old.describe(), new.describe())
        });
    }
    match client.consistency(old.tree_size, new.tree_size).await {
        Ok(proof) => {
            if ledger::verify_consistency(old.tree_size, new.tree_size, &old.root_hash, &new.root_hash, &proof) {
                None
            } else {
                Some(format!(
                    "the consistency proof from {} to {} does not verify: the log is not an extension of the saved one",
                    old.describe(),
                    new.describe()
                ))
            }
        }
        Err(e) => Some(format!("no consistency proof from {} to {}: {e}", old.tree_size, new.tree_size)),
    }
}

async fn verify_state(client: &LogClient, head: &SavedHead, path: &Path, report: &mut Report) {
    let name = format!("consistency with {}", path.display());
    let saved = match SavedHead::read(path) {
        Ok(s) => s,
        Err(e) => return report.fail(name, format!("{e:#}")),
    };
    match &saved {
        None => report.ok(name, format!("no saved head: trusting this one on first use ({})", head.describe())),
        Some(saved) => match consistency_problem(client, saved, head).await {
            None => report.ok(name, format!("{} extends the saved {}", head.describe(), saved.describe())),
            Some(why) => report.fail(name, why),
        },
    }
    let save = "state saved";
    if !report.passed() {
        return report.fail(save, format!("{} kept unchanged because checks failed", path.display()));
    }
    match head.write(path) {
        Ok(()) => report.ok(save, format!("{} now holds {}", path.display(), head.describe())),
        Err(e) => report.fail(save, format!("{e:#}")),
    }
}

// ---------------------------------------------------------------------------
// Witnesses

/// Where a witness keeps the tree heads it accepted. Implementations decide
/// the medium (files, a remote service); [`witness`] decides what to accept.
pub trait Witness {
    /// The newest head recorded, if any.
    fn latest(&self) -> anyhow::Result<Option<SavedHead>>;
    /// Records `head` as the newest (it has been checked to extend `latest`).
    fn record(&self, head: &SavedHead) -> anyhow::Result<()>;
    /// Keeps evidence of a refused head; by default nothing is kept.
    fn report_conflict(&self, _recorded: &SavedHead, _refused: &SavedHead, _why: &str) -> anyhow::Result<()> {
        Ok(())
    }
}

/// A witness that keeps heads as JSON files in a directory: `sth-<size>.json`
/// for every head recorded, `latest.json` for the newest, and
/// `conflict-<unix ms>.json` for each refused fork (both heads and why).
pub struct FileWitness {
    dir: PathBuf,
}

impl FileWitness {
    pub fn new(dir: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self { dir })
    }

    pub fn latest_path(&self) -> PathBuf {
        self.dir.join("latest.json")
    }
}

#[derive(Serialize)]
struct Conflict<'a> {
    recorded: &'a SavedHead,
    refused: &'a SavedHead,
    reason: &'a str,
}

impl Witness for FileWitness {
    fn latest(&self) -> anyhow::Result<Option<SavedHead>> {
        SavedHead::read(&self.latest_path())
    }

    fn record(&self, head: &SavedHead) -> anyhow::Result<()> {
        head.write(&self.dir.join(format!("sth-{}.json", head.tree_size)))?;
        head.write(&self.latest_path())
    }

    fn report_conflict(&self, recorded: &SavedHead, refused: &SavedHead, why: &str) -> anyhow::Result<()> {
        let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let bytes = serde_json::to_vec_pretty(&Conflict { recorded, refused, reason: why })?;
        write_atomically(&self.dir.join(format!("conflict-{ms}.json")), &bytes)
    }
}

/// What a witness run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WitnessOutcome {
    /// The first head of this log: recorded on trust.
    First(SavedHead),
    /// A new head proven to extend the recorded one: recorded.
    Extended { from: SavedHead, to: SavedHead },
    /// The same head as recorded (same size and root): nothing to do.
    Unchanged(SavedHead),
}

/// Fetches the head of the log at `server` and records it in `witness` if
/// it verifies and extends what the witness holds. A fork, a bad signature
/// or a different log key is an error, and the recorded head is kept.
pub async fn witness(server: &str, witness: &dyn Witness) -> anyhow::Result<WitnessOutcome> {
    let client = LogClient::new(server)?;
    let head = client.sth().await.map_err(anyhow::Error::msg)?;
    if !head.signature_verifies() {
        bail!("refused: the tree head's signature does not verify ({})", head.describe());
    }
    let Some(recorded) = witness.latest()? else {
        witness.record(&head)?;
        return Ok(WitnessOutcome::First(head));
    };
    if recorded.public_key != head.public_key {
        bail!(
            "refused: this witness holds heads of the log with key {}, the server signs with {} \
             (a changed key, or another log: use one store per log)",
            STANDARD.encode(recorded.public_key),
            STANDARD.encode(head.public_key)
        );
    }
    if let Some(why) = consistency_problem(&client, &recorded, &head).await {
        let kept = witness.report_conflict(&recorded, &head, &why);
        let kept = match kept {
            Ok(()) => String::new(),
            Err(e) => format!(" (and the evidence could not be kept: {e:#})"),
        };
        bail!("refused: forked log: {why}; keeping the recorded {}{kept}", recorded.describe());
    }
    if head.tree_size == recorded.tree_size {
        return Ok(WitnessOutcome::Unchanged(recorded));
    }
    witness.record(&head)?;
    Ok(WitnessOutcome::Extended { from: recorded, to: head })
}

/// Cross-checks what two witnesses were shown. Each may have seen a history
/// that is consistent in itself; a log that showed them different histories
/// is caught here: two signed heads of one size with different roots, or a
/// larger head that the log cannot prove extends the smaller one. Returns why
/// the log forked, or `None` when both heads belong to one history.
pub async fn compare_witnesses(server: &str, a: &dyn Witness, b: &dyn Witness) -> anyhow::Result<Option<String>> {
    let (Some(a), Some(b)) = (a.latest()?, b.latest()?) else {
        anyhow::bail!("both witnesses need a recorded tree head");
    };
    for head in [&a, &b] {
        if !head.signature_verifies() {
            anyhow::bail!("a recorded head ({}) is not signed by its log key", head.describe());
        }
    }
    let (older, newer) = if a.tree_size <= b.tree_size { (&a, &b) } else { (&b, &a) };
    let client = LogClient::new(server)?;
    Ok(consistency_problem(&client, older, newer).await)
}
