import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.build/**', 'demo-app/**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', Buffer: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', performance: 'readonly', setImmediate: 'readonly', queueMicrotask: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Config is the one place that may read process.env (shared/STYLE.md).
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read env only in src/config.ts (loadConfig).' }],
    },
  },
  {
    // The shared words are imported by every home and import none of them (src/shared/README.md).
    files: ['src/shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/watcher/*', '**/deploy/*', '**/bot/*', '**/commands/*'], message: 'src/shared imports nothing from the homes that use it.' }] },
      ],
    },
  },
  {
    files: ['src/config.ts', 'test/**', 'bench/**', 'scripts/**', 'demo-app/**', 'eslint.config.js'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
