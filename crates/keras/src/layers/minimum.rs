//! `Minimum`: the elementwise minimum of a list of inputs.

use super::merge::{elementwise_layer, fold, Arity};
use keras_tensor::Tensor;

elementwise_layer! {
    /// The elementwise minimum of a list of at least 2 inputs, as `keras.layers.Minimum`.
    /// Shapes broadcast past the batch axis as in Keras. On ties the gradient goes to the
    /// earlier input.
    ///
    /// ```
    /// use keras::layers::{Layer, Minimum};
    /// use keras_tensor::Tensor;
    /// let a = Tensor::new(&[1.0f32, 5.0], &[1, 2])?;
    /// let b = Tensor::new(&[3.0f32, 4.0], &[1, 2])?;
    /// assert_eq!(Minimum::new().call_multi(&[a, b], false)?[0].to_vec::<f32>()?, vec![1.0, 4.0]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    Minimum, "Minimum", "minimum", Arity::AtLeast2, |xs| fold(xs, Tensor::minimum)
}

#[cfg(test)]
mod tests {
    use super::super::merge::testing::{assert_values, run_merge_test, seq};
    use super::super::Layer;
    use super::Minimum;

    #[test]
    fn minimum_passes_the_merge_harness() {
        run_merge_test(Box::new(Minimum::new()), &[&[2, 3], &[2, 3], &[2, 3]]);
    }

    #[test]
    fn minimum_matches_keras() {
        let (a, b, c) = (
            seq(&[2, 3], -1.0, 0.5),
            seq(&[2, 3], 2.0, -0.75),
            seq(&[2, 3], 0.25, 0.3),
        );
        let y = Minimum::new().call_multi(&[a, b, c], false).unwrap();
        assert_values("minimum", &y[0], &[2, 3], &[-1.0, -0.5, 0.0, -0.25, -1.0, -1.75]);
    }
}
