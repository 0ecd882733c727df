export type SigningAlgorithm = 'RS256' | 'ES256' | 'EdDSA';
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];
export type DatabaseKind = 'sqlite' | 'postgres';

/** The typed, validated configuration. Built once by `loadConfig`; nothing else reads process.env. */
export interface WardenConfig {
  production: boolean;
  port: number;
  host: string;
  baseUrl: string;
  issuer: string;
  dataDir: string;
  database: { kind: DatabaseKind; url: string; sqlitePath?: string };
  redisUrl?: string;
  /** 32 raw bytes; when `generated` the key was written to `dataDir` at first start. */
  encryptionKey: { key: Buffer; generatedAt?: string };
  admin: { username: string; password?: string };
  signingAlgorithm: SigningAlgorithm;
  upstreamBaseUrl?: string;
  /** Origins allowed to call Warden from a browser (CORS); empty: none. */
  corsOrigins: string[];
  connect: {
    appKey: string;
    /** Scopes the descriptor asks for (ACT_AS_USER for impersonation). */
    scopes: string[];
    keysUrl: string;
    /** Asked with the same kid when keysUrl fails; empty for none. */
    keysFallbackUrl: string;
    authServerUrl: string;
  };
  cmj: {
    /** The Operations API. */
    baseUrl: string;
    /** The Keys API: `{keysUrl}/{kid}` answers `{"publicKey": "<Base64 DER>"}`. */
    keysUrl: string;
    /** `iss` SPI tokens must carry, when set. */
    jwtIssuer?: string;
    /** `aud` SPI tokens must carry (WARDEN_BASE_URL unless set). */
    jwtAudience: string;
    /** Hosts download links may point at (host with port when not the default). */
    downloadHosts: string[];
    /** Plain http download links (tests, labs). */
    allowHttp: boolean;
    downloadMaxBytes: number;
  };
  /** Plain-HTTP JWKS and introspection URLs are refused unless this is set (tests, labs). */
  idpAllowHttp: boolean;
  logLevel: string;
}

/** Injection token for the configuration object. */
export const WARDEN_CONFIG = Symbol('WARDEN_CONFIG');
