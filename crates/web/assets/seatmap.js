// The seat map: one SVG with a <circle> per seat, drawn from the venue's
// coordinates. 20,000 seats render as one string and one DOM parse; clicks
// and keys are handled by one delegated listener, never one per seat.

const SEAT_R = 0.42;
const SVG_NS = 'http://www.w3.org/2000/svg';

// Flattens the API's seat map: seats[i] = {id, label, row, section, zone, x, y, accessible, rowIndex, pos}
export function flatten(map) {
  const seats = [];
  const rows = [];
  map.sections.forEach((section, si) => {
    section.rows.forEach((row) => {
      const ordered = [...row.seats].sort((a, b) => a.x - b.x);
      const rowIndex = rows.length;
      const members = [];
      ordered.forEach((s, pos) => {
        members.push(seats.length);
        seats.push({
          id: s.id, label: s.label, row: row.label, section: section.name, sectionIndex: si, zone: section.price_zone,
          x: s.x, y: s.y, accessible: s.accessible, rowIndex, pos,
        });
      });
      rows.push({ section: si, label: row.label, seats: members });
    });
  });
  return { seats, rows };
}

function bounds(seats) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const s of seats) {
    if (s.x < minX) minX = s.x; if (s.x > maxX) maxX = s.x;
    if (s.y < minY) minY = s.y; if (s.y > maxY) maxY = s.y;
  }
  if (!seats.length) { minX = minY = 0; maxX = maxY = 10; }
  return { minX, minY, maxX, maxY };
}

// How wide the mark on an accessible seat is, as a share of the seat's diameter.
const MARK_SCALE = 0.8;

// Renders into `container`; returns the SVG and the circle of each seat.
// `accessibleMark` names an SVG <symbol> on the page to draw on top of each
// wheelchair space; each mark follows its circle, so CSS colours it by the
// seat's state (`circle.sold + .seat-mark`) and nothing has to repaint it.
export function drawSeats(container, flat, { zoneClass = () => 'z0', label = 'Seat map', sectionLabels = [], accessibleMark = null } = {}) {
  const { seats } = flat;
  const b = bounds(seats);
  const pad = 2;
  const stageH = 2.2;
  const x0 = b.minX - pad, y0 = b.minY - pad - stageH - 1.2;
  const w = b.maxX - b.minX + pad * 2, h = b.maxY - y0 + pad;
  const parts = [];
  parts.push(`<svg xmlns="${SVG_NS}" viewBox="${x0} ${y0} ${w} ${h}" tabindex="0" role="application" aria-label="${label}" aria-describedby="seatmap-help" preserveAspectRatio="xMidYMin meet">`);
  const stageW = Math.min(w * 0.5, 30);
  const cx = (b.minX + b.maxX) / 2;
  parts.push(`<rect class="stage" x="${cx - stageW / 2}" y="${b.minY - pad - stageH}" width="${stageW}" height="${stageH}" rx="0.6"/>`);
  parts.push(`<text class="stage-label" x="${cx}" y="${b.minY - pad - stageH / 2 + 0.4}">STAGE</text>`);
  for (const l of sectionLabels) parts.push(`<text class="section-label" x="${l.x}" y="${l.y}">${escapeXml(l.text)}</text>`);
  parts.push('<g class="seats">');
  for (let i = 0; i < seats.length; i++) {
    const s = seats[i];
    parts.push(`<circle data-i="${i}" class="${zoneClass(s)}" cx="${s.x}" cy="${s.y}" r="${SEAT_R}"/>`);
    if (accessibleMark && s.accessible) {
      const m = SEAT_R * 2 * MARK_SCALE;
      parts.push(`<use class="seat-mark" href="${escapeXml(accessibleMark)}" x="${s.x - m / 2}" y="${s.y - m / 2}" width="${m}" height="${m}"/>`);
    }
  }
  parts.push('</g></svg>');
  container.innerHTML = parts.join('');
  const svg = container.firstElementChild;
  const circles = svg.querySelectorAll('circle');
  return { svg, circles, viewBox: [x0, y0, w, h] };
}

export function escapeXml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

