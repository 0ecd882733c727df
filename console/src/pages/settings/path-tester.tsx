import { useState } from 'preact/hooks';
import { TextField, useId } from '../../ui';
import { matchingPatterns } from '../../validate';

export function PathTester({ patterns }: { patterns: string[] }) {
  const [method, setMethod] = useState('GET');
  const [path, setPath] = useState('');
  const methodId = useId('m');
  const found = path.startsWith('/')
    ? matchingPatterns(
        patterns.filter((p) => p.trim()),
        method,
        path,
      )
    : [];
  return (
    <fieldset class="tester">
      <legend>Test a path</legend>
      <div class="field">
        <label for={methodId}>Method</label>
        <select
          id={methodId}
          value={method}
          onChange={(e) => setMethod((e.target as HTMLSelectElement).value)}
        >
          {['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map((m) => (
            <option key={m}>{m}</option>
          ))}
        </select>
      </div>
      <TextField
        label="Path to test"
        value={path}
        onInput={setPath}
        placeholder="/rest/api/2/issue/X-1"
      />
      <p role="status" class="hint">
        {!path
          ? 'Type a path starting with /.'
          : !path.startsWith('/')
            ? 'A path starts with /.'
            : found.length
              ? `Matches: ${found.join(', ')}`
              : 'No pattern matches this path.'}
      </p>
    </fieldset>
  );
}
