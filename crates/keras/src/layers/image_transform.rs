//! Image code shared by the preprocessing and augmentation layers: input checks, Keras's
//! `factor` arguments, random draws, the affine transform behind `RandomRotation`,
//! `RandomZoom` and `RandomTranslation` (bilinear or nearest interpolation, four fill
//! modes), resizing and aspect-ratio crops, all as Keras 3 computes them with the JAX
//! backend (`keras.ops.image.affine_transform`, `keras.ops.image.resize`).
//!
//! Everything is built from tracked tensor ops (`index_select`, multiplications, sums), so
//! gradients flow from an output back to the input pixels; the random parameters themselves
//! are constants.

use super::batch_normalization::compute_input;
use super::{base_config, fmt_shape, Shape};
use crate::random::next_seed;
use keras_tensor::{DType, Device, Error, Result, Tensor};
use serde_json::{json, Value};

/// A Keras augmentation `factor`: one number `f` (the range `[-|f|, |f|]`) or a pair
/// `(lower, upper)` (sorted). Build one from `f64`, `(f64, f64)` or `[f64; 2]`.
///
/// ```
/// use keras::layers::Factor;
/// assert_eq!(Factor::from(0.2).range(), (-0.2, 0.2));
/// assert_eq!(Factor::from((0.3, -0.1)).range(), (-0.1, 0.3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Factor {
    /// `f`: the symmetric range `[-|f|, |f|]`.
    Scalar(f64),
    /// `(a, b)`: the range `[min(a, b), max(a, b)]`.
    Pair(f64, f64),
}

impl From<f64> for Factor {
    fn from(f: f64) -> Factor {
        Factor::Scalar(f)
    }
}

impl From<(f64, f64)> for Factor {
    fn from((a, b): (f64, f64)) -> Factor {
        Factor::Pair(a, b)
    }
}

impl From<[f64; 2]> for Factor {
    fn from([a, b]: [f64; 2]) -> Factor {
        Factor::Pair(a, b)
    }
}

impl Factor {
    /// The sorted range `(lower, upper)`: `(-|f|, |f|)` for a scalar.
    ///
    /// ```
    /// assert_eq!(keras::layers::Factor::Scalar(-0.5).range(), (-0.5, 0.5));
    /// ```
    pub fn range(self) -> (f64, f64) {
        match self {
            Factor::Scalar(f) => (-f.abs(), f.abs()),
            Factor::Pair(a, b) => (a.min(b), a.max(b)),
        }
    }

    /// The factor as Keras writes it in a config: a number or a two-element list.
    pub(crate) fn to_json(self) -> Value {
        match self {
            Factor::Scalar(f) => json!(f),
            Factor::Pair(a, b) => json!([a, b]),
        }
    }

    /// Reads a number or a pair from config field `key`.
    pub(crate) fn from_config(c: &Value, key: &str, op: &'static str) -> Result<Option<Factor>> {
        match c.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Factor::from_json(v)
                .map(Some)
                .ok_or_else(|| Error::InvalidArgument {
                    op,
                    msg: format!("field {key:?}: expected a number or a list of two numbers, got {v}"),
                }),
        }
    }

    fn from_json(v: &Value) -> Option<Factor> {
        match v {
            Value::Number(n) => n.as_f64().map(Factor::Scalar),
            Value::Array(a) if a.len() == 2 => Some(Factor::Pair(a[0].as_f64()?, a[1].as_f64()?)),
            _ => None,
        }
    }

    /// Keras's `BaseImagePreprocessingLayer._set_factor` with bounds `(lo, hi)`: a pair
    /// `[a, b]` is rejected only when `a > hi` or `b < lo`, then sorted; a scalar `f` must lie
    /// in `[lo, hi]` and gives `(max(-|f|, lo), |f|)`.
    pub(crate) fn base_range(self, bounds: (f64, f64), layer: &str) -> Result<(f64, f64)> {
        let bad = || Error::InvalidArgument {
            op: "build",
            msg: format!(
                "{layer}: the `factor` argument should be a number (or a list of two numbers) \
                 in the range [{}, {}], got {}",
                bounds.0,
                bounds.1,
                self.to_json()
            ),
        };
        match self {
            Factor::Pair(a, b) => {
                if !(a.is_finite() && b.is_finite()) || a > bounds.1 || b < bounds.0 {
                    return Err(bad());
                }
                Ok((a.min(b), a.max(b)))
            }
            Factor::Scalar(f) => {
                if !f.is_finite() || f < bounds.0 || f > bounds.1 {
                    return Err(bad());
                }
                Ok(((-f.abs()).max(bounds.0), f.abs()))
            }
        }
    }

    /// Checks every number of the factor lies in `[-1, 1]` (or `(-1, 1]` when
    /// `open_below`), as `RandomTranslation` and `RandomZoom` do, and returns the range.
    pub(crate) fn unit_range(self, layer: &str, arg: &str, open_below: bool) -> Result<(f64, f64)> {
        let ok = |v: f64| v.is_finite() && v <= 1.0 && if open_below { v > -1.0 } else { v >= -1.0 };
        let all_ok = match self {
            Factor::Scalar(f) => ok(f),
            Factor::Pair(a, b) => ok(a) && ok(b),
        };
        if all_ok {
            Ok(self.range())
        } else {
            Err(Error::InvalidArgument {
                op: "build",
                msg: format!(
                    "{layer}: `{arg}` should be a number (or a list of two numbers) in the range \
                     {}-1.0, 1.0], got {}",
                    if open_below { "(" } else { "[" },
                    self.to_json()
                ),
            })
        }
    }
}

