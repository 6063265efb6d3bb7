// validate.ts: the one helper for argument errors: each message names the parameter, what it must be, and what it was.

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as ArrayLike<unknown>).length ?? value.byteLength}`;
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    case 'symbol':
      return `the symbol ${String(value)}`;
    default:
      return `an object (${(value as object).constructor?.name ?? 'no prototype'})`;
  }
}

/**
 * Dims for a message: `[1,3,224,224]`, or for a rank past 16 the first eight and the count
 * (`[1,1,1,1,1,1,1,1,...] (100000 dims)`), so that a message about a caller's shape stays short
 * whatever its rank: the server sends such messages back in gRPC trailers, which have a size limit.
 */
export function dimsText(dims: readonly unknown[]): string {
  return dims.length <= 16 ? `[${dims.join(',')}]` : `[${dims.slice(0, 8).join(',')},...] (${dims.length} dims)`;
}

/** A TypeError of the form "<parameter> must be <expected>; received <what it was>". */
export function invalid(parameter: string, expected: string, received: unknown): TypeError {
  return new TypeError(`${parameter} must be ${expected}; received ${describe(received)}`);
}

/** A RangeError of the same form, for values of the right type but out of range. */
export function outOfRange(parameter: string, expected: string, received: unknown): RangeError {
  return new RangeError(`${parameter} must be ${expected}; received ${describe(received)}`);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Rejects keys of `options` outside `known`, naming the first unknown one. */
export function checkKeys(parameter: string, options: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key) && options[key] !== undefined) {
      throw new TypeError(`${parameter} has an unknown option '${key}' (known: ${known.join(', ')})`);
    }
  }
}

export function optionalInteger(parameter: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(parameter, 'an integer', value);
  if (value < min || value > max) throw outOfRange(parameter, `an integer from ${min} to ${max}`, value);
  return value;
}

export function optionalString(parameter: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(parameter, 'a string', value);
  return value;
}

export function optionalChoice<T extends string>(parameter: string, value: unknown, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw invalid(parameter, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
  }
  return value as T;
}
