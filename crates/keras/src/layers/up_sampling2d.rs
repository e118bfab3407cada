//! `UpSampling2D`: repeats (or bilinearly interpolates) rows and columns of images.

use super::zero_padding2d::{rank_error, require_channels_last};
use super::{base_config, config_name, field, field_pair, shape_error, unique_name, Layer, Shape};
use keras_tensor::{DType, Error, Result, Tensor};
use serde_json::{json, Value};

/// The interpolations this version implements.
const SUPPORTED: &str = "\"nearest\" and \"bilinear\"";

fn check_interpolation(interpolation: &str, op: &'static str) -> Result<String> {
    let i = interpolation.to_lowercase();
    match i.as_str() {
        "nearest" | "bilinear" => Ok(i),
        "bicubic" | "lanczos3" | "lanczos5" | "area" => Err(Error::InvalidArgument {
            op,
            msg: format!("interpolation {interpolation:?} is not supported yet (only {SUPPORTED})"),
        }),
        _ => Err(Error::InvalidArgument {
            op,
            msg: format!(
                "unknown interpolation {interpolation:?}; Keras accepts \"bicubic\", \
                 \"bilinear\", \"lanczos3\", \"lanczos5\", \"nearest\" (this version: {SUPPORTED})"
            ),
        }),
    }
}

/// Upsamples `(batch, rows, cols, channels)` images by integer factors, as
/// `keras.layers.UpSampling2D` (channels-last only).
///
/// `"nearest"` repeats each row `size[0]` times and each column `size[1]` times;
/// `"bilinear"` interpolates as Keras's `ops.image.resize` does (half-pixel centres, edges
/// clamped). Keras's other interpolations (`"bicubic"`, `"lanczos3"`, `"lanczos5"`) are
/// rejected.
///
/// ```
/// use keras::layers::{Layer, UpSampling2D};
/// let u = UpSampling2D::new(2)?;
/// assert_eq!(
///     u.compute_output_shape(&[None, Some(4), Some(5), Some(3)])?,
///     vec![None, Some(8), Some(10), Some(3)]
/// );
/// let x = keras_tensor::Tensor::new(&[1.0f32, 2.0], &[1, 1, 2, 1])?;
/// let y = UpSampling2D::new(1)?.size([1, 2])?.call(&x, false)?;
/// assert_eq!(y.to_vec::<f32>()?, vec![1.0, 1.0, 2.0, 2.0]);
/// let y = UpSampling2D::new(1)?.size([1, 2])?.interpolation("bilinear")?.call(&x, false)?;
/// assert_eq!(y.to_vec::<f32>()?, vec![1.0, 1.25, 1.75, 2.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Debug)]
pub struct UpSampling2D {
    name: String,
    size: [usize; 2],
    interpolation: String,
    trainable: bool,
}

impl UpSampling2D {
    /// Factor `s` on rows and columns (Keras's default is 2), `"nearest"` interpolation.
    ///
    /// # Errors
    /// When `s` is 0.
    pub fn new(s: usize) -> Result<UpSampling2D> {
        UpSampling2D {
            name: unique_name("up_sampling2d"),
            size: [1; 2],
            interpolation: "nearest".into(),
            trainable: true,
        }
        .size([s; 2])
    }

    /// Factors `[rows, cols]`.
    ///
    /// # Errors
    /// When a factor is 0.
    pub fn size(mut self, size: [usize; 2]) -> Result<UpSampling2D> {
        if size.contains(&0) {
            return Err(Error::InvalidArgument {
                op: "UpSampling2D",
                msg: format!("size must be positive integers, got {size:?}"),
            });
        }
        self.size = size;
        Ok(self)
    }

    /// `"nearest"` or `"bilinear"` (case-insensitive, as in Keras).
    ///
    /// # Errors
    /// For Keras's other interpolations, which this version does not implement, and unknown
    /// names.
    pub fn interpolation(mut self, interpolation: &str) -> Result<UpSampling2D> {
        self.interpolation = check_interpolation(interpolation, "UpSampling2D")?;
        Ok(self)
    }

    /// Sets the layer name.
    pub fn name(mut self, name: &str) -> UpSampling2D {
        self.name = name.to_string();
        self
    }