/// A base `(lower, upper)` factor range as Keras writes it back (`self.factor`, a tuple):
/// for a scalar `f`, Python's `max(-f, bound)` keeps the integer bound when it wins.
pub(crate) fn range_json(range: (f64, f64), from_scalar: bool, bound_lo: f64) -> Value {
    let lo = if from_scalar && bound_lo > -range.1 && bound_lo.fract() == 0.0 {
        json!(bound_lo as i64)
    } else {
        json!(range.0)
    };
    json!([lo, range.1])
}

/// A two-number config value sorted by value, the numbers kept as written (Python's
/// `sorted(factor)`), or `None` when `v` is not a pair of numbers.
pub(crate) fn sorted_pair_json(v: Option<&Value>) -> Option<Value> {
    let a = v?.as_array()?;
    match (a.first()?.as_f64(), a.get(1)?.as_f64()) {
        (Some(x), Some(y)) if a.len() == 2 => Some(if x > y {
            json!([a[1], a[0]])
        } else {
            json!([a[0], a[1]])
        }),
        _ => None,
    }
}

/// The interpolations of Keras's affine-transform layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interpolation {
    /// Nearest neighbour (`round` half away from zero).
    Nearest,
    /// Linear in both directions.
    Bilinear,
}

impl Interpolation {
    /// Parses `"nearest"` or `"bilinear"`; `others` lists Keras interpolations this version
    /// does not implement (rejected with "not supported").
    pub(crate) fn parse(s: &str, layer: &'static str, others: &[&str]) -> Result<Interpolation> {
        match s {
            "nearest" => Ok(Interpolation::Nearest),
            "bilinear" => Ok(Interpolation::Bilinear),
            _ if others.contains(&s) => Err(Error::InvalidArgument {
                op: layer,
                msg: format!("interpolation {s:?} is not supported yet (only \"bilinear\" and \"nearest\")"),
            }),
            _ => Err(Error::InvalidArgument {
                op: layer,
                msg: format!(
                    "unknown interpolation {s:?}; expected one of \"bilinear\", \"nearest\"{}",
                    others.iter().map(|o| format!(", {o:?}")).collect::<String>()
                ),
            }),
        }
    }

    /// Keras's name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Interpolation::Nearest => "nearest",
            Interpolation::Bilinear => "bilinear",
        }
    }
}

/// How an affine transform fills points outside the input (`scipy.ndimage` modes, as
/// JAX's `map_coordinates` implements them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FillMode {
    /// `d c b a | a b c d | d c b a`: reflected about the edge of the last pixel.
    Reflect,
    /// `a b c d | a b c d | a b c d`: wrapped around to the opposite edge.
    Wrap,
    /// `k k k k | a b c d | k k k k`: the constant `fill_value`.
    Constant,
    /// `a a a a | a b c d | d d d d`: the nearest pixel.
    Nearest,
}

