import safeRegex from 'safe-regex2';
import {
  ArrayMaxSize,
  IsArray,
  IsString,
  MaxLength,
  registerDecorator,
  ValidateIf,
  ValidationOptions,
} from 'class-validator';
import { isSchedulableCron } from '../../common/cron';
import { isValidIpOrCidr } from '../../common/ip';
import { isValidPathPattern } from '../path-pattern';

/** Checks of settings fields that class-validator does not provide. */

/** A field that must be present and may be null. */
export const Nullable = (prop: string) =>
  ValidateIf((o: Record<string, unknown>) => o[prop] !== null);

function Check(
  name: string,
  test: (value: unknown) => boolean,
  message: string,
  options?: ValidationOptions,
) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName,
      options: { message, ...options },
      validator: { validate: test },
    });
}

export const IsIpOrCidr = (o?: ValidationOptions) =>
  Check(
    'isIpOrCidr',
    (v) => typeof v === 'string' && isValidIpOrCidr(v),
    '$property must hold IPv4 / IPv6 addresses or CIDR ranges',
    o,
  );
export const IsPathPattern = (o?: ValidationOptions) =>
  Check(
    'isPathPattern',
    (v) => typeof v === 'string' && isValidPathPattern(v),
    '$property must hold "/glob" or "METHOD /glob" patterns',
    o,
  );
export const IsCron = () =>
  Check(
    'isCron',
    (v) => {
      // An expression that parses but never fires (30 February) would leave retention unscheduled.
      return typeof v === 'string' && v.length <= 100 && isSchedulableCron(v);
    },
    '$property must be a cron expression that fires (read in UTC)',
  );
export const IsSafeRegex = () =>
  Check(
    'isRegex',
    (v) => {
      if (typeof v !== 'string' || v.length > 500) return false;
      try {
        new RegExp(v);
      } catch {
        return false;
      }
      // Nested quantifiers ((a+)+ and the like) backtrack catastrophically: a token's claim
      // must not be able to stall the event loop.
      return safeRegex(v);
    },
    '$property must be a regular expression of at most 500 characters, without nested quantifiers',
  );

export const GROUP_LIST = [
  IsArray(),
  ArrayMaxSize(200),
  IsString({ each: true }),
  MaxLength(255, { each: true }),
];
export const apply =
  (decorators: PropertyDecorator[]): PropertyDecorator =>
  (target, key) =>
    decorators.forEach((d) => d(target, key));
