// "Allow reminders": subscribes this browser to web push (the Push API,
// with the server's VAPID key) and hands the subscription to the server,
// which sends a reminder the day before each event. Unticking unsubscribes
// here and on the server. The section stays hidden where push is missing.
import { api, publicGet } from './api.js';

const section = document.getElementById('reminders');
const toggle = document.getElementById('reminders-toggle');
const state = document.getElementById('reminders-state');

// The VAPID key arrives base64url; pushManager wants the raw bytes.
function bytes(base64url) {
  const b64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function registration() {
  return navigator.serviceWorker.ready;
}

async function enable() {
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') {
    throw new Error('Notifications are blocked for this site; allow them in the browser settings.');
  }
  const { public_key: key } = await publicGet('/push/vapid-public-key');
  const reg = await registration();
  let sub = await reg.pushManager.getSubscription();
  if (!sub) {
    sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes(key) });
  }
  const json = sub.toJSON();
  await api('/me/push-subscriptions', { method: 'POST', body: { endpoint: json.endpoint, keys: json.keys } });
}

async function disable() {
  const reg = await registration();
  const sub = await reg.pushManager.getSubscription();
  if (!sub) return;
  try {
    await api('/me/push-subscriptions', { method: 'DELETE', body: { endpoint: sub.endpoint } });
  } catch (e) {
    if (e.status !== 404) throw e;
  }
  await sub.unsubscribe();
}

async function start() {
  if (!section || !('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window)) return;
  section.hidden = false;
  const reg = await registration();
  const sub = await reg.pushManager.getSubscription();
  toggle.checked = Boolean(sub) && Notification.permission === 'granted';
  toggle.addEventListener('change', async () => {
    toggle.disabled = true;
    state.textContent = '';
    try {
      if (toggle.checked) {
        await enable();
        state.textContent = 'Reminders are on for this device.';
      } else {
        await disable();
        state.textContent = 'Reminders are off for this device.';
      }
    } catch (e) {
      toggle.checked = !toggle.checked;
      state.textContent = e.message || 'That did not work; try again.';
    } finally {
      toggle.disabled = false;
    }
  });
}

start();
