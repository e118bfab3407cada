//! `GlobalMaxPooling1D`: the maximum over the steps of `(batch, steps, channels)`.

use super::pooling::global_pooling_layer;

global_pooling_layer!(
    /// Global maximum pooling over the steps of `(batch, steps, channels)`, as
    /// `keras.layers.GlobalMaxPooling1D`: output `(batch, channels)`, or with
    /// [`GlobalMaxPooling1D::keepdims`] the input's rank with the pooled axes of size 1.
    /// Channels-last only.
    ///
    /// ```
    /// use keras::layers::{GlobalMaxPooling1D, Layer};
    /// use keras_tensor::Tensor;
    /// let p = GlobalMaxPooling1D::new();
    /// assert_eq!(p.compute_output_shape(&[None, Some(10), Some(8)])?, vec![None, Some(8)]);
    /// let x = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0], &[1, 2, 2])?;
    /// assert_eq!(p.call(&x, false)?.to_vec::<f32>()?, vec![3.0, 4.0]);
    /// let k = GlobalMaxPooling1D::new().keepdims(true);
    /// assert_eq!(k.compute_output_shape(&[None, Some(10), Some(8)])?, vec![None, Some(1), Some(8)]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ;
    GlobalMaxPooling1D,
    "GlobalMaxPooling1D",
    "global_max_pooling1d",
    1,
    max,
    "(batch, steps, channels)",
    false
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use crate::layers::Layer;
    use keras_tensor::{DType, Device, Tensor};
    use serde_json::json;

    #[test]
    fn global_max_pooling1d_passes_the_layer_harness() {
        run_layer_test(Box::new(GlobalMaxPooling1D::new()), &[6, 3], 0);
        run_layer_test(Box::new(GlobalMaxPooling1D::default().keepdims(true)), &[6, 3], 0);
    }

    #[test]
    fn global_max_pooling1d_keepdims_keeps_unit_axes() {
        let x = Tensor::ones(&[2, 4, 3], DType::F32, &Device::Cpu).unwrap();
        let y = GlobalMaxPooling1D::new().keepdims(true).call(&x, false).unwrap();
        assert_eq!(y.shape(), &[2, 1, 3][..]);
    }

    #[test]
    fn global_max_pooling1d_config_matches_keras() {
        let c = GlobalMaxPooling1D::new().name("g").keepdims(true).get_config();
        assert_eq!(c["keepdims"], json!(true));
        assert_eq!(c["data_format"], json!("channels_last"));
        assert_eq!(c["name"], json!("g"));
        let e = GlobalMaxPooling1D::from_config(&json!({"data_format": "channels_first"}))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("GlobalMaxPooling1D") && e.contains("channels_first"),
            "{e}"
        );
    }

    #[test]
    fn global_max_pooling1d_rejects_the_wrong_rank_naming_the_layer() {
        let p = GlobalMaxPooling1D::new().name("gp");
        let e = p.compute_output_shape(&[None, Some(3)]).unwrap_err().to_string();
        assert!(
            e.contains("gp") && e.contains("rank-3") && e.contains("(None, 3)"),
            "{e}"
        );
    }
}
