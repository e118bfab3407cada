//! Seeded random tensors from the counter-based generator in `keras_backend::random`.
//!
//! Element `i` of a tensor drawn with seed `s` depends only on `(s, i)`: the same values on
//! any number of threads (and, later, on the GPU).

use crate::storage::Storage;
use crate::{Device, Tensor};
use keras_backend::op::RandomDist;
use keras_backend::{DType, Error, Result};

impl Tensor {
    /// Draws a tensor from `dist` (see [`RandomDist`]).
    ///
    /// # Errors
    /// When the dtype is not a float (Bernoulli also allows integers and bool) or the device
    /// is unavailable.
    pub fn random(
        dist: RandomDist,
        shape: &[usize],
        seed: u64,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        device.check_available()?;
        let n = shape.iter().product();
        let s = keras_cpu::random::random(dist, seed, n, dtype)?;
        Ok(Tensor::from_storage(Storage::Cpu(s), shape, *device))
    }

    /// Uniform on `[low, high)`.
    ///
    /// ```
    /// use keras_tensor::{DType, Device, Tensor};
    /// let a = Tensor::random_uniform(&[3], 0.0, 1.0, 7, DType::F32, &Device::Cpu)?;
    /// let b = Tensor::random_uniform(&[3], 0.0, 1.0, 7, DType::F32, &Device::Cpu)?;
    /// assert_eq!(a.to_vec::<f32>()?, b.to_vec::<f32>()?);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Tensor::random`].
    pub fn random_uniform(
        shape: &[usize],
        low: f64,
        high: f64,
        seed: u64,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        Tensor::random(RandomDist::Uniform { low, high }, shape, seed, dtype, device)
    }

    /// Normal with `mean` and `stddev`.
    ///
    /// # Errors
    /// As [`Tensor::random`].
    pub fn random_normal(
        shape: &[usize],
        mean: f64,
        stddev: f64,
        seed: u64,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        Tensor::random(RandomDist::Normal { mean, stddev }, shape, seed, dtype, device)
    }

    /// Normal re-drawn outside two standard deviations (Keras's `truncated_normal`).
    ///
    /// # Errors
    /// As [`Tensor::random`].
    pub fn truncated_normal(
        shape: &[usize],
        mean: f64,
        stddev: f64,
        seed: u64,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        Tensor::random(
            RandomDist::TruncatedNormal { mean, stddev },
            shape,
            seed,
            dtype,
            device,
        )
    }

    /// 1 with probability `p`, else 0.
    ///
    /// # Errors
    /// As [`Tensor::random`].
    pub fn bernoulli(shape: &[usize], p: f64, seed: u64, dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::random(RandomDist::Bernoulli { p }, shape, seed, dtype, device)
    }

    /// Keras's `keras.random.dropout`: zeroes each element with probability `rate` and scales
    /// the rest by `1 / (1 - rate)`, so the expected value is unchanged. With a `noise_shape`
    /// (same rank, each axis the input's size or 1) one draw is shared along the size-1 axes.
    /// The mask is drawn once with its scale folded in ([`RandomDist::Dropout`]); the result
    /// is `self * mask`, whose gradient is `grad * mask`.
    ///
    /// ```
    /// use keras_tensor::{DType, Device, Tensor};
    /// let x = Tensor::ones(&[2, 1000], DType::F32, &Device::Cpu)?;
    /// let y = x.dropout(0.5, None, 7)?.to_vec::<f32>()?;
    /// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
    /// let kept = y.iter().filter(|&&v| v != 0.0).count();
    /// assert!((900..1100).contains(&kept));
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// When `rate` is outside `[0, 1)`, the dtype is not a float, or `noise_shape` does not
    /// broadcast to the input's shape.
    pub fn dropout(&self, rate: f64, noise_shape: Option<&[usize]>, seed: u64) -> Result<Tensor> {
        check_rate(rate)?;
        if !self.dtype().is_float() {
            return Err(Error::UnsupportedDType {
                op: "dropout",
                dtype: self.dtype(),
                hint: "dropout needs a float tensor",
            });
        }
        let shape = noise_shape.unwrap_or(self.shape());
        let fits =
            shape.len() == self.rank() && shape.iter().zip(self.shape()).all(|(&n, &d)| n == d || n == 1);
        if !fits {
            return Err(Error::ShapeMismatch {
                op: "dropout (noise_shape, input)",
                lhs: shape.to_vec(),
                rhs: self.shape().to_vec(),
            });
        }
        if rate == 0.0 {
            return Ok(self.clone());
        }
        self.mul(&Tensor::dropout_mask(
            shape,
            rate,
            seed,
            self.dtype(),
            self.device(),
        )?)
    }

