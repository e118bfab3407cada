//! `Embedding`: maps integer indices to learned dense vectors.

use super::{activity_loss, base_config, config_name, field, unique_name, Layer, Shape, WeightRules};
use crate::constraints::Constraint;
use crate::initializers::Initializer;
use crate::regularizers::Regularizer;
use crate::Variable;
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};

/// Keras's `"uniform"` initializer: `RandomUniform(-0.05, 0.05)`.
const UNIFORM: Initializer = Initializer::RandomUniform {
    minval: -0.05,
    maxval: 0.05,
};

/// An initializer by Keras name, with Keras's short aliases `"uniform"` and `"normal"`.
fn initializer_by_name(name: &str) -> Result<Initializer> {
    match name {
        "uniform" => Ok(UNIFORM),
        "normal" => Initializer::get("random_normal"),
        _ => Initializer::get(name),
    }
}

/// Turns indices into vectors, as `keras.layers.Embedding`: an input of any shape `s`
/// gives `(*s, output_dim)`, row `i` of the `(input_dim, output_dim)` `embeddings` weight
/// for index `i`.
///
/// Indices of any dtype are accepted; floats are truncated toward zero, as Keras's cast.
/// Indices must lie in `[-input_dim, input_dim)`; negative ones count from the end, as
/// Keras's `take` on the JAX backend (an index outside that range is an error naming the
/// layer, where JAX would give NaN rows).
///
/// With [`Embedding::mask_zero`], index 0 is padding: the output carries the mask
/// `inputs != 0` to the layers after it (recurrent layers skip those steps, losses ignore
/// them), as Keras's `mask_zero=True`. LoRA and quantization are not supported.
///
/// ```
/// use keras::layers::{Embedding, Layer};
/// use keras_tensor::Tensor;
/// let mut e = Embedding::new(10, 4)?;
/// e.build(&[None, Some(3)])?;
/// let y = e.call(&Tensor::new(&[1i32, 5, 9, 0, 0, 2], &[2, 3])?, false)?;
/// assert_eq!(y.shape(), &[2, 3, 4]);
/// assert!(y.to_vec::<f32>()?.iter().all(|v| v.abs() <= 0.05));
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct Embedding {
    name: String,
    input_dim: usize,
    output_dim: usize,
    embeddings_initializer: Initializer,
    embeddings_rules: WeightRules,
    activity_regularizer: Option<Regularizer>,
    trainable: bool,
    mask_zero: bool,
    embeddings: Option<Variable>,
}

impl Embedding {
    /// A table of `input_dim` vectors of size `output_dim`, initialized uniformly in
    /// `[-0.05, 0.05)`.
    ///
    /// # Errors
    /// When either size is 0.
    pub fn new(input_dim: usize, output_dim: usize) -> Result<Embedding> {
        if input_dim == 0 || output_dim == 0 {
            return Err(Error::InvalidArgument {
                op: "Embedding",
                msg: format!(
                    "input_dim and output_dim must be positive integers, got input_dim={input_dim}, \
                     output_dim={output_dim}"
                ),
            });
        }
        Ok(Embedding {
            name: unique_name("embedding"),
            input_dim,
            output_dim,
            embeddings_initializer: UNIFORM,
            embeddings_rules: WeightRules::default(),
            activity_regularizer: None,
            trainable: true,
            mask_zero: false,
            embeddings: None,
        })
    }

    /// Sets the initializer of the table by Keras name (`"uniform"`, `"normal"`, …).
    ///
    /// # Errors
    /// For an unknown name.
    pub fn embeddings_initializer(mut self, name: &str) -> Result<Embedding> {
        self.embeddings_initializer = initializer_by_name(name)?;
        Ok(self)
    }

    /// Adds a penalty on the table to the training loss.
    pub fn embeddings_regularizer(mut self, r: Regularizer) -> Embedding {
        self.embeddings_rules.regularizer = Some(r);
        self
    }

    /// Constrains the table after each optimizer step.
    pub fn embeddings_constraint(mut self, c: Constraint) -> Embedding {
        self.embeddings_rules.constraint = Some(c);
        self
    }

    /// Adds a penalty on the output to the training loss.
    pub fn activity_regularizer(mut self, r: Regularizer) -> Embedding {
        self.activity_regularizer = Some(r);
        self
    }

