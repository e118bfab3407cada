#!/usr/bin/env python3
"""The Python peers of keras-rs's model benchmarks (issue 7).

    python bench/peers.py --framework tf|jax|torch --model NAME [--warmup N]
                          [--warmup-seconds S] [--reps N] [--max-seconds S]

Builds one model of the suite in Keras 3 on TensorFlow (``tf``), Keras 3 on JAX (``jax``) or
PyTorch (``torch``), exactly as ``modelbench run`` builds it in keras-rs, and times it on one
synthetic batch of 128: ``train_on_batch`` steps (PyTorch: forward, loss, backward, optimizer
step) and ``predict_on_batch`` (PyTorch: an ``inference_mode`` forward in eval mode). Prints one
line ``MODELBENCH {json}`` with the median times, samples/s and the peak resident memory of the
process (``VmHWM``); on failure the line carries ``"error"`` instead. FLOPs are not counted here:
``modelbench report`` applies the same analytic counts (keras-bench's ``models.rs``) to every
framework.

Timing rule (the same as modelbench's): ``warmup`` untimed runs, more until they took
``warmup-seconds``, then up to ``reps`` timed runs, stopping early once at least 3 ran and the
timed runs took ``max-seconds``; the median is reported. Thread counts are the frameworks'
defaults (all the machine's cores).
"""

import argparse
import json
import os
import sys
import time
import traceback

MODELS = ["mlp", "mnist_cnn", "cifar_cnn", "resnet20", "lstm"]
BATCH = 128
INPUT_SHAPES = {
    "mlp": (784,),
    "mnist_cnn": (28, 28, 1),
    "cifar_cnn": (32, 32, 3),
    "resnet20": (32, 32, 3),
    "lstm": (200,),
}


