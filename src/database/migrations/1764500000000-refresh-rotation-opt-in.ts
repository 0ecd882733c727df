import { Logger } from '@nestjs/common';
import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Refresh-token rotation became opt-in: BigPicture's contract has the client keep the refresh
 * token it got at login for its whole life, so a stored document that rotates (the earlier
 * default, written whole at first start) breaks such a client on its second renewal. A stored
 * `tokens.rotateRefreshTokens: true` is switched off; an operator whose clients store the new
 * refresh token switches it back on. The version moves on, so instances holding the old document
 * pick up the new one and an ETag read before the upgrade no longer matches.
 */
export class RefreshRotationOptIn1764500000000 implements MigrationInterface {
  name = 'RefreshRotationOptIn1764500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const rows = (await queryRunner.manager
      .createQueryBuilder()
      .select(['id', 'version', 'document'])
      .from('settings', 's')
      .getRawMany()) as { id: string; version: number | string; document: string }[];
    for (const row of rows) {
      let document: { tokens?: { rotateRefreshTokens?: unknown } };
      try {
        document = JSON.parse(row.document) as typeof document;
      } catch {
        continue;
      }
      if (document.tokens?.rotateRefreshTokens !== true) continue;
      document.tokens.rotateRefreshTokens = false;
      const p = (n: number) => (queryRunner.connection.options.type === 'postgres' ? `$${n}` : '?');
      await queryRunner.query(
        `UPDATE settings SET document = ${p(1)}, version = ${p(2)}, updated_by = ${p(3)} WHERE id = ${p(4)}`,
        [JSON.stringify(document), Number(row.version) + 1, 'upgrade', row.id],
      );
      new Logger('upgrade').warn(
        'Refresh-token rotation is now opt-in and was switched off in the stored settings ' +
          '(tokens.rotateRefreshTokens: false). Set it to true again if your clients store the ' +
          'refresh token that /system/reauth returns.',
      );
    }
  }

  async down(): Promise<void> {
    // Whether rotation was on before cannot be told apart from an operator's later choice.
  }
}
