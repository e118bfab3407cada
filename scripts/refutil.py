"""Setup shared by the reference scripts (``gen_layer_reference.py``,
``gen_masking_reference.py``, ``gen_stateful_reference.py``).

Importing this module sets ``KERAS_BACKEND=jax`` and ``JAX_PLATFORMS=cpu`` unless they are set
(and exits when another backend was asked for), so it must be imported before Keras. It then
makes JAX's matmuls and convolutions full float32 (the CPU default, made explicit).

A script run as ``python scripts/gen_x.py`` finds this module through its own folder, which
Python puts first on ``sys.path``.
"""

import argparse
import json
import os
import sys
import zlib

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
if os.environ["KERAS_BACKEND"] != "jax":
    sys.exit(f"{os.path.basename(sys.argv[0])} requires KERAS_BACKEND=jax")

import numpy as np  # noqa: E402
import jax  # noqa: E402
import keras  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

# Full float32 matmuls and convolutions (the CPU default, made explicit).
jax.config.update("jax_default_matmul_precision", "highest")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "crates", "keras", "tests", "data")
F32 = np.float32

# Every tensor a script records, by key; written by `write`.
tensors = {}


def put(name, a):
    """Records `a` (a contiguous copy; float64 stored as float32) under the new key `name`."""
    a = np.array(np.asarray(a), copy=True, order="C")
    if a.dtype == np.float64:
        a = a.astype(F32)
    assert name not in tensors, name
    tensors[name] = a


def seed_for(name):
    """The seed of a case: the CRC-32 of its name."""
    return zlib.crc32(name.encode())


def rng_for(name):
    """A numpy generator seeded by the case's name."""
    return np.random.default_rng(seed_for(name))


def fill_weights(model, rng):
    """Overwrites every weight of `model` with normal(0, 0.5) float32 values from `rng`."""
    for w in model.weights:
        w.assign(rng.normal(0.0, 0.5, size=tuple(w.shape)).astype(F32))


def out_dir_arg():
    """The ``--out-dir`` command-line option (default: the tests' data folder)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", default=DEFAULT_OUT)
    return ap.parse_args().out_dir


def write(out_dir, stem, cases, **json_opts):
    """Writes `tensors` (keys sorted) to ``<stem>.safetensors`` and ``{"keras_version",
    "jax_version", "cases"}`` (keys sorted, `json_opts` passed to ``json.dump``) to
    ``<stem>.json`` in `out_dir`, both mode 0644, and says what it wrote."""
    os.makedirs(out_dir, exist_ok=True)
    st_path = os.path.join(out_dir, f"{stem}.safetensors")
    js_path = os.path.join(out_dir, f"{stem}.json")
    save_file(dict(sorted(tensors.items())), st_path)
    with open(js_path, "w") as f:
        json.dump({"keras_version": keras.__version__, "jax_version": jax.__version__,
                   "cases": cases}, f, sort_keys=True, **json_opts)
        f.write("\n")
    for p in (st_path, js_path):
        os.chmod(p, 0o644)
    print(f"wrote {len(cases)} cases, {len(tensors)} tensors to {st_path} "
          f"({os.path.getsize(st_path)} bytes) and {js_path} ({os.path.getsize(js_path)} bytes)")


def save_and_reload(model, out_dir, folder, file_name):
    """Saves `model` as ``<out_dir>/<folder>/<file_name>`` (mode 0644) and loads it back."""
    d = os.path.join(out_dir, folder)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, file_name)
    model.save(path)
    os.chmod(path, 0o644)
    return keras.saving.load_model(path)
