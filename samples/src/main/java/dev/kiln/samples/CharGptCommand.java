package dev.kiln.samples;

import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.optim.AdamW;
import dev.kiln.runtime.plot.Plots;
import dev.kiln.runtime.util.Progress;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * {@code char-gpt}: Karpathy's nanoGPT on characters ({@code shakespeare_char}), scaled down. Reads a text, builds
 * its character vocabulary (its distinct characters in order, as nanoGPT's {@code prepare.py}; a text of more than
 * 95 keeps the 95 most frequent and maps the rest to one unknown id, {@link CharGpt#V} being a compile-time
 * constant), splits it 90/10, and trains {@link CharGpt} on random windows ({@code get_batch}) with AdamW
 * (nanoGPT's betas (0.9, 0.99), weight decay 0.1 on the matrices and tables only), cross-entropy over every
 * position. Every {@code --eval-every} steps it prints nanoGPT's {@code estimate_loss} (the mean loss of
 * {@code --eval-iters} batches of each split, in eval mode without a tape), and at the end it samples
 * {@code --generate} characters after {@code --prompt} (temperature, top-k, seeded).
 */
final class CharGptCommand {
  private CharGptCommand() {}

  static final String DEFAULT_TEXT = "/usr/share/common-licenses/GPL-3";

  static void run(Args args) {
    Path given = args.inputFile("text");
    String textPath = given == null ? DEFAULT_TEXT : given.toString();
    int block = args.integer("block", CharGpt.S, 1);
    int layers = args.integer("layers", CharGpt.LAYERS, 1);
    int batch = args.integer("batch", 32, 1);
    int steps = args.integer("steps", 1000, 1);
    double lr = args.positive("lr", 1e-3);
    int evalEvery = args.integer("eval-every", 100, 1);
    int evalIters = args.integer("eval-iters", 20, 1);
    int generate = args.integer("generate", 300, 0);
    double temperature = args.positive("temperature", 0.8);
    int topK = args.integer("top-k", 20, 1);
    long seed = args.integer("seed", 0, 0);
    boolean eager = args.flag("eager");
    String promptOption = args.string("prompt", null);
    args.rejectUnknown("out", "device");
    if (block != CharGpt.S || layers != CharGpt.LAYERS) {
      throw new Args.UsageException("char-gpt: the model's context and depth are compile-time constants (CharGpt.S = "
          + CharGpt.S + ", CharGpt.LAYERS = " + CharGpt.LAYERS + "): --block must be " + CharGpt.S + " and --layers "
          + CharGpt.LAYERS + ", got --block " + block + " --layers " + layers + " (change the constants in CharGpt.java"
          + " and rebuild for another size)");
    }
    if (topK > CharGpt.V) {
      throw new Args.UsageException("char-gpt: --top-k must be at most the vocabulary's " + CharGpt.V + ", got " + topK);
    }
    Corpus corpus = Corpus.read(Path.of(textPath), block);
    String prompt = promptOption != null ? promptOption : corpus.firstLine();
    int[] promptIds = corpus.encodePrompt(prompt);
    Path out = args.outputDirectory("out", "runs/char-gpt");
    Device device = args.device();

    Kiln.manualSeed(seed);
    CharGpt net = eager ? new CharGpt() : new KilnCharGpt();
    net.to(device);
    System.out.printf(Locale.ROOT, "%s CharGpt: %d parameters, %d layers, %d heads, D %d, context %d, vocabulary %d of %d%n",
        eager ? "eager" : "compiled", net.parameters().stream().mapToLong(Tensor::numel).sum(), CharGpt.LAYERS,
        CharGpt.HEADS, CharGpt.D, CharGpt.S, corpus.size(), CharGpt.V);
    System.out.printf(Locale.ROOT, "text %s: %d characters, %d for training, %d for validation%n", textPath,
        corpus.train.length + corpus.val.length, corpus.train.length, corpus.val.length);

    CrossEntropyLoss criterion = new CrossEntropyLoss();
    AdamW opt = optimizer(net, lr);
    Random trainBatches = new Random(seed);
    Random evalBatches = new Random(seed + 1);
    List<Double> losses = new ArrayList<>();
    System.out.printf(Locale.ROOT, "step 0: train loss %.4f, val loss %.4f%n",
        estimateLoss(net, criterion, corpus.train, batch, block, evalIters, evalBatches, device),
        estimateLoss(net, criterion, corpus.val, batch, block, evalIters, evalBatches, device));
    Progress bar = Progress.start("char-gpt", steps);
    long start = System.nanoTime();
    long training = 0;   // nanoseconds in training steps, evaluations and batch drawing left out
    for (int step = 1; step <= steps; step++) {
      net.train();
      Window w = window(corpus.train, batch, block, trainBatches, device);
      long t0 = System.nanoTime();
      opt.zeroGrad();
      Tensor loss = criterion.apply(net.forward(w.x()).view(-1, CharGpt.V), w.y());
      loss.backward();
      opt.step();
      double value = loss.item();
      training += System.nanoTime() - t0;
      bar.step(value);
      losses.add(value);
      if (!Double.isFinite(value)) {
        bar.finish();
        throw new TrainingLoop.DivergedException(String.format(Locale.ROOT,
            "char-gpt: the loss is %s at step %d of %d; training stopped (a smaller --lr may help)", value, step, steps));
      }
      if (step % evalEvery == 0 || step == steps) {
        bar.finish();
        System.out.printf(Locale.ROOT, "step %d: train loss %.4f, val loss %.4f (%.1f ms/step)%n", step,
            estimateLoss(net, criterion, corpus.train, batch, block, evalIters, evalBatches, device),
            estimateLoss(net, criterion, corpus.val, batch, block, evalIters, evalBatches, device), training / 1e6 / step);
        if (step < steps) {
          bar = Progress.start("char-gpt", steps - step);
        }
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf(Locale.ROOT, "trained %d steps of %d windows in %.1f s on %s: %.1f ms/step (training steps alone)%n",
        steps, batch, seconds, device, training / 1e6 / steps);
    try {
      Path png = out.resolve("loss.png");
      Plots.lossHistory(png, "char-gpt training loss", losses);
      System.out.println("plot: " + png);
    } catch (NoClassDefFoundError e) { // a jlink'd runtime without AWT, as the GPU recipe's
      System.out.println("plot not written: this Java runtime has no java.desktop module, which drawing it needs ("
          + e.getMessage() + ")");
    }
    String sample = corpus.decode(generate(net, promptIds, generate, temperature, topK, corpus.size(), new Random(seed + 2),
        device));
    System.out.println("---- " + generate + " characters after the prompt " + quote(prompt) + ":");
    System.out.println(prompt + sample);
  }

  /** nanoGPT's optimizer groups: weight decay 0.1 on tensors of two dimensions or more (matrices, tables), none on biases and norms. */
  static AdamW optimizer(CharGpt net, double lr) {
    List<Tensor> decay = new ArrayList<>();
    List<Tensor> noDecay = new ArrayList<>();
    for (Tensor p : net.parameters()) {
      (p.shape().length >= 2 ? decay : noDecay).add(p);
    }
    AdamW opt = new AdamW(decay, lr).betas(0.9, 0.99).weightDecay(0.1);
    opt.addParamGroup(noDecay, lr).weightDecay(0);
    return opt;
  }

  /** A batch of windows: ids {@code x} [N, S] and the next characters {@code y} [N * S], flat for the loss. */
  record Window(Tensor x, Tensor y) {}

  /** nanoGPT's {@code get_batch}: {@code batch} windows of {@code block} characters starting at random, and the windows one later. */
  static Window window(int[] data, int batch, int block, Random random, Device device) {
    int[] x = new int[batch * block];
    int[] y = new int[batch * block];
    for (int b = 0; b < batch; b++) {
      int i = random.nextInt(data.length - block);
      System.arraycopy(data, i, x, b * block, block);
      System.arraycopy(data, i + 1, y, b * block, block);
    }
    return new Window(Tensor.labels(x).view(batch, block).to(device), Tensor.labels(y).to(device));
  }

  /** nanoGPT's {@code estimate_loss} for one split: the mean loss of {@code iters} random batches, in eval mode without a tape. */
  static double estimateLoss(CharGpt net, CrossEntropyLoss criterion, int[] data, int batch, int block, int iters,
      Random random, Device device) {
    net.eval();
    double sum = 0;
    try (var g = Kiln.noGrad()) {
      for (int i = 0; i < iters; i++) {
        Window w = window(data, batch, block, random, device);
        sum += criterion.apply(net.forward(w.x()).view(-1, CharGpt.V), w.y()).item();
      }
    }
    net.train();
    return sum / iters;
  }

  /**
   * nanoGPT's {@code generate}: {@code count} ids after {@code prompt}, each drawn from the softmax of the last
   * position's logits divided by {@code temperature}, kept to the {@code topK} largest (and to the text's {@code
   * known} ids). The context is the last S ids; while shorter it sits at positions 0.. of the window, the rest
   * padded, and the logits are read at its last position: under the causal mask no position sees the ones after
   * it, so this is nanoGPT's cropped context exactly (no padding is ever attended to).
   */
  static int[] generate(CharGpt net, int[] prompt, int count, double temperature, int topK, int known, Random random,
      Device device) {
    int s = CharGpt.S;
    int[] ids = Arrays.copyOf(prompt, prompt.length + count);
    int length = prompt.length;
    net.eval();
    try (var g = Kiln.noGrad()) {
      for (int n = 0; n < count; n++) {
        int from = Math.max(0, length - s);
        int[] context = new int[s];
        System.arraycopy(ids, from, context, 0, length - from);
        Tensor logits = net.forward(Tensor.labels(context).view(1, s).to(device))
            .select(0, 0).select(0, length - from - 1).div((float) temperature).to(Device.cpu());   // [V]
        float[] row = logits.toFloatArray();
        for (int v = known; v < row.length; v++) {
          row[v] = Float.NEGATIVE_INFINITY;                        // ids the text does not have
        }
        float kth = Tensor.of(row, row.length).topk(Math.min(topK, known), 0).values().toFloatArray()[Math.min(topK, known) - 1];
        ids[length++] = sample(row, kth, random);
      }
    }
    return Arrays.copyOfRange(ids, prompt.length, length);
  }

  /** An id drawn from the softmax of {@code logits}, those below {@code floor} left out (top-k). */
  private static int sample(float[] logits, float floor, Random random) {
    double max = Double.NEGATIVE_INFINITY;
    for (float l : logits) {
      max = Math.max(max, l);
    }
    double[] p = new double[logits.length];
    double total = 0;
    for (int v = 0; v < logits.length; v++) {
      p[v] = logits[v] < floor ? 0 : Math.exp(logits[v] - max);
      total += p[v];
    }
    double u = random.nextDouble() * total;
    int last = 0;
    for (int v = 0; v < p.length; v++) {
      if (p[v] > 0) {
        last = v;
        u -= p[v];
        if (u < 0) {
          return v;
        }
      }
    }
    return last;
  }

  static String quote(String s) {
    return "\"" + s.replace("\n", "\\n") + "\"";
  }

  /**
   * A text as ids: the vocabulary (its characters in order, as nanoGPT's {@code chars = sorted(list(set(data)))}; a
   * text of more than {@code V - 1} keeps the most frequent {@code V - 1}, the others one unknown id after them,
   * shown as U+FFFD), the first 90% for training, the rest for validation.
   */
  static final class Corpus {
    final char[] chars;
    final Map<Character, Integer> ids = new TreeMap<>();
    final int[] train;
    final int[] val;
    final String text;

    private Corpus(String text, char[] chars) {
      this.text = text;
      this.chars = chars;
      for (int i = 0; i < chars.length; i++) {
        ids.put(chars[i], i);
      }
      int[] all = new int[text.length()];
      for (int i = 0; i < all.length; i++) {
        all[i] = ids.getOrDefault(text.charAt(i), chars.length);
      }
      int n = (int) (0.9 * all.length);
      train = Arrays.copyOfRange(all, 0, n);
      val = Arrays.copyOfRange(all, n, all.length);
    }

    static Corpus read(Path file, int block) {
      if (!Files.isRegularFile(file)) {
        throw new Args.UsageException("char-gpt: --text " + file + ": no such file");
      }
      String text;
      try {
        text = Files.readString(file, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException("char-gpt: --text " + file + ": cannot read it as UTF-8 (" + e + ")", e);
      }
      int minimum = 10 * (block + 2);   // both splits longer than a window and its next character
      if (text.length() < minimum) {
        throw new Args.UsageException("char-gpt: --text " + file + " has " + text.length() + " characters; at least "
            + minimum + " are needed (a tenth of them, the validation split, must hold a window of " + (block + 1) + ")");
      }
      Map<Character, Integer> counts = new TreeMap<>();
      for (int i = 0; i < text.length(); i++) {
        counts.merge(text.charAt(i), 1, Integer::sum);
      }
      List<Character> kept = new ArrayList<>(counts.keySet());
      if (kept.size() > CharGpt.V - 1) {
        kept.sort((a, b) -> counts.get(b) - counts.get(a) != 0 ? counts.get(b) - counts.get(a) : Character.compare(a, b));
        kept = new ArrayList<>(kept.subList(0, CharGpt.V - 1));
        kept.sort(null);
      }
      char[] chars = new char[kept.size()];
      for (int i = 0; i < chars.length; i++) {
        chars[i] = kept.get(i);
      }
      return new Corpus(text, chars);
    }

    /** Ids in use: the kept characters and, where the text has others, the unknown id after them. */
    int size() {
      return ids.size() < CharGpt.V - 1 || text.chars().allMatch(c -> ids.containsKey((char) c)) ? ids.size() : CharGpt.V;
    }

    String firstLine() {
      int end = text.indexOf('\n');
      return end < 0 ? text : text.substring(0, end);
    }

    int[] encodePrompt(String prompt) {
      if (prompt.isEmpty()) {
        throw new Args.UsageException("char-gpt: --prompt is empty; give at least one character (the text's first line is"
            + " the default)");
      }
      int[] out = new int[prompt.length()];
      for (int i = 0; i < out.length; i++) {
        Integer id = ids.get(prompt.charAt(i));
        if (id == null) {
          throw new Args.UsageException("char-gpt: --prompt " + quote(prompt) + " has " + quote(String.valueOf(prompt.charAt(i)))
              + " at " + i + ", which is not in the text's vocabulary");
        }
        out[i] = id;
      }
      return out;
    }

    String decode(int[] generated) {
      StringBuilder sb = new StringBuilder();
      for (int id : generated) {
        sb.append(id < chars.length ? chars[id] : '\uFFFD');
      }
      return sb.toString();
    }
  }
}
