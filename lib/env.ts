// env.ts: the process-level view of ONNX Runtime: which library is loaded, and loading it explicitly.
import { loadOrt, packageRoot } from './binding.js';
import { invalid, isPlainObject, checkKeys } from './validate.js';

export interface Versions {
  /** This package's version. */
  ortNapi: string;
  /** The loaded ONNX Runtime's version string ("1.29.0"). */
  onnxruntime: string;
  /** The ONNX Runtime C API version ort-napi was built against and asks for. */
  apiVersion: number;
  /** The path libonnxruntime was loaded from. */
  libraryPath: string;
  /** How many threads run inferences and model loads off the main thread (ORT_NAPI_RUN_THREADS). */
  runThreads: number;
}

export interface InitOptions {
  /** A libonnxruntime to load instead of ORT_DYLIB_PATH or the bundled one. */
  libraryPath?: string;
}

const packageVersion: string = require(`${packageRoot}/package.json`).version;

function versions(): Versions {
  const info = loadOrt();
  return {
    ortNapi: packageVersion,
    onnxruntime: info.version ?? 'unknown',
    apiVersion: info.apiVersion,
    libraryPath: info.path ?? '',
    runThreads: info.runThreads,
  };
}

export const env = {
  /**
   * Loads ONNX Runtime now rather than on first use. A process loads one library: a later call
   * with another path throws.
   */
  init(options: InitOptions = {}): Versions {
    if (!isPlainObject(options)) throw invalid('env.init options', 'an object', options);
    checkKeys('env.init options', options, ['libraryPath']);
    if (options.libraryPath !== undefined && typeof options.libraryPath !== 'string') {
      throw invalid('env.init options.libraryPath', 'a string', options.libraryPath);
    }
    loadOrt(options.libraryPath);
    return versions();
  },
  /** What is loaded, from where (loads ONNX Runtime if nothing is yet). */
  get versions(): Versions {
    return versions();
  },
};
