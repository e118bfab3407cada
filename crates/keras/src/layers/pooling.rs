//! Code shared by the pooling layers: the window (`pool_size`, `strides`, `padding`) of
//! `MaxPooling1D/2D` and `AveragePooling1D/2D`, and the two macros that write those layers
//! and the global poolings (`GlobalAveragePooling1D/2D`, `GlobalMaxPooling1D/2D`) from one
//! definition each. Channels-last only.

use super::{field, fmt_shape, shape_error, Shape};
use keras_tensor::{Error, Padding, PoolArgs, Result};
use serde_json::{json, Value};

/// Window size, strides (`None`: the window size, as in Keras) and padding of a pooling
/// layer over `N` spatial axes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PoolWindow<const N: usize> {
    pub pool_size: [usize; N],
    pub strides: Option<[usize; N]>,
    pub same: bool,
}

/// Reads an `N`-tuple argument (`3` or `[3, 3]`) from a config, or `None` when absent.
fn field_dims<const N: usize>(c: &Value, key: &str, layer: &str) -> Result<Option<[usize; N]>> {
    let bad = |got: &Value| Error::InvalidArgument {
        op: "from_config",
        msg: format!("{layer}: field {key:?} must be an integer or a list of {N} integers, got {got}"),
    };
    match c.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => n.as_u64().map(|n| Some([n as usize; N])).ok_or_else(|| bad(v)),
        Some(v) => serde_json::from_value::<Vec<usize>>(v.clone())
            .ok()
            .and_then(|d| <[usize; N]>::try_from(d).ok())
            .map(Some)
            .ok_or_else(|| bad(v)),
    }
}

/// Rejects `data_format="channels_first"` (absent or `null` means channels-last, Keras's
/// default image data format).
pub(crate) fn check_channels_last(c: &Value, layer: &str) -> Result<()> {
    let fmt: String = field(c, "data_format", "channels_last".into())?;
    if fmt == "channels_last" {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            op: "from_config",
            msg: format!("{layer}: data_format {fmt:?} is not supported (channels_last only)"),
        })
    }
}

impl<const N: usize> PoolWindow<N> {
    /// A window of `pool_size`, strides equal to it, `"valid"` padding.
    pub fn new(pool_size: [usize; N]) -> Self {
        PoolWindow {
            pool_size,
            strides: None,
            same: false,
        }
    }

    /// The strides in effect.
    pub fn stride(&self) -> [usize; N] {
        self.strides.unwrap_or(self.pool_size)
    }

    /// Sets `"valid"` or `"same"` padding.
    pub fn set_padding(&mut self, layer: &str, p: &str) -> Result<()> {
        self.same = match p {
            "valid" => false,
            "same" => true,
            _ => {
                return Err(Error::InvalidArgument {
                    op: "padding",
                    msg: format!("{layer}: padding must be \"valid\" or \"same\", got {p:?}"),
                })
            }
        };
        Ok(())
    }

    /// Reads `pool_size` (`default` when absent; required when `None`), `strides`,
    /// `padding` and `data_format` from a Keras config.
    pub fn from_config(c: &Value, layer: &str, default: Option<usize>) -> Result<Self> {
        check_channels_last(c, layer)?;
        let pool_size = match (field_dims(c, "pool_size", layer)?, default) {
            (Some(p), _) => p,
            (None, Some(d)) => [d; N],
            (None, None) => {
                return Err(Error::InvalidArgument {
                    op: "from_config",
                    msg: format!("{layer}: missing field \"pool_size\""),
                })
            }
        };
        let mut w = PoolWindow::new(pool_size);
        w.strides = field_dims(c, "strides", layer)?;
        w.set_padding(layer, &field::<String>(c, "padding", "valid".into())?)?;
        w.validate(layer)?;
        Ok(w)
    }

    fn validate(&self, layer: &str) -> Result<()> {
        if self.pool_size.contains(&0) || self.stride().contains(&0) {
            return Err(Error::InvalidArgument {
                op: "build",
                msg: format!(
                    "layer {layer:?}: pool_size {:?} and strides {:?} must be >= 1",
                    self.pool_size,
                    self.stride()
                ),
            });
        }
        Ok(())
    }

