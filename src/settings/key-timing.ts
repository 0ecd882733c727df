/**
 * How long verifiers may cache Warden's JWKS (its Cache-Control max-age). A new key must be
 * published longer than this before it signs, or a verifier holding the set it fetched just
 * before the rotation meets a `kid` it does not know.
 */
export const JWKS_MAX_AGE_SECONDS = 300;

/** How often each instance re-reads the keys (the bound when an invalidation message is lost). */
export const KEY_RELOAD_SECONDS = 60;

/**
 * The least `keys.prePublishSeconds`: the JWKS cache's lifetime, plus the time an instance that
 * missed the invalidation message may still serve the set without the new key.
 */
export const MIN_PRE_PUBLISH_SECONDS = JWKS_MAX_AGE_SECONDS + KEY_RELOAD_SECONDS;
