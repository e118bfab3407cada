//! Optimizer updates fused into one pass over a variable and its slots.
//!
//! Written as a chain of tensor ops, an Adam step is about fifteen passes over arrays the
//! size of the variable, each allocating its result; here it is one pass that reads the
//! variable, its two moments and the gradient and writes the three new arrays. The
//! arithmetic is the same, operation for operation and rounding for rounding, as Keras's
//! formula written with the tensor ops.

use crate::storage::PAR_THRESHOLD;
use crate::{CpuStorage, Float};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// The scalars of one Adam step (Keras's `Adam.update_step`), in `f64`; the kernel rounds
/// each to the variable's dtype, as Keras's scalars are.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    /// `1 - beta_1`
    pub one_minus_beta_1: f64,
    /// `1 - beta_2`
    pub one_minus_beta_2: f64,
    /// The step size with both bias corrections: `lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)`.
    pub alpha: f64,
    /// `epsilon`
    pub epsilon: f64,
}

/// The new `(variable, m, v, v_hat)` after one Adam step with gradient `g`:
///
/// ```text
/// m' = m + (g - m) (1 - beta_1)
/// v' = v + (g² - v) (1 - beta_2)
/// v̂' = max(v̂, v')             (AMSGrad, when v_hat is given; else v̂' = v')
/// p' = p - m' alpha / (sqrt(v̂') + epsilon)
/// ```
///
/// All slices must have the same length and dtype (`f32` or `f64`); returns `None` otherwise
/// (the caller then composes the step from tensor ops).
///
/// ```
/// use keras_cpu::{optim::{adam, AdamStep}, CpuStorage};
/// let s = AdamStep { one_minus_beta_1: 0.1, one_minus_beta_2: 0.001, alpha: 0.01, epsilon: 1e-7 };
/// let f = |v: f32| CpuStorage::F32(vec![v]);
/// let (p, m, v, _) = adam(&s, &f(1.0), &f(0.0), &f(0.0), None, &f(2.0)).unwrap();
/// assert_eq!(m, f(0.2));
/// assert!(matches!(p, CpuStorage::F32(ref p) if p[0] < 1.0));
/// # let _ = v;
/// ```
pub fn adam(
    s: &AdamStep,
    p: &CpuStorage,
    m: &CpuStorage,
    v: &CpuStorage,
    v_hat: Option<&CpuStorage>,
    g: &CpuStorage,
) -> Option<(CpuStorage, CpuStorage, CpuStorage, Option<CpuStorage>)> {
    use CpuStorage::{F32, F64};
    match (p, m, v, v_hat, g) {
        (F32(p), F32(m), F32(v), None, F32(g)) => {
            let (p, m, v, _) = adam_slices(s, p, m, v, None, g)?;
            Some((F32(p), F32(m), F32(v), None))
        }
        (F32(p), F32(m), F32(v), Some(F32(h)), F32(g)) => {
            let (p, m, v, h) = adam_slices(s, p, m, v, Some(h), g)?;
            Some((F32(p), F32(m), F32(v), h.map(F32)))
        }
        (F64(p), F64(m), F64(v), None, F64(g)) => {
            let (p, m, v, _) = adam_slices(s, p, m, v, None, g)?;
            Some((F64(p), F64(m), F64(v), None))
        }
        (F64(p), F64(m), F64(v), Some(F64(h)), F64(g)) => {
            let (p, m, v, h) = adam_slices(s, p, m, v, Some(h), g)?;
            Some((F64(p), F64(m), F64(v), h.map(F64)))
        }
        _ => None,
    }
}

type Adam4<T> = (Vec<T>, Vec<T>, Vec<T>, Option<Vec<T>>);

