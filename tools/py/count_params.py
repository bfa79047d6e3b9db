#!/usr/bin/env python3
"""Independent oracle for edgeprune's parameter counts, using the onnx package.

Prints JSON: for every numeric tensor stored in the model (graph initializers
and Constant nodes' `value`, in the main graph and every subgraph), its id-free
totals: floating-point elements, their nonzeros, and the tensor count.
Usage: count_params.py MODEL.onnx
"""
import json
import sys

import onnx
from onnx import numpy_helper

FLOATS = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16, onnx.TensorProto.DOUBLE}


def tensors(graph):
    for t in graph.initializer:
        yield t
    for n in graph.node:
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            for a in n.attribute:
                if a.name == "value" and a.HasField("t"):
                    yield a.t
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                yield from tensors(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from tensors(g)


def main(path):
    m = onnx.load(path)
    total = nonzero = count = 0
    for t in tensors(m.graph):
        if t.data_type == onnx.TensorProto.STRING:
            continue
        count += 1
        if t.data_type in FLOATS:
            arr = numpy_helper.to_array(t, base_dir=__import__("os").path.dirname(path))
            total += arr.size
            nonzero += int((arr != 0).sum())
    json.dump({"params": total, "nonzero_params": nonzero, "tensors": count}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
