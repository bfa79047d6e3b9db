#!/usr/bin/env node
// profile.js runs a model in ONNX Runtime with its per-node profiler on
// (enable_profiling) and prints the path of the profiling JSON ORT wrote:
// the input of `edgeprune calibrate --from-ort-profile` (bench/ort_profile.sh).
//
//   node tools/ort/profile.js [--threads N] [--runs N] [--warmup N] MODEL PREFIX
//
// Inputs are float32 at their static shapes (a dynamic first dim is 1),
// filled as tools/ort/bench.js fills them. ORT writes PREFIX_<date>.json.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

function loadOrt() {
  const cache = process.env.EDGEPRUNE_CACHE || path.join(os.homedir(), '.cache', 'edgeprune');
  const prefix = process.env.EDGEPRUNE_ORT_DIR || path.join(cache, 'ort');
  const dir = path.join(prefix, 'node_modules', 'onnxruntime-node');
  if (!fs.existsSync(path.join(dir, 'package.json'))) {
    throw new Error(`onnxruntime-node not found in ${dir}: run scripts/setup.sh`);
  }
  return require(dir);
}

async function main() {
  const a = { threads: 1, runs: 20, warmup: 3, rest: [] };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--threads') a.threads = Number(argv[++i]);
    else if (argv[i] === '--runs') a.runs = Number(argv[++i]);
    else if (argv[i] === '--warmup') a.warmup = Number(argv[++i]);
    else a.rest.push(argv[i]);
  }
  if (a.rest.length !== 2) {
    process.stderr.write('usage: profile.js [--threads N] [--runs N] [--warmup N] MODEL PREFIX\n');
    process.exit(2);
  }
  const [model, prefix] = a.rest;
  const ort = loadOrt();
  ort.env.logLevel = 'error';
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], intraOpNumThreads: a.threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all', logSeverityLevel: 3, enableProfiling: true, profileFilePrefix: prefix,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const feeds = {};
  for (const meta of session.inputMetadata) {
    const dims = meta.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : 1));
    const n = dims.reduce((x, y) => x * y, 1);
    const data = new Float32Array(n);
    let s = 12345;
    for (let i = 0; i < n; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      data[i] = (s >>> 8) / (1 << 24);
    }
    feeds[meta.name] = new ort.Tensor('float32', data, dims);
  }
  for (let r = 0; r < a.warmup + a.runs; r++) await session.run(feeds);
  const file = session.endProfiling ? session.endProfiling() : '';
  await session.release();
  process.stdout.write(String(file) + '\n');
}

main().catch((e) => {
  process.stderr.write(`profile.js: ${e.message}\n`);
  process.exit(1);
});
