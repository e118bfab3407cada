#!/usr/bin/env python3
"""Loads `.keras` files written by keras-rs in real Keras 3 and checks its predictions.

For every ``NAME.keras`` in DIR there is a ``NAME.safetensors`` with the inputs (``x0``,
``x1``, ...) and keras-rs's outputs (``y0``, ``y1``, ...). Keras loads the model (compiled, as
saved) and predicts; the relative error ||keras - keras_rs|| / ||keras_rs|| of every output
must be below 1e-5. Prints ``NAME: ok (...)`` per model; exits 1 on the first failure.

    python scripts/check_keras_loads.py DIR    # Keras on its JAX backend by default

The Rust test ``keras_loads_models_saved_by_keras_rs`` (crates/keras/tests/saving.rs) writes
DIR and runs this script when ``KERAS_INTEROP_PYTHON`` names a Python with keras and jax.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import keras  # noqa: E402


def read_safetensors(path):
    # The format is an 8-byte header length, a JSON header, then the raw data; read it here so
    # the check needs nothing beyond keras and numpy.
    import json
    import struct

    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    body = raw[8 + n :]
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        start, end = info["data_offsets"]
        out[key] = np.frombuffer(body[start:end], dtype="<f4").reshape(info["shape"])
    return out


def main(directory):
    names = sorted(f[:-6] for f in os.listdir(directory) if f.endswith(".keras"))
    if not names:
        print(f"no .keras files in {directory}")
        return 1
    for name in names:
        arrays = read_safetensors(os.path.join(directory, name + ".safetensors"))
        xs = [arrays[f"x{i}"] for i in range(sum(k.startswith("x") for k in arrays))]
        ys = [arrays[f"y{i}"] for i in range(sum(k.startswith("y") for k in arrays))]
        model = keras.saving.load_model(os.path.join(directory, name + ".keras"))
        preds = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        preds = preds if isinstance(preds, (list, tuple)) else [preds]
        errs = []
        for i, (p, y) in enumerate(zip(preds, ys)):
            p = np.asarray(p, dtype=np.float64)
            err = np.linalg.norm(p - y) / max(np.linalg.norm(y), 1e-30)
            errs.append(err)
            if not err < 1e-5:
                print(f"{name}: output {i} differs, relative error {err:.3e}")
                return 1
        # An uncompiled model has no `optimizer` attribute at all.
        opt = getattr(model, "optimizer", None)
        compiled = opt is not None and opt.built
        print(
            f"{name}: ok (keras {keras.__version__}, outputs {len(preds)}, "
            f"max relative error {max(errs):.2e}, optimizer restored: {compiled})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
