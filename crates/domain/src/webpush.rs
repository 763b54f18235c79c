//! Web push messages: the VAPID token that identifies this application to a
//! push service (RFC 8292, an ES256 JWT) and the end-to-end encryption of a
//! message for one browser subscription (RFC 8291 over RFC 8188
//! `aes128gcm`).
//!
//! Written here on the RustCrypto primitives (`p256`, `hkdf`, `aes-gcm`)
//! rather than taken from a crate: no maintained pure-Rust web-push crate
//! exists without OpenSSL, and the protocol glue is a few dozen lines. Pure
//! functions: the caller supplies the randomness (salt and ephemeral key),
//! which also makes the RFC's own test vector reproducible below.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// An uncompressed P-256 point: 0x04 | X | Y.
pub const P256_PUBLIC_KEY_LEN: usize = 65;
/// The subscription's authentication secret (RFC 8291 §3.2).
pub const AUTH_SECRET_LEN: usize = 16;
/// RFC 8188 salt.
pub const SALT_LEN: usize = 16;
/// The record size we announce. One record carries the whole message: push
/// services accept at most 4096 bytes of body, so messages stay below that.
pub const RECORD_SIZE: u32 = 4096;
/// Largest plaintext one message may carry: the 4096-byte body less the
/// header (86), the AEAD tag (16) and the delimiter (1) (RFC 8291 §4).
pub const PLAINTEXT_BYTES_MAX: usize = 3993;
/// Header: salt | record size (u32 BE) | key id length | key id.
const HEADER_LEN: usize = SALT_LEN + 4 + 1 + P256_PUBLIC_KEY_LEN;
const TAG_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebPushError {
    #[error("p256dh must be an uncompressed P-256 public key (65 bytes, base64url)")]
    BadPublicKey,
    #[error("auth must be {AUTH_SECRET_LEN} bytes, base64url")]
    BadAuthSecret,
    #[error("a VAPID private key must be a 32-byte P-256 scalar, base64url")]
    BadPrivateKey,
    #[error("push message of {0} bytes exceeds {PLAINTEXT_BYTES_MAX}")]
    TooLong(usize),
    #[error("the message could not be decrypted")]
    Undecryptable,
}

/// A browser's subscription keys, parsed and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionKeys {
    p256dh: [u8; P256_PUBLIC_KEY_LEN],
    auth: [u8; AUTH_SECRET_LEN],
}

impl SubscriptionKeys {
    /// From raw bytes; the point must be on the curve.
    pub fn new(p256dh: &[u8], auth: &[u8]) -> Result<Self, WebPushError> {
        let p256dh: [u8; P256_PUBLIC_KEY_LEN] = p256dh.try_into().map_err(|_| WebPushError::BadPublicKey)?;
        if p256dh[0] != 0x04 || PublicKey::from_sec1_bytes(&p256dh).is_err() {
            return Err(WebPushError::BadPublicKey);
        }
        let auth: [u8; AUTH_SECRET_LEN] = auth.try_into().map_err(|_| WebPushError::BadAuthSecret)?;
        Ok(Self { p256dh, auth })
    }

    /// From the base64url strings of `PushSubscription.toJSON().keys`
    /// (padding tolerated).
    pub fn from_base64url(p256dh: &str, auth: &str) -> Result<Self, WebPushError> {
        let p = decode_b64url(p256dh).ok_or(WebPushError::BadPublicKey)?;
        let a = decode_b64url(auth).ok_or(WebPushError::BadAuthSecret)?;
        Self::new(&p, &a)
    }

    pub fn p256dh(&self) -> &[u8] {
        &self.p256dh
    }

    pub fn auth(&self) -> &[u8] {
        &self.auth
    }
}

fn decode_b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim().trim_end_matches('=')).ok()
}

/// The application's VAPID key pair (P-256).
#[derive(Clone)]
pub struct VapidKey {
    signing: SigningKey,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey").field("public_key", &self.public_key_base64url()).finish_non_exhaustive()
    }
}

impl VapidKey {
    /// From the 32-byte private scalar.
    pub fn from_secret_bytes(secret: &[u8]) -> Result<Self, WebPushError> {
        let signing = SigningKey::from_slice(secret).map_err(|_| WebPushError::BadPrivateKey)?;
        Ok(Self { signing })
    }

    /// From the base64url of the 32-byte private scalar (how it is configured).
    pub fn from_base64url(secret: &str) -> Result<Self, WebPushError> {
        Self::from_secret_bytes(&decode_b64url(secret).ok_or(WebPushError::BadPrivateKey)?)
    }

