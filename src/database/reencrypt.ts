import { DataSource, EntityTarget, IsNull, Not } from 'typeorm';
import { SigningKeyEntity } from '../auth/keys/signing-key.entity';
import { RefreshSessionEntity } from '../auth/sessions/refresh-session.entity';
import { SecretBox } from '../common/crypto/secret-box';
import { secretContext } from '../connect/tenants/tenant-directory.service';
import { TenantEntity } from '../connect/tenants/tenant.entity';
import { OperationEntity } from '../migration-spi/operations/operation.entity';
import { tokenContext } from '../migration-spi/operations/operation-store.service';
import { SEALED_SETTINGS_PATHS, secretSlots } from '../settings/settings-secrets';
import { SettingsEntity } from '../settings/settings.entity';

/**
 * A stored value that does not open under the current key: names the row (table, primary key,
 * and for the settings document the secret's path), never the value, so the operator can find it.
 */
export class UnopenableSecretError extends Error {
  constructor(
    readonly table: string,
    readonly row: string,
    cause: unknown,
  ) {
    super(
      `Cannot open the secret in ${table} ${row} with the current WARDEN_ENCRYPTION_KEY ` +
        `(${cause instanceof Error ? cause.message : 'not a sealed value'}); nothing was changed.`,
    );
    this.name = 'UnopenableSecretError';
  }
}

export interface ReencryptionCounts {
  signingKeys: number;
  settingsSecrets: number;
  tenantSecrets: number;
  operationTokens: number;
  /** Refresh-rotation grace values, sealed with the presented token: dropped, not re-sealed. */
  graceValuesDropped: number;
}

/**
 * Seals every secret at rest again under a new key, in one transaction: signing keys, the
 * settings' secrets, Connect tenants' shared secrets, CMJ operation tokens. A value that does not
 * open under the old key stops the whole run with an {@link UnopenableSecretError} naming its
 * row (nothing changes). The refresh-rotation grace values are sealed with the refresh token a
 * client presented, which Warden does not keep: they are dropped (a client retrying a rotation
 * it already made must sign in again).
 * Every instance must be stopped first and started again with the new key.
 */
export async function reencryptSecrets(
  dataSource: DataSource,
  oldKey: Buffer,
  newKey: Buffer,
): Promise<ReencryptionCounts> {
  const from = new SecretBox(oldKey);
  const to = new SecretBox(newKey);
  return dataSource.transaction(async (manager) => {
    const tableOf = (entity: EntityTarget<unknown>) =>
      manager.connection.getMetadata(entity).tableName;
    const again = (sealed: string, context: string, table: string, row: string) => {
      let plain: Buffer;
      try {
        plain = from.open(sealed, context);
      } catch (err) {
        throw new UnopenableSecretError(table, row, err);
      }
      return to.seal(plain, context);
    };
    const counts: ReencryptionCounts = {
      signingKeys: 0,
      settingsSecrets: 0,
      tenantSecrets: 0,
      operationTokens: 0,
      graceValuesDropped: 0,
    };
    const keys = manager.getRepository(SigningKeyEntity);
    for (const row of await keys.find()) {
      await keys.update(
        { kid: row.kid },
        {
          privateKeySealed: again(
            row.privateKeySealed,
            `signing-key:${row.kid}`,
            tableOf(SigningKeyEntity),
            `kid=${row.kid}`,
          ),
        },
      );
      counts.signingKeys++;
    }
    const settings = manager.getRepository(SettingsEntity);
    for (const row of await settings.find()) {
      const document = JSON.parse(row.document) as Record<string, unknown>;
      // The legacy path too: a document not yet upgraded by an instance (its sealed secret).
      for (const slot of secretSlots(document, SEALED_SETTINGS_PATHS)) {
        const sealed = slot.get();
        if (typeof sealed !== 'string') continue;
        slot.set(
          again(sealed, slot.context, tableOf(SettingsEntity), `id=${row.id} (${slot.key})`),
        );
        counts.settingsSecrets++;
      }
      await settings.update({ id: row.id }, { document: JSON.stringify(document) });
    }
    const tenants = manager.getRepository(TenantEntity);
    for (const row of await tenants.find()) {
      await tenants.update(
        { clientKey: row.clientKey },
        {
          sharedSecret: again(
            row.sharedSecret,
            secretContext(row.clientKey),
            tableOf(TenantEntity),
            `client_key=${row.clientKey}`,
          ),
        },
      );
      counts.tenantSecrets++;
    }
    const operations = manager.getRepository(OperationEntity);
    for (const row of await operations.find({ where: { operationToken: Not(IsNull()) } })) {
      await operations.update(
        { id: row.id },
        {
          operationToken: again(
            row.operationToken!,
            tokenContext(row.id),
            tableOf(OperationEntity),
            `id=${row.id}`,
          ),
        },
      );
      counts.operationTokens++;
    }
    const sessions = manager.getRepository(RefreshSessionEntity);
    const dropped = await sessions.update(
      { successorSealed: Not(IsNull()) },
      { successorSealed: null },
    );
    counts.graceValuesDropped = dropped.affected ?? 0;
    return counts;
  });
}
