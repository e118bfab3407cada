//! `Add`: the elementwise sum of a list of inputs.

use super::merge::{elementwise_layer, fold, Arity};
use keras_tensor::Tensor;

elementwise_layer! {
    /// Adds a list of at least 2 inputs elementwise, as `keras.layers.Add`. Shapes broadcast
    /// past the batch axis as in Keras (an input of lower rank gets axes of 1 after the batch
    /// axis).
    ///
    /// ```
    /// use keras::layers::{Add, Layer};
    /// use keras_tensor::Tensor;
    /// let add = Add::new();
    /// let a = Tensor::new(&[1.0f32, 2.0], &[1, 2])?;
    /// let b = Tensor::new(&[10.0f32, 20.0], &[1, 2])?;
    /// assert_eq!(add.call_multi(&[a, b], false)?[0].to_vec::<f32>()?, vec![11.0, 22.0]);
    /// assert_eq!(add.compute_output_shapes(&[vec![None, Some(3)], vec![None, Some(4), Some(3)]])?,
    ///            vec![vec![None, Some(4), Some(3)]]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    Add, "Add", "add", Arity::AtLeast2, |xs| fold(xs, Tensor::add)
}

#[cfg(test)]
mod tests {
    use super::super::merge::testing::{assert_values, run_merge_test, seq};
    use super::super::Layer;
    use super::Add;

    #[test]
    fn add_passes_the_merge_harness() {
        run_merge_test(Box::new(Add::new()), &[&[3, 2], &[3, 2], &[3, 2]]);
        run_merge_test(Box::new(Add::new()), &[&[3], &[4, 3]]);
    }

    #[test]
    fn add_matches_keras() {
        // keras.layers.Add()([a, b, c]) and Add()([a, d]) (ranks 2 and 3) in Keras 3.
        let (a, b, c) = (
            seq(&[2, 3], -1.0, 0.5),
            seq(&[2, 3], 2.0, -0.75),
            seq(&[2, 3], 0.25, 0.3),
        );
        let y = Add::new().call_multi(&[a.clone(), b, c], false).unwrap();
        assert_values("add", &y[0], &[2, 3], &[1.25, 1.3, 1.35, 1.4, 1.45, 1.5]);
        let y = Add::new()
            .call_multi(&[a, seq(&[2, 4, 3], 0.0, 0.1)], false)
            .unwrap();
        #[rustfmt::skip]
        let expect = [
            -1.0, -0.4, 0.2, -0.7, -0.1, 0.5, -0.4, 0.2, 0.8, -0.1, 0.5, 1.1,
            1.7, 2.3, 2.9, 2.0, 2.6, 3.2, 2.3, 2.9, 3.5, 2.6, 3.2, 3.8,
        ];
        assert_values("add ranks 2 and 3", &y[0], &[2, 4, 3], &expect);
    }

    #[test]
    fn add_refuses_single_inputs_and_bad_shapes() {
        let mut l = Add::new().name("sum");
        let e = l.build(&[None, Some(3)]).unwrap_err().to_string();
        assert!(
            e.contains("layer \"sum\" expects a list of at least 2 inputs"),
            "{e}"
        );
        let e = l.build_multi(&[vec![None, Some(3)]]).unwrap_err().to_string();
        assert!(e.contains("at least 2 inputs, got 1"), "{e}");
        let e = l
            .build_multi(&[vec![None, Some(3)], vec![None, Some(4)]])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"sum\"") && e.contains("[(None, 3), (None, 4)]"),
            "{e}"
        );
        let (a, b) = (seq(&[2, 3], 0.0, 1.0), seq(&[2, 4], 0.0, 1.0));
        let e = l.call_multi(&[a, b], false).unwrap_err().to_string();
        assert!(e.contains("\"sum\"") && e.contains("(2, 3), (2, 4)"), "{e}");
    }
}