impl FillMode {
    /// Parses one of Keras's four fill modes.
    pub(crate) fn parse(s: &str, layer: &'static str) -> Result<FillMode> {
        match s {
            "reflect" => Ok(FillMode::Reflect),
            "wrap" => Ok(FillMode::Wrap),
            "constant" => Ok(FillMode::Constant),
            "nearest" => Ok(FillMode::Nearest),
            _ => Err(Error::InvalidArgument {
                op: layer,
                msg: format!(
                    "unknown fill_mode {s:?}; expected one of \"reflect\", \"wrap\", \
                     \"constant\", \"nearest\""
                ),
            }),
        }
    }

    /// Keras's name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FillMode::Reflect => "reflect",
            FillMode::Wrap => "wrap",
            FillMode::Constant => "constant",
            FillMode::Nearest => "nearest",
        }
    }

    /// The in-range index standing for `i` on an axis of length `n` (JAX's index fixers).
    fn fix(self, i: i64, n: i64) -> i64 {
        match self {
            FillMode::Constant => i,
            FillMode::Nearest => i.clamp(0, n - 1),
            FillMode::Wrap => i.rem_euclid(n),
            FillMode::Reflect => {
                // _reflect_index_fixer: a mirror of period 2n + 1 on doubled coordinates.
                let s = 2 * n;
                let m = ((2 * i + 1 + s).rem_euclid(2 * s) - s).abs();
                (m - 1).div_euclid(2)
            }
        }
    }
}

/// The sampling arguments of the affine-transform layers (`fill_mode`, `interpolation`,
/// `fill_value`), with Keras's defaults `"reflect"`, `"bilinear"`, 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Sampling {
    pub fill_mode: FillMode,
    pub interpolation: Interpolation,
    pub fill_value: f64,
}

impl Default for Sampling {
    fn default() -> Sampling {
        Sampling {
            fill_mode: FillMode::Reflect,
            interpolation: Interpolation::Bilinear,
            fill_value: 0.0,
        }
    }
}

impl Sampling {
    /// Reads the three fields (defaults when absent) from a config.
    pub(crate) fn from_config(c: &Value, layer: &'static str) -> Result<Sampling> {
        Ok(Sampling {
            fill_mode: FillMode::parse(&super::field(c, "fill_mode", "reflect".to_string())?, layer)?,
            interpolation: Interpolation::parse(
                &super::field(c, "interpolation", "bilinear".to_string())?,
                layer,
                &[],
            )?,
            fill_value: super::field(c, "fill_value", 0.0)?,
        })
    }

    /// Writes the three fields into a config.
    pub(crate) fn to_config(self, m: &mut serde_json::Map<String, Value>) {
        m.insert("fill_mode".into(), json!(self.fill_mode.as_str()));
        m.insert("interpolation".into(), json!(self.interpolation.as_str()));
        m.insert("fill_value".into(), json!(self.fill_value));
    }

    /// [`affine_transform`] with these arguments.
    pub(crate) fn apply(self, images: &Tensor, transforms: &[[f32; 6]]) -> Result<Tensor> {
        affine_transform(
            images,
            transforms,
            self.interpolation,
            self.fill_mode,
            self.fill_value,
        )
    }
}

/// Base config of the image layers: name, trainable, dtype and `data_format`.
pub(crate) fn image_config(name: &str, trainable: bool) -> serde_json::Map<String, Value> {
    let mut m = base_config(name, trainable);
    m.insert("data_format".into(), json!("channels_last"));
    m
}

/// Checks a symbolic input shape is an image or a batch of images.
pub(crate) fn check_image_shape(layer: &str, input_shape: &[Option<usize>]) -> Result<()> {
    if matches!(input_shape.len(), 3 | 4) {
        Ok(())
    } else {
        Err(super::shape_error(
            layer,
            "images of rank 3 (height, width, channels) or 4 (batch, height, width, channels), \
             channels last",
            input_shape,
        ))
    }
}

/// The shape with height and width replaced.
pub(crate) fn resized_shape(layer: &str, input_shape: &[Option<usize>], h: usize, w: usize) -> Result<Shape> {
    check_image_shape(layer, input_shape)?;
    let mut s = input_shape.to_vec();
    let r = s.len();
    s[r - 3] = Some(h);
    s[r - 2] = Some(w);
    Ok(s)
}

