import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.Adam;
import dev.kiln.samples.KilnSeq2SeqTransformer;
import dev.kiln.samples.Seq2SeqTransformer;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Random;

/**
 * The seq2seq sample's training step (zero_grad, teacher-forced forward under the causal mask, cross-entropy, backward,
 * Adam step, item) and its greedy decoding of the batch, on batches of 64 sequences of 8 random digits, timed by the
 * calling thread's CPU time (so that other processes on the machine move the figures less than wall time): the median
 * of 200 after 100; the eager declaration, then the compiled class ({@code KilnSeq2SeqTransformer}: the teacher-forced
 * forward and backward, and the encoder in decoding, compiled; the decoder over the prefix eager). Run with {@code -Dkiln.threads=1}, the samples jar on the class path; {@code
 * scripts/speed/seq2seq-step} runs it beside PyTorch's twin ({@code samples/peer/pytorch_seq2seq_peer.py --threads 1}).
 */
public class Seq2SeqStep {
  static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

  static String median(Runnable step) {
    int warm = 100, timed = 200;
    long[] cpu = new long[timed];
    for (int i = 0; i < warm + timed; i++) {
      long t0 = MX.getCurrentThreadCpuTime();
      step.run();
      if (i >= warm) {
        cpu[i - warm] = MX.getCurrentThreadCpuTime() - t0;
      }
    }
    Arrays.sort(cpu);
    return String.format("%.2f ms CPU (median of %d; quartiles %.2f, %.2f)", cpu[timed / 2] / 1e6, timed, cpu[timed / 4] / 1e6,
        cpu[3 * timed / 4] / 1e6);
  }

  public static void main(String[] args) {
    int batch = 64, length = 8;
    for (boolean compiled : new boolean[] {false, true}) {
      Kiln.manualSeed(0);
      Seq2SeqTransformer net = compiled ? new KilnSeq2SeqTransformer() : new Seq2SeqTransformer();
      String form = compiled ? "compiled" : "eager";
      Adam opt = new Adam(net.parameters(), 1e-3).betas(0.9, 0.98).eps(1e-9);
      CrossEntropyLoss criterion = new CrossEntropyLoss();
      Random random = new Random(0);
      int[] src = new int[batch * length], in = new int[batch * length], out = new int[batch * length];
      for (int i = 0; i < src.length; i++) {
        src[i] = random.nextInt(10);
        in[i] = i % length == 0 ? 10 : random.nextInt(10);
        out[i] = random.nextInt(10);
      }
      Tensor s = Tensor.labels(src).view(batch, length), tIn = Tensor.labels(in).view(batch, length), tOut = Tensor.labels(out);
      System.out.println("kiln " + form + " seq2seq train step, one thread:    " + median(() -> {
        net.train();
        opt.zeroGrad();
        Tensor loss = criterion.apply(net.forward(s, tIn).reshape(-1, 10), tOut);
        loss.backward();
        opt.step();
        loss.item();
      }));
      System.out.println("kiln " + form + " seq2seq greedy decode, one thread: " + median(() -> net.greedyDecode(s)));
    }
  }
}
