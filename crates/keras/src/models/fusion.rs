//! Inference-time fusion: in inference mode (`training == false`) a convolution or Dense layer
//! followed by per-channel maps, batch normalization with its moving statistics and an
//! activation, runs as one layer. The normalization folds into the kernel and bias
//! (`kernel * scale`, `bias * scale + shift`) and the activation rides on the output tiles, so
//! the intermediate tensors are never written; TensorFlow's graph optimizer does the same.
//!
//! The layers say when they are such a map ([`Layer::inference_epilogue`]) and which maps they
//! can absorb ([`Layer::call_fused`]); the two executors (Sequential's stack, the functional
//! graph) offer [`fuse`] each layer with the layers after it that read only their
//! predecessor's output. Training never fuses: batch normalization then uses the batch's
//! statistics and updates its moving ones, and the gradients read the intermediates.
//!
//! [`Layer::inference_epilogue`]: crate::layers::Layer::inference_epilogue
//! [`Layer::call_fused`]: crate::layers::Layer::call_fused

use super::LayerRef;
use crate::layers::Epilogue;
use keras_tensor::{Result, Tensor};

/// Runs `head` on `x` in inference mode with as many of `next` as compose into one
/// [`Epilogue`], in order. Each of `next` must read only the output of the layer before it,
/// and that output must be needed nowhere else. Returns how many of `next` were absorbed and
/// the output of the last one, or `None` when nothing fuses: the caller then runs the layers
/// one by one, as always.
///
/// No two layers are locked at once (a layer may appear twice in a graph).
pub(crate) fn fuse(head: &LayerRef, x: &Tensor, next: &[&LayerRef]) -> Result<Option<(usize, Tensor)>> {
    let mut chain: Option<Epilogue> = None;
    let mut used = 0;
    for layer in next {
        let Some(e) = layer.read().inference_epilogue(x.dtype())? else {
            break;
        };
        let composed = match &chain {
            None => Some(e),
            Some(c) => c.clone().then(&e)?,
        };
        let Some(composed) = composed else {
            break;
        };
        chain = Some(composed);
        used += 1;
    }
    let Some(e) = chain else {
        return Ok(None);
    };
    Ok(head.read().call_fused(x, &e)?.map(|y| (used, y)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Activation, Add, BatchNormalization, Conv2D, Dense, Dropout, Flatten, ReLU};
    use crate::models::{Input, Model, Sequential};
    use crate::trainers::Trainer;
    use keras_tensor::testing::{assert_close, randn};
    use keras_tensor::DType;

    /// Random statistics and affine weights, so that the folding is not the identity.
    fn randomize(bn: &LayerRef, seed: u64) {
        let l = bn.read();
        let c = l.weights()[0].value().numel();
        for (i, v) in l.weights().iter().enumerate() {
            let r = randn(&[c], seed + i as u64);
            // gamma, beta, moving mean, moving variance (positive)
            let r = if i == 3 {
                r.abs().unwrap().add_scalar(0.5).unwrap()
            } else {
                r
            };
            v.assign(&r.cast(DType::F32).unwrap()).unwrap();
        }
    }

    fn call(l: &LayerRef, x: &Tensor) -> Tensor {
        l.read().call(x, false).unwrap()
    }

    fn input(shape: &[usize], seed: u64) -> Tensor {
        randn(shape, seed).cast(DType::F32).unwrap()
    }

    #[test]
    fn fuse_absorbs_what_composes_and_declines_the_rest() {
        let conv = LayerRef::new(Conv2D::new(4, 3).padding("same").unwrap());
        let (bn, relu, bn2) = (
            LayerRef::new(BatchNormalization::new()),
            LayerRef::new(Activation::new("relu").unwrap()),
            LayerRef::new(BatchNormalization::new()),
        );
        let x = input(&[2, 5, 5, 3], 1);
        let inp = Input::new(&[5, 5, 3]);
        let y = bn2
            .apply(
                &relu
                    .apply(&bn.apply(&conv.apply(&inp).unwrap()).unwrap())
                    .unwrap(),
            )
            .unwrap();
        let _model = Model::new(&[&inp], &[&y]).unwrap();
        randomize(&bn, 10);
        randomize(&bn2, 20);
        // Normalization and relu compose; the second normalization cannot follow the relu.
        let (used, got) = fuse(&conv, &x, &[&bn, &relu, &bn2]).unwrap().expect("fuses");
        assert_eq!(used, 2);
        let want = call(&relu, &call(&bn, &call(&conv, &x)));
        assert_close("conv + bn + relu", &got, &want, 1e-5, 1e-5);
        // Nothing to absorb: a dropout is no per-channel map.
        let drop = LayerRef::new(Dropout::new(0.5).unwrap());
        assert!(fuse(&conv, &x, &[&drop]).unwrap().is_none());
        // A convolution with its own activation keeps its output as it is.
        let own = LayerRef::new(Conv2D::new(4, 3).activation("relu").unwrap());
        own.write().build(&[None, Some(5), Some(5), Some(3)]).unwrap();
        assert!(fuse(&own, &x, &[&bn]).unwrap().is_none());
        // A ReLU layer with a cap is not the plain relu.
        let capped = LayerRef::new(ReLU::new().max_value(6.0).unwrap());
        assert!(fuse(&conv, &x, &[&capped]).unwrap().is_none());
    }

    #[test]
    fn functional_inference_matches_the_layers_run_one_by_one() {
        let conv1 = LayerRef::new(Conv2D::new(4, 3).padding("same").unwrap().use_bias(false));
        let bn1 = LayerRef::new(BatchNormalization::new());
        let relu1 = LayerRef::new(Activation::new("relu").unwrap());
        let conv2 = LayerRef::new(Conv2D::new(4, 3).padding("same").unwrap());
        let bn2 = LayerRef::new(BatchNormalization::new());
        let add = LayerRef::new(Add::new());
        let relu2 = LayerRef::new(ReLU::new());
        let flat = LayerRef::new(Flatten::new());
        let dense = LayerRef::new(Dense::new(5));
        let bn3 = LayerRef::new(BatchNormalization::new());
        let tanh = LayerRef::new(Activation::new("tanh").unwrap());

        let inp = Input::new(&[6, 6, 3]);
        let a = relu1
            .apply(&bn1.apply(&conv1.apply(&inp).unwrap()).unwrap())
            .unwrap();
        let b = bn2.apply(&conv2.apply(&a).unwrap()).unwrap();
        let c = relu2.apply(&add.apply_list(&[&a, &b]).unwrap()).unwrap();
        let d = bn3
            .apply(&dense.apply(&flat.apply(&c).unwrap()).unwrap())
            .unwrap();
        let out = tanh.apply(&d).unwrap();
        // `d` is an output too, so the tanh cannot take the Dense layer's place.
        let model = Model::new(&[&inp], &[&out, &d]).unwrap();
        for (bn, seed) in [(&bn1, 10), (&bn2, 20), (&bn3, 30)] {
            randomize(bn, seed);
        }

        let chains = model.fusion_pairs();
        let pair = |l: &LayerRef, r: &LayerRef| (l.name(), r.name());
        for want in [
            pair(&conv1, &bn1),
            pair(&bn1, &relu1),
            pair(&conv2, &bn2),
            pair(&add, &relu2),
        ] {
            assert!(chains.contains(&want), "{want:?} missing from {chains:?}");
        }
        // relu1 feeds conv2 and the Add; d is a model output.
        assert!(
            !chains.iter().any(|(h, _)| *h == relu1.name() || *h == bn3.name()),
            "{chains:?}"
        );

        let x = input(&[3, 6, 6, 3], 1);
        let a = call(&relu1, &call(&bn1, &call(&conv1, &x)));
        let b = call(&bn2, &call(&conv2, &a));
        let c = call(&relu2, &add.read().call_multi(&[a, b], false).unwrap()[0]);
        let d = call(&bn3, &call(&dense, &call(&flat, &c)));
        let want = [call(&tanh, &d), d];
        let got = model.forward(std::slice::from_ref(&x), false).unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert_close("functional inference", g, w, 1e-5, 1e-5);
        }
    }

    #[test]
    fn sequential_inference_matches_the_layers_run_one_by_one() {
        let model = Sequential::new(vec![
            Box::new(Conv2D::new(4, 3)),
            Box::new(BatchNormalization::new()),
            Box::new(ReLU::new()),
            Box::new(Conv2D::new(3, 3).activation("relu").unwrap()),
            Box::new(BatchNormalization::new()),
            Box::new(Flatten::new()),
            Box::new(Dense::new(6)),
            Box::new(BatchNormalization::new()),
            Box::new(Activation::new("relu").unwrap()),
            Box::new(Dense::new(2)),
        ]);
        let x = input(&[3, 7, 7, 2], 1);
        model.forward(std::slice::from_ref(&x), true).unwrap();
        let layers = model.layers();
        for (i, l) in layers.iter().enumerate() {
            if l.read().class_name() == "BatchNormalization" {
                randomize(l, 10 * i as u64);
            }
        }
        let want = layers.iter().fold(x.clone(), |h, l| call(l, &h));
        let got = model.forward(std::slice::from_ref(&x), false).unwrap();
        assert_close("sequential inference", &got[0], &want, 1e-5, 1e-5);
    }
}
