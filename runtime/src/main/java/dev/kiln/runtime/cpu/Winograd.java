package dev.kiln.runtime.cpu;

import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;

/**
 * 3x3 convolutions with stride 1 by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast
 * Algorithms for Convolutional Neural Networks", 2016): each 2x2 block ("tile") of outputs is
 * computed from the 4x4 block of input under it with 16 products per channel pair instead of 36.
 * With {@code T} tiles, the weights and inputs are transformed into 16 matrices each,
 *
 * <pre>
 *   U[xi][outC, inC] = (G g G^T)[xi]      per filter g (3x3)
 *   V[xi][inC, T]    = (B^T d B)[xi]      per input tile d (4x4)
 *   M[xi][outC, T]   = U[xi] @ V[xi]      16 matrix products
 *   y                = A^T m A            per output tile (2x2), m the 16 values M[xi][o, t]
 * </pre>
 *
 * and the gradients follow the same chain backwards: {@code dM = A dy A^T} per output tile,
 * {@code dU[xi] = dM[xi] @ V[xi]^T} and {@code dV[xi] = U[xi]^T @ dM[xi]} (32 products),
 * {@code dg = G^T dU G} and {@code dd = B dV B^T}, the 4x4 input tiles overlapping by two rows and
 * columns so their gradients are added. The 16 products per chunk of samples replace im2col's
 * one and need 2.25x fewer multiply-adds in all; the input gradient needs no col2im.
 *
 * <p>Results differ from the direct sum in rounding (about 1e-7 relative for inputs of one scale,
 * of order 1e-6 of the terms' magnitudes at worst in random fuzzing; im2col's about as much), and an infinite input may give NaN where the direct sum gives an
 * infinity, since the transforms add and subtract it. NaN propagates as in the direct form.
 * {@code -Dkiln.winograd=false} turns it off, for comparisons.
 */
final class Winograd {
  /** Whether F(2x2, 3x3) is used where it applies ({@code kiln.winograd}, default true). */
  static final boolean ENABLED = !"false".equals(System.getProperty("kiln.winograd"));

  /**
   * Fewest input and output channels for which the 16 small products beat im2col's one (a
   * convolution of one input channel, the first layer of an image model, stays im2col).
   */
  private static final int MIN_CHANNELS = 8;

  /**
   * Floats of transformed inputs and products ({@code V} and {@code M}) one chunk may hold (256 KiB,
   * so they stay in a core's L2 cache). A single sample may exceed it. Measured for 32 -> 64
   * channels on 14x14 maps, batch 64, one thread: 256 KiB 5.4 ms per forward, 1 MiB 6.9, 4 MiB 6.3-8.0.
   */
  private static final int CHUNK_BUDGET = 1 << 16;

  /**
   * Tiles per sample below which chunks may hold {@link #FEW_TILES_BUDGET} floats: 7x7 maps (16 tiles a sample) made
   * products of 16 or 32 tiles in 256 KiB chunks. Measured at batch 64, one thread, forward and backward (both
   * gradients), ms: 64 -> 64 channels 256 KiB 2.5-2.9 and 4.5-4.9, 1 MiB 2.2-2.6 and 3.7-4.6 (im2col 3.0 and 6.0-6.1);
   * 64 -> 128 256 KiB 4.7-5.4 and 9.0-10.2, 1 MiB 4.0-4.3 and 6.7-7.5 (im2col 4.4-5.0 and 8.2-9.4).
   */
  private static final int FEW_TILES = 32;

  /** Floats of {@code V} and {@code M} a chunk may hold when a sample has fewer than {@link #FEW_TILES} tiles (1 MiB). */
  private static final int FEW_TILES_BUDGET = 1 << 18;

  /**
   * Tiles the output transform takes at a time (whole planes, at least one): their 16 products and 12
   * rows of sums, some 21 KiB, stay in a core's L1 cache between its steps.
   */
  private static final int BLOCK_TILES = 192;

  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  private Winograd() {}

  /**
   * Whether {@link ConvKernels} hands {@code s} to {@link #forward}: a shape it {@link #supports},
   * with at least 128 tiles per thread in the batch. Fewer tiles make the 16 products too small
   * and leave threads idle, while im2col's one product still splits over them (32 -> 64 channels
   * on 14x14 maps, 49 tiles a sample, 2 threads: batch 1 im2col 0.10 ms, Winograd 0.16; batch 4
   * 0.21 and 0.25-0.29; batch 8 0.42 and 0.44-0.53; batch 64 3.8 and 2.9. 128 -> 128 channels on
   * 28x28, batch 2, 392 tiles: 3.0-3.4 and 2.5).
   */
  static boolean applies(Conv2dShape s) {
    return ENABLED && supports(s) && (long) s.batch() * tiles(s) >= 128L * Parallel.threads();
  }

