// A real OpenID provider (panva's oidc-provider) on a loopback port, run as its own process:
// the package ships ES modules only, which Jest's CommonJS runtime cannot load. Started by
// oidc-provider.ts, it talks over IPC: {ready, issuer} once listening; {count, jwks} in answer
// to 'count' (introspection and JWK set requests received so far); {rotated, kid} in answer to
// 'rotate' (a new signing key, published first and signing from then on, the old one kept in
// the set).
//
// Access tokens: client_credentials with `resource=<issuer>/api/jwt` gives a JWT access token
// for that audience (RFC 9068, resource indicators); without a resource, an opaque one.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const clientId = process.env.OIDC_CLIENT_ID;
const clientSecret = process.env.OIDC_CLIENT_SECRET;
let introspections = 0;
let jwksRequests = 0;

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
const jwtResource = `${issuer}/api/jwt`;

const newKey = (kid) => ({
  ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
  kid,
  use: 'sig',
});
let keys = [newKey('test-1')];

function configured() {
  return new Provider(issuer, {
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
    jwks: { keys },
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
      resourceIndicators: {
        enabled: true,
        // No resource asked for: an opaque token, as before resource indicators.
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (resource !== jwtResource) throw new Error('unknown resource');
          return {
            scope: 'api',
            audience: resource,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  });
}

let handle = configured().callback();
server.on('request', (req, res) => {
  if (req.method === 'POST' && req.url.startsWith('/token/introspection')) introspections++;
  if (req.method === 'GET' && req.url.startsWith('/jwks')) jwksRequests++;
  handle(req, res);
});

process.on('message', (message) => {
  if (message === 'count') process.send({ count: introspections, jwks: jwksRequests });
  if (message === 'rotate') {
    const kid = `test-${keys.length + 1}`;
    // The first key of an algorithm signs: the new one, with the old one still published.
    keys = [newKey(kid), ...keys];
    handle = configured().callback();
    process.send({ rotated: true, kid });
  }
});
process.on('disconnect', () => server.close(() => process.exit(0)));
process.send({ ready: true, issuer });
