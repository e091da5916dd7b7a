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
    // A function a reader can hold in mind (issue #18): 200 lines at most in the product.
    files: ['src/**'],
    rules: { 'max-lines-per-function': ['error', { max: 200 }] },
  },
  {
    // The use cases run on whichever engine select-engine.ts chose: they see only deploy-engine.ts
    // (src/deploy/use-cases/README.md).
    files: ['src/deploy/use-cases/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/compose/*', '**/swarm/*', '**/docker/*'], message: 'Use cases reach an engine only through DeployEngine (src/deploy/deploy-engine.ts).' }] },
      ],
    },
  },
  {
    // The two engines stand beside each other and share nothing but the seam and docker/.
    files: ['src/deploy/compose/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/swarm/*', '**/use-cases/*'], message: 'The Compose engine imports neither the Swarm engine nor the use cases.' }] }] },
  },
  {
    files: ['src/deploy/swarm/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/compose/*', '**/use-cases/*'], message: 'The Swarm engine imports neither the Compose engine nor the use cases.' }] }] },
  },
  {
    files: ['src/config.ts', 'test/**', 'bench/**', 'scripts/**', 'demo-app/**', 'eslint.config.js'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
