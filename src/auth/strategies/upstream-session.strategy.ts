import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-custom';
import type { StrategyRequest } from './strategy-runner';
import { Problems } from '../../common/problem/domain-error';
import { DirectoryService } from '../directory/directory.service';
import { UserEntity } from '../directory/user.entity';
import { UpstreamSessionClient } from '../upstream-session.client';

/**
 * `session`: the upstream product's session cookie (e.g. JSESSIONID), accepted only when
 * UPSTREAM_BASE_URL is set. The upstream says whose session it is; the local directory then
 * supplies groups (a first-time user is added without a password). This strategy serves
 * /system/auth, which asks afresh every time; the decision endpoint goes through
 * UpstreamSessionCache instead.
 */
@Injectable()
export class UpstreamSessionStrategy extends PassportStrategy(Strategy, 'session') {
  constructor(
    private readonly upstream: UpstreamSessionClient,
    private readonly directory: DirectoryService,
  ) {
    super();
  }

  async validate(request: StrategyRequest): Promise<UserEntity> {
    const cookie = request.headers.cookie;
    const username = typeof cookie === 'string' ? await this.upstream.whoIs(cookie) : null;
    if (!username)
      throw Problems.unauthorized(
        'The upstream session is not valid',
        [{ scheme: 'Basic' }],
        'invalid_session',
      );
    const user = await this.directory.findOrProvision(username);
    if (user.disabled)
      throw Problems.unauthorized('The user is disabled', [{ scheme: 'Basic' }], 'invalid_session');
    return user;
  }
}
