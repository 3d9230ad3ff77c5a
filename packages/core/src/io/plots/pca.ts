/**
 * Two-component PCA in plain JavaScript (float64 accumulation), for embedding plots.
 *
 * @packageDocumentation
 */

/** Result of {@link pca2}. */
export interface Pca2Result {
  /** Projected points, row-major `n × 2`: `[x0, y0, x1, y1, …]`. */
  coords: Float32Array;
  /** Unit principal axes, row-major `2 × d`. */
  components: Float32Array;
  /** Variance along each axis (eigenvalues of the sample covariance, divisor n − 1). */
  variances: [number, number];
  /** Per-feature mean that was subtracted. */
  mean: Float32Array;
}

/** Options of {@link pca2}. */
export interface Pca2Options {
  /** Iteration cap of the subspace iteration; default 500. */
  maxIterations?: number;
  /** Stop when the subspace moves less than this; default 1e-10. */
  tolerance?: number;
}

/** `out = M · V` for a symmetric `m × m` matrix and two column vectors stored as rows. */
function mulSym(M: Float64Array, m: number, V: Float64Array[], out: Float64Array[]): void {
  for (let k = 0; k < 2; k++) {
    const v = V[k];
    const o = out[k];
    for (let i = 0; i < m; i++) {
      let s = 0;
      const row = i * m;
      for (let j = 0; j < m; j++) s += M[row + j] * v[j];
      o[i] = s;
    }
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Orthonormalises two vectors in place (Gram–Schmidt); a vector with no new direction becomes 0. */
function orthonormalise(W: Float64Array[]): void {
  const n0 = Math.sqrt(dot(W[0], W[0]));
  if (n0 > 0) for (let i = 0; i < W[0].length; i++) W[0][i] /= n0;
  const p = n0 > 0 ? dot(W[0], W[1]) : 0;
  for (let i = 0; i < W[1].length; i++) W[1][i] -= p * W[0][i];
  const n1 = Math.sqrt(dot(W[1], W[1]));
  const scale = n1 > 1e-12 * Math.max(1, n0) ? 1 / n1 : 0;
  for (let i = 0; i < W[1].length; i++) W[1][i] *= scale;
}

/**
 * Top two eigenpairs of a symmetric PSD matrix by subspace iteration with a final
 * Rayleigh–Ritz rotation (which also orders the pair). Deterministic: fixed start vectors.
 */
function top2Eigen(M: Float64Array, m: number, maxIter: number, tol: number): { vectors: Float64Array[]; values: [number, number] } {
  let V = [new Float64Array(m), new Float64Array(m)];
  // A fixed, non-degenerate start: an LCG sequence has no special alignment with data axes.
  let seed = 12345;
  for (const v of V) {
    for (let i = 0; i < m; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      v[i] = seed / 2 ** 32 - 0.5;
    }
  }
  orthonormalise(V);
  let W = [new Float64Array(m), new Float64Array(m)];
  for (let it = 0; it < maxIter; it++) {
    mulSym(M, m, V, W);
    orthonormalise(W);
    // Subspace distance via the projection of the new basis onto the old one.
    const a = dot(W[0], V[0]);
    const b = dot(W[0], V[1]);
    const c = dot(W[1], V[0]);
    const d = dot(W[1], V[1]);
    const captured = a * a + b * b + c * c + d * d;
    const rank = (dot(W[0], W[0]) > 0 ? 1 : 0) + (dot(W[1], W[1]) > 0 ? 1 : 0);
    [V, W] = [W, V];
    if (Math.abs(rank - captured) < tol) break;
  }
  // Rayleigh–Ritz: diagonalise B = Vᵀ M V (2×2) and rotate V accordingly.
  mulSym(M, m, V, W);
  const b00 = dot(V[0], W[0]);
  const b01 = dot(V[0], W[1]);
  const b11 = dot(V[1], W[1]);
  const tr = b00 + b11;
  const disc = Math.sqrt(Math.max(0, ((b00 - b11) / 2) ** 2 + b01 * b01));
  const l0 = tr / 2 + disc;
  const l1 = tr / 2 - disc;
  // Eigenvector of B for l0 is (b01, l0 - b00) or, when b01 = 0, an axis.
  let c0: number;
  let s0: number;
  if (Math.abs(b01) > 1e-300) {
    const nx = Math.hypot(b01, l0 - b00);
    c0 = b01 / nx;
    s0 = (l0 - b00) / nx;
  } else if (b00 >= b11) {
    c0 = 1;
    s0 = 0;
  } else {
    c0 = 0;
    s0 = 1;
  }
  const u0 = new Float64Array(m);
  const u1 = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    u0[i] = c0 * V[0][i] + s0 * V[1][i];
    u1[i] = -s0 * V[0][i] + c0 * V[1][i];
  }
  return { vectors: [u0, u1], values: [Math.max(0, l0), Math.max(0, l1)] };
}

/**
 * Projects `n` points of dimension `d` (row-major `features`, length `n·d`) onto their two
 * principal axes. Works on the `d × d` covariance when `n ≥ d`, else on the `n × n` Gram
 * matrix, so the cost is `O(n·min(n,d)·max(n,d))`. Each axis' sign is fixed (largest
 * |entry| positive) so repeated plots of similar data do not flip.
 */
export function pca2(features: Float32Array, n: number, d: number, options: Pca2Options = {}): Pca2Result {
  if (!Number.isInteger(n) || !Number.isInteger(d) || n < 0 || d < 1 || features.length !== n * d) {
    throw new Error(`pca2: features has length ${features.length}, expected n·d = ${n}·${d}.`);
  }
  const maxIter = options.maxIterations ?? 500;
  const tol = options.tolerance ?? 1e-10;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += features[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= Math.max(1, n);
  const X = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) X[i * d + j] = features[i * d + j] - mean[j];
  const denom = Math.max(1, n - 1);

  const comps = [new Float64Array(d), new Float64Array(d)];
  let values: [number, number] = [0, 0];
  if (n >= 2) {
    if (n >= d) {
      const C = new Float64Array(d * d);
      for (let i = 0; i < n; i++) {
        const row = i * d;
        for (let a = 0; a < d; a++) {
          const xa = X[row + a];
          if (xa === 0) continue;
          const ca = a * d;
          for (let b = a; b < d; b++) C[ca + b] += xa * X[row + b];
        }
      }
      for (let a = 0; a < d; a++) {
        for (let b = a; b < d; b++) {
          C[a * d + b] /= denom;
          C[b * d + a] = C[a * d + b];
        }
      }
      const e = top2Eigen(C, d, maxIter, tol);
      comps[0].set(e.vectors[0]);
      comps[1].set(e.vectors[1]);
      values = e.values;
    } else {
      const G = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let k = i; k < n; k++) {
          let s = 0;
          for (let j = 0; j < d; j++) s += X[i * d + j] * X[k * d + j];
          G[i * n + k] = G[k * n + i] = s / denom;
        }
      }
      const e = top2Eigen(G, n, maxIter, tol);
      values = e.values;
      // Axis = Xᵀu, normalised; the Gram and covariance matrices share nonzero eigenvalues.
      for (let k = 0; k < 2; k++) {
        const u = e.vectors[k];
        const c = comps[k];
        for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) c[j] += X[i * d + j] * u[i];
        const norm = Math.sqrt(dot(c, c));
        if (norm > 1e-12) for (let j = 0; j < d; j++) c[j] /= norm;
        else c.fill(0);
      }
    }
  }
  for (const c of comps) {
    let big = 0;
    for (let j = 0; j < d; j++) if (Math.abs(c[j]) > Math.abs(big)) big = c[j];
    if (big < 0) for (let j = 0; j < d; j++) c[j] = -c[j];
  }
  const coords = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 2; k++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += X[i * d + j] * comps[k][j];
      coords[i * 2 + k] = s;
    }
  }
  const components = new Float32Array(2 * d);
  components.set(comps[0], 0);
  components.set(comps[1], d);
  return { coords, components, variances: values, mean: Float32Array.from(mean) };
}
