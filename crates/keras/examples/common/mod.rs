//! What the examples share: command-line options, image scaling, the final report.
#![allow(dead_code)]

use clap::Parser;
use keras::layers::{Conv2D, Dense, Dropout, Flatten, MaxPooling2D};
use keras::{datasets, losses, optimizers, FitArgs, Sequential, Trainer};
use keras_tensor::{DType, Result, Tensor};

/// The options every example takes.
#[derive(Parser, Debug)]
pub struct Args {
    /// Epochs to train (each example has its own default, Keras's).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Samples per gradient step.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Train on only the first N training samples (a quick run).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Progress output: 0 silent, 1 a bar, 2 one line per epoch.
    #[arg(long, default_value_t = 1)]
    pub verbose: u8,
}

/// `uint8` images to float32 in [0, 1], with a trailing channel axis when missing.
pub fn scale_images(x: &Tensor) -> Result<Tensor> {
    let x = x.cast(DType::F32)?.div_scalar(255.0)?;
    if x.rank() == 3 {
        x.expand_dims(-1)
    } else {
        Ok(x)
    }
}

/// The first `n` samples, when asked.
pub fn limit(t: &Tensor, n: Option<usize>) -> Result<Tensor> {
    match n {
        Some(n) if n < t.shape()[0] => t.narrow(0, 0, n),
        _ => Ok(t.clone()),
    }
}

/// Labels as `int64` of shape `(n,)` (CIFAR's come as `(n, 1)` `uint8`).
pub fn labels(y: &Tensor) -> Result<Tensor> {
    y.reshape(&[-1])?.cast(DType::I64)
}

/// Says how to get a dataset that is missing, then exits with status 2.
pub fn missing(e: impl std::fmt::Display) -> ! {
    eprintln!("error: {e}");
    eprintln!(
        "Put the files in $KERAS_HOME/datasets (default ~/.keras/datasets), or let keras-rs download them \
         (unset KERAS_OFFLINE)."
    );
    std::process::exit(2)
}

/// keras.io's "Simple MNIST convnet" on MNIST: the `mnist_convnet` example, and what
/// `cifar10_cnn` trains when no CIFAR-10 copy can be found.
pub fn mnist_convnet(args: &Args) -> Result<()> {
    simple_convnet(args, datasets::mnist::load_data)
}

/// keras.io's simple convnet on 28x28 grey images from `load` (MNIST or Fashion-MNIST).
pub fn simple_convnet(args: &Args, load: fn() -> datasets::Result<datasets::TrainTest>) -> Result<()> {
    keras::set_random_seed(1337);
    let ((x_train, y_train), (x_test, y_test)) = load().unwrap_or_else(|e| missing(e));
    let x_train = limit(&scale_images(&x_train)?, args.limit)?;
    let y_train = limit(&labels(&y_train)?, args.limit)?;
    let (x_test, y_test) = (scale_images(&x_test)?, labels(&y_test)?);
    println!(
        "x_train shape: {:?}, {} test samples",
        x_train.shape(),
        x_test.shape()[0]
    );
    let mut model = Sequential::new(vec![
        Box::new(Conv2D::new(32, 3).activation("relu")?),
        Box::new(MaxPooling2D::new(2)),
        Box::new(Conv2D::new(64, 3).activation("relu")?),
        Box::new(MaxPooling2D::new(2)),
        Box::new(Flatten::new()),
        Box::new(Dropout::new(0.5)?),
        Box::new(Dense::new(10).activation("softmax")?),
    ])
    .input_shape(&[28, 28, 1]);
    println!("{}", model.summary()?);
    model.compile(
        optimizers::get("adam")?,
        losses::get("sparse_categorical_crossentropy")?,
        &["accuracy"],
    )?;
    let fit = FitArgs {
        batch_size: args.batch_size.unwrap_or(128),
        epochs: args.epochs.unwrap_or(15),
        validation_split: 0.1,
        verbose: args.verbose,
        ..Default::default()
    };
    let start = std::time::Instant::now();
    model.fit(&x_train, &y_train, fit)?;
    println!("Trained in {:.1}s", start.elapsed().as_secs_f64());
    let logs = model.evaluate(&x_test, &y_test, 256)?;
    println!("Test loss: {:.4}", logs["loss"]);
    println!("Test accuracy: {:.4}", logs["accuracy"]);
    model.save("mnist_convnet.keras")?;
    println!("Saved the model to mnist_convnet.keras");
    Ok(())
}