/// A rank-4 batch from `x` (a single image gets a batch axis; see [`unbatch`]), in the
/// compute dtype (float64 stays float64, anything else becomes float32).
///
/// # Errors
/// For a rank other than 3 or 4, naming the layer and the shape.
pub(crate) fn batch_images(layer: &str, x: &Tensor) -> Result<(Tensor, bool)> {
    let x = compute_input(x)?;
    match x.rank() {
        4 => Ok((x, false)),
        3 => Ok((x.expand_dims(0)?, true)),
        _ => Err(Error::InvalidArgument {
            op: "call",
            msg: format!(
                "layer {layer:?} expects images of rank 3 (height, width, channels) or 4 \
                 (batch, height, width, channels), channels last; got a tensor of shape {}",
                fmt_shape(&x.shape().iter().map(|&d| Some(d)).collect::<Vec<_>>())
            ),
        }),
    }
}

/// Drops the batch axis [`batch_images`] added.
pub(crate) fn unbatch(y: Tensor, single: bool) -> Result<Tensor> {
    if single {
        y.squeeze(&[0])
    } else {
        Ok(y)
    }
}

/// `n` float32 draws, uniform on `[lo, hi)`, from a fresh seed of the global counter (so
/// [`crate::set_random_seed`] makes them reproducible); exactly `lo` when `lo == hi`.
pub(crate) fn uniform(n: usize, lo: f64, hi: f64) -> Result<Vec<f32>> {
    let seed = next_seed();
    if lo == hi {
        return Ok(vec![lo as f32; n]);
    }
    Ok(
        Tensor::random_uniform(&[n], lo, hi, seed, DType::F64, &Device::Cpu)?
            .to_vec::<f64>()?
            .into_iter()
            .map(|v| (v as f32).clamp(lo.min(hi) as f32, hi.max(lo) as f32))
            .collect(),
    )
}

/// A per-image scalar as a `(batch, 1, 1, 1)` tensor in `like`'s dtype and device.
pub(crate) fn per_image(values: Vec<f32>, like: &Tensor) -> Result<Tensor> {
    let n = values.len();
    Tensor::from_vec(values, &[n, 1, 1, 1], like.device())?.cast(like.dtype())
}

/// Applies one projective-free affine transform per image of a `(batch, height, width,
/// channels)` batch, as `keras.ops.image.affine_transform` with the JAX backend.
///
/// `transforms[b] = [a0, a1, a2, b0, b1, b2]` maps output pixel `(x, y)` (column, row) to
/// the input point `(a0 x + a1 y + a2, b0 x + b1 y + b2)`, computed in float32; that point
/// is sampled with `interpolation`, and points outside the image follow `fill_mode`.
pub(crate) fn affine_transform(
    images: &Tensor,
    transforms: &[[f32; 6]],
    interpolation: Interpolation,
    fill_mode: FillMode,
    fill_value: f64,
) -> Result<Tensor> {
    let s = images.shape();
    let (b, h, w, c) = (s[0], s[1], s[2], s[3]);
    debug_assert_eq!(transforms.len(), b);
    let n = b * h * w;
    if n == 0 || c == 0 {
        return Ok(images.clone());
    }
    // Rows of `table` are pixels; one extra row holds `fill_value` for constant fill.
    let flat = images.reshape_to(&[n, c])?;
    let table = if fill_mode == FillMode::Constant {
        let fill = Tensor::full(fill_value, &[1, c], images.dtype(), images.device())?;
        Tensor::concat(&[&flat, &fill], 0)?
    } else {
        flat
    };
    let taps = if interpolation == Interpolation::Nearest {
        1
    } else {
        4
    };
    let mut rows = vec![vec![0i64; n]; taps];
    let mut weights = vec![vec![0f32; n]; taps];
    let (hi, wi) = (h as i64, w as i64);
    let nodes = |coord: f32| -> [(i64, f32); 2] {
        match interpolation {
            Interpolation::Nearest => [(coord.round() as i64, 1.0), (0, 0.0)],
            Interpolation::Bilinear => {
                let lower = coord.floor();
                let upper_w = coord - lower;
                [(lower as i64, 1.0 - upper_w), (lower as i64 + 1, upper_w)]
            }
        }
    };
    for (bi, t) in transforms.iter().enumerate() {
        let [a0, a1, a2, b0, b1, b2] = *t;
        for y in 0..h {
            for x in 0..w {
                let p = (bi * h + y) * w + x;
                let (yf, xf) = (y as f32, x as f32);
                let ys = nodes(yf * b1 + xf * b0 + b2);
                let xs = nodes(yf * a1 + xf * a0 + a2);
                let mut k = 0;
                for &(yi, wy) in &ys[..taps.min(2)] {
                    for &(xi, wx) in &xs[..taps.min(2)] {
                        let valid = fill_mode != FillMode::Constant
                            || ((0..hi).contains(&yi) && (0..wi).contains(&xi));
                        rows[k][p] = if valid {
                            let (fy, fx) = (fill_mode.fix(yi, hi), fill_mode.fix(xi, wi));
                            (bi as i64 * hi + fy) * wi + fx
                        } else {
                            n as i64
                        };
                        weights[k][p] = wy * wx;
                        k += 1;
                    }
                }
            }
        }
    }
    let dev = images.device();
    let mut out: Option<Tensor> = None;
    for (r, wt) in rows.into_iter().zip(weights) {
        let picked = table.index_select(&Tensor::from_vec(r, &[n], dev)?, 0)?;
        let term = if interpolation == Interpolation::Nearest {
            picked
        } else {
            picked.mul(&Tensor::from_vec(wt, &[n, 1], dev)?.cast(images.dtype())?)?
        };
        out = Some(match out {
            None => term,
            Some(acc) => acc.add(&term)?,
        });
    }
    out.expect("at least one tap").reshape_to(s)
}

