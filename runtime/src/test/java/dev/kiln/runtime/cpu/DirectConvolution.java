package dev.kiln.runtime.cpu;

/** The textbook loops of convolution (with dilation and groups) and its gradients, in double, straight from the definition. */
public final class DirectConvolution {
  final Conv2dShape s;
  final float[] x, w, b;
  /** Gradients summed by {@link #backward}. */
  public final double[] dx, dw, db;

  public DirectConvolution(Conv2dShape s, float[] x, float[] w, float[] b) {
    this.s = s;
    this.x = x;
    this.w = w;
    this.b = b;
    this.dx = new double[x.length];
    this.dw = new double[w.length];
    this.db = new double[b.length];
  }

  /** Calls {@code visit(outIndex, xIndex, wIndex)} for every product of the convolution. */
  private void eachProduct(Visitor visit) {
    int outH = s.outHeight(), outW = s.outWidth();
    for (int n = 0; n < s.batch(); n++) {
      for (int o = 0; o < s.outChannels(); o++) {
        for (int i = 0; i < outH; i++) {
          for (int j = 0; j < outW; j++) {
            int yi = ((n * s.outChannels() + o) * outH + i) * outW + j;
            int cg = s.groupInChannels(), group = o / s.groupOutChannels();
            for (int c = 0; c < cg; c++) {
              for (int a = 0; a < s.kernelH(); a++) {
                for (int bb = 0; bb < s.kernelW(); bb++) {
                  int ih = i * s.strideH() - s.padH() + a * s.dilationH(), iw = j * s.strideW() - s.padW() + bb * s.dilationW();
                  if (ih >= 0 && ih < s.height() && iw >= 0 && iw < s.width()) {
                    visit.at(yi, ((n * s.inChannels() + group * cg + c) * s.height() + ih) * s.width() + iw,
                        ((o * cg + c) * s.kernelH() + a) * s.kernelW() + bb);
                  }
                }
              }
            }
          }
        }
      }
    }
  }

  public double[] forward() {
    int planes = s.batch() * s.outChannels();
    double[] y = new double[planes * s.outPlaneSize()];
    for (int i = 0; i < y.length; i++) {
      y[i] = b[i / s.outPlaneSize() % s.outChannels()];
    }
    eachProduct((yi, xi, wi) -> y[yi] += (double) x[xi] * w[wi]);
    return y;
  }

  public void backward(float[] g) {
    for (int i = 0; i < g.length; i++) {
      db[i / s.outPlaneSize() % s.outChannels()] += g[i];
    }
    eachProduct((yi, xi, wi) -> {
      dx[xi] += (double) g[yi] * w[wi];
      dw[wi] += (double) g[yi] * x[xi];
    });
  }

  interface Visitor {
    void at(int yIndex, int xIndex, int wIndex);
  }
}
