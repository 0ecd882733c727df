import { SecretBox } from '../../src/common/crypto/secret-box';
import { SEALED_SETTINGS_PATHS, secretSlots } from '../../src/settings/settings-secrets';
import { SettingsEntity } from '../../src/settings/settings.entity';
import { SETTINGS_ROW } from '../../src/settings/settings.repository';
import { SettingsService } from '../../src/settings/settings.service';
import { TestApp } from './app';
import { adminAuth, WardenAt } from './factories';
import { http } from './http';

/** An administrator's change through the API: read the ETag, PATCH with If-Match (forced past lock-out checks). */
export async function patchSettings(
  t: WardenAt,
  patch: unknown,
  auth = adminAuth(),
): Promise<void> {
  const current = await http(`${t.url}/admin/settings`, { headers: { authorization: auth } });
  const res = await http(`${t.url}/admin/settings?force=true`, {
    method: 'PATCH',
    headers: { authorization: auth, 'if-match': current.headers.get('etag')! },
    json: patch,
  });
  if (res.status !== 200) throw new Error(`settings patch failed: ${res.status} ${res.text}`);
}

/**
 * The operator's way in when the API shuts the admin out (allow-list, own rate limit): the same
 * change the CLI makes, in process.
 */
export async function operatorPatch(t: TestApp, patch: Record<string, unknown>): Promise<void> {
  await t.app
    .get(SettingsService)
    .patch(patch, { ifMatch: '*', force: true, actor: { username: 'operator' } });
}

/**
 * A settings document written straight into the table, around the API and its checks: what an
 * older version of Warden may have stored. Secrets are sealed as the service seals them; the
 * version is bumped, so running instances pick it up and new ones start with it.
 */
export async function storeSettingsDocument(
  t: Pick<TestApp, 'dataSource' | 'config'>,
  document: Record<string, unknown>,
): Promise<void> {
  const copy = structuredClone(document);
  const box = new SecretBox(t.config.encryptionKey.key);
  // The legacy `externalJwt` block too: what an earlier version stored.
  for (const slot of secretSlots(copy, SEALED_SETTINGS_PATHS)) {
    const value = slot.get();
    if (typeof value === 'string') slot.set(box.seal(value, slot.context));
  }
  await t.dataSource
    .getRepository(SettingsEntity)
    .createQueryBuilder()
    .update()
    .set({ document: JSON.stringify(copy), version: () => 'version + 1', updatedBy: 'test' })
    .where('id = :id', { id: SETTINGS_ROW })
    .execute();
}