fn adam_slices<T: Float>(
    s: &AdamStep,
    p: &[T],
    m: &[T],
    v: &[T],
    h: Option<&[T]>,
    g: &[T],
) -> Option<Adam4<T>> {
    let n = p.len();
    if m.len() != n || v.len() != n || g.len() != n || h.is_some_and(|h| h.len() != n) {
        return None;
    }
    let (c1, c2, alpha, eps) = (
        T::of(s.one_minus_beta_1),
        T::of(s.one_minus_beta_2),
        T::of(s.alpha),
        T::of(s.epsilon),
    );
    // The outputs are written once, element by element, without being zeroed first (a
    // `vec![0; n]` each would be three or four more single-threaded passes).
    let (mut p2, mut m2, mut v2) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut h2: Option<Vec<T>> = h.map(|_| Vec::with_capacity(n));
    const CHUNK: usize = 4096;
    type Out<'a, T> = &'a mut [MaybeUninit<T>];
    let run = |c: usize, p2: Out<T>, m2: Out<T>, v2: Out<T>, h2: Option<Out<T>>| {
        let o = c * CHUNK;
        let r = o..o + p2.len();
        let (p, m, v, g) = (&p[r.clone()], &m[r.clone()], &v[r.clone()], &g[r.clone()]);
        crate::simd::vectorized(|| match (h2, h) {
            (Some(h2), Some(h)) => {
                for i in 0..p2.len() {
                    let mi = m[i] + (g[i] - m[i]) * c1;
                    let vi = v[i] + (g[i] * g[i] - v[i]) * c2;
                    let hi = h[o + i].max(vi);
                    p2[i].write(p[i] - mi * alpha / (hi.sqrt() + eps));
                    m2[i].write(mi);
                    v2[i].write(vi);
                    h2[i].write(hi);
                }
            }
            _ => {
                for i in 0..p2.len() {
                    let mi = m[i] + (g[i] - m[i]) * c1;
                    let vi = v[i] + (g[i] * g[i] - v[i]) * c2;
                    p2[i].write(p[i] - mi * alpha / (vi.sqrt() + eps));
                    m2[i].write(mi);
                    v2[i].write(vi);
                }
            }
        })
    };
    {
        let (ps, ms, vs) = (
            &mut p2.spare_capacity_mut()[..n],
            &mut m2.spare_capacity_mut()[..n],
            &mut v2.spare_capacity_mut()[..n],
        );
        let hs = h2.as_mut().map(|h2| &mut h2.spare_capacity_mut()[..n]);
        if n >= PAR_THRESHOLD {
            let outs = ps
                .par_chunks_mut(CHUNK)
                .zip(ms.par_chunks_mut(CHUNK))
                .zip(vs.par_chunks_mut(CHUNK))
                .enumerate();
            match hs {
                Some(hs) => outs
                    .zip(hs.par_chunks_mut(CHUNK))
                    .for_each(|((c, ((p2, m2), v2)), h2)| run(c, p2, m2, v2, Some(h2))),
                None => outs.for_each(|(c, ((p2, m2), v2))| run(c, p2, m2, v2, None)),
            }
        } else {
            run(0, ps, ms, vs, hs);
        }
    }
    // SAFETY: the chunks above cover all `n` elements of each output, and `run` wrote every
    // element of its chunks (a panic unwinds before this, dropping the vectors at length 0).
    unsafe {
        p2.set_len(n);
        m2.set_len(n);
        v2.set_len(n);
        if let Some(h2) = h2.as_mut() {
            h2.set_len(n);
        }
    }
    Some((p2, m2, v2, h2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same step, one element at a time, in the order Keras's formula takes it.
    fn reference(s: &AdamStep, p: f32, m: f32, v: f32, h: Option<f32>, g: f32) -> [f32; 4] {
        let (c1, c2, a, e) = (
            s.one_minus_beta_1 as f32,
            s.one_minus_beta_2 as f32,
            s.alpha as f32,
            s.epsilon as f32,
        );
        let m2 = m + (g - m) * c1;
        let v2 = v + (g * g - v) * c2;
        let h2 = h.map_or(v2, |h| h.max(v2));
        [p - m2 * a / (h2.sqrt() + e), m2, v2, h2]
    }

    #[test]
    fn matches_the_elementwise_formula_on_every_chunk() {
        let s = AdamStep {
            one_minus_beta_1: 0.1,
            one_minus_beta_2: 0.001,
            alpha: 3e-4,
            epsilon: 1e-7,
        };
        // Long enough to run in parallel chunks, with a ragged last chunk.
        let n = PAR_THRESHOLD + 1234;
        let f = |k: f32| (0..n).map(|i| (i as f32 * k).sin() * 2.0).collect::<Vec<f32>>();
        let (p, m, g) = (f(0.37), f(0.11), f(0.53));
        let v: Vec<f32> = f(0.29).iter().map(|x| x * x).collect();
        let h: Vec<f32> = f(0.71).iter().map(|x| x * x).collect();
        for amsgrad in [false, true] {
            let st = |x: &[f32]| CpuStorage::F32(x.to_vec());
            let hs = st(&h);
            let (p2, m2, v2, h2) =
                adam(&s, &st(&p), &st(&m), &st(&v), amsgrad.then_some(&hs), &st(&g)).unwrap();
            let (CpuStorage::F32(p2), CpuStorage::F32(m2), CpuStorage::F32(v2)) = (p2, m2, v2) else {
                panic!("dtype")
            };
            assert_eq!(h2.is_some(), amsgrad);
            for i in [0, 1, 4095, 4096, n / 2, n - 1] {
                let r = reference(&s, p[i], m[i], v[i], amsgrad.then_some(h[i]), g[i]);
                assert_eq!([p2[i], m2[i], v2[i]], [r[0], r[1], r[2]], "element {i}");
            }
        }
        // Mismatched lengths or dtypes are declined.
        let one = CpuStorage::F32(vec![1.0]);
        let two = CpuStorage::F32(vec![1.0, 2.0]);
        assert!(adam(&s, &one, &one, &one, None, &two).is_none());
        assert!(adam(&s, &one, &one, &one, None, &CpuStorage::F64(vec![1.0])).is_none());
    }
}
