import { SettingsService } from '../../src/restrictions/settings.service';
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
