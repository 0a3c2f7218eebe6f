package dev.kiln.samples;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.gelu;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The twenty-first session's eager transformer timings (docs/benchmarks.md): thread CPU time of the calling thread.
 * The samples' FashionTransformer's forward at batch 64, line by line with a timer between each (an op's
 * row holds what it runs then: a product computed when its reader reads it is in the reader's row), under no grad and
 * with grad, the median of 100 after 100 (the step's forward and backward: {@code OneThread "transformer phases"}).
 * Run with {@code -Dkiln.threads=1}:
 *
 * <pre>
 * javac -cp JAR -d DIR scripts/speed/EagerTransformer.java
 * java -Dkiln.threads=1 -cp JAR:DIR dev.kiln.samples.EagerTransformer
 * </pre>
 */
public class EagerTransformer {
  private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();
  private static final Map<String, double[]> TIMES = new LinkedHashMap<>();
  private static int round;
  private static long last;

  public static void main(String[] args) {
    ops(false);
    ops(true);
  }

  private static void mark(String name) {
    long t = MX.getCurrentThreadCpuTime();
    TIMES.computeIfAbsent(name, k -> new double[200])[round] = (t - last) / 1e6;
    last = MX.getCurrentThreadCpuTime();
  }

  private static void ops(boolean grad) {
    Kiln.manualSeed(0);
    FashionTransformer m = new FashionTransformer();
    Tensor input = Tensor.randn(64, 1, 28, 28);
    int tokens = FashionTransformer.TOKENS, heads = FashionTransformer.HEADS, dh = FashionTransformer.DH;
    TIMES.clear();
    for (round = 0; round < 200; round++) {
      var noGrad = grad ? null : Kiln.noGrad();
      last = MX.getCurrentThreadCpuTime();
      Tensor x = m.embed.apply(input.view(-1, tokens, 28)); mark("embed");
      x = x.add(m.pos); mark("+ pos");
      Tensor h = m.norm1.apply(x); mark("norm1");
      Tensor q = m.query.apply(h).view(-1, tokens, heads, dh).transpose(1, 2); mark("query + split");
      Tensor k = m.key.apply(h).view(-1, tokens, heads, dh).transpose(1, 2); mark("key + split");
      Tensor v = m.value.apply(h).view(-1, tokens, heads, dh).transpose(1, 2); mark("value + split");
      Tensor s = q.matmul(k.transpose(-2, -1)); mark("q @ k^T");
      s = s.div(Math.sqrt(dh)); mark("/ sqrt(16)");
      Tensor att = s.softmax(-1); mark("softmax");
      Tensor o = att.matmul(v); mark("att @ v");
      h = o.transpose(1, 2).reshape(-1, tokens, FashionTransformer.D); mark("join");
      Tensor p = m.proj.apply(h); mark("proj");
      x = x.add(p); mark("+ proj");
      Tensor n2 = m.norm2.apply(x); mark("norm2");
      Tensor u = m.up.apply(n2); mark("up");
      Tensor ge = gelu(u); mark("gelu");
      Tensor dn = m.down.apply(ge); mark("down");
      x = x.add(dn); mark("+ down");
      Tensor n = m.norm.apply(x); mark("norm");
      m.head.apply(flatten(n)).readBuffer(); mark("head");
      if (noGrad != null) {
        noGrad.close();
      }
    }
    System.out.println(grad ? "== forward with grad" : "== forward under no grad");
    double total = 0;
    for (var e : TIMES.entrySet()) {
      double[] v = Arrays.copyOfRange(e.getValue(), 100, 200);
      Arrays.sort(v);
      total += v[50];
      System.out.printf("%-16s %.3f ms%n", e.getKey(), v[50]);
    }
    System.out.printf("%-16s %.3f ms%n", "total", total);
  }
}
