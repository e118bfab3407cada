//! Where a tensor's data lives.

use keras_backend::{Error, Result};

/// A compute device. `Device::Cpu` is always available; `Device::Cuda(n)` exists with the
/// `cuda` cargo feature.
///
/// ```
/// use keras_tensor::Device;
/// assert_eq!(Device::Cpu.to_string(), "cpu");
/// assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Device {
    /// Host memory, computed by `keras-cpu`.
    #[default]
    Cpu,
    /// NVIDIA GPU number `n`.
    #[cfg(feature = "cuda")]
    Cuda(usize),
}

impl Device {
    /// Checks that tensors can be created on this device.
    ///
    /// # Errors
    /// [`Error::DeviceUnavailable`] for CUDA devices: the CUDA backend is not part of this
    /// build yet.
    pub fn check_available(&self) -> Result<()> {
        match self {
            Device::Cpu => Ok(()),
            #[cfg(feature = "cuda")]
            Device::Cuda(_) => Err(Error::DeviceUnavailable {
                device: self.to_string(),
                reason: "the CUDA backend is not implemented in this version of keras-rs; use Device::Cpu"
                    .into(),
            }),
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            #[cfg(feature = "cuda")]
            Device::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s == "cpu" {
            return Ok(Device::Cpu);
        }
        #[cfg(feature = "cuda")]
        if let Some(n) = s.strip_prefix("cuda") {
            let n = n.strip_prefix(':').unwrap_or(n);
            let n = if n.is_empty() { Ok(0) } else { n.parse() };
            if let Ok(n) = n {
                return Ok(Device::Cuda(n));
            }
        }
        Err(Error::InvalidArgument {
            op: "device",
            msg: format!(
                "unknown device {s:?} (expected \"cpu\"{})",
                if cfg!(feature = "cuda") {
                    " or \"cuda:N\""
                } else {
                    ""
                }
            ),
        })
    }
}

#[cfg(all(test, feature = "cuda"))]
mod cuda_tests {
    use super::*;

    #[test]
    fn cuda_is_a_clear_error() {
        let e = Device::Cuda(0).check_available().unwrap_err().to_string();
        assert!(e.contains("cuda:0") && e.contains("not implemented"), "{e}");
        assert_eq!("cuda:1".parse::<Device>().unwrap(), Device::Cuda(1));
    }
}
