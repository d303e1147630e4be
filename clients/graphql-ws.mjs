// graphql-ws (protocol graphql-transport-ws): query, subscription and
// mutation all over one socket.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { run, step, wsURL, authHeaders, sinkClientCase } from './lib.mjs';

await run('graphql-ws', async () => {
  const client = createClient({
    url: wsURL,
    webSocketImpl: WebSocket,
    connectionParams: authHeaders,
    retryAttempts: 0,
  });
  await sinkClientCase('graphql-ws', client);
  await client.dispose();
  step('closed');
});