  /**
   * Whether {@link #forward} and {@link #backward} can compute {@code s}, and it is worth it when
   * the batch is large enough: a 3x3 kernel with stride 1, at least {@link #MIN_CHANNELS} channels
   * in and out, and outputs that fill at least 75% of the 2x2 tiles covering them (7x7 maps fill
   * 49 of 64 places: 0-20% slower than im2col for 64 -> 128 channels in 256 KiB chunks, 10-30% faster in
   * {@link #FEW_TILES_BUDGET}'s since the twentieth session; 5x5 maps fill 69%; 13x13 fill 86% and were 15% faster).
   */
  static boolean supports(Conv2dShape s) {
    long tiles = tiles(s);
    return s.plain() && s.kernelH() == 3 && s.kernelW() == 3 && s.strideH() == 1 && s.strideW() == 1
        && s.inChannels() >= MIN_CHANNELS && s.outChannels() >= MIN_CHANNELS && s.batch() > 0
        && 4L * s.outPlaneSize() >= 3L * 4 * tiles
        && fitsAnArray(tiles, s.inChannels(), s.outChannels());
  }

  /** 2x2 output tiles of one sample. */
  private static long tiles(Conv2dShape s) {
    return (long) ((s.outHeight() + 1) / 2) * ((s.outWidth() + 1) / 2);
  }

  /**
   * Whether {@link ConvKernels} hands {@code s}'s gradients to {@link #backward}: as {@link
   * #applies}, but for the weight gradient alone (no input gradient: a first layer, or a frozen one
   * below) only with 64 or more input channels, below which im2col's one product was as fast or
   * faster (16 -> 16 channels on 28x28 maps: 3.2 ms either way; 32 -> 64 on 14x14: im2col 3.6,
   * Winograd 3.7).
   */
  static boolean appliesToBackward(Conv2dShape s, boolean inputGradient) {
    return applies(s) && (inputGradient || s.inChannels() >= 64);
  }

  /**
   * Whether the 16 transformed matrices of one sample ({@code [16][channels, tiles]} plus the
   * planes' padding) and of the filters fit Java arrays; a map of millions of positions stays on
   * im2col (one 3000x3000 image with 64 output channels would need 2.3 billion floats).
   */
  private static boolean fitsAnArray(long tiles, int inC, int outC) {
    long limit = Integer.MAX_VALUE - 8;
    long widest = Math.max(inC, outC) * tiles;
    return widest <= limit / 16 - 1040 && 16L * inC * outC <= limit;
  }

  /** As {@link ConvKernels#conv2dForward}, for a shape {@link #supports} accepts. */
  static void forward(float[] out, int outOff, float[] x, int xOff, float[] w, int wOff, float[] bias, int biasOff, Conv2dShape s) {
    Geometry g = new Geometry(s);
    Scratch callers = SCRATCH.get();
    float[] u = callers.filters(16 * s.outChannels() * s.inChannels());
    transformFilters(u, w, wOff, s.outChannels(), s.inChannels());
    FloatPointer un = callers.nativeFilters(u, 16 * s.outChannels() * s.inChannels());
    Parallel.forRange(g.chunks, (long) s.batch() * s.patchSize() * s.outPlaneSize(), (part, from, to) -> {
      Scratch scratch = SCRATCH.get();
      for (int c = from; c < to; c++) {
        int n0 = c * g.chunk;
        int cn = Math.min(g.chunk, s.batch() - n0);
        int t = cn * g.tilesPerSample;
        float[][] v = scratch.inputs(s.inChannels() * t);
        float[][] m = scratch.products(s.outChannels() * t);
        transformInputs(v, t, x, xOff, n0, cn, g, false, scratch);
        for (int xi = 0; xi < 16; xi++) {
          filterProduct(false, s.outChannels(), t, s.inChannels(), u, un, xi * s.outChannels() * s.inChannels(), v[xi], m[xi]);
        }
        transformOutputs(out, outOff, bias, biasOff, m, n0, cn, g, scratch);
      }
    });
  }

