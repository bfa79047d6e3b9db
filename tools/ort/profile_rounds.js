#!/usr/bin/env node
// profile_rounds.js times models in ONNX Runtime twice, interleaved: each
// model in a session with the per-node profiler on (enable_profiling: the
// input of `edgeprune calibrate --from-ort-profile`) and in a plain session
// (what a user ships: its latency is what the cost model must predict).
// All sessions are created first; then, in ROUNDS rounds, every model runs
// RUNS/ROUNDS times plain and RUNS/ROUNDS times profiled, so a machine whose
// speed drifts shifts all models and both sessions alike.
//
//   node tools/ort/profile_rounds.js [--threads N] [--runs N] [--rounds N] [--warmup N] [--budget-ms MS] OUT.json MODEL.onnx...
//
// --budget-ms: a model runs at least MS of plain runs per round (by its
// fastest warm-up run), so that a small model's statistic rests on more
// runs than RUNS.
//
// Each profile is written as MODEL_prof_<date>.json beside the model. OUT.json lists per model
// {model, profile, warmup, wall_ms, cpu_ms, profiled_wall_ms}: wall_ms and
// cpu_ms are the plain session's runs, by the wall clock and by the
// process's CPU time (user + system; ORT at 1 intra-op thread computes on
// one thread, so this is the run's CPU time whatever the OS preempted).
// The profile holds the warm-up runs first (warmup of them).
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

function prefixOf(m) {
  return m.replace(/\.onnx$/, '') + '_prof';
}

function feedsOf(ort, session) {
  const feeds = {};
  for (const meta of session.inputMetadata) {
    const dims = meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
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

async function timed(session, feeds, n, wall, cpu) {
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    const t1 = process.hrtime.bigint();
    const c = process.cpuUsage(c0);
    if (wall) wall.push(Number(t1 - t0) / 1e6);
    if (cpu) cpu.push((c.user + c.system) / 1000);
  }
}

async function main() {
  const a = { threads: 1, runs: 20, rounds: 4, warmup: 3, budget: 0, rest: [] };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--threads') a.threads = Number(argv[++i]);
    else if (argv[i] === '--runs') a.runs = Number(argv[++i]);
    else if (argv[i] === '--rounds') a.rounds = Number(argv[++i]);
    else if (argv[i] === '--warmup') a.warmup = Number(argv[++i]);
    else if (argv[i] === '--budget-ms') a.budget = Number(argv[++i]);
    else a.rest.push(argv[i]);
  }
  if (a.rest.length < 2 || !(a.runs >= 1) || !(a.rounds >= 1)) {
    process.stderr.write('usage: profile_rounds.js [--threads N] [--runs N] [--rounds N] [--warmup N] [--budget-ms MS] OUT.json MODEL.onnx...\n');
    process.exit(2);
  }
  const [out, ...models] = a.rest;
  const ort = loadOrt();
  ort.env.logLevel = 'error';
  const opts = {
    executionProviders: ['cpu'], intraOpNumThreads: a.threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all', logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  const items = [];
  for (const m of models) {
    const plain = await ort.InferenceSession.create(m, opts);
    const prof = await ort.InferenceSession.create(m, { ...opts, enableProfiling: true, profileFilePrefix: prefixOf(m) });
    items.push({ m, plain, prof, feeds: feedsOf(ort, plain), wall: [], cpu: [], pwall: [] });
  }
  const per = Math.max(1, Math.floor(a.runs / a.rounds));
  for (let r = 0; r < a.rounds; r++) {
    for (const it of items) {
      if (r === 0) {
        const w = [];
        await timed(it.plain, it.feeds, a.warmup, w);
        await timed(it.prof, it.feeds, a.warmup);
        // A small model runs more often: its fastest run is then as sure
        // as a large one's (--budget-ms of plain runs per round at least).
        w.sort((x, y) => x - y);
        it.per = Math.max(per, Math.ceil(a.budget / Math.max(w[0] || 1, 0.01)));
      }
      await timed(it.plain, it.feeds, it.per, it.wall, it.cpu);
      await timed(it.prof, it.feeds, it.per, it.pwall);
    }
  }
  const res = [];
  for (const it of items) {
    it.prof.endProfiling(); // returns nothing in onnxruntime-node: find the file
    const dir = path.dirname(it.m), base = path.basename(prefixOf(it.m)) + '_';
    const files = fs.readdirSync(dir).filter((f) => f.startsWith(base) && f.endsWith('.json'))
      .map((f) => path.join(dir, f)).sort((x, y) => fs.statSync(y).mtimeMs - fs.statSync(x).mtimeMs);
    if (files.length === 0) throw new Error(`no profile ${base}*.json in ${dir}`);
    const file = files[0];
    await it.prof.release();
    await it.plain.release();
    res.push({ model: it.m, profile: path.resolve(String(file)), warmup: a.warmup, wall_ms: it.wall, cpu_ms: it.cpu, profiled_wall_ms: it.pwall });
  }
  fs.writeFileSync(out, JSON.stringify(res, null, 1));
}

main().catch((e) => {
  process.stderr.write(`profile_rounds.js: ${e.message}\n`);
  process.exit(1);
});