    pub fn secret_bytes(&self) -> Vec<u8> {
        self.signing.to_bytes().to_vec()
    }

    /// The uncompressed public key: what browsers take as
    /// `applicationServerKey`.
    pub fn public_key(&self) -> Vec<u8> {
        self.signing.verifying_key().to_sec1_point(false).as_bytes().to_vec()
    }

    pub fn public_key_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.public_key())
    }

    /// The RFC 8292 `Authorization` header value for a push to `audience`
    /// (the endpoint's origin, `scheme://host[:port]`): `vapid t=JWT, k=KEY`.
    /// `expires_unix` must be within 24 hours of now (push services refuse
    /// longer); `subject` is a `mailto:` or `https:` contact.
    pub fn authorization(&self, audience: &str, subject: &str, expires_unix: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({"aud": audience, "exp": expires_unix, "sub": subject});
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        // ES256 (RFC 7518 §3.4): ECDSA P-256 over SHA-256, signature as r | s.
        let signature: Signature = self.signing.sign(signing_input.as_bytes());
        let jwt = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        format!("vapid t={jwt}, k={}", self.public_key_base64url())
    }
}

/// The per-message randomness: a fresh salt and a fresh ephemeral key pair.
pub struct MessageSecrets {
    pub salt: [u8; SALT_LEN],
    /// The ephemeral private scalar (32 bytes); must be a valid P-256 key.
    pub ephemeral_secret: [u8; 32],
}

/// Content-encryption key and nonce (RFC 8291 §3.4, RFC 8188 §2.2).
fn derive(ecdh_secret: &[u8], auth: &[u8], ua_public: &[u8], as_public: &[u8], salt: &[u8]) -> ([u8; 16], [u8; 12]) {
    let mut key_info = Vec::with_capacity(14 + 2 * P256_PUBLIC_KEY_LEN);
    key_info.extend_from_slice(b"WebPush: info\0");
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(as_public);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), ecdh_secret).expand(&key_info, &mut ikm).expect("32 bytes is a valid HKDF length");
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).expect("16 bytes is a valid HKDF length");
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce).expect("12 bytes is a valid HKDF length");
    (cek, nonce)
}

