// What every client script shares: the gateway's URL and key, the three
// operations, and one run that prints each step and ends with PASS or FAIL.
//
// Usage: node <client>.mjs http://127.0.0.1:PORT/query
// COMMENTGRAPH_API_KEY, when set, is sent as each client sends credentials.

export const url = process.argv[2];
if (!url) {
  console.error('usage: node <client>.mjs http://host:port/query');
  process.exit(2);
}
export const wsURL = url.replace(/^http/, 'ws');
const apiKey = process.env.COMMENTGRAPH_API_KEY ?? '';
export const authHeaders = apiKey ? { Authorization: `Bearer ${apiKey}` } : {};

export const THREADS = 'query Threads { providers { id threads(first: 1) { nodes { id } } } }';
export const COMMENT_ADDED = 'subscription Added($threads: [ID!]) { commentAdded(threads: $threads) { id text } }';
export const CREATE_COMMENT = 'mutation Post($input: CreateCommentInput!) { createComment(input: $input) { comment { id text } } }';

// threadOf is the first K-LINK thread in a THREADS result.
export function threadOf(result) {
  if (result.errors?.length) throw new Error(`query errors: ${JSON.stringify(result.errors)}`);
  const klink = result.data?.providers?.find((p) => p.id === 'klink');
  const id = klink?.threads?.nodes?.[0]?.id;
  if (!id) throw new Error(`no K-LINK thread in ${JSON.stringify(result.data)}`);
  return id;
}

export function step(name, detail = '') {
  console.log(`ok ${name}${detail ? ' ' + detail : ''}`);
}

// Inbox collects the texts a subscription delivers.
export class Inbox {
  #texts = [];
  #waiters = [];
  push(result) {
    if (result.errors?.length) throw new Error(`subscription errors: ${JSON.stringify(result.errors)}`);
    const text = result.data?.commentAdded?.text;
    if (typeof text !== 'string') return;
    this.#texts.push(text);
    // Each waiter is a promise resolved once: hand them over and start anew.
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
  has(text) {
    return this.#texts.includes(text);
  }
  changed() {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

// postUntilDelivered posts a comment through the client and waits for the
// subscription to deliver it. The protocols do not all tell a client when its
// subscription is live, so until one arrives it posts again (each text its
// own) every 500 ms.
export async function postUntilDelivered(label, inbox, post) {
  const sent = [];
  for (let i = 1; ; i++) {
    const text = `${label} #${i} ${Date.now()}`;
    const result = await post(text);
    if (result?.errors?.length) throw new Error(`mutation errors: ${JSON.stringify(result.errors)}`);
    sent.push(text);
    const deadline = new Promise((resolve) => setTimeout(resolve, 500));
    for (;;) {
      const seen = sent.find((t) => inbox.has(t));
      if (seen) return seen;
      if ((await Promise.race([inbox.changed().then(() => 'changed'), deadline.then(() => 'timeout')])) === 'timeout') break;
    }
  }
}

// sinkClientCase runs the query, the subscription and the mutation through a
// client of the API graphql-ws and graphql-sse share, subscribe(payload,
// sink) returning the function that unsubscribes, and unsubscribes; the
// caller disposes of the client.
export async function sinkClientCase(label, client) {
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
  const text = await postUntilDelivered(label, inbox, (text) => {
    if (failed) throw failed;
    return once({ query: CREATE_COMMENT, variables: { input: { thread, text } } });
  });
  step('subscription', JSON.stringify(text));

  unsubscribe();
}

// run runs a client's case with a deadline and reports PASS or FAIL.
export async function run(name, fn, timeoutMs = 15000) {
  const timer = setTimeout(() => {
    console.log(`FAIL ${name}: no result within ${timeoutMs} ms`);
    process.exit(1);
  }, timeoutMs);
  try {
    await fn();
    clearTimeout(timer);
    console.log(`PASS ${name}`);
    process.exit(0);
  } catch (err) {
    clearTimeout(timer);
    console.log(`FAIL ${name}: ${err?.stack ?? err}`);
    process.exit(1);
  }
}
