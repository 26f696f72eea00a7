/** Schemas of the license-purchase approval (a run's or a batch's), shared by both routes. */
import { Type } from '@fastify/type-provider-typebox';
import type { Static } from '@fastify/type-provider-typebox';
import { idempotencyKeyHeader } from './common';

export const LicensePurchaseBody = Type.Object(
  {
    units: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      description: "Licenses to buy: at least the run's or batch's shortfall, at most the worker's ceilings (DIALTONE_PURCHASE_MAX_UNITS_PER_BATCH, and what DIALTONE_PURCHASE_MAX_UNITS_PER_DAY leaves today)",
    }),
    reason: Type.Optional(Type.String({ maxLength: 1000, description: 'Why; kept in the audit trail' })),
    by: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Who approved; kept in the audit trail. Default: the caller' })),
  },
  { additionalProperties: false },
);
export type LicensePurchaseBody = Static<typeof LicensePurchaseBody>;

export const LicensePurchaseHeaders = idempotencyKeyHeader(
  'Makes the approval safe to retry: a request with a key already used answers as the first did and approves nothing again',
);
export type LicensePurchaseHeaders = Static<typeof LicensePurchaseHeaders>;

export const LicensePurchaseResponse = Type.Object({
  id: Type.String(),
  workflowId: Type.String(),
  accepted: Type.Literal(true),
  units: Type.Integer(),
  statusUrl: Type.String(),
  message: Type.String(),
});
export type LicensePurchaseResponse = Static<typeof LicensePurchaseResponse>;

const Timestamp = Type.String({ format: 'date-time' });

/** A run's or batch's license purchase state (definitions.ts `LicensePurchaseState`), as the status shows it. */
export const LicensePurchaseStateSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('manual'), Type.Literal('partner-center')]),
    canPurchase: Type.Boolean(),
    shortfall: Type.Integer(),
    instructions: Type.String(),
    offer: Type.Optional(Type.Object({
      via: Type.Union([Type.Literal('subscription-quantity'), Type.Literal('cart')]),
      productTitle: Type.String(),
      subscriptionId: Type.Optional(Type.String()),
      currentQuantity: Type.Optional(Type.Integer()),
      catalogItemId: Type.Optional(Type.String()),
      units: Type.Integer(),
    })),
    ceilings: Type.Optional(Type.Object({
      perBatch: Type.Integer(),
      perDay: Type.Integer(),
      usedToday: Type.Integer(),
      leftToday: Type.Integer(),
      day: Type.String(),
    })),
    approvals: Type.Optional(Type.Array(Type.Object({
      units: Type.Integer(),
      by: Type.String(),
      reason: Type.Optional(Type.String()),
      at: Timestamp,
      state: Type.Union([Type.Literal('buying'), Type.Literal('bought'), Type.Literal('failed')]),
      result: Type.Optional(Type.String()),
      error: Type.Optional(Type.Object({ type: Type.String(), message: Type.String() })),
    }))),
  },
  { description: 'How to get the missing licenses (the worker\'s procurement: manual or partner-center), and approved purchases' },
);
