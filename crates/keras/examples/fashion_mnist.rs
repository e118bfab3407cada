//! Fashion-MNIST with keras.io's simple convnet: Conv 32 → pool → Conv 64 → pool → Flatten →
//! Dropout 0.5 → Dense softmax; Adam, batch 128, 15 epochs, validation_split 0.1.
//!
//! `cargo run --release -p keras --example fashion_mnist -- --epochs 15`
mod common;

use clap::Parser;
use keras::datasets;

fn main() -> keras_tensor::Result<()> {
    common::simple_convnet(&common::Args::parse(), datasets::fashion_mnist::load_data)
}