/// Per-output taps `(input index, weight)` resizing an axis of length `n_in` to `n_out`, as
/// JAX's `image.resize` (`scale_and_translate` with a triangle kernel for bilinear, widened
/// by the downscaling factor when `antialias`; `floor((i + 0.5) * n_in / n_out)` for
/// nearest), computed in float32.
fn resize_taps(
    n_in: usize,
    n_out: usize,
    interpolation: Interpolation,
    antialias: bool,
) -> Vec<Vec<(usize, f32)>> {
    match interpolation {
        Interpolation::Nearest => (0..n_out)
            .map(|i| {
                let src = ((i as f32 + 0.5) * n_in as f32 / n_out as f32).floor() as usize;
                vec![(src.min(n_in - 1), 1.0)]
            })
            .collect(),
        Interpolation::Bilinear => {
            let inv_scale = (1.0 / (n_out as f64 / n_in as f64)) as f32;
            let kernel_scale = if antialias { inv_scale.max(1.0) } else { 1.0 };
            (0..n_out)
                .map(|i| {
                    let sample = (i as f32 + 0.5) * inv_scale - 0.5;
                    if !(sample >= -0.5 && sample <= n_in as f32 - 0.5) {
                        return Vec::new();
                    }
                    let taps: Vec<(usize, f32)> = (0..n_in)
                        .map(|j| (j, (1.0 - ((sample - j as f32).abs() / kernel_scale)).max(0.0)))
                        .filter(|&(_, w)| w > 0.0)
                        .collect();
                    let total: f32 = taps.iter().map(|t| t.1).sum();
                    if total.abs() > 1000.0 * f32::EPSILON {
                        taps.into_iter().map(|(j, w)| (j, w / total)).collect()
                    } else {
                        Vec::new()
                    }
                })
                .collect()
        }
    }
}

