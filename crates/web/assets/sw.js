// RobustTicketing service worker: app shell and assets from the cache, and
// the buyer's tickets (pages and QR codes) when there is no network.
const VERSION = '__ASSET_VERSION__';
const ASSETS = `rt-assets-${VERSION}`;
const TICKETS = 'rt-tickets';
const PAGES = 'rt-pages';
const PRECACHE = "__PRECACHE__";

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(ASSETS).then((c) => c.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('rt-assets-') && key !== ASSETS) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

function isTicketUrl(path) {
  return path === '/tickets' || /^\/tickets\/[^/]+\/qr\.png$/.test(path) || path.startsWith('/orders/');
}

// Network first; a good answer refreshes the cache, no answer falls back to it.
async function networkFirst(request, cacheName, fallbackToOffline) {
  try {
    const response = await fetch(request);
    if (response.ok && response.type === 'basic' && !response.redirected) {
      const copy = response.clone();
      caches.open(cacheName).then((c) => c.put(request.url.split('?')[0], copy)).catch(() => {});
    }
    return response;
  } catch (err) {
    const cached = await caches.match(request.url.split('?')[0], { cacheName });
    if (cached) return cached;
    if (fallbackToOffline) {
      const offline = await caches.match('/offline');
      if (offline) return offline;
    }
    throw err;
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (path.startsWith('/api/') || path.startsWith('/app/api/')) return;
  if (path.startsWith('/assets/')) {
    // Modules import each other without the ?v= of the page's URLs; this
    // cache holds one build only, so the same file without the query is it.
    event.respondWith((async () => (await caches.match(request, { cacheName: ASSETS }))
      || (await caches.match(request, { cacheName: ASSETS, ignoreSearch: true }))
      || fetch(request))());
    return;
  }
  if (isTicketUrl(path)) {
    event.respondWith(networkFirst(request, TICKETS, request.mode === 'navigate'));
    return;
  }
  if (request.mode === 'navigate') {
    // The scanner and public pages a person has seen open again offline;
    // other personal pages are never stored.
    const keep = path === '/' || path.startsWith('/gate') || path.startsWith('/events/');
    event.respondWith(keep ? networkFirst(request, PAGES, true) : fetch(request).catch(async () => {
      return (await caches.match('/offline')) || Response.error();
    }));
  }
});

// Web push: the server's reminders arrive encrypted; the browser decrypts
// them and hands over JSON {title, body, url, tag}, shown as a notification.
self.addEventListener('push', (event) => {
  let message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch (_) {
    message = { body: event.data ? event.data.text() : '' };
  }
  const title = message.title || 'RobustTicketing';
  event.waitUntil(self.registration.showNotification(title, {
    body: message.body || '',
    tag: message.tag,
    icon: '/assets/icon-192.png',
    data: { url: message.url || '/tickets' },
  }));
});

// A tap on the notification opens (or focuses) the page it points to.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || '/tickets', self.location.origin).href;
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const same = open.find((c) => c.url === url);
    if (same) return same.focus();
    return self.clients.openWindow(url);
  })());
});
