#!/usr/bin/env python3
"""Reference structure of `keras.applications` models, for keras-rs's application builders.

Keras (JAX backend) builds every application keras-rs provides with ``weights=None`` (each
in a fresh session, so automatic names such as ``conv2d_3`` start from zero) and records per
model: the model's name, total / trainable / non-trainable parameter counts, the output
shape, and every layer (input layers excluded) as ``[name, class_name, params]`` in
``model.layers`` order. ``resnet20_cifar`` is not in Keras: it is written below with Keras
layers, the same network keras-rs's ``applications::resnet20_cifar`` builds.

    KERAS_BACKEND=jax python scripts/gen_applications_reference.py
        writes crates/keras/tests/data/applications.json

    python scripts/gen_applications_reference.py --weights-out DIR
        saves small models with random weights (BatchNormalization statistics randomized
        too) as DIR/NAME.weights.h5 plus DIR/NAME.safetensors holding an input ``x`` and
        Keras's prediction ``y``: the interop test in crates/keras/tests/applications.rs
        (run when KERAS_INTEROP_PYTHON is set) loads them in keras-rs and compares.
"""

import json
import os
import struct
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

import keras  # noqa: E402
from keras import layers  # noqa: E402

assert keras.backend.backend() == "jax", "run with KERAS_BACKEND=jax"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "keras", "tests", "data", "applications.json")
A = keras.applications


def resnet_cifar(depth=20, input_shape=(32, 32, 3), classes=10, name=None):
    """ResNet v1 for CIFAR (He et al. 2015, section 4.2) with 1x1 projection shortcuts."""
    if (depth - 2) % 6 != 0:
        raise ValueError("depth must be 6n + 2")
    n = (depth - 2) // 6

    def conv_bn(x, filters, kernel, stride, prefix, relu):
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", name=f"{prefix}_conv")(x)
        x = layers.BatchNormalization(name=f"{prefix}_bn")(x)
        return layers.Activation("relu", name=f"{prefix}_relu")(x) if relu else x

    inputs = layers.Input(shape=input_shape)
    x = conv_bn(inputs, 16, 3, 1, "conv1", True)
    for stage, filters in enumerate([16, 32, 64]):
        for b in range(n):
            p = f"conv{stage + 2}_block{b + 1}"
            stride = 2 if stage > 0 and b == 0 else 1
            shortcut = x
            if stride != 1 or x.shape[-1] != filters:
                shortcut = conv_bn(x, filters, 1, stride, f"{p}_0", False)
            y = conv_bn(x, filters, 3, stride, f"{p}_1", True)
            y = conv_bn(y, filters, 3, 1, f"{p}_2", False)
            x = layers.Add(name=f"{p}_add")([shortcut, y])
            x = layers.Activation("relu", name=f"{p}_out")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name=name or f"resnet{depth}_cifar")


# key -> (builder, kwargs). Keys are what the Rust test looks up.
MODELS = {
    "resnet50": (A.ResNet50, {}),
    "resnet101": (A.ResNet101, {}),
    "resnet152": (A.ResNet152, {}),
    "resnet50v2": (A.ResNet50V2, {}),
    "vgg16": (A.VGG16, {}),
    "vgg19": (A.VGG19, {}),
    "mobilenetv2": (A.MobileNetV2, {}),
    "inceptionv3": (A.InceptionV3, {}),
    "densenet121": (A.DenseNet121, {}),
    "efficientnetb0": (A.EfficientNetB0, {}),
    "xception": (A.Xception, {}),
    # Variants: no top, pooling, small inputs, width multiplier.
    "vgg16_notop": (A.VGG16, {"include_top": False}),
    "vgg19_notop": (A.VGG19, {"include_top": False}),
    "vgg16_32_classes10": (A.VGG16, {"input_shape": (32, 32, 3), "classes": 10}),
    "resnet50_notop_max": (A.ResNet50, {"include_top": False, "pooling": "max"}),
    "resnet50v2_notop_avg": (A.ResNet50V2, {"include_top": False, "pooling": "avg"}),
    "mobilenetv2_035_96": (A.MobileNetV2, {"alpha": 0.35, "input_shape": (96, 96, 3)}),
    "mobilenetv2_notop_avg": (A.MobileNetV2, {"include_top": False, "pooling": "avg"}),
    "inceptionv3_notop_avg": (A.InceptionV3, {"include_top": False, "pooling": "avg"}),
    "xception_notop_max": (A.Xception, {"include_top": False, "pooling": "max"}),
    "densenet121_notop": (A.DenseNet121, {"include_top": False}),
    "efficientnetb0_notop_avg": (A.EfficientNetB0, {"include_top": False, "pooling": "avg"}),
    "resnet20_cifar": (resnet_cifar, {"depth": 20}),
    "resnet56_cifar": (resnet_cifar, {"depth": 56}),
}


