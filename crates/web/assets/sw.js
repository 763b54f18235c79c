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
