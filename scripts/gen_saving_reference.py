#!/usr/bin/env python3
"""`.keras` files saved by real Keras 3, for keras-rs's loading tests.

Keras (JAX backend) builds, trains a little and saves five models, and records inputs and
Keras's own predictions for them:

* ``seq_cnn``: a Sequential CNN with Conv2D, BatchNormalization (trained, so its moving
  statistics are not the initial ones), MaxPooling2D, Dropout, Flatten and Dense softmax,
  compiled with Adam.
* ``functional``: two inputs, two outputs, a Dense layer shared by both branches and a skip
  connection (Add), compiled with one loss per output.
* ``lstm_text``: Embedding + LSTM + Dense, the text model of the issue.
* ``rnn_text``: Embedding + GRU (read backwards) + GRU (``reset_after=False``) + SimpleRNN
  + Dense.
* ``adam_midtrain``: a small MLP saved after a few Adam steps; the record also holds one more
  batch and Keras's weights after one more ``train_on_batch`` on it, so a loader that restores
  the optimizer state exactly reproduces that step.

Run with a Python that has Keras 3, JAX and safetensors (scripts/requirements-reference.txt):

    KERAS_BACKEND=jax python scripts/gen_saving_reference.py

Writes ``crates/keras/tests/data/saving/{name}.keras``, ``{name}.summary.txt`` (Keras's summary
of the model loaded back) and
``crates/keras/tests/data/saving/reference.safetensors`` (keys ``{name}/x0``,
``{name}/y0``, ..., ``adam_midtrain/after/{i}``).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

import keras  # noqa: E402
from keras import layers  # noqa: E402

assert keras.backend.backend() == "jax", "run with KERAS_BACKEND=jax"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "crates", "keras", "tests", "data", "saving")
rng = np.random.default_rng(7)
ref = {}


def record(name, xs, model):
    ys = model.predict(xs, verbose=0)
    ys = ys if isinstance(ys, list) else [ys]
    for i, x in enumerate(xs):
        ref[f"{name}/x{i}"] = np.ascontiguousarray(x)
    for i, y in enumerate(ys):
        ref[f"{name}/y{i}"] = np.ascontiguousarray(y.astype(np.float32))
    path = os.path.join(OUT_DIR, f"{name}.keras")
    model.save(path)
    # Keras's summary of the model as loaded back (compiled, optimizer built), as printed on an
    # 80-column terminal: the loader's summary must match it.
    lines = []
    keras.saving.load_model(path).summary(print_fn=lambda s, line_break=True: lines.append(s))
    with open(os.path.join(OUT_DIR, f"{name}.summary.txt"), "w") as f:
        f.write("\n".join(lines))


def seq_cnn():
    keras.utils.set_random_seed(1)
    m = keras.Sequential(
        [
            keras.Input((10, 10, 3)),
            layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(),
            layers.Conv2D(6, 3, activation="relu"),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(5, activation="softmax"),
        ],
        name="seq_cnn",
    )
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.random((32, 10, 10, 3), dtype=np.float32)
    y = rng.integers(0, 5, 32)
    m.fit(x, y, epochs=2, batch_size=8, verbose=0)
    record("seq_cnn", [rng.random((4, 10, 10, 3), dtype=np.float32)], m)


def functional():
    keras.utils.set_random_seed(2)
    a = keras.Input((6,), name="a")
    b = keras.Input((6,), name="b")
    shared = layers.Dense(8, activation="tanh", name="shared")
    ha = shared(a)
    hb = shared(b)
    merged = layers.Concatenate(name="concat")([ha, hb])
    h = layers.Dense(8, activation="relu", name="hidden")(merged)
    skip = layers.Add(name="skip")([h, ha])
    out_cls = layers.Dense(3, activation="softmax", name="cls")(skip)
    out_reg = layers.Dense(1, name="reg")(layers.LayerNormalization(name="norm")(skip))
    m = keras.Model([a, b], [out_cls, out_reg], name="two_in_two_out")
    m.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss=["sparse_categorical_crossentropy", "mse"],
        loss_weights=[1.0, 0.5],
    )
    xa = rng.random((16, 6), dtype=np.float32)
    xb = rng.random((16, 6), dtype=np.float32)
    m.fit([xa, xb], [rng.integers(0, 3, 16), rng.random((16, 1))], epochs=1, verbose=0)
    record(
        "functional",
        [rng.random((5, 6), dtype=np.float32), rng.random((5, 6), dtype=np.float32)],
        m,
    )


def lstm_text():
    keras.utils.set_random_seed(3)
    m = keras.Sequential(
        [
            keras.Input((12,), dtype="int32"),
            layers.Embedding(50, 8),
            layers.LSTM(6),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="lstm_text",
    )
    m.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    x = rng.integers(0, 50, (16, 12)).astype(np.int32)
    m.fit(x, rng.integers(0, 2, (16, 1)), epochs=1, verbose=0)
    record("lstm_text", [rng.integers(0, 50, (3, 12)).astype(np.int32)], m)


def rnn_text():
    keras.utils.set_random_seed(5)
    m = keras.Sequential(
        [
            keras.Input((10,), dtype="int32"),
            layers.Embedding(40, 6),
            layers.GRU(5, return_sequences=True, go_backwards=True),
            layers.GRU(4, return_sequences=True, reset_after=False),
            layers.SimpleRNN(3),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="rnn_text",
    )
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x = rng.integers(0, 40, (16, 10)).astype(np.int32)
    m.fit(x, rng.integers(0, 2, (16, 1)), epochs=1, verbose=0)
    record("rnn_text", [rng.integers(0, 40, (3, 10)).astype(np.int32)], m)


def adam_midtrain():
    keras.utils.set_random_seed(4)
    m = keras.Sequential(
        [keras.Input((5,)), layers.Dense(7, activation="relu"), layers.Dense(2)],
        name="adam_midtrain",
    )
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    for _ in range(3):
        m.train_on_batch(rng.random((8, 5), dtype=np.float32), rng.random((8, 2), dtype=np.float32))
    record("adam_midtrain", [rng.random((3, 5), dtype=np.float32)], m)
    x = rng.random((8, 5), dtype=np.float32)
    y = rng.random((8, 2), dtype=np.float32)
    ref["adam_midtrain/train_x"] = x
    ref["adam_midtrain/train_y"] = y
    m.train_on_batch(x, y)
    for i, w in enumerate(m.weights):
        ref[f"adam_midtrain/after/{i}"] = np.asarray(w.numpy(), dtype=np.float32)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    seq_cnn()
    functional()
    lstm_text()
    adam_midtrain()
    rnn_text()
    save_file(dict(sorted(ref.items())), os.path.join(OUT_DIR, "reference.safetensors"))
    print(f"wrote {len(ref)} arrays and 5 models to {OUT_DIR} (keras {keras.__version__})")


if __name__ == "__main__":
    main()
