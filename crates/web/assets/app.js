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

// A table of several columns becomes a list of cards on a narrow screen,
// each value labelled with its column's heading (the style sheet lays them
// out): a phone shows a whole row without swiping sideways. Without this
// script the table scrolls sideways instead.
for (const table of document.querySelectorAll('.table-wrap > table')) {
  const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim());
  if (heads.length < 3) continue;
  for (const row of table.querySelectorAll('tbody tr')) {
    let column = 0;
    for (const cell of row.children) {
      cell.dataset.label = heads[column] ?? '';
      column += cell.colSpan || 1;
    }
  }
  table.classList.add('stacked');
}
