#!/usr/bin/env python3
"""Generate reference outputs for the keras-tensor test-suite.

Every expected value is computed by NumPy / SciPy / JAX / Keras 3 (JAX
backend); nothing is typed in by hand.  Inputs come from seeded
``numpy.random.Generator``s, so re-running produces byte-identical files.

Usage:
    pip install -r scripts/requirements-reference.txt
    python scripts/gen_reference.py [--out crates/keras-tensor/tests/data]

Format: see crates/keras-tensor/tests/data/README.md.
"""

import argparse
import hashlib
import json
import os
import sys

# Must be set before JAX / Keras are imported.
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if os.environ["KERAS_BACKEND"] != "jax":
    sys.exit("gen_reference.py requires KERAS_BACKEND=jax")

import numpy as np  # noqa: E402
import ml_dtypes  # noqa: E402
import scipy.special  # noqa: E402
import jax  # noqa: E402

# float64 cases need real float64 in JAX (otherwise it silently downcasts).
jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
from keras import ops  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "crates", "keras-tensor", "tests", "data")

F32, F64 = np.float32, np.float64
I32, I64, U8, BOOL = np.int32, np.int64, np.uint8, np.bool_
BF16, F16 = ml_dtypes.bfloat16, np.float16

ALLOWED_DTYPES = {
    np.dtype(F32), np.dtype(F64), np.dtype(I32), np.dtype(I64),
    np.dtype(U8), np.dtype(BOOL),
}
HALF_DTYPES = {np.dtype(BF16), np.dtype(F16)}


def to_np(a):
    """Materialise a NumPy / JAX value as a fresh C-contiguous ndarray
    (keeps 0-d arrays 0-d, unlike np.ascontiguousarray)."""
    return np.array(np.asarray(a), copy=True, order="C")


class Family:
    """Collects the cases of one op family and writes one safetensors file."""

    def __init__(self, name, seed):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.tensors = {}
        self.meta = {}

    def add(self, case, op, inputs, outputs, **args):
        assert "/" not in case, case
        assert case not in self.meta, f"duplicate case {self.name}/{case}"
        for i, a in enumerate(inputs):
            self._put(f"{case}/in{i}", a, op)
        if isinstance(outputs, (list, tuple)):
            for i, a in enumerate(outputs):
                self._put(f"{case}/out{i}", a, op)
        else:
            self._put(f"{case}/out", outputs, op)
        self.meta[case] = json.dumps({"op": op, "args": args}, sort_keys=True)

    def _put(self, key, a, op):
        a = to_np(a)
        ok = a.dtype in ALLOWED_DTYPES or (op == "cast" and a.dtype in HALF_DTYPES)
        assert ok, f"{self.name}/{key}: dtype {a.dtype} not allowed"
        if a.dtype.kind == "f":
            assert np.all(np.isfinite(a.astype(F64))), f"{self.name}/{key}: non-finite"
        self.tensors[key] = a

    # ---- input helpers (all draws go through the family's Generator) ----
    def normal(self, shape, dtype=F32, scale=1.0):
        return (self.rng.standard_normal(shape) * scale).astype(dtype)

    def uniform(self, shape, lo, hi, dtype=F32):
        return self.rng.uniform(lo, hi, shape).astype(dtype)

    def ints(self, shape, lo, hi, dtype=I32):
        return self.rng.integers(lo, hi, shape).astype(dtype)

    def bools(self, shape):
        return self.rng.random(shape) < 0.5

    def distinct(self, shape, dtype=F32, scale=1.0):
        """Values with no ties (a random permutation of a spread-out grid plus
        jitter), for max/argmax/sort/top_k/max_pool."""
        n = int(np.prod(shape))
        base = self.rng.permutation(n).astype(F64) - n / 2.0
        jitter = self.rng.uniform(0.1, 0.4, n)
        return ((base + jitter) * scale / max(n / 4.0, 1.0)).reshape(shape).astype(dtype)

    def write(self, out_dir):
        path = os.path.join(out_dir, f"{self.name}.safetensors")
        write_safetensors(path, self.tensors, self.meta)
        return path


ST_DTYPE = {
    np.dtype(F64): "F64", np.dtype(F32): "F32", np.dtype(F16): "F16",
    np.dtype(BF16): "BF16", np.dtype(I64): "I64", np.dtype(I32): "I32",
    np.dtype(U8): "U8", np.dtype(BOOL): "BOOL",
}


def write_safetensors(path, tensors, metadata):
    """Byte-deterministic safetensors writer.

    safetensors.numpy.save_file serialises ``__metadata__`` from a Rust
    HashMap, so its key order (and hence the file bytes) changes from run to
    run.  This writer emits the same format with a canonical header: JSON
    with sorted keys, tensors laid out by decreasing item size then name
    (so every tensor is aligned to its item size), header padded with
    spaces to a multiple of 8 bytes.  The result is read back with the
    official loader in verify().
    """
    order = sorted(tensors, key=lambda k: (-tensors[k].dtype.itemsize, k))
    header, blobs, offset = {}, [], 0
    for k in order:
        a = tensors[k]
        data = a.tobytes(order="C")
        header[k] = {"dtype": ST_DTYPE[a.dtype], "shape": list(a.shape),
                     "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = dict(sorted(metadata.items()))
    hbytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)
    with open(path, "wb") as fh:
        fh.write(len(hbytes).to_bytes(8, "little"))
        fh.write(hbytes)
        for b in blobs:
            fh.write(b)


def f64_then_f32(fn, *xs):
    """Evaluate fn on float64 copies of the inputs, round the result to f32
    (a correctly-rounded-ish reference for f32 kernels)."""
    return to_np(fn(*[np.asarray(x, F64) for x in xs])).astype(F32)


# --------------------------------------------------------------------------
# unary
# --------------------------------------------------------------------------
def gen_unary():
    fam = Family("unary", 1001)
    std = lambda s: fam.normal(s, scale=1.5)  # noqa: E731
    pos = lambda s: fam.uniform(s, 0.05, 5.0)  # noqa: E731

    def away_from_kinks(x, points=(0.0,), eps=0.02):
        x = x.copy()
        for p in points:
            close = np.abs(x - p) < eps
            x[close] = p + eps * np.where(x[close] >= p, 1.5, -1.5)
        return x.astype(F32)

    rounding_kinks = tuple(np.arange(-6, 7, 0.5))
    table = [
        ("neg", std, np.negative),
        ("abs", lambda s: away_from_kinks(std(s)), np.abs),
        ("exp", lambda s: fam.uniform(s, -8.0, 8.0), np.exp),
        ("log", pos, np.log),
        ("log1p", lambda s: fam.uniform(s, -0.9, 5.0), np.log1p),
        ("expm1", lambda s: fam.uniform(s, -5.0, 5.0), np.expm1),
        ("sqrt", pos, np.sqrt),
        ("rsqrt", pos, lambda x: 1.0 / np.sqrt(x)),
        ("square", std, np.square),
        ("reciprocal", lambda s: away_from_kinks(std(s), eps=0.1), np.reciprocal),
        ("sin", lambda s: fam.uniform(s, -6.0, 6.0), np.sin),
        ("cos", lambda s: fam.uniform(s, -6.0, 6.0), np.cos),
        ("tanh", lambda s: fam.uniform(s, -5.0, 5.0), np.tanh),
        ("sigmoid", lambda s: fam.uniform(s, -10.0, 10.0), scipy.special.expit),
        ("relu", lambda s: away_from_kinks(std(s)), lambda x: np.maximum(x, 0.0)),
        ("erf", lambda s: fam.uniform(s, -3.0, 3.0), scipy.special.erf),
        ("sign", lambda s: away_from_kinks(std(s)), np.sign),
        ("floor", lambda s: away_from_kinks(fam.uniform(s, -6, 6), rounding_kinks), np.floor),
        ("ceil", lambda s: away_from_kinks(fam.uniform(s, -6, 6), rounding_kinks), np.ceil),
        ("round", lambda s: away_from_kinks(fam.uniform(s, -6, 6), rounding_kinks), np.round),
    ]
    for op, gen, fn in table:
        for shape in [(3, 4), (2, 3, 5)]:
            x = gen(shape)
            name = f"{op}_{'x'.join(map(str, shape))}"
            fam.add(name, op, [x], f64_then_f32(fn, x))
    # a couple of f64 cases (computed directly in f64)
    for op, gen, fn in [("exp", lambda s: fam.uniform(s, -8, 8, F64), np.exp),
                        ("log", lambda s: fam.uniform(s, 0.05, 5, F64), np.log),
                        ("tanh", lambda s: fam.uniform(s, -5, 5, F64), np.tanh),
                        ("sqrt", lambda s: fam.uniform(s, 0.05, 5, F64), np.sqrt)]:
        x = gen((2, 5))
        fam.add(f"{op}_f64_2x5", op, [x], fn(x))
    # scalar-shaped and empty inputs
    x = np.array(0.7, F32)
    fam.add("exp_scalar", "exp", [x], f64_then_f32(np.exp, x))
    x = np.zeros((0, 3), F32)
    fam.add("neg_empty_0x3", "neg", [x], np.negative(x))
    # round with exact halves: NumPy rounds half to even
    x = np.array([-3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 4.5, -4.5], F32)
    fam.add("round_halves", "round", [x], np.round(x))
    # extreme-argument behaviour of the smooth functions (saturation)
    x = np.array([-100.0, -30.0, -17.0, 17.0, 30.0, 100.0], F32)
    fam.add("sigmoid_saturate", "sigmoid", [x], f64_then_f32(scipy.special.expit, x))
    fam.add("tanh_saturate", "tanh", [x], f64_then_f32(np.tanh, x))
    # int32
    for op, fn in [("abs", np.abs), ("neg", np.negative), ("sign", np.sign),
                   ("square", np.square)]:
        x = fam.ints((3, 4), -50, 50)
        x[0, 0] = 0
        fam.add(f"{op}_i32_3x4", op, [x], fn(x).astype(I32))
    x = fam.bools((2, 5))
    fam.add("logical_not_bool_2x5", "logical_not", [x], np.logical_not(x))
    return fam


