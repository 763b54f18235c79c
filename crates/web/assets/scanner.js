// The gate scanner. Online, each scan asks the server (a ticket is admitted
// at most once, whichever gate scans it). Offline, the page verifies the
// barcode's Ed25519 signature with the event's public key, checks the
// downloaded list of revoked and checked-in tickets and this device's own
// scans, admits or rejects at once, and queues the scan; the queue syncs when
// the network is back, and the server reports tickets admitted at two
// offline gates as conflicts.
//
// Rotating codes (RT2., see rotating.js) are checked offline too: the
// embedded barcode's signature, then the MAC with the ticket's rotating
// secret from the manifest, then the code's age against this device's clock.
// When the manifest says the event rotates, static RT1 barcodes are refused.
//
// A typed entry code (twelve characters, see domain::barcode::entry_code)
// stands for its ticket's current barcode. The manifest carries only a hash
// of each code (SHA-256 of "event id:code"), so the gate hashes what is typed
// and looks that up: the ticket list on a gate is no list of codes.
import { api, ApiError, clockTime, readIsland } from './api.js';
import { b64urlBytes, hmacKey, macEqual, rotationMac, splitRotating } from './rotating.js';

const data = readIsland('gate-data');
const eventId = data?.event_id;
const form = document.getElementById('scan-form');
const input = document.getElementById('barcode');
const resultBox = document.getElementById('scan-result');
const gateStatus = document.getElementById('gate-status');
const offlineSummary = document.getElementById('offline-summary');
const queueSummary = document.getElementById('queue-summary');
const conflictsList = document.getElementById('conflicts');
const syncButton = document.getElementById('sync-now');

// How often the ticket list is refreshed and the queue synced while online.
const MANIFEST_REFRESH_MS = 60_000;
const SYNC_INTERVAL_MS = 10_000;
// The same code seen by the camera again within this time is one scan.
const CAMERA_REPEAT_MS = 3000;
const SIGNED_PREFIX = new TextEncoder().encode('robust-ticketing/ticket-barcode/v1');
const BARCODE_BYTES = 101;
const SIGNED_BYTES = 37;

const key = (name) => `rt-gate-${name}-${eventId}`;
const load = (name, fallback) => { try { return JSON.parse(localStorage.getItem(key(name))) ?? fallback; } catch { return fallback; } };
const save = (name, value) => { try { localStorage.setItem(key(name), JSON.stringify(value)); } catch (e) { console.warn('storage full', e); } };

let deviceId = localStorage.getItem('rt-gate-device');
if (!deviceId) { deviceId = crypto.randomUUID(); localStorage.setItem('rt-gate-device', deviceId); }

// {public_key, event_id, barcodes, rotation_step_secs, rotation_max_age_steps,
//  tickets: {id: [serial, status, checked, rotating_secret?]},
//  entry_codes: {hash of code: ticket id, or null when two tickets share it}, generated_at}
let manifest = load('manifest', null);
let publicKey = null;
const admittedHere = new Set(load('admitted', []));
let queue = load('queue', []);
let manifestSupported = true;

function show(admitted, heading, reason) {
  resultBox.classList.remove('idle', 'admitted', 'rejected');
  // Restart the colour change even when two results in a row are the same.
  void resultBox.offsetWidth;
  resultBox.classList.add(admitted ? 'admitted' : 'rejected');
  resultBox.replaceChildren(
    Object.assign(document.createElement('span'), { className: 'scan-icon', ariaHidden: 'true', textContent: admitted ? '✓' : '✕' }),
    Object.assign(document.createElement('strong'), { className: 'scan-heading', textContent: heading }),
    Object.assign(document.createElement('span'), { className: 'scan-reason', textContent: reason }),
  );
  resultBox.dataset.result = admitted ? 'admitted' : 'rejected';
  if (navigator.vibrate) navigator.vibrate(admitted ? 80 : [200, 80, 200]);
}

