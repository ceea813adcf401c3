import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Codecs are pure (STYLE.md §2): wire format only, no sockets, files, env, logger or clock.
const ioModules = [
  'node:dgram', 'dgram', 'node:net', 'net', 'node:fs', 'fs', 'node:fs/promises', 'fs/promises',
  'node:child_process', 'child_process', 'node:process', 'process', 'pino', 'node:os', 'os',
];

// The domain owns state (STYLE.md §16, code review 2026-12 item 3): adapters translate requests into
// calls on src/machines and never write the store. They may name the store's types (a Store handed
// in for reads, a ScriptRun to render), not import its values.
const adapters = ['src/api/**/*.ts', 'src/enlist/**/*.ts', 'src/cloud-init/**/*.ts', 'src/http-boot/**/*.ts'];
const storeWrites = [
  'create', 'update', 'delete', 'enlist', 'setInventory', 'put', 'startRun', 'addResult', 'finishRun', 'putTag', 'deleteTag',
  'tagMachine', 'untagMachine', 'setTagMembers', 'record', 'adoptByMacs', 'pruneDhcpStep', 'upsertMany', 'flush',
].join('|');
const storeWriteMessage = 'Adapters do not write the store: call a src/machines method (STYLE.md §16).';

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
  {
    files: adapters,
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{
          group: ['**/store', '**/store/*'],
          allowTypeImports: true,
          message: 'Adapters import only types from src/store; state changes go through src/machines (STYLE.md §16).',
        }],
      }],
      // By shape, not by type: `store.<repo>.<write>(...)` and `<x>.store.<repo>.<write>(...)`, and
      // the store's transaction. A Store passed under another name is not caught; review catches that.
      'no-restricted-syntax': ['error',
        { selector: `CallExpression[callee.property.name=/^(${storeWrites})$/][callee.object.object.name='store']`, message: storeWriteMessage },
        { selector: `CallExpression[callee.property.name=/^(${storeWrites})$/][callee.object.object.property.name='store']`, message: storeWriteMessage },
        { selector: "CallExpression[callee.property.name='transaction'][callee.object.name='store']", message: storeWriteMessage },
        { selector: "CallExpression[callee.property.name='transaction'][callee.object.property.name='store']", message: storeWriteMessage },
      ],
    },
  },
  {
    // The domain asks the store for transactions (Store.transaction), never for the SQLite handle.
    files: ['src/machines/**/*.ts'],
    rules: {
      'no-restricted-syntax': ['error',
        { selector: "MemberExpression[property.name='db'][object.name='store']", message: 'Use store.transaction(fn), not store.db.' },
        { selector: "MemberExpression[property.name='db'][object.property.name='store']", message: 'Use store.transaction(fn), not store.db.' },
      ],
    },
  },
);
