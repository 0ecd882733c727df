import { randomUUID } from 'node:crypto';
import { GroupEntity } from '../../src/auth/directory/group.entity';
import { UserTombstoneEntity } from '../../src/auth/directory/user-tombstone.entity';
import { UserEntity } from '../../src/auth/directory/user.entity';
import { GroupsRepository, UsersRepository } from '../../src/auth/directory/users.repository';
import { SigningKeyEntity } from '../../src/auth/keys/signing-key.entity';
import { SigningKeysRepository } from '../../src/auth/keys/signing-keys.repository';
import { RefreshSessionEntity } from '../../src/auth/sessions/refresh-session.entity';
import { SessionsRepository } from '../../src/auth/sessions/sessions.repository';
import { MIGRATIONS } from '../../src/database/data-source';
import { isUniqueViolation } from '../../src/common/database/db-errors';
import { DATABASES, databaseReady, itWhen } from '../support/app';
import { openTestDatabase, TestDatabase } from '../support/database';

function newUserEntity(username = `u-${randomUUID().slice(0, 8)}`, at = new Date()): UserEntity {
  return Object.assign(new UserEntity(), {
    id: randomUUID(),
    username,
    usernameKey: username.toLowerCase(),
    displayName: null,
    email: null,
    passwordHash: null,
    disabled: false,
    createdAt: at,
    updatedAt: at,
    groups: [],
  });
}

function newSession(userId: string, jtiHash: string, at = new Date()): RefreshSessionEntity {
  return Object.assign(new RefreshSessionEntity(), {
    id: randomUUID(),
    userId,
    authMethod: 'basic',
    generation: 1,
    currentJtiHash: jtiHash,
    previousJtiHash: null,
    rotatedAt: null,
    successorSealed: null,
    createdAt: at,
    lastUsedAt: at,
    expiresAt: new Date(at.getTime() + 3600_000),
    ip: '127.0.0.1',
    userAgent: 'test',
    revokedAt: null,
    revokedReason: null,
  });
}

/** A signing key row that activates at `activatesAt` (its key material is never read by these tests). */
function signingKey(kid: string, activatesAt: Date): SigningKeyEntity {
  return Object.assign(new SigningKeyEntity(), {
    kid,
    algorithm: 'RS256',
    publicJwk: '{}',
    privateKeySealed: 'v1.x',
    createdAt: activatesAt,
    activatesAt,
    retiredAt: null,
    publishUntil: null,
  });
}

