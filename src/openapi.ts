import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { CredentialKinds } from './auth/kinds/credential-kinds';
import { WardenConfig } from './config/warden-config';

const DESCRIPTION = `Warden authenticates every caller of an Atlassian app's or a Jira / Confluence instance's REST API.

**Token pair:** \`GET /system/auth\` with Basic credentials (or \`POST\` with JSON) returns
\`{"authentication": "<access>", "refresh": "<refresh>"}\`. Call APIs with \`Authorization: Bearer <access>\`.
When it expires (401, \`WWW-Authenticate: Bearer error="invalid_token"\`), call \`GET /system/reauth\`
with the refresh token. Every error is \`application/problem+json\` (RFC 9457).`;

const SCHEME_ORDER = [
  'basic',
  'bearer',
  'refreshToken',
  'apiToken',
  'connectJwt',
  'cmjSpiJwt',
  'upstreamSession',
];

/** OpenAPI document at /docs/openapi.json, explorer at /docs. */
export function setupOpenApi(app: INestApplication, config: WardenConfig): void {
  const builder = new DocumentBuilder()
    .setTitle('Warden')
    .setDescription(DESCRIPTION)
    .setVersion('0.1.0')
    // The origin the explorer was loaded from first: behind a proxy, or before WARDEN_BASE_URL
    // is set, "Try it out" still calls the Warden that served the page.
    .addServer('/', 'this server')
    .addServer(config.baseUrl, 'WARDEN_BASE_URL');
  // Every credential kind brings its own security scheme; two kinds may share one (an IdP's token
  // rides on `bearer`, Warden's access token's scheme, which describes it).
  const named = new Set<string>();
  // Listed in the order an operator meets them in the explorer's Authorize dialog.
  const order = (name: string) => {
    const at = SCHEME_ORDER.indexOf(name);
    return at === -1 ? SCHEME_ORDER.length : at;
  };
  const kinds = [...app.get(CredentialKinds).all()].sort(
    (a, b) =>
      order(a.securityScheme.name) - order(b.securityScheme.name) ||
      Number(a.takenAs !== undefined) - Number(b.takenAs !== undefined),
  );
  for (const kind of kinds) {
    const { name, definition } = kind.securityScheme;
    if (named.has(name)) continue;
    named.add(name);
    builder.addSecurity(name, definition);
  }
  const document = SwaggerModule.createDocument(app, builder.build());
  document.components = {
    ...document.components,
    schemas: {
      ...document.components?.schemas,
      Problem: {
        type: 'object',
        description: 'RFC 9457 problem details',
        required: ['type', 'title', 'status', 'detail', 'code', 'requestId'],
        properties: {
          type: { type: 'string', example: '/problems/invalid_token' },
          title: { type: 'string', example: 'Unauthorized' },
          status: { type: 'integer', example: 401 },
          detail: { type: 'string', example: 'The access token has expired' },
          code: { type: 'string', example: 'token_expired' },
          requestId: { type: 'string', example: '7f1c0a2e-3b7d-4c4e-9a55-0d7c1d2c9e10' },
        },
      },
    },
  };
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs/openapi.json',
    yamlDocumentUrl: 'docs/openapi.yaml',
  });
}