    /// The mask [`Tensor::dropout`] multiplies by: `1 / (1 - rate)` with probability
    /// `1 - rate`, else 0 (for a mask reused across steps, as recurrent dropout does).
    ///
    /// # Errors
    /// When `rate` is outside `[0, 1)` or the dtype is not a float.
    pub fn dropout_mask(
        shape: &[usize],
        rate: f64,
        seed: u64,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        check_rate(rate)?;
        Tensor::random(RandomDist::Dropout { rate }, shape, seed, dtype, device)
    }
}

fn check_rate(rate: f64) -> Result<()> {
    if (0.0..1.0).contains(&rate) {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            op: "dropout",
            msg: format!("rate must be in [0, 1), got {rate}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{DType, Device, Tensor};

    #[test]
    fn stream_is_independent_of_thread_count_and_shape() {
        let a = Tensor::random_normal(&[100, 100], 0.0, 1.0, 3, DType::F32, &Device::Cpu).unwrap();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let b =
            pool.install(|| Tensor::random_normal(&[10_000], 0.0, 1.0, 3, DType::F32, &Device::Cpu).unwrap());
        assert_eq!(a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
        let c = Tensor::random_normal(&[10_000], 0.0, 1.0, 4, DType::F32, &Device::Cpu).unwrap();
        assert_ne!(a.to_vec::<f32>().unwrap()[..10], c.to_vec::<f32>().unwrap()[..10]);
    }

    #[test]
    fn dropout_masks_scale_and_share_along_noise_axes() {
        let x = Tensor::ones(&[4, 3, 500], DType::F32, &Device::Cpu).unwrap();
        let y = x.dropout(0.25, None, 1).unwrap().to_vec::<f32>().unwrap();
        let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / y.len() as f64;
        assert!((kept - 0.75).abs() < 0.02, "{kept}");
        assert!(y.iter().all(|&v| v == 0.0 || v == 1.0 / 0.75));
        // noise_shape (4, 1, 500): the three rows of each sample share one mask.
        let y = x
            .dropout(0.5, Some(&[4, 1, 500]), 2)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        for s in 0..4 {
            let rows: Vec<&[f32]> = y[s * 1500..(s + 1) * 1500].chunks(500).collect();
            assert_eq!(rows[0], rows[1]);
            assert_eq!(rows[0], rows[2]);
        }
        assert!(x.dropout(1.0, None, 1).is_err());
        assert!(x.dropout(0.5, Some(&[4, 2, 500]), 1).is_err());
        assert!(x.dropout(0.5, Some(&[4, 500]), 1).is_err());
        // The gradient is the mask itself.
        let mut tape = crate::GradientTape::new();
        let xw = tape.watch(&x);
        let y = xw.dropout(0.5, None, 3).unwrap();
        let g = tape.gradient(&y.sum_all().unwrap(), &[&xw]).unwrap();
        assert_eq!(
            g[0].as_ref().unwrap().to_vec::<f32>().unwrap(),
            y.to_vec::<f32>().unwrap()
        );
    }

    #[test]
    fn bernoulli_and_uniform_ranges() {
        let u = Tensor::random_uniform(&[1000], -2.0, 3.0, 1, DType::F64, &Device::Cpu)
            .unwrap()
            .to_vec::<f64>()
            .unwrap();
        assert!(u.iter().all(|&x| (-2.0..3.0).contains(&x)));
        let b = Tensor::bernoulli(&[1000], 0.5, 1, DType::Bool, &Device::Cpu).unwrap();
        let n = b.to_vec::<bool>().unwrap().iter().filter(|&&x| x).count();
        assert!((400..600).contains(&n), "{n}");
        assert!(Tensor::random_normal(&[2], 0.0, 1.0, 1, DType::I32, &Device::Cpu).is_err());
    }
}
