// The day timeline page: reads /v1/freebusy for the chosen people and rooms over one day in a
// chosen time zone (default the browser's) and draws each mailbox's busy stretches on a 24-hour
// track, shading the hours outside its own working hours; with a meeting length, it asks
// /v1/availability for the common free time (every person, one of the rooms) and draws it on a
// track of its own. Plain DOM, no build step; the pure parts (zone, window and layout
// arithmetic) are exported for tests/ui/timeline.test.mjs.

/** The browser's own zone. */
export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Local wall time minus UTC (ms) in zone `tz` at instant `t` (ms). */
export function zoneOffset(t, tz) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(t));
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wall - Math.floor(t / 1000) * 1000;
}

/** The instant (ms) of `minutes` after local midnight of `date` (YYYY-MM-DD) in zone `tz`. */
export function zonedInstant(date, minutes, tz) {
  const [y, m, d] = date.split('-').map(Number);
  const wall = Date.UTC(y, m - 1, d, 0, minutes);
  // Twice: the offset at the first guess may be the other side of a DST change.
  const first = wall - zoneOffset(wall, tz);
  return wall - zoneOffset(first, tz);
}

/** `date` (YYYY-MM-DD) plus `days`. */
export function addDays(date, days) {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** The day `date` in zone `tz` (default the browser's) as RFC 3339 instants: 23 or 25 hours
 *  on the days the clocks change, as the calendar has them. */
export function dayWindow(date, tz = browserZone()) {
  const start = zonedInstant(date, 0, tz);
  const end = zonedInstant(addDays(date, 1), 0, tz);
  return { start: new Date(start).toISOString(), end: new Date(end).toISOString(), ms: [start, end] };
}

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

/** The stretches of [from, to) (ms) outside working hours `wh` ({days, startMinute, endMinute,
 *  timeZone}, as the API gives them), in the mailbox's own zone. */
export function offHours(wh, from, to) {
  const inside = [];
  const first = new Date(from - 86_400_000).toISOString().slice(0, 10);
  for (let i = 0; i < 4; i++) {
    const date = addDays(first, i);
    const weekday = WEEKDAYS[new Date(`${date}T00:00:00Z`).getUTCDay()];
    if (!wh.days.includes(weekday)) continue;
    inside.push([zonedInstant(date, wh.startMinute, wh.timeZone), zonedInstant(date, wh.endMinute, wh.timeZone)]);
  }
  const out = [];
  let at = from;
  for (const [s, e] of inside.sort((a, b) => a[0] - b[0])) {
    if (e <= at || s >= to) continue;
    if (s > at) out.push([at, Math.min(s, to)]);
    at = Math.max(at, e);
  }
  if (at < to) out.push([at, to]);
  return out;
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

const list = (text) => text.split(',').map((m) => m.trim()).filter(Boolean);

/** A block on a track from `left`/`width` percentages. */
function placed(className, title, left, width) {
  const block = el('div', { className, title });
  block.style.left = `${left}%`;
  block.style.width = `${width}%`;
  return block;
}

/** The common free time for the meeting length: slots joined into stretches. */
async function commonTrack(form, people, rooms, w, zone) {
  const participants = [{ mailboxes: people, required: 'all' }];
  if (rooms.length) participants.push({ mailboxes: rooms, required: 1 });
  const resp = await fetch(`${base(form.tenant.value)}/availability`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeaders(sessionStorage) },
    body: JSON.stringify({ start: w.start, end: w.end, duration: Number(form.duration.value), interval: 15, timeZone: zone, participants, maxSlots: 1000 }),
  });
  const body = await resp.json();
  const track = el('div', { className: 'track common-track' });
  if (!resp.ok) return [el('div', { className: 'who', textContent: 'Common free time' }, el('small', { className: 'error', textContent: body.detail || body.title })), track];
  const stretches = [];
  for (const s of body.slots) {
    const last = stretches[stretches.length - 1];
    if (last && Date.parse(s.start) <= last.e) last.e = Math.max(last.e, Date.parse(s.end));
    else stretches.push({ s: Date.parse(s.start), e: Date.parse(s.end) });
  }
  const span = w.ms[1] - w.ms[0];
  for (const { s, e } of stretches) {
    track.append(placed('block common', `everyone free ${new Date(s).toLocaleTimeString([], { timeZone: zone })}–${new Date(e).toLocaleTimeString([], { timeZone: zone })}`, ((s - w.ms[0]) / span) * 100, ((e - s) / span) * 100));
  }
  const blocked = body.blockedBy.map((b) => b.mailbox).join(', ');
  const note = blocked ? `no time: ${blocked} could not be read` : `${body.slots.length} start times for ${body.durationMinutes} minutes`;
  return [el('div', { className: 'who' }, 'Common free time', el('small', { className: blocked ? 'error' : '', textContent: note })), track];
}

async function show(form) {
  const people = list(form.mailboxes.value);
  const rooms = list(form.rooms.value);
  const mailboxes = [...people, ...rooms];
  const zone = form.zone.value.trim() || browserZone();
  const status = document.getElementById('status');
  const timeline = document.getElementById('timeline');
  location.hash = new URLSearchParams({ mailboxes: people.join(','), rooms: rooms.join(','), day: form.day.value, zone, duration: form.duration.value, tenant: form.tenant.value });
  document.getElementById('zone-note').textContent = `Times in ${zone}${zone === browserZone() ? ' (your browser\'s zone)' : ''}.`;
  if (!mailboxes.length) return;
  let w;
  try {
    w = dayWindow(form.day.value, zone);
  } catch {
    status.replaceChildren(el('p', { className: 'error', textContent: `'${zone}' is not a time zone` }));
    return;
  }
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
  if (form.duration.value && people.length) rows.push(...(await commonTrack(form, people, rooms, w, zone)));
  for (const m of body.mailboxes) {
    const note = m.error ? m.error.message : m.stale ? `stale: ${m.stale.message}` : m.cacheAgeSeconds !== undefined ? `cached ${m.cacheAgeSeconds} s ago` : '';
    rows.push(el('div', { className: 'who', title: m.mailbox }, m.mailbox, el('small', { className: m.error || m.stale ? 'error' : '', textContent: note })));
    const track = el('div', { className: m.error ? 'track unreadable' : 'track', title: m.error ? m.error.message : '' });
    if (!m.error) {
      const span = w.ms[1] - w.ms[0];
      if (m.workingHours) {
        for (const [s, e] of offHours(m.workingHours, ...w.ms)) {
          track.append(placed('off-hours', `outside ${m.mailbox}'s working hours (${m.workingHours.timeZone})`, ((s - w.ms[0]) / span) * 100, ((e - s) / span) * 100));
        }
      }
      const events = m.events || [];
      for (const b of layout(m.busy, ...w.ms)) {
        const subjects = events.filter((e) => e.start < b.end && e.end > b.start && e.subject).map((e) => e.subject);
        const when = `${new Date(b.start).toLocaleTimeString([], { timeZone: zone })}–${new Date(b.end).toLocaleTimeString([], { timeZone: zone })}`;
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

async function suggest(form, field) {
  const input = form[field];
  const last = input.value.split(',').pop().trim();
  if (last.length < 2) return;
  const list = document.getElementById('directory');
  const options = [];
  for (const kind of field === 'rooms' ? ['room'] : ['person', 'room']) {
    const resp = await call(`${base(form.tenant.value)}/directory?${new URLSearchParams({ q: last, kind, max: '10' })}`);
    if (!resp.ok) continue;
    const prefix = input.value.split(',').slice(0, -1).map((m) => m.trim()).filter(Boolean);
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
  form.rooms.value = saved.get('rooms') || '';
  form.tenant.value = saved.get('tenant') || '';
  form.zone.value = saved.get('zone') || browserZone();
  if (saved.has('duration')) form.duration.value = saved.get('duration');
  document.getElementById('zones').replaceChildren(
    ...['UTC', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'America/Los_Angeles', 'Asia/Kolkata', 'Asia/Tokyo', 'Australia/Sydney']
      .map((z) => el('option', { value: z })),
  );
  const today = () => new Date().toLocaleDateString('sv', { timeZone: form.zone.value || browserZone() }); // YYYY-MM-DD
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
  form.mailboxes.addEventListener('input', () => suggest(form, 'mailboxes'));
  form.rooms.addEventListener('input', () => suggest(form, 'rooms'));
  if (form.mailboxes.value || form.rooms.value) show(form);
  // Today's timeline refreshes every minute (a wall display, a room panel); the host's cache
  // makes that cheap upstream.
  setInterval(() => {
    if ((form.mailboxes.value || form.rooms.value) && form.day.value === today()) show(form);
  }, 60_000);
}