    /// Keras's `compute_pooling_output_shape` for a channels-last input of rank `N + 2`
    /// (`dims` describes that input in errors).
    pub fn output_shape(&self, layer: &str, dims: &str, s: &[Option<usize>]) -> Result<Shape> {
        if s.len() != N + 2 {
            return Err(shape_error(layer, &format!("a rank-{} input {dims}", N + 2), s));
        }
        self.validate(layer)?;
        let st = self.stride();
        let mut out = s.to_vec();
        for i in 0..N {
            let Some(n) = s[1 + i] else { continue };
            out[1 + i] = Some(if self.same {
                n.div_ceil(st[i])
            } else if n >= self.pool_size[i] {
                (n - self.pool_size[i]) / st[i] + 1
            } else {
                return Err(Error::InvalidArgument {
                    op: "build",
                    msg: format!(
                        "layer {layer:?}: pool_size {:?} with \"valid\" padding does not fit input shape {} \
                         (the output would be empty)",
                        self.pool_size,
                        fmt_shape(s)
                    ),
                });
            });
        }
        Ok(out)
    }

    /// The tensor op's arguments.
    pub fn args(&self) -> PoolArgs {
        PoolArgs::new(1)
            .pool_size_per_axis(&self.pool_size)
            .strides_per_axis(&self.stride())
            .padding(if self.same { Padding::Same } else { Padding::Valid })
    }

    /// Writes `pool_size`, `padding`, `strides` and `data_format` (Keras's keys and order).
    pub fn write_config(&self, m: &mut serde_json::Map<String, Value>) {
        m.insert("pool_size".into(), json!(self.pool_size.to_vec()));
        m.insert("padding".into(), json!(if self.same { "same" } else { "valid" }));
        m.insert("strides".into(), json!(self.stride().to_vec()));
        m.insert("data_format".into(), json!("channels_last"));
    }
}

