import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

/**
 * panva's oidc-provider, a certified OpenID provider, in a process of its own (test/support/
 * oidc-provider.mjs): one confidential client (client_credentials, client_secret_basic), opaque
 * access tokens and, for its resource `jwtAudience`, JWT access tokens (RFC 9068) signed with
 * keys it publishes at `jwksUrl`; RFC 7662 introspection and RFC 7009 revocation; counting the
 * introspection and JWK set requests it receives.
 */
export class OidcProvider {
  issuer = '';
  private child?: ChildProcess;
  private output = '';

  constructor(readonly client = { id: 'warden', secret: 'oidc-provider-client-secret' }) {}

  get introspectionUrl(): string {
    return `${this.issuer}/token/introspection`;
  }

  get jwksUrl(): string {
    return `${this.issuer}/jwks`;
  }

  /** The resource (and audience) its JWT access tokens are for. */
  get jwtAudience(): string {
    return `${this.issuer}/api/jwt`;
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
    return (await this.ask<{ count: number }>('count')).count;
  }

  /** JWK set requests received so far. */
  async jwksRequests(): Promise<number> {
    return (await this.ask<{ jwks: number }>('count')).jwks;
  }

  /** A new signing key: published (beside the old one) and signing every token from now on. */
  async rotateKey(): Promise<string> {
    return (await this.ask<{ kid: string }>('rotate')).kid;
  }

  private ask<T>(message: string): Promise<T> {
    const child = this.child!;
    const answer = new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T)));
    child.send(message);
    return answer;
  }

  /**
   * A fresh access token from the token endpoint (client_credentials grant): opaque, or a JWT
   * for `jwtAudience` when `format` is 'jwt'.
   */
  async accessToken(format: 'opaque' | 'jwt' = 'opaque'): Promise<string> {
    const form: Record<string, string> = { grant_type: 'client_credentials' };
    if (format === 'jwt') form.resource = this.jwtAudience;
    const res = await fetch(`${this.issuer}/token`, {
      method: 'POST',
      headers: { authorization: this.basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
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
