//! Distance kernels over `&[f32]`: the four sums every metric is made of, with an AVX2+FMA
//! implementation chosen at run time (`is_x86_feature_detected!`) and a portable scalar one.
//!
//! Why our own rather than `simsimd`: the metrics need only four fused loops (a dot product, a
//! squared difference, and each of those together with both squared norms, so cosine and the
//! Poincaré distance read their inputs once), which are a few dozen lines of `std::arch`; a C
//! library compiled by `cc` for that would add a build step on every platform. The scalar
//! versions are the reference the SIMD ones are tested against (`tests` below).
//!
//! Every kernel requires `a.len() == b.len()` (checked by a debug assertion; callers validate
//! dimensions before computing distances).

use std::sync::OnceLock;

/// The sums of one pass over two vectors.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sums {
    /// `Σ aᵢbᵢ` or `Σ (aᵢ−bᵢ)²`, depending on the kernel.
    pub cross: f32,
    /// `Σ aᵢ²`.
    pub aa: f32,
    /// `Σ bᵢ²`.
    pub bb: f32,
}

/// One implementation of the kernels.
#[derive(Clone, Copy)]
struct Kernels {
    dot: fn(&[f32], &[f32]) -> f32,
    l2sq: fn(&[f32], &[f32]) -> f32,
    dot_norms: fn(&[f32], &[f32]) -> Sums,
    l2sq_norms: fn(&[f32], &[f32]) -> Sums,
}

const SCALAR: Kernels = Kernels {
    dot: scalar::dot,
    l2sq: scalar::l2sq,
    dot_norms: scalar::dot_norms,
    l2sq_norms: scalar::l2sq_norms,
};

fn kernels() -> &'static Kernels {
    static CHOSEN: OnceLock<Kernels> = OnceLock::new();
    CHOSEN.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return avx2::KERNELS;
            }
        }
        SCALAR
    })
}

/// `Σ aᵢbᵢ`.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (kernels().dot)(a, b)
}

/// `Σ (aᵢ−bᵢ)²`.
pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    (kernels().l2sq)(a, b)
}

/// `Σ aᵢbᵢ` with both squared norms, in one pass.
pub fn dot_norms(a: &[f32], b: &[f32]) -> Sums {
    debug_assert_eq!(a.len(), b.len());
    (kernels().dot_norms)(a, b)
}

/// `Σ (aᵢ−bᵢ)²` with both squared norms, in one pass.
pub fn l2sq_norms(a: &[f32], b: &[f32]) -> Sums {
    debug_assert_eq!(a.len(), b.len());
    (kernels().l2sq_norms)(a, b)
}

/// `Σ aᵢ²`.
pub fn norm_sq(a: &[f32]) -> f32 {
    dot(a, a)
}

/// The portable kernels, also the reference in tests.
pub(crate) mod scalar {
    use super::Sums;

    pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    pub(crate) fn l2sq(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
    }

    pub(crate) fn dot_norms(a: &[f32], b: &[f32]) -> Sums {
        let mut sums = Sums::default();
        for (x, y) in a.iter().zip(b) {
            sums.cross += x * y;
            sums.aa += x * x;
            sums.bb += y * y;
        }
        sums
    }

