#!/usr/bin/env node
// run.js runs an ONNX model in ONNX Runtime (onnxruntime-node) for edgeprune's
// tests: ORT is the reference that edgeprune's own engine and rewrites are
// checked against. The Go side is internal/ortoracle.
//
//   node tools/ort/run.js [--threads N] [--opt LEVEL] MODEL IN_DIR OUT_DIR
//   node tools/ort/run.js --meta MODEL
//
// IN_DIR holds manifest.json, {"inputs":[{"name","dtype","dims","file"}]},
// and one file of raw little-endian element bytes per input (file is relative
// to IN_DIR). OUT_DIR receives the outputs the same way: out0.bin, out1.bin,
// ... and manifest.json, {"outputs":[...]}, written last, in the model's output
// order. float16 travels as its raw uint16 bits, bool as one byte per element.
//
// --meta prints {"inputs":[...],"outputs":[...]} with name, dtype, isTensor and
// shape; each dim is {"value":N} or, when symbolic, {"value":-1,"param":NAME}.
//
// Sessions are deterministic: one inter-op thread, sequential execution,
// --threads intra-op threads (default 1), no spinning. --opt is ORT's
// graphOptimizationLevel: disabled, basic, extended, layout or all (default).
//
// onnxruntime-node is found under $EDGEPRUNE_ORT_DIR (an npm prefix holding
// node_modules/onnxruntime-node), else ${EDGEPRUNE_CACHE:-$HOME/.cache/edgeprune}/ort,
// where scripts/setup.sh installs it. Errors go to stderr; exit 1 on failure,
// 2 on bad usage.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const USAGE = 'usage: run.js [--threads N] [--opt LEVEL] MODEL IN_DIR OUT_DIR\n' +
  '       run.js --meta MODEL';

const OPT_LEVELS = ['disabled', 'basic', 'extended', 'layout', 'all'];

// Element types this runner moves, with the typed array ORT wants for each.
const DTYPES = {
  float32: Float32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  float16: Uint16Array,
};

class UsageError extends Error {}

function parseArgs(argv) {
  const a = { threads: 1, opt: 'all', meta: false, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--meta') {
      a.meta = true;
    } else if (arg === '--threads') {
      const v = value();
      if (!/^[1-9][0-9]{0,3}$/.test(v)) throw new UsageError(`--threads: want a positive integer, got "${v}"`);
      a.threads = Number(v);
    } else if (arg === '--opt') {
      a.opt = value();
      if (!OPT_LEVELS.includes(a.opt)) throw new UsageError(`--opt: want one of ${OPT_LEVELS.join(', ')}, got "${a.opt}"`);
    } else if (arg.startsWith('--')) {
      throw new UsageError(`unknown flag ${arg}`);
    } else {
      a.rest.push(arg);
    }
  }
  if (a.rest.length !== (a.meta ? 1 : 3)) throw new UsageError('wrong number of arguments');
  return a;
}

function ortDir() {
  if (process.env.EDGEPRUNE_ORT_DIR) return process.env.EDGEPRUNE_ORT_DIR;
  const cache = process.env.EDGEPRUNE_CACHE || path.join(os.homedir(), '.cache', 'edgeprune');
  return path.join(cache, 'ort');
}

function loadOrt() {
  const dir = path.join(ortDir(), 'node_modules', 'onnxruntime-node');
  if (!fs.existsSync(path.join(dir, 'package.json'))) {
    throw new Error(`onnxruntime-node not found in ${dir}: run scripts/setup.sh`);
  }
  return require(dir);
}

async function openSession(ort, modelPath, threads, opt) {
  if (!fs.existsSync(modelPath)) throw new Error(`model ${modelPath}: no such file`);
  ort.env.logLevel = 'error';
  try {
    return await ort.InferenceSession.create(modelPath, {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: opt,
      logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    });
  } catch (e) {
    throw new Error(`model ${modelPath}: ${e.message}`);
  }
}

function numElements(dims) {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

function checkDims(where, dims) {
  if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${where}: dims must be a list of non-negative integers`);
  }
}

function readInputs(ort, inDir) {
  const manifestPath = path.join(inDir, 'manifest.json');
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  if (!Array.isArray(manifest.inputs)) throw new Error(`${manifestPath}: no "inputs" list`);
  const feeds = {};
  for (const [i, m] of manifest.inputs.entries()) {
    const where = `${manifestPath}: input ${i} (${m.name})`;
    if (typeof m.name !== 'string' || m.name === '') throw new Error(`${where}: no name`);
    if (m.name in feeds) throw new Error(`${where}: given twice`);
    const Array_ = DTYPES[m.dtype];
    if (!Array_) throw new Error(`${where}: unsupported dtype "${m.dtype}"`);
    checkDims(where, m.dims);
    const bytes = fs.readFileSync(path.join(inDir, m.file));
    const want = numElements(m.dims) * Array_.BYTES_PER_ELEMENT;
    if (bytes.length !== want) {
      throw new Error(`${where}: file ${m.file} has ${bytes.length} bytes, dims ${JSON.stringify(m.dims)} of ${m.dtype} need ${want}`);
    }
    // Copy into a fresh, aligned buffer: typed arrays need element alignment.
    const buf = new ArrayBuffer(bytes.length);
    new Uint8Array(buf).set(bytes);
    feeds[m.name] = new ort.Tensor(m.dtype, new Array_(buf), m.dims);
  }
  return feeds;
}

function writeOutputs(session, results, outDir) {
  const outputs = [];
  for (const [i, name] of session.outputNames.entries()) {
    const t = results[name];
    if (!t || !(t.type in DTYPES)) {
      throw new Error(`output ${name}: unsupported type ${t ? t.type : 'none'}`);
    }
    const file = `out${i}.bin`;
    const d = t.data;
    fs.writeFileSync(path.join(outDir, file), Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    outputs.push({ name, dtype: t.type, dims: t.dims.map(Number), file });
  }
  fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify({ outputs }) + '\n');
}

function describe(meta) {
  const v = { name: meta.name, isTensor: !!meta.isTensor };
  if (meta.isTensor) {
    v.dtype = meta.type;
    v.shape = meta.shape.map((d) => (typeof d === 'number' ? { value: d } : { value: -1, param: String(d) }));
  }
  return v;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (os.endianness() !== 'LE') throw new Error('big-endian hosts are not supported');
  const ort = loadOrt();
  const session = await openSession(ort, args.rest[0], args.threads, args.opt);
  if (args.meta) {
    const meta = {
      inputs: session.inputMetadata.map(describe),
      outputs: session.outputMetadata.map(describe),
    };
    process.stdout.write(JSON.stringify(meta) + '\n');
    return;
  }
  const [, inDir, outDir] = args.rest;
  const feeds = readInputs(ort, inDir);
  for (const name of Object.keys(feeds)) {
    if (!session.inputNames.includes(name)) {
      throw new Error(`model ${args.rest[0]} has no input "${name}" (its inputs: ${session.inputNames.join(', ')})`);
    }
  }
  let results;
  try {
    results = await session.run(feeds);
  } catch (e) {
    throw new Error(`run ${args.rest[0]}: ${e.message}`);
  }
  writeOutputs(session, results, outDir);
  await session.release();
}

main().catch((e) => {
  if (e instanceof UsageError) {
    process.stderr.write(`run.js: ${e.message}\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(`run.js: ${e.message}\n`);
  process.exit(1);
});
