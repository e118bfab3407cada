//! ResNet-20 (He et al. 2015, section 4.2; [`keras::applications::resnet_cifar`]) trained on
//! CIFAR-10 with the usual recipe for it: per-channel standardization, random horizontal
//! flips and shifts of up to 4 pixels (zero-filled) while training, SGD with Nesterov
//! momentum 0.9 and weight decay on a one-epoch warmup to 0.1 followed by a cosine decay
//! over the remaining epochs. The test set is the validation data, as in Keras's own CIFAR
//! ResNet example; nothing is selected on it (no early stopping, no best-epoch restore).
//! It writes `resnet20_cifar.csv` (per-epoch logs), `resnet20_cifar.png` (curves) and the
//! trained model `resnet20_cifar.keras`, which takes raw 0–255 pixels.
//!
//! The schedule spans the epochs asked for (60 by default: 88.2% test accuracy on the JPEG
//! re-encode in `../shared`, against 87.3% with 35), so `--epochs` shortens the whole
//! schedule rather than cutting it off. `--depth` trains the deeper CIFAR ResNets (32, 44, 56,
//! 110).
//!
//! `cargo run --release -p keras --example resnet20_cifar -- --verbose 2`
mod common;

use clap::Parser;
use keras::applications::resnet_cifar;
use keras::callbacks::{shared, CSVLogger};
use keras::layers::{Layer, Normalization, RandomFlip, RandomTranslation};
use keras::optimizers::{schedules::CosineDecay, SGD};
use keras::{datasets, losses, FitArgs, Sequential, Trainer};
use keras_tensor::{DType, Result};

/// Options of the CIFAR ResNet example.
#[derive(Parser, Debug)]
struct Options {
    #[command(flatten)]
    common: common::Args,
    /// Depth of the CIFAR ResNet (6n + 2: 20, 32, 44, 56, 110).
    #[arg(long, default_value_t = 20)]
    depth: usize,
    /// Peak learning rate, reached after one epoch of linear warmup.
    #[arg(long, default_value_t = 0.1)]
    learning_rate: f64,
    /// Decoupled weight decay (Keras's `weight_decay`: `w -= w * weight_decay * lr` each
    /// step); 5e-3 shrinks as much as PyTorch's coupled 5e-4 does under momentum 0.9.
    #[arg(long, default_value_t = 5e-3)]
    weight_decay: f64,
}

fn main() -> Result<()> {
    let args = Options::parse();
    keras::set_random_seed(1337);
    let ((x_train, y_train), (x_test, y_test)) =
        datasets::cifar10::load_data().unwrap_or_else(|e| common::missing(e));
    let x_train = common::limit(&x_train.cast(DType::F32)?, args.common.limit)?;
    let y_train = common::limit(&common::labels(&y_train)?, args.common.limit)?;
    let (x_test, y_test) = (x_test.cast(DType::F32)?, common::labels(&y_test)?);
    println!(
        "x_train shape: {:?}, {} test samples",
        x_train.shape(),
        x_test.shape()[0]
    );

    // Per-channel mean and variance of the training images, kept in the model.
    let mut standardize = Normalization::new();
    standardize.adapt(&x_train)?;
    let layers: Vec<Box<dyn Layer>> = vec![
        Box::new(standardize),
        Box::new(RandomFlip::new("horizontal")?),
        // Whole-pixel shifts of up to 4 (1/8 of 32), zero (the mean) outside the image: the
        // pad-4-and-crop augmentation of the paper.
        Box::new(
            RandomTranslation::new(0.125, 0.125)?
                .fill_mode("constant")?
                .interpolation("nearest")?,
        ),
        Box::new(resnet_cifar(args.depth)?),
    ];
    let mut model = Sequential::new(layers).input_shape(&[32, 32, 3]);
    println!("{}", model.summary()?);

    let (batch_size, epochs) = (
        args.common.batch_size.unwrap_or(128),
        args.common.epochs.unwrap_or(60),
    );
    let steps_per_epoch = x_train.shape()[0].div_ceil(batch_size) as f64;
    let schedule = CosineDecay::new(
        args.learning_rate / 10.0,
        steps_per_epoch * (epochs.max(2) - 1) as f64,
    )
    .alpha(0.0)
    .warmup_target(Some(args.learning_rate))
    .warmup_steps(steps_per_epoch);
    let optimizer = SGD::new()
        .learning_rate(schedule)
        .momentum(0.9)
        .nesterov(true)
        .weight_decay(args.weight_decay);
    model.compile(
        Box::new(optimizer),
        losses::get("sparse_categorical_crossentropy")?,
        &["accuracy"],
    )?;
    let name = format!("resnet{}_cifar", args.depth);
    let fit = FitArgs {
        batch_size,
        epochs,
        validation_data: Some(((&x_test).into(), (&y_test).into())),
        verbose: args.common.verbose,
        callbacks: vec![shared(CSVLogger::new(format!("{name}.csv")))],
        ..Default::default()
    };
    let start = std::time::Instant::now();
    let history = model.fit(&x_train, &y_train, fit)?;
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "Trained in {seconds:.1}s ({:.1} min, {} threads)",
        seconds / 60.0,
        rayon::current_num_threads()
    );
    history.plot(format!("{name}.png"))?;
    println!("Wrote the training curves to {name}.png");
    let logs = model.evaluate(&x_test, &y_test, 256)?;
    println!("Test loss: {:.4}", logs["loss"]);
    println!("Test accuracy: {:.4}", logs["accuracy"]);
    model.save(format!("{name}.keras"))?;
    println!("Saved the model to {name}.keras (keras-rs predict {name}.keras IMAGE.png)");
    Ok(())
}
