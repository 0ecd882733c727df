import type { OperationProblem, ObjectMapping } from '../operations/operations-api.client';

/** One change an import made, or would make in a dry run. */
export interface MigrationChange {
  /** What was changed: `settings`, `group`, `tenant`, or an app's own kinds. */
  target: string;
  /** Which one: a settings path, a group name, a clientKey… */
  key: string;
  action: 'create' | 'update' | 'delete';
  from?: unknown;
  to?: unknown;
}

/** What became of one item of the export (in a dry run: what would). */
export interface MigrationItem {
  /** `settings`, `group`, `user`, `tenant`, or an app's own kinds. */
  target: string;
  key: string;
  outcome: 'created' | 'updated' | 'skipped' | 'failed';
  /** Why it was skipped or failed, or what was left out of it. */
  reason?: string;
}

export interface ImportReport {
  changes: MigrationChange[];
  problems: OperationProblem[];
  /**
   * Every item's outcome. A handler that leaves it out is reported by its changes alone (each a
   * created or updated item).
   */
  items?: MigrationItem[];
}

export interface ImportContext {
  /** Report what would change, change nothing. */
  dryRun: boolean;
  /** Share (0..1) of this handler's part that is done; reported to CMJ without waiting. */
  progress: (fraction: number) => void;
  /** Target ids for source ids of one object type, from CMJ's Operations API. */
  mappings: (type: string, sourceIds: string[]) => Promise<ObjectMapping[]>;
}

/**
 * The port behind the SPI routes: one handler per migratable data type. Warden's own
 * configuration is the first; an app built on Warden registers its own handlers
 * (MigrationHandlers.register) and they travel in the same export document.
 */
export abstract class MigrationHandler {
  /** The data type's name in the export document, e.g. `warden.configuration`. */
  abstract readonly type: string;

  /** The data to migrate, as JSON; never a secret. */
  abstract exportData(): Promise<unknown>;

  /** Applies (or, in a dry run, only judges) exported data on this instance. */
  abstract importData(data: unknown, context: ImportContext): Promise<ImportReport>;
}
