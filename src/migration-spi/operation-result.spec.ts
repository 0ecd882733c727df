import { MigrationItem } from './handlers/migration-handler';
import { outcomeOf } from './operation-result';
import { OperationProblem } from './operations/operations-api.client';

describe(outcomeOf.name, () => {
  const error: OperationProblem = { message: 'e', severity: 'ERROR' };
  const warning: OperationProblem = { message: 'w', severity: 'WARNING' };
  const item = (outcome: MigrationItem['outcome']): MigrationItem => ({
    target: 'group',
    key: 'k',
    outcome,
  });

  it.each([
    ['no problems', [], [], 'succeeded'],
    ['warnings only, with failed items', [warning], [item('failed')], 'succeeded'],
    ['an error, nothing applied', [error], [item('failed'), item('skipped')], 'failed'],
    ['an error, an item created', [error], [item('created'), item('failed')], 'partial'],
    ['an error, an item updated', [error], [item('updated')], 'partial'],
  ] as const)('%s → %s', (_name, problems, items, expected) => {
    expect(outcomeOf([...problems], [...items])).toBe(expected);
  });
});
