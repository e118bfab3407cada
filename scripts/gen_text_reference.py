#!/usr/bin/env python3
"""Reference values for keras-rs's TextVectorization, computed by Keras 3 (TensorFlow backend).

TextVectorization needs TensorFlow (its string ops run in TF whatever the backend). For each
case below, a layer is built with the case's keyword arguments (Keras's names), adapted on one
fixed corpus unless the case sets a vocabulary, and called on fixed query strings passed as a
``(N, 1)`` string tensor (one example per row, as Keras's docs do). The corpus has punctuation,
mixed case, non-ASCII upper case, emoji, CJK, an empty string, extra and non-ASCII whitespace,
and words with equal counts (to pin Keras's tie-break).

Usage:
    KERAS_BACKEND=tensorflow python scripts/gen_text_reference.py [--out PATH]

Writes ``crates/keras/tests/data/text_vectorization.json`` (deterministic):
  {"keras_version", "tensorflow_version", "corpus", "queries",
   "cases": [{"name", "kwargs" (the constructor arguments), "adapt" (bool),
              "vocabulary" (get_vocabulary()), "vocabulary_size",
              "idf_weights" (tf_idf only: the layer's full weight vector, float32 values),
              "output" (nested lists), "output_shape", "output_dtype",
              "config" (get_config() without name/dtype/trainable)}]}
"""

import argparse
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
if os.environ["KERAS_BACKEND"] != "tensorflow":
    sys.exit("gen_text_reference.py requires KERAS_BACKEND=tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CORPUS = [
    "The quick brown fox.",
    "the QUICK, brown dog!",
    "A dog's life -- isn't it?",
    "",
    "Über café naïve ÉCOLE über",
    "fox fox dog cat",
    "  leading and   trailing\twhitespace\n",
    "emoji 😀 and CJK 漢字 text",
    "e-mail: user@example.com (test) [UNK] x_y",
    "non\u00a0breaking space",
    "a b c a b c",
    "Fox, DOG; cat: bird?",
]

QUERIES = [
    "The fox",
    "unknown words here!",
    "",
    "café ÜBER dog dog über",
    "a b c d e f g h i j",
    "😀 漢字 [UNK]",
    "brown fox, the quick",
]

GIVEN_VOCAB = ["the", "fox", "dog", "über", "café", "a"]

CASES = [
    ("default", {}),
    ("sequence_length", {"output_sequence_length": 5}),
    ("sequence_length_long", {"output_sequence_length": 12}),
    ("max_tokens", {"max_tokens": 8}),
    ("no_standardize", {"standardize": None}),
    ("lower", {"standardize": "lower"}),
    ("strip_punctuation", {"standardize": "strip_punctuation"}),
    ("character", {"split": "character", "max_tokens": 20}),
    ("no_split", {"split": None}),
    ("no_split_sequence_length", {"split": None, "output_sequence_length": 3}),
    ("bigrams", {"ngrams": 2}),
    ("ngram_widths", {"ngrams": (2, 3), "max_tokens": 30}),
    ("multi_hot", {"output_mode": "multi_hot"}),
    ("multi_hot_no_split", {"output_mode": "multi_hot", "split": None}),
    ("count_padded", {"output_mode": "count", "max_tokens": 10, "pad_to_max_tokens": True}),
    ("count_character", {"output_mode": "count", "split": "character", "standardize": "lower"}),
    ("tf_idf", {"output_mode": "tf_idf"}),
    ("tf_idf_padded", {"output_mode": "tf_idf", "max_tokens": 6, "pad_to_max_tokens": True}),
    ("tf_idf_bigrams", {"output_mode": "tf_idf", "ngrams": 2}),
    ("given_vocabulary", {"vocabulary": GIVEN_VOCAB, "output_sequence_length": 4}),
    (
        "given_vocabulary_with_specials",
        {"vocabulary": ["", "[UNK]"] + GIVEN_VOCAB, "max_tokens": 8},
    ),
    ("given_multi_hot", {"vocabulary": GIVEN_VOCAB, "output_mode": "multi_hot"}),
    (
        "given_tf_idf",
        {
            "vocabulary": GIVEN_VOCAB,
            "idf_weights": [0.5, 1.25, 2.0, 0.75, 3.5, 1.0],
            "output_mode": "tf_idf",
        },
    ),
    (
        "given_tf_idf_with_oov_padded",
        {
            "vocabulary": ["[UNK]"] + GIVEN_VOCAB,
            "idf_weights": [0.1, 0.5, 1.25, 2.0, 0.75, 3.5, 1.0],
            "output_mode": "tf_idf",
            "max_tokens": 10,
            "pad_to_max_tokens": True,
        },
    ),
]


def jsonable(v):
    if isinstance(v, tuple):
        return [jsonable(x) for x in v]
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        return v.item()
    return v


def run_case(name, kwargs):
    layer = keras.layers.TextVectorization(**kwargs)
    adapt = "vocabulary" not in kwargs
    if adapt:
        layer.adapt(CORPUS)
    out = layer(tf.constant([[q] for q in QUERIES]))
    out = np.asarray(out)
    config = layer.get_config()
    for k in ("name", "dtype", "trainable"):
        config.pop(k, None)
    case = {
        "name": name,
        "kwargs": jsonable(kwargs),
        "adapt": adapt,
        "vocabulary": layer.get_vocabulary(),
        "vocabulary_size": int(layer.vocabulary_size()),
        "output": out.tolist(),
        "output_shape": list(out.shape),
        "output_dtype": str(out.dtype),
        "config": jsonable(config),
    }
    if layer._output_mode == "tf_idf":
        case["idf_weights"] = [float(x) for x in np.asarray(layer._lookup_layer.idf_weights_const)]
    return case


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--out", default=os.path.join(REPO_ROOT, "crates/keras/tests/data/text_vectorization.json")
    )
    args = ap.parse_args()
    data = {
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "corpus": CORPUS,
        "queries": QUERIES,
        "cases": [run_case(n, k) for n, k in CASES],
    }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(data['cases'])} cases to {args.out}")


if __name__ == "__main__":
    main()
