package dev.kiln.samples;

import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.Adam;
import dev.kiln.runtime.optim.Optimizer;
import dev.kiln.runtime.util.Progress;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * {@code seq2seq}: PyTorch's nn.Transformer translation tutorial on digits. A {@link Seq2SeqTransformer} (encoder and
 * decoder of two layers each, d_model 64, 4 heads) learns to sort ({@code --task sort}) or reverse sequences of
 * random digits. Training is teacher forcing: the decoder reads the start token and the answer shifted right by one,
 * under the causal mask, and is scored (cross-entropy) on the answer; Adam with the tutorial's betas and eps.
 * Evaluation decodes greedily, as the tutorial's {@code greedy_decode}: the source is encoded once, then each digit
 * is the argmax after the digits decoded so far, in eval mode without a tape; it prints the share of digits and of
 * whole sequences right on fresh sequences. {@code --save} writes the trained model (safetensors, PyTorch's keys),
 * reloads it into a fresh model and checks that it decodes the same; {@code --load} starts from such a file
 * ({@code --steps 0}: evaluate it alone). Sequences of {@value Seq2SeqTransformer#LENGTH} digits (the default {@code
 * --length}) train the compiled class {@code KilnSeq2SeqTransformer}, other lengths and {@code --eager} the declaration
 * in eager mode; greedy decoding encodes by the compiled class's forward and decodes eagerly either way.
 */
final class Seq2SeqCommand {
  static final int TEST_SEQUENCES = 1000;

  private Seq2SeqCommand() {}

  /** What the model learns to write for a sequence of digits. */
  enum Task {
    SORT, REVERSE;

    int[] answer(int[] digits) {
      int[] out = new int[digits.length];
      if (this == SORT) {
        out = digits.clone();
        Arrays.sort(out);
      } else {
        for (int t = 0; t < digits.length; t++) {
          out[t] = digits[digits.length - 1 - t];
        }
      }
      return out;
    }
  }

  /**
   * A batch of {@code n} random sequences: source ids {@code src [N, L]}, the decoder's input {@code tgtIn [N, L]} (the
   * start token, then the answer without its last digit) and the answer {@code tgtOut [N * L]}, flat for the loss.
   */
  record Batch(Tensor src, Tensor tgtIn, Tensor tgtOut, int[] answers) {
    static Batch draw(Task task, int n, int length, Random random, Device device) {
      int[] src = new int[n * length];
      int[] in = new int[n * length];
      int[] out = new int[n * length];
      for (int i = 0; i < n; i++) {
        int[] digits = new int[length];
        for (int t = 0; t < length; t++) {
          digits[t] = random.nextInt(Seq2SeqTransformer.DIGITS);
        }
        int[] answer = task.answer(digits);
        System.arraycopy(digits, 0, src, i * length, length);
        System.arraycopy(answer, 0, out, i * length, length);
        in[i * length] = Seq2SeqTransformer.START;
        System.arraycopy(answer, 0, in, i * length + 1, length - 1);
      }
      return new Batch(Tensor.labels(src).view(n, length).to(device), Tensor.labels(in).view(n, length).to(device),
          Tensor.labels(out).to(device), out);
    }
  }

  static void run(Args args) {
    String taskName = args.string("task", "sort");
    int length = args.integer("length", 8, 2);
    int steps = args.integer("steps", 600, 0);
    int batch = args.integer("batch", 64, 1);
    double lr = args.positive("lr", 1e-3);
    int evalEvery = args.integer("eval-every", 200, 1);
    long seed = args.integer("seed", 0, 0);
    Path save = args.outputFile("save");
    Path load = args.inputFile("load");
    boolean eager = args.flag("eager");
    args.rejectUnknown("device");
    Task task = switch (taskName) {
      case "sort" -> Task.SORT;
      case "reverse" -> Task.REVERSE;
      default -> throw new Args.UsageException("seq2seq: --task must be sort or reverse, got '" + taskName + "'");
    };
    if (length > 64) {
      throw new Args.UsageException("seq2seq: --length must be at most 64, got " + length);
    }
    if (steps == 0 && load == null) {
      throw new Args.UsageException("seq2seq: --steps 0 evaluates a trained model: give it with --load PATH");
    }
    Device device = args.device();

    boolean compiled = !eager && length == Seq2SeqTransformer.LENGTH;
    Kiln.manualSeed(seed);
    Seq2SeqTransformer net = model(compiled);
    if (load != null) {
      loadInto(net, load);
      System.out.println("loaded " + load);
    }
    net.to(device);
    System.out.printf(Locale.ROOT, "Seq2SeqTransformer (%s): %d parameters, nn.Transformer(d_model=%d, nhead=%d, %d+%d layers,"
            + " dim_feedforward=%d, dropout=%s, batch_first=True); task %s, %d digits%n",
        compiled ? "compiled" : eager ? "eager" : "eager: the compiled class takes " + Seq2SeqTransformer.LENGTH + " digits",
        net.parameterCount(), Seq2SeqTransformer.D, Seq2SeqTransformer.HEADS, Seq2SeqTransformer.LAYERS, Seq2SeqTransformer.LAYERS,
        Seq2SeqTransformer.FF, Seq2SeqTransformer.DROPOUT, task.name().toLowerCase(Locale.ROOT), length);

    CrossEntropyLoss criterion = new CrossEntropyLoss();
    Adam opt = optimizer(net, lr);
    Random train = new Random(seed);
    Batch test = Batch.draw(task, TEST_SEQUENCES, length, new Random(seed + 1), device);
    if (steps == 0) {
      report("evaluated", net, test, device);
      return;
    }
    Progress bar = Progress.start("seq2seq", Math.min(evalEvery, steps));
    long training = 0;   // nanoseconds in training steps, batch drawing and evaluation left out
    long start = System.nanoTime();
    for (int step = 1; step <= steps; step++) {
      Batch b = Batch.draw(task, batch, length, train, device);
      long t0 = System.nanoTime();
      float value = trainStep(net, opt, criterion, b);
      training += System.nanoTime() - t0;
      bar.step(value);
      if (!Float.isFinite(value)) {
        bar.finish();
        throw new TrainingLoop.DivergedException(String.format(Locale.ROOT,
            "seq2seq: the loss is %s at step %d of %d; training stopped (a smaller --lr may help)", value, step, steps));
      }
      if (step % evalEvery == 0 || step == steps) {
        double loss = bar.meanLoss();
        bar.finish();
        report(String.format(Locale.ROOT, "step %d: train loss %.4f,", step, loss), net, test, device);
        if (step < steps) {
          bar = Progress.start("seq2seq", Math.min(evalEvery, steps - step));
        }
      }
    }
    System.out.printf(Locale.ROOT, "trained %d steps of %d sequences in %.1f s on %s: %.2f ms/step (training steps alone)%n",
        steps, batch, (System.nanoTime() - start) / 1e9, device, training / 1e6 / steps);
    if (save != null) {
      saveAndReload(net, save, test, device);
    }
  }

