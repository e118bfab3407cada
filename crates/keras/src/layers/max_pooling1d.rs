//! `MaxPooling1D`: the maximum over windows of `(batch, steps, channels)`.

use super::pooling::pooling_layer;

pooling_layer!(
    /// 1-D max pooling over the steps of `(batch, steps, channels)`, as `keras.layers.MaxPooling1D`
    /// (strides default to the pool size; channels-last only). Padded cells never win.
    ///
    /// ```
    /// use keras::layers::{Layer, MaxPooling1D};
    /// use keras_tensor::Tensor;
    /// let p = MaxPooling1D::new(2);
    /// assert_eq!(p.compute_output_shape(&[None, Some(7), Some(3)])?, vec![None, Some(3), Some(3)]);
    /// let x = Tensor::new(&[1.0f32, 5.0, 3.0, 2.0], &[1, 4, 1])?;
    /// assert_eq!(p.call(&x, false)?.to_vec::<f32>()?, vec![5.0, 3.0]);
    /// let q = MaxPooling1D::new(3).strides(1).padding("same")?;
    /// assert_eq!(q.compute_output_shape(&[None, Some(7), Some(3)])?, vec![None, Some(7), Some(3)]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ;
    MaxPooling1D,
    "MaxPooling1D",
    "max_pooling1d",
    1,
    max_pool1d,
    "(batch, steps, channels)",
    Some(2)
);

impl MaxPooling1D {
    /// A window of `pool_size` steps, strides equal to it, `"valid"` padding.
    pub fn new(pool_size: usize) -> MaxPooling1D {
        MaxPooling1D::with_window([pool_size])
    }
    /// The step between windows (Keras's default: the pool size).
    pub fn strides(mut self, s: usize) -> MaxPooling1D {
        self.window.strides = Some([s]);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use crate::layers::Layer;
    use keras_tensor::{DType, Device, Tensor};
    use serde_json::json;

    #[test]
    fn max_pooling1d_passes_the_layer_harness() {
        run_layer_test(Box::new(MaxPooling1D::new(2)), &[5, 3], 0);
        run_layer_test(
            Box::new(MaxPooling1D::new(3).strides(1).padding("same").unwrap()),
            &[5, 3],
            0,
        );
        run_layer_test(Box::new(MaxPooling1D::new(2).strides(3)), &[8, 2], 0);
    }

    #[test]
    fn max_pooling1d_config_matches_keras() {
        let c = MaxPooling1D::new(3).strides(1).name("p").get_config();
        assert_eq!(c["pool_size"], json!([3]));
        assert_eq!(c["strides"], json!([1]));
        assert_eq!(c["padding"], json!("valid"));
        assert_eq!(c["data_format"], json!("channels_last"));
        let p =
            MaxPooling1D::from_config(&json!({"pool_size": 4, "strides": null, "padding": "same"})).unwrap();
        assert_eq!(p.get_config()["strides"], json!([4]));
        let e = MaxPooling1D::from_config(&json!({"pool_size": [2], "data_format": "channels_first"}))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("MaxPooling1D") && e.contains("channels_first"), "{e}");
    }

    #[test]
    fn max_pooling1d_errors_name_the_layer_and_shape() {
        let p = MaxPooling1D::new(4).name("pool");
        let e = p
            .compute_output_shape(&[None, Some(3), Some(2)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("pool") && e.contains("(None, 3, 2)"), "{e}");
        let x = Tensor::zeros(&[2, 4, 4, 1], DType::F32, &Device::Cpu).unwrap();
        let e = p.call(&x, false).unwrap_err().to_string();
        assert!(e.contains("pool") && e.contains("rank-3"), "{e}");
        assert!(MaxPooling1D::new(2).padding("causal").is_err());
    }
}
