#!/usr/bin/env python3
"""Reference values for keras-rs losses and metrics, computed by Keras 3 (JAX backend).

Inputs come from a seeded numpy Generator, so re-running gives a byte-identical file.

Usage:
    KERAS_BACKEND=jax python scripts/gen_loss_metric_reference.py [--out PATH]

Format: one safetensors file. Header metadata key "cases" holds a JSON object mapping
each case name to a JSON string:
  loss:   {"kind": "loss", "class": ..., "config": {...}, "sw": bool}
          tensors <case>/y_true, <case>/y_pred, [<case>/sw], <case>/out,
          <case>/grad (d sum(out) / d y_pred)
  metric: {"kind": "metric", "class": ..., "config": {...}, "batches": n, "sw": [bool...]}
          tensors <case>/b<i>/y_true, <case>/b<i>/y_pred, [<case>/b<i>/sw],
          <case>/r<i> (result after batch i), <case>/reset (result after reset_state),
          <case>/after (result after reset and one more update with batch 0)
"""

import argparse
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
if os.environ["KERAS_BACKEND"] != "jax":
    sys.exit("gen_loss_metric_reference.py requires KERAS_BACKEND=jax")

import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "crates", "keras", "tests", "data", "losses_metrics.safetensors")

rng = np.random.default_rng(20261101)
tensors = {}
meta = {}
F32 = np.float32


def put(name, a):
    a = np.array(np.asarray(a), copy=True, order="C")
    if a.dtype == np.float64:
        a = a.astype(F32)
    tensors[name] = a


def probs(shape):
    x = rng.normal(size=shape)
    e = np.exp(x - x.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(F32)


def onehot(n, c):
    return np.eye(c, dtype=F32)[rng.integers(0, c, size=n)]


def loss_case(case, cls, config, y_true, y_pred, sw=None):
    loss = getattr(keras.losses, cls)(**config)
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred, dtype=F32)

    def f(p):
        out = loss(y_true, p, sample_weight=sw)
        return out

    out = f(jnp.asarray(y_pred))
    grad = jax.grad(lambda p: jnp.sum(f(p)))(jnp.asarray(y_pred))
    put(f"{case}/y_true", y_true)
    put(f"{case}/y_pred", y_pred)
    if sw is not None:
        put(f"{case}/sw", sw)
    put(f"{case}/out", out)
    put(f"{case}/grad", grad)
    meta[case] = json.dumps({"kind": "loss", "class": cls, "config": config, "sw": sw is not None})


