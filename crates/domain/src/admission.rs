//! The virtual waiting room's two pieces of cryptography: the admission token
//! a buyer needs to hold seats while the room is on, and the proof-of-work
//! challenge that makes joining the queue cost a little CPU, so that one
//! machine cannot cheaply stand in line a thousand times.
//!
//! Both are MACed with the event's waiting-room secret (HMAC-SHA256), which
//! lives in the database, so any node can issue and check them:
//!
//! ```text
//! admission: "RTA1." + b64url(entry 16 | event 16 | user 16 | expires_ms i64 BE) + "." + b64url(mac)
//! challenge: "RTP2." + b64url(event 16 | user 16 | issued_ms i64 BE | difficulty u8 | nonce 16) + "." + b64url(mac)
//! ```
//!
//! A token is *single use* because the hold that spends it marks its queue
//! entry used in the same transaction; the MAC only proves who it was issued
//! to and until when. A challenge names the account it was issued to: one
//! solved challenge lets one account join, not a thousand. Like the rest of the domain this never reads the clock
//! nor draws randomness: `now` and the nonce are passed in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::Timestamp;
use crate::ids::{EventId, QueueEntryId, UserId};

/// How long an admitted buyer has to place a hold before the turn passes to
/// the next in line. Long enough to pick seats on a busy map.
pub const ADMISSION_TOKEN_TTL_SECS: i64 = 600;
/// How long a proof-of-work challenge may be solved and used.
pub const CHALLENGE_TTL_SECS: i64 = 300;
/// Leading zero bits a solution's hash must have by default: about 65,000
/// SHA-256 evaluations, a second or two in a phone's browser, and a real cost
/// for anyone joining thousands of times.
pub const POW_DIFFICULTY_DEFAULT: u8 = 16;
/// Organizers may raise the cost up to this many bits (about 16 million hashes).
pub const POW_DIFFICULTY_MAX: u8 = 24;
/// Longest solution string accepted.
pub const POW_SOLUTION_LEN_MAX: usize = 32;

const ADMISSION_PREFIX: &str = "RTA1.";
const CHALLENGE_PREFIX: &str = "RTP2.";
const ADMISSION_PAYLOAD_LEN: usize = 16 * 3 + 8;
const CHALLENGE_PAYLOAD_LEN: usize = 16 + 16 + 8 + 1 + 16;
/// Longest token or challenge string looked at: anything longer is refused
/// before decoding.
pub const ADMISSION_TOKEN_LEN_MAX: usize = 160;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionClaims {
    pub entry: QueueEntryId,
    pub event: EventId,
    pub user: UserId,
    pub expires_at: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    #[error("the admission token is malformed")]
    Malformed,
    #[error("the admission token was not issued by this waiting room")]
    BadSignature,
    #[error("the admission token is for another event")]
    WrongEvent,
    #[error("the admission token was issued to another account")]
    WrongUser,
    #[error("the admission token has expired; join the waiting room again")]
    Expired,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    #[error("the challenge is malformed")]
    Malformed,
    #[error("the challenge was not issued by this waiting room")]
    BadSignature,
    #[error("the challenge is for another event")]
    WrongEvent,
    #[error("the challenge was issued to another account; ask for your own")]
    WrongUser,
    #[error("the challenge has expired; ask for a new one")]
    Expired,
    #[error("the solution does not solve the challenge")]
    Unsolved,
}

fn mac(secret: &[u8], prefix: &str, payload: &[u8]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(prefix.as_bytes());
    m.update(payload);
    m.finalize().into_bytes().into()
}

fn verify_mac(secret: &[u8], prefix: &str, payload: &[u8], tag: &[u8]) -> bool {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(prefix.as_bytes());
    m.update(payload);
    // Constant time: a timing oracle must not reveal how much of a forged tag is right.
    m.verify_slice(tag).is_ok()
}

/// Splits `PREFIX<payload>.<tag>` and decodes both halves.
fn split<'a>(token: &'a str, prefix: &str, payload_len: usize) -> Option<(Vec<u8>, Vec<u8>)> {
    if token.len() > ADMISSION_TOKEN_LEN_MAX {
        return None;
    }
    let rest: &'a str = token.strip_prefix(prefix)?;
    let (payload, tag) = rest.split_once('.')?;
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    (payload.len() == payload_len && tag.len() == 32).then_some((payload, tag))
}

fn uuid_at(bytes: &[u8], at: usize) -> uuid::Uuid {
    uuid::Uuid::from_slice(&bytes[at..at + 16]).expect("16 bytes")
}

