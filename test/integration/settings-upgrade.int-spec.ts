import { RefreshRotationOptIn1764500000000 } from '../../src/database/migrations/1764500000000-refresh-rotation-opt-in';
import { DEFAULT_SETTINGS } from '../../src/settings/settings.defaults';
import { DATABASES, itWhen } from '../support/app';
import { settingsUpgradeDatabase } from '../support/settings-upgrade';

/**
 * A settings document stored before refresh-token rotation became opt-in holds
 * `rotateRefreshTokens: true` (the document is written whole at first start): the upgrade
 * switches it off and moves the version on, and leaves everything else as it was.
 */
describe.each(DATABASES)('settings upgrade: refresh-token rotation opt-in (%s)', (database) => {
  const { upgradeFrom } = settingsUpgradeDatabase(database, RefreshRotationOptIn1764500000000, 7);
  const maybe = itWhen(database);

  maybe('a stored document that rotates is switched to the new default', async () => {
    const stored = structuredClone(DEFAULT_SETTINGS) as any;
    stored.tokens.rotateRefreshTokens = true;
    stored.tokens.reuseGraceSeconds = 45;
    stored.rateLimit.requests = 1234;
    const after = await upgradeFrom(stored);
    expect(after.version).toBe(8);
    expect(after.document.tokens).toEqual({ ...stored.tokens, rotateRefreshTokens: false });
    expect(after.document.rateLimit.requests).toBe(1234);
    expect({ ...after.document, tokens: null }).toEqual({ ...stored, tokens: null });
  });

  maybe('a stored document without rotation is left alone, version included', async () => {
    const stored = structuredClone(DEFAULT_SETTINGS) as any;
    stored.tokens.rotateRefreshTokens = false;
    const after = await upgradeFrom(stored);
    expect(after).toEqual({ version: 7, document: stored });
  });
});
