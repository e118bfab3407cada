//! Activation functions by Keras name.

use keras_tensor::{Error, Result, Tensor};

/// An activation function, parsed from Keras's names with [`Activation::get`].
///
/// ```
/// use keras::activations::Activation;
/// use keras_tensor::Tensor;
/// let a = Activation::get("relu")?;
/// let y = a.apply(&Tensor::new(&[-1.0f32, 2.0], &[2])?)?;
/// assert_eq!(y.to_vec::<f32>()?, vec![0.0, 2.0]);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Activation {
    /// Identity (`"linear"`, also `None` in Keras).
    #[default]
    Linear,
    /// `max(x, 0)`
    Relu,
    /// `min(max(x, 0), 6)`
    Relu6,
    /// Logistic sigmoid.
    Sigmoid,
    /// `relu6(x + 3) / 6`
    HardSigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// Softmax over the last axis.
    Softmax,
    /// Log-softmax over the last axis.
    LogSoftmax,
    /// `log(1 + e^x)`
    Softplus,
    /// `x / (1 + |x|)`
    Softsign,
    /// ELU with alpha 1.
    Elu,
    /// Scaled ELU.
    Selu,
    /// GELU (exact, Keras's `keras.activations.gelu` default `approximate=False`).
    Gelu,
    /// `x * sigmoid(x)` (`"silu"` or `"swish"`).
    Silu,
    /// Leaky ReLU with Keras's default slope 0.2.
    LeakyRelu,
}

const NAMES: &str = "linear, relu, relu6, sigmoid, hard_sigmoid, tanh, softmax, log_softmax, softplus, \
softsign, elu, selu, gelu, silu, swish, leaky_relu";

impl Activation {
    /// Parses a Keras activation name.
    ///
    /// # Errors
    /// For an unknown name; the error lists the valid ones.
    pub fn get(name: &str) -> Result<Activation> {
        use Activation::*;
        Ok(match name {
            "linear" | "None" | "" => Linear,
            "relu" => Relu,
            "relu6" => Relu6,
            "sigmoid" => Sigmoid,
            "hard_sigmoid" => HardSigmoid,
            "tanh" => Tanh,
            "softmax" => Softmax,
            "log_softmax" => LogSoftmax,
            "softplus" => Softplus,
            "softsign" => Softsign,
            "elu" => Elu,
            "selu" => Selu,
            "gelu" => Gelu,
            "silu" | "swish" => Silu,
            "leaky_relu" => LeakyRelu,
            _ => {
                return Err(Error::InvalidArgument {
                    op: "activations.get",
                    msg: format!("unknown activation {name:?}; valid names: {NAMES}"),
                })
            }
        })
    }

    /// Keras's name for it.
    pub fn name(self) -> &'static str {
        use Activation::*;
        match self {
            Linear => "linear",
            Relu => "relu",
            Relu6 => "relu6",
            Sigmoid => "sigmoid",
            HardSigmoid => "hard_sigmoid",
            Tanh => "tanh",
            Softmax => "softmax",
            LogSoftmax => "log_softmax",
            Softplus => "softplus",
            Softsign => "softsign",
            Elu => "elu",
            Selu => "selu",
            Gelu => "gelu",
            Silu => "silu",
            LeakyRelu => "leaky_relu",
        }
    }

    /// Applies it.
    ///
    /// # Errors
    /// For non-float input.
    pub fn apply(self, x: &Tensor) -> Result<Tensor> {
        use Activation::*;
        match self {
            Linear => Ok(x.clone()),
            Relu => x.relu(),
            Relu6 => x.relu6(),
            Sigmoid => x.sigmoid(),
            HardSigmoid => x.hard_sigmoid(),
            Tanh => x.tanh(),
            Softmax => x.softmax(-1),
            LogSoftmax => x.log_softmax(-1),
            Softplus => x.softplus(),
            Softsign => x.softsign(),
            Elu => x.elu(1.0),
            Selu => x.selu(),
            Gelu => x.gelu(false),
            Silu => x.silu(),
            LeakyRelu => x.leaky_relu(0.2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_valid_ones() {
        for n in NAMES.split(", ") {
            let a = Activation::get(n).unwrap();
            assert_eq!(Activation::get(a.name()).unwrap(), a);
        }
        let e = Activation::get("rleu").unwrap_err().to_string();
        assert!(e.contains("rleu") && e.contains("relu6"), "{e}");
    }
}
