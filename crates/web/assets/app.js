// Loaded on every page: the service worker (offline tickets, installable
// app), the offline banner, and clearing saved tickets on sign-out.

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((e) => console.warn('service worker not registered', e));
}

const banner = document.getElementById('offline-banner');
function showOnline() {
  if (banner) banner.hidden = navigator.onLine;
}
window.addEventListener('online', showOnline);
window.addEventListener('offline', showOnline);
showOnline();

if (document.querySelector('[data-signed-out]') && 'caches' in window) {
  // Tickets belong to the person who signed out: remove them from this device.
  caches.delete('rt-tickets').catch(() => {});
  caches.delete('rt-pages').catch(() => {});
}
