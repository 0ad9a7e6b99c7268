// Google's own Node client (@googleapis/calendar) against a running emulator started with --no-auth --allow-http:
// every push-notification call and change the emulator models, and the errors it answers, printed one JSON line
// each, with the values that change from run to run (times, generated ids) masked. Run it against two builds of the
// emulator and diff the output: the emulator must give the Node client the same answers.
//   node check.mjs http://127.0.0.1:8085/
import { calendar } from '@googleapis/calendar';

const root = process.argv[2];
if (!root) {
  console.error('Usage: node check.mjs <emulator root, e.g. http://127.0.0.1:8085/>');
  process.exit(2);
}

const api = calendar({ version: 'v3', rootUrl: root, retry: false });
const hook = new URL('emulator/v1/sink', root).toString();

function mask(value) {
  return JSON.parse(JSON.stringify(value ?? null, (key, v) => {
    if (['expiration', 'created', 'updated', 'etag'].includes(key)) return '<varies>';
    if (key === 'id' && typeof v === 'string' && /^[0-9a-f]{32}$/.test(v)) return '<generated>';
    return v;
  }));
}

async function call(name, run) {
  try {
    const answer = await run();
    console.log(JSON.stringify({ name, status: answer.status, data: mask(answer.data) }));
    return answer.data;
  } catch (error) {
    console.log(JSON.stringify({ name, status: error.response?.status ?? null, error: mask(error.response?.data ?? error.message) }));
    return null;
  }
}

const calendarId = 'user@example.com';
const events = await call('events.watch', () => api.events.watch({ calendarId: 'primary', requestBody: { id: 'node-events-1', type: 'web_hook', address: hook, token: 't1', params: { ttl: '3600' } } }));
await call('events.watch typed', () => api.events.watch({ calendarId, eventTypes: ['focusTime', 'default'], requestBody: { id: 'node-events-2', type: 'web_hook', address: hook } }));
const acl = await call('acl.watch', () => api.acl.watch({ calendarId, requestBody: { id: 'node-acl-1', type: 'web_hook', address: hook } }));
await call('calendarList.watch', () => api.calendarList.watch({ requestBody: { id: 'node-list-1', type: 'web_hook', address: hook } }));
await call('settings.watch', () => api.settings.watch({ requestBody: { id: 'node-settings-1', type: 'web_hook', address: hook } }));

const inserted = await call('events.insert', () => api.events.insert({ calendarId, requestBody: { id: 'nodeevent1', summary: 'hello' } }));
await call('events.insert duplicate', () => api.events.insert({ calendarId, requestBody: { id: 'nodeevent1' } }));
await call('events.insert generated id', () => api.events.insert({ calendarId, requestBody: { summary: 'generated' } }));
await call('events.patch', () => api.events.patch({ calendarId, eventId: inserted?.id ?? 'nodeevent1', requestBody: { summary: 'moved', eventType: 'focusTime' } }));
await call('events.delete', () => api.events.delete({ calendarId, eventId: 'nodeevent1' }));
await call('events.delete again', () => api.events.delete({ calendarId, eventId: 'nodeevent1' }));
await call('acl.insert', () => api.acl.insert({ calendarId, requestBody: { role: 'reader', scope: { type: 'user', value: 'bob@example.com' } } }));
await call('acl.delete', () => api.acl.delete({ calendarId, ruleId: 'user:bob@example.com' }));
await call('acl.delete again', () => api.acl.delete({ calendarId, ruleId: 'user:bob@example.com' }));

await call('events.watch bad ttl', () => api.events.watch({ calendarId, requestBody: { id: 'node-bad-1', type: 'web_hook', address: hook, params: { ttl: '-5' } } }));
await call('events.watch https only?', () => api.events.watch({ calendarId, requestBody: { id: 'node-bad-2', type: 'web_hook', address: 'ftp://example.com/x' } }));
await call('events.watch unknown calendar', () => api.events.watch({ calendarId: 'nobody@example.com', requestBody: { id: 'node-bad-3', type: 'web_hook', address: hook } }));
await call('events.watch holiday', () => api.events.watch({ calendarId: 'en.usa#holiday@group.v.calendar.google.com', requestBody: { id: 'node-bad-4', type: 'web_hook', address: hook } }));
await call('events.watch taken id', () => api.events.watch({ calendarId, requestBody: { id: 'node-events-1', type: 'web_hook', address: hook } }));

await call('channels.stop', () => api.channels.stop({ requestBody: { id: 'node-events-1', resourceId: events?.resourceId } }));
await call('channels.stop again', () => api.channels.stop({ requestBody: { id: 'node-events-1', resourceId: events?.resourceId } }));
await call('channels.stop wrong resourceId', () => api.channels.stop({ requestBody: { id: 'node-acl-1', resourceId: 'wrong' } }));
await call('channels.stop acl', () => api.channels.stop({ requestBody: { id: 'node-acl-1', resourceId: acl?.resourceId } }));
