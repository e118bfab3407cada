//! A variational autoencoder on MNIST, as in Keras's "Variational AutoEncoder" example: a
//! convolutional encoder to a 2-D latent mean and log-variance, the reparameterisation
//! trick, a transposed-convolution decoder, and a custom training step whose loss is the
//! reconstruction term (binary cross-entropy summed over the pixels) plus the KL divergence.
//!
//! Each epoch prints the mean total, reconstruction and KL losses; the curves go to
//! `mnist_vae.png`, a 15x15 grid decoded from the latent plane to `mnist_vae_latent.png`,
//! and the decoder to `mnist_vae_decoder.keras`.
//!
//! `cargo run --release -p keras --example mnist_vae -- --epochs 30`
mod common;

use clap::Parser;
use keras::layers::{Conv2D, Conv2DTranspose, Dense, Flatten, Layer, Reshape};
use keras::optimizers::{Adam, Optimizer};
use keras::{data, datasets, History, Sequential};
use keras_tensor::ops::composite::binary_crossentropy_elementwise;
use keras_tensor::{DType, Device, GradientTape, Result, Tensor};

/// Options of the VAE example.
#[derive(Parser, Debug)]
struct Args {
    /// Epochs over the 70,000 MNIST digits (train and test, as Keras's example uses).
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// Digits per step.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Train on only the first N digits (a quick run).
    #[arg(long)]
    limit: Option<usize>,
}

const LATENT: usize = 2;

/// Digit → `(z_mean, z_log_var)` concatenated, `(batch, 2 * LATENT)`.
fn encoder() -> Result<Sequential> {
    Ok(Sequential::new(vec![
        Box::new(
            Conv2D::new(32, 3)
                .strides([2, 2])
                .padding("same")?
                .activation("relu")?,
        ),
        Box::new(
            Conv2D::new(64, 3)
                .strides([2, 2])
                .padding("same")?
                .activation("relu")?,
        ),
        Box::new(Flatten::new()),
        Box::new(Dense::new(16).activation("relu")?),
        // One Dense for both heads: Keras's example has two Dense(2) layers on the same
        // features, which is the same map.
        Box::new(Dense::new(2 * LATENT)),
    ])
    .named("encoder")
    .input_shape(&[28, 28, 1]))
}

/// Latent point → digit in [0, 1].
fn decoder() -> Result<Sequential> {
    Ok(Sequential::new(vec![
        Box::new(Dense::new(7 * 7 * 64).activation("relu")?),
        Box::new(Reshape::new(&[7, 7, 64])?),
        Box::new(
            Conv2DTranspose::new(64, 3)
                .strides([2, 2])
                .padding("same")?
                .activation("relu")?,
        ),
        Box::new(
            Conv2DTranspose::new(32, 3)
                .strides([2, 2])
                .padding("same")?
                .activation("relu")?,
        ),
        Box::new(
            Conv2DTranspose::new(1, 3)
                .padding("same")?
                .activation("sigmoid")?,
        ),
    ])
    .named("decoder")
    .input_shape(&[LATENT]))
}

struct Vae {
    encoder: Sequential,
    decoder: Sequential,
    optimizer: Box<dyn Optimizer>,
    seed: u64,
}

impl Vae {
    /// One step; returns `(total, reconstruction, kl)` losses.
    fn train_step(&mut self, x: &Tensor) -> Result<[f64; 3]> {
        let n = x.shape()[0];
        let vars: Vec<keras::Variable> = self
            .encoder
            .trainable_weights()
            .into_iter()
            .chain(self.decoder.trainable_weights())
            .collect();
        let tape = GradientTape::new();
        let stats = self.encoder.call(x, true)?;
        let (z_mean, z_log_var) = (stats.narrow(1, 0, LATENT)?, stats.narrow(1, LATENT, LATENT)?);
        // The reparameterisation trick: z = mean + exp(log_var / 2) * eps.
        self.seed += 1;
        let eps = Tensor::random_normal(&[n, LATENT], 0.0, 1.0, self.seed, DType::F32, &Device::Cpu)?;
        let z = z_mean.add(&z_log_var.mul_scalar(0.5)?.exp()?.mul(&eps)?)?;
        let recon = self.decoder.call(&z, true)?;
        // Keras: mean over the batch of the per-pixel cross-entropy summed over the image.
        let reconstruction = binary_crossentropy_elementwise(x, &recon, false)?
            .sum(&[1, 2, 3], false)?
            .mean(&[0], false)?;
        // KL(q(z|x) || N(0, 1)) = -0.5 * (1 + log_var - mean^2 - exp(log_var)), summed over
        // the latent axis, averaged over the batch.
        let kl = z_log_var
            .add_scalar(1.0)?
            .sub(&z_mean.mul(&z_mean)?)?
            .sub(&z_log_var.exp()?)?
            .mul_scalar(-0.5)?
            .sum(&[1], false)?
            .mean(&[0], false)?;
        let total = reconstruction.add(&kl)?;
        let grads = keras::variable::gradients(&tape, &total, &vars)?;
        self.optimizer.apply(&grads, &vars)?;
        Ok([total.item()?, reconstruction.item()?, kl.item()?])
    }
}

