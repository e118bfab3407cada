//! The reference application: a CIFAR-10 classifier. Augmentation layers (active only while
//! training), three Conv–BatchNorm–ReLU blocks with max pooling and dropout, Adam on a
//! warmup-then-cosine learning-rate schedule, EarlyStopping and CSVLogger callbacks, then the
//! test accuracy, a training-curve PNG and the trained model as `cifar10_cnn.keras` (Keras 3's
//! format: Keras loads it too).
//!
//! The recipe is sized for a short budget: 11 epochs at batch 128 take about 38 minutes on
//! two CPU cores. The schedule spans the epochs asked for, so `--epochs` shortens the whole
//! schedule rather than cutting it off.
//!
//! `cargo run --release -p keras --example cifar10_cnn -- --epochs 11`
mod common;

use clap::Parser;
use keras::callbacks::{shared, CSVLogger, EarlyStopping};
use keras::layers::{
    Activation, BatchNormalization, Conv2D, Dense, Dropout, GlobalAveragePooling2D, Layer, MaxPooling2D,
    RandomFlip, RandomTranslation, Rescaling,
};
use keras::optimizers::{schedules::CosineDecay, Adam};
use keras::{datasets, losses, FitArgs, Sequential, Trainer};

fn block(filters: usize, dropout: f64) -> keras_tensor::Result<Vec<Box<dyn Layer>>> {
    let mut v: Vec<Box<dyn Layer>> = Vec::new();
    for _ in 0..2 {
        v.push(Box::new(Conv2D::new(filters, 3).padding("same")?.use_bias(false)));
        v.push(Box::new(BatchNormalization::new()));
        v.push(Box::new(Activation::new("relu")?));
    }
    v.push(Box::new(MaxPooling2D::new(2)));
    v.push(Box::new(Dropout::new(dropout)?));
    Ok(v)
}

fn main() -> keras_tensor::Result<()> {
    let args = common::Args::parse();
    keras::set_random_seed(1337);
    let ((x_train, y_train), (x_test, y_test)) = match datasets::cifar10::load_data() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("CIFAR-10 is not available: {e}");
            eprintln!(
                "keras-rs downloads the canonical binary batches when online (unset KERAS_OFFLINE), or"
            );
            eprintln!(
                "put cifar-10-batches-bin/ in $KERAS_HOME/datasets. Training the MNIST convnet instead."
            );
            return common::mnist_convnet(&args);
        }
    };
    let x_train = common::limit(&x_train.cast(keras_tensor::DType::F32)?, args.limit)?;
    let y_train = common::limit(&common::labels(&y_train)?, args.limit)?;
    let (x_test, y_test) = (x_test.cast(keras_tensor::DType::F32)?, common::labels(&y_test)?);
    println!(
        "x_train shape: {:?}, {} test samples",
        x_train.shape(),
        x_test.shape()[0]
    );
    let mut layers: Vec<Box<dyn Layer>> = vec![
        Box::new(Rescaling::new(1.0 / 255.0)),
        Box::new(RandomFlip::new("horizontal")?),
        Box::new(RandomTranslation::new(0.1, 0.1)?),
    ];
    layers.extend(block(32, 0.1)?);
    layers.extend(block(64, 0.1)?);
    layers.extend(block(128, 0.2)?);
    layers.push(Box::new(GlobalAveragePooling2D::new()));
    layers.push(Box::new(Dense::new(10).activation("softmax")?));
    let mut model = Sequential::new(layers).input_shape(&[32, 32, 3]);
    println!("{}", model.summary()?);
    // One epoch of linear warmup to 2e-3, then a cosine decay over the remaining epochs.
    let (batch_size, epochs, validation_split) =
        (args.batch_size.unwrap_or(128), args.epochs.unwrap_or(11), 0.1);
    let train_len = x_train.shape()[0] - (x_train.shape()[0] as f64 * validation_split) as usize;
    let steps_per_epoch = train_len.div_ceil(batch_size) as f64;
    let schedule = CosineDecay::new(1e-4, steps_per_epoch * (epochs.max(2) - 1) as f64)
        .alpha(0.01)
        .warmup_target(Some(2e-3))
        .warmup_steps(steps_per_epoch);
    model.compile(
        Box::new(Adam::new().learning_rate(schedule)),
        losses::get("sparse_categorical_crossentropy")?,
        &["accuracy"],
    )?;
    let stop = shared(
        EarlyStopping::new()
            .monitor("val_accuracy")
            .patience(4)
            .restore_best_weights(true),
    );
    let log = shared(CSVLogger::new("cifar10_cnn.csv"));
    let fit = FitArgs {
        batch_size,
        epochs,
        validation_split,
        verbose: args.verbose,
        callbacks: vec![stop, log],
        ..Default::default()
    };
    let start = std::time::Instant::now();
    let history = model.fit(&x_train, &y_train, fit)?;
    println!("Trained in {:.1}s", start.elapsed().as_secs_f64());
    history.plot("cifar10_cnn.png")?;
    println!("Wrote the training curves to cifar10_cnn.png");
    let logs = model.evaluate(&x_test, &y_test, 256)?;
    println!("Test loss: {:.4}", logs["loss"]);
    println!("Test accuracy: {:.4}", logs["accuracy"]);
    model.save("cifar10_cnn.keras")?;
    println!("Saved the model to cifar10_cnn.keras (keras-rs predict cifar10_cnn.keras IMAGE.png)");
    Ok(())
}