    /// Treats index 0 as padding (Keras's `mask_zero`): the output's mask is `inputs != 0`.
    ///
    /// ```
    /// use keras::layers::{Embedding, Layer};
    /// use keras_tensor::Tensor;
    /// let mut e = Embedding::new(10, 4)?.mask_zero(true);
    /// e.build(&[None, Some(3)])?;
    /// let x = Tensor::new(&[4i64, 2, 0, 0, 0, 9], &[2, 3])?;
    /// let m = e.compute_mask(&x, None)?.expect("a mask");
    /// assert_eq!(m.to_vec::<bool>()?, vec![true, true, false, false, false, true]);
    /// # Ok::<(), keras_tensor::Error>(())
    /// ```
    pub fn mask_zero(mut self, mask_zero: bool) -> Embedding {
        self.mask_zero = mask_zero;
        self
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> Embedding {
        self.name = name.to_string();
        self
    }

    /// The `(input_dim, output_dim)` table, once built.
    pub fn embeddings(&self) -> Option<&Variable> {
        self.embeddings.as_ref()
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For missing or zero sizes, unknown initializers, regularizers or constraints, and for
    /// `lora_rank` or `quantization_config`, which are not supported.
    pub fn from_config(c: &Value) -> Result<Embedding> {
        const OP: &str = "Embedding.from_config";
        super::reject_unsupported(c, OP, &["lora_rank", "quantization_config"])?;
        let mut e = Embedding::new(field(c, "input_dim", 0)?, field(c, "output_dim", 0)?)?;
        e.name = config_name(c, "embedding")?;
        e.trainable = field(c, "trainable", true)?;
        e.mask_zero = field(c, "mask_zero", false)?;
        match c.get("embeddings_initializer") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => e.embeddings_initializer = initializer_by_name(s)?,
            Some(v) => e.embeddings_initializer = Initializer::from_config(v)?,
        }
        e.embeddings_rules = WeightRules::from_config(c, "embeddings")?;
        e.activity_regularizer =
            Regularizer::from_config(c.get("activity_regularizer").unwrap_or(&Value::Null))?;
        Ok(e)
    }

    /// The indices of `x` as a flat `i64` tensor, checked against `input_dim`.
    fn indices(&self, x: &Tensor) -> Result<Tensor> {
        let idx = x.cast(DType::I64)?.reshape_to(&[x.numel()])?;
        let d = self.input_dim as i64;
        if let Some(bad) = idx.to_vec::<i64>()?.into_iter().find(|&i| i < -d || i >= d) {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!(
                    "layer {:?} (input_dim={}) got index {bad} in an input of shape {:?}; indices \
                     must be in [-{d}, {d})",
                    self.name,
                    self.input_dim,
                    x.shape()
                ),
            });
        }
        Ok(idx)
    }
}