def count(ws):
    return int(sum(int(np.prod(w.shape)) for w in ws))


def describe(model):
    return {
        "name": model.name,
        "params": model.count_params(),
        "trainable": count(model.trainable_weights),
        "non_trainable": count(model.non_trainable_weights),
        "output_shape": list(model.output_shape),
        "layers": [
            [l.name, l.__class__.__name__, l.count_params()]
            for l in model.layers
            if l.__class__.__name__ != "InputLayer"
        ],
    }


def build(key):
    fn, kwargs = MODELS[key]
    keras.backend.clear_session()
    kwargs = dict(kwargs)
    if fn is not resnet_cifar:
        kwargs["weights"] = None
    return fn(**kwargs)


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for k, v in tensors.items():
        b = np.ascontiguousarray(v, dtype="<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def weights_out(directory):
    """Random weights (and BN statistics) saved by Keras, with an input and Keras's output."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(3)
    for key, shape in [("mobilenetv2_035_96", (2, 96, 96, 3)), ("resnet20_cifar", (2, 32, 32, 3))]:
        keras.utils.set_random_seed(5)
        model = build(key)
        for layer in model.layers:
            if isinstance(layer, layers.BatchNormalization):
                n = layer.moving_mean.shape
                layer.moving_mean.assign(rng.normal(0, 0.1, n).astype("float32"))
                layer.moving_variance.assign(rng.uniform(0.5, 1.5, n).astype("float32"))
                if layer.gamma is not None:
                    layer.gamma.assign(rng.uniform(0.8, 1.2, n).astype("float32"))
                layer.beta.assign(rng.normal(0, 0.1, n).astype("float32"))
        x = rng.uniform(-1, 1, shape).astype("float32")
        y = np.asarray(model.predict(x, verbose=0), dtype="float32")
        model.save_weights(os.path.join(directory, f"{key}.weights.h5"))
        write_safetensors(os.path.join(directory, f"{key}.safetensors"), {"x": x, "y": y})
        print(f"{key}: saved")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--weights-out":
        weights_out(sys.argv[2])
        return
    out = {"keras_version": keras.__version__, "models": {}}
    for key in MODELS:
        d = describe(build(key))
        out["models"][key] = d
        print(f"{key:28s} {d['params']:>12,d} params {len(d['layers']):4d} layers  ({d['name']})")
    with open(OUT, "w") as f:
        # One layer per line: readable diffs, small file.
        f.write('{"keras_version": %s, "models": {\n' % json.dumps(out["keras_version"]))
        items = list(out["models"].items())
        for i, (key, d) in enumerate(items):
            head = {k: v for k, v in d.items() if k != "layers"}
            f.write(f"{json.dumps(key)}: {{")
            f.write(", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in head.items()))
            f.write(', "layers": [\n')
            f.write(",\n".join(json.dumps(l) for l in d["layers"]))
            f.write("\n]}" + (",\n" if i + 1 < len(items) else "\n"))
        f.write("}}\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
