#!/usr/bin/env node
// Stands in for node-gyp under prebuildify (PREBUILD_NODE_GYP): prebuildify asks for
// `node-gyp rebuild --release ...`; this addon builds with cmake-js, into the same build/Release.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const debug = process.argv.includes('--debug');
const result = spawnSync(process.execPath, [cmakeJs, 'rebuild', ...(debug ? ['--debug'] : [])], { stdio: 'inherit' });
process.exit(result.status ?? 1);