impl Layer for Embedding {
    super::layer_common!("Embedding");
    fn built(&self) -> bool {
        self.embeddings.is_some()
    }
    fn build(&mut self, _input_shape: &[Option<usize>]) -> Result<()> {
        let value = self
            .embeddings_initializer
            .sample(&[self.input_dim, self.output_dim], DType::F32)?;
        self.embeddings = Some(
            self.embeddings_rules
                .attach(Variable::new("embeddings", value, true)),
        );
        Ok(())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        let mut s = input_shape.to_vec();
        s.push(Some(self.output_dim));
        Ok(s)
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        let Some(table) = &self.embeddings else {
            return Err(Error::InvalidArgument {
                op: "call",
                msg: format!("layer {:?} is not built", self.name),
            });
        };
        let rows = table.value().index_select(&self.indices(x)?, 0)?;
        let mut shape = x.shape().to_vec();
        shape.push(self.output_dim);
        let y = rows.reshape_to(&shape)?;
        activity_loss(self.activity_regularizer, &y)?;
        Ok(y)
    }
    fn weights(&self) -> Vec<Variable> {
        self.embeddings.iter().cloned().collect()
    }
    fn supports_masking(&self) -> bool {
        true
    }
    /// `inputs != 0` with `mask_zero`, else none (a mask arriving from before is dropped, as
    /// in Keras).
    fn compute_mask(&self, x: &Tensor, _mask: Option<&Tensor>) -> Result<Option<Tensor>> {
        if !self.mask_zero {
            return Ok(None);
        }
        Ok(Some(x.ne(&x.scalar_like(0.0)?)?))
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("input_dim".into(), json!(self.input_dim));
        m.insert("output_dim".into(), json!(self.output_dim));
        m.insert(
            "embeddings_initializer".into(),
            self.embeddings_initializer.get_config(),
        );
        self.embeddings_rules.to_config(&mut m, "embeddings");
        m.insert(
            "activity_regularizer".into(),
            self.activity_regularizer.map_or(Value::Null, |r| r.to_config()),
        );
        m.insert("mask_zero".into(), json!(self.mask_zero));
        m.insert("quantization_config".into(), Value::Null);
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::check_grad;

    fn table(e: &mut Embedding) {
        e.build(&[None, Some(2)]).unwrap();
        let w = Tensor::arange(0.0, 8.0, 1.0, DType::F32, &keras_tensor::Device::Cpu)
            .unwrap()
            .reshape(&[4, 2])
            .unwrap();
        e.embeddings().unwrap().assign(&w).unwrap();
    }

    #[test]
    fn embedding_passes_the_layer_harness() {
        // The harness feeds normal floats: truncated, they are small in-range indices.
        run_layer_test(Box::new(Embedding::new(10, 3).unwrap()), &[4], 1);
        run_layer_test(
            Box::new(
                Embedding::new(10, 2)
                    .unwrap()
                    .embeddings_regularizer(Regularizer::L2(0.01))
                    .embeddings_constraint(Constraint::UnitNorm { axis: vec![1] })
                    .activity_regularizer(Regularizer::L1(0.1)),
            ),
            &[2, 3],
            1,
        );
    }

    #[test]
    fn lookups_match_keras() {
        // e = keras.layers.Embedding(4, 2); e.set_weights([np.arange(8.).reshape(4, 2)])
        let mut e = Embedding::new(4, 2).unwrap();
        table(&mut e);
        let want = vec![0.0f32, 1., 6., 7., 6., 7., 2., 3.];
        // e(np.array([[0, 3], [-1, 1]], "int32"))
        let i = Tensor::new(&[0i32, 3, -1, 1], &[2, 2]).unwrap();
        let y = e.call(&i, false).unwrap();
        assert_eq!(y.shape(), &[2, 2, 2]);
        assert_eq!(y.to_vec::<f32>().unwrap(), want);
        // e(np.array([[0., 3.9], [-1.5, 1.7]], "float32")): floats truncate.
        let f = Tensor::new(&[0.0f32, 3.9, -1.5, 1.7], &[2, 2]).unwrap();
        assert_eq!(e.call(&f, false).unwrap().to_vec::<f32>().unwrap(), want);
        // uint8 and int64 indices.
        let u = Tensor::new(&[0u8, 3, 2, 1], &[2, 2]).unwrap();
        assert_eq!(
            e.call(&u, false).unwrap().to_vec::<f32>().unwrap(),
            vec![0.0, 1., 6., 7., 4., 5., 2., 3.]
        );
        let l = Tensor::new(&[2i64], &[1]).unwrap();
        assert_eq!(e.call(&l, false).unwrap().to_vec::<f32>().unwrap(), vec![4.0, 5.]);
    }

    #[test]
    fn out_of_range_indices_name_the_layer() {
        let mut e = Embedding::new(4, 2).unwrap().name("emb");
        table(&mut e);
        for bad in [4i64, -5] {
            let i = Tensor::new(&[0i64, bad], &[1, 2]).unwrap();
            let msg = e.call(&i, false).unwrap_err().to_string();
            assert!(
                msg.contains("emb") && msg.contains(&bad.to_string()) && msg.contains("[1, 2]"),
                "{msg}"
            );
        }
    }

    #[test]
    fn gradient_reaches_the_looked_up_rows() {
        let mut e = Embedding::new(4, 2).unwrap();
        table(&mut e);
        let i = Tensor::new(&[1i32, 1, 3], &[3]).unwrap();
        let y = e.call(&i, true).unwrap();
        let table_value = e.embeddings().unwrap().value();
        let g = y.sum_all().unwrap().backward().unwrap();
        let g = g.get(&table_value).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(g, vec![0.0, 0., 2., 2., 0., 0., 1., 1.]);
        let idx = e.indices(&i).unwrap();
        check_grad("embedding", &[&keras_tensor::testing::randn(&[4, 2], 1)], |t| {
            t[0].index_select(&idx, 0)
        });
    }

    #[test]
    fn config_matches_keras() {
        // keras.layers.Embedding(10, 4).get_config()
        let e = Embedding::new(10, 4).unwrap().name("embedding");
        assert_eq!(
            e.get_config(),
            json!({"name": "embedding", "trainable": true, "dtype": {"module": "keras",
                   "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                   "input_dim": 10, "output_dim": 4,
                   "embeddings_initializer": {"module": "keras.initializers", "class_name": "RandomUniform",
                       "config": {"seed": null, "minval": -0.05, "maxval": 0.05}, "registered_name": null},
                   "embeddings_regularizer": null, "activity_regularizer": null,
                   "embeddings_constraint": null, "mask_zero": false, "quantization_config": null})
        );
        let r = Embedding::from_config(&json!({"input_dim": 4, "output_dim": 2,
            "embeddings_initializer": "uniform", "embeddings_regularizer": "l2"}))
        .unwrap();
        assert_eq!(
            r.get_config()["embeddings_regularizer"]["config"]["l2"],
            json!(0.01)
        );
        let e = Embedding::from_config(&json!({"input_dim": 4, "output_dim": 2, "mask_zero": true})).unwrap();
        assert_eq!(e.get_config()["mask_zero"], json!(true));
        let x = Tensor::new(&[0.0f32, 0.5, 3.0], &[1, 3]).unwrap();
        // Keras compares the raw input with 0: 0.5 is not padding though it looks up row 0.
        assert_eq!(
            e.compute_mask(&x, None)
                .unwrap()
                .unwrap()
                .to_vec::<bool>()
                .unwrap(),
            vec![false, true, true]
        );
        let plain = Embedding::new(4, 2).unwrap();
        let m = Tensor::new(&[true], &[1, 1]).unwrap();
        assert!(plain.compute_mask(&x, Some(&m)).unwrap().is_none());
        assert!(Embedding::from_config(&json!({"input_dim": 4, "output_dim": 2, "lora_rank": 2})).is_err());
        assert!(Embedding::from_config(&json!({"output_dim": 2})).is_err());
        assert!(Embedding::new(0, 2).is_err());
    }
}
