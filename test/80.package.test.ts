// 80.package: `npm pack`, installed into an empty project with no compiler on PATH, works from prebuilds alone.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { identity } from './support/models.js';

const root = resolve(__dirname, '..');

describe('the packed package', () => {
  test('installs from its tarball and runs a model with no compiler on PATH', (ctx) => {
    const work = mkdtempSync(join(tmpdir(), 'ort-napi-pack-'));
    // A PATH with node alone: no cc, c++, cmake, make or python, so nothing can be compiled.
    const bin = join(work, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const npmCli = [process.env.npm_execpath ?? '', join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')].find(
      (p) => p.endsWith('npm-cli.js') && existsSync(p),
    )!;
    const env = { ...process.env, PATH: bin, npm_config_update_notifier: 'false' };
    const npm = (args: string[], cwd: string) => execFileSync(process.execPath, [npmCli, ...args], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

    // --ignore-scripts skips prepack: dist/ is there from `npm run build:ts`, which `npm test` runs first.
    const packed = npm(['pack', '--pack-destination', work, '--ignore-scripts', '--json'], root);
    const [{ filename, files }] = JSON.parse(packed) as [{ filename: string; files: { path: string }[] }];
    const tarball = join(work, filename);
    const paths = files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'package.json']));
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
  });
});
