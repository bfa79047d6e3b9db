#!/usr/bin/python3
"""torch.nn.utils.prune.global_unstructured(L1Unstructured) on an ONNX model's
weights, for comparison with `edgeprune prune --scope global` (docs/benchmarks.md).

Usage: /usr/bin/python3 bench/torch_global_unstructured.py MODEL.onnx OUT.onnx SPARSITY

Prunes the same weights edgeprune does by default on the torchvision exports
(every Conv and Gemm weight) and prints JSON timings: load (onnx.load and
tensors to torch), prune (global_unstructured, as torch_baseline.json's
prune_s), write (masks applied with prune.remove, onnx.save).
"""
import json
import sys
import time

t0 = time.perf_counter()
import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch.nn.utils import prune

torch.set_num_threads(2)
t_import = time.perf_counter()

model_path, out_path, amount = sys.argv[1], sys.argv[2], float(sys.argv[3])
model = onnx.load(model_path)
weights = set()
for n in model.graph.node:
    if n.op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul") and len(n.input) > 1:
        weights.add(n.input[1])
holders, inits = [], []
for init in model.graph.initializer:
    if init.name in weights and len(init.dims) >= 2:
        m = torch.nn.Module()
        m.weight = torch.nn.Parameter(torch.from_numpy(numpy_helper.to_array(init).copy()))
        holders.append(m)
        inits.append(init)
t_load = time.perf_counter()

prune.global_unstructured([(m, "weight") for m in holders], pruning_method=prune.L1Unstructured, amount=amount)
t_prune = time.perf_counter()

zeros = total = 0
for m, init in zip(holders, inits):
    prune.remove(m, "weight")
    w = m.weight.detach().numpy()
    zeros += int((w == 0).sum())
    total += w.size
    init.CopyFrom(numpy_helper.from_array(w, init.name))
onnx.save(model, out_path)
t_write = time.perf_counter()

print(json.dumps({
    "torch": torch.__version__, "weights": total, "zeros": zeros,
    "import_s": round(t_import - t0, 3), "load_s": round(t_load - t_import, 3),
    "prune_s": round(t_prune - t_load, 3), "write_s": round(t_write - t_prune, 3),
    "total_s": round(t_write - t0, 3),
}))
