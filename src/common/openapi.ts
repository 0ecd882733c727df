import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { WardenConfig } from '../config/warden-config';

const DESCRIPTION = `Warden authenticates every caller of an Atlassian app's or a Jira / Confluence instance's REST API.

**Token pair:** \`GET /system/auth\` with Basic credentials (or \`POST\` with JSON) returns
\`{"authentication": "<access>", "refresh": "<refresh>"}\`. Call APIs with \`Authorization: Bearer <access>\`.
When it expires (401, \`WWW-Authenticate: Bearer error="invalid_token"\`), call \`GET /system/reauth\`
with the refresh token. Every error is \`application/problem+json\` (RFC 9457).`;

/** OpenAPI document at /docs/openapi.json, explorer at /docs. */
export function setupOpenApi(app: INestApplication, config: WardenConfig): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Warden')
      .setDescription(DESCRIPTION)
      .setVersion('0.1.0')
      // The origin the explorer was loaded from first: behind a proxy, or before WARDEN_BASE_URL
      // is set, "Try it out" still calls the Warden that served the page.
      .addServer('/', 'this server')
      .addServer(config.baseUrl, 'WARDEN_BASE_URL')
      .addBasicAuth(
        { type: 'http', scheme: 'basic', description: 'Local directory username and password' },
        'basic',
      )
      .addBearerAuth(
        {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'Access token from /system/auth (the bare token without "Bearer" is accepted too, as BigPicture clients send it)',
        },
        'bearer',
      )
      .addBearerAuth(
        {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'Refresh token from /system/auth (the bare token without "Bearer" is accepted too)',
        },
        'refreshToken',
      )
      .addApiKey(
        {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: 'Personal API token: "Bearer wdn_…" or "APIToken wdn_…"',
        },
        'apiToken',
      )
      .addApiKey(
        {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: 'Atlassian Connect JWT: "JWT <token>" (or ?jwt=)',
        },
        'connectJwt',
      )
      .addBearerAuth(
        {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'CMJ Cloud SPI token (RS256)',
        },
        'cmjSpiJwt',
      )
      .addCookieAuth(
        'JSESSIONID',
        {
          type: 'apiKey',
          in: 'cookie',
          description: 'Upstream Jira / Confluence session (when UPSTREAM_BASE_URL is set)',
        },
        'upstreamSession',
      )
      .build(),
  );
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
