import { defineConfig } from 'vitest/config';

// Tests of the notebooks' helpers (notebooks/lib); the notebooks themselves run through scripts/run-notebooks.py.
export default defineConfig({ test: { environment: 'node', include: ['lib/**/*.test.ts'] } });
