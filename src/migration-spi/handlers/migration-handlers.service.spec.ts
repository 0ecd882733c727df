import { ImportReport, MigrationHandler } from './migration-handler';
import { MigrationHandlers } from './migration-handlers.service';

class Named extends MigrationHandler {
  constructor(readonly type: string) {
    super();
  }
  async exportData(): Promise<unknown> {
    return null;
  }
  async importData(): Promise<ImportReport> {
    return { changes: [], problems: [] };
  }
}

describe(MigrationHandlers.name, () => {
  it('answers the handlers by type, and all of them in registration order', () => {
    const sut = new MigrationHandlers();
    const warden = new Named('warden.configuration');
    const app = new Named('app.things');
    sut.register(warden);
    sut.register(app);
    expect(sut.get('app.things')).toBe(app);
    expect(sut.get('other')).toBeUndefined();
    expect(sut.all()).toEqual([warden, app]);
  });

  it('refuses a second handler of one type, keeping the first', () => {
    const sut = new MigrationHandlers();
    const first = new Named('warden.configuration');
    sut.register(first);
    expect(() => sut.register(new Named('warden.configuration'))).toThrow(
      'A migration handler for warden.configuration is already registered',
    );
    expect(sut.all()).toEqual([first]);
  });

  it('hands out a copy of its list', () => {
    const sut = new MigrationHandlers();
    sut.register(new Named('a'));
    sut.all().pop();
    expect(sut.all()).toHaveLength(1);
  });
});
