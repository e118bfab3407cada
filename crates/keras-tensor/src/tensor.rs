//! [`Tensor`]: a view (shape, strides, offset) of shared storage, with its dtype, device and,
//! when tracked, the node that computed it.

use crate::autodiff::{is_recording, Backward, Node};
use crate::storage::Storage;
use crate::Device;
use keras_backend::{DType, Error, Layout, Result};
use keras_cpu::{CpuStorage, StorageElement};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Unique identity of a tensor handle (clones share it; views and op results get new ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TensorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// The Rust element types a tensor can be built from or read into: `bool`, `u8`, `i32`,
/// `i64`, `half::f16`, `half::bf16`, `f32`, `f64`.
pub trait TensorElement: StorageElement {}
impl<T: StorageElement> TensorElement for T {}

struct Inner {
    id: TensorId,
    storage: Arc<Storage>,
    layout: Layout,
    device: Device,
    tracked: bool,
    node: Option<Node>,
}

impl Drop for Inner {
    /// Frees a long chain of recorded nodes (an unrolled RNN, thousands of steps) with a loop
    /// instead of one nested drop per node, which would overflow the stack.
    fn drop(&mut self) {
        let Some(node) = self.node.take() else {
            return;
        };
        drop(node.backward); // releases a closure's clones of the inputs first
        let mut stack = node.inputs;
        while let Some(t) = stack.pop() {
            if let Ok(mut inner) = Arc::try_unwrap(t.0) {
                if let Some(n) = inner.node.take() {
                    drop(n.backward);
                    stack.extend(n.inputs);
                }
            }
        }
    }
}

/// An n-dimensional array with a run-time shape and dtype on a [`Device`].
///
/// Cloning is cheap (a reference count). Tensors are immutable: ops return new tensors, and
/// views (reshape of contiguous data, permute, broadcast, slice, flip) share storage.
///
/// ```
/// use keras_tensor::{DType, Tensor};
/// let a = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
/// let b = a.matmul(&a.transpose(0, 1)?)?;
/// assert_eq!(b.shape(), &[2, 2]);
/// assert_eq!(b.to_vec::<f32>()?, vec![5.0, 11.0, 11.0, 25.0]);
/// assert_eq!(a.sum(&[0], false)?.to_vec::<f32>()?, vec![4.0, 6.0]);
/// assert_eq!(a.cast(DType::I32)?.dtype(), DType::I32);
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone)]
pub struct Tensor(Arc<Inner>);

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor(shape={:?}, dtype={}, device={}",
            self.shape(),
            self.dtype(),
            self.device()
        )?;
        if self.numel() <= 16 {
            if let Ok(v) = self.to_vec_f64() {
                write!(f, ", values={v:?}")?;
            }
        }
        if let Some(n) = self.node() {
            write!(f, ", op={}", n.op)?;
        }
        write!(f, ")")
    }
}

impl Tensor {
    // ----- construction ---------------------------------------------------------------

    /// A contiguous, untracked tensor from storage.
    pub(crate) fn from_storage(storage: Storage, shape: &[usize], device: Device) -> Tensor {
        debug_assert_eq!(storage.len(), shape.iter().product::<usize>());
        keras_cpu::memory::keep_freed_memory();
        Tensor(Arc::new(Inner {
            id: TensorId::fresh(),
            storage: Arc::new(storage),
            layout: Layout::contiguous(shape),
            device,
            tracked: false,
            node: None,
        }))
    }

    /// A CPU tensor from a contiguous CPU storage.
    pub(crate) fn from_cpu(s: CpuStorage, shape: &[usize]) -> Tensor {
        Tensor::from_storage(Storage::Cpu(s), shape, Device::Cpu)
    }

    /// Another view of this tensor's storage (untracked; the caller records the op).
    pub(crate) fn with_layout(&self, layout: Layout) -> Tensor {
        Tensor(Arc::new(Inner {
            id: TensorId::fresh(),
            storage: self.0.storage.clone(),
            layout,
            device: self.0.device,
            tracked: false,
            node: None,
        }))
    }

