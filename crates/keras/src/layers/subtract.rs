//! `Subtract`: the elementwise difference of exactly two inputs.

use super::merge::{elementwise_layer, Arity};

elementwise_layer! {
    /// Subtracts the second of exactly 2 inputs from the first, elementwise, as
    /// `keras.layers.Subtract`. Shapes broadcast past the batch axis as in Keras.
    ///
    /// ```
    /// use keras::layers::{Layer, Subtract};
    /// use keras_tensor::Tensor;
    /// let a = Tensor::new(&[5.0f32, 7.0], &[1, 2])?;
    /// let b = Tensor::new(&[1.0f32, 2.0], &[1, 2])?;
    /// assert_eq!(Subtract::new().call_multi(&[a, b], false)?[0].to_vec::<f32>()?, vec![4.0, 5.0]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    Subtract, "Subtract", "subtract", Arity::Exactly2, |xs| xs[0].sub(&xs[1])
}

#[cfg(test)]
mod tests {
    use super::super::merge::testing::{assert_values, run_merge_test, seq};
    use super::super::Layer;
    use super::Subtract;

    #[test]
    fn subtract_passes_the_merge_harness() {
        run_merge_test(Box::new(Subtract::new()), &[&[3, 2], &[1, 2]]);
    }

    #[test]
    fn subtract_matches_keras() {
        let (a, b) = (seq(&[2, 3], -1.0, 0.5), seq(&[2, 3], 2.0, -0.75));
        let y = Subtract::new().call_multi(&[a, b], false).unwrap();
        assert_values("subtract", &y[0], &[2, 3], &[-3.0, -1.75, -0.5, 0.75, 2.0, 3.25]);
    }

    #[test]
    fn subtract_takes_exactly_two_inputs() {
        let s = vec![None, Some(3)];
        let e = Subtract::new()
            .name("diff")
            .build_multi(&[s.clone(), s.clone(), s])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("layer \"diff\" expects a list of exactly 2 inputs, got 3"),
            "{e}"
        );
    }
}
