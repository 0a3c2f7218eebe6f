package dev.kiln.samples;

import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.F;
import dev.kiln.dsl.GRU;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.Adam;
import java.util.Locale;
import java.util.Random;

/**
 * {@code reverse}: a small encoder-decoder, PyTorch's seq2seq tutorial's shape, that learns to reverse sequences of
 * digits. A GRU encoder reads the digits (one-hot); its last hidden state h_n starts a GRU decoder
 * ({@code decoder.forwardWithState(x, enc.h())}, PyTorch's {@code self.decoder(x, h_n)}), which reads the digits again
 * and writes, at each step t, the digit at position S - 1 - t: the first half can come only through the encoder's
 * state. Compiled as {@code KilnReverseCommand_Reverser} unless {@code --eager}; the loss reaches the encoder through
 * h_n alone. Prints the loss and the share of digits and of whole sequences reversed right on fresh sequences.
 */
final class ReverseCommand {
  static final int LENGTH = 6;
  static final int DIGITS = 10;
  static final int HIDDEN = 64;

  private ReverseCommand() {}

  /** The encoder-decoder: [N, 6, 10] one-hot digits to [N, 6, 10] scores of the reversed sequence's digits. */
  @Model(input = {LENGTH, DIGITS})
  static class Reverser extends Module {
    final GRU encoder = new GRU(DIGITS, HIDDEN).batchFirst(true);
    final GRU decoder = new GRU(DIGITS, HIDDEN).batchFirst(true);
    final Linear head = new Linear(HIDDEN, DIGITS);

    @Override
    public Tensor forward(Tensor x) {
      var enc = encoder.forwardWithState(x);                              // h_n [1, N, 64]
      Tensor steps = decoder.forwardWithState(x, enc.h()).output();       // [N, 6, 64], started from h_n
      return head.apply(steps);                                           // [N, 6, 10]
    }
  }

  /** A batch of random sequences: one-hot digits {@code x [N, 6, 10]} and the reversed digits' labels {@code y [N * 6]}. */
  record Digits(Tensor x, Tensor y) {
    static Digits draw(int n, Random random, Device device) {
      int[] digits = new int[n * LENGTH];
      int[] reversed = new int[n * LENGTH];
      for (int i = 0; i < n; i++) {
        for (int t = 0; t < LENGTH; t++) {
          digits[i * LENGTH + t] = random.nextInt(DIGITS);
        }
        for (int t = 0; t < LENGTH; t++) {
          reversed[i * LENGTH + t] = digits[i * LENGTH + LENGTH - 1 - t];
        }
      }
      Tensor x = F.oneHot(Tensor.labels(digits), DIGITS).reshape(n, LENGTH, DIGITS);
      return new Digits(x.to(device), Tensor.labels(reversed).to(device));
    }
  }

  static void run(Args args) {
    int steps = args.integer("steps", 400, 1);
    int batch = args.integer("batch", 64, 1);
    double lr = args.positive("lr", 0.01);
    long seed = args.integer("seed", 0, 0);
    boolean eager = args.flag("eager");
    args.rejectUnknown("device");
    Device device = args.device();

    Kiln.manualSeed(seed);
    Reverser net = eager ? new Reverser() : new KilnReverseCommand_Reverser();
    net.to(device);
    System.out.println((eager ? "eager " : "compiled ") + net);
    CrossEntropyLoss criterion = new CrossEntropyLoss();
    Adam opt = new Adam(net.parameters(), lr);
    Random random = new Random(seed);
    long start = System.nanoTime();
    double sum = 0;
    int count = 0;
    for (int step = 1; step <= steps; step++) {
      net.train();
      Digits d = Digits.draw(batch, random, device);
      opt.zeroGrad();
      Tensor loss = criterion.apply(net.forward(d.x()).reshape(-1, DIGITS), d.y());
      loss.backward();
      opt.step();
      float value = loss.item();
      if (!Float.isFinite(value)) {
        throw new IllegalStateException("reverse: the loss is " + value + " at step " + step + ": try a smaller --lr");
      }
      sum += value;
      count++;
      if (step % 100 == 0 || step == steps) {
        double[] accuracy = accuracy(net, new Random(seed + 1), device);
        System.out.printf(Locale.ROOT, "step %d: train loss %.4f, test digits %.1f%%, sequences %.1f%%%n", step, sum / count,
            100 * accuracy[0], 100 * accuracy[1]);
        sum = 0;
        count = 0;
      }
    }
    System.out.printf(Locale.ROOT, "trained %d steps of %d sequences in %.1f s on %s%n", steps, batch, (System.nanoTime() - start) / 1e9,
        device);
  }

  /** The share of digits and of whole sequences reversed right, over 1000 fresh sequences (drawn from {@code random}). */
  static double[] accuracy(Reverser net, Random random, Device device) {
    net.eval();
    Digits d = Digits.draw(1000, random, device);
    int[] predicted;
    try (var g = Kiln.noGrad()) {
      predicted = net.forward(d.x()).argmax(2).reshape(-1).toIntArray();
    }
    return Seq2SeqCommand.accuracy(predicted, d.y().toIntArray(), LENGTH);
  }
}
