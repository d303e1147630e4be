// graphql-sse in one of its modes: `node graphql-sse.mjs <url> distinct`
// (an event stream per operation) or `... single` (one reserved stream that
// every operation's results share).
import { createClient } from 'graphql-sse';
import { run, step, url, authHeaders, sinkClientCase } from './lib.mjs';

const mode = process.argv[3];
if (mode !== 'distinct' && mode !== 'single') {
  console.error('usage: node graphql-sse.mjs <url> distinct|single');
  process.exit(2);
}

await run(`graphql-sse ${mode}`, async () => {
  const client = createClient({ url, headers: authHeaders, singleConnection: mode === 'single', retryAttempts: 0 });
  await sinkClientCase(`graphql-sse ${mode}`, client);
  client.dispose();
  step('closed');
});
