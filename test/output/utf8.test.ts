import { describe, expect, it } from 'vitest';
import {
  completeUtf8Length,
  isContinuationByte,
  leadingContinuationBytes,
  startsMidChar,
  utf8SequenceLength,
} from '../../src/output/utf8.js';

const CHARS = ['é', '€', '😀'] as const;

/** Byte offsets at which a character of `text` starts, plus its end. */
function boundaries(text: string): number[] {
  const out = [0];
  let at = 0;
  for (const ch of text) {
    at += Buffer.byteLength(ch);
    out.push(at);
  }
  return out;
}

describe('completeUtf8Length', () => {
  it('keeps ASCII and empty buffers whole', () => {
    expect(completeUtf8Length(Buffer.alloc(0))).toBe(0);
    expect(completeUtf8Length(Buffer.from('hello\n'))).toBe(6);
  });

  for (const ch of CHARS) {
    const enc = Buffer.from(ch);
    it(`holds back every incomplete prefix of ${ch} (${enc.length} bytes)`, () => {
      for (let k = 1; k < enc.length; k++) {
        const buf = Buffer.concat([Buffer.from('ab'), enc.subarray(0, k)]);
        expect(completeUtf8Length(buf)).toBe(2);
        expect(completeUtf8Length(enc.subarray(0, k))).toBe(0);
      }
      expect(completeUtf8Length(Buffer.concat([Buffer.from('ab'), enc]))).toBe(2 + enc.length);
    });
  }

  it('cuts at the largest character boundary at or before every byte position', () => {
    const text = 'aé€😀b€😀éé😀x';
    const buf = Buffer.from(text);
    const bounds = boundaries(text);
    for (let k = 0; k <= buf.length; k++) {
      const expected = Math.max(...bounds.filter((b) => b <= k));
      expect(completeUtf8Length(buf.subarray(0, k)), `prefix ${k}`).toBe(expected);
    }
  });

  it('counts invalid bytes as complete', () => {
    expect(completeUtf8Length(Buffer.from([0x61, 0x80]))).toBe(2); // stray continuation
    expect(completeUtf8Length(Buffer.from([0x61, 0xff]))).toBe(2); // never a lead byte
    expect(completeUtf8Length(Buffer.from([0x61, 0xc0]))).toBe(2); // overlong lead
    expect(completeUtf8Length(Buffer.from([0x61, 0xf5]))).toBe(2); // beyond U+10FFFF
    expect(completeUtf8Length(Buffer.from([0x80, 0x80, 0x80, 0x80]))).toBe(4);
    expect(completeUtf8Length(Buffer.from([0xe2, 0x41]))).toBe(2); // lead cut short by ASCII
  });

  it('never holds back more than 3 bytes (random data)', () => {
    let seed = 12345;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256;
    for (let n = 0; n < 5000; n++) {
      const buf = Buffer.from(Array.from({ length: 1 + (n % 9) }, rnd));
      const len = completeUtf8Length(buf);
      expect(len).toBeLessThanOrEqual(buf.length);
      expect(buf.length - len).toBeLessThanOrEqual(3);
    }
  });
});

describe('leading continuation bytes', () => {
  it('finds where the next character starts', () => {
    const buf = Buffer.from('😀a');
    for (let k = 0; k < 4; k++) {
      expect(leadingContinuationBytes(buf.subarray(k))).toBe(k === 0 ? 0 : 4 - k);
      expect(startsMidChar(buf.subarray(k))).toBe(k !== 0);
    }
    expect(startsMidChar(Buffer.alloc(0))).toBe(false);
  });

  it('skips at most 3 bytes of garbage', () => {
    expect(leadingContinuationBytes(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x41]))).toBe(3);
  });

  it('classifies bytes', () => {
    expect(isContinuationByte(0xa9)).toBe(true);
    expect(isContinuationByte(0x41)).toBe(false);
    expect([0x41, 0xc3, 0xe2, 0xf0, 0xff].map(utf8SequenceLength)).toEqual([1, 2, 3, 4, 1]);
  });
});
