import { ValidationError } from 'class-validator';

export interface FieldError {
  field: string;
  messages: string[];
}

/**
 * class-validator's tree of errors as a flat list of field paths: dotted, list entries by index
 * (`identityProviders[1].issuer`).
 */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((e) => {
    const field = /^\d+$/.test(e.property)
      ? `${parent}[${e.property}]`
      : parent
        ? `${parent}.${e.property}`
        : e.property;
    const own = e.constraints ? [{ field, messages: Object.values(e.constraints) }] : [];
    return [...own, ...flattenValidationErrors(e.children ?? [], field)];
  });
}
