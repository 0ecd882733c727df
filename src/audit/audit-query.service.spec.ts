import { DomainError } from '../common/problem/domain-error';
import { strict } from '../../test/support/strict-mock';
import { AuditEntryEntity } from './audit-entry.entity';
import {
  AuditQueryService,
  csvLine,
  DEFAULT_PAGE_ROWS,
  EXPORT_PAGE_ROWS,
} from './audit-query.service';
import { AuditRepository } from './audit.repository';
import type { AuditEntryView, AuditFilterDto } from './dto/audit.dto';

const T = Date.parse('2026-12-01T09:00:00Z');

function entry(id: number, overrides: Partial<AuditEntryEntity> = {}): AuditEntryEntity {
  return Object.assign(new AuditEntryEntity(), {
    id: String(id),
    at: new Date(T - id * 1000),
    event: 'access.denied',
    outcome: 'denied',
    actor: 'alice',
    authMethod: 'basic',
    credentialId: null,
    ip: '203.0.113.7',
    method: 'GET',
    path: '/rest/api/2/issue',
    status: 403,
    reason: 'ip_not_allowed',
    userAgent: 'curl/8',
    requestId: `r${id}`,
    details: null,
    ...overrides,
  });
}
const entries = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => entry(from + i));

async function collect(chunks: AsyncGenerator<string>): Promise<string[]> {
  const all: string[] = [];
  for await (const chunk of chunks) all.push(chunk);
  return all;
}

