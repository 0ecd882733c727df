import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

/**
 * panva's oidc-provider, a certified OpenID provider, in a process of its own (test/support/
 * oidc-provider.mjs): one confidential client (client_credentials, client_secret_basic), opaque
 * access tokens, RFC 7662 introspection and RFC 7009 revocation, counting the introspection
 * requests it receives.
 */
export class OidcProvider {
  readonly client = { id: 'warden', secret: 'oidc-provider-client-secret' };
  issuer = '';
  private child?: ChildProcess;
  private output = '';

  get introspectionUrl(): string {
    return `${this.issuer}/token/introspection`;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [join(__dirname, 'oidc-provider.mjs')], {
      env: {
        ...process.env,
        OIDC_CLIENT_ID: this.client.id,
        OIDC_CLIENT_SECRET: this.client.secret,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    const ready = new Promise<{ issuer: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { issuer: string }));
      child.once('exit', (code) =>
        reject(new Error(`oidc-provider exited (${code}) before it was ready:\n${this.output}`)),
      );
    });
    this.issuer = (await ready).issuer;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.disconnect();
    await exited;
  }

  /** Introspection requests received so far (asked over IPC, so every earlier one is counted). */
  async introspections(): Promise<number> {
    const child = this.child!;
    const answer = new Promise<number>((resolve) =>
      child.once('message', (m) => resolve((m as { count: number }).count)),
    );
    child.send('count');
    return answer;
  }

  /** A fresh opaque access token from the token endpoint (client_credentials grant). */
  async accessToken(): Promise<string> {
    const res = await fetch(`${this.issuer}/token`, {
      method: 'POST',
      headers: { authorization: this.basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    const body = (await res.json()) as { access_token?: string };
    if (res.status !== 200 || !body.access_token)
      throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(body)}`);
    return body.access_token;
  }

  /** Revokes a token at the provider (RFC 7009). */
  async revoke(token: string): Promise<void> {
    const res = await fetch(`${this.issuer}/token/revocation`, {
      method: 'POST',
      headers: { authorization: this.basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
    });
    if (res.status !== 200) throw new Error(`revocation endpoint answered ${res.status}`);
  }

  private basic(): string {
    return `Basic ${Buffer.from(`${this.client.id}:${this.client.secret}`).toString('base64')}`;
  }
}
