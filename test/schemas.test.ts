// The shared schema primitives (src/schemas.ts), checked with TypeBox and with fastify's own Ajv
// settings, and the bundle's second check of parameter names (probe F8).
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import Fastify from 'fastify';
import { describe, expect, test } from 'vitest';
import { envFile } from '../src/enlist/bundle.js';
import { scriptProblem } from '../src/machines/scripts.js';
import { BundleError } from '../src/errors.js';
import { ClosedRecord, Hostname, Id, Mac, MacInput, machineMacProblem, SafeText } from '../src/schemas.js';

/** Whether fastify takes `value` in a body with this schema (its Ajv, as the apps configure it). */
async function ajvAccepts(schema: TSchema, value: unknown): Promise<boolean> {
  const app = Fastify({ ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } }); // as both apps set it
  app.post('/', { schema: { body: Type.Object({ v: schema }, { additionalProperties: false }) } }, async () => 'ok');
  const response = await app.inject({ method: 'POST', url: '/', payload: { v: value } });
  await app.close();
  return response.statusCode === 200;
}

const cases: Array<{ name: string; schema: TSchema; good: unknown[]; bad: unknown[] }> = [
  {
    name: 'Mac', schema: Mac,
    good: ['52:54:00:12:34:56', '02:00:00:00:00:01', 'AA:BB:CC:DD:EE:FF'.replace('AA', 'A8')],
    bad: ['ff:ff:ff:ff:ff:ff', 'FF:FF:FF:FF:FF:FF', '01:00:5e:00:00:01', '33:33:00:00:00:01', '00:00:00:00:00:00', '52-54-00-12-34-56', '52:54:00:12:34'],
  },
  { name: 'MacInput (shape only)', schema: MacInput, good: ['52:54:00:12:34:56', '52-54-00-12-34-56', '525400123456'], bad: ['52:54:00:12:34', 'zz:54:00:12:34:56'] },
  { name: 'Hostname', schema: Hostname, good: ['nb-abc234', 'a', 'x'.repeat(63)], bad: ['-a', 'a-', 'A', 'a.b', 'x'.repeat(64), ''] },
  { name: 'Id', schema: Id, good: ['abc234', 'nb-abc234', '52:54:00:12:34:56'], bad: ['', 'a/b', 'a b', 'x'.repeat(65), '\u001b'] },
  {
    name: 'SafeText(16)', schema: SafeText(16),
    good: ['', 'QEMU', 'Intel® Xeon®', 'tab-free é ü 漢字', '😀'],
    bad: ['a\u0000', '\u001b[31m', 'a\tb', 'a\nb', 'a\rb', 'a\u007f', 'a\u0085', 'a\u009b', 'a\u200e', 'a\u200f', 'a\u202a', 'a\u202e', 'a\u2066', 'a\u2069', 'x'.repeat(17)],
  },
  {
    name: 'ClosedRecord', schema: ClosedRecord('^[A-Z]+$', Type.String({ maxLength: 3 }), { maxProperties: 2 }),
    good: [{}, { A: 'x' }, { A: 'x', B: 'yyy' }],
    bad: [{ a: 'x' }, { A: 5 }, { A: 'long' }, { A: 'x', B: 'y', C: 'z' }, { 'A B': 'x' }],
  },
];

describe.each(cases)('$name', ({ schema, good, bad }) => {
  test.each(good.map((v) => [JSON.stringify(v), v]))('takes %s', async (_label, value) => {
    expect(Value.Check(schema, value)).toBe(true);
    expect(await ajvAccepts(schema, value)).toBe(true);
  });
  test.each(bad.map((v) => [JSON.stringify(v), v]))('refuses %s', async (_label, value) => {
    expect(Value.Check(schema, value)).toBe(false);
    expect(await ajvAccepts(schema, value)).toBe(false);
  });
});

test('ClosedRecord is always closed, whatever the options say', () => {
  expect(ClosedRecord('^a$', Type.String(), { additionalProperties: true } as never).additionalProperties).toBe(false);
});

test('machineMacProblem says why a MAC is not a machine\'s', () => {
  expect(machineMacProblem('ff:ff:ff:ff:ff:ff')).toMatch(/broadcast/);
  expect(machineMacProblem('01:00:5e:00:00:01')).toMatch(/multicast/);
  expect(machineMacProblem('00:00:00:00:00:00')).toMatch(/all zero/);
  expect(machineMacProblem('52:54:00:12:34:56')).toBeUndefined();
});

describe('the bundle never writes a parameter name unquoted (probe F8)', () => {
  test('good names are written NAME=\'value\'', () => {
    expect(envFile({ DISK: "a'b", _X: '' })).toBe(`DISK='a'\\''b'\n_X=''\n`);
  });
  test.each(['X=1 $(id>/tmp/p) Y', 'NETBOOT_TOKEN', 'lower', '1X', '', 'A\nB'])('%j is refused with a BundleError', (key) => {
    expect(() => envFile({ [key]: 'v' })).toThrow(BundleError);
    expect(scriptProblem({ parameters: { [key]: 'v' } })).toMatch(/does not match/);
  });
  test('a value that is not text is refused, not passed to replace()', () => {
    expect(() => envFile({ RETRIES: 7 as unknown as string })).toThrow(/must be text/);
    expect(scriptProblem({ parameters: { RETRIES: 7 as unknown as string } })).toMatch(/not text/);
  });
});