def peak_rss_mib():
    """VmHWM of this process in MiB, or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def synthetic_batch(model):
    """Inputs in [0, 1) and labels 0..9, or token ids 0..19999 and 0/1 targets (LSTM)."""
    import numpy as np

    rng = np.random.default_rng(42)
    shape = (BATCH,) + INPUT_SHAPES[model]
    if model == "lstm":
        x = rng.integers(0, 20000, size=shape, dtype=np.int32)
        y = rng.integers(0, 2, size=(BATCH, 1)).astype(np.float32)
    else:
        x = rng.random(shape, dtype=np.float32)
        y = rng.integers(0, 10, size=(BATCH,)).astype(np.int64)
    return x, y


def timed(fn, args):
    """Sorted wall times in ms of the timed runs of fn (see the module docstring)."""
    warm_start = time.perf_counter()
    done = 0
    while done < args.warmup or time.perf_counter() - warm_start < args.warmup_seconds:
        fn()
        done += 1
    reps, max_s = args.reps, args.max_seconds
    times = []
    start = time.perf_counter()
    for _ in range(max(reps, 1)):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        if len(times) >= 3 and time.perf_counter() - start > max_s:
            break
    return sorted(times)


# --------------------------------------------------------------------------------------------
# Keras 3 (TensorFlow or JAX backend)
# --------------------------------------------------------------------------------------------


def keras_model(name):
    import keras
    from keras import layers as L

    if name == "mlp":
        model = keras.Sequential(
            [keras.Input((784,)), L.Dense(128, activation="relu"), L.Dense(10, activation="softmax")]
        )
    elif name == "mnist_cnn":
        model = keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                L.Conv2D(32, 3, activation="relu"),
                L.MaxPooling2D(2),
                L.Conv2D(64, 3, activation="relu"),
                L.MaxPooling2D(2),
                L.Flatten(),
                L.Dropout(0.5),
                L.Dense(10, activation="softmax"),
            ]
        )
    elif name == "cifar_cnn":
        model = keras.Sequential(
            [
                keras.Input((32, 32, 3)),
                L.Conv2D(32, 3, padding="same", activation="relu"),
                L.Conv2D(32, 3, activation="relu"),
                L.MaxPooling2D(2),
                L.Dropout(0.25),
                L.Conv2D(64, 3, padding="same", activation="relu"),
                L.Conv2D(64, 3, activation="relu"),
                L.MaxPooling2D(2),
                L.Dropout(0.25),
                L.Flatten(),
                L.Dense(512, activation="relu"),
                L.Dropout(0.5),
                L.Dense(10, activation="softmax"),
            ]
        )
    elif name == "resnet20":

        def conv_bn(x, filters, stride, relu):
            x = L.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
            x = L.BatchNormalization()(x)
            return L.Activation("relu")(x) if relu else x

        inputs = keras.Input((32, 32, 3))
        x = conv_bn(inputs, 16, 1, True)
        channels = 16
        for stage, filters in enumerate([16, 32, 64]):
            for block in range(3):
                stride = 2 if stage > 0 and block == 0 else 1
                y = conv_bn(x, filters, stride, True)
                y = conv_bn(y, filters, 1, False)
                if stride != 1 or channels != filters:
                    x = L.Conv2D(filters, 1, strides=stride)(x)
                x = L.Activation("relu")(L.Add()([x, y]))
                channels = filters
        x = L.GlobalAveragePooling2D()(x)
        outputs = L.Dense(10, activation="softmax")(x)
        model = keras.Model(inputs, outputs)
    elif name == "lstm":
        model = keras.Sequential(
            [
                keras.Input((200,), dtype="int32"),
                L.Embedding(20000, 128),
                L.LSTM(64),
                L.Dense(1, activation="sigmoid"),
            ]
        )
    else:
        raise ValueError(f"unknown model {name}")
    if name == "resnet20":
        opt = keras.optimizers.SGD(momentum=0.9)
    else:
        opt = keras.optimizers.Adam()
    loss = "binary_crossentropy" if name == "lstm" else "sparse_categorical_crossentropy"
    model.compile(optimizer=opt, loss=loss)
    return model


def run_keras(framework, name, args):
    os.environ["KERAS_BACKEND"] = "tensorflow" if framework == "tf" else "jax"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np

    if keras.backend.backend() != os.environ["KERAS_BACKEND"]:
        raise RuntimeError(f"Keras picked backend {keras.backend.backend()}")
    if framework == "tf":
        import tensorflow as tf

        version = f"keras {keras.__version__}, tensorflow {tf.__version__}"
        threads = os.cpu_count()
    else:
        import jax
        import jaxlib

        version = f"keras {keras.__version__}, jax {jax.__version__}, jaxlib {jaxlib.__version__}"
        threads = os.cpu_count()
    x, y = synthetic_batch(name)
    keras.utils.set_random_seed(1337)
    model = keras_model(name)
    state = {}

    def train():
        state["loss"] = float(np.asarray(model.train_on_batch(x, y)).ravel()[0])

    def predict():
        model.predict_on_batch(x)

    train_t = timed(train, args)
    predict_t = timed(predict, args)
    notes = f"jit_compile={getattr(model, 'jit_compile', '?')}"
    return version, threads, train_t, predict_t, state.get("loss"), notes


# --------------------------------------------------------------------------------------------
# PyTorch
# --------------------------------------------------------------------------------------------


def torch_model(name):
    import torch
    from torch import nn

    def relu_conv(cin, cout, same):
        return [nn.Conv2d(cin, cout, 3, padding=1 if same else 0), nn.ReLU()]

    if name == "mlp":
        return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    if name == "mnist_cnn":
        return nn.Sequential(
            *relu_conv(1, 32, False),
            nn.MaxPool2d(2),
            *relu_conv(32, 64, False),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(1600, 10),
        )
    if name == "cifar_cnn":
        return nn.Sequential(
            *relu_conv(3, 32, True),
            *relu_conv(32, 32, False),
            nn.MaxPool2d(2),
            nn.Dropout(0.25),
            *relu_conv(32, 64, True),
            *relu_conv(64, 64, False),
            nn.MaxPool2d(2),
            nn.Dropout(0.25),
            nn.Flatten(),
            nn.Linear(2304, 512),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(512, 10),
        )
    if name == "resnet20":

        def bn(c):
            # Keras's BatchNormalization defaults: momentum 0.99, epsilon 1e-3.
            return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)

        class Block(nn.Module):
            def __init__(self, cin, cout, stride):
                super().__init__()
                self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
                self.b1 = bn(cout)
                self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
                self.b2 = bn(cout)
                self.proj = nn.Conv2d(cin, cout, 1, stride) if stride != 1 or cin != cout else None

            def forward(self, x):
                y = torch.relu(self.b1(self.c1(x)))
                y = self.b2(self.c2(y))
                s = self.proj(x) if self.proj is not None else x
                return torch.relu(s + y)

        blocks = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), bn(16), nn.ReLU()]
        cin = 16
        for stage, filters in enumerate([16, 32, 64]):
            for block in range(3):
                stride = 2 if stage > 0 and block == 0 else 1
                blocks.append(Block(cin, filters, stride))
                cin = filters
        blocks += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
        return nn.Sequential(*blocks)
    if name == "lstm":

        class TextModel(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(20000, 128)
                self.lstm = nn.LSTM(128, 64, batch_first=True)
                self.out = nn.Linear(64, 1)

            def forward(self, x):
                _, (h, _) = self.lstm(self.emb(x))
                return self.out(h[-1])

        return TextModel()
    raise ValueError(f"unknown model {name}")


def run_torch(name, args):
    import torch

    torch.manual_seed(1337)
    x, y = synthetic_batch(name)
    x = torch.from_numpy(x)
    y = torch.from_numpy(y)
    if x.dim() == 4:
        x = x.permute(0, 3, 1, 2).contiguous()  # PyTorch's native NCHW layout.
    model = torch_model(name)
    if name == "resnet20":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    # Logits with the fused losses: what a PyTorch user writes for softmax / sigmoid outputs
    # with (sparse) categorical / binary cross-entropy.
    loss_fn = torch.nn.BCEWithLogitsLoss() if name == "lstm" else torch.nn.CrossEntropyLoss()
    state = {}

    def train():
        model.train()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        state["loss"] = loss.item()

    def predict():
        model.eval()
        with torch.inference_mode():
            out = model(x)
            out = torch.sigmoid(out) if name == "lstm" else torch.softmax(out, dim=-1)
        out.numpy()

    train_t = timed(train, args)
    predict_t = timed(predict, args)
    return f"torch {torch.__version__}", torch.get_num_threads(), train_t, predict_t, state.get("loss"), ""


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--framework", required=True, choices=["tf", "jax", "torch"])
    p.add_argument("--model", required=True, choices=MODELS)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--warmup-seconds", type=float, default=0.0)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--max-seconds", type=float, default=60.0)
    args = p.parse_args()
    t0 = time.perf_counter()
    try:
        if args.framework == "torch":
            version, threads, train_t, predict_t, loss, notes = run_torch(args.model, args)
        else:
            version, threads, train_t, predict_t, loss, notes = run_keras(args.framework, args.model, args)
        med_train = train_t[len(train_t) // 2]
        med_predict = predict_t[len(predict_t) // 2]
        line = {
            "framework": args.framework,
            "model": args.model,
            "version": version,
            "batch": BATCH,
            "threads": threads,
            "warmup": args.warmup,
            "warmup_seconds": args.warmup_seconds,
            "train_reps": len(train_t),
            "train_ms": med_train,
            "train_min_ms": train_t[0],
            "predict_reps": len(predict_t),
            "predict_ms": med_predict,
            "predict_min_ms": predict_t[0],
            "train_samples_per_s": BATCH / med_train * 1e3,
            "predict_samples_per_s": BATCH / med_predict * 1e3,
            "peak_rss_mib": peak_rss_mib(),
            "final_loss": loss,
            "total_s": time.perf_counter() - t0,
            "notes": notes,
            "python": sys.version.split()[0],
        }
    except Exception as e:  # noqa: BLE001 - any failure becomes a row that says so
        traceback.print_exc()
        line = {"framework": args.framework, "model": args.model, "error": f"{type(e).__name__}: {e}"}
    sys.stdout.flush()
    print("MODELBENCH " + json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
