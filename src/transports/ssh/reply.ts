import { TransportError } from '../../errors.js';
import { REPLY_MARK } from './remote-scripts.js';

/** One line (or frame) of a remote script's reply; see remote-scripts.ts for who sends what. */
export type ReplyItem =
  | { t: 'R'; root: string }
  | { t: 'B'; bootId: string }
  | { t: 'J'; leaf: string; state: 'E'; killreq: boolean; exit: string }
  | { t: 'J'; leaf: string; state: 'R'; killreq: boolean }
  | { t: 'J'; leaf: string; state: 'D'; killreq: boolean; hadPid: boolean }
  | { t: 'J'; leaf: string; state: 'G' }
  | { t: 'S'; leaf: string; out: number; err: number; limit?: true }
  | { t: 'O'; leaf: string; stream: 'stdout' | 'stderr'; offset: number; data: Buffer }
  | { t: 'P'; leaf: string; found: false }
  | { t: 'P'; leaf: string; found: true; pid?: number; pgid?: number; meta: string }
  | { t: 'OK'; pid: number; pgid: number; bootId: string }
  | { t: 'F'; reason: string }
  | { t: 'K'; what: string }
  | { t: 'C' }
  | { t: 'W'; what: string }
  | { t: 'X'; what: string }
  | { t: 'I'; leaf: string; waiting: boolean }
  | { t: 'Z' };

const NL = 0x0a;
const num = (s: string | undefined): number => {
  const n = Number(s);
  if (s === undefined || !/^\d{1,15}$/.test(s) || !Number.isSafeInteger(n)) throw bad(`bad number ${JSON.stringify(s)}`);
  return n;
};
const optNum = (s: string | undefined): number | undefined => (s === undefined || s === '-' ? undefined : num(s));
const bad = (why: string): TransportError => new TransportError('TRANSPORT_FAILED', `malformed reply from remote script: ${why}`);

function findMark(buf: Buffer): number {
  const mark = Buffer.from(`${REPLY_MARK}\n`);
  for (let i = buf.indexOf(mark); i >= 0; i = buf.indexOf(mark, i + 1)) {
    if (i === 0 || buf[i - 1] === NL) return i + mark.length;
  }
  throw bad(`no ${REPLY_MARK} line`);
}

/**
 * Parses a reply. Text before the `BGX1` line (a login banner) is skipped; output frames
 * (`O <leaf> <o|e> <offset> <n>` then n bytes and a newline) are taken byte-exact. Throws
 * `TRANSPORT_FAILED` on anything malformed — the caller treats the call as failed.
 */
export function parseReply(buf: Buffer): ReplyItem[] {
  const items: ReplyItem[] = [];
  let pos = findMark(buf);
  while (pos < buf.length) {
    const nl = buf.indexOf(NL, pos);
    if (nl < 0) throw bad('unterminated line');
    const line = buf.toString('utf8', pos, nl);
    pos = nl + 1;
    const f = line.split(' ');
    const leaf = f[1] ?? '';
    switch (f[0]) {
      case 'R':
        items.push({ t: 'R', root: line.slice(2) });
        break;
      case 'B':
        items.push({ t: 'B', bootId: line.slice(2) });
        break;
      case 'J': {
        const killreq = f[3] === '1';
        if (f[2] === 'E') items.push({ t: 'J', leaf, state: 'E', killreq, exit: f.slice(4).join(' ') });
        else if (f[2] === 'R') items.push({ t: 'J', leaf, state: 'R', killreq });
        else if (f[2] === 'D') items.push({ t: 'J', leaf, state: 'D', killreq, hadPid: f[4] === '1' });
        else if (f[2] === 'G') items.push({ t: 'J', leaf, state: 'G' });
        else throw bad(line);
        break;
      }
      case 'S':
        // `limit` (a fourth field of 1): a stream was cut at maxOutputBytes; absent in list replies.
        items.push({ t: 'S', leaf, out: num(f[2]), err: num(f[3]), ...(f[4] === '1' ? { limit: true as const } : {}) });
        break;
      case 'O': {
        const n = num(f[4]);
        if (pos + n + 1 > buf.length || buf[pos + n] !== NL) throw bad(`output frame of ${leaf} cut short`);
        items.push({ t: 'O', leaf, stream: f[2] === 'e' ? 'stderr' : 'stdout', offset: num(f[3]), data: Buffer.from(buf.subarray(pos, pos + n)) });
        pos += n + 1;
        break;
      }
      case 'P':
        if (f[2] === '-') items.push({ t: 'P', leaf, found: false });
        else {
          const pid = optNum(f[3]);
          const pgid = optNum(f[4]);
          items.push({ t: 'P', leaf, found: true, ...(pid === undefined ? {} : { pid }), ...(pgid === undefined ? {} : { pgid }), meta: f.slice(5).join(' ') });
        }
        break;
      case 'OK':
        items.push({ t: 'OK', pid: num(f[1]), pgid: num(f[2]), bootId: f.slice(3).join(' ') });
        break;
      case 'F':
        items.push({ t: 'F', reason: line.slice(2) });
        break;
      case 'K':
        items.push({ t: 'K', what: line.slice(2) });
        break;
      case 'C':
        items.push({ t: 'C' });
        break;
      case 'W':
      case 'X':
        items.push({ t: f[0], what: line.slice(2) });
        break;
      case 'I':
        items.push({ t: 'I', leaf, waiting: f[2] === '1' });
        break;
      case 'Z':
        items.push({ t: 'Z' });
        break;
      default:
        // A line the script did not write: stray output of a remote profile. Ignored.
        break;
    }
  }
  return items;
}

/** Parses a reply that must end with `Z` (poll, probe, list): a shorter one was cut off. */
export function parseCompleteReply(buf: Buffer): ReplyItem[] {
  const items = parseReply(buf);
  if (items[items.length - 1]?.t !== 'Z') throw bad('reply cut short (no Z)');
  return items;
}