  /** As {@link ConvKernels#conv2dBackward}, for a shape {@link #supports} accepts. */
  static void backward(
      float[] dx, int dxOff, float[] dw, int dwOff, float[] dbias, int dbOff, boolean accumulate,
      float[] dout, int doutOff, float[] x, int xOff, float[] w, int wOff, Conv2dShape s) {
    Geometry g = new Geometry(s);
    int outC = s.outChannels(), inC = s.inChannels();
    int parts = Math.min(Parallel.threads(), g.chunks);
    Scratch callers = SCRATCH.get();
    float[] u = null;
    FloatPointer un = null;
    if (dx != null) {
      u = callers.filters(16 * outC * inC);
      transformFilters(u, w, wOff, outC, inC);
      un = callers.nativeFilters(u, 16 * outC * inC);
    }
    float[] filters = u;
    FloatPointer nativeFilters = un;
    float[][] duParts = dw == null ? null : ConvKernels.partials(0, parts, 16 * outC * inC);
    float[][] dbParts = dbias == null ? null : ConvKernels.partials(1, parts, outC);
    Parallel.forRange(g.chunks, (long) s.batch() * s.patchSize() * s.outPlaneSize(), (part, from, to) -> {
      Scratch scratch = SCRATCH.get();
      // the part's weight-gradient sums stay in native memory over its chunks (with OpenBLAS), copied back once
      FloatPointer duNative = dw == null ? null : scratch.nativeSums(duParts[part], 16 * outC * inC);
      for (int c = from; c < to; c++) {
        int n0 = c * g.chunk;
        int cn = Math.min(g.chunk, s.batch() - n0);
        int t = cn * g.tilesPerSample;
        if (dbParts != null) {
          float[] db = dbParts[part];
          for (int i = 0; i < cn; i++) {
            for (int o = 0; o < outC; o++) {
              db[o] += (float) NormKernels.sum(dout, doutOff + ((n0 + i) * outC + o) * g.outPlane, g.outPlane);
            }
          }
        }
        if (dw == null && dx == null) {
          continue;
        }
        float[][] dm = scratch.products(outC * t);
        float[][] v = scratch.inputs(inC * t);
        transformOutputGradients(dm, dout, doutOff, n0, cn, g, scratch);
        if (dw != null) {
          transformInputs(v, t, x, xOff, n0, cn, g, true, scratch);
          float[] du = duParts[part];
          for (int xi = 0; xi < 16; xi++) {
            if (duNative != null) {
              Blas.sgemm(false, false, outC, inC, t, 1f, dm[xi], 0, t, v[xi], 0, inC, 1f, duNative, xi * outC * inC, inC);
            } else {
              Blas.sgemm(false, false, outC, inC, t, 1f, dm[xi], 0, t, v[xi], 0, inC, 1f, du, xi * outC * inC, inC);
            }
          }
        }
        if (dx != null) {
          for (int xi = 0; xi < 16; xi++) {
            filterProduct(true, inC, t, outC, filters, nativeFilters, xi * outC * inC, dm[xi], v[xi]);
          }
          transformInputGradients(dx, dxOff, v, t, n0, cn, g, scratch);
        }
      }
      if (duNative != null) {
        duNative.get(duParts[part], 0, 16 * outC * inC);
      }
    });
    if (dw != null) {
      float[] du = duParts[0];
      for (int i = 1; i < parts; i++) {
        CpuKernels.accumulate(du, 0, duParts[i], 0, 16 * outC * inC);
      }
      filterGradients(dw, dwOff, accumulate, du, outC, inC);
    }
    if (dbias != null) {
      ConvKernels.addParts(dbias, dbOff, dbParts, parts, outC, accumulate);
    }
  }

  /**
   * {@code c = op(U[xi]) b} ({@code m x n}, {@code b} and {@code c} rows of {@code n} floats): U's slice from {@code uOff}
   * read from its native copy {@code un} once per call ({@link Scratch#nativeFilters}), or from {@code u} without
   * OpenBLAS. Staging the filters' slice for each of a chunk's 16 products cost a quarter of a 64 x 49 x 32 product's
   * time ({@code 2.0 against 1.5 us}).
   */
  private static void filterProduct(boolean transU, int m, int n, int k, float[] u, FloatPointer un, int uOff, float[] b,
      float[] c) {
    int lda = transU ? m : k;
    if (un != null) {
      Blas.sgemm(transU, false, m, n, k, 1f, un, uOff, lda, b, 0, n, 0f, c, 0, n);
    } else {
      Blas.sgemm(transU, false, m, n, k, 1f, u, uOff, lda, b, 0, n, 0f, c, 0, n);
    }
  }

  /**
   * Floats in each of the 16 arrays of a chunk's transformed inputs or products, at least {@code n}: a
   * multiple of 4 KiB plus one cache line, so the transforms' 16 streams fall in different cache sets (a
   * stride of a multiple of 4 KiB made the 7x7 maps' input transform 3x slower).
   */
  private static int planeStride(int n) {
    return ((n + 1023) & ~1023) + 16;
  }

  /** Tiles of a shape and how samples are grouped into chunks. */
  private static final class Geometry {
    final Conv2dShape s;
    final int outH, outW, outPlane, tilesH, tilesW, tilesPerSample;
    /** The zero-padded plane that covers every tile: {@code (2 * tilesH + 2) x (2 * tilesW + 2)}. */
    final int padded, paddedW;
    final int chunk, chunks;

    Geometry(Conv2dShape s) {
      this.s = s;
      outH = s.outHeight();
      outW = s.outWidth();
      outPlane = outH * outW;
      tilesH = (outH + 1) / 2;
      tilesW = (outW + 1) / 2;
      tilesPerSample = tilesH * tilesW;
      paddedW = 2 * tilesW + 2;
      padded = (2 * tilesH + 2) * paddedW;
      chunk = ConvKernels.chunkSize(s.batch(), 16L * (s.inChannels() + s.outChannels()) * tilesPerSample,
          tilesPerSample < FEW_TILES ? FEW_TILES_BUDGET : CHUNK_BUDGET);
      chunks = (s.batch() + chunk - 1) / chunk;
    }
  }

  /**
   * Filters {@link #transformFilters} and {@link #filterGradients} take at a time: their 16 values each go to (or come from)
   * a block of 16 rows of this many floats (16 KiB, in the L1 cache), and the rows to (from) the 16 planes of {@code u} by
   * {@code System.arraycopy}. Written straight to the planes, {@code outC * inC} floats apart (a multiple of 4 KiB for
   * channels of powers of two), the 16 streams fell in the same cache sets: the transform of 128 x 64 filters took some
   * 0.35 ms, a tenth of the forward of a 64 -> 128 layer on 7x7 maps at batch 64.
   */
  private static final int FILTER_BLOCK = 256;