const REASONS = {
  already_checked_in: ['Already checked in', 'This ticket was admitted before. Do not let it in again.'],
  invalid: ['Invalid ticket', 'The code is unreadable, forged or altered.'],
  wrong_event: ['Wrong event', 'This ticket is for a different event.'],
  revoked: ['Revoked', 'This ticket was refunded, cancelled or re-issued. It does not admit.'],
};
// Why a code was refused, beyond "invalid" (the server's `reason`).
const REFUSALS = {
  code_stale: 'This code is older than a minute. Ask the holder to show the live code in the app.',
  code_in_future: "This code is from the future: the holder's phone or this gate has the wrong time.",
  code_not_for_ticket: 'The live code was not made for this ticket.',
  live_code_required: 'This event needs the live code from the app; screenshots, printouts and typed codes are not accepted.',
  unknown_entry_code: 'No ticket of this event has this code. Check it and type it again.',
  ambiguous_entry_code: 'Two tickets share this code. Scan the QR code instead.',
};
// Crockford's base32, as in domain::barcode.
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ENTRY_CODE_LEN = 12;

// What staff typed as a canonical entry code, or null when it is not one:
// case, spaces and dashes do not matter; O reads as 0, I and L as 1.
function parseEntryCode(typed) {
  if (typed.length > 4 * ENTRY_CODE_LEN) return null;
  let code = '';
  for (let c of typed.replace(/[ \t-]/g, '').toUpperCase()) {
    if (c === 'O') c = '0';
    else if (c === 'I' || c === 'L') c = '1';
    if (!CROCKFORD.includes(c)) return null;
    code += c;
  }
  return code.length === ENTRY_CODE_LEN ? code : null;
}
// Steps a code may be ahead of this device's clock (ROTATION_MAX_AHEAD_STEPS).
const ROTATION_MAX_AHEAD_STEPS = 1;

const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
const uuid = (b) => { const h = hex(b); return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`; };

async function importKey() {
  if (!manifest) return null;
  if (!publicKey) publicKey = await crypto.subtle.importKey('raw', b64urlBytes(manifest.public_key), { name: 'Ed25519' }, false, ['verify']);
  return publicKey;
}

// Checks a rotating code's MAC and age; returns a refusal reason or null.
async function checkRotation(secret, ticketIdBytes, { step, mac }) {
  const expected = await rotationMac(await hmacKey(secret), ticketIdBytes, step);
  if (!macEqual(expected, mac)) return 'code_not_for_ticket';
  const current = Math.floor(Date.now() / 1000 / manifest.rotation_step_secs);
  if (step > current + ROTATION_MAX_AHEAD_STEPS) return 'code_in_future';
  if (current - step > manifest.rotation_max_age_steps) return 'code_stale';
  return null;
}

// A ticket's state from the manifest and this device's own scans.
function stateOf(ticketId, known) {
  if (known?.[1] === 'revoked') return ['revoked', ticketId];
  if (known?.[2] || admittedHere.has(ticketId)) return ['already_checked_in', ticketId];
  return ['admitted', ticketId];
}

// Offline decision; returns [result, ticketId, reason?].
async function verifyLocally(code) {
  const entry = parseEntryCode(code);
  if (entry) {
    if (manifest.barcodes === 'rotating') return ['invalid', null, 'live_code_required'];
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${manifest.event_id}:${entry}`));
    const ticketId = manifest.entry_codes?.[hex(new Uint8Array(digest))];
    if (ticketId === undefined) {
      // A code from before the ticket was passed on: re-issued, as its old QR code is.
      if (manifest.retired_entry_codes?.includes(hex(new Uint8Array(digest)))) return ['revoked', null];
      return ['invalid', null, 'unknown_entry_code'];
    }
    if (ticketId === null) return ['invalid', null, 'ambiguous_entry_code'];
    return stateOf(ticketId, manifest.tickets[ticketId]);
  }
  const rotatingCode = code.startsWith('RT2.');
  if (!rotatingCode && !code.startsWith('RT1.')) return ['invalid', null];
  let bytes;
  try { bytes = b64urlBytes(code.slice(4)); } catch { return ['invalid', null]; }
  let rotation = null;
  if (rotatingCode) {
    rotation = splitRotating(bytes);
    if (!rotation) return ['invalid', null];
    bytes = rotation.signed;
  }
  if (bytes.length !== BARCODE_BYTES || bytes[0] !== 1) return ['invalid', null];
  const ticketId = uuid(bytes.slice(1, 17));
  const event = uuid(bytes.slice(17, 33));
  const serial = new DataView(bytes.buffer).getUint32(33);
  const signed = new Uint8Array(SIGNED_PREFIX.length + SIGNED_BYTES);
  signed.set(SIGNED_PREFIX); signed.set(bytes.slice(0, SIGNED_BYTES), SIGNED_PREFIX.length);
  if (event !== manifest.event_id) return ['wrong_event', ticketId];
  const ok = await crypto.subtle.verify({ name: 'Ed25519' }, await importKey(), bytes.slice(SIGNED_BYTES), signed);
  if (!ok) return ['invalid', ticketId];
  const known = manifest.tickets[ticketId];
  const rotates = manifest.barcodes === 'rotating';
  if (rotation) {
    const secret = known?.[3];
    if (secret) {
      const why = await checkRotation(secret, bytes.slice(1, 17), rotation);
      if (why) return ['invalid', ticketId, why];
    } else if (rotates) {
      // A ticket sold after the list was downloaded: no secret to check with.
      return ['invalid', ticketId];
    }
  } else if (rotates) {
    return ['invalid', ticketId, 'live_code_required'];
  }
  if (known && known[0] !== serial) return ['revoked', ticketId];
  return stateOf(ticketId, known);
}

