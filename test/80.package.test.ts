// 80.package: `npm pack`, installed into an empty project: with no compiler on PATH it works from
// prebuilds alone; with the prebuilt binary removed, `npm run build` inside it builds from source.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { identity } from './support/models.js';

const root = resolve(__dirname, '..');

describe('the packed package', () => {
  test('installs from its tarball and runs a model with no compiler on PATH', (ctx) => {
    const work = mkdtempSync(join(tmpdir(), 'ort-napi-pack-'));
    // A PATH with node and a shell alone: no cc, c++, cmake, make or python, so nothing can be
    // compiled. (npm runs a dependency's lifecycle script through sh: protobufjs, under the
    // server's @grpc/proto-loader, has a postinstall that checks its version and builds nothing.)
    const bin = join(work, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    symlinkSync('/bin/sh', join(bin, 'sh'));
    const npmCli = npmCliPath();
    const env = { ...process.env, PATH: bin, npm_config_update_notifier: 'false' };
    const npm = (args: string[], cwd: string) => execFileSync(process.execPath, [npmCli, ...args], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

    // --ignore-scripts skips prepack: dist/ is there from `npm run build:ts`, which `npm test` runs first.
    const packed = npm(['pack', '--pack-destination', work, '--ignore-scripts', '--json'], root);
    const [{ filename, files }] = JSON.parse(packed) as [{ filename: string; files: { path: string }[] }];
    const tarball = join(work, filename);
    const paths = files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'package.json']));
    // Each bundled core with the provider-bridge library beside it, without which ONNX Runtime
    // cannot load the CUDA provider (test/27).
    for (const arch of ['x64', 'arm64']) {
      expect(paths).toEqual(expect.arrayContaining([`prebuilds/linux-${arch}/libonnxruntime.so.1`, `prebuilds/linux-${arch}/libonnxruntime_providers_shared.so`, `prebuilds/linux-${arch}/ort-napi.node`]));
    }
    // npm would run a binding.gyp's `node-gyp rebuild` on install even with no install script.
    expect(paths).not.toContain('binding.gyp');
    // No script that runs when a consumer installs the package: npm would flag it as running install scripts.
    const manifest = JSON.parse(execFileSync('tar', ['-xOzf', tarball, 'package/package.json'], { encoding: 'utf8' })) as { scripts?: Record<string, string> };
    for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) expect(manifest.scripts ?? {}).not.toHaveProperty(script);
    expect(manifest.scripts?.prepack).toBe('npm run build:ts');
    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, version: '1.0.0' }));
    writeFileSync(join(app, 'model.onnx'), identity('float32', ['n']));
    // Dependencies from npm's cache where it has them (an install from the lockfile leaves the
    // tarballs there, not always the registry's metadata), else from the registry.
    try {
      npm(['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app);
    } catch (error) {
      const why = String((error as { stderr?: string }).stderr ?? error);
      const offline = /ENOTCACHED|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH/.exec(why);
      if (!offline) throw error;
      console.log(`skipping the packed-install test: the dependencies are neither in npm's cache nor reachable (${offline[0]})`);
      ctx.skip();
    }
    expect(readdirSync(join(app, 'node_modules', 'ort-napi'))).not.toContain('build');

    const run = (code: string, type: 'commonjs' | 'module') =>
      execFileSync(process.execPath, [`--input-type=${type}`, '-e', code], { cwd: app, env, encoding: 'utf8' }).trim();
    expect(
      run(
        `const { InferenceSession, Tensor } = require('ort-napi');
         InferenceSession.create('model.onnx').then(async (s) => {
           const { y } = await s.run({ x: new Tensor('float32', new Float32Array([1, 2, 3]), [3]) });
           console.log(Array.from(y.data).join(','));
         });`,
        'commonjs',
      ),
    ).toBe('1,2,3');
    expect(run(`import { env } from 'ort-napi'; console.log(env.versions.onnxruntime)`, 'module')).toBe('1.29.0');
    // The bin is linked and runs from the installed package.
    const types = execFileSync(join(app, 'node_modules', '.bin', 'ort-napi'), ['types', 'model.onnx'], { cwd: app, env, encoding: 'utf8' });
    expect(types).toContain('export type ModelSignature = {');
    // The whole install, dependencies included: a third of the 385 MB the earlier bundled core took.
    const installed = bytesUnder(join(app, 'node_modules'));
    console.log(`[80.package] installed size: ${(installed / 2 ** 20).toFixed(1)} MiB`);
    expect(installed).toBeLessThan(385 * 2 ** 20 / 3);
    packedTarball = tarball;
  }, 180_000);

  test('builds from source inside the installed package (npm run build) with the prebuilt binary removed', (ctx) => {
    if (!packedTarball) {
      console.log('skipping the source build of the installed package: the packed install above did not run');
      ctx.skip();
      return;
    }
    const missing = ['cmake', 'c++'].filter((tool) => spawnSync(tool, ['--version']).error !== undefined);
    if (missing.length > 0) {
      console.log(`skipping the source build of the installed package: ${missing.join(' and ')} not on PATH`);
      ctx.skip();
      return;
    }
    const app = mkdtempSync(join(tmpdir(), 'ort-napi-source-'));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, version: '1.0.0' }));
    writeFileSync(join(app, 'model.onnx'), identity('float32', ['n']));
    const npm = (args: string[], cwd: string) => execFileSync(process.execPath, [npmCliPath(), ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    npm(['install', '--prefer-offline', '--no-audit', '--no-fund', packedTarball], app);
    const pkg = join(app, 'node_modules', 'ort-napi');
    rmSync(join(pkg, 'prebuilds', `linux-${process.arch}`, 'ort-napi.node'));
    // Without the prebuilt binary and before the build, loading says what to do.
    const before = spawnSync(process.execPath, ['-e', "require('ort-napi')"], { cwd: app, encoding: 'utf8' });
    expect(before.status).not.toBe(0);
    expect(before.stderr).toContain('build it from source: npm run build');
    npm(['run', 'build'], pkg);
    expect(existsSync(join(pkg, 'build', 'Release', 'ort_napi.node'))).toBe(true);
    const out = execFileSync(
      process.execPath,
      ['-e', `const { InferenceSession, Tensor } = require('ort-napi');
        InferenceSession.create('model.onnx').then(async (s) => {
          const { y } = await s.run({ x: new Tensor('float32', new Float32Array([4, 5]), [2]) });
          console.log(Array.from(y.data).join(','));
        });`],
      { cwd: app, encoding: 'utf8' },
    ).trim();
    expect(out).toBe('4,5');
  }, 300_000);
});

let packedTarball: string | undefined;

function npmCliPath(): string {
  return [process.env.npm_execpath ?? '', join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')].find(
    (p) => p.endsWith('npm-cli.js') && existsSync(p),
  )!;
}

function bytesUnder(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += bytesUnder(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}