/// Writes a windowed pooling layer: the struct (documented by the caller), `padding`,
/// `name`, `from_config` and the [`super::Layer`] impl. The caller adds `new` and `strides`.
///
/// `pooling_layer!(docs; Type, "ClassName", "name_prefix", spatial_axes, tensor_method,
/// "(input, axes)", default_pool_size_or_None)`.
macro_rules! pooling_layer {
    ($(#[$doc:meta])* ; $ty:ident, $class:literal, $prefix:literal, $n:literal, $op:ident,
     $dims:literal, $default:expr) => {
        $(#[$doc])*
        pub struct $ty {
            name: String,
            window: $crate::layers::pooling::PoolWindow<$n>,
            trainable: bool,
        }

        impl $ty {
            fn with_window(pool_size: [usize; $n]) -> $ty {
                $ty {
                    name: $crate::layers::unique_name($prefix),
                    window: $crate::layers::pooling::PoolWindow::new(pool_size),
                    trainable: true,
                }
            }

            /// `"valid"` (the default: only whole windows) or `"same"` (output size
            /// `ceil(input / stride)`).
            ///
            /// # Errors
            /// For any other value.
            pub fn padding(mut self, p: &str) -> ::keras_tensor::Result<$ty> {
                self.window.set_padding($class, p)?;
                Ok(self)
            }

            /// Sets the layer name.
            pub fn name(mut self, name: &str) -> $ty {
                self.name = name.to_string();
                self
            }

            /// Rebuilds from a Keras config (`pool_size`, `strides`, `padding`,
            /// `data_format`, `name`, `trainable`).
            ///
            /// # Errors
            /// For invalid values or `data_format="channels_first"`.
            pub fn from_config(c: &::serde_json::Value) -> ::keras_tensor::Result<$ty> {
                let window = $crate::layers::pooling::PoolWindow::from_config(c, $class, $default)?;
                Ok($ty {
                    name: $crate::layers::config_name(c, $prefix)?,
                    window,
                    trainable: $crate::layers::field(c, "trainable", true)?,
                })
            }
        }

        impl $crate::layers::Layer for $ty {
            $crate::layers::layer_common!($class);
            fn built(&self) -> bool {
                true
            }
            fn build(&mut self, input_shape: &[Option<usize>]) -> ::keras_tensor::Result<()> {
                $crate::layers::Layer::compute_output_shape(self, input_shape).map(|_| ())
            }
            fn compute_output_shape(
                &self,
                s: &[Option<usize>],
            ) -> ::keras_tensor::Result<$crate::layers::Shape> {
                self.window.output_shape(&self.name, $dims, s)
            }
            fn call(
                &self,
                x: &::keras_tensor::Tensor,
                _training: bool,
            ) -> ::keras_tensor::Result<::keras_tensor::Tensor> {
                let s: Vec<Option<usize>> = x.shape().iter().map(|&d| Some(d)).collect();
                self.window.output_shape(&self.name, $dims, &s)?;
                x.$op(&self.window.args())
            }
            fn get_config(&self) -> ::serde_json::Value {
                let mut m = $crate::layers::base_config(&self.name, self.trainable);
                self.window.write_config(&mut m);
                ::serde_json::Value::Object(m)
            }
        }
    };
}
pub(crate) use pooling_layer;

/// Output shape of a global pooling over the `N` spatial axes of a channels-last input.
pub(crate) fn global_output_shape<const N: usize>(
    layer: &str,
    dims: &str,
    keepdims: bool,
    s: &[Option<usize>],
) -> Result<Shape> {
    if s.len() != N + 2 {
        return Err(shape_error(layer, &format!("a rank-{} input {dims}", N + 2), s));
    }
    let mut out = vec![s[0]];
    if keepdims {
        out.extend([Some(1); N]);
    }
    out.push(s[N + 1]);
    Ok(out)
}

/// Keras's masked `GlobalAveragePooling1D`: the mean over the valid steps of
/// `x (batch, steps, channels)` under `mask (batch, steps)` (NaN for a sequence with none, as
/// in Keras).
pub(crate) fn masked_mean(
    layer: &str,
    x: &keras_tensor::Tensor,
    mask: &keras_tensor::Tensor,
    keepdims: bool,
) -> Result<keras_tensor::Tensor> {
    super::check_mask(layer, x, mask, 2)?;
    let m = mask.cast(keras_tensor::DType::Bool)?.expand_dims(2)?;
    let kept = keras_tensor::Tensor::where_cond(&m, x, &x.zeros_like()?)?;
    let count = m.cast(x.dtype())?.sum(&[1], keepdims)?;
    kept.sum(&[1], keepdims)?.div(&count)
}

/// Writes a global pooling layer whole: the struct (documented by the caller), `new`,
/// `keepdims`, `name`, `from_config` and the [`super::Layer`] impl.
///
/// `global_pooling_layer!(docs; Type, "ClassName", "name_prefix", spatial_axes,
/// reduction_method, "(input, axes)", masked_mean)`: with `masked_mean` true the layer
/// supports masking and averages the valid steps only (Keras's `GlobalAveragePooling1D`);
/// the others drop a mask, as in Keras.
macro_rules! global_pooling_layer {
    ($(#[$doc:meta])* ; $ty:ident, $class:literal, $prefix:literal, $n:literal, $reduce:ident,
     $dims:literal, $masked:literal) => {
        $(#[$doc])*
        pub struct $ty {
            name: String,
            keepdims: bool,
            trainable: bool,
        }

        impl Default for $ty {
            fn default() -> $ty {
                $ty::new()
            }
        }

        impl $ty {
            /// A global pooling that drops the spatial axes (`keepdims=false`).
            pub fn new() -> $ty {
                $ty {
                    name: $crate::layers::unique_name($prefix),
                    keepdims: false,
                    trainable: true,
                }
            }

            /// Keeps the pooled spatial axes with size 1.
            pub fn keepdims(mut self, keepdims: bool) -> $ty {
                self.keepdims = keepdims;
                self
            }

            /// Sets the layer name.
            pub fn name(mut self, name: &str) -> $ty {
                self.name = name.to_string();
                self
            }

            /// Rebuilds from a Keras config (`keepdims`, `data_format`, `name`,
            /// `trainable`).
            ///
            /// # Errors
            /// For invalid values or `data_format="channels_first"`.
            pub fn from_config(c: &::serde_json::Value) -> ::keras_tensor::Result<$ty> {
                $crate::layers::pooling::check_channels_last(c, $class)?;
                Ok($ty {
                    name: $crate::layers::config_name(c, $prefix)?,
                    keepdims: $crate::layers::field(c, "keepdims", false)?,
                    trainable: $crate::layers::field(c, "trainable", true)?,
                })
            }
        }

        impl $crate::layers::Layer for $ty {
            $crate::layers::layer_common!($class);
            fn built(&self) -> bool {
                true
            }
            fn build(&mut self, input_shape: &[Option<usize>]) -> ::keras_tensor::Result<()> {
                $crate::layers::Layer::compute_output_shape(self, input_shape).map(|_| ())
            }
            fn compute_output_shape(
                &self,
                s: &[Option<usize>],
            ) -> ::keras_tensor::Result<$crate::layers::Shape> {
                $crate::layers::pooling::global_output_shape::<$n>(&self.name, $dims, self.keepdims, s)
            }
            fn call(
                &self,
                x: &::keras_tensor::Tensor,
                _training: bool,
            ) -> ::keras_tensor::Result<::keras_tensor::Tensor> {
                let s: Vec<Option<usize>> = x.shape().iter().map(|&d| Some(d)).collect();
                $crate::layers::Layer::compute_output_shape(self, &s)?;
                let axes: Vec<isize> = (1..=$n).collect();
                x.$reduce(&axes, self.keepdims)
            }
            fn supports_masking(&self) -> bool {
                $masked
            }
            /// Pooling removes the steps, and with them the mask.
            fn compute_mask(
                &self,
                _x: &::keras_tensor::Tensor,
                _mask: Option<&::keras_tensor::Tensor>,
            ) -> ::keras_tensor::Result<Option<::keras_tensor::Tensor>> {
                Ok(None)
            }
            fn call_masked(
                &self,
                x: &::keras_tensor::Tensor,
                mask: Option<&::keras_tensor::Tensor>,
                training: bool,
            ) -> ::keras_tensor::Result<::keras_tensor::Tensor> {
                match mask {
                    Some(m) if $masked => {
                        let s: Vec<Option<usize>> = x.shape().iter().map(|&d| Some(d)).collect();
                        $crate::layers::Layer::compute_output_shape(self, &s)?;
                        $crate::layers::pooling::masked_mean(&self.name, x, m, self.keepdims)
                    }
                    _ => $crate::layers::Layer::call(self, x, training),
                }
            }
            fn get_config(&self) -> ::serde_json::Value {
                let mut m = $crate::layers::base_config(&self.name, self.trainable);
                m.insert("data_format".into(), ::serde_json::json!("channels_last"));
                m.insert("keepdims".into(), ::serde_json::json!(self.keepdims));
                ::serde_json::Value::Object(m)
            }
        }
    };
}
pub(crate) use global_pooling_layer;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuple_fields_accept_an_integer_or_a_list_of_the_right_length() {
        let c = json!({"a": 3, "b": [2, 1], "c": [1, 2, 3], "d": -1});
        assert_eq!(field_dims::<2>(&c, "a", "L").unwrap(), Some([3, 3]));
        assert_eq!(field_dims::<2>(&c, "b", "L").unwrap(), Some([2, 1]));
        assert_eq!(field_dims::<2>(&c, "z", "L").unwrap(), None);
        let e = field_dims::<2>(&c, "c", "L").unwrap_err().to_string();
        assert!(e.contains("\"c\"") && e.contains("2 integers"), "{e}");
        assert!(field_dims::<1>(&c, "d", "L").is_err());
    }

    #[test]
    fn output_shapes_follow_keras() {
        let w = PoolWindow::new([3]);
        assert_eq!(
            w.output_shape("p", "", &[None, Some(7), Some(2)]).unwrap(),
            vec![None, Some(2), Some(2)]
        );
        assert_eq!(
            w.output_shape("p", "", &[None, None, Some(2)]).unwrap(),
            vec![None, None, Some(2)]
        );
        let e = w
            .output_shape("p", "", &[None, Some(2), Some(2)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"p\"") && e.contains("(None, 2, 2)"), "{e}");
        let mut w = PoolWindow::new([3, 2]);
        w.strides = Some([2, 1]);
        w.set_padding("p", "same").unwrap();
        assert_eq!(
            w.output_shape("p", "", &[None, Some(7), Some(5), Some(1)])
                .unwrap(),
            vec![None, Some(4), Some(5), Some(1)]
        );
        assert!(w.set_padding("p", "causal").is_err());
        let e = w
            .output_shape("p", "(b, h, w, c)", &[None, Some(7)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("rank-4") && e.contains("(None, 7)"), "{e}");
    }

    #[test]
    fn channels_first_is_rejected_clearly() {
        let e =
            PoolWindow::<2>::from_config(&json!({"data_format": "channels_first"}), "MaxPooling2D", Some(2))
                .unwrap_err()
                .to_string();
        assert!(e.contains("MaxPooling2D") && e.contains("channels_first"), "{e}");
        let e = PoolWindow::<1>::from_config(&json!({}), "AveragePooling1D", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("AveragePooling1D") && e.contains("pool_size"), "{e}");
    }
}
