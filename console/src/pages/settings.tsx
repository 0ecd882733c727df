import { useEffect, useState } from 'preact/hooks';
import { call } from '../api';
import { ProblemView } from '../ui';
import { Doc } from './settings/form-values';
import { SectionForm } from './settings/section-form';

export function SettingsPage() {
  const [doc, setDoc] = useState<Doc | null>(null);
  const [etag, setEtag] = useState<string>('');
  const [groups, setGroups] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const load = async () => {
    const res = await call<Doc>('GET', '/admin/settings');
    setDoc(res.body);
    setEtag(res.headers.get('etag') ?? '');
    return { doc: res.body, etag: res.headers.get('etag') ?? '' };
  };
  useEffect(() => {
    load().catch(setError);
    call<{ name: string }[]>('GET', '/admin/groups')
      .then((r) => setGroups(r.body.map((g) => g.name)))
      .catch(() => setGroups([]));
  }, []);
  if (error) return <ProblemView error={error} />;
  if (!doc) return <p>Loading settings…</p>;
  return (
    <div class="settings">
      <p class="hint">
        Each section saves on its own. Version <code>{etag}</code>.
      </p>
      {Object.keys(doc).map((section) => (
        <SectionForm
          key={section}
          section={section}
          value={doc[section]}
          etag={etag}
          groups={groups}
          onSaved={(next, nextEtag) => {
            setDoc(next);
            setEtag(nextEtag);
          }}
          reload={load}
        />
      ))}
    </div>
  );
}