/// Resizes `axis` of `x` to `n_out` with [`resize_taps`] (the identity when the length is
/// unchanged, as JAX skips such axes).
fn resize_axis(
    x: &Tensor,
    axis: usize,
    n_out: usize,
    interpolation: Interpolation,
    antialias: bool,
) -> Result<Tensor> {
    let n_in = x.shape()[axis];
    if n_in == n_out {
        return Ok(x.clone());
    }
    if n_in == 0 || n_out == 0 {
        let mut s = x.shape().to_vec();
        s[axis] = n_out;
        return Tensor::zeros(&s, x.dtype(), x.device());
    }
    let taps = resize_taps(n_in, n_out, interpolation, antialias);
    let k = taps.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let dev = x.device();
    let mut wshape = vec![1; x.rank()];
    wshape[axis] = n_out;
    let mut out: Option<Tensor> = None;
    for t in 0..k {
        let idx: Vec<i64> = taps.iter().map(|v| v.get(t).map_or(0, |p| p.0 as i64)).collect();
        let picked = x.index_select(&Tensor::from_vec(idx, &[n_out], dev)?, axis as isize)?;
        let term = if interpolation == Interpolation::Nearest {
            picked
        } else {
            let w: Vec<f32> = taps.iter().map(|v| v.get(t).map_or(0.0, |p| p.1)).collect();
            picked.mul(&Tensor::from_vec(w, &wshape, dev)?.cast(x.dtype())?)?
        };
        out = Some(match out {
            None => term,
            Some(acc) => acc.add(&term)?,
        });
    }
    Ok(out.expect("at least one tap"))
}

/// Resizes the height and width of a `(batch, height, width, channels)` batch, as
/// `keras.ops.image.resize` (JAX backend) without cropping or padding. Integer inputs are
/// computed in float32 (the caller rounds and casts back).
pub(crate) fn resize(
    images: &Tensor,
    height: usize,
    width: usize,
    interpolation: Interpolation,
    antialias: bool,
) -> Result<Tensor> {
    let x = if interpolation == Interpolation::Bilinear && !images.dtype().is_float() {
        images.cast(DType::F32)?
    } else {
        images.clone()
    };
    let x = resize_axis(&x, 1, height, interpolation, antialias)?;
    resize_axis(&x, 2, width, interpolation, antialias)
}

/// Keras's aspect-ratio crop box of an `h × w` image for a `th × tw` target:
/// `(row, column, crop height, crop width)` of the largest centred window with the
/// target's aspect ratio (`smart_resize`, `crop_to_aspect_ratio`).
pub(crate) fn aspect_crop_box(h: usize, w: usize, th: usize, tw: usize) -> (usize, usize, usize, usize) {
    let ch = ((w * th) as f64 / tw as f64) as usize;
    let ch = ch.min(h).max(1);
    let cw = ((h * tw) as f64 / th as f64) as usize;
    let cw = cw.min(w).max(1);
    ((h - ch) / 2, (w - cw) / 2, ch, cw)
}

/// Rows `[r0, r0 + rh)` and columns `[c0, c0 + cw)` of a batch, clipped to the image.
pub(crate) fn crop(images: &Tensor, r0: usize, c0: usize, rh: usize, cw: usize) -> Result<Tensor> {
    let s = images.shape();
    let (r0, c0) = (r0.min(s[1]), c0.min(s[2]));
    images
        .slice_axis(1, r0, (r0 + rh).min(s[1]), 1)?
        .slice_axis(2, c0, (c0 + cw).min(s[2]), 1)
}

/// `keras.utils.smart_resize`: crops the largest centred window with the target's aspect
/// ratio, then resizes it bilinearly to `th × tw`.
pub(crate) fn smart_resize(images: &Tensor, th: usize, tw: usize) -> Result<Tensor> {
    let s = images.shape();
    let (r0, c0, ch, cw) = aspect_crop_box(s[1], s[2], th, tw);
    resize(
        &crop(images, r0, c0, ch, cw)?,
        th,
        tw,
        Interpolation::Bilinear,
        false,
    )
}

/// Checks a target size is positive.
pub(crate) fn check_size(layer: &'static str, height: usize, width: usize) -> Result<()> {
    if height == 0 || width == 0 {
        return Err(Error::InvalidArgument {
            op: layer,
            msg: format!("height and width must be positive, got {height} and {width}"),
        });
    }
    Ok(())
}

