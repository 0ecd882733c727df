import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';

export interface StubRequest {
  method: string;
  /** The request target as the stub received it (path and query). */
  url: string;
  headers: IncomingHttpHeaders;
}

export interface UpstreamStub {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  /** Every request received, in order. */
  requests: StubRequest[];
  /** The requests whose URL contains `marker` (tests put a unique marker in their paths). */
  seen: (marker: string) => StubRequest[];
  close: () => Promise<void>;
}

/**
 * The API behind the reverse proxy: records every request (method, url, headers) and answers
 * 200 `{"ok":true,"path":"<url>"}`. Request bodies are read and dropped.
 */
export async function startUpstreamStub(): Promise<UpstreamStub> {
  const requests: StubRequest[] = [];
  const server: Server = createServer((req, res) => {
    const recorded: StubRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: { ...req.headers },
    };
    requests.push(recorded);
    req.resume();
    req.on('end', () => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ok: true, path: recorded.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    seen: (marker) => requests.filter((r) => r.url.includes(marker)),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A proxy's idle keep-alive connections would hold close() open.
        server.closeAllConnections();
      }),
  };
}
