#!/usr/bin/env python3
"""Masking reference values for keras-rs, computed by Keras 3 (JAX backend).

Each case is a small ``keras.Sequential`` model whose first layer makes a mask
(``Embedding(mask_zero=True)`` on token ids, or ``Masking`` on float steps) followed by layers
that use or pass the mask: SimpleRNN / GRU / LSTM (``return_sequences`` both ways,
``go_backwards``), ``Bidirectional``, ``GlobalAveragePooling1D``, ``Dense``. The inputs have
trailing padding, leading padding, padding in the middle and none. Functional cases add
``MultiHeadAttention`` and ``Attention`` (self-attention on the embedded tokens, masks from
the inputs; a gated causal one, whose masked query steps show in the output, and one on rank-4
embeddings with ``attention_axes=(2,)``), ``Add`` and ``Concatenate`` of masked tensors. Weights are overwritten
with seeded normal values; the model runs with ``training=False``; JAX gives the gradients of
``sum(y * cotangent)`` with respect to every trainable weight. The script checks that the
traced (``stateless_call``) output equals the eager one, so the mask really flows under JAX
tracing.

Loss cases also record ``model.evaluate`` (mse) on a sequence output that carries the mask,
which Keras weights by the mask (the mean over valid steps); the script checks that value
against numpy.

One more fixture: a ``.keras`` file saved by Keras with ``Embedding(mask_zero=True)`` + LSTM
+ Dense, and Keras's predictions for padded inputs.

Usage:
    KERAS_BACKEND=jax /work/refenv/bin/python scripts/gen_masking_reference.py [--out-dir DIR]

Writes into ``crates/keras/tests/data/``:

``masking.safetensors`` (keys sorted, deterministic):
  <case>/input            the input (int32 token ids or float32 steps)
  <case>/weight/<i>       weight i in Keras's ``model.weights`` order
  <case>/output           y = model(input, training=False)
  <case>/mask             y's Keras mask as int32 0/1 (absent when y has none)
  <case>/cotangent        c
  <case>/grad_weight/<i>  d sum(y * c) / d trainable weight i (``trainable_weights`` order)
  <case>/y_true           targets of a loss case
  mask_lstm/x, mask_lstm/y   inputs and Keras's predictions for masking/mask_lstm.keras

``masking.json``: {"cases": [{"name", "functional" (a functional ``keras.Model`` rather than a
  ``Sequential``), "config" (``model.get_config()``), "has_mask",
  "n_weights", "n_trainable", "output_shape", "loss" (only loss cases: {"name", "value",
  "mae"}: Keras's ``evaluate`` loss and its ``mae`` metric, both weighted by the mask)}],
  "keras_version", "jax_version"}

``masking/mask_lstm.keras``: the saved model.
"""

import json

from refutil import (F32, fill_weights, out_dir_arg, put, rng_for,  # sets up JAX first
                     save_and_reload, write)

import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402
from keras.src.backend import get_keras_mask  # noqa: E402

VOCAB = 10
# Trailing padding, leading padding, none, and padding in the middle (every row keeps a
# valid step, so masked means stay finite).
TOKENS = np.array(
    [[3, 1, 4, 1, 0, 0],
     [0, 0, 2, 7, 1, 8],
     [5, 9, 2, 6, 5, 3],
     [0, 6, 0, 0, 2, 0]],
    dtype=np.int32,
)