  /** {@code u[xi][o, c] = (G g G^T)[xi]} for each 3x3 filter {@code g = w[o, c]}. */
  private static void transformFilters(float[] u, float[] w, int wOff, int outC, int inC) {
    int plane = outC * inC;
    float[] r = new float[12];
    float[] blk = new float[16 * FILTER_BLOCK];
    for (int f0 = 0; f0 < plane; f0 += FILTER_BLOCK) {
      int nf = Math.min(FILTER_BLOCK, plane - f0);
      for (int f = 0; f < nf; f++) {
        int src = wOff + (f0 + f) * 9;
        // G g: rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2, one column of g at a time
        for (int col = 0; col < 3; col++) {
          float g0 = w[src + col], g1 = w[src + 3 + col], g2 = w[src + 6 + col];
          r[col] = g0;
          r[3 + col] = 0.5f * (g0 + g1 + g2);
          r[6 + col] = 0.5f * (g0 - g1 + g2);
          r[9 + col] = g2;
        }
        // (G g) G^T: the same combinations of each row's columns
        for (int row = 0; row < 4; row++) {
          float q0 = r[row * 3], q1 = r[row * 3 + 1], q2 = r[row * 3 + 2];
          int xi = row * 4;
          blk[xi * FILTER_BLOCK + f] = q0;
          blk[(xi + 1) * FILTER_BLOCK + f] = 0.5f * (q0 + q1 + q2);
          blk[(xi + 2) * FILTER_BLOCK + f] = 0.5f * (q0 - q1 + q2);
          blk[(xi + 3) * FILTER_BLOCK + f] = q2;
        }
      }
      for (int xi = 0; xi < 16; xi++) {
        System.arraycopy(blk, xi * FILTER_BLOCK, u, xi * plane + f0, nf);
      }
    }
  }

  /**
   * {@code dw (+)= G^T dU G} per filter, {@code du} the products' gradients summed over all tiles,
   * {@code [16][outC, inC]}; blocks of {@link #FILTER_BLOCK} filters, as {@link #transformFilters}.
   */
  private static void filterGradients(float[] dw, int dwOff, boolean accumulate, float[] du, int outC, int inC) {
    int plane = outC * inC;
    float[] h = new float[12];
    float[] blk = new float[16 * FILTER_BLOCK];
    for (int f0 = 0; f0 < plane; f0 += FILTER_BLOCK) {
      int nf = Math.min(FILTER_BLOCK, plane - f0);
      for (int xi = 0; xi < 16; xi++) {
        System.arraycopy(du, xi * plane + f0, blk, xi * FILTER_BLOCK, nf);
      }
      for (int f = 0; f < nf; f++) {
        for (int col = 0; col < 4; col++) {
          float d0 = blk[col * FILTER_BLOCK + f], d1 = blk[(4 + col) * FILTER_BLOCK + f];
          float d2 = blk[(8 + col) * FILTER_BLOCK + f], d3 = blk[(12 + col) * FILTER_BLOCK + f];
          h[col] = d0 + 0.5f * (d1 + d2);
          h[4 + col] = 0.5f * (d1 - d2);
          h[8 + col] = 0.5f * (d1 + d2) + d3;
        }
        int dst = dwOff + (f0 + f) * 9;
        for (int row = 0; row < 3; row++) {
          float h0 = h[row * 4], h1 = h[row * 4 + 1], h2 = h[row * 4 + 2], h3 = h[row * 4 + 3];
          float a = h0 + 0.5f * (h1 + h2), b = 0.5f * (h1 - h2), e = 0.5f * (h1 + h2) + h3;
          if (accumulate) {
            dw[dst + row * 3] += a;
            dw[dst + row * 3 + 1] += b;
            dw[dst + row * 3 + 2] += e;
          } else {
            dw[dst + row * 3] = a;
            dw[dst + row * 3 + 1] = b;
            dw[dst + row * 3 + 2] = e;
          }
        }
      }
    }
  }

