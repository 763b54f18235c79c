// Shared helpers for the page scripts: the REST API through /app/api (the
// session cookie stands in for the bearer token; writes carry the CSRF
// token), problem+json as sentences, money and times as people read them.

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? '';
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `The server answered ${status}.`);
    this.status = status;
    this.problem = problem || {};
  }
}

// Calls /api/v1/... as the signed-in user. Resolves to the JSON body (or
// null for 204); rejects with ApiError (problem+json) or a TypeError when
// the network is down.
export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrfToken();
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/app/api/v1${path}`, {
    method, headers, signal, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json().catch(() => null) : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// Public reads need no session: straight to the API.
export async function publicGet(path, { signal } = {}) {
  const res = await fetch(`/api/v1${path}`, { headers: { accept: 'application/json' }, signal });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export function sentence(error) {
  if (error instanceof ApiError) {
    const d = error.problem?.detail || error.message;
    return d.charAt(0).toUpperCase() + d.slice(1) + (/[.!?]$/.test(d) ? '' : '.');
  }
  return 'The network is not reachable. Check the connection and try again.';
}

const EXPONENTS = { JPY: 0, KRW: 0, ISK: 0, CLP: 0, VND: 0, KWD: 3, BHD: 3, JOD: 3, OMR: 3, TND: 3 };

// {amount: 4500, currency: "EUR"} -> "EUR 45.00", exact at the currency's exponent.
export function money(m) {
  if (!m) return '–';
  const exp = EXPONENTS[m.currency] ?? 2;
  const neg = m.amount < 0;
  const abs = Math.abs(m.amount);
  if (exp === 0) return `${m.currency} ${neg ? '-' : ''}${abs}`;
  const scale = 10 ** exp;
  const whole = Math.floor(abs / scale);
  const frac = String(abs % scale).padStart(exp, '0');
  return `${m.currency} ${neg ? '-' : ''}${whole.toLocaleString('en-US')}.${frac}`;
}

// A time as the server writes it ("Sat 14 Jun 2025, 19:30 CEST"), in
// `timeZone` or, without one, this device's zone: the same shape on every
// page, whichever side drew it.
export function localTime(iso, timeZone) {
  const at = new Date(iso);
  try {
    const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', {
      weekday: 'short', day: 'numeric', month: 'short', year: 'numeric',
      hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone, timeZoneName: 'short',
    }).formatToParts(at).map((p) => [p.type, p.value]));
    return `${parts.weekday} ${parts.day} ${parts.month} ${parts.year}, ${parts.hour}:${parts.minute} ${parts.timeZoneName}`;
  } catch {
    return at.toUTCString();
  }
}

// Only the hour and minute of a time, on this device's 24-hour clock, as
// the rest of the site writes them.
export function clockTime(iso) {
  return new Date(iso).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) node.append(c);
  return node;
}

export function readIsland(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}
