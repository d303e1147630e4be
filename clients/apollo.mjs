// Apollo Client: queries and mutations over HttpLink (POST), subscriptions
// over GraphQLWsLink (graphql-ws), split by operation as Apollo's docs do.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { run, step, url, wsURL, authHeaders, THREADS, COMMENT_ADDED, CREATE_COMMENT, threadOf, Inbox, postUntilDelivered } from './lib.mjs';

await run('apollo', async () => {
  const ws = createClient({
    url: wsURL,
    webSocketImpl: WebSocket,
    connectionParams: authHeaders,
    retryAttempts: 0,
  });
  const link = ApolloLink.split(
    ({ query }) => {
      const def = getMainDefinition(query);
      return def.kind === 'OperationDefinition' && def.operation === 'subscription';
    },
    new GraphQLWsLink(ws),
    new HttpLink({ uri: url, headers: authHeaders }),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });

  const thread = threadOf(await client.query({ query: gql(THREADS), fetchPolicy: 'no-cache' }));
  step('query', thread);

  const inbox = new Inbox();
  let failed;
  const sub = client
    .subscribe({ query: gql(COMMENT_ADDED), variables: { threads: [thread] } })
    .subscribe({ next: (r) => inbox.push(r), error: (e) => (failed = e) });
  const text = await postUntilDelivered('apollo', inbox, (text) => {
    if (failed) throw failed;
    return client.mutate({ mutation: gql(CREATE_COMMENT), variables: { input: { thread, text } } });
  });
  step('subscription', JSON.stringify(text));

  sub.unsubscribe();
  client.stop();
  await ws.dispose();
  step('closed');
});