  /**
   * {@code v[xi][c, t] = (B^T d B)[xi]} for the input tiles {@code d} of samples {@code n0 ..
   * n0+cn-1}, tile {@code t = (i * tilesH + ty) * tilesW + tx} reading the 4x4 block whose corner is
   * input row {@code 2ty - padH}, column {@code 2tx - padW} (zero outside the input); with {@code tileMajor},
   * {@code v[xi][t, c]} instead, the layout that makes the backward's weight-gradient products {@code dM[xi] @
   * V[xi]^T} plain NN products (OpenBLAS's small-matrix kernel for the transposed operand ran 32 x 32 x 49 at 56
   * GFLOP/s, the NN one at 155).
   *
   * <p>Scalar: each tile's 16 values go to 16 arrays ({@code v[xi]}, one local each), not to one array at
   * 16 offsets (0.77 against 0.95 ms for 64 samples of 32 channels of 14x14, one thread: fewer address
   * computations for the 16 stores a tile, which bound it). Loops C2 vectorises were measured and are
   * slower here: the stride-2 read of the plane that lays each tile's values out for them (a scalar
   * gather of 8 values a tile, or 4 with shifted copies and fix-ups) costs about what the whole scalar
   * transform does (docs/design-notes.md). Both layouts store to consecutive places: channel-major runs
   * along a row of tiles of one plane; tile-major copies all the sample's planes first (zero-padded, side by
   * side) and runs along the channels of one tile (storing the tiles of one plane {@code inC} apart instead
   * cost as much again as the transform).
   */
  private static void transformInputs(float[][] v, int t, float[] x, int xOff, int n0, int cn, Geometry g, boolean tileMajor,
      Scratch scratch) {
    Conv2dShape s = g.s;
    int h = s.height(), wd = s.width(), inC = s.inChannels();
    int pw = g.paddedW, padded = g.padded, tps = g.tilesPerSample;
    int planes = tileMajor ? inC : 1;
    float[] p = scratch.plane(planes * padded);
    // the planes, zero-padded so every tile reads inside them: each input plane is copied over the
    // same inner rectangle, so the padding is zeroed once per call rather than once per plane
    Arrays.fill(p, 0, planes * padded, 0f);
    int rows = Math.max(0, Math.min(h, 2 * g.tilesH + 2 - s.padH()));
    int cols = Math.max(0, Math.min(wd, pw - s.padW()));
    for (int i = 0; i < cn; i++) {
      for (int c = 0; c < inC; c++) {
        int src = xOff + ((n0 + i) * inC + c) * h * wd;
        int at = tileMajor ? c * padded : 0;
        for (int r = 0; r < rows; r++) {
          System.arraycopy(x, src + r * wd, p, at + (r + s.padH()) * pw + s.padW(), cols);
        }
        if (!tileMajor) {
          for (int ty = 0, dst = c * t + i * tps; ty < g.tilesH; ty++, dst += g.tilesW) {
            transformRun(v, dst, p, 2 * ty * pw, 2, g.tilesW, pw);
          }
        }
      }
      if (tileMajor) {
        for (int ty = 0, dst = i * tps * inC; ty < g.tilesH; ty++) {
          for (int tx = 0; tx < g.tilesW; tx++, dst += inC) {
            transformRun(v, dst, p, 2 * ty * pw + 2 * tx, padded, inC, pw);
          }
        }
      }
    }
  }