/// The data of the text examples, as padded `(n, maxlen)` word indices and `int64` labels.
pub struct TextData {
    /// What the data are, for the report.
    pub name: &'static str,
    /// `(n, maxlen)` word indices (`int32`), padded and cut at the start as Keras's
    /// `pad_sequences`.
    pub x_train: Tensor,
    /// `(n,)` labels, 1 positive.
    pub y_train: Tensor,
    /// As `x_train`.
    pub x_test: Tensor,
    /// As `y_train`.
    pub y_test: Tensor,
    /// The padded length.
    pub maxlen: usize,
}

impl TextData {
    /// Keras's text examples: fits with the test split as validation data (batch 32 unless
    /// `--batch-size`), then prints the training time, the data and the test loss and
    /// accuracy (the `Test accuracy:` line CI reads).
    pub fn fit_and_report(&self, model: &mut impl Trainer, args: &Args, default_epochs: usize) -> Result<()> {
        let fit = FitArgs {
            batch_size: args.batch_size.unwrap_or(32),
            epochs: args.epochs.unwrap_or(default_epochs),
            validation_data: Some((self.x_test.clone().into(), self.y_test.clone().into())),
            verbose: args.verbose,
            ..Default::default()
        };
        let start = std::time::Instant::now();
        model.fit(&self.x_train, &self.y_train, fit)?;
        println!("Trained in {:.1}s", start.elapsed().as_secs_f64());
        let logs = model.evaluate(&self.x_test, &self.y_test, 32)?;
        println!("Data: {}", self.name);
        println!("Test loss: {:.4}", logs["loss"]);
        println!("Test accuracy: {:.4}", logs["accuracy"]);
        Ok(())
    }
}

/// Training and test reviews of the made data (`keras_datasets::synthetic_reviews`).
pub const SYNTHETIC_SIZES: (usize, usize) = (10_000, 2_000);

/// IMDB (`keras.datasets.imdb`, the `num_words` most frequent words, padded to `imdb_maxlen`)
/// when `imdb.npz` is in `$KERAS_HOME/datasets`; otherwise the synthetic movie reviews made
/// here from a seed (`keras_datasets::synthetic_reviews`, same form and conventions), padded
/// to `synthetic_maxlen`. Says which. With `--limit N`, the first N training and the first N
/// test samples.
pub fn text_data(
    args: &Args,
    num_words: usize,
    imdb_maxlen: usize,
    synthetic_maxlen: usize,
) -> Result<TextData> {
    use datasets::{imdb, synthetic_reviews, utils};
    let imdb_file = datasets::datasets_dir().join("imdb.npz");
    let (name, maxlen, ((x_train, y_train), (x_test, y_test))) = if imdb_file.exists() {
        println!("Data: IMDB from {}", imdb_file.display());
        let args = imdb::LoadArgs {
            num_words: Some(num_words),
            ..Default::default()
        };
        let data = imdb::load_data(args).unwrap_or_else(|e| missing(e));
        ("IMDB", imdb_maxlen, data)
    } else {
        println!(
            "Data: no imdb.npz in {}, so the SYNTHETIC movie reviews of keras_datasets::synthetic_reviews \
             (made here from a small grammar and a seed; not IMDB): {} training, {} test reviews",
            imdb_file.parent().unwrap_or(&imdb_file).display(),
            SYNTHETIC_SIZES.0,
            SYNTHETIC_SIZES.1
        );
        let args = synthetic_reviews::LoadArgs {
            num_train: SYNTHETIC_SIZES.0,
            num_test: SYNTHETIC_SIZES.1,
            num_words: Some(num_words),
            ..Default::default()
        };
        let data = synthetic_reviews::load_data(&args).map_err(|e| keras_tensor::Error::InvalidArgument {
            op: "synthetic_reviews",
            msg: e.to_string(),
        })?;
        ("synthetic reviews", synthetic_maxlen, data)
    };
    let pad = |x: &[Vec<i64>]| {
        utils::pad_sequences(
            x,
            utils::PadArgs {
                maxlen: Some(maxlen),
                ..Default::default()
            },
        )
        .map_err(|e| keras_tensor::Error::InvalidArgument {
            op: "pad_sequences",
            msg: e.to_string(),
        })
    };
    let data = TextData {
        name,
        x_train: limit(&pad(&x_train)?, args.limit)?,
        y_train: limit(&y_train, args.limit)?,
        x_test: limit(&pad(&x_test)?, args.limit)?,
        y_test: limit(&y_test, args.limit)?,
        maxlen,
    };
    println!(
        "{} train sequences, {} test sequences, padded to {maxlen}",
        data.x_train.shape()[0],
        data.x_test.shape()[0]
    );
    Ok(data)
}
