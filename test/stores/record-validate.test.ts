import { describe, expect, it } from 'vitest';
import { assertValidTaskId, isValidTaskId, recordProblem } from '../../src/stores/record-validate.js';
import { makeFullRecord, makeRecord } from './_records.js';

describe('recordProblem', () => {
  it('accepts minimal and full records', () => {
    expect(recordProblem(makeRecord('a'))).toBeUndefined();
    expect(recordProblem(JSON.parse(JSON.stringify(makeFullRecord('b'))), 'b')).toBeUndefined();
  });

  const cases: Array<[string, unknown, RegExp]> = [
    ['null', null, /not a JSON object/],
    ['array', [], /not a JSON object/],
    ['wrong version', { ...makeRecord('a'), version: 2 }, /version 2/],
    ['bad id', { ...makeRecord('a'), id: '../a' }, /id/],
    ['unknown status', { ...makeRecord('a'), status: 'paused' }, /status/],
    ['string attempt', { ...makeRecord('a'), attempt: '1' }, /attempt/],
    ['NaN order', { ...makeRecord('a'), order: Number.NaN }, /order/],
    ['acked missing', { ...makeRecord('a'), acked: undefined }, /acked/],
    ['no command', { ...makeRecord('a'), spec: { args: [] } }, /spec\.command/],
    ['args not strings', { ...makeRecord('a'), spec: { command: 'x', args: [1] } }, /spec\.args/],
    ['history not array', { ...makeRecord('a'), history: {} }, /history/],
    ['bad history entry', { ...makeRecord('a'), history: [{ attempt: 1, status: 'running', startedAt: 1, endedAt: 2 }] }, /history\[0\]/],
    ['bad exitCode', { ...makeRecord('a'), exitCode: '0' }, /exitCode/],
    ['bad handle', { ...makeRecord('a'), handle: { kind: 'local' } }, /handle/],
  ];
  for (const [name, value, reason] of cases) {
    it(`rejects ${name}`, () => {
      expect(recordProblem(value)).toMatch(reason);
    });
  }

  it('checks the id against the file name', () => {
    expect(recordProblem(makeRecord('a'), 'b')).toMatch(/does not match/);
  });
});

describe('task ids', () => {
  it('accepts only file-name-safe ids', () => {
    expect(['a', 'A-z_0', 'x'.repeat(128)].every(isValidTaskId)).toBe(true);
    expect(['', '.', '..', 'a/b', 'a.b', 'x'.repeat(129), 7, null].some(isValidTaskId)).toBe(false);
    expect(() => assertValidTaskId('../etc')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', field: 'id' }));
  });
});
