/** A signing key's place in the rotation, as `GET /admin/keys` shows it. */
export type KeyState = 'next' | 'active' | 'retiring';

export interface KeyTimes {
  kid: string;
  /** Epoch milliseconds, like every instant here. */
  activatesAt: number;
  retiredAt: number | null;
  publishUntil: number | null;
}

export interface KeyPhase {
  state: KeyState;
  /** When it stops signing: its stored retirement, else the activation of the key after it. */
  retiresAt: number | null;
}

export interface KeyPhases {
  /** The keys still published at `now`, by kid; a key absent here has left the JWKS. */
  phases: Map<string, KeyPhase>;
  /** The kid that signs at `now`. */
  signer: string | undefined;
  /** The next instant at which any key changes state (Infinity: none ahead). */
  changesAt: number;
}

/**
 * The state of every key at `now`, from the instants alone, so that every instance holding the
 * same rows switches at the same instant without asking the database. `keys` are in signing
 * order (activation, then kid). The signer is the last key whose activation has come; should
 * two rotations have raced and left two keys without a retirement, this still picks one.
 */
export function keyPhases(keys: readonly KeyTimes[], now: number): KeyPhases {
  const published = keys.filter((k) => k.publishUntil === null || k.publishUntil > now);
  const signer = published.filter((k) => k.activatesAt <= now).at(-1)?.kid;
  const phases = new Map<string, KeyPhase>();
  let changesAt = Infinity;
  published.forEach((key, i) => {
    const state: KeyState =
      key.activatesAt > now ? 'next' : key.kid === signer ? 'active' : 'retiring';
    const retiresAt = key.retiredAt ?? published[i + 1]?.activatesAt ?? null;
    phases.set(key.kid, { state, retiresAt });
    for (const instant of [key.activatesAt, key.publishUntil])
      if (instant !== null && instant > now) changesAt = Math.min(changesAt, instant);
  });
  return { phases, signer, changesAt };
}
