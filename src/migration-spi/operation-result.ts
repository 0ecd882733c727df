import { MigrationChange, MigrationItem } from './handlers/migration-handler';
import { OperationStatus } from './operations/operation.entity';
import { OperationProblem } from './operations/operations-api.client';

/**
 * `failed` when an error left nothing applied, `partial` when some items were applied (or, in a
 * dry run, would be) and others failed: CMJ's operator must not read a half-applied import as
 * one that changed nothing.
 */
export function outcomeOf(
  problems: OperationProblem[],
  items: MigrationItem[],
): Exclude<OperationStatus, 'running'> {
  if (!problems.some((p) => p.severity === 'ERROR')) return 'succeeded';
  return items.some((i) => i.outcome === 'created' || i.outcome === 'updated')
    ? 'partial'
    : 'failed';
}

/** A handler that reports only its changes: each one an item created or updated. */
export function itemOf(change: MigrationChange): MigrationItem {
  return {
    target: change.target,
    key: change.key,
    outcome: change.action === 'create' ? 'created' : 'updated',
  };
}

/** The result page CMJ shows its operator: items, outcomes and problems. */
export function resultHtml(
  kind: 'export' | 'import',
  dryRun: boolean,
  status: OperationStatus,
  changes: MigrationChange[],
  problems: OperationProblem[],
  items: MigrationItem[],
): string {
  const title =
    kind === 'export' ? 'Warden export' : dryRun ? 'Warden import (dry run)' : 'Warden import';
  const rows = items
    .map(
      (i) =>
        `<tr><td>${escape(i.target)}</td><td>${escape(i.key)}</td><td>${escape(dryRun && i.outcome !== 'failed' && i.outcome !== 'skipped' ? `would be ${i.outcome}` : i.outcome)}</td><td>${escape(i.reason ?? '')}</td></tr>`,
    )
    .join('');
  const issues = problems
    .map((p) => `<li>${escape(p.severity)}: ${escape(p.message)}</li>`)
    .join('');
  const verb = dryRun ? 'would change' : 'changed';
  return (
    `<!doctype html><meta charset=utf-8><title>${title}</title><h1>${title}</h1>` +
    (kind === 'import'
      ? `<p>${escape(status)}: ${changes.length} change(s) ${verb}; users come without passwords or API tokens.</p>`
      : '<p>Exported.</p>') +
    (rows
      ? `<table><tr><th>What</th><th>Which</th><th>Outcome</th><th>Reason</th></tr>${rows}</table>`
      : '') +
    (issues ? `<ul>${issues}</ul>` : '')
  );
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
