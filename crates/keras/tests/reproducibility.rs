//! One call sets every seed: the same seed gives the same weights, shuffles, dropout masks
//! and therefore the same training history on CPU. (Its own test binary, so no other test
//! draws from the global seed stream meanwhile.)

use keras::layers::{Dense, Dropout, GaussianNoise};
use keras::{losses, optimizers, FitArgs, Sequential, Trainer};
use keras_tensor::{DType, Device, Tensor};

fn run(seed: u64) -> (Vec<f64>, Vec<f32>) {
    keras::set_random_seed(seed);
    let x = Tensor::random_normal(&[96, 6], 0.0, 1.0, 1, DType::F32, &Device::Cpu).unwrap();
    let y = x.narrow(1, 0, 3).unwrap().argmax(-1, false).unwrap();
    let mut model = Sequential::new(vec![
        Box::new(GaussianNoise::new(0.1).unwrap()),
        Box::new(Dense::new(16).activation("relu").unwrap()),
        Box::new(Dropout::new(0.3).unwrap()),
        Box::new(Dense::new(3).activation("softmax").unwrap()),
    ])
    .input_shape(&[6]);
    model
        .compile(
            optimizers::get("adam").unwrap(),
            losses::get("sparse_categorical_crossentropy").unwrap(),
            &["accuracy"],
        )
        .unwrap();
    let args = FitArgs {
        epochs: 3,
        batch_size: 16,
        verbose: 0,
        validation_split: 0.25,
        ..Default::default()
    };
    let h = model.fit(&x, &y, args).unwrap();
    let w = model.variables()[0].value().to_vec::<f32>().unwrap();
    (h.history["loss"].clone(), w)
}

#[test]
fn the_same_seed_gives_the_same_training_run() {
    let a = run(7);
    let b = run(7);
    assert_eq!(a, b, "same seed, different run");
    let c = run(8);
    assert_ne!(a.1, c.1, "a different seed should give different weights");
}
