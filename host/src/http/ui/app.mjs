// The day timeline page: reads /v1/freebusy for the chosen mailboxes over one local day and
// draws each mailbox's busy stretches on a 24-hour track. Plain DOM, no build step; the pure
// parts (window and layout arithmetic) are exported for tests/ui/timeline.test.mjs.

/** The local day starting at `date` (YYYY-MM-DD) as RFC 3339 instants with the browser's offset. */
export function dayWindow(date) {
  const start = new Date(`${date}T00:00:00`);
  const end = new Date(start);
  end.setDate(end.getDate() + 1); // 23 or 25 hours on DST days, as the calendar has them
  return { start: start.toISOString(), end: end.toISOString(), ms: [start.getTime(), end.getTime()] };
}

/** Busy stretches as left/width percentages of the window [from, to) (ms), clipped to it. */
export function layout(busy, from, to) {
  const span = to - from;
  return busy
    .map((b) => ({ ...b, s: Math.max(Date.parse(b.start), from), e: Math.min(Date.parse(b.end), to) }))
    .filter((b) => b.e > b.s)
    .map((b) => ({ status: b.status, left: ((b.s - from) / span) * 100, width: ((b.e - b.s) / span) * 100, start: b.start, end: b.end }));
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, attrs);
  node.append(...children);
  return node;
}

function base(tenant) {
  return tenant ? `/v1/tenants/${encodeURIComponent(tenant)}` : '/v1';
}

/** Where the page keeps the API key: this tab's sessionStorage, never the URL. */
export const KEY_SLOT = 'freebusy.apiKey';

/** Request headers carrying the key `storage` holds, if any. */
export function authHeaders(storage) {
  const key = storage.getItem(KEY_SLOT);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** GET `path` with the key; a 401 shows the key form with the service's reason. */
async function call(path) {
  const resp = await fetch(path, { headers: authHeaders(sessionStorage) });
  if (resp.status === 401) {
    const form = document.getElementById('key');
    form.hidden = false;
    form.key.focus();
  }
  return resp;
}

async function show(form) {
  const mailboxes = form.mailboxes.value.split(',').map((m) => m.trim()).filter(Boolean);
  const status = document.getElementById('status');
  const timeline = document.getElementById('timeline');
  location.hash = new URLSearchParams({ mailboxes: mailboxes.join(','), day: form.day.value, tenant: form.tenant.value });
  if (!mailboxes.length) return;
  const w = dayWindow(form.day.value);
  const query = new URLSearchParams({ mailboxes: mailboxes.join(','), start: w.start, end: w.end, details: 'true' });
  status.textContent = 'Asking…';
  const resp = await call(`${base(form.tenant.value)}/freebusy?${query}`);
  const body = await resp.json();
  if (!resp.ok) {
    status.replaceChildren(el('p', { className: 'error', textContent: body.detail || body.title }));
    timeline.replaceChildren();
    return;
  }
  status.replaceChildren();
  const hours = el('div', { className: 'hours' }, ...[0, 3, 6, 9, 12, 15, 18, 21, 24].map((h) => el('span', { textContent: `${h}` })));
  const rows = [el('div'), hours];
  for (const m of body.mailboxes) {
    const note = m.error ? m.error.message : m.stale ? `stale: ${m.stale.message}` : m.cacheAgeSeconds !== undefined ? `cached ${m.cacheAgeSeconds} s ago` : '';
    rows.push(el('div', { className: 'who', title: m.mailbox }, m.mailbox, el('small', { className: m.error || m.stale ? 'error' : '', textContent: note })));
    const track = el('div', { className: m.error ? 'track unreadable' : 'track', title: m.error ? m.error.message : '' });
    if (!m.error) {
      const events = m.events || [];
      for (const b of layout(m.busy, ...w.ms)) {
        const subjects = events.filter((e) => e.start < b.end && e.end > b.start && e.subject).map((e) => e.subject);
        const when = `${new Date(b.start).toLocaleTimeString()}–${new Date(b.end).toLocaleTimeString()}`;
        const block = el('div', { className: `block ${b.status}`, title: [`${b.status} ${when}`, ...subjects].join('\n') });
        block.style.left = `${b.left}%`;
        block.style.width = `${b.width}%`;
        track.append(block);
      }
      const now = Date.now();
      if (now >= w.ms[0] && now < w.ms[1]) {
        const marker = el('div', { className: 'now' });
        marker.style.left = `${((now - w.ms[0]) / (w.ms[1] - w.ms[0])) * 100}%`;
        track.append(marker);
      }
    }
    rows.push(track);
  }
  timeline.replaceChildren(...rows);
}

async function suggest(form) {
  const last = form.mailboxes.value.split(',').pop().trim();
  if (last.length < 2) return;
  const list = document.getElementById('directory');
  const options = [];
  for (const kind of ['person', 'room']) {
    const resp = await call(`${base(form.tenant.value)}/directory?${new URLSearchParams({ q: last, kind, max: '10' })}`);
    if (!resp.ok) continue;
    const prefix = form.mailboxes.value.split(',').slice(0, -1).map((m) => m.trim()).filter(Boolean);
    for (const e of (await resp.json()).entries) {
      options.push(el('option', { value: [...prefix, e.address].join(', '), textContent: `${e.displayName} (${kind})` }));
    }
  }
  list.replaceChildren(...options);
}

if (typeof document !== 'undefined') {
  const form = document.getElementById('query');
  const saved = new URLSearchParams(location.hash.slice(1));
  form.mailboxes.value = saved.get('mailboxes') || '';
  form.tenant.value = saved.get('tenant') || '';
  const today = () => new Date().toLocaleDateString('sv'); // YYYY-MM-DD, local
  form.day.value = saved.get('day') || today();
  form.addEventListener('submit', (e) => { e.preventDefault(); show(form); });
  const keyForm = document.getElementById('key');
  keyForm.addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY_SLOT, keyForm.key.value.trim());
    keyForm.key.value = '';
    keyForm.hidden = true;
    show(form);
  });
  form.mailboxes.addEventListener('input', () => suggest(form));
  if (form.mailboxes.value) show(form);
  // Today's timeline refreshes every minute (a wall display, a room panel); the host's cache
  // makes that cheap upstream.
  setInterval(() => {
    if (form.mailboxes.value && form.day.value === today()) show(form);
  }, 60_000);
}
