//! Seeded random tensors from the counter-based generator in `keras_backend::random`.
//!
//! Element `i` of a tensor drawn with seed `s` depends only on `(s, i)`: the same values on
//! any number of threads (and, later, on the GPU).

use crate::storage::Storage;
use crate::{Device, Tensor};
use keras_backend::op::RandomDist;
use keras_backend::{DType, Result};

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
        let s = keras_cpu::storage::random(dist, seed, n, dtype)?;
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
