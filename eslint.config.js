import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Codecs are pure (STYLE.md §2): wire format only, no sockets, files, env, logger or clock.
const ioModules = [
  'node:dgram', 'dgram', 'node:net', 'net', 'node:fs', 'fs', 'node:fs/promises', 'fs/promises',
  'node:child_process', 'child_process', 'node:process', 'process', 'pino', 'node:os', 'os',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  { files: ['bin/**/*.js', 'eslint.config.js'], languageOptions: { globals: { URL: 'readonly', console: 'readonly', process: 'readonly' } } },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/*/codec/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ioModules.map((name) => ({ name, message: 'Codecs are pure: no I/O imports (STYLE.md §2).' })),
        patterns: [{ group: ['../../*', '../*', '!./*'], message: 'Codecs import only other codec files.' }],
      }],
      'no-restricted-globals': ['error', { name: 'process', message: 'Codecs do not read the environment.' }],
    },
  },
);
