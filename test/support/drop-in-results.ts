// drop-in-results.ts: what test/types/onnxruntime-node-drop-in.ts returns, on onnxruntime-node and on ort-napi alike.
export const DROP_IN_RESULTS = {
  names: ['x', 'y', '2', 'float32[2x2] 4 in cpu (4)', 'common'],
  outputs: { all: [4.5, 4.5, 10.5, 10.5], named: [2.5, 1.5], into: [0.5, -0.5], allocated: [4.5, 3.5], reshaped: [4.5, 4.5, 10.5, 10.5] },
  types: ['int64', 'bool', 'string', 'float32', 'uint8', 'none', 'function', 'RGB'],
  cpuBackend: true,
};
