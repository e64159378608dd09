import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests share port 2022 (sshd / dev drop) and the local PostgreSQL; files run one at a time.
    fileParallelism: false,
    reporters: ['default'],
  },
});
