package dev.kiln.runtime.cpu;

/**
 * {@code where(c, a, b)} on the CPU when each operand repeats over the result's leading dimensions
 * (a causal mask {@code [S, S]} over scores {@code [N, H, S, S]}, a scalar fill value, a tensor of
 * the result's shape): element {@code i} of the result reads element {@code i mod n} of an operand
 * of {@code n} values. The CPU twins of {@code cuda.ElementwiseKernels}' {@code kiln_where} and
 * {@code kiln_where_backward}, with the same order of addition, so the devices agree bit for bit.
 */
public final class WhereKernels {
  private WhereKernels() {}

  /**
   * {@code out[i] = c[i % nc] != 0 ? a[i % na] : b[i % nb]} over {@code n} values (each count divides n),
   * in spans where no operand wraps around, a branch of one value (a fill constant) read once.
   */
  public static void forward(float[] out, float[] c, int cOff, int nc, float[] a, int aOff, int na, float[] b, int bOff,
      int nb, int n) {
    Parallel.forRange(n, 2L * n, (part, from, to) -> {
      int ic = from % nc, ia = from % na, ib = from % nb;
      for (int i = from; i < to; ) {
        int span = Math.min(to - i, nc - ic);
        if (na > 1) {
          span = Math.min(span, na - ia);
        }
        if (nb > 1) {
          span = Math.min(span, nb - ib);
        }
        int cAt = cOff + ic - i, aAt = aOff + ia - i, bAt = bOff + ib - i;
        if (na == 1 && nb == 1) {
          float av = a[aOff], bv = b[bOff];
          for (int k = i; k < i + span; k++) {
            out[k] = c[cAt + k] != 0 ? av : bv;
          }
        } else if (na == 1) { // a fill value, maskedFill(mask, v): the values copied, then the fill where masked
          float av = a[aOff];
          System.arraycopy(b, bAt + i, out, i, span);
          for (int k = i; k < i + span; k++) {
            if (c[cAt + k] != 0) {
              out[k] = av;
            }
          }
        } else if (nb == 1) {
          float bv = b[bOff];
          for (int k = i; k < i + span; k++) {
            out[k] = c[cAt + k] != 0 ? a[aAt + k] : bv;
          }
        } else {
          for (int k = i; k < i + span; k++) {
            out[k] = c[cAt + k] != 0 ? a[aAt + k] : b[bAt + k];
          }
        }
        i += span;
        ic = (ic + span) % nc;
        ia = (ia + span) % na;
        ib = (ib + span) % nb;
      }
    });
  }

  /**
   * The gradient one branch of {@link #forward} receives, {@code m} values repeating over {@code n}:
   * {@code dx[j]} the sum of {@code g[i]} over {@code i = j (mod m)} where the condition picked this
   * branch ({@code (c != 0) == taken}), added in float in index order from +0 (a value of the
   * result's shape: the incoming gradient where picked, else 0).
   */
  public static void backward(float[] dx, float[] g, int gOff, float[] c, int cOff, int nc, int m, boolean taken, int n) {
    if (m == n) { // in spans where the condition does not wrap around
      Parallel.forRange(n, 2L * n, (part, from, to) -> {
        for (int i = from, ic = from % nc; i < to; ) {
          int span = Math.min(to - i, nc - ic), cAt = cOff + ic - i, gAt = gOff;
          if (taken) {
            for (int k = i; k < i + span; k++) {
              dx[k] = c[cAt + k] != 0 ? g[gAt + k] + 0f : 0f;
            }
          } else {
            for (int k = i; k < i + span; k++) {
              dx[k] = c[cAt + k] != 0 ? 0f : g[gAt + k] + 0f;
            }
          }
          i += span;
          ic = (ic + span) % nc;
        }
      });
      return;
    }
    Parallel.forRange(m, 2L * n, (part, from, to) -> { // a column range of every repeat, rows in order
      for (int at = 0; at < n; at += m) {
        for (int j = from; j < to; j++) {
          int i = at + j;
          if ((c[cOff + i % nc] != 0) == taken) {
            dx[j] += g[gOff + i];
          }
        }
      }
    });
  }

  /**
   * A compiled where's gradient to one branch of the result's own shape ({@code n} values from {@code dxOff}): the
   * incoming gradient plus 0 where the branch was taken ({@code (c != 0) == taken}), else 0, as {@link #backward}
   * gives it, written or, {@code accumulate}, added to the gradient a later step wrote there.
   */
  public static void branchBackward(float[] dx, int dxOff, float[] g, int gOff, float[] c, int cOff, boolean taken, int n,
      boolean accumulate) {
    if (dx == null) { // (nothing before the step needs it)
      return;
    }
    Parallel.forRange(n, 2L * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        float v = (c[cOff + i] != 0) == taken ? g[gOff + i] + 0f : 0f;
        dx[dxOff + i] = accumulate ? dx[dxOff + i] + v : v;
      }
    });
  }

  /**
   * {@link #branchBackward} where the condition repeats over the result ({@code nc} values, {@code c[i % nc]}: a mask
   * {@code [T, D]} held by the model over {@code [N, T, D]}), as {@link #backward} gives a branch of the result's shape then.
   */
  public static void branchBackward(float[] dx, int dxOff, float[] g, int gOff, float[] c, int cOff, int nc, boolean taken, int n,
      boolean accumulate) {
    if (dx == null) { // (nothing before the step needs it)
      return;
    }
    Parallel.forRange(n, 2L * n, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        float v = (c[cOff + i % nc] != 0) == taken ? g[gOff + i] + 0f : 0f;
        dx[dxOff + i] = accumulate ? dx[dxOff + i] + v : v;
      }
    });
  }
}
