import { DEFAULT_SETTINGS } from './settings.defaults';
import { renameGroupInSettings, settingsNamingGroup } from './group-settings';

describe('group lists in the settings', () => {
  const document = () => {
    const settings = structuredClone(DEFAULT_SETTINGS) as unknown as Record<string, unknown>;
    Object.assign(settings.groups as object, {
      apiAccess: ['Ops', 'dev'],
      readOnly: ['auditors'],
      tokenCreators: ['dev', 'ops-new'],
    });
    return settings;
  };

  it('names every list that holds a group, regardless of case', () => {
    expect(settingsNamingGroup(document(), 'DEV')).toEqual([
      'groups.apiAccess',
      'groups.tokenCreators',
    ]);
    expect(settingsNamingGroup(document(), 'nobody')).toEqual([]);
  });

  it('renames in place, keeps the order, and does not name a group twice', () => {
    const doc = document();
    expect(renameGroupInSettings(doc, 'ops', 'ops-new')).toEqual(['groups.apiAccess']);
    expect(doc.groups).toEqual({
      apiAccess: ['ops-new', 'dev'],
      readOnly: ['auditors'],
      tokenCreators: ['dev', 'ops-new'],
    });
    expect(renameGroupInSettings(doc, 'dev', 'ops-new')).toEqual([
      'groups.apiAccess',
      'groups.tokenCreators',
    ]);
    expect((doc.groups as Record<string, string[]>).tokenCreators).toEqual(['ops-new']);
  });

  it('a document without group lists (an older one) changes nothing', () => {
    expect(renameGroupInSettings({}, 'ops', 'x')).toEqual([]);
  });
});
