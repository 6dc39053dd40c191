"""Runs the real TensorFlow.js converter weight writer (tensorflowjs 4.22 write_weights) on weights
given as modelio's encoded bytes; used by tests/tests/convert_oracle.rs.

usage: write_weights.py SPECS.json DATA.bin OUT_DIR
SPECS.json: {"specs": [WeightSpec...], "shard_size": N, "map": {dtype: true | [patterns]}}

TensorFlow is not needed: write_weights imports it only to open files (tf.io.gfile.GFile), so a
stub maps GFile to open(); the package __init__ (which imports the converters) is skipped. This is
how fixtures/tfjs/converter_write_weights was produced.
"""
import importlib.util
import json
import sys
import types

import numpy as np

spec = importlib.util.find_spec("tensorflowjs")
if spec is None:
    sys.exit("tensorflowjs is not installed")
root = spec.submodule_search_locations[0]
pkg = types.ModuleType("tensorflowjs")
pkg.__path__ = [root]
sys.modules["tensorflowjs"] = pkg
tf = types.ModuleType("tensorflow")
tf.io = types.SimpleNamespace(gfile=types.SimpleNamespace(GFile=open))
sys.modules["tensorflow"] = tf


def load(name):
    s = importlib.util.spec_from_file_location("tensorflowjs." + name, f"{root}/{name}.py")
    m = importlib.util.module_from_spec(s)
    sys.modules["tensorflowjs." + name] = m
    s.loader.exec_module(m)
    setattr(pkg, name, m)
    return m


load("quantization")
load("read_weights")
write_weights = load("write_weights")

cfg = json.load(open(sys.argv[1]))
data = open(sys.argv[2], "rb").read()
pos = 0
entries = []
for w in cfg["specs"]:
    n = int(np.prod(w["shape"], dtype=np.int64))
    dt = w["dtype"]
    if dt == "string":
        vals = []
        for _ in range(n):
            ln = int.from_bytes(data[pos:pos + 4], "little")
            vals.append(data[pos + 4:pos + 4 + ln])
            pos += 4 + ln
        arr = np.array(vals, dtype=object).reshape(w["shape"])
    else:
        np_dt = {"float32": np.float32, "int32": np.int32, "bool": np.uint8, "complex64": np.complex64}[dt]
        size = n * np.dtype(np_dt).itemsize
        arr = np.frombuffer(data[pos:pos + size], dtype=np_dt).reshape(w["shape"])
        if dt == "bool":
            arr = arr.astype(bool)
        pos += size
    entries.append({"name": w["name"], "data": arr})
assert pos == len(data), (pos, len(data))
write_weights.write_weights([entries], sys.argv[3], shard_size_bytes=cfg["shard_size"],
                            quantization_dtype_map=cfg["map"])
print(np.__version__)
