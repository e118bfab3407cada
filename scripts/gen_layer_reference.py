#!/usr/bin/env python3
"""Per-layer reference values for keras-rs, computed by Keras 3 (JAX backend).

For each case (a layer class, a Keras config, input shapes, a `training` flag, a seed) the
layer is built in Keras, its weights are overwritten with seeded numpy values (BatchNormalization
variances kept positive), inputs are drawn (integer indices for Embedding), and the output
``y = layer(inputs, training)`` is computed with ``stateless_call``. JAX then gives the
gradients of ``sum(y * cotangent)`` (cotangent random, shaped like ``y``) with respect to every
float input and every trainable weight. For calls that update non-trainable state
(BatchNormalization with training=True) the state after the call is saved too.

Usage:
    KERAS_BACKEND=jax python scripts/gen_layer_reference.py [--out-dir DIR]

Writes two files into ``crates/keras/tests/data/``:

``layers.safetensors`` (tensors, keys sorted, byte-for-byte deterministic):
  <case>/input/<i>        the i-th input (float32; int32 / int64 indices for Embedding)
  <case>/weight/<i>       the i-th weight, in Keras's ``layer.weights`` order
  <case>/output           y
  <case>/cotangent        the cotangent c (d sum(y * c) / d y = c)
  <case>/extra_output/<i> output i >= 1 of a layer with several outputs (an RNN with
                          return_state); the objective then sums over all outputs
  <case>/extra_cotangent/<i>  its cotangent
  <case>/grad_input/<i>   d sum(y * c) / d input i (float inputs only; absent for int ones)
  <case>/grad_weight/<i>  d sum(y * c) / d trainable weight i, in ``trainable_weights`` order
  <case>/state_after/<i>  non-trainable weight i (``non_trainable_weights`` order) after a
                          training call that updates state

``layers.json``: {"cases": [{"name", "class_name", "config" (the full ``get_config()``),
  "input_shapes" (with the batch), "input_dtypes", "training", "seed", "n_weights",
  "n_trainable", "weight_names", "trainable_weight_names", "non_trainable_weight_names",
  "output_shape", "n_outputs", "output_shapes", "state_after" (bool), "call_kwargs" (only
  when the case has some), "cancelling_grad_weights" (trainable weights whose gradient is
  exactly zero in exact arithmetic: only rounding noise is stored)}],
  "keras_version", "jax_version"}
"""

import inspect
import json

from refutil import F32, out_dir_arg, put, seed_for, write  # sets up JAX first

import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402

# ---------------------------------------------------------------------------------------
# Cases: (name, class, config kwargs, input shapes with the batch, training, options).
# options: {"int": (dtype, high)} draws integer inputs in [0, high); "scale" multiplies float
# inputs; "positional": the inputs are separate call arguments (MultiHeadAttention's
# layer(query, value, key)), not one list; "call_kwargs": extra call arguments
# (use_causal_mask, return_attention_scores), recorded in the case's JSON.
# ---------------------------------------------------------------------------------------
CASES = []


def case(name, cls, config, shapes, training=False, **opts):
    if not isinstance(shapes[0], (list, tuple)):
        shapes = [shapes]
    assert name not in [c[0] for c in CASES], name
    CASES.append((name, cls, dict(config), [tuple(s) for s in shapes], training, opts))


