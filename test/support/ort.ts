// ort.ts: the package as users get it (the built dist/, through its own name and exports map), loaded by Node itself.
import { createRequire } from 'node:module';
import type * as Ort from '../../lib/index.js';

const require = createRequire(import.meta.url);
export const ort: typeof Ort = require('ort-napi');
export const { InferenceSession, Tensor, OrtError, ReleasedError, env } = ort;
export type { Ort };
