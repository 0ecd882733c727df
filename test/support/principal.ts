import { Principal } from '../../src/common/principal';

/** alice, signed in with an access token of her session, as the unit specs' caller. */
export function principal(overrides: Partial<Principal> = {}): Principal {
  return {
    id: 'u-alice',
    username: 'alice',
    groups: ['staff'],
    authMethod: 'access',
    credentialId: 'session-1',
    scopes: ['read', 'write'],
    ...overrides,
  };
}