async function scanOffline(code) {
  if (!manifest) {
    show(false, 'Cannot check', 'No network, and this device has not downloaded the ticket list yet. Call a supervisor.');
    return;
  }
  const [result, ticketId, reason] = await verifyLocally(code);
  if (result === 'admitted') {
    // Only admissions are synced: the server takes every synced scan as
    // someone let in, so a refused one would check its ticket in.
    queue.push({ barcode: code, scanned_at: new Date().toISOString() });
    save('queue', queue);
    admittedHere.add(ticketId); save('admitted', [...admittedHere]);
    show(true, 'Admitted', 'Valid ticket (checked on this device, offline). Let them in.');
  } else {
    const [h, r] = REASONS[result];
    show(false, h, REFUSALS[reason] ?? r);
  }
  renderQueue();
}

async function scan(raw) {
  const code = raw.trim();
  if (!code) return;
  if (!navigator.onLine) return scanOffline(code);
  try {
    const r = await api(`/events/${eventId}/checkins`, { method: 'POST', body: { barcode: code } });
    admittedHere.add(r.ticket_id); save('admitted', [...admittedHere]);
    show(true, 'Admitted', r.place ? `${r.place} · ${r.ticket_type_name}. Let them in.` : 'Valid ticket. Let them in.');
  } catch (e) {
    if (e instanceof ApiError) {
      const result = e.problem?.result;
      if (result && REASONS[result]) {
        const [h, generic] = REASONS[result];
        const why = REFUSALS[e.problem?.reason] ?? generic;
        const at = e.problem.checked_in_at ? clockTime(e.problem.checked_in_at) : null;
        show(false, h, at ? `First admitted at ${at}. Do not let it in again.` : why);
      } else {
        show(false, 'Not checked', e.problem?.detail || 'The server refused the scan.');
      }
    } else {
      setOnline(false);
      await scanOffline(code);
    }
  }
}