    /// Whether [`Self::record`] would attach a node for these inputs (to a float result):
    /// recording is on and any input is tracked. An op whose forward pass saves work for its
    /// backward pass can skip that when not.
    pub(crate) fn will_record(inputs: &[&Tensor]) -> bool {
        is_recording() && inputs.iter().any(|t| t.is_tracked())
    }

    /// Attaches the node for `op` when recording is on and any input is tracked.
    pub(crate) fn record(
        self,
        op: &'static str,
        inputs: &[&Tensor],
        backward: impl Fn(&Tensor) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
    ) -> Tensor {
        if !Tensor::will_record(inputs) || !self.dtype().is_float() {
            return self;
        }
        self.with_node(op, inputs, Backward::Rule(Box::new(backward)))
    }

    /// Attaches the node of a view of part of `input` (see [`Backward::AddAt`]) when
    /// recording is on and `input` is tracked.
    pub(crate) fn record_part(self, op: &'static str, input: &Tensor, place: Layout) -> Tensor {
        if !is_recording() || !input.is_tracked() || !self.dtype().is_float() {
            return self;
        }
        self.with_node(op, &[input], Backward::AddAt(place))
    }

    fn with_node(self, op: &'static str, inputs: &[&Tensor], backward: Backward) -> Tensor {
        Tensor(Arc::new(Inner {
            id: TensorId::fresh(),
            storage: self.0.storage.clone(),
            layout: self.0.layout.clone(),
            device: self.0.device,
            tracked: true,
            node: Some(Node {
                op,
                inputs: inputs.iter().map(|t| (*t).clone()).collect(),
                backward,
            }),
        }))
    }

    /// The elements as an owned contiguous CPU storage, without a copy when this handle is
    /// the only owner of contiguous, whole storage.
    pub(crate) fn into_cpu_storage(self) -> CpuStorage {
        let whole = self.layout().contiguous_range() == Some(0..self.storage().len());
        if whole {
            let storage = self.0.storage.clone();
            drop(self);
            return match Arc::try_unwrap(storage) {
                Ok(Storage::Cpu(s)) => s,
                Err(shared) => shared.cpu().clone(),
            };
        }
        self.storage().cpu().gather_layout(self.layout())
    }

    /// A tensor from a slice and a shape, on the CPU.
    ///
    /// # Errors
    /// When `data.len()` is not the product of `shape`.
    pub fn new<T: TensorElement>(data: &[T], shape: &[usize]) -> Result<Tensor> {
        Tensor::from_vec(data.to_vec(), shape, &Device::Cpu)
    }

    /// A tensor that takes ownership of `data`.
    ///
    /// # Errors
    /// When `data.len()` is not the product of `shape`, or the device is unavailable.
    pub fn from_vec<T: TensorElement>(data: Vec<T>, shape: &[usize], device: &Device) -> Result<Tensor> {
        device.check_available()?;
        let n: usize = shape.iter().product();
        if data.len() != n {
            return Err(Error::BadShape {
                op: "from_vec",
                shape: shape.to_vec(),
                msg: format!("{} elements given for {n} places", data.len()),
            });
        }
        Ok(Tensor::from_storage(Storage::Cpu(T::wrap(data)), shape, *device))
    }

    /// A rank-0 tensor on the CPU.
    pub fn scalar<T: TensorElement>(v: T) -> Tensor {
        Tensor::from_cpu(T::wrap(vec![v]), &[])
    }

    /// A tensor of `shape` filled with `value` converted to `dtype`.
    ///
    /// # Errors
    /// When the device is unavailable.
    pub fn full(value: f64, shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
        device.check_available()?;
        let n = shape.iter().product();
        Ok(Tensor::from_storage(
            Storage::Cpu(CpuStorage::full(value, n, dtype)),
            shape,
            *device,
        ))
    }

    /// Zeros.
    ///
    /// # Errors
    /// When the device is unavailable.
    pub fn zeros(shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::full(0.0, shape, dtype, device)
    }

    /// Ones.
    ///
    /// # Errors
    /// When the device is unavailable.
    pub fn ones(shape: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::full(1.0, shape, dtype, device)
    }

    /// `value` in this tensor's shape, dtype and device.
    ///
    /// # Errors
    /// Never for CPU tensors.
    pub fn full_like(&self, value: f64) -> Result<Tensor> {
        Tensor::full(value, self.shape(), self.dtype(), self.device())
    }

