import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { isUniqueViolation } from '../common/database/db-errors';
import { SettingsEntity } from './settings.entity';

export const SETTINGS_ROW = 'global';

@Injectable()
export class SettingsRepository {
  constructor(
    @InjectRepository(SettingsEntity) private readonly rows: Repository<SettingsEntity>,
  ) {}

  load(): Promise<SettingsEntity | null> {
    return this.rows.findOne({ where: { id: SETTINGS_ROW } });
  }

  /** The current version only: what other instances poll to notice a change. */
  async version(): Promise<number | null> {
    const row = await this.rows.findOne({ select: { version: true }, where: { id: SETTINGS_ROW } });
    return row?.version ?? null;
  }

  /** Creates the row at version 1 unless another instance did it first. */
  async createIfMissing(document: string): Promise<void> {
    try {
      await this.rows.insert({
        id: SETTINGS_ROW,
        version: 1,
        document,
        updatedAt: new Date(),
        updatedBy: null,
      });
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
  }

  /** Compare-and-set on the version: of two writers holding the same ETag exactly one wins. */
  async replace(expectedVersion: number, document: string, updatedBy: string): Promise<boolean> {
    const result = await this.rows
      .createQueryBuilder()
      .update()
      .set({ document, version: () => 'version + 1', updatedAt: new Date(), updatedBy })
      .where('id = :id AND version = :expectedVersion', { id: SETTINGS_ROW, expectedVersion })
      .execute();
    return (result.affected ?? 0) === 1;
  }
}