def add_losses():
    n, c = 6, 4
    sw = rng.uniform(0.0, 2.0, size=(n,)).astype(F32)
    logits = rng.normal(size=(n, c)).astype(F32) * 2
    p = probs((n, c))
    oh = onehot(n, c)
    labels = rng.integers(0, c, size=(n,)).astype(np.int64)
    for fl in (False, True):
        pred = logits if fl else p
        tag = "logits" if fl else "probs"
        loss_case(f"cce_{tag}", "CategoricalCrossentropy", {"from_logits": fl}, oh, pred)
        loss_case(f"cce_{tag}_ls_sw", "CategoricalCrossentropy",
                  {"from_logits": fl, "label_smoothing": 0.1}, oh, pred, sw)
        loss_case(f"scce_{tag}", "SparseCategoricalCrossentropy", {"from_logits": fl}, labels, pred)
        loss_case(f"scce_{tag}_sw_sum", "SparseCategoricalCrossentropy",
                  {"from_logits": fl, "reduction": "sum"}, labels[:, None], pred, sw)
    bl = rng.integers(0, 2, size=(n, 3)).astype(F32)
    bx = rng.normal(size=(n, 3)).astype(F32) * 2
    bp = (1 / (1 + np.exp(-bx))).astype(F32)
    for fl in (False, True):
        pred = bx if fl else bp
        tag = "logits" if fl else "probs"
        loss_case(f"bce_{tag}", "BinaryCrossentropy", {"from_logits": fl}, bl, pred)
        loss_case(f"bce_{tag}_ls_sw_none", "BinaryCrossentropy",
                  {"from_logits": fl, "label_smoothing": 0.2, "reduction": "none"}, bl, pred, sw)
        loss_case(f"bfce_{tag}", "BinaryFocalCrossentropy", {"from_logits": fl}, bl, pred)
        loss_case(f"bfce_{tag}_bal_sw", "BinaryFocalCrossentropy",
                  {"from_logits": fl, "apply_class_balancing": True, "alpha": 0.3, "gamma": 1.5,
                   "label_smoothing": 0.1}, bl, pred, sw)
    reg_t = rng.normal(size=(n, 3)).astype(F32)
    reg_p = rng.normal(size=(n, 3)).astype(F32)
    pos_t = rng.uniform(0.1, 2.0, size=(n, 3)).astype(F32)
    pos_p = rng.uniform(0.1, 2.0, size=(n, 3)).astype(F32)
    for cls, t, pp, extra in [
        ("MeanSquaredError", reg_t, reg_p, {}),
        ("MeanAbsoluteError", reg_t, reg_p, {}),
        ("MeanAbsolutePercentageError", reg_t, reg_p, {}),
        ("MeanSquaredLogarithmicError", pos_t, pos_p, {}),
        ("Huber", reg_t, reg_p, {"delta": 0.7}),
        ("LogCosh", reg_t, reg_p, {}),
        ("KLDivergence", probs((n, c)), probs((n, c)), {}),
        ("Poisson", pos_t, pos_p, {}),
        ("Hinge", bl, bx, {}),
        ("SquaredHinge", bl, bx, {}),
        ("Hinge", bl * 2 - 1, bx, {}),
        ("CategoricalHinge", oh, logits, {}),
        ("CosineSimilarity", reg_t, reg_p, {}),
    ]:
        base = cls.lower() + ("_" + "_".join(f"{k}{v}" for k, v in extra.items()) if extra else "")
        if base in [m.split("/")[0] for m in meta]:
            base += "_pm1"
        loss_case(base, cls, dict(extra), t, pp)
        loss_case(base + "_sw", cls, dict(extra), t, pp, sw)
        loss_case(base + "_mean_sw", cls, {**extra, "reduction": "mean_with_sample_weight"}, t, pp, sw)
        loss_case(base + "_sum", cls, {**extra, "reduction": "sum"}, t, pp)
    loss_case("cosine_axis0", "CosineSimilarity", {"axis": 0}, reg_t, reg_p)
    loss_case("cosine_axis0_sw", "CosineSimilarity", {"axis": 0}, reg_t, reg_p, sw[:3])
    # per-sample weight shaped (n, 1); rank-1 predictions against (n, 1) targets
    loss_case("mse_sw_col", "MeanSquaredError", {}, reg_t, reg_p, sw[:, None])
    loss_case("mse_rank1_targets", "MeanSquaredError", {}, reg_t[:, :1], reg_p[:, 0])


def metric_case(case, cls, config, batches, use_sw):
    m = getattr(keras.metrics, cls)(**config)

    def update(t, p, w):
        if cls in ("Mean", "Sum"):  # update_state(values, sample_weight); y_true is unused
            m.update_state(p, sample_weight=w)
        else:
            m.update_state(t, p, sample_weight=w)
    for i, (t, p, w) in enumerate(batches):
        put(f"{case}/b{i}/y_true", t)
        put(f"{case}/b{i}/y_pred", p)
        if use_sw[i]:
            put(f"{case}/b{i}/sw", w)
        update(t, p, w if use_sw[i] else None)
        put(f"{case}/r{i}", np.asarray(m.result(), dtype=F32))
    m.reset_state()
    put(f"{case}/reset", np.asarray(m.result(), dtype=F32))
    t, p, w = batches[0]
    update(t, p, w if use_sw[0] else None)
    put(f"{case}/after", np.asarray(m.result(), dtype=F32))
    meta[case] = json.dumps({"kind": "metric", "class": cls, "config": config,
                             "batches": len(batches), "sw": use_sw})


