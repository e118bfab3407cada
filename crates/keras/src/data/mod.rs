//! [`Dataset`]: an input pipeline in the manner of `tf.data`, which Keras's `fit`, `evaluate`
//! and `predict` accept (see [`crate::Trainer::fit_dataset`]).
//!
//! A dataset is a recipe: every pass ([`Dataset::iter`]) starts a fresh stream of elements,
//! so memory stays bounded by the buffers you ask for (`shuffle`, `prefetch`, `batch`) unless
//! you `cache`. An element is a list of tensors: `(x, y)` or `(x, y, sample_weight)` for
//! training.

mod image;

pub use image::{
    image_dataset_from_directory, img_to_array, load_img, save_img, ImageDatasetOptions, LabelMode,
};

use keras_tensor::op::RandomDist;
use keras_tensor::random::sample;
use keras_tensor::{Error, Result, Tensor};
use rayon::prelude::*;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

/// One element of a dataset: its component tensors.
pub type Element = Vec<Tensor>;

type Stream = Box<dyn Iterator<Item = Result<Element>> + Send>;
type Source = Arc<dyn Fn() -> Result<Stream> + Send + Sync>;

/// A re-iterable pipeline of tensor tuples.
///
/// ```
/// use keras::data::Dataset;
/// use keras_tensor::Tensor;
/// let x = Tensor::new(&[1.0f32, 2.0, 3.0, 4.0, 5.0], &[5, 1])?;
/// let y = Tensor::new(&[0i64, 1, 0, 1, 0], &[5])?;
/// let ds = Dataset::from_tensor_slices(&[&x, &y])?
///     .shuffle(5, Some(42))
///     .map(|e| Ok(vec![e[0].mul_scalar(2.0)?, e[1].clone()]))
///     .batch(2, false)
///     .prefetch(2);
/// let batches: Vec<_> = ds.iter()?.collect::<Result<_, _>>()?;
/// assert_eq!(batches.len(), 3);
/// assert_eq!(batches[0][0].shape(), &[2, 1]);
/// assert_eq!(ds.cardinality(), Some(3));
/// # Ok::<(), keras_tensor::Error>(())
/// ```
#[derive(Clone)]
pub struct Dataset {
    source: Source,
    cardinality: Option<usize>,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dataset(cardinality={:?})", self.cardinality)
    }
}

fn invalid(msg: String) -> Error {
    Error::InvalidArgument { op: "Dataset", msg }
}

impl Dataset {
    fn new(cardinality: Option<usize>, f: impl Fn() -> Result<Stream> + Send + Sync + 'static) -> Dataset {
        Dataset {
            source: Arc::new(f),
            cardinality,
        }
    }

    /// Slices each tensor along its first axis: element `i` is `[t[i] for t in tensors]`
    /// (`tf.data.Dataset.from_tensor_slices`).
    ///
    /// # Errors
    /// When the tensors are empty, scalars, or differ in their first dimension.
    pub fn from_tensor_slices(tensors: &[&Tensor]) -> Result<Dataset> {
        let n = match tensors.first().and_then(|t| t.shape().first()) {
            Some(&n) => n,
            None => {
                return Err(invalid(
                    "from_tensor_slices needs at least one tensor of rank >= 1".into(),
                ))
            }
        };
        if let Some(t) = tensors.iter().find(|t| t.shape().first() != Some(&n)) {
            return Err(invalid(format!(
                "from_tensor_slices: all tensors need the same first dimension; got {n} and {:?}",
                t.shape()
            )));
        }
        let ts: Vec<Tensor> = tensors.iter().map(|t| (*t).clone()).collect();
        Ok(Dataset::new(Some(n), move || {
            let ts = ts.clone();
            Ok(Box::new((0..n).map(move |i| {
                ts.iter().map(|t| t.narrow(0, i, 1)?.squeeze(&[0])).collect()
            })))
        }))
    }

