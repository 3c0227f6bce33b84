/**
 * Byte-level UTF-8 boundary helpers. They never validate text: invalid bytes are treated as
 * complete one-byte characters, so a reader cutting on these boundaries always progresses.
 */

/** Expected length of a sequence starting with `lead`; 1 for ASCII and for anything that is not a valid lead byte. */
export function utf8SequenceLength(lead: number): number {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 1;
}

/** True for a continuation byte (`10xxxxxx`). */
export function isContinuationByte(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/**
 * Length of the longest prefix of `buf` that does not end inside a multi-byte UTF-8
 * sequence. Looks back at most 3 bytes; a sequence that is invalid anyway counts as
 * complete, so at most 3 bytes are ever held back.
 */
export function completeUtf8Length(buf: Uint8Array): number {
  const len = buf.length;
  const stop = Math.max(0, len - 3);
  for (let i = len - 1; i >= stop; i--) {
    const byte = buf[i]!;
    if (isContinuationByte(byte)) continue;
    // The last non-continuation byte: hold it back if its sequence is not finished yet.
    return len - i < utf8SequenceLength(byte) ? i : len;
  }
  // Only continuation bytes in the last 3: either the end of a complete 4-byte sequence or garbage.
  return len;
}

/**
 * Number of bytes to skip at the start of `buf` so that decoding starts on a character
 * boundary: the leading continuation bytes, at most 3 (more than that is invalid data, and
 * skipping it would hide bytes rather than a partial character).
 */
export function leadingContinuationBytes(buf: Uint8Array): number {
  let n = 0;
  while (n < 3 && n < buf.length && isContinuationByte(buf[n]!)) n++;
  return n;
}

/** True when `buf` starts in the middle of a multi-byte character. */
export function startsMidChar(buf: Uint8Array): boolean {
  return buf.length > 0 && isContinuationByte(buf[0]!);
}
