// urql (@urql/core, the client under urql's framework bindings): queries as
// GET within the URL limit (its default), mutations as POST, subscriptions
// through subscriptionExchange over graphql-ws.
import { Client, fetchExchange, subscriptionExchange, gql } from '@urql/core';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { run, step, url, wsURL, authHeaders, THREADS, COMMENT_ADDED, CREATE_COMMENT, threadOf, Inbox, postUntilDelivered } from './lib.mjs';

await run('urql', async () => {
  const ws = createClient({
    url: wsURL,
    webSocketImpl: WebSocket,
    connectionParams: authHeaders,
    retryAttempts: 0,
  });
  const client = new Client({
    url,
    fetchOptions: { headers: authHeaders },
    requestPolicy: 'network-only',
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query || '' }, sink) }),
        }),
      }),
    ],
  });
  const check = (r) => {
    if (r.error) throw r.error;
    return r;
  };

  const thread = threadOf(check(await client.query(gql(THREADS), {}).toPromise()));
  step('query', thread);

  const inbox = new Inbox();
  let failed;
  const sub = client.subscription(gql(COMMENT_ADDED), { threads: [thread] }).subscribe((r) => {
    if (r.error) failed = r.error;
    else inbox.push(r);
  });
  const text = await postUntilDelivered('urql', inbox, async (text) => {
    if (failed) throw failed;
    return check(await client.mutation(gql(CREATE_COMMENT), { input: { thread, text } }).toPromise());
  });
  step('subscription', JSON.stringify(text));

  sub.unsubscribe();
  await ws.dispose();
  step('closed');
});
