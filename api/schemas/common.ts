import { Type } from '@fastify/type-provider-typebox';
import type { TUnsafe } from '@fastify/type-provider-typebox';

/**
 * A string enum as `{ type: 'string', enum: [...] }`: one clear validation error naming the allowed
 * values, where a union of literals would produce one error per literal.
 */
export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string } = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

export const FieldErrorSchema = Type.Object({
  field: Type.String({ description: 'Path of the offending field, e.g. `upn` or `options.licenseWaitTimeoutMs`' }),
  message: Type.String({ description: 'What is wrong and how to fix it' }),
});

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code, e.g. invalid_request, not_found, conflict' }),
      message: Type.String(),
      details: Type.Optional(Type.Array(FieldErrorSchema)),
    }),
  },
  { description: 'Every error has this shape' },
);

/** The error responses a route can give, so every status it answers with is declared. */
export function errorResponses<const S extends readonly number[]>(...statuses: S): Record<S[number], typeof ErrorResponse> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorResponse])) as Record<S[number], typeof ErrorResponse>;
}

/** The errors any authenticated route can give on top of its own. */
/** An optional `Idempotency-Key` header (printable ASCII, 1–200 characters); `description` says what it makes safe. */
export function idempotencyKeyHeader(description: string) {
  return Type.Object({
    'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x20-\\x7E]+$', description })),
  });
}

export const V1_ERRORS = [401, 500, 503] as const;

export const BEARER_SECURITY = [{ bearerAuth: [] }];

