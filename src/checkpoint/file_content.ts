import { crc32, crc32Combine } from './checksum';
import type { FileContent, HeadedContent } from './storage';

/** Whether `content` is a {@link HeadedContent} (its head made from the body's CRC-32). */
export function isHeaded(content: FileContent): content is HeadedContent {
  return !(content instanceof Uint8Array) && !Array.isArray(content);
}

/** Total length in bytes of an object's content. */
export function contentBytes(content: FileContent): number {
  if (content instanceof Uint8Array) return content.byteLength;
  const parts = isHeaded(content) ? content.body : (content as readonly Uint8Array[]);
  return parts.reduce((sum, part) => sum + part.byteLength, isHeaded(content) ? content.headBytes : 0);
}

/** The content as parts written back to back (a headed content's head computed from its body). */
export function contentParts(content: FileContent): readonly Uint8Array[] {
  if (content instanceof Uint8Array) return [content];
  if (!isHeaded(content)) return content as readonly Uint8Array[];
  return [headFor(content, content.body.reduce((crc, part) => crc32(part, crc), 0)), ...content.body];
}

/** The content in one buffer, for storages that take one buffer per object (copies unless it is one already). */
export function joinedContent(content: FileContent): Uint8Array {
  if (content instanceof Uint8Array) return content;
  const parts = contentParts(content);
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
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