// Labels above each section, at its front-centre.
export function sectionLabels(flat, names) {
  const by = new Map();
  for (const s of flat.seats) {
    const cur = by.get(s.sectionIndex) || { minX: Infinity, maxX: -Infinity, minY: Infinity };
    cur.minX = Math.min(cur.minX, s.x); cur.maxX = Math.max(cur.maxX, s.x); cur.minY = Math.min(cur.minY, s.y);
    by.set(s.sectionIndex, cur);
  }
  return [...by.entries()].map(([si, b]) => ({ x: (b.minX + b.maxX) / 2, y: b.minY - 0.9, text: names[si] }));
}

// Zoom with buttons and the wheel, pan by dragging: the viewBox moves, the
// circles do not, so a 20,000-seat map stays smooth.
export function enableZoom(svg, initial, host) {
  let [x, y, w, h] = initial;
  // Zoomed in, a finger on the map moves the map, not the page; at the whole
  // venue a vertical swipe still scrolls the page. Pinching zooms the map
  // either way (the browser's own pinch-zoom would zoom the whole page).
  const apply = () => {
    svg.setAttribute('viewBox', `${x} ${y} ${w} ${h}`);
    svg.style.touchAction = w < initial[2] ? 'none' : 'pan-y';
  };
  const zoom = (f, cx = x + w / 2, cy = y + h / 2) => {
    const nw = Math.min(initial[2], Math.max(initial[2] / 40, w * f));
    const nh = nw * (initial[3] / initial[2]);
    x = cx - (cx - x) * (nw / w); y = cy - (cy - y) * (nh / h); w = nw; h = nh; apply();
  };
  apply();
  const bar = document.createElement('div');
  bar.className = 'zoom-bar';
  bar.innerHTML = '<button type="button" class="button small" data-z="in" aria-label="Zoom in">+</button>' +
    '<button type="button" class="button small" data-z="out" aria-label="Zoom out">−</button>' +
    '<button type="button" class="button small" data-z="reset">Whole venue</button>';
  bar.addEventListener('click', (e) => {
    const z = e.target.closest('button')?.dataset.z;
    if (z === 'in') zoom(0.6); else if (z === 'out') zoom(1 / 0.6);
    else if (z === 'reset') { [x, y, w, h] = initial; apply(); }
  });
  host.prepend(bar);
  // The map's own units at a point of the screen.
  const toMap = (cx, cy) => new DOMPoint(cx, cy).matrixTransform(svg.getScreenCTM().inverse());
  const pointers = new Map();
  let drag = null;
  let pinch = null;
  svg.addEventListener('pointerdown', (e) => {
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      pinch = { d: Math.hypot(a.x - b.x, a.y - b.y), w };
      // A pinch is no tap: the seat under the first finger stays as it was.
      if (drag) drag.moved = true; else drag = { moved: true };
      return;
    }
    if (w < initial[2]) {
      drag = { px: e.clientX, py: e.clientY, x, y, moved: false };
      // The drag goes on when the finger leaves the map.
      try { svg.setPointerCapture(e.pointerId); } catch { /* not a live pointer: no capture needed */ }
    }
  });
  svg.addEventListener('pointermove', (e) => {
    if (!pointers.has(e.pointerId)) return;
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (pinch && pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const d = Math.hypot(a.x - b.x, a.y - b.y);
      if (d > 0 && pinch.d > 0) {
        const mid = toMap((a.x + b.x) / 2, (a.y + b.y) / 2);
        zoom((pinch.w * (pinch.d / d)) / w, mid.x, mid.y);
      }
      return;
    }
    if (!drag || drag.px === undefined) return;
    const scale = w / svg.clientWidth;
    const dx = (e.clientX - drag.px) * scale, dy = (e.clientY - drag.py) * scale;
    if (Math.abs(dx) + Math.abs(dy) > scale * 4) drag.moved = true;
    x = drag.x - dx; y = drag.y - dy; apply();
  });
  const end = (e) => {
    pointers.delete(e.pointerId);
    if (pointers.size < 2) pinch = null;
    if (pointers.size === 0) setTimeout(() => { drag = null; }, 0);
  };
  svg.addEventListener('pointerup', end);
  svg.addEventListener('pointercancel', end);
  svg.addEventListener('pointerleave', (e) => { if (!svg.hasPointerCapture?.(e.pointerId)) end(e); });
  svg.addEventListener('click', (e) => { if (drag?.moved) { e.stopImmediatePropagation(); e.preventDefault(); } }, true);
  return { zoomTo(cx, cy) { if (w >= initial[2]) zoom(0.5, cx, cy); } };
}