# --------------------------------------------------------------------------
# binary
# --------------------------------------------------------------------------
def gen_binary():
    fam = Family("binary", 1002)
    shapes = [
        ("3x4_3x4", (3, 4), (3, 4)),
        ("scalar_3x4", (), (3, 4)),
        ("3x4_scalar", (3, 4), ()),
        ("bcast_2x1x3_4x1", (2, 1, 3), (4, 1)),
        ("bcast_3_2x3", (3,), (2, 3)),
        ("bcast_2x3_3", (2, 3), (3,)),
        ("empty_0x3_1x3", (0, 3), (1, 3)),
    ]

    def arith_inputs(op, sa, sb):
        if op == "power":
            return fam.uniform(sa, 0.2, 3.0), fam.uniform(sb, -2.5, 2.5)
        if op == "divide":
            b = fam.normal(sb)
            b = np.where(np.abs(b) < 0.2, np.sign(b) * 0.2 + b, b).astype(F32)
            b[b == 0] = 0.5
            return fam.normal(sa), b
        if op in ("maximum", "minimum"):
            # avoid exact ties between the two operands
            a, b = fam.normal(sa), fam.normal(sb)
            return a, b
        return fam.normal(sa), fam.normal(sb)

    arith = {
        "add": np.add, "subtract": np.subtract, "multiply": np.multiply,
        "divide": np.divide, "power": np.power, "maximum": np.maximum,
        "minimum": np.minimum,
    }
    for op, fn in arith.items():
        for tag, sa, sb in shapes:
            a, b = arith_inputs(op, sa, sb)
            a, b = np.asarray(a, F32), np.asarray(b, F32)
            fam.add(f"{op}_{tag}", op, [a, b], f64_then_f32(fn, a, b))
    # f64 arithmetic
    for op in ["add", "multiply", "divide", "power"]:
        a, b = arith_inputs(op, (2, 3), (2, 3))
        a, b = a.astype(F64) * 1.000000001, b.astype(F64)
        fam.add(f"{op}_f64_2x3", op, [a, b], arith[op](a, b))

    cmp = {
        "equal": np.equal, "not_equal": np.not_equal, "less": np.less,
        "less_equal": np.less_equal, "greater": np.greater,
        "greater_equal": np.greater_equal,
    }
    for op, fn in cmp.items():
        for tag, sa, sb in [("3x4_3x4", (3, 4), (3, 4)),
                            ("bcast_2x1x3_4x1", (2, 1, 3), (4, 1)),
                            ("scalar_3x4", (), (3, 4))]:
            # small-integer-valued floats so that exact equality happens often
            a = fam.ints(sa, -2, 3).astype(F32)
            b = fam.ints(sb, -2, 3).astype(F32)
            fam.add(f"{op}_{tag}", op, [a, b], fn(a, b))
        a, b = fam.ints((2, 4), -3, 4), fam.ints((2, 4), -3, 4)
        fam.add(f"{op}_i32_2x4", op, [a, b], fn(a, b))
    for op, fn in [("logical_and", np.logical_and), ("logical_or", np.logical_or)]:
        a, b = fam.bools((3, 4)), fam.bools((3, 4))
        fam.add(f"{op}_bool_3x4", op, [a, b], fn(a, b))
        a, b = fam.bools((2, 1, 3)), fam.bools((4, 1))
        fam.add(f"{op}_bool_bcast_2x1x3_4x1", op, [a, b], fn(a, b))

    # int32 arithmetic
    for op, fn in [("add", np.add), ("multiply", np.multiply),
                   ("maximum", np.maximum), ("subtract", np.subtract)]:
        a, b = fam.ints((3, 4), -100, 100), fam.ints((3, 4), -100, 100)
        fam.add(f"{op}_i32_3x4", op, [a, b], fn(a, b).astype(I32))
    a, b = fam.ints((2, 1, 3), -100, 100), fam.ints((4, 1), -100, 100)
    fam.add("add_i32_bcast_2x1x3_4x1", "add", [a, b], np.add(a, b).astype(I32))

    # type promotion, Keras / JAX lattice (computed with keras.ops and
    # checked against the expected result dtype).
    def promo(case, op, a, b, expect):
        out = to_np(getattr(ops, op)(a, b))
        assert out.dtype == np.dtype(expect), (case, out.dtype, expect)
        assert np.dtype(jnp.result_type(a.dtype, b.dtype)) == np.dtype(expect), case
        # keras.backend.result_type agrees except that it maps 64-bit results
        # to 32-bit (it mimics JAX's default x64-disabled mode), so
        # result_type("float32", "float64") == "float32" there.
        fam.add(case, op, [a, b], out)

    promo("add_promote_i32_f32", "add", fam.ints((2, 3), -20, 20), fam.normal((2, 3)), F32)
    promo("multiply_promote_f32_i32", "multiply", fam.normal((2, 3)), fam.ints((2, 3), -20, 20), F32)
    promo("add_promote_u8_i32", "add", fam.ints((2, 3), 0, 255, U8), fam.ints((2, 3), -300, 300), I32)
    promo("add_promote_f32_f64", "add", fam.normal((2, 3)), fam.normal((2, 3), F64), F64)
    promo("add_promote_bcast_i32_f32", "add", fam.ints((3, 1), -5, 5), fam.normal((4,)), F32)
    # int32 / int32 -> float32 (true division after casting both to float32)
    a = fam.ints((3, 4), -50, 50)
    b = fam.ints((3, 4), 1, 9) * np.where(fam.bools((3, 4)), 1, -1).astype(I32)
    ref = a.astype(F32) / b.astype(F32)
    kout = to_np(ops.divide(a, b))
    assert kout.dtype == np.dtype(F32)
    assert np.allclose(kout, ref, rtol=1e-6, atol=0)
    fam.add("divide_i32_i32_3x4", "divide", [a, b], ref)
    return fam


# --------------------------------------------------------------------------
# reduce
# --------------------------------------------------------------------------
def norm_axes(axes):
    return None if axes is None else tuple(axes)


def gen_reduce():
    fam = Family("reduce", 1003)
    shapes_axes = [
        ((7,), None), ((7,), [0]), ((7,), [-1]),
        ((3, 4), None), ((3, 4), [0]), ((3, 4), [1]), ((3, 4), [-1]), ((3, 4), [0, 1]),
        ((2, 3, 4), None), ((2, 3, 4), [1]), ((2, 3, 4), [0, 2]), ((2, 3, 4), [-1, -3]),
        ((2, 3, 4), [-2]), ((3, 1, 4), [1]), ((3, 1, 4), [0, 1]),
    ]

    def tag(shape, axes, kd):
        s = "x".join(map(str, shape))
        a = "all" if axes is None else "_".join(str(v).replace("-", "m") for v in axes)
        return f"{s}_ax{a}_{'kd' if kd else 'nokd'}"

    fns = {
        "sum": lambda x, ax, kd: np.sum(x, axis=ax, keepdims=kd),
        "mean": lambda x, ax, kd: np.mean(x, axis=ax, keepdims=kd),
        "max": lambda x, ax, kd: np.max(x, axis=ax, keepdims=kd),
        "min": lambda x, ax, kd: np.min(x, axis=ax, keepdims=kd),
        "logsumexp": lambda x, ax, kd: scipy.special.logsumexp(x, axis=ax, keepdims=kd),
    }
    for op, fn in fns.items():
        for i, (shape, axes) in enumerate(shapes_axes):
            for kd in (False, True):
                if (i + kd) % 2 and shape not in [(7,), (3, 1, 4)] and axes is not None:
                    continue  # keep the file small: alternate keepdims
                x = fam.distinct(shape, scale=3.0) if op in ("max", "min") else fam.normal(shape)
                ax = norm_axes(axes)
                out = f64_then_f32(lambda v: fn(v, ax, kd), x)
                if op == "logsumexp":
                    kout = to_np(ops.logsumexp(x.astype(F64), axis=ax, keepdims=kd))
                    assert np.allclose(kout, out, rtol=1e-6, atol=1e-6)
                fam.add(f"{op}_{tag(shape, axes, kd)}", op, [x], out,
                        axes=axes, keepdims=kd)
    # logsumexp with large values (needs max-shift)
    x = (fam.normal((2, 5)) * 30 + 80).astype(F32)
    fam.add("logsumexp_large_2x5_ax1_nokd", "logsumexp", [x],
            f64_then_f32(lambda v: scipy.special.logsumexp(v, axis=1), x), axes=[1], keepdims=False)
    # f64
    x = fam.normal((3, 4), F64)
    fam.add("sum_f64_3x4_ax1_nokd", "sum", [x], np.sum(x, axis=1), axes=[1], keepdims=False)
    fam.add("mean_f64_3x4_axall_nokd", "mean", [x], np.mean(x), axes=None, keepdims=False)
    # int32: sum keeps int32 (Keras/JAX default 32-bit mode), max/min keep dtype
    x = fam.ints((3, 4), -100, 100)
    fam.add("sum_i32_3x4_ax0_nokd", "sum", [x], np.sum(x, axis=0, dtype=I32), axes=[0], keepdims=False)
    fam.add("max_i32_3x4_ax1_kd", "max", [x], np.max(x, axis=1, keepdims=True), axes=[1], keepdims=True)
    fam.add("min_i32_3x4_axall_nokd", "min", [x], np.min(x), axes=None, keepdims=False)

    for op, fn in [("argmax", np.argmax), ("argmin", np.argmin)]:
        for shape, axis in [((7,), 0), ((7,), -1), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1),
                            ((2, 3, 4), 1), ((2, 3, 4), -3), ((2, 3, 4), 2), ((3, 1, 4), 1)]:
            for kd in (False, True):
                x = fam.distinct(shape)
                out = fn(x, axis=axis, keepdims=kd).astype(I64)
                kout = to_np(getattr(ops, op)(x, axis=axis, keepdims=kd))
                assert np.array_equal(kout, out)
                fam.add(f"{op}_{'x'.join(map(str, shape))}_ax{str(axis).replace('-', 'm')}"
                        f"_{'kd' if kd else 'nokd'}", op, [x], out, axis=axis, keepdims=kd)
        x = (np.argsort(fam.rng.random((3, 5)), axis=1) * 7 - 10).astype(I32)  # distinct per row
        fam.add(f"{op}_i32_3x5_ax1_nokd", op, [x], fn(x, axis=1).astype(I64), axis=1, keepdims=False)
    # ties: first occurrence wins (NumPy / JAX / Keras)
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, -1.0]], F32)
    fam.add("argmax_ties_2x4_ax1_nokd", "argmax", [x], np.argmax(x, axis=1).astype(I64), axis=1, keepdims=False)
    fam.add("argmin_ties_2x4_ax1_nokd", "argmin", [x], np.argmin(x, axis=1).astype(I64), axis=1, keepdims=False)
    return fam