describe(AuditQueryService.name, () => {
  let repository: { page: jest.Mock };
  let sut: AuditQueryService;

  beforeEach(() => {
    repository = { page: jest.fn(async () => []) };
    sut = new AuditQueryService(strict<AuditRepository>(repository));
  });

  describe('page', () => {
    it('asks for one row more than the page, to know whether another follows', async () => {
      repository.page.mockResolvedValue(entries(1, 3));
      const page = await sut.page({ actor: 'alice', event: 'user.*' }, 2);
      expect(repository.page).toHaveBeenCalledWith(
        {
          actor: 'alice',
          event: 'user.*',
          outcome: undefined,
          ip: undefined,
          credentialId: undefined,
        },
        3,
        undefined,
      );
      expect(page.items.map((i) => i.id)).toEqual(['1', '2']);
      expect(page.nextCursor).toEqual(expect.any(String));
    });

    it(`pages ${DEFAULT_PAGE_ROWS} rows by default, and names no next page after the last`, async () => {
      repository.page.mockResolvedValue(entries(1, 4));
      const page = await sut.page({});
      expect(repository.page.mock.calls[0][1]).toBe(DEFAULT_PAGE_ROWS + 1);
      expect(page.items).toHaveLength(4);
      expect(page.nextCursor).toBeNull();
    });

    it('continues after the last row of the page its cursor came from', async () => {
      repository.page.mockResolvedValueOnce(entries(1, 3)).mockResolvedValueOnce([]);
      const { nextCursor } = await sut.page({}, 2);
      await sut.page({}, 2, nextCursor!);
      expect(repository.page.mock.calls[1][2]).toEqual({ at: new Date(T - 2000), id: '2' });
    });

    it.each([
      ['not base64 of at|id', 'garbage'],
      ['with a third part', Buffer.from('2026-12-01T09:00:00.000Z|5|x').toString('base64url')],
      [
        'with an id that is not a number',
        Buffer.from('2026-12-01T09:00:00.000Z|5a').toString('base64url'),
      ],
      [
        'with an id beyond a bigint',
        Buffer.from('2026-12-01T09:00:00.000Z|9223372036854775808').toString('base64url'),
      ],
      ['with a time that is not one', Buffer.from('yesterday|5').toString('base64url')],
      ['with a time before 1970', Buffer.from('1969-12-31T23:59:59Z|5').toString('base64url')],
    ])('refuses a cursor %s', async (_name, cursor) => {
      const err = await sut.page({}, 10, cursor).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect(err).toMatchObject({ status: 400, code: 'invalid_cursor' });
      expect(repository.page).not.toHaveBeenCalled();
    });

    it.each([
      ['a from after the to', { from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' }],
      ['a from that is not a time', { from: 'last tuesday' }],
      ['a to beyond 9999', { to: '+010000-01-01T00:00:00Z' }],
      ['a from before 1970', { from: '1960-01-01T00:00:00Z' }],
    ])('refuses %s', async (_name, query) => {
      await expect(sut.page(query as AuditFilterDto)).rejects.toMatchObject({
        status: 400,
        code: 'invalid_time_range',
      });
    });

    it('reads the time range as instants', async () => {
      await sut.page({ from: '2026-12-01T00:00:00+01:00', to: '2026-12-01T10:00:00Z' });
      expect(repository.page.mock.calls[0][0]).toMatchObject({
        from: new Date('2026-11-30T23:00:00Z'),
        to: new Date('2026-12-01T10:00:00Z'),
      });
    });

    it('shows details as JSON, and keeps what is not JSON as it is', async () => {
      repository.page.mockResolvedValue([
        entry(1, { details: '{"tokenId":"t1"}' }),
        entry(2, { details: 'not json' }),
      ]);
      const { items } = await sut.page({});
      expect(items.map((i) => i.details)).toEqual([{ tokenId: 't1' }, { unparsable: 'not json' }]);
      expect(items[0]).toMatchObject({
        id: '1',
        at: new Date(T - 1000).toISOString(),
        status: 403,
      });
    });
  });

  describe('export', () => {
    it('checks the filter when called, before any chunk is asked for', () => {
      expect(() => sut.export({ from: 'never' }, 'csv')).toThrow(DomainError);
    });

    it('streams one chunk per page of rows, continuing after the last row of each', async () => {
      repository.page
        .mockResolvedValueOnce(entries(1, EXPORT_PAGE_ROWS))
        .mockResolvedValueOnce(entries(EXPORT_PAGE_ROWS + 1, 2));
      const chunks = await collect(sut.export({}, 'ndjson'));
      expect(chunks).toHaveLength(2);
      expect(chunks[0].split('\n')).toHaveLength(EXPORT_PAGE_ROWS + 1);
      expect(JSON.parse(chunks[1].split('\n')[1])).toMatchObject({
        id: String(EXPORT_PAGE_ROWS + 2),
      });
      expect(repository.page.mock.calls.map(([, limit, after]) => [limit, after])).toEqual([
        [EXPORT_PAGE_ROWS, undefined],
        [
          EXPORT_PAGE_ROWS,
          { at: new Date(T - EXPORT_PAGE_ROWS * 1000), id: String(EXPORT_PAGE_ROWS) },
        ],
      ]);
    });

    it('asks once more after a full last page, and ends on the empty answer', async () => {
      repository.page.mockResolvedValueOnce(entries(1, EXPORT_PAGE_ROWS)).mockResolvedValueOnce([]);
      const chunks = await collect(sut.export({}, 'ndjson'));
      expect(chunks).toHaveLength(1);
      expect(repository.page).toHaveBeenCalledTimes(2);
    });

    it('sends the CSV header with the first page, and alone when there are no rows', async () => {
      repository.page.mockResolvedValueOnce(entries(1, 1));
      const [first] = await collect(sut.export({}, 'csv'));
      const [header, row] = first.split('\r\n');
      expect(header).toBe(
        'id,at,event,outcome,actor,authMethod,credentialId,ip,method,path,status,reason,userAgent,requestId,details',
      );
      expect(row.startsWith('1,')).toBe(true);
      repository.page.mockResolvedValueOnce([]);
      expect(await collect(sut.export({}, 'csv'))).toEqual([`${header}\r\n`]);
      repository.page.mockResolvedValueOnce([]);
      expect(await collect(sut.export({}, 'ndjson'))).toEqual([]);
    });

    it('sends nothing when the first query fails', async () => {
      repository.page.mockRejectedValueOnce(new Error('statement timeout'));
      const chunks = sut.export({}, 'csv');
      await expect(chunks.next()).rejects.toThrow('statement timeout');
    });
  });
});

describe(csvLine.name, () => {
  const view = (overrides: Partial<AuditEntryView>): AuditEntryView => ({
    id: '1',
    at: '2026-12-01T09:00:00.000Z',
    event: 'access.denied',
    outcome: 'denied',
    actor: null,
    authMethod: null,
    credentialId: null,
    ip: null,
    method: null,
    path: null,
    status: null,
    reason: null,
    userAgent: null,
    requestId: null,
    details: null,
    ...overrides,
  });
  /** The path cell of a line. */
  const pathCell = (path: string) =>
    csvLine(view({ path }))
      .split(',')
      .slice(9)
      .join(',')
      .replace(/,+\r\n$/, '');

  it('leaves empty what is null, and ends the line with CRLF', () => {
    expect(csvLine(view({}))).toBe(
      '1,2026-12-01T09:00:00.000Z,access.denied,denied,,,,,,,,,,,\r\n',
    );
  });

  it.each([
    ['/plain', '/plain'],
    ['/a,b', '"/a,b"'],
    ['/say "hi"', '"/say ""hi"""'],
    ['=HYPERLINK("x")', `"'=HYPERLINK(""x"")"`],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tx', "'\tx"],
  ])('writes %p as %s', (path, cell) => {
    expect(pathCell(path)).toBe(cell);
  });

  it('quotes a cell with a line break', () => {
    expect(csvLine(view({ userAgent: 'a\nb' }))).toContain('"a\nb"');
    expect(csvLine(view({ userAgent: '\rb' }))).toContain(`"'\rb"`);
  });

  it('writes details as quoted JSON and numbers as they are', () => {
    const line = csvLine(view({ status: 401, details: { a: 1, b: 'x' } }));
    expect(line).toContain(',401,');
    expect(line.trimEnd().endsWith('"{""a"":1,""b"":""x""}"')).toBe(true);
  });
});
