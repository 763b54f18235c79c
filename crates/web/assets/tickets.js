// Keeps the tickets on this page available offline: the page and every QR
// code go into the 'rt-tickets' cache, which the service worker serves when
// the network is gone. Cleared on sign-out.
const CACHE = 'rt-tickets';

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
