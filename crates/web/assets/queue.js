// The waiting room page: solves the proof-of-work challenge that joining
// needs, then follows the buyer's place live over Server-Sent Events and
// reloads the page when their turn comes (the server then sets the
// admission cookie the seat form presents).

import { api } from './api.js';

const app = document.getElementById('queue-app');
const eventId = app?.dataset.event;

// Leading zero bits of a digest.
function zeroBits(bytes) {
  let bits = 0;
  for (const b of bytes) {
    if (b === 0) { bits += 8; continue; }
    return bits + Math.clz32(b) - 24;
  }
  return bits;
}

// Counts up until SHA-256(challenge + ":" + n) has `difficulty` zero bits,
// the same rule the server checks. Yields to the page every so often so it
// stays responsive.
async function solve(challenge, difficulty, onProgress) {
  const encoder = new TextEncoder();
  for (let n = 0; ; n++) {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(`${challenge}:${n}`)));
    if (zeroBits(digest) >= difficulty) return String(n);
    if (n % 5000 === 0) {
      onProgress(n);
      await new Promise((r) => setTimeout(r, 0));
    }
  }
}

async function join(button, status) {
  button.disabled = true;
  status.textContent = 'Checking your browser…';
  try {
    const c = await api(`/events/${eventId}/waiting-room/challenge`, { method: 'POST', body: {} });
    const expected = 2 ** c.difficulty;
    const solution = await solve(c.challenge, c.difficulty, (n) => {
      status.textContent = `Checking your browser… ${Math.min(99, Math.round((100 * n) / expected))} %`;
    });
    await api(`/events/${eventId}/waiting-room/entries`, {
      method: 'POST', body: { challenge: c.challenge, solution },
    });
    location.reload();
  } catch (e) {
    status.textContent = e.message || 'Joining failed; please try again.';
    button.disabled = false;
  }
}

function waitText(secs) {
  if (secs < 60) return 'less than a minute';
  if (secs < 120) return 'about a minute';
  if (secs < 3600) return `about ${Math.ceil(secs / 60)} minutes`;
  return `about ${Math.floor(secs / 3600)} h ${Math.floor((secs % 3600) / 60)} min`;
}

function follow() {
  const source = new EventSource(`/app/api/v1/events/${eventId}/waiting-room/entries/me/live`);
  source.addEventListener('position', (message) => {
    const p = JSON.parse(message.data);
    if (p.status !== 'waiting') {
      source.close();
      location.reload();
      return;
    }
    const ahead = document.getElementById('ahead');
    if (p.ahead === null || !ahead) {
      // The lottery was drawn since the page loaded: show the place.
      if (p.ahead !== null) { source.close(); location.reload(); }
      return;
    }
    ahead.textContent = p.ahead;
    const wait = document.getElementById('wait');
    if (wait) {
      wait.textContent = p.estimated_wait_secs === null
        ? 'Buyers will be let in shortly.'
        : `Estimated wait: ${waitText(p.estimated_wait_secs)}.`;
    }
  });
  // The stream ends after a final message, or when the server restarts:
  // the browser reconnects by itself.
}

if (app) {
  const button = document.getElementById('join');
  const status = document.getElementById('join-status');
  if (button && status) button.addEventListener('click', () => join(button, status));
  if (app.dataset.status === 'waiting') follow();
}
