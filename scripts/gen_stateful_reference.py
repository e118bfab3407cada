#!/usr/bin/env python3
"""Stateful recurrent layer reference values for keras-rs, computed by Keras 3 (JAX backend).

Each case is a small model with a fixed batch size (``keras.Input(shape, batch_size=B)``)
holding ``stateful=True`` recurrent layers: SimpleRNN, GRU (both ``reset_after``), LSTM,
``go_backwards``, ``return_sequences`` both ways, a mask (``Masking`` on float steps with
padded steps), ``Bidirectional``, stacked layers, and a functional model with
``return_state``. Weights are overwritten with seeded normal values. The model is called
eagerly (``model(x, training=False)``, which assigns the layers' ``states``) on three
consecutive batches, then every stateful layer gets ``reset_state()``, then the model is
called on the first batch again (the script checks that this repeats the first output). After
each call the script records the outputs and every stateful layer's ``states``.

One more fixture: a ``.keras`` file saved by Keras for a stateful LSTM model after two calls.
Keras does not save the states (they are untracked variables, not in ``layer.weights``): the
reloaded model starts from zeros, which the script checks.

Usage:
    KERAS_BACKEND=jax /work/refenv/bin/python scripts/gen_stateful_reference.py [--out-dir DIR]

Writes into ``crates/keras/tests/data/``:

``stateful.safetensors`` (keys sorted, deterministic):
  <case>/weight/<i>           weight i in Keras's ``model.weights`` order
  <case>/call/<j>/input       the input of call j (j = 0, 1, 2; call 3 follows reset_state()
                              and repeats input 0)
  <case>/call/<j>/output/<k>  output k of call j
  <case>/call/<j>/state/<s>   stateful state s after call j (the layers in model order, each
                              layer's ``states`` in order: h, or h and c; Bidirectional:
                              forward then backward)
  stateful_lstm/x, stateful_lstm/y  input and Keras's output for stateful/stateful_lstm.keras
                              (first call after loading)

``stateful.json``: {"cases": [{"name", "functional", "config" (``model.get_config()``),
  "n_weights", "n_calls", "reset_before" (the call that follows ``reset_state()``),
  "n_outputs", "n_states"}], "keras_version", "jax_version"}

``stateful/stateful_lstm.keras``: the saved model.
"""

import json

from refutil import (F32, fill_weights, out_dir_arg, put, rng_for,  # sets up JAX first
                     save_and_reload, write)

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402
B, T, F = 3, 4, 2
N_CALLS = 3


def batches(name, masked):
    """N_CALLS (B, T, F) float batches; with `masked`, some steps are all zeros (leading,
    trailing and inner padding, and one batch row fully padded)."""
    rng = rng_for("x" + name)
    xs = [rng.normal(size=(B, T, F)).astype(F32) for _ in range(N_CALLS)]
    if masked:
        xs[0][0, 2:] = 0.0
        xs[0][1, :1] = 0.0
        xs[1][2, 1:3] = 0.0
        xs[2][1, :] = 0.0
    return xs


def stateful(cls, **kw):
    return cls(3, stateful=True, **kw)


# (name, masked, layer factory).
CASES = [
    ("simple_rnn_seq", False, lambda: [stateful(layers.SimpleRNN, return_sequences=True)]),
    ("simple_rnn_back_last", False, lambda: [stateful(layers.SimpleRNN, go_backwards=True)]),
    ("gru_last", False, lambda: [stateful(layers.GRU)]),
    ("gru_v1_back_seq", False,
     lambda: [stateful(layers.GRU, reset_after=False, go_backwards=True, return_sequences=True)]),
    ("lstm_last", False, lambda: [stateful(layers.LSTM)]),
    ("lstm_back_seq", False,
     lambda: [stateful(layers.LSTM, go_backwards=True, return_sequences=True)]),
    ("masking_lstm_seq", True,
     lambda: [layers.Masking(0.0), stateful(layers.LSTM, return_sequences=True)]),
    ("masking_gru_last", True, lambda: [layers.Masking(0.0), stateful(layers.GRU)]),
    ("masking_simple_rnn_back_seq", True,
     lambda: [layers.Masking(0.0),
              stateful(layers.SimpleRNN, go_backwards=True, return_sequences=True)]),
    ("stacked_lstm_gru", False,
     lambda: [stateful(layers.LSTM, return_sequences=True), layers.GRU(2, stateful=True)]),
    ("bilstm_seq", False,
     lambda: [layers.Bidirectional(stateful(layers.LSTM, return_sequences=True))]),
    ("masking_bigru_last", True,
     lambda: [layers.Masking(0.0), layers.Bidirectional(stateful(layers.GRU), merge_mode="sum")]),
]