    /// Zeros like this tensor.
    ///
    /// # Errors
    /// Never for CPU tensors.
    pub fn zeros_like(&self) -> Result<Tensor> {
        self.full_like(0.0)
    }

    /// Ones like this tensor.
    ///
    /// # Errors
    /// Never for CPU tensors.
    pub fn ones_like(&self) -> Result<Tensor> {
        self.full_like(1.0)
    }

    /// A rank-0 tensor holding `value` in this tensor's dtype and device (a "weakly typed"
    /// Python scalar in Keras terms).
    ///
    /// # Errors
    /// Never for CPU tensors.
    pub fn scalar_like(&self, value: f64) -> Result<Tensor> {
        Tensor::full(value, &[], self.dtype(), self.device())
    }

    /// `start, start+step, …` below `stop` (NumPy `arange`).
    ///
    /// # Errors
    /// When `step` is zero or not finite.
    pub fn arange(start: f64, stop: f64, step: f64, dtype: DType, device: &Device) -> Result<Tensor> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !stop.is_finite() {
            return Err(Error::InvalidArgument {
                op: "arange",
                msg: format!("start {start}, stop {stop}, step {step} must be finite and step non-zero"),
            });
        }
        let n = ((stop - start) / step).ceil().max(0.0) as usize;
        let v: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
        Tensor::from_vec(v, &[n], device)?.cast(dtype)
    }

    // ----- accessors --------------------------------------------------------------------

    /// Identity of this handle (used to key gradients).
    pub fn id(&self) -> TensorId {
        self.0.id
    }

    /// The dimensions.
    pub fn shape(&self) -> &[usize] {
        self.0.layout.shape()
    }

    /// Size of dimension `axis` (negative counts from the end).
    ///
    /// # Errors
    /// When the axis is out of range.
    pub fn dim(&self, axis: isize) -> Result<usize> {
        Ok(self.shape()[keras_backend::layout::normalize_axis("dim", axis, self.rank())?])
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.layout.rank()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.0.storage.dtype()
    }

    /// The device holding the data.
    pub fn device(&self) -> &Device {
        &self.0.device
    }

    /// Shape, strides and offset into the storage.
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }

    pub(crate) fn storage(&self) -> &Storage {
        &self.0.storage
    }

    /// True when gradients flow to or through this tensor.
    pub fn is_tracked(&self) -> bool {
        self.0.tracked
    }

    /// The recorded node, for tensors computed from tracked tensors.
    pub fn node(&self) -> Option<&Node> {
        self.0.node.as_ref()
    }

    /// True when elements are row-major and adjacent in storage.
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }

    // ----- autodiff handles -------------------------------------------------------------

    /// A tracked leaf sharing this tensor's data: a trainable variable. Gradients of
    /// anything computed from it reach it.
    pub fn variable(&self) -> Tensor {
        Tensor(Arc::new(Inner {
            id: TensorId::fresh(),
            storage: self.0.storage.clone(),
            layout: self.0.layout.clone(),
            device: self.0.device,
            tracked: true,
            node: None,
        }))
    }

    /// Same as [`Tensor::variable`]; the name used by [`crate::GradientTape::watch`].
    pub fn watched(&self) -> Tensor {
        self.variable()
    }

    /// The same data with no graph: gradients stop here.
    pub fn detach(&self) -> Tensor {
        self.with_layout(self.0.layout.clone())
    }

    // ----- reading values ---------------------------------------------------------------

    /// The elements in row-major order as `Vec<T>`; `T` must match the dtype.
    ///
    /// # Errors
    /// [`Error::DTypeMismatch`] when `T` is not this tensor's dtype.
    pub fn to_vec<T: TensorElement>(&self) -> Result<Vec<T>> {
        match self.storage() {
            Storage::Cpu(s) => {
                let v = s.as_slice::<T>().map_err(|_| Error::DTypeMismatch {
                    op: "to_vec",
                    lhs: self.dtype(),
                    rhs: T::DTYPE,
                })?;
                Ok(keras_cpu::storage::strided_copy(v, self.layout()))
            }
        }
    }

    /// The elements converted to `f64` (any dtype).
    ///
    /// # Errors
    /// Never for CPU tensors.
    pub fn to_vec_f64(&self) -> Result<Vec<f64>> {
        self.cast(DType::F64)?.to_vec::<f64>()
    }

    /// The single element of a one-element tensor, as `f64`.
    ///
    /// # Errors
    /// When the tensor does not have exactly one element.
    pub fn item(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(Error::BadShape {
                op: "item",
                shape: self.shape().to_vec(),
                msg: "item needs exactly one element".into(),
            });
        }
        Ok(self.to_vec_f64()?[0])
    }

    /// Moves the tensor to `device` (a no-op when already there).
    ///
    /// # Errors
    /// When the device is unavailable.
    pub fn to_device(&self, device: &Device) -> Result<Tensor> {
        device.check_available()?;
        Ok(self.clone())
    }

    /// Checks that every tensor is on this tensor's device.
    pub(crate) fn same_device(&self, op: &'static str, others: &[&Tensor]) -> Result<()> {
        for o in others {
            if o.device() != self.device() {
                return Err(Error::DeviceMismatch {
                    op,
                    lhs: self.device().to_string(),
                    rhs: o.device().to_string(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_close, randn};
    use crate::{ConvArgs, PoolArgs};

    /// Half-precision tensors compute in f32 and round once: results match the f32 path
    /// within the format's precision.
    #[test]
    fn half_precision_dtypes_run_every_op_family() {
        let x = randn(&[2, 4, 4, 3], 1).cast(DType::F32).unwrap();
        let w = randn(&[3, 3, 3, 2], 2).cast(DType::F32).unwrap();
        type Op = Box<dyn Fn(&Tensor, &Tensor) -> Result<Tensor>>;
        let ops: Vec<(&str, Op)> = vec![
            ("exp", Box::new(|x, _| x.exp())),
            ("add", Box::new(|x, _| x.add(&x.mul_scalar(0.5)?))),
            ("sum", Box::new(|x, _| x.sum(&[1, 2], false))),
            (
                "matmul",
                Box::new(|x, _| x.reshape(&[8, 12])?.matmul(&x.reshape(&[12, 8])?)),
            ),
            ("conv2d", Box::new(|x, w| x.conv2d(w, &ConvArgs::new()))),
            ("max_pool2d", Box::new(|x, _| x.max_pool2d(&PoolArgs::new(2)))),
            ("softmax", Box::new(|x, _| x.softmax(-1))),
            ("cumsum", Box::new(|x, _| x.cumsum(1))),
        ];
        for (dtype, tol) in [(DType::F16, 1e-2), (DType::BF16, 5e-2)] {
            let (xh, wh) = (x.cast(dtype).unwrap(), w.cast(dtype).unwrap());
            for (name, f) in &ops {
                let got = f(&xh, &wh).unwrap();
                assert_eq!(got.dtype(), dtype, "{name}");
                let want = f(&xh.cast(DType::F32).unwrap(), &wh.cast(DType::F32).unwrap()).unwrap();
                assert_close(&format!("{name} {dtype}"), &got, &want, tol, tol);
            }
        }
    }

    #[test]
    fn construction_errors_and_accessors() {
        let e = Tensor::from_vec(vec![1.0f32; 5], &[2, 3], &Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(e.contains("from_vec") && e.contains("[2, 3]"), "{e}");
        let t = Tensor::arange(0.0, 5.0, 2.0, DType::I32, &Device::Cpu).unwrap();
        assert_eq!(t.to_vec::<i32>().unwrap(), vec![0, 2, 4]);
        assert!(t.to_vec::<f32>().is_err());
        assert_eq!(t.dim(-1).unwrap(), 3);
        assert!(Tensor::arange(0.0, 1.0, 0.0, DType::F32, &Device::Cpu).is_err());
        for d in DType::ALL {
            let z = Tensor::ones(&[2], d, &Device::Cpu).unwrap();
            assert_eq!(z.dtype(), d);
            assert_eq!(z.to_vec_f64().unwrap(), vec![1.0, 1.0]);
        }
        assert!(Tensor::scalar(2.0f32).item().unwrap() == 2.0);
        assert!(randn(&[2], 1).item().is_err());
    }
}