def add_cases():
    # Dense
    case("dense", "Dense", {"units": 3}, (2, 4))
    case("dense_relu_nobias", "Dense", {"units": 3, "use_bias": False, "activation": "relu"}, (2, 4))
    case("dense_3d_tanh", "Dense", {"units": 5, "activation": "tanh"}, (2, 3, 4))
    case("dense_train", "Dense", {"units": 2, "activation": "sigmoid"}, (3, 4), training=True)

    # Activation: every name keras-rs knows
    for act in ["linear", "relu", "relu6", "sigmoid", "hard_sigmoid", "tanh", "softmax",
                "log_softmax", "softplus", "softsign", "elu", "selu", "gelu", "silu",
                "leaky_relu"]:
        case(f"activation_{act}", "Activation", {"activation": act}, (2, 3, 5), scale=3.0)

    # Reshaping
    case("flatten", "Flatten", {}, (2, 3, 2, 2))
    case("flatten_2d", "Flatten", {}, (2, 5))
    case("reshape", "Reshape", {"target_shape": (6, 2)}, (2, 3, 4))
    case("reshape_infer", "Reshape", {"target_shape": (-1, 3)}, (2, 3, 4))
    case("reshape_3d", "Reshape", {"target_shape": (2, 2, 3)}, (2, 12))
    case("permute", "Permute", {"dims": (2, 1)}, (2, 3, 4))
    case("permute_3", "Permute", {"dims": (3, 1, 2)}, (2, 2, 3, 4))
    case("repeat_vector", "RepeatVector", {"n": 3}, (2, 4))

    # Regularization layers in inference mode (and a rate-0 dropout in training mode)
    case("dropout_infer", "Dropout", {"rate": 0.5}, (2, 5))
    case("dropout_rate0_train", "Dropout", {"rate": 0.0}, (2, 5), training=True)
    case("spatial_dropout2d_infer", "SpatialDropout2D", {"rate": 0.3}, (2, 3, 3, 2))
    case("gaussian_noise_infer", "GaussianNoise", {"stddev": 0.5}, (2, 4))

    # Conv1D
    case("conv1d_valid", "Conv1D", {"filters": 3, "kernel_size": 3}, (2, 7, 2))
    case("conv1d_same_s2", "Conv1D", {"filters": 3, "kernel_size": 3, "strides": 2,
                                      "padding": "same"}, (2, 7, 2))
    case("conv1d_causal_d2_relu", "Conv1D", {"filters": 2, "kernel_size": 3, "dilation_rate": 2,
                                             "padding": "causal", "activation": "relu"}, (2, 8, 2))
    case("conv1d_same_d2", "Conv1D", {"filters": 2, "kernel_size": 2, "dilation_rate": 2,
                                      "padding": "same"}, (2, 6, 3))
    case("conv1d_groups2_nobias", "Conv1D", {"filters": 4, "kernel_size": 2, "groups": 2,
                                             "use_bias": False}, (2, 6, 4))
    case("conv1d_valid_s2", "Conv1D", {"filters": 2, "kernel_size": 2, "strides": 2}, (2, 7, 3))

    # Conv2D
    case("conv2d_valid", "Conv2D", {"filters": 3, "kernel_size": 3}, (2, 5, 5, 2))
    case("conv2d_same_s2", "Conv2D", {"filters": 3, "kernel_size": (3, 2), "strides": 2,
                                      "padding": "same"}, (2, 6, 5, 2))
    case("conv2d_same_d2_tanh_nobias", "Conv2D", {"filters": 2, "kernel_size": 3,
                                                  "dilation_rate": 2, "padding": "same",
                                                  "use_bias": False, "activation": "tanh"},
         (2, 6, 6, 2))
    case("conv2d_groups2", "Conv2D", {"filters": 4, "kernel_size": 2, "groups": 2}, (2, 4, 4, 4))
    case("conv2d_valid_s21", "Conv2D", {"filters": 2, "kernel_size": 2, "strides": (2, 1),
                                        "activation": "relu"}, (2, 5, 4, 3))
    case("conv2d_same_s2_even", "Conv2D", {"filters": 2, "kernel_size": 2, "strides": 2,
                                           "padding": "same"}, (2, 5, 4, 2))

    # Conv2DTranspose
    case("conv2d_transpose_valid", "Conv2DTranspose", {"filters": 3, "kernel_size": 3}, (2, 3, 3, 2))
    case("conv2d_transpose_same_s2", "Conv2DTranspose", {"filters": 2, "kernel_size": 3,
                                                         "strides": 2, "padding": "same"},
         (2, 3, 3, 2))
    case("conv2d_transpose_valid_s2", "Conv2DTranspose", {"filters": 2, "kernel_size": (3, 2),
                                                          "strides": 2}, (2, 3, 2, 2))
    case("conv2d_transpose_same_s2_k4", "Conv2DTranspose", {"filters": 2, "kernel_size": 4,
                                                            "strides": 2, "padding": "same",
                                                            "use_bias": False}, (2, 2, 3, 3))
    case("conv2d_transpose_outpad", "Conv2DTranspose", {"filters": 2, "kernel_size": 3,
                                                        "strides": 2, "output_padding": 1},
         (2, 3, 3, 2))
    case("conv2d_transpose_same_s3_outpad", "Conv2DTranspose", {"filters": 2, "kernel_size": 3,
                                                                "strides": 3, "padding": "same",
                                                                "output_padding": 2},
         (2, 2, 3, 2))
    case("conv2d_transpose_d2", "Conv2DTranspose", {"filters": 2, "kernel_size": 2,
                                                    "dilation_rate": 2, "activation": "relu"},
         (2, 3, 3, 2))

    # DepthwiseConv2D
    case("depthwise_valid", "DepthwiseConv2D", {"kernel_size": 3}, (2, 5, 5, 3))
    case("depthwise_same_s2_dm2", "DepthwiseConv2D", {"kernel_size": 3, "strides": 2,
                                                      "padding": "same", "depth_multiplier": 2},
         (2, 5, 4, 2))
    case("depthwise_d2_nobias", "DepthwiseConv2D", {"kernel_size": 2, "dilation_rate": 2,
                                                    "use_bias": False}, (2, 5, 5, 2))

    # SeparableConv2D
    case("separable_valid", "SeparableConv2D", {"filters": 4, "kernel_size": 3}, (2, 5, 5, 2))
    case("separable_same_s2_dm2_relu", "SeparableConv2D", {"filters": 3, "kernel_size": 3,
                                                           "strides": 2, "padding": "same",
                                                           "depth_multiplier": 2,
                                                           "activation": "relu"},
         (2, 5, 4, 2))
    case("separable_d2_nobias", "SeparableConv2D", {"filters": 2, "kernel_size": 2,
                                                    "dilation_rate": 2, "use_bias": False},
         (2, 5, 5, 3))

    # Pooling
    case("max_pool1d", "MaxPooling1D", {"pool_size": 2}, (2, 7, 3))
    case("max_pool1d_same_s2", "MaxPooling1D", {"pool_size": 3, "strides": 2, "padding": "same"},
         (2, 7, 3))
    case("max_pool1d_s1", "MaxPooling1D", {"pool_size": 3, "strides": 1}, (2, 6, 2))
    case("max_pool2d", "MaxPooling2D", {"pool_size": 2}, (2, 5, 6, 2))
    case("max_pool2d_same_s2", "MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"},
         (2, 5, 6, 2))
    case("max_pool2d_23_s12", "MaxPooling2D", {"pool_size": (2, 3), "strides": (1, 2)},
         (2, 4, 7, 2))
    case("avg_pool1d", "AveragePooling1D", {"pool_size": 2}, (2, 7, 3))
    case("avg_pool1d_same_s2", "AveragePooling1D", {"pool_size": 3, "strides": 2,
                                                    "padding": "same"}, (2, 7, 3))
    case("avg_pool1d_same_s1", "AveragePooling1D", {"pool_size": 2, "strides": 1,
                                                    "padding": "same"}, (2, 5, 2))
    case("avg_pool2d", "AveragePooling2D", {"pool_size": 2}, (2, 5, 6, 2))
    case("avg_pool2d_same_s2", "AveragePooling2D", {"pool_size": 3, "strides": 2,
                                                    "padding": "same"}, (2, 5, 6, 2))
    case("avg_pool2d_same_s1", "AveragePooling2D", {"pool_size": 2, "strides": 1,
                                                    "padding": "same"}, (2, 3, 4, 2))
    case("avg_pool2d_23_s12", "AveragePooling2D", {"pool_size": (2, 3), "strides": (1, 2)},
         (2, 4, 7, 2))
    for keep in (False, True):
        k = "_keepdims" if keep else ""
        case(f"global_avg_pool1d{k}", "GlobalAveragePooling1D", {"keepdims": keep}, (2, 5, 3))
        case(f"global_avg_pool2d{k}", "GlobalAveragePooling2D", {"keepdims": keep}, (2, 3, 4, 2))
        case(f"global_max_pool1d{k}", "GlobalMaxPooling1D", {"keepdims": keep}, (2, 5, 3))
        case(f"global_max_pool2d{k}", "GlobalMaxPooling2D", {"keepdims": keep}, (2, 3, 4, 2))

    # BatchNormalization
    case("bn_infer", "BatchNormalization", {}, (2, 3, 4))
    case("bn_infer_eps", "BatchNormalization", {"epsilon": 0.1}, (3, 4))
    case("bn_train", "BatchNormalization", {}, (4, 3), training=True)
    case("bn_train_4d_m09", "BatchNormalization", {"momentum": 0.9, "epsilon": 1e-2},
         (3, 2, 2, 3), training=True)
    case("bn_train_axis1", "BatchNormalization", {"axis": 1}, (4, 3, 2), training=True)
    case("bn_infer_axis1", "BatchNormalization", {"axis": 1}, (4, 3, 2))
    case("bn_train_nocenter_noscale", "BatchNormalization", {"center": False, "scale": False},
         (4, 3), training=True)
    case("bn_train_noscale", "BatchNormalization", {"scale": False}, (5, 2), training=True)

    # LayerNormalization
    case("ln_last", "LayerNormalization", {}, (2, 3, 4))
    case("ln_axes12", "LayerNormalization", {"axis": [1, 2]}, (2, 3, 4))
    case("ln_axis1", "LayerNormalization", {"axis": 1, "epsilon": 0.1}, (2, 3, 4))
    case("ln_axes_neg", "LayerNormalization", {"axis": [-2, -1]}, (2, 2, 3, 4))
    case("ln_nocenter", "LayerNormalization", {"center": False}, (3, 5))
    case("ln_noscale", "LayerNormalization", {"scale": False}, (3, 5))

    # Padding, cropping, upsampling
    case("zero_pad2d", "ZeroPadding2D", {"padding": 1}, (2, 2, 3, 2))
    case("zero_pad2d_asym", "ZeroPadding2D", {"padding": ((1, 2), (0, 1))}, (2, 2, 3, 2))
    case("cropping2d", "Cropping2D", {"cropping": 1}, (2, 4, 5, 2))
    case("cropping2d_asym", "Cropping2D", {"cropping": ((1, 0), (1, 2))}, (2, 4, 5, 2))
    case("upsampling2d", "UpSampling2D", {"size": 2}, (2, 2, 3, 2))
    case("upsampling2d_23", "UpSampling2D", {"size": (2, 3)}, (2, 2, 2, 2))
    case("upsampling2d_bilinear", "UpSampling2D", {"size": 2, "interpolation": "bilinear"},
         (2, 3, 3, 2))

    # Merge layers
    two = [(2, 3, 4), (2, 3, 4)]
    case("add", "Add", {}, two)
    case("add_3", "Add", {}, [(2, 3, 4)] * 3)
    case("subtract", "Subtract", {}, two)
    case("multiply", "Multiply", {}, two)
    case("multiply_3", "Multiply", {}, [(2, 5)] * 3)
    case("average", "Average", {}, two)
    case("average_3", "Average", {}, [(2, 5)] * 3)
    case("maximum", "Maximum", {}, two)
    case("maximum_3", "Maximum", {}, [(2, 5)] * 3)
    case("minimum", "Minimum", {}, two)
    case("concatenate", "Concatenate", {}, [(2, 3, 2), (2, 3, 4)])
    case("concatenate_axis1", "Concatenate", {"axis": 1}, [(2, 2, 3), (2, 4, 3), (2, 1, 3)])
    case("concatenate_2d", "Concatenate", {"axis": -1}, [(2, 1), (2, 3)])
    case("concatenate_axis_m2", "Concatenate", {"axis": -2}, [(2, 2, 3), (2, 1, 3)])
    case("dot_last", "Dot", {"axes": -1}, [(2, 4), (2, 4)])
    case("dot_1_normalize", "Dot", {"axes": 1, "normalize": True}, [(2, 4), (2, 4)])
    case("dot_12", "Dot", {"axes": (1, 2)}, [(2, 3, 4), (2, 5, 3)])
    case("dot_22", "Dot", {"axes": [2, 2]}, [(2, 3, 4), (2, 5, 4)])
    case("dot_22_normalize", "Dot", {"axes": 2, "normalize": True}, [(2, 3, 4), (2, 5, 4)])

    # Activation layers
    case("relu", "ReLU", {}, (2, 3, 4), scale=2.0)
    case("relu_max1", "ReLU", {"max_value": 1.0}, (2, 3, 4), scale=2.0)
    case("relu_slope", "ReLU", {"negative_slope": 0.2}, (2, 3, 4), scale=2.0)
    case("relu_threshold", "ReLU", {"threshold": 0.5}, (2, 3, 4), scale=2.0)
    case("relu_all", "ReLU", {"max_value": 1.5, "negative_slope": 0.1, "threshold": 0.3},
         (2, 3, 4), scale=2.0)
    case("leaky_relu", "LeakyReLU", {}, (2, 3, 4))
    case("leaky_relu_01", "LeakyReLU", {"negative_slope": 0.1}, (2, 3, 4))
    case("prelu", "PReLU", {}, (2, 3, 4))
    case("prelu_shared1", "PReLU", {"shared_axes": [1]}, (2, 3, 4))
    case("prelu_shared12", "PReLU", {"shared_axes": [1, 2]}, (2, 3, 3, 2))
    case("elu", "ELU", {}, (2, 3, 4), scale=2.0)
    case("elu_05", "ELU", {"alpha": 0.5}, (2, 3, 4), scale=2.0)
    case("softmax", "Softmax", {}, (2, 3, 4), scale=2.0)
    case("softmax_axis1", "Softmax", {"axis": 1}, (2, 3, 4), scale=2.0)
    case("softmax_axes12", "Softmax", {"axis": (1, 2)}, (2, 3, 4), scale=2.0)

    # Embedding
    case("embedding_i32", "Embedding", {"input_dim": 10, "output_dim": 3}, (2, 4),
         int=("int32", 10))
    case("embedding_i64_3d", "Embedding", {"input_dim": 7, "output_dim": 4}, (2, 3, 2),
         int=("int64", 7))
    case("embedding_repeat_idx", "Embedding", {"input_dim": 3, "output_dim": 2}, (3, 4),
         int=("int32", 3))

    # Recurrent layers (return_state cases have several outputs)
    for cls, p in (("SimpleRNN", "simple_rnn"), ("GRU", "gru"), ("LSTM", "lstm")):
        case(p, cls, {"units": 4}, (2, 5, 3))
        case(f"{p}_seq", cls, {"units": 3, "return_sequences": True}, (2, 4, 3))
        case(f"{p}_seq_backwards", cls, {"units": 3, "return_sequences": True,
                                         "go_backwards": True}, (2, 4, 2))
        case(f"{p}_backwards", cls, {"units": 2, "go_backwards": True}, (3, 4, 2))
        case(f"{p}_state", cls, {"units": 3, "return_state": True}, (2, 4, 2))
        case(f"{p}_seq_state_backwards", cls, {"units": 2, "return_sequences": True,
                                               "return_state": True, "go_backwards": True},
             (2, 3, 3))
        case(f"{p}_nobias", cls, {"units": 3, "use_bias": False}, (2, 4, 2))
        case(f"{p}_dropout_infer", cls, {"units": 3, "dropout": 0.5,
                                         "recurrent_dropout": 0.5}, (2, 3, 2))
    case("simple_rnn_relu_seq", "SimpleRNN", {"units": 3, "activation": "relu",
                                              "return_sequences": True}, (2, 4, 3))
    case("gru_reset_before", "GRU", {"units": 4, "reset_after": False}, (2, 5, 3))
    case("gru_reset_before_seq_backwards", "GRU", {"units": 3, "reset_after": False,
                                                   "return_sequences": True,
                                                   "go_backwards": True}, (2, 4, 2))
    case("gru_reset_before_state", "GRU", {"units": 3, "reset_after": False,
                                           "return_sequences": True, "return_state": True},
         (2, 4, 2))
    case("gru_reset_before_nobias", "GRU", {"units": 3, "reset_after": False,
                                            "use_bias": False}, (2, 4, 2))
    case("gru_hard_sigmoid", "GRU", {"units": 3, "recurrent_activation": "hard_sigmoid",
                                     "return_sequences": True}, (2, 4, 2))
    case("lstm_no_forget_bias", "LSTM", {"units": 3, "unit_forget_bias": False}, (2, 4, 2))
    # Other activations than tanh/sigmoid: keras-rs's unrolled path, not its fused kernel.
    case("lstm_hard_sigmoid_seq", "LSTM", {"units": 3, "recurrent_activation": "hard_sigmoid",
                                           "activation": "relu", "return_sequences": True},
         (2, 4, 2))

    # Wrappers: a nested layer is written sub("Class", {config}) and built in run_case.
    case("bidir_lstm", "Bidirectional", {"layer": sub("LSTM", {"units": 3})}, (2, 4, 2))
    case("bidir_gru_seq_sum", "Bidirectional",
         {"layer": sub("GRU", {"units": 3, "return_sequences": True}), "merge_mode": "sum"},
         (2, 4, 3))
    case("bidir_simple_rnn_seq_mul", "Bidirectional",
         {"layer": sub("SimpleRNN", {"units": 2, "return_sequences": True}), "merge_mode": "mul"},
         (2, 3, 2))
    case("bidir_lstm_seq_ave", "Bidirectional",
         {"layer": sub("LSTM", {"units": 2, "return_sequences": True}), "merge_mode": "ave"},
         (2, 4, 2))
    case("bidir_lstm_seq_state_none", "Bidirectional",
         {"layer": sub("LSTM", {"units": 2, "return_sequences": True, "return_state": True}),
          "merge_mode": None}, (2, 3, 2))
    case("bidir_gru_state", "Bidirectional",
         {"layer": sub("GRU", {"units": 2, "return_state": True})}, (2, 4, 3))
    case("bidir_lstm_backward_layer", "Bidirectional",
         {"layer": sub("LSTM", {"units": 3, "return_sequences": True}),
          "backward_layer": sub("LSTM", {"units": 3, "return_sequences": True,
                                         "go_backwards": True, "activation": "softsign"})},
         (2, 4, 2))
    case("td_dense", "TimeDistributed", {"layer": sub("Dense", {"units": 3})}, (2, 4, 5))
    case("td_dense_4d_tanh", "TimeDistributed",
         {"layer": sub("Dense", {"units": 2, "activation": "tanh"})}, (2, 3, 2, 4))
    case("td_conv2d", "TimeDistributed", {"layer": sub("Conv2D", {"filters": 2, "kernel_size": 3})},
         (2, 3, 5, 4, 2))
    case("td_lstm", "TimeDistributed", {"layer": sub("LSTM", {"units": 2})}, (2, 3, 4, 2))

    # Attention (inputs [query, value(, key)])
    case("attention_dot", "Attention", {}, [(2, 3, 4), (2, 5, 4)])
    case("attention_dot_key", "Attention", {}, [(2, 3, 4), (2, 5, 3), (2, 5, 4)])
    case("attention_scale", "Attention", {"use_scale": True}, [(2, 3, 4), (2, 5, 4)])
    case("attention_concat", "Attention", {"score_mode": "concat"}, [(2, 3, 4), (2, 5, 4)])
    case("attention_concat_scale_key", "Attention", {"score_mode": "concat", "use_scale": True},
         [(2, 3, 4), (2, 5, 2), (2, 5, 4)])
    case("attention_causal", "Attention", {}, [(2, 4, 3), (2, 4, 3)],
         call_kwargs={"use_causal_mask": True})
    case("attention_scores", "Attention", {"use_scale": True}, [(2, 3, 4), (2, 5, 4)],
         call_kwargs={"return_attention_scores": True})
    case("attention_dropout_infer", "Attention", {"dropout": 0.5}, [(2, 3, 4), (2, 5, 4)])

    # MultiHeadAttention (called as layer(query, value(, key)))
    mha = dict(positional=True)
    case("mha", "MultiHeadAttention", {"num_heads": 2, "key_dim": 3}, [(2, 4, 6), (2, 5, 6)], **mha)
    case("mha_key_out", "MultiHeadAttention",
         {"num_heads": 2, "key_dim": 3, "output_shape": 5},
         [(2, 4, 6), (2, 5, 7), (2, 5, 3)], **mha)
    # value_dim != key_dim: Keras's fused JAX path cannot take it; the scores path can.
    case("mha_value_dim_scores", "MultiHeadAttention",
         {"num_heads": 2, "key_dim": 3, "value_dim": 4},
         [(2, 4, 6), (2, 5, 7), (2, 5, 3)], call_kwargs={"return_attention_scores": True}, **mha)
    case("mha_nobias_1head", "MultiHeadAttention", {"num_heads": 1, "key_dim": 4, "use_bias": False},
         [(2, 3, 5), (2, 4, 5)], **mha)
    case("mha_causal", "MultiHeadAttention", {"num_heads": 2, "key_dim": 2}, [(2, 4, 3), (2, 4, 3)],
         call_kwargs={"use_causal_mask": True}, **mha)
    case("mha_scores", "MultiHeadAttention", {"num_heads": 3, "key_dim": 2},
         [(2, 3, 4), (2, 5, 4)], call_kwargs={"return_attention_scores": True}, **mha)
    case("mha_rank4", "MultiHeadAttention", {"num_heads": 2, "key_dim": 2},
         [(2, 2, 3, 4), (2, 3, 2, 5)], **mha)
    case("mha_output_shape_2d", "MultiHeadAttention",
         {"num_heads": 2, "key_dim": 2, "output_shape": (2, 3)}, [(2, 3, 4), (2, 4, 4)], **mha)
    case("mha_dropout_infer", "MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "dropout": 0.3},
         [(2, 3, 4), (2, 4, 4)], **mha)
    # attention_axes on rank-4 inputs: the other middle axis is batch-like; the scores come in
    # Keras's layout (batch, <other axes>, heads, <query attention axes>, <key attention axes>).
    case("mha_axes2", "MultiHeadAttention", {"num_heads": 2, "key_dim": 2, "attention_axes": (2,)},
         [(2, 2, 3, 4), (2, 2, 4, 5)], call_kwargs={"return_attention_scores": True}, **mha)
    case("mha_axes1_key", "MultiHeadAttention",
         {"num_heads": 2, "key_dim": 3, "value_dim": 2, "attention_axes": (1,)},
         [(2, 3, 2, 4), (2, 4, 2, 5), (2, 4, 2, 3)], call_kwargs={"return_attention_scores": True},
         **mha)
    case("mha_axes12", "MultiHeadAttention", {"num_heads": 2, "key_dim": 2, "attention_axes": (1, 2)},
         [(2, 2, 3, 4), (2, 3, 2, 5)], **mha)
    case("mha_axes21_scores", "MultiHeadAttention",
         {"num_heads": 1, "key_dim": 2, "attention_axes": (2, 1)},
         [(2, 2, 3, 4), (2, 3, 2, 5)], call_kwargs={"return_attention_scores": True}, **mha)
    case("mha_axes_neg_int", "MultiHeadAttention", {"num_heads": 2, "key_dim": 2, "attention_axes": -2},
         [(2, 3, 2, 4), (2, 3, 4, 4)], **mha)
    # The causal mask is built over the inputs' axis 1 and broadcast on the attention axes, as
    # Keras does: with attention_axes (2,) it fits when axes 1 and 2 have the same size.
    case("mha_axes2_causal", "MultiHeadAttention", {"num_heads": 2, "key_dim": 2, "attention_axes": (2,)},
         [(2, 3, 3, 4), (2, 3, 3, 4)], call_kwargs={"use_causal_mask": True}, **mha)
    # Gated attention (use_gate): sigmoid(gate(query)) times the heads' results.
    case("mha_gate", "MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "use_gate": True},
         [(2, 4, 5), (2, 5, 6)], **mha)
    case("mha_gate_value_dim_scores", "MultiHeadAttention",
         {"num_heads": 2, "key_dim": 3, "value_dim": 2, "use_gate": True},
         [(2, 4, 5), (2, 5, 6)], call_kwargs={"return_attention_scores": True}, **mha)
    case("mha_gate_nobias_causal", "MultiHeadAttention",
         {"num_heads": 2, "key_dim": 2, "use_gate": True, "use_bias": False},
         [(2, 4, 3), (2, 4, 3)], call_kwargs={"use_causal_mask": True}, **mha)
    case("mha_gate_axes1", "MultiHeadAttention",
         {"num_heads": 2, "key_dim": 2, "use_gate": True, "attention_axes": (1,)},
         [(2, 3, 2, 4), (2, 4, 2, 5)], call_kwargs={"return_attention_scores": True}, **mha)
    # sliding_window: |i - j| < window, with and without the causal mask.
    case("mha_sliding_window", "MultiHeadAttention", {"num_heads": 2, "key_dim": 2, "sliding_window": 2},
         [(2, 5, 3), (2, 5, 3)], **mha)
    case("mha_sliding_window_causal_scores", "MultiHeadAttention",
         {"num_heads": 2, "key_dim": 2, "sliding_window": 3},
         [(2, 5, 3), (2, 6, 3)], call_kwargs={"use_causal_mask": True, "return_attention_scores": True},
         **mha)


