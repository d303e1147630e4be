// graphql-ws (protocol graphql-transport-ws): query, subscription and
// mutation all over one socket.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { run, step, wsURL, apiKey, THREADS, COMMENT_ADDED, CREATE_COMMENT, threadOf, Inbox, postUntilDelivered } from './lib.mjs';

await run('graphql-ws', async () => {
  const client = createClient({
    url: wsURL,
    webSocketImpl: WebSocket,
    connectionParams: apiKey ? { Authorization: `Bearer ${apiKey}` } : {},
    retryAttempts: 0,
  });
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
  const text = await postUntilDelivered('graphql-ws', inbox, (text) => {
    if (failed) throw failed;
    return once({ query: CREATE_COMMENT, variables: { input: { thread, text } } });
  });
  step('subscription', JSON.stringify(text));

  unsubscribe();
  await client.dispose();
  step('closed');
});
