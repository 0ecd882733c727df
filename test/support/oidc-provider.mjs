// A real OpenID provider (panva's oidc-provider) on a loopback port, run as its own process:
// the package ships ES modules only, which Jest's CommonJS runtime cannot load. Started by
// oidc-provider.ts, it talks over IPC: {ready, issuer} once listening, and {count} in answer to
// 'count' (introspection requests received so far).
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const clientId = process.env.OIDC_CLIENT_ID;
const clientSecret = process.env.OIDC_CLIENT_SECRET;
let introspections = 0;

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys: [{ ...signing.export({ format: 'jwk' }), kid: 'test-1', use: 'sig' }] },
  cookies: { keys: ['oidc-provider-test-cookie-key'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // A client may introspect its own tokens (the default says so too, with a warning).
      allowedPolicy: (ctx, client, token) => token.clientId === client.clientId,
    },
    revocation: { enabled: true },
  },
});
const handle = provider.callback();
server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url.startsWith('/token/introspection')) introspections++;
  handle(req, res);
});

process.on('message', (message) => {
  if (message === 'count') process.send({ count: introspections });
});
process.on('disconnect', () => server.close(() => process.exit(0)));
process.send({ ready: true, issuer });