def sub(cls, config):
    """A nested layer (a wrapper's argument) in a case's config, built by run_case."""
    return {"__layer__": cls, "config": dict(config)}


def materialize(config):
    """The case config with every sub() replaced by the layer instance (named after its key,
    so configs do not depend on Keras's global name counters)."""
    return {k: getattr(keras.layers, v["__layer__"])(**{"name": k, **v["config"]})
            if isinstance(v, dict) and "__layer__" in v else v
            for k, v in config.items()}


# ---------------------------------------------------------------------------------------

def weight_value(rng, layer, w):
    """A deterministic random value for weight `w` of `layer`."""
    shape = tuple(w.shape)
    path = w.path.split("/")[-1]
    if "moving_variance" in path:
        return rng.uniform(0.5, 1.5, size=shape).astype(F32)
    if "moving_mean" in path:
        return rng.normal(0.0, 0.5, size=shape).astype(F32)
    if path == "gamma":
        return rng.uniform(0.5, 1.5, size=shape).astype(F32)
    if path == "alpha":  # PReLU
        return rng.uniform(0.05, 0.5, size=shape).astype(F32)
    return rng.normal(0.0, 0.5, size=shape).astype(F32)


def to_jsonable(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {o!r}")


def run_case(name, cls, config, shapes, training, opts):
    seed = seed_for(name)
    rng = np.random.default_rng(seed)
    layer = getattr(keras.layers, cls)(name=name, **materialize(config))
    positional = opts.get("positional", False)
    call_kwargs = opts.get("call_kwargs", {})
    multi = len(shapes) > 1 or cls in ("Add", "Subtract", "Multiply", "Average", "Maximum",
                                       "Minimum", "Concatenate", "Dot")
    if positional:
        layer.build(*shapes)
    else:
        layer.build(list(shapes) if multi else shapes[0])

    for w in layer.weights:
        w.assign(weight_value(rng, layer, w))

    # Inputs
    int_spec = opts.get("int")
    scale = opts.get("scale", 1.0)
    inputs = []
    for s in shapes:
        if int_spec:
            dt, high = int_spec
            inputs.append(rng.integers(0, high, size=s).astype(dt))
        else:
            inputs.append((rng.normal(size=s) * scale).astype(F32))
    float_idx = [i for i, x in enumerate(inputs) if x.dtype == F32]

    tv = [jnp.asarray(v.value) for v in layer.trainable_variables]
    ntv = [jnp.asarray(v.value) for v in layer.non_trainable_variables]
    kwargs = dict(call_kwargs)
    if "training" in inspect.signature(layer.call).parameters:
        kwargs["training"] = training
    elif training:
        pass  # layers without a training argument behave the same either way

    def forward(float_inputs, tvars):
        xs = [jnp.asarray(x) for x in inputs]
        for i, fx in zip(float_idx, float_inputs):
            xs[i] = fx
        args = xs if positional else [xs if multi else xs[0]]
        y, new_ntv = layer.stateless_call(tvars, ntv, *args, **kwargs)
        return y, new_ntv

    float_in = [jnp.asarray(inputs[i]) for i in float_idx]
    y, new_ntv = forward(float_in, tv)
    # Several outputs (a recurrent layer with return_state): the first is `output`, the
    # others `extra_output/<i>`, each with its own cotangent.
    ys = [np.asarray(o) for o in y] if isinstance(y, (list, tuple)) else [np.asarray(y)]
    y = ys[0]
    cts = [rng.normal(size=o.shape).astype(F32) for o in ys]
    ct = cts[0]

    def objective(float_inputs, tvars):
        out, _ = forward(float_inputs, tvars)
        outs = out if isinstance(out, (list, tuple)) else [out]
        return sum(jnp.sum(o * jnp.asarray(c)) for o, c in zip(outs, cts))

    g_in, g_w = jax.grad(objective, argnums=(0, 1))(float_in, tv)
    # Guard against degenerate draws (e.g. a ReLU output that is all zeros).
    assert np.any(y != 0), f"{name}: output is all zeros; change the case"
    for g in list(g_in) + list(g_w):
        assert np.any(np.asarray(g) != 0), f"{name}: a gradient is all zeros; change the case"

    for i, x in enumerate(inputs):
        put(f"{name}/input/{i}", x)
    for i, w in enumerate(layer.weights):
        put(f"{name}/weight/{i}", np.asarray(w.value))
    put(f"{name}/output", y)
    put(f"{name}/cotangent", ct)
    for i in range(1, len(ys)):
        put(f"{name}/extra_output/{i}", ys[i])
        put(f"{name}/extra_cotangent/{i}", cts[i])
    for i, g in zip(float_idx, g_in):
        put(f"{name}/grad_input/{i}", g)
    for i, g in enumerate(g_w):
        put(f"{name}/grad_weight/{i}", g)

    # Non-trainable weights after the call (the seed-generator state is a variable, not a
    # weight: map through identity).
    nt_weights = layer.non_trainable_weights
    state_after = False
    if training and nt_weights:
        by_id = {id(v): val for v, val in zip(layer.non_trainable_variables, new_ntv)}
        for i, w in enumerate(nt_weights):
            put(f"{name}/state_after/{i}", np.asarray(by_id[id(w)]))
        state_after = True

    # MultiHeadAttention's key bias adds the same amount to every score of a row, which the
    # softmax ignores: its gradient is exactly zero, and float32 leaves only rounding noise
    # (of either sign, ~1e-7). The test checks those against the case's gradient scale.
    cancelling = []
    if cls == "MultiHeadAttention":
        cancelling = [i for i, w in enumerate(layer.trainable_weights)
                      if w.path.endswith("key/bias")]

    config_out = json.loads(json.dumps(layer.get_config(), default=to_jsonable))
    return {
        "name": name,
        "class_name": cls,
        "config": config_out,
        "input_shapes": [list(s) for s in shapes],
        "input_dtypes": [str(x.dtype) for x in inputs],
        "training": training,
        "seed": seed,
        "n_weights": len(layer.weights),
        "n_trainable": len(layer.trainable_weights),
        "weight_names": [w.path.split("/")[-1] for w in layer.weights],
        "trainable_weight_names": [w.path.split("/")[-1] for w in layer.trainable_weights],
        "non_trainable_weight_names": [w.path.split("/")[-1] for w in nt_weights],
        "output_shape": list(y.shape),
        "n_outputs": len(ys),
        "output_shapes": [list(o.shape) for o in ys],
        "state_after": state_after,
        **({"call_kwargs": call_kwargs} if call_kwargs else {}),
        **({"cancelling_grad_weights": cancelling} if cancelling else {}),
    }


def main():
    out_dir = out_dir_arg()
    add_cases()
    meta = [run_case(*c) for c in CASES]
    write(out_dir, "layers", meta, indent=1)


if __name__ == "__main__":
    main()
