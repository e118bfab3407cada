//! Keras's classic MNIST MLP: Dense 512 relu → Dropout 0.2 → Dense 512 relu → Dropout 0.2 →
//! Dense 10 softmax; RMSprop, batch 128, 20 epochs.
//!
//! `cargo run --release -p keras --example mnist_mlp -- --epochs 20`
mod common;

use clap::Parser;
use keras::layers::{Dense, Dropout, Flatten};
use keras::{datasets, losses, optimizers, FitArgs, Sequential, Trainer};

fn main() -> keras_tensor::Result<()> {
    let args = common::Args::parse();
    keras::set_random_seed(1337);
    let ((x_train, y_train), (x_test, y_test)) =
        datasets::mnist::load_data().unwrap_or_else(|e| common::missing(e));
    let x_train = common::limit(&common::scale_images(&x_train)?, args.limit)?;
    let y_train = common::limit(&common::labels(&y_train)?, args.limit)?;
    let (x_test, y_test) = (common::scale_images(&x_test)?, common::labels(&y_test)?);
    let mut model = Sequential::new(vec![
        Box::new(Flatten::new()),
        Box::new(Dense::new(512).activation("relu")?),
        Box::new(Dropout::new(0.2)?),
        Box::new(Dense::new(512).activation("relu")?),
        Box::new(Dropout::new(0.2)?),
        Box::new(Dense::new(10).activation("softmax")?),
    ])
    .input_shape(&[28, 28, 1]);
    println!("{}", model.summary()?);
    model.compile(
        optimizers::get("rmsprop")?,
        losses::get("sparse_categorical_crossentropy")?,
        &["accuracy"],
    )?;
    let fit = FitArgs {
        batch_size: args.batch_size.unwrap_or(128),
        epochs: args.epochs.unwrap_or(20),
        verbose: args.verbose,
        validation_data: Some(((&x_test).into(), (&y_test).into())),
        ..Default::default()
    };
    model.fit(&x_train, &y_train, fit)?;
    let logs = model.evaluate(&x_test, &y_test, 256)?;
    println!("Test loss: {:.4}", logs["loss"]);
    println!("Test accuracy: {:.4}", logs["accuracy"]);
    Ok(())
}
