/** Shared pieces of the API tests: a config built by the real loader, request bodies, polling. */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { AccountStatusResponse, SubmitResponse } from '../../api/schemas/resource-accounts';
import type { ApiConfig } from '../../api/config';
import { loadApiConfig } from '../../api/config';

export const TOKEN = 'test-token-0123456789abcdef';
export const AUTH = { authorization: `Bearer ${TOKEN}` };

export function testConfig(env: Record<string, string> = {}): ApiConfig {
  return loadApiConfig({ API_AUTH_TOKENS: TOKEN, LOG_LEVEL: 'silent', TEMPORAL_TASK_QUEUE: `api-test-${randomUUID()}`, ...env });
}

export interface AccountBody {
  upn: string;
  displayName: string;
  kind: 'autoAttendant' | 'callQueue';
  usageLocation: string;
  phoneNumber: string;
  association?: Record<string, unknown>;
  options?: Record<string, unknown>;
}

/** A valid request for a fresh account; `prefix` lets a test's fake activities pick a behaviour by UPN. */
export function accountBody(prefix = 'aa', overrides: Partial<AccountBody> = {}): AccountBody {
  const id = randomUUID().slice(0, 8);
  return {
    upn: `${prefix}-${id}@contoso.onmicrosoft.com`,
    displayName: `Auto attendant ${id}`,
    kind: 'autoAttendant',
    usageLocation: 'US',
    phoneNumber: '+12065550100',
    ...overrides,
  };
}

/**
 * The longest UPN there can be: 64 characters before the "@" (with characters URL encoding expands),
 * a 253-character domain after it.
 */
export function longestUpn(): string {
  const local = `${randomUUID().slice(0, 8)}${"#^~'!_-a".repeat(7)}`;
  const label = (c: string, n = 63) => c.repeat(n);
  return `${local}@${label('a')}.${label('b')}.${label('c')}.${label('d', 61)}`;
}

/** A log destination that keeps every line, for tests that read what the API logged. */
export function logCollector(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

export function statusPath(upn: string): string {
  return `/v1/resource-accounts/${encodeURIComponent(upn.toLowerCase())}`;
}

/** Polls until `done` holds, for things that happen asynchronously (a worker's progress, visibility). */
export async function eventually<T>(get: () => Promise<T>, done: (value: T) => boolean, what: string, attempts = 300): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < attempts; i++) {
    last = await get();
    if (done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not happen; last value: ${JSON.stringify(last)}`);
}

/** A request the API must accept (202) and a status it must answer (200), through `inject`. */
export function accountCalls(app: () => FastifyInstance): {
  submit(body: object): Promise<SubmitResponse>;
  status(upn: string): Promise<AccountStatusResponse>;
} {
  return {
    async submit(body) {
      const res = await app().inject({ method: 'POST', url: '/v1/resource-accounts', headers: AUTH, payload: body });
      assert.equal(res.statusCode, 202, res.body);
      return res.json<SubmitResponse>();
    },
    async status(upn) {
      const res = await app().inject({ method: 'GET', url: statusPath(upn), headers: AUTH });
      assert.equal(res.statusCode, 200, res.body);
      return res.json<AccountStatusResponse>();
    },
  };
}
