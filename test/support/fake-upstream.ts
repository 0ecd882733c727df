import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

export interface FakeUpstream {
  url: string;
  /** Cookie headers the upstream received, in order. */
  seen: string[];
  close: () => Promise<void>;
}

/**
 * A Jira / Confluence stand-in answering `GET /rest/auth/1/session` the way the real products do:
 * `{"name": "<username>", "self": …}` for a known JSESSIONID, 401 otherwise.
 */
export async function startFakeUpstream(
  sessions: Record<string, string>,
  /** status: answer it to every session check; brokenBody: break off a 200 half-way through. */
  behaviour: { status?: number; brokenBody?: boolean } = {},
): Promise<FakeUpstream> {
  const seen: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' || req.url !== '/rest/auth/1/session') {
      res.writeHead(404).end();
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
    close: () => new Promise((r) => server.close(() => r())),
  };
}
