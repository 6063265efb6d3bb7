// values.ts: ONNX's non-tensor values in JS (a sequence is an array, a map a Map, an absent optional
// null), their types in metadata, and their conversion to and from the addon's encoding.
import type { NativeTensor } from './binding.js';
import { ELEMENT_TYPES, elementType, Tensor, typeName, type TensorType } from './tensor.js';
import { invalid } from './validate.js';

export type ElementTypeName = TensorType | `onnx-type-${number}`;

/** The type of a value, nested: what metadata reports for each input and output. */
export type TypeInfo =
  | { readonly kind: 'tensor'; readonly type: ElementTypeName; readonly shape: readonly (number | string)[]; readonly unranked?: true }
  | { readonly kind: 'sequence'; readonly element: TypeInfo }
  | { readonly kind: 'map'; readonly key: ElementTypeName; readonly value: TypeInfo }
  | { readonly kind: 'optional'; readonly element: TypeInfo }
  | { readonly kind: 'opaque' | 'sparse-tensor' | 'unknown' };

/** Any ONNX value: a Tensor, a sequence (array), a map (Map of scalars), or null (an absent optional). */
export type OnnxValue = Tensor | readonly OnnxValue[] | ReadonlyMap<string | bigint | number, number | bigint | string | boolean> | null;

/** The addon's description of a type (native/session.cc TypeDescToJs). */
export interface NativeTypeDesc {
  kind: number; // ONNXType
  type: number;
  dims: (number | string)[];
  unranked?: boolean;
  key?: number;
  inner?: NativeTypeDesc;
}

const KINDS = ['unknown', 'tensor', 'sequence', 'map', 'opaque', 'sparse-tensor', 'optional'] as const;

export function toTypeInfo(desc: NativeTypeDesc): TypeInfo {
  const kind = KINDS[desc.kind] ?? 'unknown';
  switch (kind) {
    case 'tensor':
      // A tensor the model gives no shape at all: any rank goes (shape [] then means "unknown", not "scalar").
      if (desc.unranked) return Object.freeze({ kind, type: typeName(desc.type), shape: Object.freeze(desc.dims), unranked: true as const });
      return Object.freeze({ kind, type: typeName(desc.type), shape: Object.freeze(desc.dims) });
    case 'sequence':
    case 'optional':
      return Object.freeze({ kind, element: toTypeInfo(desc.inner!) });
    case 'map':
      return Object.freeze({ kind, key: typeName(desc.key!), value: toTypeInfo(desc.inner!) });
    default:
      return Object.freeze({ kind });
  }
}

/** Marks an absent optional input: it is left out of the feeds. */
export const ABSENT = Symbol('absent');

/** What the addon takes for a non-tensor input: { sequence: [...] } or { keys, values }, tensors as triples. */
export type Encoded = NativeTensor | { sequence: Encoded[] } | { keys: NativeTensor; values: NativeTensor };

/**
 * Checks `value` against `type` and encodes it for the addon. `checkTensor` is the session's own
 * tensor check (names, element types, fixed dims).
 */
export function encodeValue(what: string, value: unknown, type: TypeInfo, checkTensor: (what: string, value: unknown, type: TypeInfo) => Tensor): Encoded | typeof ABSENT {
  switch (type.kind) {
    case 'tensor': {
      const t = checkTensor(what, value, type);
      return [ELEMENT_TYPES[t.type].code, t.data as never, t.dims as number[]];
    }
    case 'optional':
      if (value === null || value === undefined) return ABSENT;
      return encodeValue(what, value, type.element, checkTensor);
    case 'sequence': {
      if (!Array.isArray(value)) throw invalid(what, 'an array (an ONNX sequence)', value);
      if (value.length === 0) throw new RangeError(`${what} is an empty sequence, which cannot be fed from JS`);
      return { sequence: value.map((item, i) => encodeValue(`${what}[${i}]`, item, type.element, checkTensor) as Encoded) };
    }
    case 'map': {
      if (!(value instanceof Map)) throw invalid(what, 'a Map (an ONNX map)', value);
      if (type.value.kind !== 'tensor') throw new TypeError(`${what}: maps of non-tensor values cannot be fed from JS`);
      const keyType = type.key as TensorType;
      const valueType = type.value.type as TensorType;
      if (!elementType(keyType) || !elementType(valueType)) throw new TypeError(`${what}: a map of ${type.key} to ${type.value.type} cannot be fed from JS`);
      const keys = [...value.keys()];
      const values = [...value.values()];
      const keyTensor = new Tensor(keyType, keys as never, [keys.length]);
      const valueTensor = new Tensor(valueType, values as never, [values.length]);
      return {
        keys: [ELEMENT_TYPES[keyType].code, keyTensor.data as never, [keys.length]],
        values: [ELEMENT_TYPES[valueType].code, valueTensor.data as never, [values.length]],
      };
    }
    default:
      throw new TypeError(`${what} is a value of kind '${type.kind}', which ort-napi cannot feed`);
  }
}

export type Raw = NativeTensor | { sequence: Raw[] } | { keys: NativeTensor; values: NativeTensor } | { none: true };

/** A tensor the addon made: its type, data and dims agree by construction, so nothing is checked or copied. */
function toTensor(raw: NativeTensor): Tensor {
  return Tensor._trusted(typeName(raw[0]) as TensorType, raw[1] as never, raw[2] as number[]);
}

/** The addon's encoding of an output back to JS values. */
export function decodeValue(raw: Raw): OnnxValue {
  if (Array.isArray(raw)) return toTensor(raw as NativeTensor);
  if ('none' in raw) return null;
  if ('sequence' in raw) return raw.sequence.map(decodeValue);
  const keys = raw.keys[1] as ArrayLike<string | bigint | number>;
  const values = raw.values[1] as ArrayLike<number | bigint | string>;
  const map = new Map<string | bigint | number, number | bigint | string | boolean>();
  for (let i = 0; i < keys.length; i++) map.set(keys[i], values[i]);
  return map;
}
