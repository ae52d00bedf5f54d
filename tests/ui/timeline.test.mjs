// The timeline page's arithmetic, run by tests/tests/api_validation.rs with TZ=Europe/Berlin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authHeaders, dayWindow, KEY_SLOT, layout, offHours, zonedInstant } from '../../host/src/http/ui/app.mjs';

test('a local day is 24 hours, and 23 on the spring DST change', () => {
  const normal = dayWindow('2026-03-23');
  assert.equal(normal.start, '2026-03-22T23:00:00.000Z');
  assert.equal(normal.ms[1] - normal.ms[0], 24 * 3600e3);
  const spring = dayWindow('2026-03-29');
  assert.equal(spring.ms[1] - spring.ms[0], 23 * 3600e3);
});

test('busy stretches are clipped to the day and placed by percentage', () => {
  const day = dayWindow('2026-03-23');
  const blocks = layout(
    [
      { start: '2026-03-22T20:00:00Z', end: '2026-03-23T05:00:00Z', status: 'out-of-office' },
      { start: '2026-03-23T11:00:00Z', end: '2026-03-23T12:00:00Z', status: 'busy' },
      { start: '2026-03-24T08:00:00Z', end: '2026-03-24T09:00:00Z', status: 'busy' },
    ],
    ...day.ms,
  );
  assert.equal(blocks.length, 2, 'the next day is not drawn');
  assert.equal(blocks[0].left, 0);
  assert.equal(blocks[0].width, (6 / 24) * 100);
  assert.equal(blocks[1].left, (12 / 24) * 100);
  assert.equal(blocks[1].status, 'busy');
});

test('the API key goes in the Authorization header from session storage, never the URL', () => {
  const storage = new Map();
  const session = { getItem: (k) => storage.get(k) ?? null };
  assert.deepEqual(authHeaders(session), {});
  storage.set(KEY_SLOT, 'fbk_0123456789abcdef_secret');
  assert.deepEqual(authHeaders(session), { Authorization: 'Bearer fbk_0123456789abcdef_secret' });
});

test('a day in another zone than the browser\'s, across that zone\'s own DST change', () => {
  // New York springs forward on 8 March 2026: that day has 23 hours there, starting at 05:00Z.
  const ny = dayWindow('2026-03-08', 'America/New_York');
  assert.equal(ny.start, '2026-03-08T05:00:00.000Z');
  assert.equal(ny.ms[1] - ny.ms[0], 23 * 3600e3);
  assert.equal(zonedInstant('2026-03-09', 9 * 60, 'America/New_York'), Date.parse('2026-03-09T13:00:00Z'));
  assert.equal(zonedInstant('2026-03-23', 9 * 60 + 30, 'Asia/Kolkata'), Date.parse('2026-03-23T04:00:00Z'));
});

test('hours outside a mailbox\'s working hours are shaded in its own zone', () => {
  const day = dayWindow('2026-03-30', 'Europe/Berlin'); // a Monday, just after Europe's change
  const wh = { days: ['monday', 'tuesday'], startMinute: 9 * 60, endMinute: 17 * 60, timeZone: 'America/New_York' };
  // New York 09:00-17:00 EDT is 13:00-21:00Z, i.e. 15:00-23:00 in Berlin (CEST).
  assert.deepEqual(offHours(wh, ...day.ms), [
    [day.ms[0], Date.parse('2026-03-30T13:00:00Z')],
    [Date.parse('2026-03-30T21:00:00Z'), day.ms[1]],
  ]);
  // A day that is not a working day is shaded whole.
  const sunday = dayWindow('2026-03-29', 'Europe/Berlin');
  assert.deepEqual(offHours(wh, ...sunday.ms), [[sunday.ms[0], sunday.ms[1]]]);
});
