// Shutdown steps run last to first and never wait on each other for ever (probe F5).
import { expect, test } from 'vitest';
import pino from 'pino';
import { closeInReverse } from '../src/closers.js';

test('a closer that hangs or throws does not keep the earlier ones from closing', async () => {
  const lines: string[] = [];
  const log = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
  const ran: string[] = [];
  const closers = [
    () => { ran.push('store'); },
    () => { ran.push('boot listener'); },
    () => { throw new Error('broken'); },
    () => new Promise<void>(() => ran.push('api (hangs)')),
  ];
  const started = Date.now();
  await closeInReverse(closers, log, 200);
  expect(Date.now() - started).toBeLessThan(2000);
  expect(ran).toEqual(['api (hangs)', 'boot listener', 'store']);
  expect(lines.join('')).toMatch(/did not close in time/);
  expect(lines.join('')).toMatch(/broken/);
  await closeInReverse(closers, log, 200); // emptied: a second close runs nothing again
  expect(ran).toHaveLength(3);
});
