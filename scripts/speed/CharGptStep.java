import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.AdamW;
import dev.kiln.samples.CharGpt;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.lang.reflect.Constructor;
import java.util.Arrays;
import java.util.Random;

/**
 * char-gpt's training step (zero_grad, forward, loss, backward, AdamW step, item) timed by the calling thread's CPU
 * time, so that other processes on the machine move the figures less than wall time: the median of 200 steps after
 * 100, windows of random ids (the vocabulary's 76 used ids). Run with {@code -Dkiln.threads=1}, the jar on the class
 * path; {@code eager} as the first argument times the declaration in eager mode. {@code scripts/speed/char-gpt-step}
 * runs it beside PyTorch's {@code char_gpt_step_peer.py}.
 */
public class CharGptStep {
  public static void main(String[] args) throws Exception {
    boolean eager = args.length > 0 && args[0].equals("eager");
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    Kiln.manualSeed(0);
    Constructor<?> compiled = Class.forName("dev.kiln.samples.KilnCharGpt").getDeclaredConstructor();
    compiled.setAccessible(true);
    CharGpt net = eager ? new CharGpt() : (CharGpt) compiled.newInstance();
    AdamW opt = new AdamW(net.parameters(), 1e-3).betas(0.9, 0.99).weightDecay(0.1);
    CrossEntropyLoss criterion = new CrossEntropyLoss();
    Random random = new Random(0);
    int batch = 32, s = 32, warm = 100, timed = 200;
    long[] cpu = new long[timed];
    double last = 0;
    for (int step = 0; step < warm + timed; step++) {
      int[] x = new int[batch * s], y = new int[batch * s];
      for (int i = 0; i < x.length; i++) {
        x[i] = random.nextInt(76);
        y[i] = random.nextInt(76);
      }
      Tensor ids = Tensor.labels(x).view(batch, s), targets = Tensor.labels(y);
      long t0 = mx.getCurrentThreadCpuTime();
      opt.zeroGrad();
      Tensor loss = criterion.apply(net.forward(ids).view(-1, 96), targets);
      loss.backward();
      opt.step();
      last = loss.item();
      if (step >= warm) {
        cpu[step - warm] = mx.getCurrentThreadCpuTime() - t0;
      }
    }
    Arrays.sort(cpu);
    System.out.printf("kiln %s one thread: %.2f ms/step CPU (median of %d; quartiles %.2f, %.2f), last loss %.4f%n",
        eager ? "eager" : "compiled", cpu[timed / 2] / 1e6, timed, cpu[timed / 4] / 1e6, cpu[3 * timed / 4] / 1e6, last);
  }
}
