#!/usr/bin/env python3
"""Independent proto2 oracle for edgeprune's lossless round trips.

Loads two ONNX files with the onnx package (external data is not loaded: the
data_location and external_data entries are compared as written) and compares
the two ModelProtos with `==`, which sees proto2 presence: a field written
with its default value (`i: 0`, `name: ""`) differs from an absent one.

Prints "equal" and exits 0 when they are equal; otherwise prints the first
differing field path (for example graph.node[3].attribute[0].i: present in A,
absent in B) and exits 1. Exit 2: usage or a file that does not load.
Usage: onnx_equal.py A.onnx B.onnx
"""
import sys

import onnx
from google.protobuf.descriptor import FieldDescriptor


def has(msg, field):
    """Whether a singular field is present (proto2 presence; oneof members too)."""
    try:
        return msg.HasField(field.name)
    except ValueError:  # a field without presence (none in ONNX's proto2 schema)
        return getattr(msg, field.name) != field.default_value


def first_diff(a, b, path):
    """Returns a description of the first difference between messages a and b, or None."""
    for field in a.DESCRIPTOR.fields:
        name = f"{path}.{field.name}" if path else field.name
        is_msg = field.type == FieldDescriptor.TYPE_MESSAGE
        if field.label == FieldDescriptor.LABEL_REPEATED:
            va, vb = getattr(a, field.name), getattr(b, field.name)
            if len(va) != len(vb):
                return f"{name}: {len(va)} elements in A, {len(vb)} in B"
            for i, (x, y) in enumerate(zip(va, vb)):
                if is_msg:
                    d = first_diff(x, y, f"{name}[{i}]")
                    if d:
                        return d
                elif x != y:
                    return f"{name}[{i}]: {short(x)} in A, {short(y)} in B"
            continue
        ha, hb = has(a, field), has(b, field)
        if ha != hb:
            return f"{name}: {'present' if ha else 'absent'} in A, {'present' if hb else 'absent'} in B"
        if not ha:
            continue
        va, vb = getattr(a, field.name), getattr(b, field.name)
        if is_msg:
            d = first_diff(va, vb, name)
            if d:
                return d
        elif va != vb:
            return f"{name}: {short(va)} in A, {short(vb)} in B"
    if a != b:  # same known fields: the unknown ones differ
        return f"{path or 'model'}: unknown fields differ"
    return None


def short(v):
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    try:
        a = onnx.load(argv[1], load_external_data=False)
        b = onnx.load(argv[2], load_external_data=False)
    except Exception as e:  # noqa: BLE001 - any load failure is a usage error here
        print(f"onnx_equal: {e}", file=sys.stderr)
        return 2
    if a == b:
        print("equal")
        return 0
    print(first_diff(a, b, "") or "model: differ (no differing field found)")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
