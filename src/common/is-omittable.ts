import { ValidateIf, ValidationOptions } from 'class-validator';

/**
 * A field that may be left out, but not sent as `null`. class-validator's `IsOptional` skips
 * the field's other rules for `null` as well as for a missing value, which lets `null` through
 * to code that takes the field's type for granted (a password to hash, a list of groups, a
 * boolean column): a 500 where the client deserves a 400 naming the field. Fields where `null`
 * means something (clearing a display name) keep `IsOptional`.
 */
export function IsOmittable(options?: ValidationOptions): PropertyDecorator {
  return ValidateIf((_object: unknown, value: unknown) => value !== undefined, options);
}