def lstm_return_state_graph(inp):
    y, h, c = stateful(layers.LSTM, return_state=True, return_sequences=True)(inp)
    return [y, h, c]


def gru_return_state_graph(inp):
    y, h = stateful(layers.GRU, return_state=True, go_backwards=True)(inp)
    return [y, h]


FUNCTIONAL = [
    ("lstm_return_state", False, lstm_return_state_graph),
    ("gru_back_return_state", False, gru_return_state_graph),
]

def stateful_layers(model):
    return [l for l in model.layers if getattr(l, "stateful", False)]


def all_states(model):
    out = []
    for l in stateful_layers(model):
        out.extend(np.asarray(s.value) for s in l.states)
    return out


def run_case(name, masked, make, functional=False):
    keras.utils.clear_session()
    rng = rng_for(name)
    inp = keras.Input((T, F), batch_size=B)
    if functional:
        model = keras.Model(inp, make(inp), name=name)
    else:
        model = keras.Sequential([inp, *make()], name=name)
    fill_weights(model, rng)
    for i, w in enumerate(model.weights):
        put(f"{name}/weight/{i}", np.asarray(w.value))
    # The states are not weights.
    assert not any("rnn_state" in w.path for w in model.weights), name

    xs = batches(name, masked)
    calls = xs + [xs[0]]
    first = None
    for j, x in enumerate(calls):
        if j == N_CALLS:
            for l in stateful_layers(model):
                l.reset_state()
        ys = model(x, training=False)
        ys = [np.asarray(y) for y in (ys if isinstance(ys, (list, tuple)) else [ys])]
        states = all_states(model)
        if j < N_CALLS:
            put(f"{name}/call/{j}/input", x)
        for k, y in enumerate(ys):
            put(f"{name}/call/{j}/output/{k}", y)
        for s, v in enumerate(states):
            put(f"{name}/call/{j}/state/{s}", v)
        if j == 0:
            first = ys
        elif j == N_CALLS:
            for a, b in zip(ys, first):
                assert np.allclose(a, b, rtol=1e-6, atol=1e-6), f"{name}: reset did not repeat"
        else:
            assert not np.allclose(ys[0], first[0]), f"{name}: the state changed nothing"
    return {
        "name": name,
        "functional": functional,
        "config": json.loads(json.dumps(model.get_config())),
        "n_weights": len(model.weights),
        "n_calls": len(calls),
        "reset_before": N_CALLS,
        "n_outputs": len(first),
        "n_states": len(all_states(model)),
    }


def saved_model(out_dir):
    """A Keras-saved stateful LSTM + Dense, saved after two calls, and its first output after
    loading (from zero states)."""
    keras.utils.clear_session()
    rng = np.random.default_rng(8)
    model = keras.Sequential(
        [keras.Input((T, F), batch_size=B), layers.LSTM(3, stateful=True, return_sequences=True),
         layers.Dense(2)],
        name="stateful_lstm",
    )
    fill_weights(model, rng)
    x = rng.normal(size=(B, T, F)).astype(F32)
    y = np.asarray(model(x, training=False))
    model(x, training=False)
    put("stateful_lstm/x", x)
    put("stateful_lstm/y", y)
    back = save_and_reload(model, out_dir, "stateful", "stateful_lstm.keras")
    assert np.allclose(np.asarray(back(x, training=False)), y, rtol=1e-6, atol=1e-6)


def main():
    out_dir = out_dir_arg()
    meta = [run_case(*c) for c in CASES] + [run_case(*c, functional=True) for c in FUNCTIONAL]
    saved_model(out_dir)
    write(out_dir, "stateful", meta, separators=(",", ":"))


if __name__ == "__main__":
    main()
