//! `MaxPooling2D`: the maximum over windows of `(batch, height, width, channels)`.

use super::pooling::pooling_layer;

pooling_layer!(
    /// 2-D max pooling over the height and width of `(batch, height, width, channels)`, as
    /// `keras.layers.MaxPooling2D` (strides default to the pool size; channels-last only). Padded
    /// cells never win.
    ///
    /// ```
    /// use keras::layers::{Layer, MaxPooling2D};
    /// use keras_tensor::Tensor;
    /// let p = MaxPooling2D::new(2);
    /// let shape = &[None, Some(26), Some(26), Some(32)];
    /// assert_eq!(p.compute_output_shape(shape)?, vec![None, Some(13), Some(13), Some(32)]);
    /// let x = Tensor::new(&[1.0f32, 2.0, 3.0, 6.0], &[1, 2, 2, 1])?;
    /// assert_eq!(p.call(&x, false)?.to_vec::<f32>()?, vec![6.0]);
    /// let q = MaxPooling2D::new(3).strides([1, 2]).padding("same")?;
    /// let shape = &[None, Some(5), Some(5), Some(1)];
    /// assert_eq!(q.compute_output_shape(shape)?, vec![None, Some(5), Some(3), Some(1)]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ;
    MaxPooling2D,
    "MaxPooling2D",
    "max_pooling2d",
    2,
    max_pool2d,
    "(batch, height, width, channels)",
    Some(2)
);

impl MaxPooling2D {
    /// A square window of `pool_size`, strides equal to it, `"valid"` padding.
    pub fn new(pool_size: usize) -> MaxPooling2D {
        MaxPooling2D::with_window([pool_size; 2])
    }
    /// A `(height, width)` window.
    pub fn pool_size(mut self, p: [usize; 2]) -> MaxPooling2D {
        self.window.pool_size = p;
        self
    }
    /// Strides `(sh, sw)` (Keras's default: the pool size).
    pub fn strides(mut self, s: [usize; 2]) -> MaxPooling2D {
        self.window.strides = Some(s);
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
    fn max_pooling2d_passes_the_layer_harness() {
        run_layer_test(Box::new(MaxPooling2D::new(2)), &[5, 4, 3], 0);
        run_layer_test(
            Box::new(MaxPooling2D::new(3).strides([1, 1]).padding("same").unwrap()),
            &[5, 4, 3],
            0,
        );
        run_layer_test(
            Box::new(MaxPooling2D::new(2).pool_size([3, 1]).strides([2, 3])),
            &[7, 4, 2],
            0,
        );
    }

    #[test]
    fn max_pooling2d_config_matches_keras() {
        let c = MaxPooling2D::new(2).pool_size([3, 2]).name("p").get_config();
        assert_eq!(c["pool_size"], json!([3, 2]));
        assert_eq!(c["strides"], json!([3, 2]));
        assert_eq!(c["padding"], json!("valid"));
        assert_eq!(c["data_format"], json!("channels_last"));
        let p = MaxPooling2D::from_config(&json!({"pool_size": [2, 3], "strides": 1, "padding": "same"}))
            .unwrap();
        assert_eq!(p.get_config()["strides"], json!([1, 1]));
        let e = MaxPooling2D::from_config(&json!({"pool_size": 2, "data_format": "channels_first"}))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("MaxPooling2D") && e.contains("channels_first"), "{e}");
        assert!(MaxPooling2D::from_config(&json!({"pool_size": [2, 2, 2]})).is_err());
    }

    #[test]
    fn max_pooling2d_errors_name_the_layer_and_shape() {
        let p = MaxPooling2D::new(4).name("pool");
        let e = p
            .compute_output_shape(&[None, Some(3), Some(8), Some(2)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("pool") && e.contains("(None, 3, 8, 2)"), "{e}");
        let x = Tensor::zeros(&[2, 4, 1], DType::F32, &Device::Cpu).unwrap();
        let e = p.call(&x, false).unwrap_err().to_string();
        assert!(e.contains("pool") && e.contains("rank-4"), "{e}");
        assert!(MaxPooling2D::new(2).padding("causal").is_err());
        assert!(MaxPooling2D::new(2)
            .strides([0, 1])
            .compute_output_shape(&[None, Some(4), Some(4), Some(1)])
            .is_err());
    }
}
