// Keeps the tickets on this page available offline: the page and every QR
// code go into the 'rt-tickets' cache, which the service worker serves when
// the network is gone. Cleared on sign-out.
//
// Tickets of events with rotating barcodes carry their rotating secret
// (data-rotating-secret); for them this page draws the live code itself,
// renewed every step, with a countdown. The code is computed here, so it
// keeps changing offline too.
import qrcode from './qrcode.js';
import { hmacKey, rotatingCode, stepAt } from './rotating.js';

const CACHE = 'rt-tickets';
// Pixels per QR module, and the quiet zone in modules the standard asks for.
const MODULE_PX = 6;
const QUIET_MODULES = 4;

function drawQr(canvas, text) {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const n = qr.getModuleCount();
  const size = (n + 2 * QUIET_MODULES) * MODULE_PX;
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, size, size);
  ctx.fillStyle = '#000';
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (qr.isDark(r, c)) ctx.fillRect((c + QUIET_MODULES) * MODULE_PX, (r + QUIET_MODULES) * MODULE_PX, MODULE_PX, MODULE_PX);
    }
  }
}

async function showLiveCode(box) {
  const key = await hmacKey(box.dataset.rotatingSecret);
  const stepSecs = Number(box.dataset.stepSecs);
  const canvas = box.querySelector('canvas');
  const countdown = box.querySelector('.qr-countdown');
  const text = box.closest('.ticket')?.querySelector('.live-code');
  let shown = null;
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const now = Date.now();
      const step = stepAt(now, stepSecs);
      if (step !== shown) {
        const code = await rotatingCode(box.dataset.barcode, key, step);
        drawQr(canvas, code);
        canvas.dataset.code = code;
        if (text) text.textContent = code;
        box.dataset.step = String(step);
        shown = step;
      }
      const left = stepSecs - (Math.floor(now / 1000) % stepSecs);
      countdown.textContent = `Live code · renews in ${left} s. Screenshots do not work at the gate.`;
    } finally {
      busy = false;
    }
  };
  await tick();
  setInterval(tick, 1000);
}

async function showLiveCodes() {
  const boxes = document.querySelectorAll('[data-rotating-secret]');
  await Promise.all([...boxes].map((box) => showLiveCode(box).catch((e) => {
    console.warn('cannot show the live code', e);
    box.querySelector('.qr-countdown').textContent = 'This browser cannot show the live code. Try another browser.';
  })));
  if (boxes.length) document.documentElement.dataset.liveCodes = String(boxes.length);
}
showLiveCodes();

async function saveForOffline() {
  const state = document.getElementById('offline-state');
  if (!('caches' in window) || !('serviceWorker' in navigator)) return;
  if (!navigator.onLine) {
    if (state) state.textContent = 'Offline: showing the tickets saved on this device.';
    document.documentElement.dataset.offlineReady = '1';
    return;
  }
  try {
    await navigator.serviceWorker.ready;
    const cache = await caches.open(CACHE);
    const urls = new Set(['/tickets', location.pathname]);
    for (const img of document.querySelectorAll('[data-offline-tickets] img.qr')) urls.add(img.getAttribute('src'));
    await Promise.all([...urls].map(async (url) => {
      const res = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
      if (res.ok && !res.redirected) await cache.put(url, res);
    }));
    if (state && document.querySelector('.ticket')) state.textContent = 'Saved on this device: these tickets open without a network too.';
    document.documentElement.dataset.offlineReady = '1';
  } catch (e) {
    console.warn('could not save tickets for offline use', e);
  }
}
saveForOffline();