def add_metrics():
    n, c = 8, 5
    sws = [False, True, True]

    def w():
        return rng.uniform(0.0, 2.0, size=(n,)).astype(F32)

    def cat():
        return [(onehot(n, c), probs((n, c)), w()) for _ in range(3)]

    def sparse():
        return [(rng.integers(0, c, size=(n,)).astype(np.int64), probs((n, c)), w()) for _ in range(3)]

    def binary(cols=1):
        out = []
        for _ in range(3):
            t = rng.integers(0, 2, size=(n, cols)).astype(F32)
            p = np.clip(t * 0.3 + rng.uniform(0, 0.7, size=(n, cols)), 0, 1).astype(F32)
            out.append((t, p, w()))
        return out

    def reg():
        return [(rng.normal(size=(n, 3)).astype(F32), rng.normal(size=(n, 3)).astype(F32), w())
                for _ in range(3)]

    for sw in ([False] * 3, sws):
        tag = "_sw" if sw[1] else ""
        metric_case("mean" + tag, "Mean", {}, [(np.zeros(n, F32), rng.normal(size=(n, 2)).astype(F32), w()) for _ in range(3)], sw)
        metric_case("sum" + tag, "Sum", {}, [(np.zeros(n, F32), rng.normal(size=(n,)).astype(F32), w())
                                             for _ in range(3)], sw)
        ints = [(rng.integers(0, 3, size=(n, 1)).astype(F32), rng.integers(0, 3, size=(n, 1)).astype(F32), w())
                for _ in range(3)]
        metric_case("accuracy" + tag, "Accuracy", {}, ints, sw)
        metric_case("binary_accuracy" + tag, "BinaryAccuracy", {}, binary(2), sw)
        metric_case("binary_accuracy_t07" + tag, "BinaryAccuracy", {"threshold": 0.7}, binary(), sw)
        metric_case("categorical_accuracy" + tag, "CategoricalAccuracy", {}, cat(), sw)
        metric_case("sparse_categorical_accuracy" + tag, "SparseCategoricalAccuracy", {}, sparse(), sw)
        metric_case("top_k" + tag, "TopKCategoricalAccuracy", {}, cat(), sw)
        metric_case("top_k2" + tag, "TopKCategoricalAccuracy", {"k": 2}, cat(), sw)
        metric_case("sparse_top_k2" + tag, "SparseTopKCategoricalAccuracy", {"k": 2}, sparse(), sw)
        metric_case("precision" + tag, "Precision", {}, binary(), sw)
        metric_case("precision_t03" + tag, "Precision", {"thresholds": 0.3}, binary(2), sw)
        metric_case("recall" + tag, "Recall", {}, binary(), sw)
        metric_case("recall_t07" + tag, "Recall", {"thresholds": 0.7}, binary(2), sw)
        metric_case("auc" + tag, "AUC", {}, binary(), sw)
        metric_case("auc_pr" + tag, "AUC", {"curve": "PR"}, binary(), sw)
        metric_case("auc_50_minoring" + tag, "AUC", {"num_thresholds": 50, "summation_method": "minoring"},
                    binary(2), sw)
        metric_case("auc_pr_majoring" + tag, "AUC", {"curve": "PR", "summation_method": "majoring"},
                    binary(), sw)
        for avg in (None, "micro", "macro", "weighted"):
            metric_case(f"f1_{avg}" + tag, "F1Score", {"average": avg}, binary(4), sw)
            metric_case(f"fbeta_{avg}_t04" + tag, "FBetaScore",
                        {"average": avg, "beta": 2.0, "threshold": 0.4}, binary(4), sw)
        metric_case("mse" + tag, "MeanSquaredError", {}, reg(), sw)
        metric_case("mae" + tag, "MeanAbsoluteError", {}, reg(), sw)
        metric_case("rmse" + tag, "RootMeanSquaredError", {}, reg(), sw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args()
    add_losses()
    add_metrics()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    # One metadata key (a map with several keys is written in random order).
    save_file(tensors, args.out, metadata={"cases": json.dumps(meta, sort_keys=True)})
    os.chmod(args.out, 0o644)
    print(f"wrote {len(meta)} cases, {len(tensors)} tensors to {args.out}")


if __name__ == "__main__":
    main()
