//! Trains Keras's MNIST MLP (784-128-10, Adam) on random MNIST-shaped data for one epoch and
//! prints the summary, the progress bar and `evaluate`'s logs. Real MNIST arrives with
//! `keras::datasets`; the model code is the same.
//!
//! `cargo run --release -p keras --example mnist_shaped_mlp`
use keras::layers::{Dense, Dropout};
use keras::{losses, optimizers, FitArgs, Sequential, Trainer};
use keras_tensor::{DType, Device, Tensor};

fn main() -> keras_tensor::Result<()> {
    keras::set_random_seed(1337);
    let cpu = Device::Cpu;
    let x = Tensor::random_uniform(&[6000, 784], 0.0, 1.0, 1, DType::F32, &cpu)?;
    // Labels from a fixed random linear "teacher", so the task is learnable.
    let teacher = Tensor::random_normal(&[784, 10], 0.0, 1.0, 2, DType::F32, &cpu)?;
    let y = x.sub_scalar(0.5)?.matmul(&teacher)?.argmax(-1, false)?;
    let mut model = Sequential::new(vec![
        Box::new(Dense::new(128).activation("relu")?),
        Box::new(Dropout::new(0.2)?),
        Box::new(Dense::new(10).activation("softmax")?),
    ])
    .input_shape(&[784]);
    println!("{}", model.summary()?);
    model.compile(
        optimizers::get("adam")?,
        losses::get("sparse_categorical_crossentropy")?,
        &["accuracy"],
    )?;
    model.fit(
        &x,
        &y,
        FitArgs {
            epochs: 3,
            batch_size: 128,
            validation_split: 0.1,
            ..Default::default()
        },
    )?;
    let logs = model.evaluate(&x, &y, 256)?;
    println!("Test accuracy: {:.4}", logs["accuracy"]);
    Ok(())
}
