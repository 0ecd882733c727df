import { AuditSink } from '../../src/audit/audit.port';
import { DirectoryService } from '../../src/auth/directory/directory.service';
import { RevocationService } from '../../src/auth/sessions/revocation.service';
import { ADMIN_GROUP, Principal } from '../../src/common/principal';
import { DEFAULT_SETTINGS, Settings } from '../../src/settings/settings.defaults';
import { SettingsService } from '../../src/settings/settings.service';
import { ApiTokenEntity } from '../../src/tokens/api-token.entity';
import { ApiTokensRepository } from '../../src/tokens/api-tokens.repository';
import { CreateTokenDto } from '../../src/tokens/dto/tokens.dto';
import { TokensService } from '../../src/tokens/tokens.service';
import { MovableClock } from './clock';
import { principal as basePrincipal } from './principal';
import { strict } from './strict-mock';

export const NOW = Date.parse('2026-12-01T09:00:00Z');
export const DAY = 86_400_000;
export const CONTEXT = { requestId: 'r1', ip: '203.0.113.7' };

/** alice, whose access token may also be used for admin calls. */
export const principal = (overrides: Partial<Principal> = {}): Principal =>
  basePrincipal({ scopes: ['read', 'write', 'admin'], ...overrides });
export const ADMIN = principal({ id: 'u-admin', username: 'admin', groups: [ADMIN_GROUP] });

export function stored(overrides: Partial<ApiTokenEntity> = {}): ApiTokenEntity {
  return Object.assign(new ApiTokenEntity(), {
    id: 'token-1',
    userId: 'u-alice',
    name: 'nightly',
    tokenHash: 'h',
    displayPrefix: 'wdn_abcd',
    scopes: 'read',
    createdAt: new Date(NOW - 10 * DAY),
    expiresAt: new Date(NOW + 10 * DAY),
    lastUsedAt: null,
    lastUsedIp: null,
    revokedAt: null,
    ...overrides,
  });
}

export const dto = (overrides: Partial<CreateTokenDto> = {}): CreateTokenDto =>
  Object.assign(new CreateTokenDto(), { name: 'nightly', ...overrides });

export interface TokensServiceSpec {
  settings: Settings;
  clock: MovableClock;
  repository: {
    insertWithinLimit: jest.Mock;
    listForUser: jest.Mock;
    findForUser: jest.Mock;
    revoke: jest.Mock;
    revokeAllForUser: jest.Mock;
    revokedSince: jest.Mock;
    recordUse: jest.Mock;
    removeStale: jest.Mock;
    findByHash: jest.Mock;
  };
  directory: { findByUsername: jest.Mock };
  revocations: { addSource: jest.Mock; markRevoked: jest.Mock };
  audit: { record: jest.Mock };
  sut: TokensService;
}

/**
 * A TokensService over strict mocks with the default settings, built afresh before each test of
 * the describe block that calls this; the fields are replaced each time, so read them in a
 * beforeEach or a test.
 */
export function tokensServiceSpec(): TokensServiceSpec {
  const spec = {} as TokensServiceSpec;
  beforeEach(() => {
    const settings = structuredClone(DEFAULT_SETTINGS);
    const clock = new MovableClock(NOW);
    const repository = {
      insertWithinLimit: jest.fn(async () => true),
      listForUser: jest.fn(),
      findForUser: jest.fn(),
      revoke: jest.fn(async () => true),
      revokeAllForUser: jest.fn(),
      revokedSince: jest.fn(),
      recordUse: jest.fn(async () => undefined),
      removeStale: jest.fn(async () => 3),
      findByHash: jest.fn(),
    };
    const directory = { findByUsername: jest.fn() };
    const revocations = { addSource: jest.fn(), markRevoked: jest.fn() };
    const audit = { record: jest.fn() };
    const sut = new TokensService(
      strict<ApiTokensRepository>(repository),
      strict<DirectoryService>(directory),
      strict<RevocationService>(revocations),
      strict<SettingsService>({ get: jest.fn(() => settings) }),
      strict<AuditSink>(audit),
      clock,
    );
    Object.assign(spec, { settings, clock, repository, directory, revocations, audit, sut });
  });
  return spec;
}
