import { IsOptional, IsString, validateSync } from 'class-validator';
import { IsOmittable } from './is-omittable';

class Probe {
  @IsOmittable()
  @IsString()
  omittable?: string;

  @IsOptional()
  @IsString()
  optional?: string | null;
}

const errorsOf = (value: Partial<Record<keyof Probe, unknown>>) =>
  validateSync(Object.assign(new Probe(), value)).map((e) => e.property);

describe('IsOmittable', () => {
  it('takes a field left out, and one with a value of its type', () => {
    expect(errorsOf({})).toEqual([]);
    expect(errorsOf({ omittable: 'x' })).toEqual([]);
  });

  it('refuses null, where IsOptional lets it through', () => {
    expect(errorsOf({ omittable: null })).toEqual(['omittable']);
    expect(errorsOf({ optional: null })).toEqual([]);
  });

  it("keeps the field's own rules for any other value", () => {
    expect(errorsOf({ omittable: 5 })).toEqual(['omittable']);
  });
});