fn i64_at(bytes: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn from_ms(ms: i64) -> Option<Timestamp> {
    chrono::DateTime::from_timestamp_millis(ms)
}

/// The admission token for a queue entry whose turn has come.
pub fn sign_admission(secret: &[u8], claims: &AdmissionClaims) -> String {
    let mut payload = Vec::with_capacity(ADMISSION_PAYLOAD_LEN);
    payload.extend_from_slice(claims.entry.as_uuid().as_bytes());
    payload.extend_from_slice(claims.event.as_uuid().as_bytes());
    payload.extend_from_slice(claims.user.as_uuid().as_bytes());
    payload.extend_from_slice(&claims.expires_at.timestamp_millis().to_be_bytes());
    let tag = mac(secret, ADMISSION_PREFIX, &payload);
    format!("{ADMISSION_PREFIX}{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(tag))
}

/// Checks a token for `event` presented by `user` at `now`. Whether it was
/// already spent is the store's to say.
pub fn verify_admission(
    secret: &[u8],
    token: &str,
    event: EventId,
    user: UserId,
    now: Timestamp,
) -> Result<AdmissionClaims, AdmissionError> {
    let (payload, tag) = split(token, ADMISSION_PREFIX, ADMISSION_PAYLOAD_LEN).ok_or(AdmissionError::Malformed)?;
    let claims = AdmissionClaims {
        entry: QueueEntryId::from_uuid(uuid_at(&payload, 0)),
        event: EventId::from_uuid(uuid_at(&payload, 16)),
        user: UserId::from_uuid(uuid_at(&payload, 32)),
        expires_at: from_ms(i64_at(&payload, 48)).ok_or(AdmissionError::Malformed)?,
    };
    // The event is checked before the MAC: another event's token was made
    // with another secret, and saying so is more useful than "bad signature".
    if claims.event != event {
        return Err(AdmissionError::WrongEvent);
    }
    if !verify_mac(secret, ADMISSION_PREFIX, &payload, &tag) {
        return Err(AdmissionError::BadSignature);
    }
    if claims.user != user {
        return Err(AdmissionError::WrongUser);
    }
    if now >= claims.expires_at {
        return Err(AdmissionError::Expired);
    }
    Ok(claims)
}

/// A proof-of-work challenge for `user` to join `event`'s queue.
pub fn issue_challenge(
    secret: &[u8],
    event: EventId,
    user: UserId,
    now: Timestamp,
    difficulty: u8,
    nonce: [u8; 16],
) -> String {
    let mut payload = Vec::with_capacity(CHALLENGE_PAYLOAD_LEN);
    payload.extend_from_slice(event.as_uuid().as_bytes());
    payload.extend_from_slice(user.as_uuid().as_bytes());
    payload.extend_from_slice(&now.timestamp_millis().to_be_bytes());
    payload.push(difficulty.min(POW_DIFFICULTY_MAX));
    payload.extend_from_slice(&nonce);
    let tag = mac(secret, CHALLENGE_PREFIX, &payload);
    format!("{CHALLENGE_PREFIX}{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(tag))
}

/// Leading zero bits of SHA-256(`challenge` ":" `solution`).
pub fn work_bits(challenge: &str, solution: &str) -> u32 {
    let digest = Sha256::new().chain_update(challenge.as_bytes()).chain_update(b":").chain_update(solution).finalize();
    let mut bits = 0;
    for byte in digest {
        if byte == 0 {
            bits += 8;
        } else {
            bits += byte.leading_zeros();
            break;
        }
    }
    bits
}

/// Checks that `solution` solves a challenge this room issued to `user` for
/// `event` within the last [`CHALLENGE_TTL_SECS`].
pub fn verify_solution(
    secret: &[u8],
    challenge: &str,
    solution: &str,
    event: EventId,
    user: UserId,
    now: Timestamp,
) -> Result<(), ChallengeError> {
    let (payload, tag) = split(challenge, CHALLENGE_PREFIX, CHALLENGE_PAYLOAD_LEN).ok_or(ChallengeError::Malformed)?;
    if EventId::from_uuid(uuid_at(&payload, 0)) != event {
        return Err(ChallengeError::WrongEvent);
    }
    if !verify_mac(secret, CHALLENGE_PREFIX, &payload, &tag) {
        return Err(ChallengeError::BadSignature);
    }
    if UserId::from_uuid(uuid_at(&payload, 16)) != user {
        return Err(ChallengeError::WrongUser);
    }
    let issued = from_ms(i64_at(&payload, 32)).ok_or(ChallengeError::Malformed)?;
    if now >= issued + chrono::Duration::seconds(CHALLENGE_TTL_SECS) {
        return Err(ChallengeError::Expired);
    }
    let difficulty = payload[40];
    if solution.is_empty() || solution.len() > POW_SOLUTION_LEN_MAX || !solution.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ChallengeError::Unsolved);
    }
    if work_bits(challenge, solution) < u32::from(difficulty) {
        return Err(ChallengeError::Unsolved);
    }
    Ok(())
}

/// Finds a solution by counting up: what a client does (the web app does
/// the same in JavaScript). Used by tests and the load generator.
pub fn solve(challenge: &str, difficulty: u8) -> String {
    (0u64..).map(|n| n.to_string()).find(|s| work_bits(challenge, s) >= u32::from(difficulty)).expect("found")
}

/// Seconds until a buyer `ahead` places back is let in, at the rate the room
/// admitted buyers over the last minute; `None` before anyone was admitted.
pub fn estimated_wait_secs(ahead: u64, admitted_last_minute: u64) -> Option<u64> {
    (admitted_last_minute > 0).then(|| (ahead * 60).div_ceil(admitted_last_minute))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    const SECRET: &[u8] = b"waiting-room-secret-32-bytes-abc";

    fn now() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap()
    }

    fn claims() -> AdmissionClaims {
        AdmissionClaims {
            entry: QueueEntryId::new(),
            event: EventId::new(),
            user: UserId::new(),
            expires_at: now() + Duration::seconds(ADMISSION_TOKEN_TTL_SECS),
        }
    }

    #[test]
    fn an_admission_token_verifies_for_its_event_user_and_time_only() {
        let c = claims();
        let token = sign_admission(SECRET, &c);
        assert_eq!(verify_admission(SECRET, &token, c.event, c.user, now()), Ok(c));
        assert_eq!(verify_admission(SECRET, &token, EventId::new(), c.user, now()), Err(AdmissionError::WrongEvent));
        assert_eq!(verify_admission(SECRET, &token, c.event, UserId::new(), now()), Err(AdmissionError::WrongUser));
        assert_eq!(verify_admission(SECRET, &token, c.event, c.user, c.expires_at), Err(AdmissionError::Expired));
        assert_eq!(
            verify_admission(b"another secret", &token, c.event, c.user, now()),
            Err(AdmissionError::BadSignature)
        );
    }

    #[test]
    fn a_tampered_or_garbled_token_is_refused() {
        let c = claims();
        let token = sign_admission(SECRET, &c);
        // Push the expiry a day later: the MAC no longer matches.
        let later = AdmissionClaims { expires_at: c.expires_at + Duration::days(1), ..c };
        let forged_payload = sign_admission(b"x", &later);
        let (head, _) = forged_payload.rsplit_once('.').unwrap();
        let (_, tag) = token.rsplit_once('.').unwrap();
        let forged = format!("{head}.{tag}");
        assert_eq!(verify_admission(SECRET, &forged, c.event, c.user, now()), Err(AdmissionError::BadSignature));
        for bad in ["", "RTA1.", "RTA1.x.y", "RTP1.abc.def", &"RTA1.".repeat(100), &token[..token.len() - 2]] {
            assert_eq!(verify_admission(SECRET, bad, c.event, c.user, now()), Err(AdmissionError::Malformed), "{bad}");
        }
    }

    #[test]
    fn a_challenge_needs_real_work_and_expires() {
        let (event, user) = (EventId::new(), UserId::new());
        let challenge = issue_challenge(SECRET, event, user, now(), 8, [7; 16]);
        let solution = solve(&challenge, 8);
        assert!(work_bits(&challenge, &solution) >= 8);
        assert_eq!(verify_solution(SECRET, &challenge, &solution, event, user, now()), Ok(()));
        // Some string that does not have 8 zero bits.
        let wrong = (0u64..).map(|n| n.to_string()).find(|s| work_bits(&challenge, s) < 8).unwrap();
        assert_eq!(verify_solution(SECRET, &challenge, &wrong, event, user, now()), Err(ChallengeError::Unsolved));
        assert_eq!(
            verify_solution(SECRET, &challenge, &solution, EventId::new(), user, now()),
            Err(ChallengeError::WrongEvent)
        );
        let late = now() + Duration::seconds(CHALLENGE_TTL_SECS);
        assert_eq!(verify_solution(SECRET, &challenge, &solution, event, user, late), Err(ChallengeError::Expired));
        assert_eq!(
            verify_solution(b"other", &challenge, &solution, event, user, now()),
            Err(ChallengeError::BadSignature)
        );
        assert_eq!(verify_solution(SECRET, "nonsense", &solution, event, user, now()), Err(ChallengeError::Malformed));
        // Another account cannot use it, solved or not.
        assert_eq!(
            verify_solution(SECRET, &challenge, &solution, event, UserId::new(), now()),
            Err(ChallengeError::WrongUser)
        );
    }

    #[test]
    fn a_client_cannot_lower_the_difficulty() {
        let (event, user) = (EventId::new(), UserId::new());
        let challenge = issue_challenge(SECRET, event, user, now(), 12, [1; 16]);
        // Rewrite the difficulty byte to 0: the MAC breaks.
        let (payload, tag) = split(&challenge, CHALLENGE_PREFIX, CHALLENGE_PAYLOAD_LEN).unwrap();
        let mut easier = payload.clone();
        easier[40] = 0;
        let forged = format!("{CHALLENGE_PREFIX}{}.{}", URL_SAFE_NO_PAD.encode(&easier), URL_SAFE_NO_PAD.encode(&tag));
        assert_eq!(verify_solution(SECRET, &forged, "0", event, user, now()), Err(ChallengeError::BadSignature));
    }

    #[test]
    fn wait_estimate_follows_the_admission_rate() {
        assert_eq!(estimated_wait_secs(100, 0), None);
        assert_eq!(estimated_wait_secs(100, 60), Some(100));
        assert_eq!(estimated_wait_secs(1, 120), Some(1));
        assert_eq!(estimated_wait_secs(0, 120), Some(0));
    }
}
