// Rotating codes ("RT2."), built exactly as crates/domain/src/rotating.rs
// builds them: "RT2." + base64url(no padding) of the static barcode's 101
// bytes | step (u64, big-endian) | the first 16 bytes of
// HMAC-SHA256(key = the ticket's rotating secret, "rt2" | step | ticket id),
// where step = floor(unix seconds / step seconds). WebCrypto only: works
// offline, in the holder's app and at the gate.

export const STATIC_BYTES = 101;
export const ROTATING_BYTES = STATIC_BYTES + 8 + 16;
const MAC_BYTES = 16;
const MAC_DOMAIN = new TextEncoder().encode('rt2');

export function b64urlBytes(s) {
  const pad = s.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(s.length / 4) * 4, '=');
  return Uint8Array.from(atob(pad), (c) => c.charCodeAt(0));
}

export function b64url(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export const stepAt = (ms, stepSecs) => Math.floor(ms / 1000 / stepSecs);

/** The ticket's secret (base64url) as an HMAC-SHA256 key. */
export function hmacKey(secret) {
  return crypto.subtle.importKey('raw', b64urlBytes(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

/** The 16-byte MAC of `step` for the ticket whose 16 id bytes are `ticketId`. */
export async function rotationMac(key, ticketId, step) {
  const msg = new Uint8Array(MAC_DOMAIN.length + 8 + 16);
  msg.set(MAC_DOMAIN);
  new DataView(msg.buffer).setBigUint64(MAC_DOMAIN.length, BigInt(step));
  msg.set(ticketId, MAC_DOMAIN.length + 8);
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, msg)).slice(0, MAC_BYTES);
}

/** The code to show during `step` for the static barcode "RT1.…". */
export async function rotatingCode(staticBarcode, key, step) {
  const signed = b64urlBytes(staticBarcode.slice(4));
  if (!staticBarcode.startsWith('RT1.') || signed.length !== STATIC_BYTES) throw new Error('not a ticket barcode');
  const bytes = new Uint8Array(ROTATING_BYTES);
  bytes.set(signed);
  new DataView(bytes.buffer).setBigUint64(STATIC_BYTES, BigInt(step));
  bytes.set(await rotationMac(key, signed.slice(1, 17), step), STATIC_BYTES + 8);
  return 'RT2.' + b64url(bytes);
}

/** Splits decoded RT2 bytes into the static barcode's bytes, the step and the MAC. */
export function splitRotating(bytes) {
  if (bytes.length !== ROTATING_BYTES) return null;
  const step = new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(STATIC_BYTES);
  if (step > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return { signed: bytes.slice(0, STATIC_BYTES), step: Number(step), mac: bytes.slice(STATIC_BYTES + 8) };
}

/** Compares two MACs without stopping at the first difference. */
export function macEqual(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