    pub(crate) fn l2sq_norms(a: &[f32], b: &[f32]) -> Sums {
        let mut sums = Sums::default();
        for (x, y) in a.iter().zip(b) {
            sums.cross += (x - y) * (x - y);
            sums.aa += x * x;
            sums.bb += y * y;
        }
        sums
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! AVX2 + FMA: eight lanes per step, a scalar tail for the last `len % 8` components.
    use std::arch::x86_64::*;

    use super::{Kernels, Sums};

    pub(super) const KERNELS: Kernels = Kernels {
        dot: |a, b| {
            // SAFETY: chosen only after `is_x86_feature_detected!` found avx2 and fma.
            unsafe { dot(a, b) }
        },
        l2sq: |a, b| {
            // SAFETY: as above.
            unsafe { l2sq(a, b) }
        },
        dot_norms: |a, b| {
            // SAFETY: as above.
            unsafe { dot_norms(a, b) }
        },
        l2sq_norms: |a, b| {
            // SAFETY: as above.
            unsafe { l2sq_norms(a, b) }
        },
    };

    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum(v: __m256) -> f32 {
        let high = _mm256_extractf128_ps(v, 1);
        let low = _mm256_castps256_ps128(v);
        let sum4 = _mm_add_ps(high, low);
        let sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
        let sum1 = _mm_add_ss(sum2, _mm_shuffle_ps(sum2, sum2, 1));
        _mm_cvtss_f32(sum1)
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let chunks = n / 8;
        let mut acc = _mm256_setzero_ps();
        for i in 0..chunks {
            // Unaligned loads: slices are only 4-aligned. In bounds: i * 8 + 8 <= n.
            let x = _mm256_loadu_ps(a.as_ptr().add(i * 8));
            let y = _mm256_loadu_ps(b.as_ptr().add(i * 8));
            acc = _mm256_fmadd_ps(x, y, acc);
        }
        let tail = super::scalar::dot(&a[chunks * 8..n], &b[chunks * 8..n]);
        hsum(acc) + tail
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn l2sq(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let chunks = n / 8;
        let mut acc = _mm256_setzero_ps();
        for i in 0..chunks {
            let x = _mm256_loadu_ps(a.as_ptr().add(i * 8));
            let y = _mm256_loadu_ps(b.as_ptr().add(i * 8));
            let d = _mm256_sub_ps(x, y);
            acc = _mm256_fmadd_ps(d, d, acc);
        }
        let tail = super::scalar::l2sq(&a[chunks * 8..n], &b[chunks * 8..n]);
        hsum(acc) + tail
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_norms(a: &[f32], b: &[f32]) -> Sums {
        let n = a.len().min(b.len());
        let chunks = n / 8;
        let (mut ab, mut aa, mut bb) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        for i in 0..chunks {
            let x = _mm256_loadu_ps(a.as_ptr().add(i * 8));
            let y = _mm256_loadu_ps(b.as_ptr().add(i * 8));
            ab = _mm256_fmadd_ps(x, y, ab);
            aa = _mm256_fmadd_ps(x, x, aa);
            bb = _mm256_fmadd_ps(y, y, bb);
        }
        let tail = super::scalar::dot_norms(&a[chunks * 8..n], &b[chunks * 8..n]);
        Sums {
            cross: hsum(ab) + tail.cross,
            aa: hsum(aa) + tail.aa,
            bb: hsum(bb) + tail.bb,
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn l2sq_norms(a: &[f32], b: &[f32]) -> Sums {
        let n = a.len().min(b.len());
        let chunks = n / 8;
        let (mut dd, mut aa, mut bb) = (
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
            _mm256_setzero_ps(),
        );
        for i in 0..chunks {
            let x = _mm256_loadu_ps(a.as_ptr().add(i * 8));
            let y = _mm256_loadu_ps(b.as_ptr().add(i * 8));
            let d = _mm256_sub_ps(x, y);
            dd = _mm256_fmadd_ps(d, d, dd);
            aa = _mm256_fmadd_ps(x, x, aa);
            bb = _mm256_fmadd_ps(y, y, bb);
        }
        let tail = super::scalar::l2sq_norms(&a[chunks * 8..n], &b[chunks * 8..n]);
        Sums {
            cross: hsum(dd) + tail.cross,
            aa: hsum(aa) + tail.aa,
            bb: hsum(bb) + tail.bb,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random vector (splitmix64), so failures reproduce.
    fn vector(seed: u64, len: usize) -> Vec<f32> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                ((z ^ (z >> 31)) as f64 / u64::MAX as f64 * 2.0 - 1.0) as f32
            })
            .collect()
    }

    fn close(a: f32, b: f64) -> bool {
        (a as f64 - b).abs() <= 1e-4 * (1.0 + b.abs())
    }

    #[test]
    fn chosen_kernels_agree_with_an_f64_reference_at_every_tail_length() {
        for len in (0..40).chain([127, 128, 129, 768]) {
            let (a, b) = (vector(len as u64, len), vector(1000 + len as u64, len));
            let dot_ref: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            let l2_ref: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
                .sum();
            let aa_ref: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum();
            let bb_ref: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum();
            assert!(close(dot(&a, &b), dot_ref), "dot at len {len}");
            assert!(close(l2sq(&a, &b), l2_ref), "l2sq at len {len}");
            let s = dot_norms(&a, &b);
            assert!(close(s.cross, dot_ref) && close(s.aa, aa_ref) && close(s.bb, bb_ref));
            let s = l2sq_norms(&a, &b);
            assert!(close(s.cross, l2_ref) && close(s.aa, aa_ref) && close(s.bb, bb_ref));
        }
    }

    #[test]
    fn simd_and_scalar_kernels_agree() {
        for len in [1usize, 7, 8, 9, 31, 32, 33, 100, 768] {
            let (a, b) = (vector(7 * len as u64, len), vector(11 * len as u64, len));
            let k = kernels();
            assert!(close((k.dot)(&a, &b), scalar::dot(&a, &b) as f64));
            assert!(close((k.l2sq)(&a, &b), scalar::l2sq(&a, &b) as f64));
        }
    }
}