// The bundled QR decoder, at this build's address (the one the service
// worker keeps), and the longest side a camera frame is decoded at: a code
// filling part of the frame reads as well, many times faster.
const BUILD = new URL(import.meta.url).searchParams.get('v');
const JSQR_URL = new URL(`./jsqr.js${BUILD ? `?v=${BUILD}` : ''}`, import.meta.url).href;
const CAMERA_DECODE_PX = 640;

function hasNativeDecoder() {
  return 'BarcodeDetector' in window;
}

// Stores the bundled decoder with this build's assets, so that the camera
// works at a gate that has lost its network.
function keepDecoderOffline() {
  if (hasNativeDecoder() || !('caches' in window) || !BUILD) return;
  caches.open(`rt-assets-${BUILD}`)
    .then(async (c) => (await c.match(JSQR_URL)) || c.add(JSQR_URL))
    .catch(() => { /* online the file loads anyway */ });
}

// A function that reads the QR code in the video's current frame, or null.
async function qrDecoder(video) {
  if (hasNativeDecoder()) {
    try {
      const formats = await BarcodeDetector.getSupportedFormats();
      if (formats.includes('qr_code')) {
        const detector = new BarcodeDetector({ formats: ['qr_code'] });
        return async () => (await detector.detect(video))[0]?.rawValue ?? null;
      }
    } catch { /* use the bundled decoder */ }
  }
  if (!window.jsQR) {
    await new Promise((resolve, reject) => {
      const script = Object.assign(document.createElement('script'), { src: JSQR_URL, onload: resolve, onerror: reject });
      document.head.append(script);
    });
  }
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  return async () => {
    const [w, h] = [video.videoWidth, video.videoHeight];
    if (!w || !h) return null;
    const scale = Math.min(1, CAMERA_DECODE_PX / Math.max(w, h));
    canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    const frame = ctx.getImageData(0, 0, canvas.width, canvas.height);
    return window.jsQR(frame.data, frame.width, frame.height, { inversionAttempts: 'dontInvert' })?.data ?? null;
  };
}

async function refreshManifest() {
  if (!navigator.onLine || !manifestSupported) return;
  try {
    const m = await api(`/events/${eventId}/gate-manifest`);
    const tickets = {};
    const entryCodes = {};
    for (const t of m.tickets) {
      tickets[t.id] = [t.serial, t.status, t.checked_in_at ? 1 : 0];
      if (t.rotating_secret) tickets[t.id].push(t.rotating_secret);
      if (t.entry_code_hash) entryCodes[t.entry_code_hash] = t.entry_code_hash in entryCodes ? null : t.id;
    }
    manifest = {
      event_id: m.event_id, public_key: m.public_key, tickets, entry_codes: entryCodes, generated_at: m.generated_at,
      retired_entry_codes: m.retired_entry_code_hashes ?? [],
      barcodes: m.barcodes ?? 'static', rotation_step_secs: m.rotation_step_secs ?? 15,
      rotation_max_age_steps: m.rotation_max_age_steps ?? 3,
    };
    publicKey = null;
    save('manifest', manifest);
    renderQueue();
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 405)) manifestSupported = false;
    renderQueue();
  }
}

// What staff are told about a synced scan that needs a person to look at it.
const CONFLICT_TEXT = {
  conflict: 'was also admitted at another gate while offline.',
  used_before_reissue: 'was admitted here offline before it was passed on: the new holder\'s ticket will not admit; send them to the box office.',
  used_before_revocation: 'was admitted here offline before it was refunded or cancelled: tell the organizer.',
};