def float_steps():
    """(4, 6, 3) float steps with the same padding pattern as TOKENS, padded steps all 0."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(4, 6, 3)).astype(F32)
    x[TOKENS == 0] = 0.0
    return x


def emb(**kw):
    return layers.Embedding(VOCAB, 4, mask_zero=True, **kw)


# (name, input kind, layer factory, loss): "tokens" feeds TOKENS, "steps" float_steps().
CASES = [
    ("emb_simple_rnn_seq", "tokens", lambda: [emb(), layers.SimpleRNN(3, return_sequences=True)], None),
    ("emb_simple_rnn_last", "tokens", lambda: [emb(), layers.SimpleRNN(3)], None),
    ("emb_simple_rnn_back_seq", "tokens",
     lambda: [emb(), layers.SimpleRNN(3, return_sequences=True, go_backwards=True)], None),
    ("emb_gru_seq", "tokens", lambda: [emb(), layers.GRU(3, return_sequences=True)], None),
    ("emb_gru_last", "tokens", lambda: [emb(), layers.GRU(3)], None),
    ("emb_gru_v1_back_last", "tokens",
     lambda: [emb(), layers.GRU(3, reset_after=False, go_backwards=True)], None),
    ("emb_lstm_seq", "tokens", lambda: [emb(), layers.LSTM(3, return_sequences=True)], None),
    ("emb_lstm_last", "tokens", lambda: [emb(), layers.LSTM(3)], None),
    ("emb_lstm_back_seq", "tokens",
     lambda: [emb(), layers.LSTM(3, return_sequences=True, go_backwards=True)], None),
    ("emb_lstm_back_last", "tokens", lambda: [emb(), layers.LSTM(3, go_backwards=True)], None),
    ("emb_lstm_zero_output_seq", "tokens",
     lambda: [emb(), layers.LSTM(3, return_sequences=True, zero_output_for_mask=True)], None),
    ("emb_stacked_lstm", "tokens",
     lambda: [emb(), layers.LSTM(3, return_sequences=True), layers.LSTM(2)], None),
    ("emb_bilstm_seq", "tokens",
     lambda: [emb(), layers.Bidirectional(layers.LSTM(3, return_sequences=True))], None),
    ("emb_bilstm_last", "tokens", lambda: [emb(), layers.Bidirectional(layers.LSTM(3))], None),
    ("emb_bigru_sum_seq", "tokens",
     lambda: [emb(), layers.Bidirectional(layers.GRU(2, return_sequences=True), merge_mode="sum")],
     None),
    ("masking_lstm_seq_dense", "steps",
     lambda: [layers.Masking(0.0), layers.LSTM(3, return_sequences=True), layers.Dense(2)], None),
    ("masking_gru_last", "steps", lambda: [layers.Masking(0.0), layers.GRU(3)], None),
    ("emb_gap_dense", "tokens",
     lambda: [emb(), layers.GlobalAveragePooling1D(), layers.Dense(2)], None),
    ("emb_dense_gap", "tokens",
     lambda: [emb(), layers.Dense(3, activation="tanh"), layers.LayerNormalization(),
              layers.GlobalAveragePooling1D()], None),
    ("emb_lstm_seq_dense_mse", "tokens",
     lambda: [emb(), layers.LSTM(3, return_sequences=True), layers.Dense(1)], "mse"),
]


def mha_graph(inp):
    e = emb()(inp)
    a = layers.MultiHeadAttention(num_heads=2, key_dim=2)(e, e)
    return layers.GlobalAveragePooling1D()(layers.Add()([e, a]))


def concat_graph(inp):
    e = emb()(inp)
    fwd = layers.LSTM(2, return_sequences=True)(e)
    return layers.GRU(2)(layers.Concatenate()([e, fwd]))


def attention_graph(inp):
    e = emb()(inp)
    a = layers.Attention(use_scale=True)([e, e])
    return layers.LSTM(2, return_sequences=True)(a)


def mha_gate_causal_graph(inp):
    # Keras merges the query's and value's masks with the causal mask; a masked query step
    # attends nowhere (its weights are 0), which shows in the output at that step.
    e = emb()(inp)
    return layers.MultiHeadAttention(num_heads=2, key_dim=2, use_gate=True)(
        e, e, use_causal_mask=True)


def mha_axes2_graph(inp):
    # Rank-4 embeddings (batch, 2, 3, 4) attending over axis 2: Keras's (batch, 2, 3, 1) query
    # mask and (batch, 2, 1, 3) value mask broadcast onto the weights (batch, 2, heads, 3, 3).
    e = emb()(inp)
    return layers.MultiHeadAttention(num_heads=2, key_dim=2, attention_axes=(2,))(e, e)


# Functional cases: (name, input kind, graph builder from the input, loss); "tokens3" feeds
# TOKENS as (4, 2, 3).
FUNCTIONAL = [
    ("emb_mha_add_gap", "tokens", mha_graph, None),
    ("emb_mha_gate_causal_seq", "tokens", mha_gate_causal_graph, None),
    ("emb3_mha_axes2_seq", "tokens3", mha_axes2_graph, None),
    ("emb_concat_gru", "tokens", concat_graph, None),
    ("emb_attention_lstm_seq", "tokens", attention_graph, None),
]

def run_case(name, kind, make, loss, functional=False):
    keras.utils.clear_session()
    rng = rng_for(name)
    x = {"tokens": TOKENS, "tokens3": TOKENS.reshape(4, 2, 3)}.get(kind)
    x = float_steps() if x is None else x
    inp = keras.Input(x.shape[1:], dtype="int32" if kind.startswith("tokens") else "float32")
    if functional:
        model = keras.Model(inp, make(inp), name=name)
    else:
        model = keras.Sequential([inp, *make()], name=name)
    fill_weights(model, rng)

    y_eager = model(x, training=False)
    mask = get_keras_mask(y_eager)
    y_eager = np.asarray(y_eager)

    tv = [jnp.asarray(v.value) for v in model.trainable_variables]
    ntv = [jnp.asarray(v.value) for v in model.non_trainable_variables]
    ct = rng.normal(size=y_eager.shape).astype(F32)

    def forward(tvars):
        y, _ = model.stateless_call(tvars, ntv, jnp.asarray(x), training=False)
        return y

    y = np.asarray(forward(tv))
    assert np.allclose(y, y_eager, rtol=1e-6, atol=1e-6), f"{name}: traced != eager"
    grads = jax.grad(lambda t: jnp.sum(forward(t) * jnp.asarray(ct)))(tv)

    put(f"{name}/input", x)
    for i, w in enumerate(model.weights):
        put(f"{name}/weight/{i}", np.asarray(w.value))
    put(f"{name}/output", y)
    put(f"{name}/cotangent", ct)
    for i, g in enumerate(grads):
        put(f"{name}/grad_weight/{i}", g)
    if mask is not None:
        put(f"{name}/mask", np.asarray(mask).astype(np.int32))

    meta = {
        "name": name,
        "functional": functional,
        "config": json.loads(json.dumps(model.get_config())),
        "has_mask": mask is not None,
        "n_weights": len(model.weights),
        "n_trainable": len(model.trainable_weights),
        "output_shape": list(y.shape),
    }
    if loss is not None:
        y_true = rng.normal(size=y.shape).astype(F32)
        model.compile(optimizer="sgd", loss=loss, metrics=["mae"])
        logs = model.evaluate(x, y_true, batch_size=len(x), verbose=0, return_dict=True)
        # Keras weights the per-step loss by the output's mask: the mean over valid steps.
        m = np.asarray(mask).astype(np.float64)
        err = y.astype(np.float64) - y_true
        want = ((err ** 2).mean(axis=-1) * m).sum() / m.sum()
        assert abs(logs["loss"] - want) < 1e-5 * max(1.0, abs(want)), (name, logs, want)
        # MeanMetricWrapper metrics weigh by the mask too (per-sample means, then a mean
        # weighted by each sample's share of valid steps).
        want_mae = (np.abs(err).mean(axis=-1) * m).sum() / m.sum()
        assert abs(logs["mae"] - want_mae) < 1e-5 * max(1.0, want_mae), (name, logs, want_mae)
        put(f"{name}/y_true", y_true)
        meta["loss"] = {"name": loss, "value": float(logs["loss"]), "mae": float(logs["mae"])}
    return meta


def saved_model(out_dir):
    """A Keras-saved Embedding(mask_zero) + LSTM + Dense and its predictions on padded ids."""
    keras.utils.clear_session()
    rng = np.random.default_rng(5)
    model = keras.Sequential(
        [keras.Input((7,), dtype="int32"), layers.Embedding(20, 4, mask_zero=True),
         layers.LSTM(3), layers.Dense(2)],
        name="mask_lstm",
    )
    fill_weights(model, rng)
    x = np.array([[4, 9, 13, 0, 0, 0, 0],
                  [0, 0, 0, 0, 7, 19, 2],
                  [1, 2, 3, 4, 5, 6, 7]], dtype=np.int32)
    y = model.predict(x, verbose=0)
    put("mask_lstm/x", x)
    put("mask_lstm/y", y)
    back = save_and_reload(model, out_dir, "masking", "mask_lstm.keras")
    assert np.allclose(back.predict(x, verbose=0), y, rtol=1e-6, atol=1e-6)


def main():
    out_dir = out_dir_arg()
    meta = [run_case(*c) for c in CASES] + [run_case(*c, functional=True) for c in FUNCTIONAL]
    saved_model(out_dir)
    write(out_dir, "masking", meta, separators=(",", ":"))


if __name__ == "__main__":
    main()