describe.each(DATABASES)('repositories on %s', (kind) => {
  let db: TestDatabase;
  let ready = false;
  let users: UsersRepository;
  let groups: GroupsRepository;
  let sut: SessionsRepository;
  let keys: SigningKeysRepository;

  beforeAll(async () => {
    ready = await databaseReady(kind);
    if (!ready) return;
    db = await openTestDatabase(kind);
    users = new UsersRepository(
      db.dataSource.getRepository(UserEntity),
      db.dataSource.getRepository(UserTombstoneEntity),
    );
    groups = new GroupsRepository(db.dataSource.getRepository(GroupEntity));
    sut = new SessionsRepository(db.dataSource.getRepository(RefreshSessionEntity));
    keys = new SigningKeysRepository(db.dataSource.getRepository(SigningKeyEntity));
  });
  afterAll(async () => db?.close());

  const maybe = itWhen(kind);
  const rotation = (newJtiHash: string) => ({
    newJtiHash,
    successorSealed: 'sealed',
    at: new Date(),
    expiresAt: new Date(Date.now() + 3600_000),
    ip: '127.0.0.2',
    userAgent: 'ua',
  });

  maybe(
    'rotate is compare-and-set: of many racing rotations of one generation exactly one wins',
    async () => {
      const user = await users.save(newUserEntity());
      const session = await sut.insert(newSession(user.id, 'h1'));
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => sut.rotate(session.id, 'h1', rotation(`h2-${i}`))),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const after = await sut.findById(session.id);
      expect(after!.generation).toBe(2);
      expect(after!.previousJtiHash).toBe('h1');
      expect(after!.currentJtiHash).toBe(`h2-${results.indexOf(true)}`);
    },
  );

  maybe('a revoked session never rotates', async () => {
    const user = await users.save(newUserEntity());
    const session = await sut.insert(newSession(user.id, 'x1'));
    expect(await sut.revoke(session.id, 'logout', new Date())).toBe(true);
    expect(await sut.revoke(session.id, 'logout', new Date())).toBe(false);
    expect(await sut.rotate(session.id, 'x1', rotation('x2'))).toBe(false);
    expect((await sut.findById(session.id))!.successorSealed).toBeNull();
  });

  maybe(
    "revokeAllForUser revokes only that user's live sessions and reports them by revocation time",
    async () => {
      const a = await users.save(newUserEntity());
      const b = await users.save(newUserEntity());
      const since = new Date(Date.now() - 1000);
      const a1 = await sut.insert(newSession(a.id, 'a1'));
      const a2 = await sut.insert(newSession(a.id, 'a2'));
      const b1 = await sut.insert(newSession(b.id, 'b1'));
      const ids = await sut.revokeAllForUser(a.id, 'password_changed', new Date());
      expect(ids.sort()).toEqual([a1.id, a2.id].sort());
      expect((await sut.listLive(a.id, new Date())).length).toBe(0);
      expect((await sut.listLive(b.id, new Date())).map((s) => s.id)).toEqual([b1.id]);
      const revoked = (await sut.revokedSince(since)).map((r) => r.id);
      expect(revoked).toEqual(expect.arrayContaining([a1.id, a2.id]));
      expect(revoked).not.toContain(b1.id);
    },
  );

  maybe('timestamps round-trip as the same instant', async () => {
    const at = new Date('2026-03-01T12:34:56.789Z');
    const user = await users.save(newUserEntity(undefined, at));
    const loaded = await users.findById(user.id);
    expect(loaded!.createdAt.toISOString()).toBe(at.toISOString());
  });

  maybe('usernames are unique regardless of case at the database level', async () => {
    await users.save(newUserEntity('Zed'));
    let error: unknown;
    try {
      await users.save(newUserEntity('zED'));
    } catch (err) {
      error = err;
    }
    expect(isUniqueViolation(error)).toBe(true);
    expect((await users.findByUsername('ZED'))!.username).toBe('Zed');
  });

  maybe('group membership loads with the user and changedSince sees updates', async () => {
    const group = await groups.save(
      Object.assign(new GroupEntity(), {
        id: randomUUID(),
        name: 'Ops',
        nameKey: 'ops',
        createdAt: new Date(),
      }),
    );
    const user = newUserEntity();
    user.groups = [group];
    await users.save(user);
    expect((await users.findById(user.id))!.groups.map((g) => g.name)).toEqual(['Ops']);
    expect(await users.anyMemberOf(group)).toBe(true);
    const mark = new Date();
    await new Promise((r) => setTimeout(r, 5));
    user.updatedAt = new Date();
    await users.save(user);
    expect((await users.changedSince(mark)).map((c) => c.id)).toContain(user.id);
    expect((await groups.findByNames(['OPS', 'none'])).map((g) => g.name)).toEqual(['Ops']);
  });

  maybe('signing keys: retired keys stay published until their window ends', async () => {
    const now = new Date();
    await keys.insert(signingKey('k-old', new Date(now.getTime() - 1000)));
    await keys.insert(signingKey('k-new', now));
    await keys.retireBefore({ kid: 'k-new', activatesAt: now }, new Date(now.getTime() + 60_000));
    expect((await keys.findPublished(now)).map((k) => k.kid).sort()).toEqual(['k-new', 'k-old']);
    expect((await keys.findPublished(new Date(now.getTime() + 120_000))).map((k) => k.kid)).toEqual(
      ['k-new'],
    );
    expect(await keys.countActive()).toBe(1);
    expect(await keys.removeUnpublishedBefore(new Date(now.getTime() + 120_000))).toBe(1);
  });

  maybe(
    'signing keys: a key published before it signs is the latest, and retires the one before it at its activation',
    async () => {
      const now = new Date();
      const activation = new Date(now.getTime() + 600_000);
      await keys.insert(signingKey('k-current', now));
      await keys.insert(signingKey('k-next', activation));
      await keys.retireBefore(
        { kid: 'k-next', activatesAt: activation },
        new Date(activation.getTime() + 60_000),
      );
      expect((await keys.findLatest())?.kid).toBe('k-next');
      const published = await keys.findPublished(now);
      const current = published.find((k) => k.kid === 'k-current')!;
      expect(current.retiredAt?.getTime()).toBe(activation.getTime());
      expect(published.map((k) => k.kid).slice(-2)).toEqual(['k-current', 'k-next']);
    },
  );

  maybe(
    'signing keys: rotations at once leave exactly one active key, whatever the order',
    async () => {
      const at = new Date(Date.now() + 3_600_000);
      const until = new Date(at.getTime() + 60_000);
      // Two instances insert their keys, then each retires the keys before its own: the later
      // retirement first, which retired both keys when each retired "all but mine".
      await keys.insert(signingKey('k-first', at));
      await keys.insert(signingKey('k-second', new Date(at.getTime() + 1)));
      await keys.retireBefore({ kid: 'k-second', activatesAt: new Date(at.getTime() + 1) }, until);
      await keys.retireBefore({ kid: 'k-first', activatesAt: at }, until);
      // The same instant: the kid decides.
      await keys.insert(signingKey('k-x', new Date(at.getTime() + 2)));
      await keys.insert(signingKey('k-y', new Date(at.getTime() + 2)));
      await keys.retireBefore({ kid: 'k-y', activatesAt: new Date(at.getTime() + 2) }, until);
      await keys.retireBefore({ kid: 'k-x', activatesAt: new Date(at.getTime() + 2) }, until);
      const active = (await keys.findPublished(at)).filter((k) => k.retiredAt === null);
      expect(active.map((k) => k.kid)).toEqual(['k-y']);
    },
  );

  maybe('a deleted user is among the changes, by its tombstone, for a day', async () => {
    const now = Date.now();
    const user = Object.assign(new UserEntity(), {
      id: randomUUID(),
      username: `gone-${now}`,
      usernameKey: `gone-${now}`,
      displayName: null,
      email: null,
      passwordHash: null,
      disabled: false,
      createdAt: new Date(now),
      updatedAt: new Date(now - 60_000),
      groups: [],
    });
    await users.save(user);
    const mark = new Date(now - 30_000);
    expect((await users.changedSince(mark)).map((c) => c.id)).not.toContain(user.id);
    expect(await users.remove(user.id)).toBe(true);
    expect(await users.findById(user.id)).toBeNull();
    expect((await users.changedSince(mark)).map((c) => c.id)).toContain(user.id);
    expect(await users.remove(user.id)).toBe(false);
    // A tombstone older than a day goes with the next deletion.
    await db.dataSource
      .getRepository(UserTombstoneEntity)
      .update({ userId: user.id }, { deletedAt: new Date(now - 2 * 86_400_000) });
    const other = Object.assign(new UserEntity(), { ...user, id: randomUUID() });
    await users.save(other);
    await users.remove(other.id);
    const left = await db.dataSource.getRepository(UserTombstoneEntity).find();
    expect(left.map((t) => t.userId)).toContain(other.id);
    expect(left.map((t) => t.userId)).not.toContain(user.id);
  });

  maybe('migrations can be reverted and re-applied', async () => {
    for (let i = 0; i < MIGRATIONS.length; i++) await db.dataSource.undoLastMigration();
    const tables =
      kind === 'postgres'
        ? await db.dataSource.query(
            `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'`,
          )
        : await db.dataSource.query(`SELECT name FROM sqlite_master WHERE type = 'table'`);
    const names = tables.map((t: { name: string }) => t.name);
    for (const table of [
      'users',
      'groups',
      'refresh_sessions',
      'signing_keys',
      'settings',
      'api_tokens',
      'user_tombstones',
    ])
      expect(names).not.toContain(table);
    await db.dataSource.runMigrations();
    expect(await db.dataSource.showMigrations()).toBe(false);
  });
});

describe('the embedded database file', () => {
  it('is in WAL mode with synchronous NORMAL, temporary storage in memory and 16 KiB pages', async () => {
    const db = await openTestDatabase('sqlite');
    try {
      const pragma = async (name: string) =>
        Object.values((await db.dataSource.query(`PRAGMA ${name}`))[0] as object)[0];
      expect({
        journal: await pragma('journal_mode'),
        synchronous: await pragma('synchronous'),
        tempStore: await pragma('temp_store'),
        pageSize: await pragma('page_size'),
      }).toEqual({ journal: 'wal', synchronous: 1, tempStore: 2, pageSize: 16384 });
    } finally {
      await db.close();
    }
  });
});
