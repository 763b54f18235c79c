// The venue builder: add sections and standing areas, and see the seat map
// as you type. The layout mirrors the server's (domain::seatmap): seats one
// unit apart, rows 1.2 apart, curved rows on circles, sections stacked.
import { drawSeats, sectionLabels } from './seatmap.js';

const SEAT_PITCH = 1.0;
const ROW_PITCH = 1.2;
const SECTION_GAP = 3.0;
const CURVE_RADIUS_DEFAULT = 40;
const PREVIEW_SEATS_MAX = 60000;

const form = document.getElementById('venue-form');
const sectionsBox = document.getElementById('sections');
const gaBox = document.getElementById('ga-areas');
const preview = document.getElementById('venue-preview');
const total = document.getElementById('builder-total');
const panel = document.getElementById('preview-panel');

function renumber(box, prefix) {
  [...box.querySelectorAll('fieldset')].forEach((fs, n) => {
    fs.querySelector('legend').textContent = `${prefix} ${n + 1}`;
    for (const input of fs.querySelectorAll('input, select')) {
      const base = input.name;
      input.id = `${base}_${n}`;
      const label = fs.querySelector(`label[for^="${base}_"]`);
      if (label) label.htmlFor = input.id;
    }
  });
}

function addFrom(box, prefix) {
  const last = box.querySelector('fieldset:last-of-type');
  const copy = last.cloneNode(true);
  for (const input of copy.querySelectorAll('input')) input.value = '';
  box.append(copy);
  renumber(box, prefix);
  copy.querySelector('input')?.focus();
  update();
}

function readSections() {
  return [...sectionsBox.querySelectorAll('fieldset')].map((fs) => ({
    name: fs.querySelector('[name="section_name"]').value.trim(),
    zone: fs.querySelector('[name="section_zone"]').value.trim(),
    rows: parseInt(fs.querySelector('[name="section_rows"]').value, 10) || 0,
    seats: parseInt(fs.querySelector('[name="section_seats"]').value, 10) || 0,
    curved: fs.querySelector('[name="section_shape"]').value === 'curved',
    radius: parseFloat(fs.querySelector('[name="section_radius"]').value) || CURVE_RADIUS_DEFAULT,
  })).filter((s) => s.rows > 0 && s.seats > 0);
}

function layout(sections) {
  const seats = [];
  let nextTop = 0;
  const zoneOrder = [];
  sections.forEach((s, si) => {
    const zone = s.zone || s.name.toLowerCase();
    if (!zoneOrder.includes(zone)) zoneOrder.push(zone);
    const oy = nextTop;
    let maxY = oy;
    const first = seats.length;
    for (let r = 0; r < s.rows; r++) {
      const centre = (s.seats - 1) / 2;
      const off = r * ROW_PITCH;
      for (let i = 0; i < s.seats; i++) {
        const along = (i - centre) * SEAT_PITCH;
        let x, y;
        if (s.curved) { const rad = s.radius + off; const t = along / rad; x = rad * Math.sin(t); y = oy - s.radius + rad * Math.cos(t); }
        else { x = along; y = oy + off; }
        maxY = Math.max(maxY, y);
        seats.push({ x, y, zone, sectionIndex: si });
      }
    }
    // As the server does: a curved section's row ends rise above its
    // origin, so it moves down until it clears the section before.
    let top = Infinity;
    for (let k = first; k < seats.length; k++) top = Math.min(top, seats[k].y);
    if (top < nextTop) {
      const down = nextTop - top;
      for (let k = first; k < seats.length; k++) seats[k].y += down;
      maxY += down;
    }
    nextTop = Math.max(nextTop, maxY + SECTION_GAP);
  });
  return { seats, zoneOrder };
}

let pending = false;
function update() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    const sections = readSections();
    const seatCount = sections.reduce((n, s) => n + s.rows * s.seats, 0);
    const standing = [...gaBox.querySelectorAll('[name="ga_capacity"]')].reduce((n, i) => n + (parseInt(i.value, 10) || 0), 0);
    total.textContent = `${seatCount.toLocaleString('en-US')} seats${standing ? ` and ${standing.toLocaleString('en-US')} standing places` : ''}.`;
    if (seatCount > PREVIEW_SEATS_MAX) { preview.textContent = 'Too many seats to preview; the venue can still be created.'; return; }
    if (!seatCount) { preview.textContent = 'Add rows and seats to see the map.'; return; }
    const { seats, zoneOrder } = layout(sections);
    drawSeats(preview, { seats }, {
      zoneClass: (s) => `z${zoneOrder.indexOf(s.zone) % 8}`,
      label: 'Preview of the seat map',
      sectionLabels: sectionLabels({ seats }, sections.map((s) => s.name || 'Section')),
    });
    preview.querySelector('svg')?.removeAttribute('tabindex');
    preview.querySelector('svg')?.setAttribute('role', 'img');
  });
}

if (form) {
  panel.hidden = false;
  const addSection = document.getElementById('add-section');
  const addGa = document.getElementById('add-ga');
  addSection.hidden = false; addGa.hidden = false;
  addSection.addEventListener('click', () => addFrom(sectionsBox, 'Section'));
  addGa.addEventListener('click', () => addFrom(gaBox, 'Standing area'));
  form.addEventListener('input', update);
  form.addEventListener('change', update);
  update();
}
