import { Injectable } from '@nestjs/common';
import { Strategy } from 'passport-custom';
import type { StrategyRequest } from './strategy-runner';
import { apiTokenOf, parseAuthorization } from '../../common/credentials';
import { LocalPassportStrategy } from '../../common/passport/local-strategy';
import { Problems } from '../../common/problem/domain-error';
import { ALL_SCOPES } from '../../common/principal';
import { toCached } from '../directory/user-cache';
import { DirectoryService } from '../directory/directory.service';
import { UserEntity } from '../directory/user.entity';
import {
  CredentialKindHandler,
  PresentedRequest,
  Resolution,
  userPrincipal,
} from '../kinds/credential-kind';

/** `basic`: username and password from the local directory, checked against the argon2id hash. */
@Injectable()
export class BasicStrategy extends LocalPassportStrategy(Strategy, 'basic') {
  constructor(private readonly directory: DirectoryService) {
    super();
  }

  async validate(request: StrategyRequest): Promise<UserEntity> {
    const credential = parseAuthorization(request.headers.authorization);
    if (credential.scheme !== 'basic')
      throw Problems.unauthorized('Expected Basic credentials', [{ scheme: 'Basic' }]);
    const user = await this.directory.verifyPassword(credential.username, credential.password);
    if (!user)
      throw Problems.unauthorized(
        'Invalid username or password',
        [{ scheme: 'Basic' }],
        'invalid_credentials',
      );
    return user;
  }
}

/**
 * The `basic` kind: `Authorization: Basic` with a password (an API token as the password is the
 * `api-token` kind). Refused on API calls when basicAuth.enabled is off; /system/auth still takes
 * it, since exchanging a password for tokens is its job. Judged afresh every time.
 */
@Injectable()
export class BasicKind extends CredentialKindHandler<UserEntity> {
  readonly kind = 'basic';
  readonly challenge = 'Basic';
  readonly securityScheme = {
    name: 'basic',
    definition: {
      type: 'http' as const,
      scheme: 'basic',
      description: 'Local directory username and password',
    },
  };

  constructor(readonly strategy: BasicStrategy) {
    super();
  }

  recognises({ presented, rules, settings }: PresentedRequest): boolean {
    return (
      presented.scheme === 'basic' &&
      apiTokenOf(presented) === null &&
      (settings.basicAuth.enabled || rules.login === true)
    );
  }

  resolve(user: UserEntity): Resolution {
    return {
      authenticated: { principal: userPrincipal(toCached(user), 'basic', user.id, ALL_SCOPES) },
    };
  }
}