# --------------------------------------------------------------------------
# matmul
# --------------------------------------------------------------------------
def gen_matmul():
    fam = Family("matmul", 1004)
    cases = [
        ("3x4_4x5", (3, 4), (4, 5)),
        ("1x1_1x1", (1, 1), (1, 1)),
        ("5x7_7x3", (5, 7), (7, 3)),
        ("batch_2x3x4_2x4x5", (2, 3, 4), (2, 4, 5)),
        ("bcast_2x1x3x4_5x4x2", (2, 1, 3, 4), (5, 4, 2)),
        ("bcast_3x4_2x4x5", (3, 4), (2, 4, 5)),
        ("vec_4_4x5", (4,), (4, 5)),
        ("mat_3x4_4", (3, 4), (4,)),
        ("vec_4_4", (4,), (4,)),
        ("vec_4_2x4x3", (4,), (2, 4, 3)),
        ("k0_3x0_0x2", (3, 0), (0, 2)),
        ("m0_0x4_4x2", (0, 4), (4, 2)),
        ("big_16x32_32x8", (16, 32), (32, 8)),
    ]
    for tag, sa, sb in cases:
        a, b = fam.normal(sa), fam.normal(sb)
        out = f64_then_f32(np.matmul, a, b)
        assert np.allclose(to_np(ops.matmul(a, b)), out, rtol=1e-4, atol=1e-4)
        fam.add(tag, "matmul", [a, b], out)
    a, b = fam.normal((3, 4), F64), fam.normal((2, 4, 5), F64)
    fam.add("f64_3x4_2x4x5", "matmul", [a, b], np.matmul(a, b))
    a, b = fam.ints((3, 4), -10, 10), fam.ints((4, 2), -10, 10)
    fam.add("i32_3x4_4x2", "matmul", [a, b], np.matmul(a, b).astype(I32))
    return fam


