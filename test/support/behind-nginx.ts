import { StartOptions, startApp, TestApp } from './app';
import { requireNginx, RunningNginx, startNginx } from './nginx';
import { startUpstreamStub, UpstreamStub } from './upstream-stub';

interface Upstream {
  url: string;
  close: () => Promise<void>;
}

/** A test Warden behind a real nginx running docs/nginx.conf, with the API nginx protects. */
export interface BehindNginx<U extends Upstream> {
  /** False when nginx is missing outside CI: the suite's tests are skipped, nothing started. */
  ready: boolean;
  t: TestApp;
  /** The API behind nginx. */
  upstream: U;
  nginx: RunningNginx;
}

export interface BehindNginxOptions<U extends Upstream> {
  /** The API nginx protects; the upstream stub unless told. */
  upstream?: () => Promise<U>;
  /** How Warden is started, given that API. */
  app?: (upstream: U) => StartOptions;
}

/**
 * Starts the API, Warden and nginx in front of both before the describe block that calls this,
 * and stops them after it. The fields are set in its beforeAll, so read them in a hook or a
 * test. Kept apart from nginx.ts, which the global setup loads to probe for nginx.
 */
export function behindNginx(): BehindNginx<UpstreamStub>;
export function behindNginx<U extends Upstream>(options: BehindNginxOptions<U>): BehindNginx<U>;
export function behindNginx(options: BehindNginxOptions<Upstream> = {}): BehindNginx<Upstream> {
  const stack = { ready: false } as BehindNginx<Upstream>;
  beforeAll(async () => {
    stack.ready = requireNginx();
    if (!stack.ready) return;
    stack.upstream = await (options.upstream ?? startUpstreamStub)();
    stack.t = await startApp(options.app?.(stack.upstream));
    stack.nginx = await startNginx({ wardenUrl: stack.t.url, upstreamUrl: stack.upstream.url });
  });
  afterAll(async () => {
    // nginx first: it holds keep-alive connections to both.
    await stack.nginx?.close();
    await stack.upstream?.close();
    await stack.t?.close();
  });
  return stack;
}
