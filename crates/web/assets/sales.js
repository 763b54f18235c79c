// Organizer numbers: revenue in the console list, and the live sales page
// (numbers, sales per minute, a heat map of sold seats), updated live.
import { api, publicGet, readIsland, money, escapeHtml } from './sales-util.js';
import { flatten, drawSeats } from './seatmap.js';

// Fewest milliseconds between two stats reads while sales stream in.
const STATS_INTERVAL_MS = 1000;
const POLL_MS = 2000;

async function fillConsoleRevenue() {
  const rows = document.querySelectorAll('#console-events tr[data-event]');
  await Promise.all([...rows].map(async (tr) => {
    try {
      const s = await api(`/events/${tr.dataset.event}/stats`);
      tr.querySelector('[data-stat="revenue"]').textContent = money(s.revenue);
      tr.querySelector('[data-stat="sold"]').textContent = s.sold;
      tr.querySelector('[data-stat="held"]').textContent = s.held;
      tr.querySelector('[data-stat="capacity"]').textContent = s.capacity;
    } catch { /* keep the server-rendered numbers */ }
  }));
}

function drawChart(box, sales, timeZone) {
  if (!sales || !sales.length) { box.innerHTML = '<p class="muted">No sales yet.</p>'; return; }
  const W = 640, H = 220, L = 36, B = 28, T = 10;
  const max = Math.max(...sales.map((s) => s.count), 1);
  const n = sales.length;
  const bw = (W - L - 8) / n;
  const fmt = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', timeZone });
  const bars = sales.map((s, i) => {
    const h = (s.count / max) * (H - B - T);
    const label = `${fmt.format(new Date(s.minute))}: ${s.count}`;
    return `<rect class="bar" x="${L + i * bw + 1}" y="${H - B - h}" width="${Math.max(bw - 2, 1)}" height="${h}"><title>${escapeHtml(label)}</title></rect>`;
  }).join('');
  box.innerHTML = `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="Tickets sold per minute, highest ${max}">
    <line class="axis" x1="${L}" y1="${H - B}" x2="${W}" y2="${H - B}"/><line class="axis" x1="${L}" y1="${T}" x2="${L}" y2="${H - B}"/>
    <text x="${L - 6}" y="${T + 10}" text-anchor="end">${max}</text><text x="${L - 6}" y="${H - B}" text-anchor="end">0</text>
    <text x="${L}" y="${H - 8}">${escapeHtml(fmt.format(new Date(sales[0].minute)))}</text>
    <text x="${W}" y="${H - 8}" text-anchor="end">${escapeHtml(fmt.format(new Date(sales[n - 1].minute)))}</text>${bars}</svg>`;
}

async function salesPage(data) {
  const stat = (id, v) => { const n = document.getElementById(id); if (n) n.textContent = v; };
  const live = document.getElementById('live-state');
  let statsWork = null, statsAgain = false, last = 0;
  async function refreshStats() {
    if (statsWork) { statsAgain = true; return; }
    const wait = Math.max(0, last + STATS_INTERVAL_MS - Date.now());
    statsWork = new Promise((r) => setTimeout(r, wait)).then(async () => {
      last = Date.now();
      try {
        const s = await api(`/events/${data.event_id}/stats`);
        stat('stat-sold', s.sold); stat('stat-held', s.held); stat('stat-capacity', s.capacity);
        stat('stat-revenue', money(s.revenue));
        drawChart(document.getElementById('sales-chart'), s.sales, data.timezone);
      } catch { /* numbers stay as they are */ }
    }).finally(() => { statsWork = null; if (statsAgain) { statsAgain = false; refreshStats(); } });
  }
  refreshStats();

  const [map, availability] = await Promise.all([
    publicGet(`/venues/${data.venue_id}/seat-map`), publicGet(`/events/${data.event_id}/availability`),
  ]);
  const flat = flatten(map);
  const heat = document.getElementById('heatmap');
  if (!flat.seats.length) { heat.innerHTML = '<p class="muted">This venue has standing areas only.</p>'; }
  const { circles } = flat.seats.length ? drawSeats(heat, flat, { zoneClass: () => '', label: 'Sold seats' }) : { circles: [] };
  heat.querySelector('svg')?.setAttribute('role', 'img');
  heat.querySelector('svg')?.removeAttribute('tabindex');
  const indexOf = new Map(flat.seats.map((s, i) => [s.id, i]));
  const apply = (seats) => {
    let changed = false;
    for (const s of seats) {
      const i = indexOf.get(s.id);
      if (i === undefined) continue;
      const cls = s.status === 'available' ? '' : s.status;
      if (circles[i].getAttribute('class') !== cls) { circles[i].setAttribute('class', cls); changed = true; }
    }
    return changed;
  };
  apply(availability.seats);
  const onChange = (seats) => { apply(seats); refreshStats(); };
  const poll = () => setInterval(async () => {
    try { const a = await publicGet(`/events/${data.event_id}/availability`); if (apply(a.seats)) refreshStats(); } catch { /* retry */ }
  }, POLL_MS);
  const es = new EventSource(`/api/v1/events/${data.event_id}/live`);
  es.addEventListener('availability', (e) => { try { onChange(JSON.parse(e.data).seats || []); } catch { /* ignore */ } });
  const resync = async () => {
    try { apply((await publicGet(`/events/${data.event_id}/availability`)).seats); refreshStats(); } catch { /* next message */ }
  };
  es.addEventListener('ready', () => { if (live) live.textContent = 'Live'; resync(); });
  es.addEventListener('resync', resync);
  es.addEventListener('error', () => {
    if (es.readyState === EventSource.CLOSED) { if (live) live.textContent = 'Updating every few seconds'; poll(); }
    else if (live) live.textContent = 'Reconnecting…';
  });
}

const data = readIsland('sales-data');
if (data) salesPage(data).catch((e) => console.error(e));
else fillConsoleRevenue();