/// Decodes a `side x side` grid of latent points spanning [-1, 1]^2 into one image.
fn latent_grid(decoder: &Sequential, side: usize) -> Result<Tensor> {
    let step = |i: usize| -1.0 + 2.0 * i as f32 / (side - 1).max(1) as f32;
    let mut points = Vec::with_capacity(side * side * LATENT);
    for row in 0..side {
        for col in 0..side {
            // Rows go from +1 (top) to -1, as Keras's plot_latent_space.
            points.extend([step(col), -step(row)]);
        }
    }
    let z = Tensor::from_vec(points, &[side * side, LATENT], &Device::Cpu)?;
    let digits = keras_tensor::no_grad(|| decoder.call(&z, false))?;
    digits
        .reshape(&[side as isize, side as isize, 28, 28])?
        .permute(&[0, 2, 1, 3])?
        .reshape(&[side as isize * 28, side as isize * 28, 1])
}

fn main() -> Result<()> {
    let args = Args::parse();
    keras::set_random_seed(1337);
    let ((x_train, _), (x_test, _)) = datasets::mnist::load_data().unwrap_or_else(|e| common::missing(e));
    let all = Tensor::concat(&[&x_train, &x_test], 0)?;
    let x = common::limit(&common::scale_images(&all)?, args.limit)?;
    println!("{} digits of shape {:?}", x.shape()[0], &x.shape()[1..]);
    let mut vae = Vae {
        encoder: encoder()?,
        decoder: decoder()?,
        optimizer: Box::new(Adam::new()),
        seed: 11,
    };
    println!("{}", vae.encoder.summary()?);
    println!("{}", vae.decoder.summary()?);
    let ds = data::Dataset::from_tensor_slices(&[&x])?
        .shuffle(x.shape()[0], Some(1))
        .batch(args.batch_size, false);
    let mut history = History::default();
    let start = std::time::Instant::now();
    for epoch in 1..=args.epochs {
        let (mut sums, mut steps) = ([0.0; 3], 0usize);
        for batch in ds.iter()? {
            let l = vae.train_step(&batch?[0])?;
            for (s, v) in sums.iter_mut().zip(l) {
                *s += v;
            }
            steps += 1;
        }
        let mean = sums.map(|s| s / steps.max(1) as f64);
        for (name, v) in ["loss", "reconstruction_loss", "kl_loss"].iter().zip(mean) {
            history.history.entry(name.to_string()).or_default().push(v);
        }
        history.epoch.push(epoch - 1);
        println!(
            "Epoch {epoch}/{}: loss {:.2} - reconstruction_loss {:.2} - kl_loss {:.2} ({:.0}s elapsed)",
            args.epochs,
            mean[0],
            mean[1],
            mean[2],
            start.elapsed().as_secs_f64()
        );
    }
    println!("Trained in {:.1}s", start.elapsed().as_secs_f64());
    if let Some(r) = history.history.get("reconstruction_loss").and_then(|v| v.last()) {
        println!("Final reconstruction loss: {r:.2} (binary cross-entropy summed over 784 pixels)");
    }
    if !history.epoch.is_empty() {
        history.plot("mnist_vae.png")?;
        println!("Wrote the loss curves to mnist_vae.png");
    }
    data::save_img("mnist_vae_latent.png", &latent_grid(&vae.decoder, 15)?, true)?;
    println!("Wrote digits decoded from the latent plane to mnist_vae_latent.png");
    vae.decoder.save("mnist_vae_decoder.keras")?;
    println!("Saved the decoder to mnist_vae_decoder.keras");
    Ok(())
}
