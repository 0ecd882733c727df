import { RequestMethod, Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ModulesContainer } from '@nestjs/core';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { MetadataStorage as TransformerStorage } from 'class-transformer/types/MetadataStorage';
import { getMetadataStorage } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';

// class-transformer keeps its `@Type` records here; the package exports no type for the path.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { defaultMetadataStorage } = require('class-transformer/cjs/storage') as {
  defaultMetadataStorage: TransformerStorage;
};

/** A route that takes a DTO, in its body or its query. */
export interface DtoRoute {
  method: string;
  /** With `:name` parameters, as Nest declares it. */
  path: string;
  in: 'body' | 'query';
  dto: Type;
}

/** A field of a DTO that a client can send text in: a dotted path into the DTO. */
export interface TextField {
  dto: Type;
  path: string;
  /** The field takes a list: text is sent as a one-element array. */
  list: boolean;
}

/** Validators that say a field is not text: numbers, booleans, dates. */
const NOT_TEXT = new Set(['isBoolean', 'isInt', 'isNumber', 'isDate', 'min', 'max', 'isPositive']);

/** Every class class-validator holds rules for (the DTOs), from its global storage. */
export function validatedClasses(): Type[] {
  const storage = getMetadataStorage() as unknown as {
    validationMetadatas: Map<Type, ValidationMetadata[]>;
  };
  return [...storage.validationMetadatas.keys()].filter((c) => typeof c === 'function');
}

function rulesOf(dto: Type): Map<string, ValidationMetadata[]> {
  const all = getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false);
  const byField = new Map<string, ValidationMetadata[]>();
  for (const rule of all) {
    const list = byField.get(rule.propertyName) ?? [];
    list.push(rule);
    byField.set(rule.propertyName, list);
  }
  return byField;
}

/**
 * The text fields of a DTO, read from its class-validator rules and followed into nested DTOs
 * (`@ValidateNested` + `@Type`): every field that is not a number, a boolean, a date or a nested
 * object. `reached` collects every class visited.
 */
export function textFieldsOf(dto: Type, reached = new Set<Type>(), prefix = ''): TextField[] {
  reached.add(dto);
  const fields: TextField[] = [];
  for (const [name, rules] of rulesOf(dto)) {
    const path = prefix ? `${prefix}.${name}` : name;
    const designType = Reflect.getMetadata('design:type', dto.prototype, name) as unknown;
    const list = designType === Array || rules.some((r) => r.each || r.name === 'isArray');
    if (rules.some((r) => r.type === 'nestedValidation')) {
      const nested =
        defaultMetadataStorage.findTypeMetadata(dto, name)?.typeFunction() ?? designType;
      if (typeof nested === 'function' && nested !== Object && nested !== Array) {
        fields.push(...textFieldsOf(nested as Type, reached, list ? `${path}.0` : path));
      }
      continue;
    }
    if (designType === Number || designType === Boolean || designType === Date) continue;
    if (rules.some((r) => r.name !== undefined && NOT_TEXT.has(r.name))) continue;
    fields.push({ dto, path, list });
  }
  return fields;
}

/**
 * The application's routes that take a DTO: `@Body() dto: SomeDto` / `@Query() q: SomeQuery`,
 * or a body read by hand and documented with `@ApiBody({ type: SomeDto })`.
 */
export function dtoRoutes(app: NestFastifyApplication): DtoRoute[] {
  const routes: DtoRoute[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as Type | null;
      if (!controller) continue;
      const prefix = [Reflect.getMetadata(PATH_METADATA, controller) ?? ''].flat()[0] as string;
      const proto = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const handler = proto[name];
        if (typeof handler !== 'function' || name === 'constructor') continue;
        const verb = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (verb === undefined) continue;
        const own = [Reflect.getMetadata(PATH_METADATA, handler) ?? ''].flat()[0] as string;
        const joined = `/${prefix}/${own}`.replace(/\/+/g, '/');
        const path = joined.length > 1 ? joined.replace(/\/$/, '') : joined;
        const method = RequestMethod[verb];
        const types = (Reflect.getMetadata('design:paramtypes', proto, name) ?? []) as unknown[];
        const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {}) as Record<
          string,
          { index: number; data?: unknown }
        >;
        for (const [key, arg] of Object.entries(args)) {
          const kind = Number(key.split(':')[0]);
          const where =
            kind === RouteParamtypes.BODY
              ? 'body'
              : kind === RouteParamtypes.QUERY
                ? 'query'
                : null;
          const type = types[arg.index];
          if (!where || arg.data !== undefined || !isDto(type)) continue;
          routes.push({ method, path, in: where, dto: type });
        }
        const documented = (Reflect.getMetadata('swagger/apiParameters', handler) ?? []) as {
          in?: string;
          type?: unknown;
        }[];
        for (const parameter of documented) {
          if (parameter.in !== 'body' || !isDto(parameter.type)) continue;
          if (routes.some((r) => r.method === method && r.path === path && r.in === 'body'))
            continue;
          routes.push({ method, path, in: 'body', dto: parameter.type });
        }
      }
    }
  }
  return routes;
}

function isDto(type: unknown): type is Type {
  return typeof type === 'function' && rulesOf(type as Type).size > 0;
}

/** `{a: {b: value}}` for the path `a.b`; a `.0` segment makes an array. */
export function bodyWith(path: string, value: unknown): Record<string, unknown> {
  const parts = path.split('.');
  const root: Record<string, unknown> = {};
  let at: Record<string, unknown> | unknown[] = root;
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    const next = last ? value : parts[i + 1] === '0' ? [] : {};
    (at as Record<string, unknown>)[part] = next;
    at = next as Record<string, unknown>;
  });
  return root;
}
