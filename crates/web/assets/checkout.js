// The hold's countdown: how long the seats stay held, and what happens at zero.
import { clearPicks } from './picks.js';

const box = document.getElementById('countdown');
// Back after paying, a page kept in the back-forward cache would look
// unpaid: ask again, and the server sends the order instead.
window.addEventListener('pageshow', (e) => { if (e.persisted) location.reload(); });
if (box) {
  // The hold has the seats picked on the map now: they are not kept for
  // another visit to the event page.
  if (box.dataset.event) clearPicks(box.dataset.event);
  const total = Number(box.dataset.remaining || 0);
  const end = performance.now() + total * 1000;
  const pay = document.getElementById('pay-button');
  const text = document.createElement('span');
  box.replaceChildren(text);
  let lastAnnounced = null;
  const tick = () => {
    const left = Math.max(0, Math.round((end - performance.now()) / 1000));
    const m = Math.floor(left / 60);
    const s = String(left % 60).padStart(2, '0');
    if (left === 0) {
      text.textContent = 'Time is up: the seats went back on sale.';
      box.classList.add('urgent');
      box.setAttribute('aria-live', 'assertive');
      if (pay) pay.disabled = true;
      setTimeout(() => location.reload(), 1500);
      return;
    }
    text.textContent = `Your tickets are held for ${m}:${s} more. Finish before the time runs out.`;
    if (left <= 60) box.classList.add('urgent');
    // Screen readers hear the time each minute and in the last minute, not every second.
    const announce = left <= 60 ? (left % 15 === 0) : (left % 60 === 0);
    if (announce && lastAnnounced !== left) {
      lastAnnounced = left;
      box.setAttribute('aria-live', 'polite');
    } else {
      box.setAttribute('aria-live', 'off');
    }
    setTimeout(tick, 1000 - ((end - performance.now()) % 1000 + 1000) % 1000 || 1000);
  };
  tick();
  const form = document.getElementById('pay-form');
  form?.addEventListener('submit', () => {
    if (pay) { pay.disabled = true; pay.textContent = 'Paying…'; }
  });
}
