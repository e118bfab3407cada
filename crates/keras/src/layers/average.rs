//! `Average`: the elementwise mean of a list of inputs.

use super::merge::{elementwise_layer, fold, Arity};
use keras_tensor::Tensor;

elementwise_layer! {
    /// Averages a list of at least 2 inputs elementwise, as `keras.layers.Average` (the sum
    /// divided by the number of inputs). Shapes broadcast past the batch axis as in Keras.
    ///
    /// ```
    /// use keras::layers::{Average, Layer};
    /// use keras_tensor::Tensor;
    /// let a = Tensor::new(&[1.0f32, 2.0], &[1, 2])?;
    /// let b = Tensor::new(&[3.0f32, 6.0], &[1, 2])?;
    /// assert_eq!(Average::new().call_multi(&[a, b], false)?[0].to_vec::<f32>()?, vec![2.0, 4.0]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    Average, "Average", "average", Arity::AtLeast2,
    |xs| fold(xs, Tensor::add)?.div_scalar(xs.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::super::merge::testing::{assert_values, run_merge_test, seq};
    use super::super::Layer;
    use super::Average;
    use keras_tensor::testing::{check_grad, randn};

    #[test]
    fn average_passes_the_merge_harness() {
        run_merge_test(Box::new(Average::new()), &[&[2, 3], &[2, 3], &[3]]);
    }

    #[test]
    fn average_matches_keras() {
        let (a, b, c) = (
            seq(&[2, 3], -1.0, 0.5),
            seq(&[2, 3], 2.0, -0.75),
            seq(&[2, 3], 0.25, 0.3),
        );
        let y = Average::new().call_multi(&[a, b, c], false).unwrap();
        let expect = [0.41666669, 0.43333334, 0.45, 0.4666667, 0.48333335, 0.5];
        assert_values("average", &y[0], &[2, 3], &expect);
    }

    #[test]
    fn average_gradients_match_finite_differences() {
        let l = Average::new();
        let (a, b, c) = (randn(&[2, 3], 1), randn(&[2, 3], 2), randn(&[2, 1], 3));
        check_grad("average", &[&a, &b, &c], |t| Ok(l.call_multi(t, true)?.remove(0)));
    }
}
