import * as fc from 'fast-check';
import * as CRC32 from 'crc-32';
import * as zlib from 'zlib';
import {
  crc32,
  crc32Combine,
  crc32Implementation,
  frameBlob,
  frameBlobHeaded,
  frameBlobParts,
  pickCrc32Implementation,
  unframeBlob,
} from '../../src/checkpoint/checksum';
import { CorruptCheckpointError } from '../../src/errors';
import { contentBytes, joinChecksummed } from '../../src/checkpoint/file_content';

describe('crc32 implementations', () => {
  const noFoldedBinding = (): never => {
    throw new Error("Cannot find module '@node-rs/crc32-linux-x64-gnu'");
  };
  const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

  it('uses the folded native CRC (@node-rs/crc32) where its binary loads, as on this linux-x64 machine', () => {
    expect(crc32Implementation.name).toBe('@node-rs/crc32');
  });

  it('falls back to zlib.crc32, then to the pure-JS crc-32, when the native binding cannot load', () => {
    expect(pickCrc32Implementation(noFoldedBinding).name).toBe(zlibCrc32 ? 'zlib' : 'crc-32');
    expect(pickCrc32Implementation(noFoldedBinding, null).name).toBe('crc-32');
  });

  it('all give the pure-JS crc-32 result for any bytes (empty ones too), any offset into a buffer and any running checksum', () => {
    const implementations = [
      pickCrc32Implementation(),
      pickCrc32Implementation(noFoldedBinding),
      pickCrc32Implementation(noFoldedBinding, null),
    ];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.nat(40), fc.integer({ min: 0, max: 0xffffffff }), (bytes, skip, previous) => {
        const view = bytes.subarray(Math.min(skip, bytes.length));
        const expected = CRC32.buf(view, previous) >>> 0;
        for (const implementation of implementations) expect(implementation.compute(view, previous) >>> 0).toBe(expected);
      }),
      { seed: 12, numRuns: 300 },
    );
  });

  it('continues a running checksum chunk by chunk to the CRC-32 of the whole', () => {
    const whole = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 31 + (i >> 7)) & 0xff);
    let running = 0;
    for (let at = 0; at < whole.length; at += 4096) running = crc32(whole.subarray(at, at + 4096), running);
    expect(running).toBe(CRC32.buf(whole) >>> 0);
    expect(running).toBe(crc32(whole));
  });
});

describe('crc32Combine', () => {
  it('gives the CRC-32 of a followed by b from the two CRC-32s and the length of b', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 3000 }), (a, b) => {
        const whole = new Uint8Array(a.length + b.length);
        whole.set(a);
        whole.set(b, a.length);
        expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(crc32(whole));
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it('handles a second part of 70 MB (more than 2^26 bytes, every squaring round) like the CRC of the whole', () => {
    const a = Uint8Array.from([0x54, 0x46, 0x52, 0x42, 1, 2, 3]);
    const b = new Uint8Array(70 * 1024 * 1024 + 3);
    for (let i = 0; i < b.length; i += 4093) b[i] = i & 0xff;
    const whole = new Uint8Array(a.length + b.length);
    whole.set(a);
    whole.set(b, a.length);
    expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(crc32(whole));
  });

  it('returns crc(a) unchanged for an empty b', () => {
    expect(crc32Combine(crc32(Uint8Array.from([1, 2, 3])), 0, 0)).toBe(crc32(Uint8Array.from([1, 2, 3])));
  });
});

describe('frameBlobHeaded', () => {
  it('joins to the same bytes as frameBlobParts (header from the payload CRC-32, then the parts), with their CRC-32', () => {
    const parts = [Uint8Array.from([1, 2, 3, 4]), Uint8Array.from({ length: 1000 }, (_, i) => (i * 13) & 0xff)];
    const headed = frameBlobHeaded(parts);
    const expected = Buffer.concat(frameBlobParts(parts));
    expect(contentBytes(headed)).toBe(expected.byteLength);
    const joined = joinChecksummed(headed);
    expect(Buffer.from(joined.bytes).equals(expected)).toBe(true);
    expect(joined.crc32).toBe(crc32(expected));
  });
});

describe('unframeBlob with the CRC-32 of the whole framed file', () => {
  it('checks the payload from that CRC-32 as it would by reading the payload again', () => {
    const payload = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31) & 0xff);
    const framed = frameBlob(payload);
    expect(Buffer.from(unframeBlob(framed, 'x.bin', crc32(framed))).equals(Buffer.from(payload))).toBe(true);
    // A header whose payload CRC was altered, in a file whose own CRC-32 matches (as if state.json recorded the bad file).
    const altered = framed.slice();
    altered[16] ^= 0x01;
    expect(() => unframeBlob(altered, 'x.bin', crc32(altered))).toThrow(CorruptCheckpointError);
    expect(() => unframeBlob(altered, 'x.bin', crc32(altered))).toThrow(/^x\.bin failed its checksum \(crc32 [0-9a-f]+, expected [0-9a-f]+\)/);
  });
});