    /// Rebuilds from a Keras config.
    ///
    /// # Errors
    /// For a zero or malformed `size`, an unsupported interpolation, or
    /// `data_format="channels_first"`.
    pub fn from_config(c: &Value) -> Result<UpSampling2D> {
        const OP: &str = "UpSampling2D.from_config";
        require_channels_last(c, OP)?;
        let interpolation: String = field(c, "interpolation", "nearest".to_string())?;
        let mut u = UpSampling2D::new(1)?.size(field_pair(c, "size")?.unwrap_or([2, 2]))?;
        u.interpolation = check_interpolation(&interpolation, OP)?;
        u.name = config_name(c, "up_sampling2d")?;
        u.trainable = field(c, "trainable", true)?;
        Ok(u)
    }
}

/// Repeats every entry along `axis` `f` times (NumPy's `repeat` with a scalar count).
fn repeat(x: &Tensor, axis: usize, f: usize) -> Result<Tensor> {
    if f == 1 {
        return Ok(x.clone());
    }
    let mut wide = x.shape().to_vec();
    wide.insert(axis + 1, f);
    let mut out = x.shape().to_vec();
    out[axis] *= f;
    x.expand_dims(axis as isize + 1)?
        .broadcast_to(&wide)?
        .reshape_to(&out)
}

/// Bilinear upsampling along `axis` by `f`, as JAX's `image.resize` (Keras's `ops.image.resize`
/// with `antialias=False`): output `i` samples the input at `(i + 0.5) / f - 0.5`, mixing its
/// two neighbours; samples outside the input take the edge value.
fn bilinear(x: &Tensor, axis: usize, f: usize) -> Result<Tensor> {
    let n = x.shape()[axis];
    if f == 1 || n == 0 {
        return Ok(x.clone());
    }
    let m = n * f;
    let (mut lo, mut hi, mut w) = (
        Vec::with_capacity(m),
        Vec::with_capacity(m),
        Vec::with_capacity(m),
    );
    for i in 0..m {
        let src = (i as f64 + 0.5) / f as f64 - 0.5;
        let fl = src.floor();
        let clamp = |v: f64| v.clamp(0.0, (n - 1) as f64) as i64;
        lo.push(clamp(fl));
        hi.push(clamp(fl + 1.0));
        w.push(src - fl);
    }
    let dev = x.device();
    let lo = Tensor::from_vec(lo, &[m], dev)?;
    let hi = Tensor::from_vec(hi, &[m], dev)?;
    let mut wshape = vec![1; x.rank()];
    wshape[axis] = m;
    let dtype = if x.dtype().is_float() {
        x.dtype()
    } else {
        DType::F32
    };
    let w = Tensor::from_vec(w, &wshape, dev)?.cast(dtype)?;
    let a = x.index_select(&lo, axis as isize)?;
    let b = x.index_select(&hi, axis as isize)?;
    // a + w * (b - a) would round differently; Keras weights both sides.
    a.mul(&w.neg()?.add_scalar(1.0)?)?.add(&b.mul(&w)?)
}

