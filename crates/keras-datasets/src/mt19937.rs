//! The Mersenne Twister as NumPy's legacy `RandomState` and Python's `random` use it, so that
//! Keras's seeded shuffles come out the same here.

const N: usize = 624;
const M: usize = 397;

/// MT19937 state.
#[derive(Clone)]
pub(crate) struct Mt19937 {
    mt: [u32; N],
    idx: usize,
}

impl Mt19937 {
    /// `init_genrand(seed)`: NumPy's `RandomState(seed)` for an integer seed.
    pub(crate) fn numpy(seed: u32) -> Mt19937 {
        let mut mt = [0u32; N];
        mt[0] = seed;
        for i in 1..N {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { mt, idx: N }
    }

    /// `init_by_array(key)`: Python's `random.seed(n)` for an integer `n`, whose key is the
    /// 32-bit words of `|n|`, least significant first.
    pub(crate) fn python(seed: u64) -> Mt19937 {
        let key: Vec<u32> = if seed >> 32 == 0 {
            vec![seed as u32]
        } else {
            vec![seed as u32, (seed >> 32) as u32]
        };
        let mut s = Mt19937::numpy(19_650_218);
        let mt = &mut s.mt;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        s
    }

    fn twist(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX_A: u32 = 0x9908_b0df;
        for k in 0..N {
            let y = (self.mt[k] & UPPER) | (self.mt[(k + 1) % N] & LOWER);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            self.mt[k] = self.mt[(k + M) % N] ^ (y >> 1) ^ mag;
        }
        self.idx = 0;
    }

    /// `genrand_int32`.
    pub(crate) fn next_u32(&mut self) -> u32 {
        if self.idx >= N {
            self.twist();
        }
        let mut y = self.mt[self.idx];
        self.idx += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// NumPy's `mt19937_next64`: two words, the first the high one.
    fn next_u64(&mut self) -> u64 {
        let hi = self.next_u32() as u64;
        (hi << 32) | self.next_u32() as u64
    }

    /// NumPy's legacy `random_interval(max)`: uniform in `0..=max` by masked rejection.
    fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for s in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> s;
        }
        loop {
            let v = if max <= 0xffff_ffff {
                (self.next_u32() as u64) & mask
            } else {
                self.next_u64() & mask
            };
            if v <= max {
                return v;
            }
        }
    }

    /// `RandomState.shuffle(x)` for a 1-D array: Fisher–Yates from the end with
    /// `random_interval(i)`.
    pub(crate) fn numpy_shuffle<T>(&mut self, x: &mut [T]) {
        for i in (1..x.len()).rev() {
            let j = self.interval(i as u64) as usize;
            x.swap(i, j);
        }
    }

    /// Python's `random.getrandbits(k)` for `k <= 32`.
    fn getrandbits32(&mut self, k: u32) -> u32 {
        if k == 0 {
            0
        } else {
            self.next_u32() >> (32 - k)
        }
    }

    /// Python's `random._randbelow(n)` (`n < 2**32`), which `randrange(n)` and `choice` use.
    pub(crate) fn randbelow(&mut self, n: u64) -> u64 {
        let k = 64 - n.leading_zeros();
        if k > 32 {
            // Python draws getrandbits(k) word by word, least significant first.
            loop {
                let lo = self.next_u32() as u64;
                let hi = (self.next_u32() >> (64 - k)) as u64;
                let r = (hi << 32) | lo;
                if r < n {
                    return r;
                }
            }
        }
        loop {
            let r = self.getrandbits32(k) as u64;
            if r < n {
                return r;
            }
        }
    }

    /// Python's `random.shuffle(x)`.
    pub(crate) fn python_shuffle<T>(&mut self, x: &mut [T]) {
        for i in (1..x.len()).rev() {
            let j = self.randbelow(i as u64 + 1) as usize;
            x.swap(i, j);
        }
    }
}

/// `RandomState(seed)` then `shuffle(arange(n))`: the permutation Keras's dataset loaders
/// apply. `rng` continues for the next shuffle, as Keras reuses one `RandomState`.
pub(crate) fn numpy_permutation(rng: &mut Mt19937, n: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    rng.numpy_shuffle(&mut idx);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    // Values printed by NumPy 2.5.5 / CPython 3.12 (scripts in the comments).

    #[test]
    fn raw_words_match_numpy() {
        // np.random.RandomState(5489).randint(0, 2**32, size=3, dtype=np.uint64)
        let mut r = Mt19937::numpy(5489);
        let first: Vec<u32> = (0..3).map(|_| r.next_u32()).collect();
        assert_eq!(first, [3_499_211_612, 581_869_302, 3_890_346_734]);
    }

    #[test]
    fn numpy_shuffle_matches_randomstate() {
        // rng = np.random.RandomState(113); i = np.arange(10); rng.shuffle(i); print(list(i))
        // j = np.arange(7); rng.shuffle(j); print(list(j))
        let mut rng = Mt19937::numpy(113);
        assert_eq!(numpy_permutation(&mut rng, 10), NP_113_10);
        assert_eq!(numpy_permutation(&mut rng, 7), NP_113_THEN_7);
        // rng = np.random.RandomState(113); i = np.arange(25000); rng.shuffle(i)
        // print(list(i[:8]), list(i[-3:]), int((i * np.arange(25000)).sum()))
        let mut rng = Mt19937::numpy(113);
        let p = numpy_permutation(&mut rng, 25000);
        assert_eq!(p[..8], NP_113_25000_HEAD);
        assert_eq!(p[25000 - 3..], NP_113_25000_TAIL);
        let dot: u64 = p.iter().enumerate().map(|(k, &v)| (k * v) as u64).sum();
        assert_eq!(dot, NP_113_25000_DOT);
    }

    #[test]
    fn python_shuffle_matches_random() {
        // random.seed(1337); x = list(range(10)); random.shuffle(x); print(x)
        let mut rng = Mt19937::python(1337);
        let mut x: Vec<usize> = (0..10).collect();
        rng.python_shuffle(&mut x);
        assert_eq!(x, PY_1337_10);
        // random.seed(2**40 + 7); x = list(range(1000)); random.shuffle(x); print(x[:6])
        let mut rng = Mt19937::python((1 << 40) + 7);
        let mut x: Vec<usize> = (0..1000).collect();
        rng.python_shuffle(&mut x);
        assert_eq!(x[..6], PY_2P40_1000_HEAD);
    }

    const NP_113_10: [usize; 10] = [9, 3, 6, 1, 0, 7, 4, 8, 2, 5];
    const NP_113_THEN_7: [usize; 7] = [5, 1, 0, 3, 6, 4, 2];
    const NP_113_25000_HEAD: [usize; 8] = [7798, 13226, 18078, 793, 17499, 23003, 574, 19638];
    const NP_113_25000_TAIL: [usize; 3] = [22690, 4828, 14501];
    const NP_113_25000_DOT: u64 = 3_919_982_184_325;
    const PY_1337_10: [usize; 10] = [0, 3, 7, 2, 1, 6, 4, 5, 8, 9];
    const PY_2P40_1000_HEAD: [usize; 6] = [612, 556, 729, 117, 273, 379];
}
