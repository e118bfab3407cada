//! `GlobalAveragePooling2D`: the average over the height and width.

use super::pooling::global_pooling_layer;

global_pooling_layer!(
    /// Global average pooling over the height and width of `(batch, height, width, channels)`, as
    /// `keras.layers.GlobalAveragePooling2D`: output `(batch, channels)`, or with
    /// [`GlobalAveragePooling2D::keepdims`] the input's rank with the pooled axes of size 1.
    /// Channels-last only.
    ///
    /// ```
    /// use keras::layers::{GlobalAveragePooling2D, Layer};
    /// use keras_tensor::Tensor;
    /// let p = GlobalAveragePooling2D::new();
    /// assert_eq!(p.compute_output_shape(&[None, Some(7), Some(7), Some(64)])?, vec![None, Some(64)]);
    /// let x = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0], &[1, 2, 1, 2])?;
    /// assert_eq!(p.call(&x, false)?.to_vec::<f32>()?, vec![2.0, 3.0]);
    /// let k = GlobalAveragePooling2D::new().keepdims(true);
    /// let shape = &[None, Some(7), Some(7), Some(64)];
    /// assert_eq!(k.compute_output_shape(shape)?, vec![None, Some(1), Some(1), Some(64)]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    ;
    GlobalAveragePooling2D,
    "GlobalAveragePooling2D",
    "global_average_pooling2d",
    2,
    mean,
    "(batch, height, width, channels)",
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
    fn global_average_pooling2d_passes_the_layer_harness() {
        run_layer_test(Box::new(GlobalAveragePooling2D::new()), &[4, 3, 2], 0);
        run_layer_test(
            Box::new(GlobalAveragePooling2D::default().keepdims(true)),
            &[4, 3, 2],
            0,
        );
    }

    #[test]
    fn global_average_pooling2d_keepdims_keeps_unit_axes() {
        let x = Tensor::ones(&[2, 3, 2, 5], DType::F32, &Device::Cpu).unwrap();
        let y = GlobalAveragePooling2D::new()
            .keepdims(true)
            .call(&x, false)
            .unwrap();
        assert_eq!(y.shape(), &[2, 1, 1, 5][..]);
    }

    #[test]
    fn global_average_pooling2d_config_matches_keras() {
        let c = GlobalAveragePooling2D::new()
            .name("g")
            .keepdims(true)
            .get_config();
        assert_eq!(c["keepdims"], json!(true));
        assert_eq!(c["data_format"], json!("channels_last"));
        assert_eq!(c["name"], json!("g"));
        let e = GlobalAveragePooling2D::from_config(&json!({"data_format": "channels_first"}))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("GlobalAveragePooling2D") && e.contains("channels_first"),
            "{e}"
        );
    }

    #[test]
    fn global_average_pooling2d_rejects_the_wrong_rank_naming_the_layer() {
        let p = GlobalAveragePooling2D::new().name("gp");
        let e = p.compute_output_shape(&[None, Some(3)]).unwrap_err().to_string();
        assert!(
            e.contains("gp") && e.contains("rank-4") && e.contains("(None, 3)"),
            "{e}"
        );
    }
}