impl Layer for UpSampling2D {
    super::layer_common!("UpSampling2D");
    fn built(&self) -> bool {
        true
    }
    fn build(&mut self, input_shape: &[Option<usize>]) -> Result<()> {
        self.compute_output_shape(input_shape).map(|_| ())
    }
    fn compute_output_shape(&self, input_shape: &[Option<usize>]) -> Result<Shape> {
        if input_shape.len() != 4 {
            return Err(shape_error(
                &self.name,
                "a 4-D input (batch, rows, cols, channels)",
                input_shape,
            ));
        }
        let mut s = input_shape.to_vec();
        s[1] = s[1].map(|d| d * self.size[0]);
        s[2] = s[2].map(|d| d * self.size[1]);
        Ok(s)
    }
    fn call(&self, x: &Tensor, _training: bool) -> Result<Tensor> {
        if x.rank() != 4 {
            return Err(rank_error(&self.name, 4, x));
        }
        let [fh, fw] = self.size;
        if self.interpolation == "bilinear" {
            bilinear(&bilinear(x, 1, fh)?, 2, fw)
        } else {
            repeat(&repeat(x, 1, fh)?, 2, fw)
        }
    }
    fn get_config(&self) -> Value {
        let mut m = base_config(&self.name, self.trainable);
        m.insert("size".into(), json!(self.size));
        m.insert("data_format".into(), json!("channels_last"));
        m.insert("interpolation".into(), json!(self.interpolation));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::testing::run_layer_test;
    use keras_tensor::testing::{assert_close, check_grad, randn};
    use serde_json::json;

    #[test]
    fn up_sampling2d_passes_the_layer_harness() {
        run_layer_test(Box::new(up([2, 2])), &[3, 2, 2], 0);
        run_layer_test(
            Box::new(up([3, 2]).interpolation("bilinear").unwrap()),
            &[2, 3, 1],
            0,
        );
    }

    fn up(size: [usize; 2]) -> UpSampling2D {
        UpSampling2D::new(1).unwrap().size(size).unwrap()
    }

    /// `np.arange(6.).reshape(1, 2, 3, 1) ** 2`.
    fn squares() -> Tensor {
        Tensor::new(&[0.0f32, 1., 4., 9., 16., 25.], &[1, 2, 3, 1]).unwrap()
    }

    #[test]
    fn nearest_matches_keras() {
        // keras.layers.UpSampling2D(size=(2, 1))(x)
        let y = up([2, 1]).call(&squares(), false).unwrap();
        assert_eq!(y.shape(), &[1, 4, 3, 1]);
        assert_eq!(
            y.to_vec::<f32>().unwrap(),
            vec![0.0, 1., 4., 0., 1., 4., 9., 16., 25., 9., 16., 25.]
        );
        let u = up([2, 2]);
        check_grad("up_sampling2d_nearest", &[&randn(&[2, 2, 3, 2], 1)], |t| {
            u.call(&t[0], true)
        });
    }

    #[test]
    fn bilinear_matches_keras() {
        // KERAS_BACKEND=jax: keras.layers.UpSampling2D(size, interpolation="bilinear")(x)
        let cases: [([usize; 2], Vec<f32>); 2] = [
            (
                [2, 3],
                vec![
                    0.0, 0.0, 0.33333337, 0.6666667, 1.0, 2.0, 3.0000002, 4.0, 4.0, 2.25, 2.25, 3.0833335,
                    3.9166667, 4.75, 6.25, 7.75, 9.25, 9.25, 6.75, 6.75, 8.583334, 10.416667, 12.25, 14.75,
                    17.25, 19.75, 19.75, 9.0, 9.0, 11.333334, 13.666667, 16.0, 19.0, 22.0, 25.0, 25.0,
                ],
            ),
            (
                [2, 2],
                vec![
                    0.0, 0.25, 0.75, 1.75, 3.25, 4.0, 2.25, 2.875, 4.125, 5.875, 8.125, 9.25, 6.75, 8.125,
                    10.875, 14.125, 17.875, 19.75, 9.0, 10.75, 14.25, 18.25, 22.75, 25.0,
                ],
            ),
        ];
        for (size, want) in cases {
            let u = up(size).interpolation("Bilinear").unwrap();
            let y = u.call(&squares(), false).unwrap();
            let shape = [1, 2 * size[0], 3 * size[1], 1];
            assert_close(
                &format!("bilinear {size:?}"),
                &y,
                &Tensor::new(&want, &shape).unwrap(),
                1e-6,
                1e-6,
            );
        }
        let u = up([3, 3]).interpolation("bilinear").unwrap();
        check_grad("up_sampling2d_bilinear", &[&randn(&[2, 2, 3, 2], 1)], |t| {
            u.call(&t[0], true)
        });
    }

    #[test]
    fn config_and_errors() {
        let u = UpSampling2D::from_config(&json!({})).unwrap();
        assert_eq!(u.get_config()["size"], json!([2, 2]));
        assert_eq!(u.get_config()["interpolation"], json!("nearest"));
        let u = UpSampling2D::from_config(&json!({"size": 3, "interpolation": "BILINEAR"})).unwrap();
        assert_eq!(u.get_config()["size"], json!([3, 3]));
        assert_eq!(u.get_config()["interpolation"], json!("bilinear"));
        let e = UpSampling2D::from_config(&json!({"interpolation": "bicubic"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bicubic") && e.contains("not supported"), "{e}");
        assert!(up([2, 2]).interpolation("cubic").is_err());
        assert!(UpSampling2D::from_config(&json!({"size": [0, 2]})).is_err());
        assert!(UpSampling2D::from_config(&json!({"data_format": "channels_first"})).is_err());
        assert!(UpSampling2D::new(0).is_err() && up([1, 1]).size([2, 0]).is_err());
        let e = up([2, 2])
            .name("up")
            .compute_output_shape(&[None, Some(2)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("up") && e.contains("(None, 2)"), "{e}");
    }
}
