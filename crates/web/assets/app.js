// Loaded on every page: the service worker (offline tickets, installable
// app), the offline banner, clearing saved tickets on sign-out, and times
// that belong to no venue shown in this device's time zone.

import { localTime } from './api.js';

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

// When a notification came (or an invitation lapses) belongs to no venue:
// the server writes it in UTC, and this device's own zone is what its
// reader means by "when". The shape stays the server's.
for (const t of document.querySelectorAll('time[data-local]')) {
  if (!Number.isNaN(new Date(t.dateTime).getTime())) t.textContent = localTime(t.dateTime);
}
