//! BackupAndRestore: a run interrupted after epoch 2 and resumed from its backup ends with
//! exactly the weights of an uninterrupted run with the same seed (shuffling, dropout and
//! Adam state included). One test in its own binary: the global seed counter is process-wide.

use keras::callbacks::{shared, BackupAndRestore, Callback, CallbackContext, CallbackRef};
use keras::layers::{Dense, Dropout};
use keras::trainers::Logs;
use keras::{losses, optimizers, FitArgs, Sequential, Trainer};
use keras_tensor::{DType, Device, Error, Result, Tensor};

fn model() -> Sequential {
    let mut m = Sequential::new(vec![
        Box::new(Dense::new(16).activation("relu").unwrap()),
        Box::new(Dropout::new(0.25).unwrap()),
        Box::new(Dense::new(3).activation("softmax").unwrap()),
    ])
    .input_shape(&[5]);
    m.compile(
        optimizers::get("adam").unwrap(),
        losses::get("sparse_categorical_crossentropy").unwrap(),
        &["accuracy"],
    )
    .unwrap();
    m
}

/// Fails at the end of the given epoch, like a process that dies there.
struct Interrupt(usize);
impl Callback for Interrupt {
    fn on_epoch_end(&mut self, _: &mut CallbackContext, epoch: usize, _: &mut Logs) -> Result<()> {
        if epoch == self.0 {
            return Err(Error::InvalidArgument {
                op: "test",
                msg: "interrupted".into(),
            });
        }
        Ok(())
    }
}

fn weights(m: &Sequential) -> Vec<Vec<f32>> {
    Trainer::variables(m)
        .iter()
        .map(|v| v.value().to_vec::<f32>().unwrap())
        .collect()
}

#[test]
fn an_interrupted_run_resumed_from_backup_ends_with_the_uninterrupted_weights() {
    let cpu = Device::Cpu;
    let x = Tensor::random_normal(&[64, 5], 0.0, 1.0, 11, DType::F32, &cpu).unwrap();
    let y = Tensor::random_uniform(&[64], 0.0, 3.0, 12, DType::F32, &cpu)
        .unwrap()
        .floor()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("keras-rs-backup-{}", std::process::id()));
    let args = |cbs: Vec<CallbackRef>| FitArgs {
        epochs: 5,
        batch_size: 16,
        verbose: 0,
        validation_split: 0.25,
        callbacks: cbs,
        ..Default::default()
    };

    // Uninterrupted.
    keras::set_random_seed(7);
    let mut a = model();
    let ha = a
        .fit(&x, &y, args(vec![shared(BackupAndRestore::new(dir.join("a")))]))
        .unwrap();
    assert!(
        !dir.join("a").exists(),
        "the backup is removed after a normal end"
    );

    // Interrupted at the end of epoch 2 (after the backup of that epoch was written).
    keras::set_random_seed(7);
    let mut b = model();
    let backup = || shared(BackupAndRestore::new(dir.join("b")));
    let e = b
        .fit(&x, &y, args(vec![backup(), shared(Interrupt(2))]))
        .unwrap_err();
    assert!(e.to_string().contains("interrupted"));
    assert!(dir.join("b/latest.weights.h5").exists());

    // A new process would rebuild the model the same way, then fit again.
    keras::set_random_seed(7);
    let mut c = model();
    let restore = backup();
    let hc = c.fit(&x, &y, args(vec![restore.clone()])).unwrap();
    assert_eq!(restore.lock().unwrap().restored_epoch(), Some(3));
    assert_eq!(hc.epoch, vec![3, 4]);
    assert_eq!(
        weights(&a),
        weights(&c),
        "resumed weights differ from the uninterrupted run"
    );
    assert_eq!(ha.history["loss"][3..], hc.history["loss"][..]);
    let _ = std::fs::remove_dir_all(&dir);
}
