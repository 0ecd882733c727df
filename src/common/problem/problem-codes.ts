/**
 * Every `code` a problem document (RFC 9457) can carry, with its HTTP status and what it means.
 * `DomainError` takes only these codes, each with its own status, so that a code missing here
 * does not compile; docs/errors.md lists the same codes (a spec keeps the two in step).
 * `4xx` is a client error the framework raised with a status no other code covers; a code used
 * with two statuses lists both.
 */
export const PROBLEM_CODES = {
  // 400
  bad_request: {
    status: 400,
    meaning:
      'The request could not be parsed or stored (bad JSON, bad framing, NUL, a value too large)',
  },
  bad_url: { status: 400, meaning: 'The URL could not be parsed' },
  validation_failed: {
    status: 400,
    meaning: 'The body or query is not valid; `errors` names every bad field',
  },
  unknown_group: { status: 400, meaning: 'A user was given a group that does not exist' },
  invalid_time_range: {
    status: 400,
    meaning: 'An audit query date is not a date between 1970 and 9999, or `from` is after `to`',
  },
  invalid_cursor: { status: 400, meaning: 'An audit query cursor is not one the API returned' },
  lifetime_too_long: {
    status: 400,
    meaning: 'An API token asked for more days than `apiTokens.maxLifetimeDays`',
  },
  app_key_mismatch: {
    status: 400,
    meaning: 'A Connect lifecycle payload names another app key than `CONNECT_APP_KEY`',
  },
  missing_original_request: {
    status: 400,
    meaning: 'A decision question without the original method and URI',
  },
  ambiguous_original_request: {
    status: 400,
    meaning: "A decision question carrying both nginx's and Traefik's header pair",
  },
  invalid_original_request: {
    status: 400,
    meaning:
      'The original method or URI is not valid (control character, encoded slash or backslash, `#`, not a path)',
  },
  download_not_allowed: {
    status: 400,
    meaning: 'A CMJ download link points at a host or scheme that is not allowed',
  },
  // 401
  unauthorized: { status: 401, meaning: 'The credentials were not accepted' },
  authentication_required: {
    status: 401,
    meaning: 'No credentials were presented where some are required',
  },
  invalid_credentials: {
    status: 401,
    meaning: 'Wrong username or password, or a malformed Authorization header',
  },
  invalid_token: {
    status: 401,
    meaning: 'The token is not valid (signature, claims, revoked, its user disabled)',
  },
  token_expired: { status: 401, meaning: 'The token has expired' },
  invalid_refresh_token: {
    status: 401,
    meaning: 'The refresh token is not valid, or its session has ended',
  },
  invalid_session: {
    status: 401,
    meaning: "The upstream's session cookie names no session, or its user is disabled",
  },
  credential_not_accepted: {
    status: 401,
    meaning: 'This kind of credential is not accepted on this route',
  },
  basic_auth_disabled: {
    status: 401,
    meaning: 'A password on an API call while `basicAuth.enabled` is off',
  },
  api_tokens_disabled: {
    status: [401, 403],
    meaning:
      'API tokens are switched off (`apiTokens.enabled`): one presented (401), or one to be created (403)',
  },
  lifecycle_replayed: {
    status: 401,
    meaning: 'A Connect lifecycle token used before, or older than the last accepted',
  },
  // 403
  forbidden: { status: 403, meaning: 'The request is not allowed' },
  ip_not_allowed: { status: 403, meaning: 'The client address is not in `ip.allow`' },
  not_in_api_access_group: { status: 403, meaning: 'The caller is in none of `groups.apiAccess`' },
  read_only_group: { status: 403, meaning: 'A member of `groups.readOnly` tried to write' },
  scope_insufficient: {
    status: 403,
    meaning: "The token's scopes do not cover the method or route",
  },
  admin_required: { status: 403, meaning: 'The route is for administrators' },
  admin_mapping_refused: {
    status: 403,
    meaning: "An identity provider's token maps to an administrator without `allowAdminMapping`",
  },
  external_token_not_allowed: {
    status: 403,
    meaning: "An identity provider's token cannot create API tokens or log out",
  },
  token_creation_disabled: {
    status: 403,
    meaning: 'Users may not create API tokens (`apiTokens.usersCanCreate` is off)',
  },
  not_in_token_creators_group: {
    status: 403,
    meaning: 'The user is in none of `groups.tokenCreators`',
  },
  scope_not_allowed: {
    status: 403,
    meaning: 'Only administrators may create a token with the `admin` scope',
  },
  // 404
  not_found: { status: 404, meaning: 'No such route or resource' },
  user_not_found: { status: 404, meaning: 'No such user' },
  group_not_found: { status: 404, meaning: 'No such group' },
  session_not_found: { status: 404, meaning: 'No such session' },
  token_not_found: { status: 404, meaning: 'No such API token (or it is revoked)' },
  tenant_not_found: { status: 404, meaning: 'No such Connect tenant' },
  operation_not_found: { status: 404, meaning: 'No such migration operation' },
  // framework-raised client errors
  method_not_allowed: { status: 405, meaning: 'The method is not allowed on this route' },
  not_acceptable: { status: 406, meaning: 'No representation the client accepts' },
  // 409
  conflict: { status: 409, meaning: 'The request conflicts with the current state' },
  user_exists: { status: 409, meaning: 'A user of that name exists' },
  group_exists: { status: 409, meaning: 'A group of that name exists' },
  group_in_use: {
    status: 409,
    meaning: 'The group is still named in settings (`settings` lists where)',
  },
  admin_group_protected: {
    status: 409,
    meaning: '`warden-admins` can be neither renamed nor deleted',
  },
  self_lockout: {
    status: 409,
    meaning: 'An administrator would disable, delete or demote themselves',
  },
  lockout: {
    status: 409,
    meaning: 'A settings change would lock the caller out; repeat with `?force=true`',
  },
  token_limit_reached: {
    status: 409,
    meaning: 'The user holds `apiTokens.maxPerUser` live tokens already',
  },
  tenant_not_callable: {
    status: 409,
    meaning:
      'The tenant is uninstalled or disabled, or acting as a user lacks `ACT_AS_USER` or `oauthClientId`',
  },
  precondition_failed: { status: 412, meaning: "The settings' `If-Match` is stale" },
  payload_too_large: { status: 413, meaning: 'The body is too large' },
  uri_too_long: { status: 414, meaning: 'The URI, or one of its path segments, is too long' },
  unsupported_media_type: {
    status: 415,
    meaning: 'The body is of a media type the route does not take',
  },
  unprocessable_content: {
    status: 422,
    meaning: 'The body is well-formed but cannot be processed',
  },
  precondition_required: { status: 428, meaning: 'A settings write without `If-Match`' },
  // 429
  rate_limited: {
    status: 429,
    meaning:
      "The credential's (or, for refused credentials, the address's) `rateLimit` budget is spent; see `Retry-After`",
  },
  login_rate_limited: {
    status: 429,
    meaning: '10 failed password checks for this username and address within 5 minutes',
  },
  headers_too_large: { status: 431, meaning: 'The request headers are too large' },
  error: { status: '4xx', meaning: 'Another client error the framework raised' },
  // 5xx
  internal_error: {
    status: 500,
    meaning: 'Something went wrong; the log holds the details under the `requestId`',
  },
  tenant_call_failed: {
    status: 502,
    meaning: 'The tenant or the authorization server did not answer a call back well',
  },
  service_unavailable: {
    status: 503,
    meaning: 'The service cannot answer just now; see `Retry-After`',
  },
  database_unavailable: {
    status: 503,
    meaning: 'The database cannot be reached or a statement took over 5 s; `Retry-After: 5`',
  },
  upstream_unavailable: {
    status: 503,
    meaning: 'The upstream of `UPSTREAM_BASE_URL` could not answer a session check',
  },
  idp_unavailable: {
    status: 503,
    meaning: 'An identity provider could not be asked (never an allow)',
  },
  idp_busy: {
    status: 503,
    meaning:
      "An identity provider's keys are looked up too often, or 32 introspections are in flight",
  },
  shutting_down: { status: 503, meaning: 'The instance is shutting down; `Retry-After: 5`' },
  console_not_built: {
    status: 503,
    meaning: 'The operator console has not been built (`npm run build`)',
  },
} as const satisfies Record<
  string,
  { status: number | readonly number[] | '4xx'; meaning: string }
>;

export type ProblemCode = keyof typeof PROBLEM_CODES;

type Listed<C extends ProblemCode> = (typeof PROBLEM_CODES)[C]['status'];

/** The status (or statuses) a code goes with; none for `error`, which only the framework raises. */
export type StatusOf<C extends ProblemCode> = Extract<
  Listed<C> extends readonly (infer S)[] ? S : Listed<C>,
  number
>;

/** The codes that go with a status. */
export type ProblemCodeFor<S extends number> = {
  [C in ProblemCode]: S extends StatusOf<C> ? C : never;
}[ProblemCode];

export function isProblemCode(value: unknown): value is ProblemCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(PROBLEM_CODES, value);
}
