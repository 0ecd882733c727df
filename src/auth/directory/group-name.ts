import { ValidateBy, ValidationOptions } from 'class-validator';
import { Problems } from '../../common/problem/domain-error';

/**
 * A group name: 1 to 255 letters, digits, spaces and . _ @ + - (what Jira and Confluence accept;
 * 255 characters is the column's width, in lower case too). The one rule for every way a group
 * comes to be: the API's body, the directory itself, and a migration import (dry run or not).
 */
const GROUP_NAME = /^[\p{L}\p{N} ._@+-]{1,255}$/u;
export const GROUP_NAME_MESSAGE =
  'group name must be 1 to 255 characters, each a letter, a digit, a space or one of . _ @ + -';

export function isValidGroupName(name: unknown): name is string {
  return typeof name === 'string' && GROUP_NAME.test(name) && fitsOnceLowerCased(name);
}

/**
 * The directory also keeps the name in lower case (its key), in a column as wide, and lower case
 * can be longer: `İ` becomes `i̇`, two characters.
 */
function fitsOnceLowerCased(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.length <= 255 || [...lower].length <= 255;
}

/** The same 400 (validation_failed, naming the field) the API answers for a body with this name. */
export function assertValidGroupName(name: unknown): asserts name is string {
  if (!isValidGroupName(name)) {
    throw Problems.badRequest(`A ${GROUP_NAME_MESSAGE}`, 'validation_failed', {
      errors: [{ field: 'name', messages: [GROUP_NAME_MESSAGE] }],
    });
  }
}

/** The DTO's form of the rule. */
export const IsGroupName = (options?: ValidationOptions): PropertyDecorator =>
  ValidateBy(
    {
      name: 'isGroupName',
      validator: { validate: isValidGroupName, defaultMessage: () => GROUP_NAME_MESSAGE },
    },
    options,
  );
