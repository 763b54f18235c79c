// The interactive seat map of an event page: pick seats by click, tap or
// keyboard, or from a list; taken seats turn grey live (server-sent events,
// with polling if the live stream is unavailable). Picks are kept for the
// tab, so signing in on the way to the hold does not lose them.
import { publicGet, readIsland, el } from './api.js';
import { flatten, drawSeats, sectionLabels, enableZoom } from './seatmap.js';
import { loadPicks, savePicks } from './picks.js';

const data = readIsland('event-data');
const app = document.getElementById('seatmap-app');
// Back from the checkout page, a page kept in the back-forward cache would
// show the seats as they were before the hold: draw it afresh instead.
if (data?.signed_in) window.addEventListener('pageshow', (e) => { if (e.persisted) location.reload(); });
if (data && app && data.on_sale) start().catch((e) => {
  console.error(e);
  const status = document.getElementById('seatmap-status');
  if (status) status.textContent = 'The seat map could not be loaded. Use "Best available" or the list below.';
});

// How often availability is re-read when the live stream is not available.
const POLL_MS = 1000;
// Above this many seats the keyboard cursor zooms the map in.
const BIG_MAP_SEATS = 2000;

async function start() {
  app.hidden = false;
  const status = document.getElementById('seatmap-status');
  const mapBox = document.getElementById('seatmap');
  const listBox = document.getElementById('seatlist');
  const summary = document.getElementById('pick-summary');
  const inputs = document.getElementById('pick-inputs');
  const submit = document.getElementById('pick-submit');
  const zones = new Map(data.zones.map((z) => [z.zone, z]));

  const [map, availability] = await Promise.all([
    publicGet(`/venues/${data.venue_id}/seat-map`),
    publicGet(`/events/${data.event_id}/availability`),
  ]);
  const flat = flatten(map);
  const { seats, rows } = flat;
  const indexOf = new Map(seats.map((s, i) => [s.id, i]));
  // Seats this buyer holds already: offered above the map, never named as
  // taken by someone else.
  const mine = new Set(data.my_held || []);
  // A seat of a zone whose ticket types are all outside their sales window
  // is not for sale now, however free it is.
  const closed = (i) => zones.get(seats[i].zone)?.on_sale === false;
  const seen = (i, status) => (status === 'available' && closed(i) ? 'closed' : status);
  const state = new Array(seats.length).fill('available');
  for (let i = 0; i < seats.length; i++) state[i] = seen(i, 'available');
  for (const a of availability.seats) {
    const i = indexOf.get(a.id);
    if (i !== undefined) state[i] = seen(i, a.status);
  }
  const chosen = new Set();
  let cursor = -1;

  const help = el('p', { id: 'seatmap-help', class: 'visually-hidden',
    text: 'Arrow keys move between seats, Enter or Space picks or unpicks a seat. The list view lists every seat.' });
  mapBox.before(help);
  const zoneClass = (s) => zones.get(s.zone)?.class ?? 'z0';
  // The legend defines the wheelchair mark when the venue has such seats.
  const mark = document.getElementById('seat-wc');
  const drawn = drawSeats(mapBox, flat, {
    zoneClass,
    label: `Seat map of ${map.name}, ${seats.length} seats`,
    sectionLabels: sectionLabels(flat, map.sections.map((s) => s.name)),
    accessibleMark: mark ? `#${mark.id}` : null,
  });
  const { svg, circles } = drawn;
  const zoom = enableZoom(svg, drawn.viewBox, mapBox);

  const classOf = (i) => {
    let c = zoneClass(seats[i]);
    if (state[i] !== 'available') c += ' ' + state[i];
    if (chosen.has(i)) c += ' mine';
    if (i === cursor) c += ' cursor';
    return c;
  };
  const paint = (i) => circles[i].setAttribute('class', classOf(i));
  for (let i = 0; i < seats.length; i++) if (state[i] !== 'available') paint(i);

  const describe = (i) => {
    const s = seats[i];
    const z = zones.get(s.zone);
    const what = chosen.has(i) ? 'picked' : state[i] === 'available' ? 'available' : state[i] === 'closed' ? 'not on sale now' : 'taken';
    return `${s.section}, row ${s.row}, seat ${s.label}${s.accessible ? ', wheelchair space' : ''}, ${z ? z.price : ''}, ${what}`;
  };

  const maxPick = Math.max(...data.zones.map((z) => z.max_per_order), 1);
  const seatName = (i) => `${seats[i].section} ${seats[i].row}${seats[i].label}`;
  // A seat of a zone with several ticket types (an adult and a reduced
  // price, say) gets a choice; the first, what it is sold as by default,
  // is preselected. Choices made are kept while other seats are picked.
  const typeOf = new Map();
  const typeChoice = (i) => {
    const types = zones.get(seats[i].zone)?.types ?? [];
    if (types.length < 2) return null;
    const id = `type-${seats[i].id}`;
    const select = el('select', { id, name: `type_${seats[i].id}` });
    for (const t of types) {
      // The price first: on a phone a long name is cut off, the price must not be.
      const option = el('option', { value: t.id, text: `${t.price} · ${t.name}` });
      option.selected = typeOf.get(seats[i].id) === t.id;
      select.append(option);
    }
    select.addEventListener('change', () => typeOf.set(seats[i].id, select.value));
    return el('span', { class: 'pick-type' }, el('label', { for: id, text: seatName(i) }), select);
  };
  function renderPicks() {
    const picked = [...chosen].sort((a, b) => a - b);
    savePicks(data.event_id, picked.map((i) => seats[i].id));
    const choices = picked.map(typeChoice).filter(Boolean);
    inputs.replaceChildren(...picked.map((i) => el('input', { type: 'hidden', name: 'seat', value: seats[i].id })),
      ...(choices.length ? [el('div', { id: 'pick-types' }, ...choices)] : []));
    submit.disabled = picked.length === 0;
    // The list view follows every change, the last seat unpicked included.
    syncList();
    if (!picked.length) {
      summary.textContent = 'No seats chosen yet: tap seats on the map.';
      submit.textContent = 'Continue';
      return;
    }
    const count = `${picked.length} seat${picked.length > 1 ? 's' : ''}`;
    summary.textContent = `${count}: ${picked.map(seatName).join(', ')}`;
    // Holding asks a visitor to sign in first; say so before they press.
    submit.textContent = data.signed_in ? `Hold ${count}` : `Sign in to hold ${count}`;
  }

  // Seats picked before signing in (or before a reload) are picked again,
  // those still free; the rest are named, so nobody looks for them.
  function restorePicks() {
    const back = [], gone = [];
    for (const id of loadPicks(data.event_id)) {
      const i = indexOf.get(id);
      if (i === undefined || chosen.has(i) || mine.has(id)) continue;
      if (state[i] !== 'available') gone.push(i);
      else if (chosen.size < maxPick) { chosen.add(i); paint(i); back.push(i); }
    }
    const said = [];
    if (back.length) said.push(`Your seat${back.length > 1 ? 's are' : ' is'} still picked: ${back.map(seatName).join(', ')}.`);
    if (gone.length) said.push(`No longer free: ${gone.map(seatName).join(', ')}. Please choose again.`);
    if (said.length) status.textContent = said.join(' ');
  }

  function toggle(i) {
    if (state[i] !== 'available' && !chosen.has(i)) {
      status.textContent = `${describe(i)}. Choose another seat.`;
      return;
    }
    if (chosen.has(i)) chosen.delete(i);
    else if (chosen.size >= maxPick) { status.textContent = `You can pick up to ${maxPick} seats in one order.`; return; }
    else chosen.add(i);
    paint(i);
    status.textContent = describe(i);
    renderPicks();
  }

  svg.addEventListener('click', (e) => {
    const c = e.target.closest('circle');
    if (!c) return;
    const i = Number(c.dataset.i);
    const prev = cursor; cursor = i; if (prev >= 0) paint(prev);
    toggle(i);
  });

  // Keyboard: a roving cursor over the seats.
  const nearestInRow = (rowIdx, x) => {
    let best = -1, d = Infinity;
    for (const j of rows[rowIdx].seats) { const dd = Math.abs(seats[j].x - x); if (dd < d) { d = dd; best = j; } }
    return best;
  };
  const moveCursor = (i, follow) => {
    if (i < 0) return;
    const prev = cursor; cursor = i;
    if (prev >= 0) paint(prev);
    paint(i);
    status.textContent = describe(i);
    // On big maps, keyboard users get a closer look where the cursor is.
    if (follow && seats.length > BIG_MAP_SEATS) zoom.zoomTo(seats[i].x, seats[i].y);
  };
  // Focus by keyboard puts the cursor on the first free seat; a pointer
  // focuses the map too, but then the click decides.
  let pointing = false;
  svg.addEventListener('pointerdown', () => { pointing = true; });
  svg.addEventListener('pointerup', () => setTimeout(() => { pointing = false; }, 0));
  svg.addEventListener('focus', () => {
    if (!pointing && cursor < 0 && seats.length) moveCursor(Math.max(state.indexOf('available'), 0), false);
    pointing = false;
  });
  svg.addEventListener('keydown', (e) => {
    if (cursor < 0) return;
    const s = seats[cursor];
    const row = rows[s.rowIndex];
    let next = -1;
    if (e.key === 'ArrowRight') next = row.seats[s.pos + 1] ?? -1;
    else if (e.key === 'ArrowLeft') next = row.seats[s.pos - 1] ?? -1;
    else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const r = s.rowIndex + (e.key === 'ArrowDown' ? 1 : -1);
      if (r >= 0 && r < rows.length) next = nearestInRow(r, s.x);
    } else if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggle(cursor); return; }
    else return;
    e.preventDefault();
    moveCursor(next, true);
  });

  // The list view: every seat as a checkbox, one section at a time.
  let listBuilt = false;
  function buildList() {
    listBuilt = true;
    const bySection = new Map();
    rows.forEach((r, ri) => { if (!bySection.has(r.section)) bySection.set(r.section, []); bySection.get(r.section).push(ri); });
    const parts = [];
    for (const [si, rowIdxs] of bySection) {
      const section = map.sections[si];
      const free = rowIdxs.reduce((n, ri) => n + rows[ri].seats.filter((i) => state[i] === 'available').length, 0);
      const det = el('details', { 'data-section': si });
      det.append(el('summary', { text: `${section.name} – ${zones.get(section.price_zone)?.price ?? ''} – ${free} free` }));
      det.addEventListener('toggle', () => {
        if (!det.open || det.dataset.built) return;
        det.dataset.built = '1';
        for (const ri of rowIdxs) {
          const fs = el('fieldset', { class: 'seat-row' }, el('legend', { text: `${section.name}, row ${rows[ri].label}` }));
          const box = el('div', { class: 'seat-checks' });
          for (const i of rows[ri].seats) {
            const cb = el('input', { type: 'checkbox', 'data-i': i, checked: chosen.has(i), disabled: state[i] !== 'available' && !chosen.has(i) });
            const lab = el('label', { class: 'seat-check' + (state[i] !== 'available' ? ' taken' : '') }, cb,
              el('span', { text: seats[i].label + (seats[i].accessible ? ' ♿' : '') }),
              el('span', { class: 'visually-hidden', text: `, row ${rows[ri].label}${state[i] !== 'available' ? ', taken' : ''}` }));
            box.append(lab);
          }
          fs.append(box);
          det.append(fs);
        }
      });
      parts.push(det);
    }
    listBox.replaceChildren(...parts);
    listBox.addEventListener('change', (e) => {
      const i = Number(e.target.dataset.i);
      if (!Number.isNaN(i)) toggle(i);
    });
  }
  function syncList() {
    if (!listBuilt) return;
    for (const cb of listBox.querySelectorAll('input[data-i]')) {
      const i = Number(cb.dataset.i);
      cb.checked = chosen.has(i);
      cb.disabled = state[i] !== 'available' && !chosen.has(i);
      cb.parentElement.classList.toggle('taken', state[i] !== 'available');
    }
  }
  const viewMap = document.getElementById('view-map');
  const viewList = document.getElementById('view-list');
  const show = (list) => {
    if (list && !listBuilt) buildList();
    listBox.hidden = !list; mapBox.hidden = list;
    viewMap.setAttribute('aria-pressed', String(!list)); viewList.setAttribute('aria-pressed', String(list));
  };
  viewMap.addEventListener('click', () => show(false));
  viewList.addEventListener('click', () => show(true));

  // Live updates.
  function apply(changes) {
    const lost = [];
    for (const c of changes) {
      const i = indexOf.get(c.id);
      if (i === undefined || state[i] === seen(i, c.status)) continue;
      state[i] = seen(i, c.status);
      if (c.status !== 'available' && chosen.has(i)) { chosen.delete(i); if (!mine.has(c.id)) lost.push(i); }
      paint(i);
    }
    if (lost.length) {
      status.textContent = `Just taken by someone else: ${lost.map(seatName).join(', ')}. Please choose again.`;
      renderPicks();
    }
    syncList();
  }
  async function resync() {
    try {
      const fresh = await publicGet(`/events/${data.event_id}/availability`);
      apply(fresh.seats);
    } catch { /* the next tick tries again */ }
  }
  let polling = null;
  const poll = () => { if (!polling) polling = setInterval(resync, POLL_MS); };
  if ('EventSource' in window) {
    const es = new EventSource(`/api/v1/events/${data.event_id}/live`);
    let broken = false;
    es.addEventListener('availability', (e) => { try { apply(JSON.parse(e.data).seats || []); } catch { /* malformed: ignore */ } });
    // 'ready': the stream is live, so a fresh snapshot misses nothing since the first one.
    es.addEventListener('ready', () => { broken = false; resync(); });
    es.addEventListener('resync', resync);
    es.addEventListener('error', () => {
      broken = true;
      if (es.readyState === EventSource.CLOSED) poll();
    });
  } else {
    poll();
  }

  const free = state.filter((s) => s === 'available').length;
  status.textContent = `${free} of ${seats.length} seats free. Pick seats on the map.`;
  restorePicks();
  renderPicks();
  window.__seatmapReadyMs = performance.now();
  document.documentElement.dataset.seatmapReady = '1';
}
