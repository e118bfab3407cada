//! `Multiply`: the elementwise product of a list of inputs.

use super::merge::{elementwise_layer, fold, Arity};
use keras_tensor::Tensor;

elementwise_layer! {
    /// Multiplies a list of at least 2 inputs elementwise, as `keras.layers.Multiply`. Shapes
    /// broadcast past the batch axis as in Keras.
    ///
    /// ```
    /// use keras::layers::{Layer, Multiply};
    /// use keras_tensor::Tensor;
    /// let a = Tensor::new(&[1.0f32, 2.0], &[1, 2])?;
    /// let b = Tensor::new(&[3.0f32, 4.0], &[1, 2])?;
    /// assert_eq!(Multiply::new().call_multi(&[a, b], false)?[0].to_vec::<f32>()?, vec![3.0, 8.0]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    Multiply, "Multiply", "multiply", Arity::AtLeast2, |xs| fold(xs, Tensor::mul)
}

#[cfg(test)]
mod tests {
    use super::super::merge::testing::{assert_values, run_merge_test, seq};
    use super::super::Layer;
    use super::Multiply;

    #[test]
    fn multiply_passes_the_merge_harness() {
        run_merge_test(Box::new(Multiply::new()), &[&[1, 3], &[4, 1]]);
    }

    #[test]
    fn multiply_matches_keras() {
        let (a, b, c) = (
            seq(&[2, 3], -1.0, 0.5),
            seq(&[2, 3], 2.0, -0.75),
            seq(&[2, 3], 0.25, 0.3),
        );
        let y = Multiply::new().call_multi(&[a, b, c], false).unwrap();
        let expect = [-0.5, -0.34375, 0.0, -0.14375, -1.45, -4.59375];
        assert_values("multiply", &y[0], &[2, 3], &expect);
        // (2, 1, 3) * (2, 4, 1) broadcasts to (2, 4, 3).
        let y = Multiply::new()
            .call_multi(&[seq(&[2, 1, 3], 1.0, 1.0), seq(&[2, 4, 1], -2.0, 0.5)], false)
            .unwrap();
        #[rustfmt::skip]
        let expect = [
            -2.0, -4.0, -6.0, -1.5, -3.0, -4.5, -1.0, -2.0, -3.0, -0.5, -1.0, -1.5,
            0.0, 0.0, 0.0, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 6.0, 7.5, 9.0,
        ];
        assert_values("multiply broadcast", &y[0], &[2, 4, 3], &expect);
    }
}
