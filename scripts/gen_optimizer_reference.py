#!/usr/bin/env python3
"""Reference trajectories for keras-rs optimizers, computed with Keras 3 (JAX backend).

Each case trains two variables, ``W`` (3, 4) and ``b`` (4,), on the fixed problem
``loss = sum((x @ W + b - y) ** 2)`` for 20 steps: every step the gradient comes from JAX
(``jax.grad``) and is handed to ``optimizer.apply``. The weights after every step (and the
optimizer's variables at the end) are saved, so the Rust test can replay the same loop with
keras-tensor autodiff and compare step by step. Learning-rate schedule values at a list of
steps are saved too.

Run with a Python that has Keras 3 and JAX:

    KERAS_BACKEND=jax python scripts/gen_optimizer_reference.py

Writes ``crates/keras/tests/data/optimizers.safetensors`` (float32 tensors, keys sorted, so
the file is byte-for-byte deterministic) and ``crates/keras/tests/data/optimizers.json``
(the cases: class name, Keras ``get_config()``, the optimizer's variable names and shapes).
"""

import json
import os
import struct
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

import keras  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

assert keras.backend.backend() == "jax", "run with KERAS_BACKEND=jax"

STEPS = 20
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "crates", "keras", "tests", "data")

# The fixed problem (plain decimal values so the Rust side could also rebuild them).
rng = np.random.default_rng(1234)
X = np.round(rng.normal(size=(5, 3)), 3).astype(np.float32)
Y = np.round(rng.normal(size=(5, 4)), 3).astype(np.float32)
W0 = np.round(rng.normal(scale=0.5, size=(3, 4)), 3).astype(np.float32)
B0 = np.round(rng.normal(scale=0.5, size=(4,)), 3).astype(np.float32)


def loss_fn(w, b):
    return jnp.sum(jnp.square(jnp.asarray(X) @ w + b - jnp.asarray(Y)))


grad_fn = jax.jit(jax.grad(loss_fn, argnums=(0, 1)))

S = keras.optimizers.schedules
O = keras.optimizers

CASES = [
    ("sgd", lambda: O.SGD()),
    ("adam", lambda: O.Adam()),
    ("adamw", lambda: O.AdamW()),
    ("rmsprop", lambda: O.RMSprop()),
    ("adagrad", lambda: O.Adagrad()),
    ("adadelta", lambda: O.Adadelta()),
    ("adamax", lambda: O.Adamax()),
    ("nadam", lambda: O.Nadam()),
    ("lion", lambda: O.Lion()),
    ("sgd_momentum", lambda: O.SGD(learning_rate=0.005, momentum=0.9)),
    ("sgd_nesterov", lambda: O.SGD(learning_rate=0.005, momentum=0.9, nesterov=True)),
    ("adam_amsgrad", lambda: O.Adam(learning_rate=0.05, amsgrad=True)),
    ("rmsprop_centered_momentum", lambda: O.RMSprop(learning_rate=0.01, momentum=0.5, centered=True)),
    ("rmsprop_centered", lambda: O.RMSprop(learning_rate=0.01, centered=True)),
    ("sgd_clipnorm", lambda: O.SGD(clipnorm=1.0)),
    ("sgd_clipvalue", lambda: O.SGD(clipvalue=0.5)),
    ("adam_global_clipnorm", lambda: O.Adam(learning_rate=0.01, global_clipnorm=2.0)),
    ("adam_weight_decay", lambda: O.Adam(learning_rate=0.01, weight_decay=0.1)),
    ("adamw_lr", lambda: O.AdamW(learning_rate=0.02, weight_decay=0.05, beta_1=0.8)),
    ("sgd_weight_decay_clipnorm", lambda: O.SGD(weight_decay=0.5, clipnorm=3.0)),
    ("adam_ema", lambda: O.Adam(learning_rate=0.02, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=5)),
    ("sgd_ema_no_overwrite", lambda: O.SGD(use_ema=True)),
    ("nadam_lr", lambda: O.Nadam(learning_rate=0.02, beta_1=0.8)),
    ("adamax_lr", lambda: O.Adamax(learning_rate=0.02)),
    ("adagrad_lr", lambda: O.Adagrad(learning_rate=0.05, initial_accumulator_value=0.5)),
    ("adadelta_lr", lambda: O.Adadelta(learning_rate=1.0, rho=0.9)),
    ("lion_lr", lambda: O.Lion(learning_rate=0.01, beta_1=0.5)),
    ("sgd_exponential_decay", lambda: O.SGD(learning_rate=S.ExponentialDecay(0.02, 4, 0.5, staircase=True))),
    (
        "adam_cosine_warmup",
        lambda: O.Adam(learning_rate=S.CosineDecay(0.0, 15, alpha=0.1, warmup_target=0.05, warmup_steps=5)),
    ),
    ("rmsprop_piecewise", lambda: O.RMSprop(learning_rate=S.PiecewiseConstantDecay([5, 12], [0.01, 0.005, 0.001]))),
]

