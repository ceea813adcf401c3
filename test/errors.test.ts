import { expect, test } from 'vitest';
import { errorCatalogue } from '../src/errors.js';

test('error codes are unique and follow NB_ERR_<AREA>_<WHAT>', () => {
  const codes = errorCatalogue.map((E) => new E('x').code);
  expect(new Set(codes).size).toBe(codes.length);
  for (const code of codes) expect(code).toMatch(/^NB_ERR_[A-Z]+_[A-Z_]+$/);
});