    /// Elements from a generator function, called once per pass (`from_generator`).
    pub fn from_generator<I>(f: impl Fn() -> I + Send + Sync + 'static) -> Dataset
    where
        I: Iterator<Item = Result<Element>> + Send + 'static,
    {
        Dataset::new(None, move || Ok(Box::new(f()) as Stream))
    }

    /// A new pass over the elements.
    ///
    /// # Errors
    /// When the pipeline cannot start (an element error arrives as an `Err` item instead).
    pub fn iter(&self) -> Result<impl Iterator<Item = Result<Element>> + Send> {
        (self.source)()
    }

    /// The number of elements, when known without iterating.
    pub fn cardinality(&self) -> Option<usize> {
        self.cardinality
    }

    /// Applies `f` to every element.
    pub fn map(self, f: impl Fn(Element) -> Result<Element> + Send + Sync + 'static) -> Dataset {
        let f = Arc::new(f);
        let src = self.source;
        Dataset::new(self.cardinality, move || {
            let f = f.clone();
            Ok(Box::new(src()?.map(move |e| e.and_then(|e| f(e)))) as Stream)
        })
    }

    /// [`Dataset::map`] on `num_parallel_calls` elements at a time across threads, keeping
    /// the order.
    pub fn map_parallel(
        self,
        f: impl Fn(Element) -> Result<Element> + Send + Sync + 'static,
        num_parallel_calls: usize,
    ) -> Dataset {
        let f = Arc::new(f);
        let chunk = num_parallel_calls.max(1);
        let src = self.source;
        Dataset::new(self.cardinality, move || {
            let (f, mut it) = (f.clone(), src()?);
            let mut ready: VecDeque<Result<Element>> = VecDeque::new();
            Ok(Box::new(std::iter::from_fn(move || {
                if ready.is_empty() {
                    let inputs: Vec<Result<Element>> = it.by_ref().take(chunk).collect();
                    ready = inputs
                        .into_par_iter()
                        .map(|e| e.and_then(|e| f(e)))
                        .collect::<Vec<_>>()
                        .into();
                }
                ready.pop_front()
            })) as Stream)
        })
    }

    /// Stacks `batch_size` consecutive elements along a new first axis; the last batch may be
    /// smaller unless `drop_remainder`.
    pub fn batch(self, batch_size: usize, drop_remainder: bool) -> Dataset {
        let b = batch_size.max(1);
        let card = self
            .cardinality
            .map(|n| if drop_remainder { n / b } else { n.div_ceil(b) });
        let src = self.source;
        Dataset::new(card, move || {
            let mut it = src()?;
            Ok(Box::new(std::iter::from_fn(move || {
                let mut items: Vec<Element> = Vec::with_capacity(b);
                for e in it.by_ref().take(b) {
                    match e {
                        Ok(e) => items.push(e),
                        Err(err) => return Some(Err(err)),
                    }
                }
                if items.is_empty() || (drop_remainder && items.len() < b) {
                    return None;
                }
                Some(stack(&items))
            })) as Stream)
        })
    }

    /// Shuffles with a buffer of `buffer_size` elements (a full permutation when it holds the
    /// whole dataset); each pass draws a new order. A `seed` makes the orders reproducible;
    /// without one it comes from [`crate::random::next_seed`].
    pub fn shuffle(self, buffer_size: usize, seed: Option<u64>) -> Dataset {
        let base = seed.unwrap_or_else(crate::random::next_seed);
        let pass = Arc::new(AtomicU64::new(0));
        let cap = buffer_size.max(1);
        let src = self.source;
        Dataset::new(self.cardinality, move || {
            let seed = base.wrapping_add(
                pass.fetch_add(1, Ordering::Relaxed)
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let mut it = src()?;
            let mut buf: Vec<Element> = Vec::with_capacity(cap.min(1 << 16));
            let mut draw = 0u64;
            Ok(Box::new(std::iter::from_fn(move || {
                while buf.len() < cap {
                    match it.next() {
                        Some(Ok(e)) => buf.push(e),
                        Some(Err(err)) => return Some(Err(err)),
                        None => break,
                    }
                }
                if buf.is_empty() {
                    return None;
                }
                let u = sample(
                    RandomDist::Uniform {
                        low: 0.0,
                        high: buf.len() as f64,
                    },
                    seed,
                    draw,
                );
                draw += 1;
                let i = (u as usize).min(buf.len() - 1);
                Some(Ok(buf.swap_remove(i)))
            })) as Stream)
        })
    }

    /// Computes up to `buffer_size` elements ahead on a background thread.
    pub fn prefetch(self, buffer_size: usize) -> Dataset {
        let src = self.source;
        let n = buffer_size.max(1);
        Dataset::new(self.cardinality, move || {
            let (tx, rx) = mpsc::sync_channel::<Result<Element>>(n);
            let src = src.clone();
            std::thread::spawn(move || {
                let it = match src() {
                    Ok(it) => it,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                for e in it {
                    // The consumer stopped early: end quietly.
                    if tx.send(e).is_err() {
                        return;
                    }
                }
            });
            Ok(Box::new(rx.into_iter()) as Stream)
        })
    }

    /// Repeats the elements `count` times (`None`: forever).
    pub fn repeat(self, count: Option<usize>) -> Dataset {
        let card = match (count, self.cardinality) {
            (Some(c), Some(n)) => Some(c * n),
            _ => None,
        };
        let src = self.source;
        Dataset::new(card, move || {
            let src = src.clone();
            let passes: Box<dyn Iterator<Item = usize> + Send> = match count {
                Some(c) => Box::new(0..c),
                None => Box::new(0..),
            };
            Ok(Box::new(passes.flat_map(move |_| match src() {
                Ok(it) => it,
                Err(e) => Box::new(std::iter::once(Err(e))) as Stream,
            })) as Stream)
        })
    }

    /// The first `n` elements.
    pub fn take(self, n: usize) -> Dataset {
        let card = Some(self.cardinality.map_or(n, |c| c.min(n)));
        let src = self.source;
        Dataset::new(card, move || Ok(Box::new(src()?.take(n)) as Stream))
    }

    /// Keeps the elements in memory after the first complete pass; later passes replay them.
    pub fn cache(self) -> Dataset {
        let store: Arc<Mutex<Option<Arc<Vec<Element>>>>> = Arc::new(Mutex::new(None));
        let src = self.source;
        Dataset::new(self.cardinality, move || {
            if let Some(v) = store
                .lock()
                .map_err(|_| invalid("cache lock poisoned".into()))?
                .clone()
            {
                return Ok(Box::new((0..v.len()).map(move |i| Ok(v[i].clone()))) as Stream);
            }
            let (store, mut it) = (store.clone(), src()?);
            let mut seen: Vec<Element> = Vec::new();
            Ok(Box::new(std::iter::from_fn(move || match it.next() {
                Some(Ok(e)) => {
                    seen.push(e.clone());
                    Some(Ok(e))
                }
                Some(Err(err)) => Some(Err(err)),
                None => {
                    if let Ok(mut s) = store.lock() {
                        s.get_or_insert_with(|| Arc::new(std::mem::take(&mut seen)));
                    }
                    None
                }
            })) as Stream)
        })
    }
}

/// Stacks a list of elements component by component.
fn stack(items: &[Element]) -> Result<Element> {
    let k = items[0].len();
    if let Some(e) = items.iter().find(|e| e.len() != k) {
        return Err(invalid(format!(
            "batch: elements have {k} and {} components",
            e.len()
        )));
    }
    (0..k)
        .map(|j| {
            let parts: Vec<&Tensor> = items.iter().map(|e| &e[j]).collect();
            Tensor::stack(&parts, 0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(n: usize) -> Dataset {
        let v: Vec<f32> = (0..n).map(|i| i as f32).collect();
        Dataset::from_tensor_slices(&[&Tensor::new(&v, &[n]).unwrap()]).unwrap()
    }

    fn values(ds: &Dataset) -> Vec<f32> {
        ds.iter()
            .unwrap()
            .flat_map(|e| e.unwrap()[0].to_vec::<f32>().unwrap())
            .collect()
    }

    #[test]
    fn shuffle_permutes_reproducibly_and_differs_per_pass() {
        let ds = numbers(50).shuffle(50, Some(3));
        let (a, b) = (values(&ds), values(&ds));
        let mut sorted = a.clone();
        sorted.sort_by(f32::total_cmp);
        assert_eq!(sorted, values(&numbers(50)));
        assert_ne!(a, b, "each pass should draw a new order");
        assert_eq!(
            values(&numbers(50).shuffle(50, Some(3))),
            a,
            "same seed, same first order"
        );
        // A small buffer only moves elements locally.
        let local = values(&numbers(50).shuffle(2, Some(1)));
        assert!(local.iter().enumerate().all(|(i, &v)| (v as usize) <= i + 1));
    }

    #[test]
    fn batch_map_repeat_take_cache_prefetch_compose() {
        let ds = numbers(7).batch(3, false);
        let shapes: Vec<Vec<usize>> = ds
            .iter()
            .unwrap()
            .map(|e| e.unwrap()[0].shape().to_vec())
            .collect();
        assert_eq!(shapes, vec![vec![3], vec![3], vec![1]]);
        assert_eq!(numbers(7).batch(3, true).cardinality(), Some(2));
        assert_eq!(numbers(7).batch(3, true).iter().unwrap().count(), 2);
        let doubled = numbers(4).map_parallel(|e| Ok(vec![e[0].mul_scalar(2.0)?]), 3);
        assert_eq!(values(&doubled), vec![0.0, 2.0, 4.0, 6.0]);
        assert_eq!(
            values(&numbers(3).repeat(Some(2))),
            vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0]
        );
        assert_eq!(
            values(&numbers(3).repeat(None).take(5)),
            vec![0.0, 1.0, 2.0, 0.0, 1.0]
        );
        let calls = Arc::new(AtomicU64::new(0));
        let c2 = calls.clone();
        let cached = numbers(4)
            .map(move |e| {
                c2.fetch_add(1, Ordering::Relaxed);
                Ok(e)
            })
            .cache();
        assert_eq!(values(&cached), values(&cached));
        assert_eq!(
            calls.load(Ordering::Relaxed),
            4,
            "the second pass came from the cache"
        );
        assert_eq!(values(&numbers(100).prefetch(4).take(3)), vec![0.0, 1.0, 2.0]);
    }

    #[test]
    fn errors_name_the_problem_and_flow_through() {
        let a = Tensor::new(&[1.0f32, 2.0], &[2]).unwrap();
        let b = Tensor::new(&[1.0f32, 2.0, 3.0], &[3]).unwrap();
        assert!(Dataset::from_tensor_slices(&[&a, &b])
            .unwrap_err()
            .to_string()
            .contains("[3]"));
        let bad = numbers(3).map(|_| Err(invalid("boom".into()))).prefetch(2);
        let e = bad.iter().unwrap().next().unwrap().unwrap_err().to_string();
        assert!(e.contains("boom"), "{e}");
    }
}
