// model-file.ts: says what is wrong with a model before ONNX Runtime's own words do: a path that names
// no file, a directory, an empty or unreadable file; and, when ONNX Runtime cannot parse what it was
// given, what the first bytes were (JSON, an HTML page, a zip such as a PyTorch .pt, a Git LFS pointer...).
import { constants, promises as fs, type Stats } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { OrtError } from './errors.js';

/** How many of a model's first bytes a failed load shows. */
const SHOWN = 16;

/**
 * Checks that `path` names a non-empty file this process can read, without blocking the event loop.
 * Returns its stats; throws an OrtError with the code ONNX Runtime would have given, in plainer words.
 */
export async function checkModelFile(path: string): Promise<Stats> {
  let stats: Stats;
  try {
    stats = await fs.stat(path);
  } catch (error) {
    throw fileError(path, error as NodeJS.ErrnoException);
  }
  if (stats.isDirectory()) {
    throw new OrtError(`model path '${path}' is a directory, not a model file`, 'INVALID_ARGUMENT');
  }
  // FIFOs, sockets and devices are left to ONNX Runtime: a pipe can carry a model, and its size says nothing.
  if (stats.isFile()) {
    if (stats.size === 0) throw new OrtError(`model file '${path}' is empty (0 bytes)`, 'FAIL');
    try {
      await fs.access(path, constants.R_OK);
    } catch (error) {
      throw fileError(path, error as NodeJS.ErrnoException);
    }
  }
  return stats;
}

function fileError(path: string, error: NodeJS.ErrnoException): OrtError {
  const lookedFor = isAbsolute(path) ? '' : ` (looked for '${resolve(path)}')`;
  switch (error.code) {
    case 'ENOENT':
      return new OrtError(`model file '${path}' does not exist${lookedFor}`, 'NO_SUCHFILE', { cause: error });
    case 'ENOTDIR':
      return new OrtError(`model file '${path}' does not exist: part of its directory path is a file${lookedFor}`, 'NO_SUCHFILE', { cause: error });
    case 'EACCES':
    case 'EPERM':
      return new OrtError(`model file '${path}' cannot be read: permission denied`, 'FAIL', { cause: error });
    default:
      return new OrtError(`model file '${path}' cannot be read: ${error.message}`, 'FAIL', { cause: error });
  }
}

/**
 * When ONNX Runtime could not parse a model (INVALID_PROTOBUF, or a protobuf without a graph; or an
 * INVALID_GRAPH from bytes that are recognisably something else), adds to `error.message` what the
 * model's first bytes were. `stats` are the file's, for a path; only a regular file is read, and only
 * its first bytes.
 */
export async function explainLoadFailure(error: Error, model: string | Uint8Array, stats?: Stats): Promise<void> {
  if (!(error instanceof OrtError)) return;
  const noGraph = /does not have a graph|No graph was found/.test(error.message);
  if (error.code !== 'INVALID_PROTOBUF' && error.code !== 'INVALID_GRAPH' && !noGraph) return;
  let head: Uint8Array;
  let size: number;
  if (typeof model === 'string') {
    if (!stats?.isFile()) return;
    try {
      head = await readHead(model);
    } catch {
      return; // gone or changed since: ONNX Runtime's message is all there is
    }
    size = stats.size;
  } else {
    head = model.subarray(0, SHOWN);
    size = model.byteLength;
  }
  const foreign = recognise(head);
  // A graph ONNX Runtime rejects is most often a real model's own fault: say nothing unless the bytes are something else.
  if (error.code === 'INVALID_GRAPH' && !noGraph && foreign === undefined) return;
  const kind = foreign ?? onnxStart(head);
  error.message = sentences(error.message.trimEnd(), describeBytes(head, size) + (kind ? `: ${kind}` : ''));
}

/** `first` and `second` as two sentences. */
function sentences(first: string, second: string): string {
  const end = (text: string) => (/[.!?]$/.test(text) ? text : `${text}.`);
  return `${end(first)} ${end(second[0].toUpperCase() + second.slice(1))}`;
}

