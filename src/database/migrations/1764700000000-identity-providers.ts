import { Logger } from '@nestjs/common';
import { MigrationInterface, QueryRunner } from 'typeorm';

/** What an entry of identityProviders held when this migration was written (frozen here). */
const PROVIDER_DEFAULTS = {
  enabled: false,
  mode: 'publicKey',
  issuer: null,
  audience: null,
  algorithms: ['RS256'],
  publicKey: null,
  jwksUrl: null,
  introspectionUrl: null,
  clientId: null,
  clientSecret: null,
  introspectionCacheSeconds: 60,
  opaqueTokens: null,
  usernameClaim: 'sub',
  usernameRegex: null,
  groupsClaim: null,
  mapToLocalUser: false,
  allowAdminMapping: false,
};

/**
 * The single `externalJwt` block became the list `identityProviders`: a stored block moves into
 * a one-element list, the provider named `default` (a block that says nothing but the defaults,
 * never configured, becomes an empty list). The version moves on, so instances holding the old
 * document pick up the new one and an ETag read before the upgrade no longer matches.
 *
 * A block holding a client secret is left as it is: the secret is sealed under its path
 * (`settings:externalJwt.clientSecret`), and re-sealing it under the new path takes
 * WARDEN_ENCRYPTION_KEY, which migrations do not get (they run from the CLI and the TypeORM CLI
 * with the database settings alone). The first instance that loads such a document converts it
 * the same way, re-seals the secret and stores the result (SettingsService).
 */
export class IdentityProviders1764700000000 implements MigrationInterface {
  name = 'IdentityProviders1764700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const rows = (await queryRunner.manager
      .createQueryBuilder()
      .select(['id', 'version', 'document'])
      .from('settings', 's')
      .getRawMany()) as { id: string; version: number | string; document: string }[];
    for (const row of rows) {
      let document: Record<string, unknown>;
      try {
        document = JSON.parse(row.document) as Record<string, unknown>;
      } catch {
        continue;
      }
      const legacy = document.externalJwt;
      if (legacy === null || typeof legacy !== 'object' || Array.isArray(legacy)) continue;
      const block = legacy as Record<string, unknown>;
      if (typeof block.clientSecret === 'string') {
        new Logger('upgrade').warn(
          'The externalJwt settings hold a client secret: the first Warden instance to start ' +
            'moves them into identityProviders (as "default") and seals the secret anew.',
        );
        continue;
      }
      delete document.externalJwt;
      const entry = { ...PROVIDER_DEFAULTS, ...block, name: 'default' };
      const { name: _name, ...fields } = entry;
      const configured = Object.entries(fields).some(
        ([key, value]) =>
          JSON.stringify(value) !==
          JSON.stringify((PROVIDER_DEFAULTS as Record<string, unknown>)[key]),
      );
      const existing = Array.isArray(document.identityProviders) ? document.identityProviders : [];
      document.identityProviders = configured ? [...existing, entry] : existing;
      const p = (n: number) => (queryRunner.connection.options.type === 'postgres' ? `$${n}` : '?');
      await queryRunner.query(
        `UPDATE settings SET document = ${p(1)}, version = ${p(2)}, updated_by = ${p(3)} WHERE id = ${p(4)}`,
        [JSON.stringify(document), Number(row.version) + 1, 'upgrade', row.id],
      );
      if (configured)
        new Logger('upgrade').warn(
          'The externalJwt settings are now the identity provider named "default" in identityProviders.',
        );
    }
  }

  async down(): Promise<void> {
    // A list of several providers has no single-block form; the earlier version reads the
    // document's other sections as they are and takes its defaults for externalJwt.
  }
}
