#!/usr/bin/env node
// bench.js measures ONNX Runtime (onnxruntime-node) latency of models for
// edgeprune's benchmarks: per model, the median (and min, p90) wall time of
// session.run over N runs after W warm-up runs, batch as given, on inputs
// filled with a fixed pseudo-random pattern.
//
//   node tools/ort/bench.js [--threads N] [--runs N] [--warmup N] [--shape NAME=D1,D2,..] MODEL...
//
// Models are measured in rounds, one run of each per round, so that a busy
// shared machine slows every model alike. Symbolic dims are 1 (batch) unless
// --shape gives the input's shape. Sessions are those of run.js: one inter-op
// thread, sequential execution, --threads intra-op threads (default 1), no
// spinning, all graph optimisations. Prints one JSON line per model:
// {"model","runs","median_ms","min_ms","p90_ms"}. Exit 1 on failure, 2 on
// bad usage.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const USAGE = 'usage: bench.js [--threads N] [--runs N] [--warmup N] [--shape NAME=D1,D2,..] MODEL...';

class UsageError extends Error {}

function parseArgs(argv) {
  const a = { threads: 1, runs: 50, warmup: 5, shapes: {}, models: [] };
  const int = (flag, v) => {
    if (!/^[1-9][0-9]{0,5}$/.test(v || '')) throw new UsageError(`${flag}: want a positive integer, got "${v}"`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--threads') a.threads = int(arg, argv[++i]);
    else if (arg === '--runs') a.runs = int(arg, argv[++i]);
    else if (arg === '--warmup') a.warmup = int(arg, argv[++i]);
    else if (arg === '--shape') {
      const v = argv[++i] || '';
      const m = /^([^=]+)=([0-9]+(,[0-9]+)*)$/.exec(v);
      if (!m) throw new UsageError(`--shape: want NAME=D1,D2,.., got "${v}"`);
      a.shapes[m[1]] = m[2].split(',').map(Number);
    } else if (arg.startsWith('--')) throw new UsageError(`unknown flag ${arg}`);
    else a.models.push(arg);
  }
  if (a.models.length === 0) throw new UsageError('no MODEL given');
  return a;
}

function loadOrt() {
  const cache = process.env.EDGEPRUNE_CACHE || path.join(os.homedir(), '.cache', 'edgeprune');
  const prefix = process.env.EDGEPRUNE_ORT_DIR || path.join(cache, 'ort');
  const dir = path.join(prefix, 'node_modules', 'onnxruntime-node');
  if (!fs.existsSync(path.join(dir, 'package.json'))) {
    throw new Error(`onnxruntime-node not found in ${dir}: run scripts/setup.sh`);
  }
  return require(dir);
}

async function open(ort, model, threads) {
  ort.env.logLevel = 'error';
  return ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  });
}

function feedsFor(ort, session, shapes) {
  const feeds = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor || meta.type !== 'float32') throw new Error(`input ${meta.name}: only float32 tensors are supported`);
    const dims = shapes[meta.name] || meta.shape.map((d, i) => {
      if (typeof d === 'number' && d > 0) return d;
      if (i === 0) return 1;
      throw new Error(`input ${meta.name}: dim ${i} is symbolic (${d}): give --shape ${meta.name}=...`);
    });
    const n = dims.reduce((x, y) => x * y, 1);
    const data = new Float32Array(n);
    let s = 12345;
    for (let i = 0; i < n; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      data[i] = (s >>> 8) / (1 << 24);
    }
    feeds[meta.name] = new ort.Tensor('float32', data, dims);
  }
  return feeds;
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const ort = loadOrt();
  const sessions = [];
  for (const model of a.models) {
    if (!fs.existsSync(model)) throw new Error(`model ${model}: no such file`);
    const session = await open(ort, model, a.threads);
    sessions.push({ model, session, feeds: feedsFor(ort, session, a.shapes), times: [] });
  }
  for (let r = 0; r < a.warmup + a.runs; r++) {
    for (const s of sessions) {
      const t0 = process.hrtime.bigint();
      await s.session.run(s.feeds);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r >= a.warmup) s.times.push(ms);
    }
  }
  for (const s of sessions) {
    const t = s.times.slice().sort((x, y) => x - y);
    const out = { model: s.model, runs: t.length, median_ms: quantile(t, 0.5), min_ms: t[0], p90_ms: quantile(t, 0.9) };
    process.stdout.write(JSON.stringify(out) + '\n');
    await s.session.release();
  }
}

main().catch((e) => {
  process.stderr.write(`bench.js: ${e.message}\n`);
  if (e instanceof UsageError) process.stderr.write(USAGE + '\n');
  process.exit(e instanceof UsageError ? 2 : 1);
});
