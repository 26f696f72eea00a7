/** Large payloads are gzipped for Temporal and come back as they were; small ones pass untouched. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { COMPRESS_FROM_BYTES, GZIP_ENCODING, LargePayloadCodec } from '../../lib/payload-codec';

const codec = new LargePayloadCodec();

test('a payload over the threshold is compressed and decodes to the same value; a small one is left as it is', async () => {
  const rows = Array.from({ length: 10_000 }, (_, i) => ({ upn: `aa-site-${i}@contoso.onmicrosoft.com`, displayName: `Site ${i} main line`, kind: 'autoAttendant', usageLocation: 'US', phoneNumber: `+1206555${String(i).padStart(4, '0')}` }));
  const big = defaultPayloadConverter.toPayload({ rows });
  const small = defaultPayloadConverter.toPayload({ upn: 'a@contoso.onmicrosoft.com' });
  assert.ok((big.data?.length ?? 0) > COMPRESS_FROM_BYTES);
  const [encodedBig, encodedSmall] = await codec.encode([big, small]);
  assert.equal(new TextDecoder().decode(encodedBig?.metadata?.encoding), GZIP_ENCODING);
  assert.ok((encodedBig?.data?.length ?? Infinity) < (big.data?.length ?? 0) / 4, `compressed to ${encodedBig?.data?.length} of ${big.data?.length} bytes`);
  assert.equal(encodedSmall, small);
  const [decodedBig, decodedSmall] = await codec.decode([encodedBig!, encodedSmall!]);
  assert.deepEqual(defaultPayloadConverter.fromPayload(decodedBig!), { rows });
  assert.deepEqual(defaultPayloadConverter.fromPayload(decodedSmall!), { upn: 'a@contoso.onmicrosoft.com' });
});