  /**
   * The input transform of {@code n} tiles whose 4x4 blocks (rows {@code pw} apart) start at {@code p[b0]},
   * {@code p[b0 + bStep]}, ..., into {@code v[xi][dst0]}, {@code v[xi][dst0 + 1]}, ...
   */
  private static void transformRun(float[][] v, int dst0, float[] p, int b0, int bStep, int n, int pw) {
    float[] v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3], v4 = v[4], v5 = v[5], v6 = v[6], v7 = v[7];
    float[] v8 = v[8], v9 = v[9], v10 = v[10], v11 = v[11], v12 = v[12], v13 = v[13], v14 = v[14], v15 = v[15];
    for (int k = 0, dst = dst0, a = b0; k < n; k++, dst++, a += bStep) {
      int b = a;
      float d00 = p[b], d01 = p[b + 1], d02 = p[b + 2], d03 = p[b + 3];
      b += pw;
      float d10 = p[b], d11 = p[b + 1], d12 = p[b + 2], d13 = p[b + 3];
      b += pw;
      float d20 = p[b], d21 = p[b + 1], d22 = p[b + 2], d23 = p[b + 3];
      b += pw;
      float d30 = p[b], d31 = p[b + 1], d32 = p[b + 2], d33 = p[b + 3];
      // B^T d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3
      float r00 = d00 - d20, r01 = d01 - d21, r02 = d02 - d22, r03 = d03 - d23;
      float r10 = d10 + d20, r11 = d11 + d21, r12 = d12 + d22, r13 = d13 + d23;
      float r20 = d20 - d10, r21 = d21 - d11, r22 = d22 - d12, r23 = d23 - d13;
      float r30 = d10 - d30, r31 = d11 - d31, r32 = d12 - d32, r33 = d13 - d33;
      // (B^T d) B: the same combinations of each row's columns
      v0[dst] = r00 - r02;
      v1[dst] = r01 + r02;
      v2[dst] = r02 - r01;
      v3[dst] = r01 - r03;
      v4[dst] = r10 - r12;
      v5[dst] = r11 + r12;
      v6[dst] = r12 - r11;
      v7[dst] = r11 - r13;
      v8[dst] = r20 - r22;
      v9[dst] = r21 + r22;
      v10[dst] = r22 - r21;
      v11[dst] = r21 - r23;
      v12[dst] = r30 - r32;
      v13[dst] = r31 + r32;
      v14[dst] = r32 - r31;
      v15[dst] = r31 - r33;
    }
  }

  /**
   * {@code out = A^T m A + bias} per output tile, dropping the outputs past the last row or column:
   * {@code A^T m} (rows {@code m0 + m1 + m2}, {@code m1 - m2 - m3}) and then the same of each row's
   * columns as loops C2 vectorises over the tiles into four scratch arrays (one per output of a
   * tile), which are then written to their places with the bias added; the scalar form's
   * arithmetic, so the same bits.
   */
  private static void transformOutputs(
      float[] out, int outOff, float[] bias, int biasOff, float[][] m, int n0, int cn, Geometry g, Scratch scratch) {
    int outC = g.s.outChannels(), outW = g.outW, tilesW = g.tilesW, tps = g.tilesPerSample;
    int t = cn * tps, n = outC * t;
    float[][] sy = scratch.tiles(n); // sy[c] and sy[4 + c]: the rows of A^T m; sy[8 ..]: the four outputs
    float[] y00 = sy[8], y01 = sy[9], y10 = sy[10], y11 = sy[11];
    // tiles whose two columns are both inside the output; the last of a row may have one
    int full = outW / 2;
    int planes = outC * cn, per = Math.max(1, BLOCK_TILES / tps);
    for (int p0 = 0; p0 < planes; p0 += per) { // blocks of whole planes, in m's order (o, i), as the input transform's
      int p1 = Math.min(planes, p0 + per), j0 = p0 * tps, j1 = p1 * tps;
      for (int c = 0; c < 4; c++) {
        outputCombination(sy[c], sy[4 + c], m[c], m[4 + c], m[8 + c], m[12 + c], j0, j1);
      }
      for (int r = 0; r < 2; r++) {
        outputCombination(sy[8 + 2 * r], sy[9 + 2 * r], sy[4 * r], sy[4 * r + 1], sy[4 * r + 2], sy[4 * r + 3], j0, j1);
      }
      for (int pl = p0; pl < p1; pl++) {
        int o = pl / cn, i = pl % cn;
        float b = bias == null ? 0f : bias[biasOff + o];
        int base = outOff + ((n0 + i) * outC + o) * g.outPlane;
        for (int ty = 0; ty < g.tilesH; ty++) {
          int row = base + 2 * ty * outW;
          int s0 = pl * tps + ty * tilesW;
          if (2 * ty + 1 < g.outH) {
            int next = row + outW;
            for (int tx = 0; tx < full; tx++) {
              out[row + 2 * tx] = y00[s0 + tx] + b;
              out[row + 2 * tx + 1] = y01[s0 + tx] + b;
              out[next + 2 * tx] = y10[s0 + tx] + b;
              out[next + 2 * tx + 1] = y11[s0 + tx] + b;
            }
            if (full < tilesW) {
              out[row + 2 * full] = y00[s0 + full] + b;
              out[next + 2 * full] = y10[s0 + full] + b;
            }
          } else {
            for (int tx = 0; tx < full; tx++) {
              out[row + 2 * tx] = y00[s0 + tx] + b;
              out[row + 2 * tx + 1] = y01[s0 + tx] + b;
            }
            if (full < tilesW) {
              out[row + 2 * full] = y00[s0 + full] + b;
            }
          }
        }
      }
    }
  }

  /** {@code u = m0 + m1 + m2}, {@code w = m1 - m2 - m3}: {@code A^T}'s rows (a loop C2 vectorises, in a method of its own). */
  private static void outputCombination(float[] u, float[] w, float[] m0, float[] m1, float[] m2, float[] m3, int from,
      int to) {
    for (int k = from; k < to; k++) {
      u[k] = m0[k] + m1[k] + m2[k];
      w[k] = m1[k] - m2[k] - m3[k];
    }
  }

  /**
   * {@code dm[xi][o, t] = (A dy A^T)[xi]} per output tile, zero for the outputs past the edges: each tile's four
   * gradients gathered into four arrays indexed as {@code dm} (the first is {@code dm[0]} itself), then {@code A dy}
   * (rows {@code y0}, {@code y0 + y1}, {@code y0 - y1}, {@code -y1}) and the same of each row's two columns as
   * loops C2 vectorises, over blocks of whole planes that stay in the L1 cache: the scalar form's arithmetic, so
   * the same bits, with 4 scalar stores a tile instead of 16.
   */
  private static void transformOutputGradients(float[][] dm, float[] dout, int doutOff, int n0, int cn, Geometry g,
      Scratch scratch) {
    int outC = g.s.outChannels(), outW = g.outW, tilesW = g.tilesW, tps = g.tilesPerSample;
    int t = cn * tps;
    // sy[0 .. 2]: a tile's gradients y01, y10, y11 (y00 is dm[0]); sy[3 ..]: the rows of A dy, two columns each
    float[][] sy = scratch.tiles(outC * t);
    float[] y00 = dm[0], y01 = sy[0], y10 = sy[1], y11 = sy[2];
    int full = outW / 2; // tiles whose two columns are both inside the output; the last of a row may have one
    int planes = outC * cn, per = Math.max(1, BLOCK_TILES / tps);
    for (int p0 = 0; p0 < planes; p0 += per) { // blocks of whole planes in dm's order (o, i)
      int p1 = Math.min(planes, p0 + per), j0 = p0 * tps, j1 = p1 * tps;
      for (int pl = p0; pl < p1; pl++) {
        int o = pl / cn, i = pl % cn;
        int base = doutOff + ((n0 + i) * outC + o) * g.outPlane;
        for (int ty = 0; ty < g.tilesH; ty++) {
          int row = base + 2 * ty * outW, at = pl * tps + ty * tilesW;
          boolean lastRow = 2 * ty + 1 >= g.outH;
          for (int tx = 0; tx < full; tx++) {
            y00[at + tx] = dout[row + 2 * tx];
            y01[at + tx] = dout[row + 2 * tx + 1];
            y10[at + tx] = lastRow ? 0f : dout[row + outW + 2 * tx];
            y11[at + tx] = lastRow ? 0f : dout[row + outW + 2 * tx + 1];
          }
          if (full < tilesW) {
            y00[at + full] = dout[row + 2 * full];
            y01[at + full] = 0f;
            y10[at + full] = lastRow ? 0f : dout[row + outW + 2 * full];
            y11[at + full] = 0f;
          }
        }
      }
      // A dy: e1 = y0 + y1 and e2 = y0 - y1 of each column, e3 = -y1 of both (e0 is y0 itself)
      sumAndDifference(sy[3], sy[4], y00, y10, j0, j1);
      sumAndDifference(sy[5], sy[6], y01, y11, j0, j1);
      negations(sy[7], sy[8], y10, y11, j0, j1);
      // (A dy) A^T: row r's columns (c0, c1) give c0, c0 + c1, c0 - c1, -c1
      gradientRow(dm[0], dm[1], dm[2], dm[3], y00, y01, false, j0, j1);
      gradientRow(dm[4], dm[5], dm[6], dm[7], sy[3], sy[5], true, j0, j1);
      gradientRow(dm[8], dm[9], dm[10], dm[11], sy[4], sy[6], true, j0, j1);
      gradientRow(dm[12], dm[13], dm[14], dm[15], sy[7], sy[8], true, j0, j1);
    }
  }

  /** One row of {@code (A dy) A^T} from its two columns: {@code d0 = c0} (copied unless {@code d0} is {@code c0}), {@code d1 = c0 + c1}, {@code d2 = c0 - c1}, {@code d3 = -c1}. */
  private static void gradientRow(float[] d0, float[] d1, float[] d2, float[] d3, float[] c0, float[] c1, boolean copy, int from,
      int to) {
    sumAndDifference(d1, d2, c0, c1, from, to);
    if (copy) {
      System.arraycopy(c0, from, d0, from, to - from);
    }
    negation(d3, c1, from, to);
  }

  /** {@code u = a + b}, {@code w = a - b} (a loop C2 vectorises, in a method of its own). */
  private static void sumAndDifference(float[] u, float[] w, float[] a, float[] b, int from, int to) {
    for (int k = from; k < to; k++) {
      u[k] = a[k] + b[k];
      w[k] = a[k] - b[k];
    }
  }

  /** {@code u = -a}, {@code w = -b}. */
  private static void negations(float[] u, float[] w, float[] a, float[] b, int from, int to) {
    for (int k = from; k < to; k++) {
      u[k] = -a[k];
      w[k] = -b[k];
    }
  }

  /** {@code u = -a}. */
  private static void negation(float[] u, float[] a, int from, int to) {
    for (int k = from; k < to; k++) {
      u[k] = -a[k];
    }
  }

  /**
   * {@code dx = sum of B dv B^T} over the overlapping 4x4 input tiles of samples {@code n0 ..
   * n0+cn-1}, overwriting their planes; the parts falling in the padding are dropped.
   */
  private static void transformInputGradients(float[] dx, int dxOff, float[][] dv, int t, int n0, int cn, Geometry g, Scratch scratch) {
    Conv2dShape s = g.s;
    int h = s.height(), wd = s.width(), inC = s.inChannels();
    int pw = g.paddedW;
    float[] p = scratch.plane(g.padded);
    float[] dv0 = dv[0], dv1 = dv[1], dv2 = dv[2], dv3 = dv[3], dv4 = dv[4], dv5 = dv[5], dv6 = dv[6], dv7 = dv[7];
    float[] dv8 = dv[8], dv9 = dv[9], dv10 = dv[10], dv11 = dv[11], dv12 = dv[12], dv13 = dv[13], dv14 = dv[14], dv15 = dv[15];
    for (int i = 0; i < cn; i++) {
      for (int c = 0; c < inC; c++) {
        Arrays.fill(p, 0, g.padded, 0f);
        int src = c * t + i * g.tilesPerSample;
        for (int ty = 0; ty < g.tilesH; ty++) {
          // the tile row's four plane rows: each tile's columns 2-3 are the next tile's 0-1, so their partial sums are
          // carried in locals (a0 .. b3) from one tile to the next, and each value is loaded and stored once a tile row
          // rather than read-modified-written by both tiles: the same additions in the same order (tile rows, then
          // tiles along a row), so the same bits
          int r0 = 2 * ty * pw, r1 = r0 + pw, r2 = r1 + pw, r3 = r2 + pw;
          float a0 = p[r0], b0 = p[r0 + 1], a1 = p[r1], b1 = p[r1 + 1];
          float a2 = p[r2], b2 = p[r2 + 1], a3 = p[r3], b3 = p[r3 + 1];
          for (int tx = 0; tx < g.tilesW; tx++, src++) {
            float v00 = dv0[src], v01 = dv1[src], v02 = dv2[src], v03 = dv3[src];
            float v10 = dv4[src], v11 = dv5[src], v12 = dv6[src], v13 = dv7[src];
            float v20 = dv8[src], v21 = dv9[src], v22 = dv10[src], v23 = dv11[src];
            float v30 = dv12[src], v31 = dv13[src], v32 = dv14[src], v33 = dv15[src];
            // B dv: rows v0, v1 - v2 + v3, v1 + v2 - v0, -v3
            float q00 = v00, q01 = v01, q02 = v02, q03 = v03;
            float q10 = v10 - v20 + v30, q11 = v11 - v21 + v31, q12 = v12 - v22 + v32, q13 = v13 - v23 + v33;
            float q20 = v10 + v20 - v00, q21 = v11 + v21 - v01, q22 = v12 + v22 - v02, q23 = v13 + v23 - v03;
            float q30 = -v30, q31 = -v31, q32 = -v32, q33 = -v33;
            // (B dv) B^T: the same combinations of each row's columns, added into the plane
            int col = 2 * tx;
            p[r0 + col] = a0 + q00;
            p[r0 + col + 1] = b0 + (q01 - q02 + q03);
            a0 = p[r0 + col + 2] + (q01 + q02 - q00);
            b0 = p[r0 + col + 3] - q03;
            p[r1 + col] = a1 + q10;
            p[r1 + col + 1] = b1 + (q11 - q12 + q13);
            a1 = p[r1 + col + 2] + (q11 + q12 - q10);
            b1 = p[r1 + col + 3] - q13;
            p[r2 + col] = a2 + q20;
            p[r2 + col + 1] = b2 + (q21 - q22 + q23);
            a2 = p[r2 + col + 2] + (q21 + q22 - q20);
            b2 = p[r2 + col + 3] - q23;
            p[r3 + col] = a3 + q30;
            p[r3 + col + 1] = b3 + (q31 - q32 + q33);
            a3 = p[r3 + col + 2] + (q31 + q32 - q30);
            b3 = p[r3 + col + 3] - q33;
          }
          int col = 2 * g.tilesW;
          p[r0 + col] = a0;
          p[r0 + col + 1] = b0;
          p[r1 + col] = a1;
          p[r1 + col + 1] = b1;
          p[r2 + col] = a2;
          p[r2 + col + 1] = b2;
          p[r3 + col] = a3;
          p[r3 + col + 1] = b3;
        }
        // the input's part of the plane; rows or columns of the input no tile reaches get zero
        int dst = dxOff + ((n0 + i) * inC + c) * h * wd;
        int rows = Math.max(0, Math.min(h, 2 * g.tilesH + 2 - s.padH()));
        int cols = Math.max(0, Math.min(wd, pw - s.padW()));
        for (int r = 0; r < rows; r++) {
          System.arraycopy(p, (r + s.padH()) * pw + s.padW(), dx, dst + r * wd, cols);
          if (cols < wd) {
            Arrays.fill(dx, dst + r * wd + cols, dst + (r + 1) * wd, 0f);
          }
        }
        if (rows < h) {
          Arrays.fill(dx, dst + rows * wd, dst + h * wd, 0f);
        }
      }
    }
  }

  /** Per-thread growing work arrays (the backward's per-part sums are ConvKernels' {@link ConvKernels#partials}). */
  private static final class Scratch {
    private float[] filters = new float[0];
    private final float[][] inputs = new float[16][0];
    private final float[][] products = new float[16][0];
    private final float[][] tiles = new float[12][0];
    private float[] plane = new float[0];

    /** Native copies (with OpenBLAS): the transformed filters of the call this thread makes, a part's weight-gradient sums. */
    private FloatPointer nativeFilters, nativeSums;

    float[] filters(int n) {
      return filters.length < n ? (filters = new float[n]) : filters;
    }

    /** {@code n} floats of {@code u} copied to native memory (reused by the next call), or null without OpenBLAS. */
    FloatPointer nativeFilters(float[] u, int n) {
      return Blas.isNative() ? (nativeFilters = Blas.toNative(nativeFilters, u, 0, n)) : null;
    }

    /** As {@link #nativeFilters}, for a part's weight-gradient sums (the worker's own). */
    FloatPointer nativeSums(float[] du, int n) {
      return Blas.isNative() ? (nativeSums = Blas.toNative(nativeSums, du, 0, n)) : null;
    }

    /** The 16 transformed inputs {@code V[xi]} (or their gradients), as {@link #products}. */
    float[][] inputs(int n) {
      return grown(inputs, n);
    }

    /**
     * The 16 products {@code M[xi]} (or their gradients), at least {@code n} floats each: 16 arrays, not
     * one with 16 offsets, so that the output transform indexes them all with one variable (C2 vectorises
     * it then); each {@link #planeStride}{@code (n)} long, so their streams fall in different cache sets.
     */
    float[][] products(int n) {
      return grown(products, n);
    }

    /** 12 arrays of at least {@code n} floats: the output transform's sums, tile by tile. */
    float[][] tiles(int n) {
      return grown(tiles, n);
    }

    float[] plane(int n) {
      return plane.length < n ? (plane = new float[n]) : plane;
    }

    private static float[][] grown(float[][] a, int n) {
      if (a[0].length < n) {
        for (int k = 0; k < a.length; k++) {
          a[k] = new float[planeStride(n)];
        }
      }
      return a;
    }
  }
}
