import { ApiError } from '../../api';
import { humanize } from './labels';

/** What others saved in a section since it loaded, and the document they left. */
export interface Conflict {
  theirs: { key: string; before: unknown; after: unknown }[];
  latestEtag: string;
  latest: unknown;
}

/** Someone saved the settings since this section loaded: what they changed, and the choices. */
export function ConflictNotice(props: {
  conflict: Conflict;
  busy: boolean;
  onReapply: () => void;
  onDiscard: () => void;
}) {
  const { conflict, busy } = props;
  return (
    <div class="conflict" role="alert">
      <strong>Someone else saved the settings since you loaded them.</strong>
      {conflict.theirs.length === 0 ? (
        <p>Nothing in this section changed; your changes can be applied on top.</p>
      ) : (
        <>
          <p>What changed in this section:</p>
          <ul>
            {conflict.theirs.map((c) => (
              <li key={c.key}>
                {humanize(c.key)}: <code>{JSON.stringify(c.before)}</code> →{' '}
                <code>{JSON.stringify(c.after)}</code>
              </li>
            ))}
          </ul>
        </>
      )}
      <div class="buttons">
        <button type="button" class="primary" onClick={props.onReapply} disabled={busy}>
          Reapply my changes
        </button>
        <button type="button" onClick={props.onDiscard}>
          Discard my changes
        </button>
      </div>
    </div>
  );
}

/** The save would lock the operator out: what it would refuse, and a way to apply it anyway. */
export function LockoutNotice(props: {
  lockout: ApiError;
  busy: boolean;
  onApply: () => void;
  onCancel: () => void;
}) {
  const { lockout, busy } = props;
  return (
    <div class="lockout" role="alert">
      <strong>This change would lock you out.</strong>
      <p>{lockout.problem.detail}</p>
      {Array.isArray(lockout.problem.lockout) && (
        <ul>
          {(lockout.problem.lockout as string[]).map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      )}
      <p>
        If you apply it anyway, your own requests from here will be refused from now on; only
        someone else, or the CLI on the server, can undo it.
      </p>
      <div class="buttons">
        <button type="button" class="danger" onClick={props.onApply} disabled={busy}>
          Apply anyway
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}