async function readHead(path: string): Promise<Uint8Array> {
  const file = await fs.open(path, 'r');
  try {
    const head = new Uint8Array(SHOWN);
    const { bytesRead } = await file.read(head, 0, SHOWN, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/** "the model's 8 bytes are 7b 22 ...", or "the first 16 of the model's 1234 bytes are 50 4b ...". */
export function describeBytes(head: Uint8Array, size: number): string {
  const hex = Array.from(head, (b) => b.toString(16).padStart(2, '0')).join(' ');
  if (size === 0) return 'the model is empty (0 bytes)';
  if (size <= head.length) return size === 1 ? `the model's one byte is ${hex}` : `the model's ${size} bytes are ${hex}`;
  return `the first ${head.length} of the model's ${size} bytes are ${hex}`;
}

const ascii = (bytes: Uint8Array, at = 0) => String.fromCharCode(...bytes.subarray(at));
const startsWith = (bytes: Uint8Array, magic: readonly number[], at = 0) => magic.every((b, i) => bytes[at + i] === b);

/** What the first bytes of a model that did not parse are instead, where that is recognisable. */
export function recognise(head: Uint8Array): string | undefined {
  if (head.length === 0) return undefined;
  if (ascii(head, 4).startsWith('ORTM')) return 'an ORT-format model (ONNX Runtime\'s own format, not an ONNX protobuf)';
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06])) {
    return 'a zip archive, not an ONNX model (a PyTorch .pt or .pth, a NumPy .npz and a Keras .keras file are zips)';
  }
  if (startsWith(head, [0x1f, 0x8b])) return 'gzip-compressed data; decompress it first';
  if (startsWith(head, [0x93, ...Buffer.from('NUMPY')])) return 'a NumPy .npy array, not an ONNX model';
  if (startsWith(head, [0x89, ...Buffer.from('HDF\r\n\x1a\n')])) return 'an HDF5 file (a Keras .h5?), not an ONNX model';
  if (ascii(head).startsWith('GGUF')) return 'a GGUF model (llama.cpp), not an ONNX model';
  if (ascii(head, 4).startsWith('TFL3')) return 'a TensorFlow Lite model, not an ONNX model';
  if (head[0] === 0x80 && head[1] !== undefined && head[1] >= 2 && head[1] <= 5) {
    return 'a Python pickle (as torch.save wrote before PyTorch 1.6), not an ONNX model';
  }
  // safetensors: a little-endian 64-bit header length, then the JSON header.
  if (head.length >= 10 && head[8] === 0x7b && head[9] === 0x22 && head[6] === 0 && head[7] === 0) {
    return 'a safetensors file (weights without a graph), not an ONNX model';
  }
  if (isText(head)) {
    const text = ascii(head).replace(/^\xEF\xBB\xBF/, '').trimStart();
    if (text.startsWith('version https://')) {
      return 'a Git LFS pointer, not the model itself; fetch the model with `git lfs pull`';
    }
    if (/^<(!doctype html|html|head|body)\b/i.test(text)) return 'an HTML page (a download that saved an error or login page?), not an ONNX model';
    if (text.startsWith('<')) return 'XML or HTML text, not an ONNX model';
    if (text.startsWith('{') || text.startsWith('[')) return 'JSON text, not an ONNX model';
    if (/^ir_version\s*:/.test(text)) return 'an ONNX model in protobuf text format, which ONNX Runtime does not read; convert it to binary';
    return 'text, not an ONNX model';
  }
  return undefined;
}

/** Whether the bytes begin as an ONNX model does, for a model cut short or damaged further on. */
function onnxStart(head: Uint8Array): string | undefined {
  // ModelProto's first field is usually ir_version (field 1, a varint: tag 0x08) from 1 to 15.
  if (head[0] === 0x08 && head[1] !== undefined && head[1] >= 1 && head[1] <= 15) {
    return `the start of an ONNX model (ir_version ${head[1]}), but not a whole one; is it truncated or damaged?`;
  }
  return undefined;
}

/** Printable ASCII and whitespace, or UTF-8 (a multi-byte character cut at the end is allowed). */
function isText(head: Uint8Array): boolean {
  let i = 0;
  while (i < head.length) {
    const b = head[i];
    if (b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f)) {
      i++;
      continue;
    }
    const extra = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (extra < 0) return false;
    for (let k = 1; k <= extra; k++) {
      if (i + k >= head.length) return true;
      if ((head[i + k] & 0xc0) !== 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}
