//! `Maximum`: the elementwise maximum of a list of inputs.

use super::merge::{elementwise_layer, fold, Arity};
use keras_tensor::Tensor;

elementwise_layer! {
    /// The elementwise maximum of a list of at least 2 inputs, as `keras.layers.Maximum`.
    /// Shapes broadcast past the batch axis as in Keras. On ties the gradient goes to the
    /// earlier input.
    ///
    /// ```
    /// use keras::layers::{Layer, Maximum};
    /// use keras_tensor::Tensor;
    /// let a = Tensor::new(&[1.0f32, 5.0], &[1, 2])?;
    /// let b = Tensor::new(&[3.0f32, 4.0], &[1, 2])?;
    /// assert_eq!(Maximum::new().call_multi(&[a, b], false)?[0].to_vec::<f32>()?, vec![3.0, 5.0]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    Maximum, "Maximum", "maximum", Arity::AtLeast2, |xs| fold(xs, Tensor::maximum)
}

#[cfg(test)]
mod tests {
    use super::super::merge::testing::{assert_values, run_merge_test, seq};
    use super::super::Layer;
    use super::Maximum;
    use keras_tensor::testing::{check_grad, randn};

    #[test]
    fn maximum_passes_the_merge_harness() {
        run_merge_test(Box::new(Maximum::new()), &[&[2, 3], &[2, 3]]);
    }

    #[test]
    fn maximum_matches_keras() {
        let (a, b, c) = (
            seq(&[2, 3], -1.0, 0.5),
            seq(&[2, 3], 2.0, -0.75),
            seq(&[2, 3], 0.25, 0.3),
        );
        let y = Maximum::new().call_multi(&[a, b, c], false).unwrap();
        assert_values("maximum", &y[0], &[2, 3], &[2.0, 1.25, 0.85, 1.15, 1.45, 1.75]);
    }

    #[test]
    fn maximum_gradients_match_finite_differences() {
        // Random inputs: no ties, where the maximum is not differentiable.
        let l = Maximum::new();
        let (a, b, c) = (randn(&[2, 3], 4), randn(&[2, 3], 5), randn(&[2, 3], 6));
        check_grad("maximum", &[&a, &b, &c], |t| Ok(l.call_multi(t, true)?.remove(0)));
    }
}
