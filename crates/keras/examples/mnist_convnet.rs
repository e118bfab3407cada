//! keras.io's "Simple MNIST convnet": Conv 32 → pool → Conv 64 → pool → Flatten → Dropout 0.5 →
//! Dense softmax; Adam, batch 128, 15 epochs, validation_split 0.1. Keras reports about 99%
//! test accuracy.
//!
//! `cargo run --release -p keras --example mnist_convnet -- --epochs 15`
mod common;

use clap::Parser;

fn main() -> keras_tensor::Result<()> {
    common::mnist_convnet(&common::Args::parse())
}
