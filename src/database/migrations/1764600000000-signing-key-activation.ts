import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';
import { timestampType } from '../column-types';

/**
 * Signing keys are published before they sign: `activates_at` is the instant a key starts
 * signing. Every existing key became active when it was created.
 */
export class SigningKeyActivation1764600000000 implements MigrationInterface {
  name = 'SigningKeyActivation1764600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const column = { name: 'activates_at', type: timestampType(queryRunner) };
    await queryRunner.addColumn('signing_keys', new TableColumn({ ...column, isNullable: true }));
    await queryRunner.query('UPDATE signing_keys SET activates_at = created_at');
    await queryRunner.changeColumn(
      'signing_keys',
      'activates_at',
      new TableColumn({ ...column, isNullable: false }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('signing_keys', 'activates_at');
  }
}
