import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-custom';
import type { StrategyRequest } from './strategy-runner';
import { parseAuthorization } from '../../common/credentials';
import { Problems } from '../../common/problem/domain-error';
import { DirectoryService } from '../directory/directory.service';
import { UserEntity } from '../directory/user.entity';

/** `basic`: username and password from the local directory, checked against the argon2id hash. */
@Injectable()
export class BasicStrategy extends PassportStrategy(Strategy, 'basic') {
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
