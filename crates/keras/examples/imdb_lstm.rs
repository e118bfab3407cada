//! Keras's IMDB LSTM example (`examples/imdb_lstm.py`): sentiment classification with
//! `Embedding(max_features, 128)` → `LSTM(128, dropout=0.2, recurrent_dropout=0.2)` →
//! `Dense(1, sigmoid)`, binary cross-entropy, Adam, batch 32, the test set as validation
//! data. Keras's recipe: 20,000 words, sequences padded or cut to 80, 15 epochs.
//!
//! The data: IMDB (`keras::datasets::imdb`) when `imdb.npz` is in `$KERAS_HOME/datasets`,
//! read offline; otherwise the synthetic movie reviews made here from a seed
//! (`keras::datasets::synthetic_reviews`: a small English grammar with negation and "but"
//! contrasts, where the clause after "but" decides the label), padded to 32. The first line
//! says which.
//!
//! `--bag-of-words` trains a baseline that ignores word order instead of the LSTM: the same
//! embedding, averaged over the words (padding masked out), then `Dense(64, relu)` →
//! `Dense(1, sigmoid)`. On the synthetic reviews it cannot exceed about 75% (on a contrast
//! review, swapping the clauses keeps its words and flips its label).
//!
//! `cargo run --release -p keras --example imdb_lstm -- --epochs 6`
mod common;

use clap::Parser;
use keras::layers::{Dense, Embedding, GlobalAveragePooling1D, Layer, LSTM};
use keras::{losses, optimizers, Sequential, Trainer};

/// Keras's sizes.
const MAX_FEATURES: usize = 20_000;
const IMDB_MAXLEN: usize = 80;
/// The longest synthetic review has 28 words, 29 tokens with the start mark.
const SYNTHETIC_MAXLEN: usize = 32;

#[derive(Parser, Debug)]
struct LstmArgs {
    #[command(flatten)]
    common: common::Args,
    /// Train the order-blind baseline (embedding average → Dense) instead of the LSTM.
    #[arg(long)]
    bag_of_words: bool,
}

fn main() -> keras_tensor::Result<()> {
    let args = LstmArgs::parse();
    keras::set_random_seed(1337);
    let data = common::text_data(&args.common, MAX_FEATURES, IMDB_MAXLEN, SYNTHETIC_MAXLEN)?;
    println!(
        "x_train shape: {:?}, x_test shape: {:?}",
        data.x_train.shape(),
        data.x_test.shape()
    );

    let layers: Vec<Box<dyn Layer>> = if args.bag_of_words {
        println!("Model: bag of words (word order ignored)");
        vec![
            Box::new(Embedding::new(MAX_FEATURES, 128)?.mask_zero(true)),
            Box::new(GlobalAveragePooling1D::new()),
            Box::new(Dense::new(64).activation("relu")?),
            Box::new(Dense::new(1).activation("sigmoid")?),
        ]
    } else {
        println!("Model: LSTM");
        vec![
            Box::new(Embedding::new(MAX_FEATURES, 128)?),
            Box::new(LSTM::new(128).dropout(0.2)?.recurrent_dropout(0.2)?),
            Box::new(Dense::new(1).activation("sigmoid")?),
        ]
    };
    let mut model = Sequential::new(layers).input_shape(&[data.maxlen]);
    println!("{}", model.summary()?);
    model.compile(
        optimizers::get("adam")?,
        losses::get("binary_crossentropy")?,
        &["accuracy"],
    )?;
    data.fit_and_report(&mut model, &args.common, 15)?;
    Ok(())
}