/// The `seed` and `name` builders every random preprocessing layer has; `$ctor` is a
/// constructor call for the doc examples.
macro_rules! random_layer_builders {
    ($t:ident, $ctor:literal) => {
        #[doc = concat!(
                    "Records Keras's `seed` argument (kept in the config; draws use the global counter).\n\n",
                    "```\nuse keras::layers::{Layer, ", stringify!($t), "};\n",
                    "assert_eq!(", $ctor, ".seed(4).get_config()[\"seed\"], 4);\n",
                    "# Ok::<(), keras_tensor::Error>(())\n```"
                )]
        pub fn seed(mut self, seed: u64) -> $t {
            self.seed = Some(seed);
            self
        }

        #[doc = concat!(
                    "Sets the layer name.\n\n",
                    "```\nuse keras::layers::{Layer, ", stringify!($t), "};\n",
                    "let l = ", $ctor, ".name(\"aug\");\nassert_eq!(Layer::name(&l), \"aug\");\n",
                    "# Ok::<(), keras_tensor::Error>(())\n```"
                )]
        pub fn name(mut self, name: &str) -> $t {
            self.name = name.to_string();
            self
        }
    };
}
pub(crate) use random_layer_builders;

/// The `fill_mode`, `interpolation` and `fill_value` builders of the affine random layers
/// (RandomRotation, RandomTranslation, RandomZoom), which keep them in a `sampling` field.
macro_rules! sampling_builders {
    ($t:ident, $ctor:literal) => {
        #[doc = concat!(
            "`\"reflect\"` (default), `\"wrap\"`, `\"constant\"` or `\"nearest\"`: how points outside the input are filled.\n\n",
            "```\nuse keras::layers::", stringify!($t), ";\nlet l = ", $ctor, ".fill_mode(\"wrap\")?;\n",
            "# Ok::<(), keras_tensor::Error>(())\n```\n\n# Errors\nFor any other mode."
        )]
        pub fn fill_mode(mut self, mode: &str) -> Result<$t> {
            self.sampling.fill_mode = FillMode::parse(mode, stringify!($t))?;
            Ok(self)
        }

        #[doc = concat!(
            "`\"bilinear\"` (default) or `\"nearest\"`.\n\n",
            "```\nuse keras::layers::", stringify!($t), ";\nlet l = ", $ctor, ".interpolation(\"nearest\")?;\n",
            "# Ok::<(), keras_tensor::Error>(())\n```\n\n# Errors\nFor any other interpolation."
        )]
        pub fn interpolation(mut self, interpolation: &str) -> Result<$t> {
            self.sampling.interpolation = Interpolation::parse(interpolation, stringify!($t), &[])?;
            Ok(self)
        }

        #[doc = concat!(
            "The value of points outside the input with `fill_mode(\"constant\")` (default 0).\n\n",
            "```\nuse keras::layers::", stringify!($t), ";\nlet l = ", $ctor, ".fill_value(1.0);\n",
            "# Ok::<(), keras_tensor::Error>(())\n```"
        )]
        pub fn fill_value(mut self, v: f64) -> $t {
            self.sampling.fill_value = v;
            self
        }
    };
}
pub(crate) use sampling_builders;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_modes_fix_indices_like_jax() {
        // jax.scipy.ndimage index fixers on an axis of length 4.
        let idx = [-5i64, -4, -1, 0, 3, 4, 7, 8, 9];
        let fix = |m: FillMode| idx.iter().map(|&i| m.fix(i, 4)).collect::<Vec<_>>();
        assert_eq!(fix(FillMode::Reflect), vec![3, 3, 0, 0, 3, 3, 0, 0, 1]);
        assert_eq!(fix(FillMode::Wrap), vec![3, 0, 3, 0, 3, 0, 3, 0, 1]);
        assert_eq!(fix(FillMode::Nearest), vec![0, 0, 0, 0, 3, 3, 3, 3, 3]);
        assert_eq!(FillMode::Reflect.fix(-1, 1), 0);
        assert_eq!(FillMode::Reflect.fix(5, 1), 0);
    }

    #[test]
    fn factors_follow_keras_rules() {
        assert_eq!(
            Factor::Scalar(0.2).base_range((-1.0, 1.0), "l").unwrap(),
            (-0.2, 0.2)
        );
        assert_eq!(
            Factor::Scalar(0.2).base_range((0.0, 1.0), "l").unwrap(),
            (0.0, 0.2)
        );
        assert_eq!(
            Factor::Pair(-0.5, 0.5).base_range((0.0, 1.0), "l").unwrap(),
            (-0.5, 0.5)
        );
        assert!(Factor::Pair(1.5, 2.0).base_range((0.0, 1.0), "l").is_err());
        assert!(Factor::Scalar(-0.1).base_range((0.0, 1.0), "l").is_err());
        assert!(Factor::Scalar(1.1).base_range((-1.0, 1.0), "l").is_err());
        assert!(Factor::Scalar(-1.0)
            .unit_range("l", "height_factor", true)
            .is_err());
        assert_eq!(
            Factor::Scalar(-1.0)
                .unit_range("l", "height_factor", false)
                .unwrap(),
            (-1.0, 1.0)
        );
        assert_eq!(range_json((0.0, 0.2), true, 0.0), json!([0, 0.2]));
        assert_eq!(range_json((-0.2, 0.2), true, -1.0), json!([-0.2, 0.2]));
        assert_eq!(Factor::from_json(&json!([1, 2])), Some(Factor::Pair(1.0, 2.0)));
        assert_eq!(Factor::from_json(&json!("a")), None);
    }

    /// Every preprocessing layer in one Sequential model: `fit` runs (the random layers
    /// augment, gradients pass through them), `predict` takes the inference path, and the
    /// model's config round-trips through the registry.
    #[test]
    fn augmentation_pipeline_trains_and_round_trips() {
        use crate::layers::*;
        use crate::{losses, optimizers, FitArgs, Sequential, Trainer};
        crate::set_random_seed(1);
        let mut norm = Normalization::new();
        let x = Tensor::random_uniform(&[16, 10, 10, 3], 0.0, 255.0, 7, DType::F32, &Device::Cpu).unwrap();
        norm.adapt(&x.mul_scalar(1.0 / 255.0).unwrap()).unwrap();
        let layers: Vec<Box<dyn Layer>> = vec![
            Box::new(Rescaling::new(1.0 / 255.0)),
            Box::new(norm),
            Box::new(RandomFlip::new("horizontal").unwrap()),
            Box::new(RandomRotation::new(0.1).unwrap()),
            Box::new(RandomZoom::new(0.2).unwrap()),
            Box::new(
                RandomTranslation::new(0.1, 0.1)
                    .unwrap()
                    .fill_mode("nearest")
                    .unwrap(),
            ),
            Box::new(RandomContrast::new(0.2).unwrap().value_range(-5.0, 5.0)),
            Box::new(
                RandomBrightness::new(0.1)
                    .unwrap()
                    .value_range(-5.0, 5.0)
                    .unwrap(),
            ),
            Box::new(RandomCrop::new(8, 8).unwrap()),
            Box::new(Resizing::new(6, 6).unwrap()),
            Box::new(CenterCrop::new(4, 4).unwrap()),
            Box::new(Flatten::new()),
            Box::new(Dense::new(1)),
        ];
        let mut m = Sequential::new(layers).input_shape(&[10, 10, 3]);
        m.compile(optimizers::get("sgd").unwrap(), losses::get("mse").unwrap(), &[])
            .unwrap();
        let y = Tensor::random_normal(&[16, 1], 0.0, 1.0, 8, DType::F32, &Device::Cpu).unwrap();
        let args = FitArgs {
            epochs: 2,
            batch_size: 8,
            verbose: 0,
            ..Default::default()
        };
        let h = m.fit(&x, &y, args).unwrap();
        assert!(h.history["loss"].iter().all(|l| l.is_finite()));
        assert_eq!(m.predict(&x, 8).unwrap().shape(), &[16, 1]);
        let config = crate::layers::Layer::get_config(&m);
        let again = crate::layers::from_config("Sequential", &config)
            .unwrap()
            .get_config();
        // The rebuilt model names its InputLayer afresh; every other layer matches.
        let layers = |c: &Value| c["layers"].as_array().unwrap()[1..].to_vec();
        assert_eq!(layers(&again), layers(&config));
    }

    #[test]
    fn aspect_crop_box_matches_keras() {
        // keras.src.utils.image_utils.smart_resize on a 4 x 6 image.
        assert_eq!(aspect_crop_box(4, 6, 3, 2), (0, 2, 4, 2));
        assert_eq!(aspect_crop_box(4, 6, 3, 3), (0, 1, 4, 4));
        assert_eq!(aspect_crop_box(4, 6, 8, 8), (0, 1, 4, 4));
        assert_eq!(aspect_crop_box(4, 6, 1, 100), (1, 0, 1, 6));
    }
}
