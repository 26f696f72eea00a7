/**
 * Payloads above a size are gzipped before they reach Temporal, so a batch of 10,000 rows (its input,
 * the state it carries when it continues as new, its plan) stays under the server's 2 MB payload limit
 * (Temporal: "blob size limit", warned from 512 KB). Smaller payloads pass untouched, so the Web UI and
 * the CLI show them as they are; a compressed one shows as binary there (encoding `binary/gzip`).
 *
 * Every process that reads or writes Dialtone's payloads uses it: the worker, the API and the tests'
 * clients (through {@link dialtoneDataConverter}).
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

export const GZIP_ENCODING = 'binary/gzip';
/** Payloads from this size on are compressed. */
export const COMPRESS_FROM_BYTES = 128 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class LargePayloadCodec implements PayloadCodec {
  constructor(private readonly fromBytes = COMPRESS_FROM_BYTES) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if ((payload.data?.length ?? 0) < this.fromBytes) return payload;
      return {
        metadata: { encoding: encoder.encode(GZIP_ENCODING) },
        data: gzipSync(temporal.api.common.v1.Payload.encode(payload).finish()),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.encoding;
      if (!encoding || decoder.decode(encoding) !== GZIP_ENCODING || !payload.data) return payload;
      return temporal.api.common.v1.Payload.decode(gunzipSync(payload.data));
    });
  }
}

export const dialtoneDataConverter: DataConverter = { payloadCodecs: [new LargePayloadCodec()] };
