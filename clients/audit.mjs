// npm graphql-http's server audits (the GraphQL over HTTP spec's MUSTs and
// SHOULDs, and notices for its MAYs) against the gateway. Prints every audit
// that is not ok, then one summary line; exits 1 on any warning or error.
import { serverAudits } from 'graphql-http';
import { url, authHeaders } from './lib.mjs';

const fetchFn = (input, init = {}) => fetch(input, { ...init, headers: { ...init.headers, ...authHeaders } });
const results = [];
for (const audit of serverAudits({ url, fetchFn })) {
  results.push({ id: audit.id, name: audit.name, ...(await audit.fn()) });
}
const count = (status) => results.filter((r) => r.status === status).length;
for (const r of results.filter((r) => r.status !== 'ok')) {
  const body = r.response ? ` (${r.response.status}: ${await r.response.text().catch(() => '')})` : '';
  console.log(`${r.status} ${r.id} ${r.name}: ${r.reason}${body}`);
}
console.log(`graphql-http audits: ${results.length} run, ${count('ok')} ok, ${count('notice')} notices, ${count('warn')} warnings, ${count('error')} errors`);
process.exit(count('warn') + count('error') > 0 ? 1 : 0);