SCHEDULES = [
    ("exponential", S.ExponentialDecay(0.1, 7, 0.6)),
    ("exponential_staircase", S.ExponentialDecay(0.1, 7, 0.6, staircase=True)),
    ("piecewise", S.PiecewiseConstantDecay([10, 20, 35], [1.0, 0.5, 0.1, 0.01])),
    ("inverse_time", S.InverseTimeDecay(0.5, 5, 0.3)),
    ("inverse_time_staircase", S.InverseTimeDecay(0.5, 5, 0.3, staircase=True)),
    ("polynomial", S.PolynomialDecay(0.1, 30, end_learning_rate=0.001, power=2.0)),
    ("polynomial_linear", S.PolynomialDecay(0.1, 30)),
    ("polynomial_cycle", S.PolynomialDecay(0.1, 12, end_learning_rate=0.01, power=0.5, cycle=True)),
    ("cosine", S.CosineDecay(0.1, 40)),
    ("cosine_alpha", S.CosineDecay(0.1, 25, alpha=0.2)),
    ("cosine_warmup", S.CosineDecay(0.0, 30, warmup_target=0.2, warmup_steps=10)),
    ("cosine_warmup_from", S.CosineDecay(0.05, 20, alpha=0.1, warmup_target=0.3, warmup_steps=7)),
    ("cosine_restarts", S.CosineDecayRestarts(0.1, 6)),
    ("cosine_restarts_t1", S.CosineDecayRestarts(0.1, 5, t_mul=1.0, m_mul=0.8, alpha=0.05)),
    ("cosine_restarts_mul", S.CosineDecayRestarts(0.2, 4, t_mul=1.5, m_mul=0.5, alpha=0.1)),
]
SCHEDULE_STEPS = list(range(0, 61)) + [75, 100, 137, 250, 1000]


def run_case(make):
    opt = make()
    w = keras.Variable(W0, name="kernel")
    b = keras.Variable(B0, name="bias")
    traj = [np.concatenate([W0.ravel(), B0.ravel()])]
    for _ in range(STEPS):
        gw, gb = grad_fn(w.value, b.value)
        opt.apply([gw, gb], [w, b])
        traj.append(np.concatenate([np.asarray(w.value).ravel(), np.asarray(b.value).ravel()]))
    traj = np.stack(traj).astype(np.float32)
    assert np.all(np.isfinite(traj))
    opt_vars = [(v.name, np.asarray(v.value).astype(np.float32)) for v in opt.variables]
    return opt, traj, opt_vars


def write_safetensors(path, tensors):
    header = {}
    offset = 0
    blobs = []
    for key in sorted(tensors):
        arr = np.asarray(tensors[key], dtype="<f4")  # keeps 0-d shapes (ascontiguousarray would not)
        data = arr.tobytes()
        header[key] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    head += b" " * ((8 - len(head) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for blob in blobs:
            f.write(blob)


def main():
    tensors = {"problem/x": X, "problem/y": Y, "problem/w0": W0, "problem/b0": B0}
    meta = {"keras_version": keras.__version__, "steps": STEPS, "cases": [], "schedules": []}
    for name, make in CASES:
        opt, traj, opt_vars = run_case(make)
        tensors[f"case/{name}/weights"] = traj
        for i, (_, value) in enumerate(opt_vars):
            tensors[f"case/{name}/opt/{i}"] = np.asarray(value, dtype=np.float32)
        meta["cases"].append(
            {
                "name": name,
                "class_name": type(opt).__name__,
                "config": opt.get_config(),
                "variables": [[n, list(v.shape)] for n, v in opt_vars],
            }
        )
    for name, sched in SCHEDULES:
        vals = [float(sched(s)) for s in SCHEDULE_STEPS]
        tensors[f"schedule/{name}"] = np.asarray(vals, dtype=np.float32)
        meta["schedules"].append(
            {"name": name, "serialized": keras.optimizers.schedules.serialize(sched), "steps": SCHEDULE_STEPS}
        )
    os.makedirs(OUT_DIR, exist_ok=True)
    write_safetensors(os.path.join(OUT_DIR, "optimizers.safetensors"), tensors)
    with open(os.path.join(OUT_DIR, "optimizers.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(meta['cases'])} cases and {len(meta['schedules'])} schedules to {OUT_DIR}", file=sys.stderr)


if __name__ == "__main__":
    main()
