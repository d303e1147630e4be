// subscriptions-transport-ws, Apollo's legacy protocol (subprotocol
// graphql-ws): query, subscription and mutation over one socket.
import stw from 'subscriptions-transport-ws';
import WebSocket from 'ws';
import { run, step, wsURL, authHeaders, THREADS, COMMENT_ADDED, CREATE_COMMENT, threadOf, Inbox, postUntilDelivered } from './lib.mjs';

const { SubscriptionClient } = stw;

await run('subscriptions-transport-ws', async () => {
  const client = new SubscriptionClient(
    wsURL,
    { reconnect: false, connectionParams: authHeaders },
    WebSocket,
  );
  const once = (request) =>
    new Promise((resolve, reject) => {
      let result;
      client.request(request).subscribe({ next: (r) => (result = r), error: reject, complete: () => resolve(result) });
    });

  const thread = threadOf(await once({ query: THREADS }));
  step('query', thread);

  const inbox = new Inbox();
  let failed;
  const sub = client
    .request({ query: COMMENT_ADDED, variables: { threads: [thread] } })
    .subscribe({ next: (r) => inbox.push(r), error: (e) => (failed = e) });
  const text = await postUntilDelivered('subscriptions-transport-ws', inbox, (text) => {
    if (failed) throw failed;
    return once({ query: CREATE_COMMENT, variables: { input: { thread, text } } });
  });
  step('subscription', JSON.stringify(text));

  sub.unsubscribe();
  client.close();
  step('closed');
});
