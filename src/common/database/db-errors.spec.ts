import {
  isDatabaseUnavailable,
  isUniqueViolation,
  isUnstorableText,
  isValueOutOfRange,
} from './db-errors';

describe('database error classification', () => {
  it.each([
    [{ code: 'ECONNREFUSED' }],
    [{ driverError: { code: '08006' } }],
    [{ driverError: { code: '57P01' } }],
    [{ driverError: { code: '57014', message: 'canceling statement due to statement timeout' } }],
    [{ driverError: { code: '55P03' } }],
    [{ driverError: { code: 'SQLITE_BUSY' } }],
    [{ code: 'SQLITE_IOERR_WRITE' }],
    [new Error('Connection terminated unexpectedly')],
    [new Error('timeout exceeded when trying to connect')],
  ])('%j is the database being unavailable (503)', (err) => {
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  it.each([
    [{ driverError: { code: '23505' } }],
    [{ driverError: { code: '22001' } }],
    [{ code: 'SQLITE_CONSTRAINT_UNIQUE' }],
    [new Error('column "x" does not exist')],
    [null],
    ['text'],
  ])('%j is not', (err) => {
    expect(isDatabaseUnavailable(err)).toBe(false);
  });

  it('tells unique violations apart', () => {
    expect(isUniqueViolation({ driverError: { code: '23505' } })).toBe(true);
    expect(isUniqueViolation({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' })).toBe(true);
    expect(isUniqueViolation({ code: 'ECONNREFUSED' })).toBe(false);
  });

  it('tells values the request made too long or too large (400) from other failures', () => {
    expect(isValueOutOfRange({ driverError: { code: '22001' } })).toBe(true);
    expect(isValueOutOfRange({ code: '22003' })).toBe(true);
    expect(isValueOutOfRange({ driverError: { code: '22021' } })).toBe(false);
    expect(isValueOutOfRange({ driverError: { code: '08006' } })).toBe(false);
    expect(isValueOutOfRange(null)).toBe(false);
    expect(isUnstorableText({ driverError: { code: '22021' } })).toBe(true);
    expect(isUnstorableText({ driverError: { code: '22001' } })).toBe(false);
  });
});
