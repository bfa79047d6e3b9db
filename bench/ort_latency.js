// ort_latency.js measures ONNX Runtime's latency on one model, for the
// Engine section of docs/benchmarks.md (bench/engine_vs_ort.sh runs it).
//
//   node bench/ort_latency.js MODEL NAME=D0,D1,... [--threads N] [--runs N]
//
// Input NAME gets uniform [0,1) floats of the given shape. One session,
// sequential execution, intra-op threads N (default 1), no spinning, all
// graph optimisations. Prints {"median_ms":..,"p90_ms":..,"runs":..}.
'use strict';
const path = require('path');
const os = require('os');

function loadORT() {
  const dir = process.env.EDGEPRUNE_ORT_DIR ||
    path.join(process.env.EDGEPRUNE_CACHE || path.join(os.homedir(), '.cache', 'edgeprune'), 'ort');
  return require(path.join(dir, 'node_modules', 'onnxruntime-node'));
}

async function main() {
  const args = process.argv.slice(2);
  let threads = 1, runs = 20;
  const pos = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--threads') threads = parseInt(args[++i], 10);
    else if (args[i] === '--runs') runs = parseInt(args[++i], 10);
    else pos.push(args[i]);
  }
  if (pos.length !== 2) throw new Error('usage: ort_latency.js MODEL NAME=D0,D1,... [--threads N] [--runs N]');
  const [model, spec] = pos;
  const [name, dimsStr] = spec.split('=');
  const dims = dimsStr.split(',').map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.random();
  const ort = loadORT();
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const feeds = { [name]: new ort.Tensor('float32', data, dims) };
  for (let i = 0; i < 3; i++) await sess.run(feeds);
  const ts = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await sess.run(feeds);
    ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ts.sort((a, b) => a - b);
  const pick = (q) => ts[Math.min(ts.length - 1, Math.ceil(q * ts.length) - 1)];
  console.log(JSON.stringify({ median_ms: ts[Math.floor((ts.length - 1) / 2)], p90_ms: pick(0.9), runs }));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
