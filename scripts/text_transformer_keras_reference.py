"""keras.io's "Text classification with Transformer" model, run by Keras 3 itself on the padded
synthetic reviews that `examples/text_transformer.rs` trains on: a check of what the recipe
does on these data, independent of keras-rs.

The four arrays are the example's own, written with `keras_datasets::npy::save_npy` from the
tensors of `examples/common::text_data(&args, 20000, 200, 32)` (default arguments: 10,000
training and 2,000 test reviews, padded to 32) to /tmp/sr_{xtr,ytr,xte,yte}.npy, e.g. by a
scratch example:

    let d = common::text_data(&common::Args::parse(), 20000, 200, 32)?;
    save_npy("/tmp/sr_xtr.npy", &d.x_train)?; // and y_train, x_test, y_test

Usage: KERAS_BACKEND=jax python scripts/text_transformer_keras_reference.py EPOCHS [SEED]
Measured 2026-11-29 with Keras 3.15.1 on JAX: 6 epochs, test accuracy 0.5000 (loss 0.6932,
the plateau at chance keras-rs also starts on); 30 epochs, 1.0000 (it left the plateau at
epoch 7; keras-rs at epoch 28). Log: docs/benchmarks/text_transformer-2026-11-29.log.
"""
import os, sys
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np, keras
from keras import layers, ops
keras.utils.set_random_seed(int(sys.argv[2]) if len(sys.argv) > 2 else 1337)
xtr, ytr, xte, yte = [np.load(f"/tmp/sr_{n}.npy") for n in ["xtr", "ytr", "xte", "yte"]]
maxlen, vocab, embed_dim, num_heads, ff_dim = 32, 20000, 32, 2, 32
class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)
    def call(self, inputs):
        attn_output = self.dropout1(self.att(inputs, inputs))
        out1 = self.layernorm1(inputs + attn_output)
        return self.layernorm2(out1 + self.dropout2(self.ffn(out1)))
class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)
    def call(self, x):
        positions = ops.arange(start=0, stop=ops.shape(x)[-1], step=1)
        return self.token_emb(x) + self.pos_emb(positions)
inputs = layers.Input(shape=(maxlen,))
x = TokenAndPositionEmbedding(maxlen, vocab, embed_dim)(inputs)
x = TransformerBlock(embed_dim, num_heads, ff_dim)(x)
x = layers.GlobalAveragePooling1D()(x)
x = layers.Dropout(0.1)(x)
x = layers.Dense(20, activation="relu")(x)
x = layers.Dropout(0.1)(x)
outputs = layers.Dense(2, activation="softmax")(x)
model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(xtr, ytr, batch_size=32, epochs=int(sys.argv[1]), validation_data=(xte, yte), verbose=2)
print("Keras test:", model.evaluate(xte, yte, verbose=0))
