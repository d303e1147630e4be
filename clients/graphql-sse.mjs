// graphql-sse in one of its modes: `node graphql-sse.mjs <url> distinct`
// (an event stream per operation) or `... single` (one reserved stream that
// every operation's results share).
import { createClient } from 'graphql-sse';
import { run, step, url, authHeaders, THREADS, COMMENT_ADDED, CREATE_COMMENT, threadOf, Inbox, postUntilDelivered } from './lib.mjs';

const mode = process.argv[3];
if (mode !== 'distinct' && mode !== 'single') {
  console.error('usage: node graphql-sse.mjs <url> distinct|single');
  process.exit(2);
}

await run(`graphql-sse ${mode}`, async () => {
  const client = createClient({ url, headers: authHeaders, singleConnection: mode === 'single', retryAttempts: 0 });
  const once = (payload) =>
    new Promise((resolve, reject) => {
      let result;
      client.subscribe(payload, { next: (r) => (result = r), error: reject, complete: () => resolve(result) });
    });

  const thread = threadOf(await once({ query: THREADS }));
  step('query', thread);

  const inbox = new Inbox();
  let failed;
  const unsubscribe = client.subscribe(
    { query: COMMENT_ADDED, variables: { threads: [thread] } },
    { next: (r) => inbox.push(r), error: (e) => (failed = e), complete: () => {} },
  );
  const text = await postUntilDelivered(`graphql-sse ${mode}`, inbox, (text) => {
    if (failed) throw failed;
    return once({ query: CREATE_COMMENT, variables: { input: { thread, text } } });
  });
  step('subscription', JSON.stringify(text));

  unsubscribe();
  client.dispose();
  step('closed');
});
