import {
  createServer,
  IncomingHttpHeaders,
  IncomingMessage,
  Server,
  ServerResponse,
} from 'node:http';
import { AddressInfo } from 'node:net';

export interface FakeUpstream {
  url: string;
  /** Cookie headers of the session checks the upstream received, in order. */
  seen: string[];
  /** Every other request (its API, as a proxy in front of it passes them on), in order. */
  requests: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close: () => Promise<void>;
}

/**
 * A Jira / Confluence stand-in answering `GET /rest/auth/1/session` the way the real products do:
 * `{"name": "<username>", "self": …}` for a known JSESSIONID, 401 otherwise. `sessions` is read
 * at each check, so a test may add or end sessions as it goes. Any other request is its API:
 * recorded and answered 200 `{"ok":true,"path":"<url>"}`.
 */
export async function startFakeUpstream(
  sessions: Record<string, string>,
  /** status: answer it to every session check; brokenBody: break off a 200 half-way through. */
  behaviour: { status?: number; brokenBody?: boolean } = {},
): Promise<FakeUpstream> {
  const seen: string[] = [];
  const requests: FakeUpstream['requests'] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' || req.url !== '/rest/auth/1/session') {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } });
      req.resume();
      req.on('end', () =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ ok: true, path: req.url })),
      );
      return;
    }
    const cookie = req.headers.cookie ?? '';
    seen.push(cookie);
    if (behaviour.status) {
      res.writeHead(behaviour.status).end('upstream trouble');
      return;
    }
    if (behaviour.brokenBody) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"na', () => res.socket?.destroy());
      return;
    }
    const id = /(?:^|;\s*)JSESSIONID=([^;]+)/.exec(cookie)?.[1];
    const username = id ? sessions[id] : undefined;
    if (!username) {
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end('{"errorMessages":["You are not authenticated."]}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        self: `http://jira/rest/api/latest/user?username=${username}`,
        name: username,
        loginInfo: { loginCount: 3 },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        // A proxy's idle keep-alive connections would hold close() open.
        server.closeAllConnections();
      }),
  };
}
