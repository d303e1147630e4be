// The browser's EventSource, played by npm eventsource: GET with the
// operation in the URL and Accept: text/event-stream, for a query and for a
// subscription. EventSource cannot POST, so the comment is posted with fetch.
// Then the stream is dropped and reopened with Last-Event-ID, as EventSource
// does on reconnect, and replays what it missed.
import { EventSource } from 'eventsource';
import { run, step, url, authHeaders, THREADS, COMMENT_ADDED, CREATE_COMMENT, threadOf, Inbox, postUntilDelivered } from './lib.mjs';

// open streams one operation; onNext gets each result and the event's id.
function open(query, variables, onNext, { lastEventId } = {}) {
  const u = new URL(url);
  u.searchParams.set('query', query);
  if (variables) u.searchParams.set('variables', JSON.stringify(variables));
  let failed;
  const es = new EventSource(u, {
    fetch: (input, init) =>
      fetch(input, { ...init, headers: { ...init.headers, ...authHeaders, ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) } }),
  });
  const done = new Promise((resolve, reject) => {
    es.addEventListener('next', (ev) => onNext(JSON.parse(ev.data), ev.lastEventId));
    // The operation is over: close, or EventSource would reconnect.
    es.addEventListener('complete', () => {
      es.close();
      resolve();
    });
    es.addEventListener('error', (ev) => {
      failed = new Error(`EventSource error: ${ev.message ?? ev.code ?? 'connection failed'}`);
      es.close();
      reject(failed);
    });
  });
  return { es, done, failed: () => failed };
}

async function post(text, thread) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...authHeaders },
    body: JSON.stringify({ query: CREATE_COMMENT, variables: { input: { thread, text } } }),
  });
  if (!res.ok) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
  return res.json();
}

await run('eventsource', async () => {
  let result;
  await open(THREADS, null, (r) => (result = r)).done;
  const thread = threadOf(result);
  step('query', thread);

  const inbox = new Inbox();
  let lastId = '';
  const sub = open(COMMENT_ADDED, { threads: [thread] }, (r, id) => {
    inbox.push(r);
    lastId = id;
  });
  const text = await postUntilDelivered('eventsource', inbox, (text) => {
    if (sub.failed()) throw sub.failed();
    return post(text, thread);
  });
  if (!lastId) throw new Error('the event had no id: line');
  step('subscription', JSON.stringify(text));
  sub.es.close();
  step('closed');

  // Missed while away, then replayed on reconnect with Last-Event-ID.
  const missed = `eventsource missed ${Date.now()}`;
  await post(missed, thread);
  const replay = new Inbox();
  const resumed = open(COMMENT_ADDED, { threads: [thread] }, (r) => replay.push(r), { lastEventId: lastId });
  while (!replay.has(missed)) {
    if (resumed.failed()) throw resumed.failed();
    await replay.changed();
  }
  resumed.es.close();
  step('resumed', JSON.stringify(missed));
});
