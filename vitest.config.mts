import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file in its own process: native state (the loaded library, runner threads) stays per file.
    pool: 'forks',
    // The lifetime and leak tests call gc() to prove collected objects free their native memory.
    execArgv: ['--expose-gc'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
