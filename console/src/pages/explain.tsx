import { useState } from 'preact/hooks';
import { ApiError, call, fieldErrors } from '../api';
import { Field, ProblemView, TextField, useAction } from '../ui';

interface Step {
  step: string;
  verdict: 'pass' | 'allow' | 'deny' | 'skip' | 'info';
  detail: string;
  code?: string;
  decided: boolean;
}
interface Explanation {
  decision: 'allow' | 'deny';
  status: number;
  code: string | null;
  decidedBy: string;
  method: string;
  path: string;
  clientIp: string;
  principal: { username: string; groups: string[]; authMethod: string } | null;
  steps: Step[];
}

const STEP_TITLES: Record<string, string> = {
  'client-address': 'Client address',
  'route-policy': 'Route policy',
  'allow-list': 'Allow-list',
  credential: 'Credential kind',
  scope: 'Token scopes',
  groups: 'Group rules',
  'rate-limit': 'Rate limit',
};
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

export function ExplainPage() {
  const [method, setMethod] = useState('GET');
  const [uri, setUri] = useState('/');
  const [clientIp, setClientIp] = useState('');
  const [authorization, setAuthorization] = useState('');
  const [result, setResult] = useState<Explanation | null>(null);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const action = useAction(async () => {
    setErrors({});
    setResult(null);
    try {
      const res = await call<Explanation>('POST', '/admin/decision/explain', {
        method,
        uri,
        ...(clientIp.trim() ? { clientIp: clientIp.trim() } : {}),
        ...(authorization.trim() ? { authorization: authorization.trim() } : {}),
      });
      setResult(res.body);
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) setErrors(fieldErrors(err.problem));
      throw err;
    }
  });
  return (
    <div class="explain">
      <form
        class="card"
        aria-label="Request to explain"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run();
        }}
      >
        <p class="hint">
          A dry run of the decision endpoint: it spends no rate-limit budget and records one audit
          event. The Authorization value is never shown back or recorded.
        </p>
        <div class="row">
          <Field label="Method" errors={errors.method}>
            {(id) => (
              <select
                id={id}
                value={method}
                onChange={(e) => setMethod((e.target as HTMLSelectElement).value)}
              >
                {METHODS.map((m) => (
                  <option key={m}>{m}</option>
                ))}
              </select>
            )}
          </Field>
          <TextField
            label="Path"
            value={uri}
            onInput={setUri}
            errors={errors.uri}
            placeholder="/rest/api/2/issue/X-1"
          />
        </div>
        <TextField
          label="Client address"
          value={clientIp}
          onInput={setClientIp}
          errors={errors.clientIp}
          hint="Optional; your own address when empty"
          placeholder="203.0.113.7"
        />
        <TextField
          label="Authorization (optional)"
          type="password"
          value={authorization}
          onInput={setAuthorization}
          errors={errors.authorization}
          autoComplete="off"
          placeholder="Bearer …"
        />
        <ProblemView error={action.error} />
        <button type="submit" class="primary" disabled={action.busy}>
          Explain
        </button>
      </form>
      {result && <Result result={result} />}
    </div>
  );
}

function Result({ result }: { result: Explanation }) {
  return (
    <section class="card" aria-label="Explanation">
      <h2 class={`verdict ${result.decision}`} aria-live="polite">
        {result.decision === 'allow' ? 'Allowed' : 'Denied'} ({result.status}
        {result.code ? `, ${result.code}` : ''}) — decided by{' '}
        {STEP_TITLES[result.decidedBy] ?? result.decidedBy}
      </h2>
      <p>
        <code>
          {result.method} {result.path}
        </code>{' '}
        from <code>{result.clientIp}</code>
        {result.principal && (
          <>
            {' '}
            as <strong>{result.principal.username}</strong> ({result.principal.authMethod})
          </>
        )}
      </p>
      <ol class="steps">
        {result.steps.map((s) => (
          <li
            key={s.step}
            class={`step ${s.verdict}${s.decided ? ' decided' : ''}`}
            aria-current={s.decided ? 'step' : undefined}
            data-step={s.step}
          >
            <span class="step-name">{STEP_TITLES[s.step] ?? s.step}</span>
            <span class="badge">{s.verdict}</span>
            {s.decided && <strong class="decided-mark">Decided here</strong>}
            <span class="step-detail">
              {s.detail}
              {s.code ? ` (${s.code})` : ''}
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}
