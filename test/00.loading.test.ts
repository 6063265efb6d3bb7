// 00.loading: the addon and ONNX Runtime load, from the right places, with errors that name the path.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { env } from './support/ort.js';

const root = resolve(__dirname, '..');

function nodeEval(code: string, extraEnv: Record<string, string> = {}, args: string[] = ['-e']) {
  return spawnSync(process.execPath, [...args, code], { cwd: root, env: { ...process.env, ...extraEnv }, encoding: 'utf8' });
}

/** The same hash CMakeLists.txt bakes into the binary. */
function nativeSourceHash(): string {
  const files = readdirSync(join(root, 'native'))
    .filter((f) => /\.(cc|h|map)$/.test(f))
    .map((f) => `native/${f}`)
    .sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f}\n`).update(readFileSync(join(root, f)));
  return hash.digest('hex');
}

describe('loading', () => {
  test('env.versions reports the bundled ONNX Runtime 1.29 and the API version asked for', () => {
    const v = env.versions;
    expect(v.onnxruntime).toBe('1.29.0');
    expect(v.apiVersion).toBe(29);
    expect(v.libraryPath).toBe(join(root, 'prebuilds', `linux-${process.arch}`, 'libonnxruntime.so.1'));
    expect(v.ortNapi).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
    expect(v.runThreads).toBeGreaterThanOrEqual(2);
  });

  test('works with require and with import', () => {
    const cjs = nodeEval(`const o = require('ort-napi'); console.log(typeof o.InferenceSession.create, o.env.versions.onnxruntime)`);
    expect(cjs.stderr).toBe('');
    expect(cjs.stdout.trim()).toBe('function 1.29.0');
    const esm = nodeEval(`import { InferenceSession, Tensor, env } from 'ort-napi'; console.log(typeof InferenceSession.create, typeof Tensor, env.versions.apiVersion)`, {}, ['--input-type=module', '-e']);
    expect(esm.stderr).toBe('');
    expect(esm.stdout.trim()).toBe('function function 29');
  });

  test('ORT_DYLIB_PATH is used, and a missing library is named in the error', () => {
    const r = nodeEval(`try { require('ort-napi').env.versions } catch (e) { console.log(e.code + '|' + e.message) }`, {
      ORT_DYLIB_PATH: '/nonexistent/libonnxruntime.so',
    });
    expect(r.stdout).toContain('ERR_ORT_LOAD|could not load ONNX Runtime from \'/nonexistent/libonnxruntime.so\'');
    expect(r.stdout).toContain('ORT_DYLIB_PATH');
  });

  test('a library that is not ONNX Runtime is refused by name', () => {
    const libz = ['/lib/x86_64-linux-gnu/libz.so.1', '/usr/lib/x86_64-linux-gnu/libz.so.1'].find(existsSync)!;
    const r = nodeEval(`try { require('ort-napi').env.init({ libraryPath: ${JSON.stringify(libz)} }) } catch (e) { console.log(e.message) }`);
    expect(r.stdout).toContain(`'${libz}' is not ONNX Runtime: it has no OrtGetApiBase symbol`);
  });

  test('an explicit libraryPath wins over ORT_DYLIB_PATH, and a second library is refused', () => {
    const lib = env.versions.libraryPath;
    const r = nodeEval(
      `const { env } = require('ort-napi');
       console.log(env.init({ libraryPath: ${JSON.stringify(lib)} }).onnxruntime);
       try { env.init({ libraryPath: '/other/libonnxruntime.so' }) } catch (e) { console.log(e.message) }`,
      { ORT_DYLIB_PATH: '/nonexistent/libonnxruntime.so' },
    );
    expect(r.stdout).toContain('1.29.0\n');
    expect(r.stdout).toContain(`ONNX Runtime is already loaded from '${lib}'`);
  });

  test('env.init rejects unknown options by name', () => {
    expect(() => env.init({ libraryPth: 'x' } as never)).toThrow("env.init options has an unknown option 'libraryPth'");
  });

  test('the prebuilt binary is in step with native/ (run npm run prebuild after changing native/)', () => {
    const prebuilt = join(root, 'prebuilds', 'linux-x64', 'ort-napi.node');
    expect(existsSync(prebuilt)).toBe(true);
    const hash = execFileSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(prebuilt)}).sourceHash)`], { encoding: 'utf8' }).trim();
    expect(hash).toBe(nativeSourceHash());
  });

  test('the linux-arm64 prebuilt binary is in step with native/ too (run npm run prebuild:arm64 after changing native/)', () => {
    const prebuilt = join(root, 'prebuilds', 'linux-arm64', 'ort-napi.node');
    expect(existsSync(prebuilt)).toBe(true);
    const bytes = readFileSync(prebuilt);
    // An aarch64 ELF shared object (e_machine 183), not some other build copied in.
    expect([bytes.readUInt32BE(0).toString(16), bytes[4], bytes.readUInt16LE(18)]).toEqual(['7f454c46', 2, 183]);
    // It cannot run here (test/81.arm64 runs it under qemu): its hash is read from its bytes, where
    // CMakeLists.txt put it, a string constant: the one run of exactly 64 lowercase hex digits.
    const hashes = bytes.toString('latin1').match(/(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])/g);
    expect(hashes).toEqual([nativeSourceHash()]);
  });
});