  /**
   * The compiled class ({@code KilnSeq2SeqTransformer}, sequences of {@value Seq2SeqTransformer#LENGTH} digits) or the
   * eager declaration; one seed gives both the same parameters.
   */
  static Seq2SeqTransformer model(boolean compiled) {
    return compiled ? new KilnSeq2SeqTransformer() : new Seq2SeqTransformer();
  }

  /** The translation tutorial's optimizer: Adam, betas (0.9, 0.98), eps 1e-9. */
  static Adam optimizer(Seq2SeqTransformer net, double lr) {
    return new Adam(net.parameters(), lr).betas(0.9, 0.98).eps(1e-9);
  }

  /** One teacher-forced step in training mode; returns the batch's loss. */
  static float trainStep(Seq2SeqTransformer net, Optimizer opt, CrossEntropyLoss criterion, Batch b) {
    net.train();
    opt.zeroGrad();
    Tensor logits = net.forward(b.src(), b.tgtIn());                                   // [N, L, 10]
    Tensor loss = criterion.apply(logits.reshape(-1, Seq2SeqTransformer.DIGITS), b.tgtOut());
    loss.backward();
    opt.step();
    return loss.item();
  }

  /** Prints {@code head}, the teacher-forced test loss and the greedy decoding's share of digits and sequences right. */
  private static void report(String head, Seq2SeqTransformer net, Batch test, Device device) {
    float loss = testLoss(net, test);
    double[] accuracy = accuracy(net.greedyDecode(test.src()), test.answers(), test.src().shape()[1]);
    System.out.printf(Locale.ROOT, "%s test loss %.4f, greedy decoding: digits %.1f%%, sequences %.1f%%%n", head, loss,
        100 * accuracy[0], 100 * accuracy[1]);
  }

  /** The teacher-forced loss of {@code b}, in eval mode without a tape. */
  static float testLoss(Seq2SeqTransformer net, Batch b) {
    net.eval();
    try (var g = Kiln.noGrad()) {
      return new CrossEntropyLoss().apply(net.forward(b.src(), b.tgtIn()).reshape(-1, Seq2SeqTransformer.DIGITS),
          b.tgtOut()).item();
    }
  }

  /** The share of digits, and of whole sequences of {@code length}, where {@code predicted} is {@code truth}. */
  static double[] accuracy(int[] predicted, int[] truth, int length) {
    int digits = 0;
    int sequences = 0;
    int n = truth.length / length;
    for (int i = 0; i < n; i++) {
      boolean all = true;
      for (int t = 0; t < length; t++) {
        boolean right = predicted[i * length + t] == truth[i * length + t];
        digits += right ? 1 : 0;
        all &= right;
      }
      sequences += all ? 1 : 0;
    }
    return new double[] {digits / (double) truth.length, sequences / (double) n};
  }

  /** Saves the model, loads the file into a fresh one and checks that both decode the test sequences alike. */
  private static void saveAndReload(Seq2SeqTransformer net, Path file, Batch test, Device device) {
    try {
      net.save(file);
      Seq2SeqTransformer fresh = model(net instanceof KilnSeq2SeqTransformer);
      fresh.load(file);
      fresh.to(device);
      boolean same = Arrays.equals(net.greedyDecode(test.src()), fresh.greedyDecode(test.src()));
      System.out.printf(Locale.ROOT, "saved to %s (%d bytes); reloaded into a fresh model: %s%n", file, Files.size(file),
          same ? "the same greedy decoding of the test sequences" : "a DIFFERENT decoding");
      if (!same) {
        throw new IllegalStateException("seq2seq: the model reloaded from " + file + " decodes differently");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@link Seq2SeqTransformer#load}, its errors naming the option. */
  private static void loadInto(Seq2SeqTransformer net, Path file) {
    try {
      net.load(file);
    } catch (IOException e) {
      throw new UncheckedIOException("seq2seq: --load " + file + ": " + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      // the position table has 64 rows; an older sample's file has --length rows there
      throw new IllegalArgumentException("seq2seq: --load: " + e.getMessage() + (e.getMessage().contains("pos_embedding")
          ? "\n(the position table has " + Seq2SeqTransformer.MAX_LEN + " rows whatever --length; a file of an older seq2seq"
              + " sample has --length rows there: train the model again to save it with the whole table)" : ""), e);
    }
  }
}
