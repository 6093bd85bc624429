import { crc32, crc32Combine, crc32Parts } from './checksum';
import type { CheckpointStorage, ChecksummedBytes, FileContent, HeadedContent } from './storage';

/** Whether `content` is a {@link HeadedContent} (its head made from the body's CRC-32). */
export function isHeaded(content: FileContent): content is HeadedContent {
  return !(content instanceof Uint8Array) && !Array.isArray(content);
}

/** Total length in bytes of an object's content. */
export function contentBytes(content: FileContent): number {
  if (content instanceof Uint8Array) return content.byteLength;
  if (isHeaded(content)) return content.headBytes + partsBytes(content.body);
  return partsBytes(content as readonly Uint8Array[]);
}

function partsBytes(parts: readonly Uint8Array[]): number {
  return parts.reduce((sum, part) => sum + part.byteLength, 0);
}

/**
 * The content in one buffer with its CRC-32, for storages that take one buffer per object (copies unless it is
 * one already). Every byte is checksummed once: a headed content's CRC-32 follows from its head and its body's.
 */
export function joinChecksummed(content: FileContent): ChecksummedBytes {
  if (content instanceof Uint8Array) return { bytes: content, crc32: crc32(content) };
  if (!isHeaded(content)) {
    const bytes = join(content as readonly Uint8Array[]);
    return { bytes, crc32: crc32(bytes) };
  }
  const bodyCrc = crc32Parts(content.body);
  const head = headFor(content, bodyCrc);
  return { bytes: join([head, ...content.body]), crc32: headedCrc32(head, bodyCrc, partsBytes(content.body)) };
}

function join(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(partsBytes(parts));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** The head of `content` for a body of CRC-32 `bodyCrc32`, checked against its announced length. */
export function headFor(content: HeadedContent, bodyCrc32: number): Uint8Array {
  const head = content.head(bodyCrc32);
  if (head.byteLength !== content.headBytes) {
    throw new Error(`HeadedContent announced a ${content.headBytes}-byte head but made ${head.byteLength} bytes.`);
  }
  return head;
}

/** CRC-32 of a whole headed object from its head and its body's CRC-32, without reading the body again. */
export function headedCrc32(head: Uint8Array, bodyCrc32: number, bodyBytes: number): number {
  return crc32Combine(crc32(head), bodyCrc32, bodyBytes);
}

/**
 * An object's bytes with their CRC-32: checksummed while read where the storage offers it
 * (`readChecksummed`), else read whole and checksummed after.
 */
export async function readChecksummed(storage: CheckpointStorage, relPath: string): Promise<ChecksummedBytes> {
  if (storage.readChecksummed !== undefined) return storage.readChecksummed(relPath);
  const bytes = await storage.read(relPath);
  return { bytes, crc32: crc32(bytes) };
}