# --------------------------------------------------------------------------
# conv
# --------------------------------------------------------------------------
def same_pads(size, k, s, d):
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return [total // 2, total - total // 2]


def conv_ref(x, w, strides, pads, dilation, groups):
    """N-D conv (channels-last) in float64 with jax.lax, rounded to x.dtype."""
    nd = x.ndim - 2
    spec = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC")}[nd]
    y = jax.lax.conv_general_dilated(
        jnp.asarray(x, F64), jnp.asarray(w, F64), window_strides=strides,
        padding=[tuple(p) for p in pads], rhs_dilation=dilation,
        dimension_numbers=spec, feature_group_count=groups,
        precision=jax.lax.Precision.HIGHEST)
    return to_np(y).astype(x.dtype)


def conv_transpose_naive(x, w, strides, padding, output_padding, dilation):
    """Direct scatter implementation of Keras' conv_transpose (used to
    double-check the size/offset rule documented in the README)."""
    nd = x.ndim - 2
    n, cin = x.shape[0], x.shape[-1]
    ks, cout = w.shape[:nd], w.shape[nd]
    keff = [(k - 1) * d + 1 for k, d in zip(ks, dilation)]
    full = [(i - 1) * s + ke for i, s, ke in zip(x.shape[1:-1], strides, keff)]
    out_len, start = [], []
    for ax in range(nd):
        i, s, ke = x.shape[1 + ax], strides[ax], keff[ax]
        op = None if output_padding is None else output_padding[ax]
        if padding == "valid":
            opad = max(ke, s) - ke if op is None else op
            out_len.append((i - 1) * s + ke + opad)
            start.append(0)
        else:
            pad_len = s + ke - 2 if op is None else ke + ke % 2 - 2 + op
            left = min(pad_len // 2 + pad_len % 2, ke - 1)
            out_len.append((i - 1) * s + 2 + pad_len - ke)
            start.append(ke - 1 - left)
    yfull = np.zeros([n] + [max(f, st + o) for f, st, o in zip(full, start, out_len)] + [cout])
    xf, wf = x.astype(F64), w.astype(F64)
    for idx in np.ndindex(*x.shape[1:-1]):
        for kidx in np.ndindex(*ks):
            pos = tuple(i * s + k * d for i, s, k, d in zip(idx, strides, kidx, dilation))
            # w[..., cout, cin]
            yfull[(slice(None),) + pos] += xf[(slice(None),) + idx] @ wf[kidx].T
    sl = tuple(slice(st, st + o) for st, o in zip(start, out_len))
    return yfull[(slice(None),) + sl]


def gen_conv():
    fam = Family("conv", 1005)
    # ---- conv2d ----
    c2 = [
        # name, x shape, (kh, kw), cout, strides, padding, dilation, groups
        ("b1_5x5x2_k3_valid", (1, 5, 5, 2), (3, 3), 3, [1, 1], "valid", [1, 1], 1),
        ("b2_5x5x2_k3_same", (2, 5, 5, 2), (3, 3), 3, [1, 1], "same", [1, 1], 1),
        ("b1_7x6x3_k3_s2_valid", (1, 7, 6, 3), (3, 3), 2, [2, 2], "valid", [1, 1], 1),
        ("b2_7x6x3_k3_s2_same", (2, 7, 6, 3), (3, 3), 2, [2, 2], "same", [1, 1], 1),
        ("b1_6x6x2_k2_s2_same", (1, 6, 6, 2), (2, 2), 3, [2, 2], "same", [1, 1], 1),
        ("b1_5x7x2_k2x3_s1x2_same", (1, 5, 7, 2), (2, 3), 4, [1, 2], "same", [1, 1], 1),
        ("b1_6x5x2_k3_explicit_asym", (1, 6, 5, 2), (3, 3), 3, [1, 1], [[1, 2], [0, 1]], [1, 1], 1),
        ("b2_6x6x2_k3_s2_explicit", (2, 6, 6, 2), (3, 3), 2, [2, 2], [[2, 0], [1, 1]], [1, 1], 1),
        ("b1_7x7x2_k3_d2_valid", (1, 7, 7, 2), (3, 3), 3, [1, 1], "valid", [2, 2], 1),
        ("b1_7x7x2_k3_d2_same", (1, 7, 7, 2), (3, 3), 3, [1, 1], "same", [2, 2], 1),
        ("b1_8x7x2_k2_d2x1_same", (1, 8, 7, 2), (2, 2), 2, [1, 1], "same", [2, 1], 1),
        ("b2_5x5x4_k3_g2_same", (2, 5, 5, 4), (3, 3), 6, [1, 1], "same", [1, 1], 2),
        ("b1_6x6x4_k3_g2_s2_valid", (1, 6, 6, 4), (3, 3), 4, [2, 2], "valid", [1, 1], 2),
        ("b1_5x5x3_k3_depthwise_same", (1, 5, 5, 3), (3, 3), 6, [1, 1], "same", [1, 1], 3),
        ("b2_6x6x3_k3_depthwise_s2_valid", (2, 6, 6, 3), (3, 3), 6, [2, 2], "valid", [1, 1], 3),
        ("b2_4x4x3_k1_valid", (2, 4, 4, 3), (1, 1), 5, [1, 1], "valid", [1, 1], 1),
        ("b1_5x5x3_k1_s2_same", (1, 5, 5, 3), (1, 1), 2, [2, 2], "same", [1, 1], 1),
        ("b1_3x3x2_k3_valid_1x1out", (1, 3, 3, 2), (3, 3), 2, [1, 1], "valid", [1, 1], 1),
        ("b1_2x2x1_k3_same_bigger_kernel", (1, 2, 2, 1), (3, 3), 2, [1, 1], "same", [1, 1], 1),
    ]
    for name, xs, (kh, kw), cout, st, pad, dil, g in c2:
        x = fam.normal(xs)
        w = fam.normal((kh, kw, xs[-1] // g, cout), scale=0.5)
        if pad == "valid":
            pads = [[0, 0], [0, 0]]
        elif pad == "same":
            pads = [same_pads(xs[1], kh, st[0], dil[0]), same_pads(xs[2], kw, st[1], dil[1])]
        else:
            pads = pad
        out = conv_ref(x, w, st, pads, dil, g)
        if isinstance(pad, str):
            kout = to_np(ops.conv(x, w, strides=st, padding=pad, dilation_rate=dil))
            assert kout.shape == out.shape and np.allclose(kout, out, rtol=1e-4, atol=1e-4), name
        fam.add(f"conv2d_{name}", "conv2d", [x, w], out,
                strides=st, padding=pad, dilation=dil, groups=g)
    # f64
    x, w = fam.normal((1, 5, 4, 2), F64), fam.normal((3, 2, 2, 3), F64)
    fam.add("conv2d_f64_b1_5x4x2_k3x2_same", "conv2d", [x, w],
            conv_ref(x, w, [1, 1], [same_pads(5, 3, 1, 1), same_pads(4, 2, 1, 1)], [1, 1], 1),
            strides=[1, 1], padding="same", dilation=[1, 1], groups=1)

    # ---- conv1d ----
    c1 = [
        ("b1_9x2_k3_valid", (1, 9, 2), 3, 3, 1, "valid", 1, 1),
        ("b2_9x2_k3_same", (2, 9, 2), 3, 3, 1, "same", 1, 1),
        ("b1_10x3_k4_s2_same", (1, 10, 3), 4, 2, 2, "same", 1, 1),
        ("b1_9x2_k3_s2_valid", (1, 9, 2), 3, 2, 2, "valid", 1, 1),
        ("b2_8x2_k3_causal", (2, 8, 2), 3, 3, 1, "causal", 1, 1),
        ("b1_8x2_k3_d2_causal", (1, 8, 2), 3, 2, 1, "causal", 2, 1),
        ("b1_9x2_k3_d2_same", (1, 9, 2), 3, 2, 1, "same", 2, 1),
        ("b1_7x2_k3_explicit", (1, 7, 2), 3, 2, 1, [2, 1], 1, 1),
        ("b1_8x4_k3_g2_same", (1, 8, 4), 3, 4, 1, "same", 1, 2),
        ("b2_8x3_k3_depthwise_valid", (2, 8, 3), 3, 6, 1, "valid", 1, 3),
        ("b1_6x3_k1_valid", (1, 6, 3), 1, 4, 1, "valid", 1, 1),
    ]
    for name, xs, k, cout, s, pad, d, g in c1:
        x = fam.normal(xs)
        w = fam.normal((k, xs[-1] // g, cout), scale=0.5)
        if pad == "valid":
            pads = [[0, 0]]
        elif pad == "same":
            pads = [same_pads(xs[1], k, s, d)]
        elif pad == "causal":
            pads = [[(k - 1) * d, 0]]
        else:
            pads = [pad]
        out = conv_ref(x, w, [s], pads, [d], g)
        if pad in ("valid", "same"):
            kout = to_np(ops.conv(x, w, strides=s, padding=pad, dilation_rate=d))
            assert kout.shape == out.shape and np.allclose(kout, out, rtol=1e-4, atol=1e-4), name
        if pad == "causal" and g == 1:
            layer = keras.layers.Conv1D(cout, k, strides=s, padding="causal", dilation_rate=d,
                                        use_bias=False)
            layer.build(xs)
            layer.kernel.assign(w)
            kout = to_np(layer(x))
            assert np.allclose(kout, out, rtol=1e-4, atol=1e-4), name
        fam.add(f"conv1d_{name}", "conv1d", [x, w], out,
                strides=s, padding=pad, dilation=d, groups=g)

    # ---- conv_transpose ----
    ct2 = [
        ("b1_3x3x2_k3_s1_valid", (1, 3, 3, 2), (3, 3), 3, [1, 1], "valid", None, [1, 1]),
        ("b1_3x3x2_k3_s1_same", (1, 3, 3, 2), (3, 3), 3, [1, 1], "same", None, [1, 1]),
        ("b2_3x4x2_k3_s2_valid", (2, 3, 4, 2), (3, 3), 2, [2, 2], "valid", None, [1, 1]),
        ("b2_3x4x2_k3_s2_same", (2, 3, 4, 2), (3, 3), 2, [2, 2], "same", None, [1, 1]),
        ("b1_3x3x2_k2_s2_valid", (1, 3, 3, 2), (2, 2), 3, [2, 2], "valid", None, [1, 1]),
        ("b1_3x3x2_k2_s2_same", (1, 3, 3, 2), (2, 2), 3, [2, 2], "same", None, [1, 1]),
        ("b1_3x3x1_k4_s2_same", (1, 3, 3, 1), (4, 4), 2, [2, 2], "same", None, [1, 1]),
        ("b1_3x3x2_k3_s3_valid", (1, 3, 3, 2), (3, 3), 2, [3, 3], "valid", None, [1, 1]),
        ("b1_2x3x2_k2_s3_valid", (1, 2, 3, 2), (2, 2), 2, [3, 3], "valid", None, [1, 1]),
        ("b1_3x3x2_k3_s2_valid_op1", (1, 3, 3, 2), (3, 3), 2, [2, 2], "valid", [1, 1], [1, 1]),
        ("b1_3x3x2_k3_s2_same_op1", (1, 3, 3, 2), (3, 3), 2, [2, 2], "same", [1, 1], [1, 1]),
        ("b1_3x3x2_k3_s2_same_op0", (1, 3, 3, 2), (3, 3), 2, [2, 2], "same", [0, 0], [1, 1]),
        ("b1_3x4x2_k3x2_s2x1_same_op1x0", (1, 3, 4, 2), (3, 2), 3, [2, 1], "same", [1, 0], [1, 1]),
        ("b1_3x3x2_k4_s2_same_op1", (1, 3, 3, 2), (4, 4), 2, [2, 2], "same", [1, 1], [1, 1]),
        ("b1_4x4x2_k3_d2_valid", (1, 4, 4, 2), (3, 3), 2, [1, 1], "valid", None, [2, 2]),
        ("b1_4x4x2_k3_d2_same", (1, 4, 4, 2), (3, 3), 2, [1, 1], "same", None, [2, 2]),
        ("b2_3x3x3_k1_s1_valid", (2, 3, 3, 3), (1, 1), 2, [1, 1], "valid", None, [1, 1]),
    ]
    for name, xs, (kh, kw), cout, st, pad, op_, dil in ct2:
        x = fam.normal(xs)
        w = fam.normal((kh, kw, cout, xs[-1]), scale=0.5)
        out = to_np(ops.conv_transpose(x.astype(F64), w.astype(F64), strides=st, padding=pad,
                                       output_padding=op_, dilation_rate=dil)).astype(F32)
        naive = conv_transpose_naive(x, w, st, pad, op_, dil)
        assert naive.shape == out.shape and np.allclose(naive, out, rtol=1e-5, atol=1e-5), name
        fam.add(f"conv_transpose2d_{name}", "conv_transpose2d", [x, w], out,
                strides=st, padding=pad, output_padding=op_, dilation=dil)
    ct1 = [
        ("b1_5x2_k3_s1_valid", (1, 5, 2), 3, 2, 1, "valid", None, 1),
        ("b2_5x2_k3_s2_same", (2, 5, 2), 3, 3, 2, "same", None, 1),
        ("b1_5x2_k3_s2_valid", (1, 5, 2), 3, 2, 2, "valid", None, 1),
        ("b1_4x2_k4_s2_same", (1, 4, 2), 4, 2, 2, "same", None, 1),
        ("b1_4x2_k3_s2_same_op1", (1, 4, 2), 3, 2, 2, "same", 1, 1),
        ("b1_4x2_k3_s2_valid_op1", (1, 4, 2), 3, 2, 2, "valid", 1, 1),
        ("b1_4x1_k2_s3_valid", (1, 4, 1), 2, 2, 3, "valid", None, 1),
        ("b1_6x2_k3_d2_same", (1, 6, 2), 3, 2, 1, "same", None, 2),
    ]
    for name, xs, k, cout, s, pad, op_, d in ct1:
        x = fam.normal(xs)
        w = fam.normal((k, cout, xs[-1]), scale=0.5)
        out = to_np(ops.conv_transpose(x.astype(F64), w.astype(F64), strides=s, padding=pad,
                                       output_padding=op_, dilation_rate=d)).astype(F32)
        naive = conv_transpose_naive(x, w, [s], pad, None if op_ is None else [op_], [d])
        assert naive.shape == out.shape and np.allclose(naive, out, rtol=1e-5, atol=1e-5), name
        fam.add(f"conv_transpose1d_{name}", "conv_transpose1d", [x, w], out,
                strides=s, padding=pad, output_padding=op_, dilation=d)
    return fam


# --------------------------------------------------------------------------
# pool
# --------------------------------------------------------------------------
def gen_pool():
    fam = Family("pool", 1006)
    p2 = [
        ("b1_4x4x2_p2_s2_valid", (1, 4, 4, 2), [2, 2], [2, 2], "valid"),
        ("b2_5x5x1_p2_s2_valid", (2, 5, 5, 1), [2, 2], [2, 2], "valid"),
        ("b2_5x5x1_p2_s2_same", (2, 5, 5, 1), [2, 2], [2, 2], "same"),
        ("b1_5x5x2_p3_s1_same", (1, 5, 5, 2), [3, 3], [1, 1], "same"),
        ("b1_5x5x2_p3_s2_same", (1, 5, 5, 2), [3, 3], [2, 2], "same"),
        ("b1_6x5x2_p3_s2_valid", (1, 6, 5, 2), [3, 3], [2, 2], "valid"),
        ("b1_6x7x3_p2x3_s1x2_same", (1, 6, 7, 3), [2, 3], [1, 2], "same"),
        ("b1_6x6x1_p3_s3_valid", (1, 6, 6, 1), [3, 3], [3, 3], "valid"),
        ("b1_4x4x2_p4_s4_valid_global", (1, 4, 4, 2), [4, 4], [4, 4], "valid"),
        ("b1_5x5x1_p2_s3_valid", (1, 5, 5, 1), [2, 2], [3, 3], "valid"),
        ("b1_3x3x1_p1_s1_valid", (1, 3, 3, 1), [1, 1], [1, 1], "valid"),
    ]
    for kind, kfn in [("max", ops.max_pool), ("avg", ops.average_pool)]:
        for name, xs, p, s, pad in p2:
            x = fam.distinct(xs, scale=3.0)
            out = to_np(kfn(x.astype(F64), pool_size=tuple(p) if isinstance(p, list) else p,
                                 strides=tuple(s) if isinstance(s, list) else s,
                                 padding=pad)).astype(F32)
            fam.add(f"{kind}_pool2d_{name}", f"{kind}_pool2d", [x], out,
                    pool_size=p, strides=s, padding=pad)
    p1 = [
        ("b1_8x2_p2_s2_valid", (1, 8, 2), 2, 2, "valid"),
        ("b2_7x2_p2_s2_same", (2, 7, 2), 2, 2, "same"),
        ("b1_7x1_p3_s1_same", (1, 7, 1), 3, 1, "same"),
        ("b1_9x3_p3_s2_valid", (1, 9, 3), 3, 2, "valid"),
        ("b1_8x2_p4_s3_same", (1, 8, 2), 4, 3, "same"),
    ]
    for kind, kfn in [("max", ops.max_pool), ("avg", ops.average_pool)]:
        for name, xs, p, s, pad in p1:
            x = fam.distinct(xs, scale=3.0)
            out = to_np(kfn(x.astype(F64), pool_size=tuple(p) if isinstance(p, list) else p,
                                 strides=tuple(s) if isinstance(s, list) else s,
                                 padding=pad)).astype(F32)
            fam.add(f"{kind}_pool1d_{name}", f"{kind}_pool1d", [x], out,
                    pool_size=p, strides=s, padding=pad)
    # Verify: "same" average pooling divides by the number of *valid* cells.
    ones = np.ones((1, 5, 5, 1), F32)
    assert np.all(to_np(ops.average_pool(ones, 3, 2, "same")) == 1.0)
    ones = np.ones((1, 7, 1), F32)
    assert np.all(to_np(ops.average_pool(ones, 4, 3, "same")) == 1.0)
    # Verify: "same" max pooling pads with -inf (all-negative input stays negative).
    neg = -np.ones((1, 5, 5, 1), F32) - 1.0
    assert np.all(to_np(ops.max_pool(neg, 2, 2, "same")) == -2.0)
    return fam


# --------------------------------------------------------------------------
# index
# --------------------------------------------------------------------------
def gen_index():
    fam = Family("index", 1007)
    # index_select = np.take(x, idx, axis)
    for shape, axis, n in [((5,), 0, 3), ((4, 3), 0, 6), ((4, 3), 1, 2), ((4, 3), -1, 4),
                           ((2, 5, 3), 1, 4), ((2, 3, 4), 2, 5), ((2, 3, 4), -3, 3), ((4, 3), 0, 0)]:
        x = fam.normal(shape)
        idx = fam.ints((n,), 0, shape[axis], I64)
        out = np.take(x, idx, axis=axis)
        fam.add(f"index_select_{'x'.join(map(str, shape))}_ax{str(axis).replace('-', 'm')}_n{n}",
                "index_select", [x, idx], out, axis=axis)
    x, idx = fam.ints((4, 3), -9, 9), fam.ints((5,), 0, 4, I64)
    fam.add("index_select_i32_4x3_ax0", "index_select", [x, idx], np.take(x, idx, axis=0), axis=0)
    x, idx = fam.normal((3, 4), F64), fam.ints((3,), 0, 4, I64)
    fam.add("index_select_f64_3x4_ax1", "index_select", [x, idx], np.take(x, idx, axis=1), axis=1)

    # gather = np.take_along_axis
    for xs, ishape, axis in [((5,), (7,), 0), ((4, 3), (2, 3), 0), ((4, 3), (4, 5), 1),
                             ((4, 3), (4, 2), -1), ((2, 3, 4), (2, 3, 2), 2),
                             ((2, 3, 4), (2, 5, 4), 1), ((3, 4), (1, 4), 0)]:
        x = fam.normal(xs)
        idx = fam.ints(ishape, 0, xs[axis], I64)
        out = np.take_along_axis(x, idx, axis=axis)
        fam.add(f"gather_{'x'.join(map(str, xs))}_idx{'x'.join(map(str, ishape))}"
                f"_ax{str(axis).replace('-', 'm')}", "gather", [x, idx], out, axis=axis)
    x, idx = fam.ints((3, 4), -9, 9), fam.ints((3, 2), 0, 4, I64)
    fam.add("gather_i32_3x4_idx3x2_ax1", "gather", [x, idx], np.take_along_axis(x, idx, axis=1), axis=1)

    # scatter_add: out = x.copy(); out[idx along axis] += updates (PyTorch scatter_add_)
    def scatter_add(x, idx, upd, axis):
        out = x.astype(F64 if x.dtype.kind == "f" else x.dtype).copy()
        axis = axis % x.ndim
        grid = list(np.indices(idx.shape, sparse=True))
        grid[axis] = idx
        np.add.at(out, tuple(grid), upd)
        return out.astype(x.dtype)

    for xs, ishape, axis in [((5,), (8,), 0), ((4, 3), (6, 3), 0), ((4, 3), (4, 5), 1),
                             ((4, 3), (2, 2), 0), ((3, 4), (3, 6), -1), ((2, 3, 4), (2, 5, 4), 1),
                             ((2, 3, 4), (2, 3, 3), 2)]:
        x = fam.normal(xs)
        idx = fam.ints(ishape, 0, xs[axis], I64)
        upd = fam.normal(ishape)
        flat = idx.reshape(-1)
        assert len(flat) > len(np.unique(flat)) or flat.size <= 2  # repeats present
        out = scatter_add(x, idx, upd, axis)
        fam.add(f"scatter_add_{'x'.join(map(str, xs))}_idx{'x'.join(map(str, ishape))}"
                f"_ax{str(axis).replace('-', 'm')}", "scatter_add", [x, idx, upd], out, axis=axis)
    # explicit heavy repeats: all updates to one slot
    x, idx, upd = fam.normal((4,)), np.full((6,), 2, I64), fam.normal((6,))
    fam.add("scatter_add_all_same_idx", "scatter_add", [x, idx, upd], scatter_add(x, idx, upd, 0), axis=0)
    x, idx, upd = fam.ints((3, 3), -5, 5), fam.ints((4, 3), 0, 3, I64), fam.ints((4, 3), -5, 5)
    fam.add("scatter_add_i32_3x3_idx4x3_ax0", "scatter_add", [x, idx, upd],
            scatter_add(x, idx, upd, 0), axis=0)

    # one_hot (keras.ops.one_hot, float32)
    for ishape, depth in [((5,), 4), ((2, 3), 5), ((1,), 1), ((3, 2, 2), 3), ((0,), 3)]:
        idx = fam.ints(ishape, 0, depth, I64)
        with jax.enable_x64(False):
            out = to_np(ops.one_hot(idx, depth))
        assert out.dtype == np.dtype(F32)
        fam.add(f"one_hot_{'x'.join(map(str, ishape))}_d{depth}", "one_hot", [idx], out, depth=depth)
    return fam


# --------------------------------------------------------------------------
# movement
# --------------------------------------------------------------------------
def gen_movement():
    fam = Family("movement", 1008)
    sh = lambda s: "x".join(map(str, s)) if len(s) else "scalar"  # noqa: E731
    # reshape
    for xs, target in [((2, 3, 4), [6, 4]), ((2, 3, 4), [4, -1]), ((2, 3, 4), [-1]),
                       ((12,), [3, 2, 2]), ((1, 6), [6]), ((6,), [1, 6, 1]), ((1,), []),
                       ((), [1, 1]), ((0, 3), [3, 0]), ((0, 3), [-1, 3])]:
        x = fam.normal(xs)
        fam.add(f"reshape_{sh(xs)}_to_{'_'.join(str(v).replace('-', 'm') for v in target) or 'scalar'}",
                "reshape", [x], np.reshape(x, target), shape=target)
    x = fam.ints((2, 6), -9, 9)
    fam.add("reshape_i32_2x6_to_3x4", "reshape", [x], x.reshape(3, 4), shape=[3, 4])
    # permute
    for xs, axes in [((3, 4), [1, 0]), ((2, 3, 4), [2, 0, 1]), ((2, 3, 4), [0, 2, 1]),
                     ((2, 3, 4, 5), [0, 3, 1, 2]), ((2, 3, 4, 5), [3, 2, 1, 0]), ((1, 3, 1), [2, 1, 0])]:
        x = fam.normal(xs)
        fam.add(f"permute_{sh(xs)}_{''.join(map(str, axes))}", "permute", [x],
                np.transpose(x, axes), axes=axes)
    x = fam.bools((2, 3))
    fam.add("permute_bool_2x3_10", "permute", [x], x.T, axes=[1, 0])
    # broadcast_to
    for xs, target in [((3,), [2, 3]), ((3, 1), [3, 4]), ((1,), [2, 2, 2]), ((), [2, 3]),
                       ((2, 1, 3), [2, 4, 3]), ((1, 3), [0, 3]), ((2, 3), [2, 3])]:
        x = fam.normal(xs)
        fam.add(f"broadcast_to_{sh(xs)}_to_{'x'.join(map(str, target))}", "broadcast_to", [x],
                np.broadcast_to(x, target), shape=target)
    x = fam.ints((3, 1), 0, 255, U8)
    fam.add("broadcast_to_u8_3x1_to_3x2", "broadcast_to", [x], np.broadcast_to(x, (3, 2)), shape=[3, 2])
    # slice
    for xs, start, stop, step in [((6,), [1], [5], [1]), ((6,), [0], [6], [2]),
                                  ((5, 6), [1, 0], [4, 6], [1, 2]), ((5, 6), [0, 1], [5, 5], [3, 1]),
                                  ((3, 4, 5), [1, 0, 2], [3, 4, 5], [1, 3, 2]),
                                  ((4, 5), [2, 3], [2, 5], [1, 1]), ((7,), [1], [7], [4]),
                                  ((4, 4), [0, 0], [4, 4], [1, 1])]:
        x = fam.normal(xs)
        out = x[tuple(slice(a, b, c) for a, b, c in zip(start, stop, step))]
        fam.add(f"slice_{sh(xs)}_{'_'.join(f'{a}-{b}-{c}' for a, b, c in zip(start, stop, step))}",
                "slice", [x], out, start=start, stop=stop, step=step)
    # concat
    for shapes, axis in [([(2, 3), (4, 3)], 0), ([(2, 3), (2, 1), (2, 2)], 1), ([(2, 3), (2, 2)], -1),
                         ([(2, 1, 3), (2, 2, 3), (2, 3, 3)], 1), ([(0, 3), (2, 3)], 0),
                         ([(3,), (2,)], 0)]:
        xs = [fam.normal(s) for s in shapes]
        fam.add(f"concat_{'_'.join(sh(s) for s in shapes)}_ax{str(axis).replace('-', 'm')}",
                "concat", xs, np.concatenate(xs, axis=axis), axis=axis)
    xs = [fam.ints((2, 2), -9, 9), fam.ints((1, 2), -9, 9)]
    fam.add("concat_i32_2x2_1x2_ax0", "concat", xs, np.concatenate(xs, axis=0), axis=0)
    # stack
    for shape, n, axis in [((3,), 2, 0), ((3,), 3, 1), ((2, 3), 2, 0), ((2, 3), 3, 1),
                           ((2, 3), 2, 2), ((2, 3), 2, -1), ((), 3, 0)]:
        xs = [fam.normal(shape) for _ in range(n)]
        fam.add(f"stack_{n}x{sh(shape)}_ax{str(axis).replace('-', 'm')}", "stack", xs,
                np.stack(xs, axis=axis), axis=axis)
    # split
    for xs, sizes, axis in [((6, 2), [2, 4], 0), ((3, 7), [1, 3, 3], 1), ((2, 6, 2), [3, 3], 1),
                            ((5,), [5], 0), ((4, 3), [1, 0, 2], -1)]:
        x = fam.normal(xs)
        outs = np.split(x, np.cumsum(sizes)[:-1], axis=axis)
        assert [o.shape[axis] for o in outs] == sizes
        fam.add(f"split_{sh(xs)}_{'_'.join(map(str, sizes))}_ax{str(axis).replace('-', 'm')}",
                "split", [x], outs, sizes=sizes, axis=axis)
    # pad (constant)
    for xs, pw, c in [((3,), [[1, 2]], 0.0), ((2, 3), [[1, 0], [2, 1]], 0.0),
                      ((2, 3), [[0, 0], [0, 3]], -1.5), ((2, 2, 2), [[1, 1], [0, 0], [2, 0]], 0.5),
                      ((2, 3), [[0, 0], [0, 0]], 0.0), ((0, 2), [[1, 1], [0, 0]], 2.0)]:
        x = fam.normal(xs)
        fam.add(f"pad_{sh(xs)}_{'_'.join(f'{a}-{b}' for a, b in pw)}_c{c}".replace(".", "p").replace("-1p5", "m1p5"),
                "pad", [x], np.pad(x, pw, mode="constant", constant_values=c),
                pad_width=pw, constant=c)
    x = fam.ints((2, 2), -9, 9)
    fam.add("pad_i32_2x2_1-1_0-2_c7", "pad", [x], np.pad(x, [[1, 1], [0, 2]], constant_values=7),
            pad_width=[[1, 1], [0, 2]], constant=7)
    # flip
    for xs, axes in [((5,), [0]), ((3, 4), [0]), ((3, 4), [1]), ((3, 4), [0, 1]),
                     ((2, 3, 4), [0, 2]), ((2, 3, 4), [-1])]:
        x = fam.normal(xs)
        fam.add(f"flip_{sh(xs)}_{'_'.join(str(a).replace('-', 'm') for a in axes)}", "flip", [x],
                np.flip(x, axis=tuple(axes)), axes=axes)
    # squeeze
    for xs, axes in [((1, 3), [0]), ((3, 1), [1]), ((1, 3, 1), [0, 2]), ((2, 1, 3), [-2]),
                     ((1,), [0]), ((1, 1, 2), [1])]:
        x = fam.normal(xs)
        fam.add(f"squeeze_{sh(xs)}_{'_'.join(str(a).replace('-', 'm') for a in axes)}", "squeeze", [x],
                np.squeeze(x, axis=tuple(axes)), axes=axes)
    # expand_dims
    for xs, axis in [((3,), 0), ((3,), 1), ((3,), -1), ((2, 3), 1), ((2, 3), -2), ((), 0)]:
        x = fam.normal(xs)
        fam.add(f"expand_dims_{sh(xs)}_ax{str(axis).replace('-', 'm')}", "expand_dims", [x],
                np.expand_dims(x, axis), axis=axis)
    return fam


# --------------------------------------------------------------------------
# misc: where, cast, cumsum, sort, top_k
# --------------------------------------------------------------------------
def gen_misc():
    fam = Family("misc", 1009)
    # where
    for cs, as_, bs in [((3, 4), (3, 4), (3, 4)), ((3, 1), (1, 4), (3, 4)), ((4,), (3, 4), ()),
                        ((2, 1, 3), (4, 1), (3,)), ((), (2, 2), (2, 2))]:
        c, a, b = fam.bools(cs), fam.normal(as_), fam.normal(bs)
        tag = "_".join("x".join(map(str, s)) if s else "scalar" for s in (cs, as_, bs))
        fam.add(f"where_{tag}", "where", [c, a, b], np.where(c, a, b))
    c, a, b = fam.bools((2, 3)), fam.ints((2, 3), -9, 9), fam.ints((2, 3), -9, 9)
    fam.add("where_i32_2x3", "where", [c, a, b], np.where(c, a, b))

    # cast
    def cast_case(name, x, dtype, ref):
        fam.add(name, "cast", [x], ref, dtype=dtype)

    x = (fam.normal((3, 4)) * 20).astype(F32)
    cast_case("cast_f32_to_f64", x, "float64", x.astype(F64))
    cast_case("cast_f32_to_i32_trunc", x, "int32", x.astype(I32))  # truncates toward zero
    cast_case("cast_f32_to_i64_trunc", x, "int64", x.astype(I64))
    xb = x.copy()
    xb[0, :3] = 0.0
    cast_case("cast_f32_to_bool", xb, "bool", xb.astype(BOOL))
    xu = fam.uniform((2, 5), 0.0, 255.9)
    cast_case("cast_f32_to_u8_trunc", xu, "uint8", xu.astype(U8))
    xd = fam.normal((2, 4), F64) * 3
    cast_case("cast_f64_to_f32", xd, "float32", xd.astype(F32))
    xi = fam.ints((3, 3), -1000, 1000)
    cast_case("cast_i32_to_f32", xi, "float32", xi.astype(F32))
    cast_case("cast_i32_to_i64", xi, "int64", xi.astype(I64))
    xz = np.where(fam.bools((3, 3)), xi, 0).astype(I32)
    cast_case("cast_i32_to_bool", xz, "bool", xz.astype(BOOL))
    xl = fam.ints((2, 3), -100000, 100000, I64)
    cast_case("cast_i64_to_i32", xl, "int32", xl.astype(I32))
    cast_case("cast_i64_to_f64", xl, "float64", xl.astype(F64))
    xu8 = fam.ints((2, 4), 0, 256, U8)
    cast_case("cast_u8_to_f32", xu8, "float32", xu8.astype(F32))
    cast_case("cast_u8_to_i32", xu8, "int32", xu8.astype(I32))
    xbool = fam.bools((2, 4))
    cast_case("cast_bool_to_f32", xbool, "float32", xbool.astype(F32))
    cast_case("cast_bool_to_i32", xbool, "int32", xbool.astype(I32))
    # half precision (round-to-nearest-even); values within range
    xh = fam.normal((3, 4)) * 10
    cast_case("cast_f32_to_f16", xh, "float16", xh.astype(F16))
    cast_case("cast_f32_to_bf16", xh, "bfloat16", xh.astype(BF16))
    assert np.array_equal(to_np(ops.cast(xh, "bfloat16")).astype(F32), xh.astype(BF16).astype(F32))
    assert np.array_equal(to_np(ops.cast(xh, "float16")).astype(F32), xh.astype(F16).astype(F32))
    h = xh.astype(F16)
    cast_case("cast_f16_to_f32", h, "float32", h.astype(F32))
    b = xh.astype(BF16)
    cast_case("cast_bf16_to_f32", b, "float32", b.astype(F32))
    cast_case("cast_bf16_to_f16", b, "float16", b.astype(F32).astype(F16))

    # cumsum
    for xs, axis in [((6,), 0), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), 1), ((0, 3), 1)]:
        x = fam.normal(xs)
        fam.add(f"cumsum_{'x'.join(map(str, xs))}_ax{str(axis).replace('-', 'm')}", "cumsum", [x],
                f64_then_f32(lambda v: np.cumsum(v, axis=axis), x), axis=axis)
    x = fam.ints((3, 4), -50, 50)
    fam.add("cumsum_i32_3x4_ax1", "cumsum", [x], np.cumsum(x, axis=1).astype(I32), axis=1)
    x = fam.normal((2, 5), F64)
    fam.add("cumsum_f64_2x5_ax1", "cumsum", [x], np.cumsum(x, axis=1), axis=1)

    # sort (stable; descending = stable sort of the negation)
    def sort_ref(x, axis, desc):
        key = -x if desc else x
        idx = np.argsort(key, axis=axis, kind="stable")
        return np.take_along_axis(x, idx, axis=axis), idx.astype(I64)

    for xs, axis, desc in [((7,), 0, False), ((7,), 0, True), ((3, 5), 1, False), ((3, 5), 1, True),
                           ((3, 5), 0, False), ((3, 5), -1, True), ((2, 3, 4), 1, True), ((2, 3, 4), -1, False)]:
        x = fam.distinct(xs)
        v, i = sort_ref(x, axis, desc)
        assert np.array_equal(to_np(ops.sort(x, axis=axis)), np.sort(x, axis=axis))
        fam.add(f"sort_{'x'.join(map(str, xs))}_ax{str(axis).replace('-', 'm')}_{'desc' if desc else 'asc'}",
                "sort", [x], [v, i], axis=axis, descending=desc)
    xt = fam.ints((3, 6), 0, 3).astype(F32)  # many ties
    for desc in (False, True):
        v, i = sort_ref(xt, 1, desc)
        fam.add(f"sort_ties_3x6_ax1_{'desc' if desc else 'asc'}", "sort", [xt], [v, i],
                axis=1, descending=desc)
    xi = fam.ints((2, 6), -20, 20)
    v, i = sort_ref(xi, 1, True)
    fam.add("sort_i32_ties_2x6_ax1_desc", "sort", [xi], [v, i], axis=1, descending=True)

    # top_k along last axis: descending values, ties -> lower index first
    def topk_ref(x, k):
        idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
        return np.take_along_axis(x, idx, axis=-1), idx.astype(I64)

    for xs, k in [((8,), 3), ((3, 6), 2), ((3, 6), 6), ((2, 3, 5), 1), ((4,), 0)]:
        x = fam.distinct(xs)
        v, i = topk_ref(x, k)
        if k > 0:
            kv, ki = jax.lax.top_k(jnp.asarray(x), k)
            assert np.array_equal(to_np(kv), v) and np.array_equal(to_np(ki), i)
        fam.add(f"top_k_{'x'.join(map(str, xs))}_k{k}", "top_k", [x], [v, i], k=k)
    xt = fam.ints((3, 7), 0, 3).astype(F32)
    v, i = topk_ref(xt, 4)
    kv, ki = jax.lax.top_k(jnp.asarray(xt), 4)
    assert np.array_equal(to_np(kv), v) and np.array_equal(to_np(ki), i)  # JAX agrees on ties
    fam.add("top_k_ties_3x7_k4", "top_k", [xt], [v, i], k=4)
    xi = fam.ints((2, 6), -5, 5)
    v, i = topk_ref(xi, 3)
    fam.add("top_k_i32_2x6_k3", "top_k", [xi], [v, i], k=3)
    return fam


# --------------------------------------------------------------------------
# composite
# --------------------------------------------------------------------------
def gen_composite():
    # Keras' default JAX configuration (x64 disabled): the outputs are exactly
    # what a stock Keras install returns for these float32 inputs.
    with jax.enable_x64(False):
        return _gen_composite()


def _gen_composite():
    fam = Family("composite", 1010)
    KA = keras.activations

    def k32(fn, *xs):
        """Keras (JAX backend) in float32, exactly what Keras itself returns."""
        out = to_np(fn(*xs))
        assert out.dtype == np.dtype(F32), out.dtype
        return out

    def check64(fn, out, *xs, rtol=1e-5, atol=1e-6):
        """Cross-check the f32 Keras output against the same op in float64."""
        with jax.enable_x64(True):
            ref = to_np(fn(*[np.asarray(x, F64) if np.asarray(x).dtype == F32 else x for x in xs]))
        assert ref.dtype == np.dtype(F64)
        assert np.allclose(out, ref, rtol=rtol, atol=atol), (np.abs(out - ref).max())

    for xs, axis in [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -1)]:
        x = fam.normal(xs, scale=2.0)
        for op in ("softmax", "log_softmax"):
            fn = lambda v, op=op, axis=axis: getattr(ops, op)(v, axis=axis)  # noqa: E731
            out = k32(fn, x)
            check64(fn, out, x)
            fam.add(f"{op}_{'x'.join(map(str, xs))}_ax{str(axis).replace('-', 'm')}", op, [x], out, axis=axis)
    x = (fam.normal((2, 5)) * 20 + 100).astype(F32)  # large logits: needs max-shift
    for op in ("softmax", "log_softmax"):
        fn = lambda v, op=op: getattr(ops, op)(v, axis=-1)  # noqa: E731
        out = k32(fn, x)
        check64(fn, out, x, rtol=1e-5, atol=1e-5)
        fam.add(f"{op}_large_2x5_axm1", op, [x], out, axis=-1)

    acts = [
        ("gelu", {"approximate": False}, lambda v: ops.gelu(v, approximate=False)),
        ("gelu", {"approximate": True}, lambda v: ops.gelu(v, approximate=True)),
        ("softplus", {}, ops.softplus),
        ("softsign", {}, ops.softsign),
        ("silu", {}, ops.silu),
        ("elu", {"alpha": 1.0}, lambda v: ops.elu(v, alpha=1.0)),
        ("selu", {}, ops.selu),
        ("leaky_relu", {"negative_slope": 0.2}, lambda v: ops.leaky_relu(v, negative_slope=0.2)),
        ("relu6", {}, ops.relu6),
        ("hard_sigmoid", {}, ops.hard_sigmoid),
        ("hard_silu", {}, ops.hard_silu),
        ("log_sigmoid", {}, ops.log_sigmoid),
    ]
    kinks = {"relu6": (0.0, 6.0), "hard_sigmoid": (-3.0, 3.0), "hard_silu": (-3.0, 3.0),
             "leaky_relu": (0.0,), "elu": (0.0,), "selu": (0.0,)}
    for op, args, fn in acts:
        x = fam.uniform((3, 8), -8.0, 8.0)
        for p in kinks.get(op, ()):
            close = np.abs(x - p) < 0.02
            x[close] = p + 0.05
        out = k32(fn, x)
        check64(fn, out, x)
        tag = op + ("_approx" if args.get("approximate") else "_exact" if op == "gelu" else "")
        fam.add(f"{tag}_3x8", op, [x], out, **args)
        # large-magnitude inputs (overflow paths of softplus / log_sigmoid etc.)
        xl = np.array([-90.0, -40.0, -20.0, 20.0, 40.0, 90.0], F32)
        outl = k32(fn, xl)
        check64(fn, outl, xl)
        fam.add(f"{tag}_extreme_6", op, [xl], outl, **args)
    # Keras' own activations module must agree with ops for these.
    xa = fam.uniform((2, 5), -5, 5)
    assert np.allclose(to_np(KA.hard_sigmoid(xa)), to_np(ops.hard_sigmoid(xa)))
    assert np.allclose(to_np(KA.gelu(xa)), to_np(ops.gelu(xa, approximate=False)))

    # layer_norm (keras.ops.layer_normalization == keras.layers.LayerNormalization)
    for xs, axes in [((2, 5), [-1]), ((3, 2, 4), [-1]), ((2, 3, 4), [1, 2]), ((4, 6), [1])]:
        x = (fam.normal(xs) * 2 + 0.5).astype(F32)
        pshape = tuple(xs[a] for a in axes)
        g, b = fam.normal(pshape) * 0.5 + 1.0, fam.normal(pshape) * 0.5
        g, b = g.astype(F32), b.astype(F32)
        layer = keras.layers.LayerNormalization(axis=axes, epsilon=1e-3)
        layer.build(xs)
        layer.gamma.assign(g)
        layer.beta.assign(b)
        out = k32(layer, x)
        out2 = k32(lambda v: ops.layer_normalization(v, g, b, axis=axes, epsilon=1e-3), x)
        assert np.allclose(out, out2, rtol=1e-6, atol=1e-6)
        # float64 cross-check from the textbook formula
        xd = x.astype(F64)
        m = xd.mean(axis=tuple(axes), keepdims=True)
        v = xd.var(axis=tuple(axes), keepdims=True)
        bshape = [1] * len(xs)
        for a in axes:
            bshape[a] = xs[a]
        ref = (xd - m) / np.sqrt(v + 1e-3) * g.reshape(bshape) + b.reshape(bshape)
        assert np.allclose(out, ref, rtol=1e-5, atol=1e-5)
        fam.add(f"layer_norm_{'x'.join(map(str, xs))}_ax{'_'.join(str(a).replace('-', 'm') for a in axes)}",
                "layer_norm", [x, g, b], out, axes=axes, epsilon=1e-3)

    # batch_norm_train: batch statistics over all but the last axis, biased variance
    for xs in [(4, 3), (2, 3, 3, 2), (1, 4, 4, 3)]:
        x = (fam.normal(xs) * 1.5 + 0.3).astype(F32)
        c = xs[-1]
        g = (fam.normal((c,)) * 0.5 + 1.0).astype(F32)
        b = (fam.normal((c,)) * 0.5).astype(F32)
        axes = list(range(len(xs) - 1))
        mean, var = ops.moments(x, axes=axes)
        y = ops.batch_normalization(x, mean, var, axis=-1, offset=b, scale=g, epsilon=1e-3)
        y, mean, var = to_np(y), to_np(mean), to_np(var)
        # Same thing through the layer in training mode
        layer = keras.layers.BatchNormalization(epsilon=1e-3)
        layer.build(xs)
        layer.gamma.assign(g)
        layer.beta.assign(b)
        assert np.allclose(to_np(layer(x, training=True)), y, rtol=1e-5, atol=1e-5)
        xd = x.astype(F64)
        assert np.allclose(var, xd.var(axis=tuple(axes)), rtol=1e-5, atol=1e-6)
        fam.add(f"batch_norm_train_{'x'.join(map(str, xs))}", "batch_norm_train",
                [x, g, b], [y, mean, var], epsilon=1e-3)

    # losses (keras.losses.*, JAX backend, float32 -- Keras' own clipping)
    def softmax_rows(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return (e / e.sum(-1, keepdims=True)).astype(F32)

    for n, c in [(4, 3), (3, 5)]:
        labels = fam.ints((n,), 0, c, I64)
        yt = np.eye(c, dtype=F32)[labels]
        logits = fam.normal((n, c), scale=2.0)
        probs = softmax_rows(logits.astype(F64))
        for fl, yp in [(True, logits), (False, probs)]:
            tag = "logits" if fl else "probs"
            out = k32(lambda a, p, fl=fl: keras.losses.categorical_crossentropy(a, p, from_logits=fl), yt, yp)
            fam.add(f"categorical_crossentropy_{n}x{c}_{tag}", "categorical_crossentropy",
                    [yt, yp], out, from_logits=fl)
            out = k32(lambda a, p, fl=fl: keras.losses.sparse_categorical_crossentropy(a, p, from_logits=fl),
                      labels, yp)
            fam.add(f"sparse_categorical_crossentropy_{n}x{c}_{tag}", "sparse_categorical_crossentropy",
                    [labels, yp], out, from_logits=fl)
    # clipping / renormalisation corner cases (probabilities)
    yt = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]], F32)
    yp = np.array([[0.0, 1.0, 0.0], [0.0, 0.5, 0.5], [0.2, 0.2, 0.2]], F32)  # exact 0/1; unnormalised row
    out = k32(lambda a, p: keras.losses.categorical_crossentropy(a, p, from_logits=False), yt, yp)
    fam.add("categorical_crossentropy_clip_3x3", "categorical_crossentropy", [yt, yp], out, from_logits=False)
    lab = np.array([1, 0, 2], I64)
    out = k32(lambda a, p: keras.losses.sparse_categorical_crossentropy(a, p, from_logits=False), lab, yp)
    fam.add("sparse_categorical_crossentropy_clip_3x3", "sparse_categorical_crossentropy", [lab, yp], out,
            from_logits=False)
    # soft labels
    yt = softmax_rows(fam.normal((3, 4), F64))
    logits = fam.normal((3, 4))
    out = k32(lambda a, p: keras.losses.categorical_crossentropy(a, p, from_logits=True), yt, logits)
    fam.add("categorical_crossentropy_soft_3x4_logits", "categorical_crossentropy", [yt, logits], out,
            from_logits=True)
    # binary crossentropy (mean over the last axis)
    for shape in [(4, 3), (5,), (2, 3, 2)]:
        yt = fam.bools(shape).astype(F32)
        logits = fam.normal(shape, scale=2.0)
        probs = scipy.special.expit(logits.astype(F64)).astype(F32)
        for fl, yp in [(True, logits), (False, probs)]:
            out = k32(lambda a, p, fl=fl: keras.losses.binary_crossentropy(a, p, from_logits=fl), yt, yp)
            fam.add(f"binary_crossentropy_{'x'.join(map(str, shape))}_{'logits' if fl else 'probs'}",
                    "binary_crossentropy", [yt, yp], out, from_logits=fl)
    yt = np.array([[0, 1, 1, 0], [1, 0, 0.25, 0.75]], F32)
    yp = np.array([[0.0, 1.0, 0.0, 1.0], [1.0, 0.5, 0.3, 0.9]], F32)
    out = k32(lambda a, p: keras.losses.binary_crossentropy(a, p, from_logits=False), yt, yp)
    fam.add("binary_crossentropy_clip_2x4", "binary_crossentropy", [yt, yp], out, from_logits=False)
    yp = np.array([[-50.0, 50.0, 30.0, -30.0], [3.0, -2.0, 0.0, 1.0]], F32)
    out = k32(lambda a, p: keras.losses.binary_crossentropy(a, p, from_logits=True), yt, yp)
    fam.add("binary_crossentropy_extreme_logits_2x4", "binary_crossentropy", [yt, yp], out, from_logits=True)

    # moments
    for xs, axes in [((6,), [0]), ((3, 4), [0]), ((3, 4), [1]), ((3, 4), [0, 1]), ((2, 3, 4), [0, 1]),
                     ((2, 3, 4), [-1])]:
        x = (fam.normal(xs) + 1.0).astype(F32)
        m, v = ops.moments(x, axes=axes, keepdims=False)
        m, v = to_np(m), to_np(v)
        assert m.dtype == np.dtype(F32)
        assert np.allclose(v, x.astype(F64).var(axis=tuple(axes)), rtol=1e-5, atol=1e-6)
        fam.add(f"moments_{'x'.join(map(str, xs))}_ax{'_'.join(str(a).replace('-', 'm') for a in axes)}",
                "moments", [x], [m, v], axes=axes, keepdims=False)
    return fam


GENERATORS = [gen_unary, gen_binary, gen_reduce, gen_matmul, gen_conv, gen_pool,
              gen_index, gen_movement, gen_misc, gen_composite]


def verify(path, fam):
    loaded = load_file(path)
    assert set(loaded) == set(fam.tensors), path
    for k, v in fam.tensors.items():
        w = loaded[k]
        assert w.dtype == v.dtype and w.shape == v.shape, k
        assert w.tobytes() == v.tobytes(), k
    with safe_open(path, framework="numpy") as f:
        meta = f.metadata()
    assert meta == fam.meta, path
    for case, s in meta.items():
        d = json.loads(s)
        assert set(d) == {"op", "args"}, case
        assert f"{case}/out" in loaded or f"{case}/out0" in loaded, case


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    total = 0
    print(f"numpy {np.__version__}, scipy {scipy.__version__}, jax {jax.__version__}, "
          f"keras {keras.__version__} (backend {keras.backend.backend()})")
    print(f"{'file':28s} {'cases':>6s} {'tensors':>8s} {'bytes':>9s}  sha256[:16]")
    for gen in GENERATORS:
        fam = gen()
        path = fam.write(args.out)
        verify(path, fam)
        size = os.path.getsize(path)
        total += size
        with open(path, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()[:16]
        print(f"{os.path.basename(path):28s} {len(fam.meta):6d} {len(fam.tensors):8d} {size:9d}  {digest}")
    print(f"{'total':28s} {'':6s} {'':8s} {total:9d}")
    assert total < 2 * 1024 * 1024, "reference data exceeds the 2 MB budget"


if __name__ == "__main__":
    main()