async function sync() {
  if (!navigator.onLine || !queue.length) return;
  const batch = queue.slice(0, 500);
  try {
    const r = await api(`/events/${eventId}/checkins/sync`, { method: 'POST', body: { device_id: deviceId, scans: batch } });
    queue = queue.slice(batch.length);
    save('queue', queue);
    const conflicts = load('conflicts', []);
    for (const res of r.results || []) {
      if (CONFLICT_TEXT[res.result]) conflicts.push({ result: res.result, barcode: res.barcode, ticket_id: res.ticket_id, first_device_id: res.first_device_id });
    }
    save('conflicts', conflicts);
    renderQueue();
    refreshManifest();
  } catch (e) {
    if (!(e instanceof ApiError)) setOnline(false);
    renderQueue(e instanceof ApiError ? e.message : null);
  }
}

function renderQueue(error) {
  const count = manifest ? Object.keys(manifest.tickets).length : 0;
  if (!manifestSupported && !manifest) offlineSummary.textContent = 'Offline checking is not available from this server; scans need the network.';
  else if (manifest) offlineSummary.textContent = `Ready for offline use: ${count} ${count === 1 ? "ticket" : "tickets"}, list from ${clockTime(manifest.generated_at)}.`;
  queueSummary.textContent = queue.length
    ? `${queue.length} offline scan${queue.length > 1 ? 's' : ''} waiting to sync.${error ? ' Last sync failed: ' + error : ''}`
    : 'All scans are synced.';
  syncButton.hidden = !queue.length;
  const conflicts = load('conflicts', []);
  conflictsList.replaceChildren(...conflicts.map((c) => Object.assign(document.createElement('li'), {
    textContent: `Ticket ${c.ticket_id ?? c.barcode.slice(0, 16) + '…'} ${CONFLICT_TEXT[c.result ?? 'conflict']}`,
  })));
  document.documentElement.dataset.gateQueue = String(queue.length);
  document.documentElement.dataset.gateConflicts = String(conflicts.length);
  document.documentElement.dataset.gateManifest = manifest ? '1' : '0';
}

function setOnline(online) {
  gateStatus.textContent = online ? 'Online' : 'Offline – checking on this device';
  gateStatus.classList.toggle('offline', !online);
}

if (form && eventId) {
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const code = input.value;
    input.value = '';
    input.focus();
    scan(code);
  });
  window.addEventListener('online', () => { setOnline(true); sync(); refreshManifest(); });
  window.addEventListener('offline', () => setOnline(false));
  syncButton.addEventListener('click', sync);
  setOnline(navigator.onLine);
  renderQueue();
  refreshManifest().then(sync);
  setInterval(refreshManifest, MANIFEST_REFRESH_MS);
  setInterval(sync, SYNC_INTERVAL_MS);
  document.documentElement.dataset.scannerReady = '1';

  // Camera scanning: with the browser's own QR decoder where it has one
  // (Chrome on Android, Safari on macOS), elsewhere (Safari on iPhone,
  // Firefox, Chromium on a laptop) with the bundled jsQR.
  if (navigator.mediaDevices?.getUserMedia) {
    const box = document.getElementById('camera');
    const toggle = document.getElementById('camera-toggle');
    const video = document.getElementById('camera-video');
    box.hidden = false;
    keepDecoderOffline();
    let stream = null, lastCode = '', lastAt = 0, decode = null;
    const loop = async () => {
      if (!stream) return;
      try {
        const code = await decode();
        const now = Date.now();
        if (code && (code !== lastCode || now - lastAt > CAMERA_REPEAT_MS)) {
          lastCode = code; lastAt = now;
          scan(code);
        }
      } catch { /* frame not ready */ }
      setTimeout(loop, 150);
    };
    toggle.addEventListener('click', async () => {
      if (stream) {
        stream.getTracks().forEach((t) => t.stop()); stream = null; video.hidden = true; toggle.textContent = 'Scan with camera';
        return;
      }
      try {
        decode ??= await qrDecoder(video);
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
        video.srcObject = stream; video.hidden = false; await video.play();
        toggle.textContent = 'Stop camera';
        loop();
      } catch {
        show(false, 'No camera', 'The camera is not available. Type or scan the code into the field instead.');
      }
    });
  }
}