/// Encrypts `plaintext` for the subscription: the body of the POST to its
/// endpoint, sent with `Content-Encoding: aes128gcm`. One record, no padding.
pub fn encrypt(keys: &SubscriptionKeys, plaintext: &[u8], secrets: &MessageSecrets) -> Result<Vec<u8>, WebPushError> {
    if plaintext.len() > PLAINTEXT_BYTES_MAX {
        return Err(WebPushError::TooLong(plaintext.len()));
    }
    let ephemeral = SecretKey::from_slice(&secrets.ephemeral_secret).map_err(|_| WebPushError::BadPrivateKey)?;
    let as_public = ephemeral.public_key().to_sec1_bytes();
    let ua_public = PublicKey::from_sec1_bytes(&keys.p256dh).map_err(|_| WebPushError::BadPublicKey)?;
    let shared = ephemeral.diffie_hellman(&ua_public);
    let (cek, nonce) = derive(shared.raw_secret_bytes(), &keys.auth, &keys.p256dh, &as_public, &secrets.salt);
    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    record.push(0x02); // delimiter of the last (and only) record
    let cipher = Aes128Gcm::new_from_slice(&cek).expect("16-byte key");
    let ciphertext =
        cipher.encrypt(&Nonce::from(nonce), record.as_slice()).map_err(|_| WebPushError::TooLong(plaintext.len()))?;
    let mut body = Vec::with_capacity(HEADER_LEN + ciphertext.len());
    body.extend_from_slice(&secrets.salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(P256_PUBLIC_KEY_LEN as u8);
    body.extend_from_slice(&as_public);
    body.extend_from_slice(&ciphertext);
    Ok(body)
}

/// The browser's side of [`encrypt`]: decrypts a one-record `aes128gcm` body
/// with the subscription's private key. Used to check what is sent.
pub fn decrypt(ua_secret: &[u8], auth: &[u8], body: &[u8]) -> Result<Vec<u8>, WebPushError> {
    if body.len() < HEADER_LEN + TAG_LEN + 1 || usize::from(body[20]) != P256_PUBLIC_KEY_LEN {
        return Err(WebPushError::Undecryptable);
    }
    let ua = SecretKey::from_slice(ua_secret).map_err(|_| WebPushError::BadPrivateKey)?;
    let ua_public = ua.public_key().to_sec1_bytes();
    let (salt, as_public, ciphertext) = (&body[..SALT_LEN], &body[21..HEADER_LEN], &body[HEADER_LEN..]);
    let as_key = PublicKey::from_sec1_bytes(as_public).map_err(|_| WebPushError::Undecryptable)?;
    let shared = ua.diffie_hellman(&as_key);
    let (cek, nonce) = derive(shared.raw_secret_bytes(), auth, &ua_public, as_public, salt);
    let cipher = Aes128Gcm::new_from_slice(&cek).expect("16-byte key");
    let mut record = cipher.decrypt(&Nonce::from(nonce), ciphertext).map_err(|_| WebPushError::Undecryptable)?;
    // Strip padding back to the delimiter; 0x02 marks the last record.
    while record.last() == Some(&0) {
        record.pop();
    }
    match record.pop() {
        Some(0x02) => Ok(record),
        _ => Err(WebPushError::Undecryptable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> Vec<u8> {
        decode_b64url(s).unwrap()
    }

    // RFC 8291 Appendix A.
    const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
    const UA_PUBLIC: &str = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
    const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
    const PLAINTEXT: &str = "When I grow up, I want to be a watermelon";
    const BODY: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

    #[test]
    fn reproduces_the_rfc_8291_example() {
        let keys = SubscriptionKeys::from_base64url(UA_PUBLIC, AUTH).unwrap();
        let secrets = MessageSecrets {
            salt: b64(SALT).try_into().unwrap(),
            ephemeral_secret: b64(AS_PRIVATE).try_into().unwrap(),
        };
        let body = encrypt(&keys, PLAINTEXT.as_bytes(), &secrets).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.encode(&body), BODY);
        assert_eq!(decrypt(&b64(UA_PRIVATE), &b64(AUTH), &body).unwrap(), PLAINTEXT.as_bytes());
    }

    #[test]
    fn tampering_and_bad_keys_are_refused() {
        let mut body = b64(BODY);
        let last = body.len() - 1;
        body[last] ^= 1;
        assert_eq!(decrypt(&b64(UA_PRIVATE), &b64(AUTH), &body), Err(WebPushError::Undecryptable));
        assert_eq!(SubscriptionKeys::from_base64url("AAAA", AUTH), Err(WebPushError::BadPublicKey));
        // 65 bytes, right prefix, not on the curve.
        let mut off_curve = b64(UA_PUBLIC);
        off_curve[64] ^= 1;
        assert_eq!(SubscriptionKeys::new(&off_curve, &b64(AUTH)), Err(WebPushError::BadPublicKey));
        assert_eq!(SubscriptionKeys::from_base64url(UA_PUBLIC, "AAAA"), Err(WebPushError::BadAuthSecret));
        let keys = SubscriptionKeys::from_base64url(UA_PUBLIC, AUTH).unwrap();
        let secrets = MessageSecrets { salt: [0; 16], ephemeral_secret: b64(AS_PRIVATE).try_into().unwrap() };
        assert!(encrypt(&keys, &vec![b'x'; PLAINTEXT_BYTES_MAX + 1], &secrets).is_err());
        let full = encrypt(&keys, &vec![b'x'; PLAINTEXT_BYTES_MAX], &secrets).unwrap();
        assert_eq!(full.len(), RECORD_SIZE as usize);
    }

    #[test]
    fn vapid_token_verifies_with_the_public_key() {
        use p256::ecdsa::VerifyingKey;
        use p256::ecdsa::signature::Verifier;
        let key = VapidKey::from_base64url(AS_PRIVATE).unwrap();
        let header = key.authorization("https://push.example.net", "mailto:ops@example.org", 1_900_000_000);
        let (t, k) = header.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
        assert_eq!(k, key.public_key_base64url());
        let (signing_input, signature) = t.rsplit_once('.').unwrap();
        let verifying = VerifyingKey::from_sec1_bytes(&b64(k)).unwrap();
        let signature = Signature::from_slice(&b64(signature)).unwrap();
        verifying.verify(signing_input.as_bytes(), &signature).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&b64(signing_input.split_once('.').unwrap().1)).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net");
        assert_eq!(claims["exp"], 1_900_000_000);
        assert_eq!(claims["sub"], "mailto:ops@example.org");
        assert_eq!(VapidKey::from_secret_bytes(&key.secret_bytes()).unwrap().public_key(), key.public_key());
    }
}
