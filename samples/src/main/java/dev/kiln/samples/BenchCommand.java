package dev.kiln.samples;

import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.cpu.Blas;
import dev.kiln.runtime.cuda.Cuda;
import dev.kiln.runtime.optim.SGD;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.DoubleSupplier;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bench}: Kiln's step and inference times next to the PyTorch peer's, measured in the same
 * run so that both see the same machine state. Prints a Markdown table; the ratio column is
 * Kiln / PyTorch (below 1 is faster than PyTorch).
 */
final class BenchCommand {
  private static final Pattern MS_MEDIAN = Pattern.compile("ms_median ([0-9.]+)");
  private static final Pattern VERSION = Pattern.compile("peer pytorch (\\S+)");
  private static final Pattern LAYER_LINE = Pattern.compile("layer (.+?) \\| fwd_ms ([0-9.]+) train_ms ([0-9.]+)");

  private BenchCommand() {}

  /** One row of the table: what was timed and the median milliseconds of each side. */
  private record Row(String task, String model, int batch, double eagerMs, double compiledMs, double peerMs) {}

  static void run(Args args) {
    int steps = args.integer("steps", 200, 1);
    int rounds = args.integer("rounds", 1, 1);
    String peerOption = args.string("peer", null);
    String model = args.string("model", "all");
    String only = args.string("only", "");
    if (!List.of("mlp", "cnn", "resnet", "lstm", "transformer", "encoder", "seq2seq", "all", "layers").contains(model)) {
      throw new Args.UsageException("bench: --model must be mlp, cnn, resnet, lstm, transformer, encoder, seq2seq, all or layers,"
          + " got '" + model + "'");
    }
    if (!only.isEmpty() && !model.equals("layers")) {
      throw new Args.UsageException("bench: --only chooses among the cases of --model layers");
    }
    if (peerOption != null && !peerOption.equals("none") && !Files.isRegularFile(Path.of(peerOption))) {
      throw new Args.UsageException("bench: --peer " + peerOption + ": no such file (--peer none times Kiln alone)");
    }
    args.rejectUnknown("device");
    // bench measures the CPU unless told otherwise (auto would make the figures depend on the machine)
    Device device = args.device("cpu");
    boolean cuda = device.isCuda();
    String peerArg = peerOption != null ? peerOption
        : model.equals("layers") ? "samples/peer/pytorch_layer_peer.py"
        : cuda ? "samples/peer/pytorch_cuda_peer.py" : "../shared/peers/pytorch_peer.py";
    Path peerPath = peerArg.equals("none") ? null : Path.of(peerArg);
    if (peerPath != null && !Files.isRegularFile(peerPath)) {
      System.out.println("PyTorch peer not found at " + peerPath + " (pass --peer PATH, or --peer none); timing Kiln alone");
    }
    Path peer = peerPath != null && Files.isRegularFile(peerPath) ? peerPath : null;
    // on the CPU the ResNet has a peer of its own (the shared peer knows the seeds' models only)
    Path resnetPeer = peerOption != null || cuda ? peer : existing(Path.of("samples/peer/pytorch_resnet_peer.py"));
    Path lstmPeer = peerOption != null || cuda ? null : existing(Path.of("samples/peer/pytorch_lstm_peer.py")); // --peer names the shared one
    Path transformerPeer = peerOption != null ? null : existing(Path.of("samples/peer/pytorch_transformer_peer.py")); // CPU or CUDA
    Path seq2seqPeer = peerOption != null ? null : existing(Path.of("samples/peer/pytorch_seq2seq_peer.py")); // CPU or CUDA
    if (model.equals("layers")) {
      runLayers(device, peer, steps, rounds, only);
      return;
    }

    List<Row> rows = new ArrayList<>();
    String[] peerVersion = {"-"};
    if (model.equals("mlp") || model.equals("all")) {
      for (int batch : cuda ? new int[] {64, 512} : new int[] {64, 256}) {
        rows.add(measure(rounds, "train step", "mlp", batch, () -> timeTrainStep(Models::mlp, device, batch, steps),
            () -> timeTrainStep(KilnMlp::new, device, batch, steps), () -> peerMs(peer, cuda, peerVersion, "step", "mlp", batch, steps)));
      }
      for (int batch : new int[] {64, 1}) {
        rows.add(measure(rounds, "inference", "mlp", batch, () -> timeInference(Models::mlp, device, batch, steps),
            () -> timeInference(KilnMlp::new, device, batch, steps), () -> peerMs(peer, cuda, peerVersion, "infer", "mlp", batch, steps)));
      }
    }
    if (model.equals("cnn") || model.equals("all")) {
      int cnnSteps = cuda ? steps : Math.max(1, steps / 4);
      for (int batch : cuda ? new int[] {64, 512} : new int[] {64}) {
        rows.add(measure(rounds, "train step", "cnn", batch, () -> timeTrainStep(FashionCnn::new, device, batch, cnnSteps),
            () -> timeTrainStep(KilnFashionCnn::new, device, batch, cnnSteps),
            () -> peerMs(peer, cuda, peerVersion, "step", "cnn", batch, cnnSteps)));
      }
      for (int batch : new int[] {64, 1}) { // a batch, and one image at a time as a service answers requests
        rows.add(measure(rounds, "inference", "cnn", batch, () -> timeInference(FashionCnn::new, device, batch, batch == 1 ? steps : cnnSteps),
            () -> timeInference(KilnFashionCnn::new, device, batch, batch == 1 ? steps : cnnSteps),
            () -> peerMs(peer, cuda, peerVersion, "infer", "cnn", batch, batch == 1 ? steps : cnnSteps)));
      }
    }
    if (model.equals("resnet") || model.equals("all")) { // residual connections: samples' FashionResNet
      int resnetSteps = cuda ? steps : Math.max(1, steps / 4);
      for (int batch : cuda ? new int[] {64, 512} : new int[] {64}) {
        rows.add(measure(rounds, "train step", "resnet", batch, () -> timeTrainStep(FashionResNet::new, device, batch, resnetSteps),
            () -> timeTrainStep(KilnFashionResNet::new, device, batch, resnetSteps),
            () -> peerMs(resnetPeer, cuda, peerVersion, "step", "resnet", batch, resnetSteps)));
      }
      rows.add(measure(rounds, "inference", "resnet", 64, () -> timeInference(FashionResNet::new, device, 64, resnetSteps),
          () -> timeInference(KilnFashionResNet::new, device, 64, resnetSteps),
          () -> peerMs(resnetPeer, cuda, peerVersion, "infer", "resnet", 64, resnetSteps)));
    }
    if (model.equals("transformer") || model.equals("all")) { // attention: samples' FashionTransformer, compiled too
      int transformerSteps = cuda ? steps : Math.max(1, steps / 4);
      rows.add(measure(rounds, "train step", "transformer", 64,
          () -> timeTrainStep(FashionTransformer::new, device, 64, transformerSteps),
          () -> timeTrainStep(KilnFashionTransformer::new, device, 64, transformerSteps),
          () -> peerMs(transformerPeer, cuda, peerVersion, "step", "transformer", 64, transformerSteps)));
      rows.add(measure(rounds, "inference", "transformer", 64,
          () -> timeInference(FashionTransformer::new, device, 64, transformerSteps),
          () -> timeInference(KilnFashionTransformer::new, device, 64, transformerSteps),
          () -> peerMs(transformerPeer, cuda, peerVersion, "infer", "transformer", 64, transformerSteps)));
    }
    if (model.equals("encoder")) { // the transformer by nn.TransformerEncoder: samples' FashionEncoder, compiled too
      int encoderSteps = cuda ? steps : Math.max(1, steps / 4);
      rows.add(measure(rounds, "train step", "encoder", 64,
          () -> timeTrainStep(FashionEncoder::new, device, 64, encoderSteps),
          () -> timeTrainStep(KilnFashionEncoder::new, device, 64, encoderSteps),
          () -> peerMs(transformerPeer, cuda, peerVersion, "step", "encoder", 64, encoderSteps)));
      rows.add(measure(rounds, "inference", "encoder", 64,
          () -> timeInference(FashionEncoder::new, device, 64, encoderSteps),
          () -> timeInference(KilnFashionEncoder::new, device, 64, encoderSteps),
          () -> peerMs(transformerPeer, cuda, peerVersion, "infer", "encoder", 64, encoderSteps)));
    }
    if (model.equals("seq2seq") || model.equals("all")) { // nn.Transformer: the seq2seq sample's model and step, compiled too
      int seq2seqSteps = cuda ? steps : Math.max(1, steps / 4);
      rows.add(measure(rounds, "train step", "seq2seq", 64, () -> timeSeq2Seq(false, device, 64, seq2seqSteps, true),
          () -> timeSeq2Seq(true, device, 64, seq2seqSteps, true),
          () -> peerMs(seq2seqPeer, cuda, peerVersion, "step", "seq2seq", 64, seq2seqSteps)));
      rows.add(measure(rounds, "greedy decode", "seq2seq", 64, () -> timeSeq2Seq(false, device, 64, seq2seqSteps, false),
          () -> timeSeq2Seq(true, device, 64, seq2seqSteps, false),
          () -> peerMs(seq2seqPeer, cuda, peerVersion, "infer", "seq2seq", 64, seq2seqSteps)));
    }
    if (model.equals("lstm") || model.equals("all") && !cuda) { // a recurrent layer, compiled too; its peer runs on the CPU only
      int lstmSteps = Math.max(1, steps / 4);
      rows.add(measure(rounds, "train step", "lstm", 32, () -> timeSequence(SequenceClassifier::new, device, 32, lstmSteps, true),
          () -> timeSequence(KilnSequenceClassifier::new, device, 32, lstmSteps, true),
          () -> cuda ? Double.NaN : peerMs(lstmPeer, false, peerVersion, "step", "lstm", 32, lstmSteps)));
      rows.add(measure(rounds, "inference", "lstm", 32, () -> timeSequence(SequenceClassifier::new, device, 32, lstmSteps, false),
          () -> timeSequence(KilnSequenceClassifier::new, device, 32, lstmSteps, false),
          () -> cuda ? Double.NaN : peerMs(lstmPeer, false, peerVersion, "infer", "lstm", 32, lstmSteps)));
    }

    if (cuda) {
      System.out.printf(Locale.ROOT, "%nKiln (CUDA, %s; compiled models run their generated CUDA code) vs PyTorch %s (CUDA, eager, FP32 without TF32);"
              + " median of %d steps after >= 1 s of warm-up, each step ended by a stream synchronisation%s%n%n",
          Cuda.get().describe(), peerVersion[0], steps,
          rounds == 1 ? "" : String.format(Locale.ROOT, ", median of %d rounds taken in turn (Kiln eager, Kiln compiled, PyTorch)", rounds));
    } else {
      System.out.printf(Locale.ROOT, "%nKiln (CPU, %s, %d cores) vs PyTorch %s (2 threads, OPENBLAS_NUM_THREADS=1); median of %d steps"
              + " (CNN, ResNet, transformer, seq2seq and LSTM rows of batch 64 and 32: %d) after >= 1 s of warm-up%s%n%n",
          Blas.describe(), Runtime.getRuntime().availableProcessors(), peerVersion[0], steps, Math.max(1, steps / 4),
          rounds == 1 ? "" : String.format(Locale.ROOT, ", median of %d rounds taken in turn (Kiln eager, Kiln compiled, PyTorch)", rounds));
    }
    System.out.println("| task | model | batch | Kiln eager ms | Kiln compiled ms | PyTorch ms | eager / PyTorch | compiled / PyTorch |");
    System.out.println("|---|---|---:|---:|---:|---:|---:|---:|");
    for (Row r : rows) {
      System.out.printf(Locale.ROOT, "| %s | %s | %d | %.3f | %s | %s | %s | %s |%n", r.task, r.model, r.batch, r.eagerMs,
          format(r.compiledMs, "%.3f"),
          format(r.peerMs, "%.3f"), format(r.eagerMs / r.peerMs, "%.2f"), format(r.compiledMs / r.peerMs, "%.2f"));
    }
    if (cuda) {
      Device gpu = Device.cuda();
      System.out.printf(Locale.ROOT, "%nKiln's device memory: peak %.1f MiB in use at once, %.1f MiB in use now, %.1f MiB reserved%n",
          gpu.maxMemoryAllocated() / 1048576.0, gpu.memoryAllocated() / 1048576.0, gpu.memoryReserved() / 1048576.0);
    }
  }

  /** {@code path} when it is a file, else null (with a line saying so). */
  private static Path existing(Path path) {
    if (Files.isRegularFile(path)) {
      return path;
    }
    System.out.println("PyTorch peer not found at " + path + "; timing Kiln alone for its rows");
    return null;
  }

  /**
   * {@code --model layers}: {@link LayerBench}'s cases, Kiln's and the peer's forward and training
   * pass, each round all of Kiln's then one peer run for all cases; medians over rounds. {@code only}:
   * comma-separated prefixes of the case names to run (empty: all).
   */
  private static void runLayers(Device device, Path peer, int steps, int rounds, String only) {
    int batch = 64;
    List<String> prefixes = Arrays.stream(only.split(",")).filter(p -> !p.isEmpty()).toList();
    List<LayerBench.Case> cases = LayerBench.cases(batch, prefixes);
    if (cases.isEmpty()) {
      throw new Args.UsageException("bench: --only " + only + " names no layer case");
    }
    double[][][] kiln = new double[cases.size()][2][rounds];
    double[][][] torch = new double[cases.size()][2][rounds];
    String[] peerVersion = {"-"};
    for (int r = 0; r < rounds; r++) {
      for (int i = 0; i < cases.size(); i++) {
        kiln[i][0][r] = LayerBench.time(cases.get(i), device, false, steps);
        kiln[i][1][r] = LayerBench.time(cases.get(i), device, true, steps);
      }
      Map<String, double[]> peerMs = layerPeerMs(peer, device.isCuda(), peerVersion, batch, steps, only);
      for (int i = 0; i < cases.size(); i++) {
        double[] ms = peerMs.getOrDefault(cases.get(i).name(), new double[] {Double.NaN, Double.NaN});
        torch[i][0][r] = ms[0];
        torch[i][1][r] = ms[1];
      }
    }
    System.out.printf(Locale.ROOT, "%nKiln eager operations (%s) vs PyTorch %s functional calls (%s), batch %d; median of %d calls after"
            + " >= 1 s of warm-up%s; training = forward, sum().backward() into input, weight and bias%n%n",
        device.isCuda() ? "CUDA, " + Cuda.get().describe() : "CPU, " + Blas.describe(), peerVersion[0],
        device.isCuda() ? "CUDA, FP32 without TF32" : "2 threads, OPENBLAS_NUM_THREADS=1", batch, steps,
        rounds == 1 ? "" : String.format(Locale.ROOT, ", median of %d rounds", rounds));
    System.out.println("| layer | input | Kiln forward ms | PyTorch forward ms | ratio | Kiln training ms | PyTorch training ms | ratio |");
    System.out.println("|---|---|---:|---:|---:|---:|---:|---:|");
    for (int i = 0; i < cases.size(); i++) {
      double kf = median(kiln[i][0]), kt = median(kiln[i][1]), pf = median(torch[i][0]), pt = median(torch[i][1]);
      System.out.printf(Locale.ROOT, "| %s | %s | %.3f | %s | %s | %.3f | %s | %s |%n", cases.get(i).name(), cases.get(i).shapes(),
          kf, format(pf, "%.3f"), format(kf / pf, "%.2f"), kt, format(pt, "%.3f"), format(kt / pt, "%.2f"));
    }
  }

  /**
   * One run of the layer peer: each case's name to its forward and training milliseconds (lines
   * {@code layer <name> | fwd_ms X train_ms Y}); empty when there is no peer or it fails.
   */
  private static Map<String, double[]> layerPeerMs(Path peer, boolean cuda, String[] version, int batch, int steps, String only) {
    Map<String, double[]> result = new HashMap<>();
    String out = runPeer(peer, cuda, version, List.of("--batch", Integer.toString(batch), "--steps", Integer.toString(steps),
        "--device", cuda ? "cuda" : "cpu", "--only", only));
    if (out == null) {
      return result;
    }
    Matcher m = LAYER_LINE.matcher(out);
    while (m.find()) {
      result.put(m.group(1), new double[] {Double.parseDouble(m.group(2)), Double.parseDouble(m.group(3))});
    }
    return result;
  }

  /**
   * One table row measured {@code rounds} times, the three timings taken in turn each round, and
   * each column the median over rounds: the machine's slow and fast phases then reach Kiln and
   * PyTorch alike, which makes the ratios steadier than one long measurement of each.
   */
  private static Row measure(int rounds, String task, String model, int batch, DoubleSupplier eager, DoubleSupplier compiled,
      DoubleSupplier peer) {
    double[] e = new double[rounds], c = new double[rounds], p = new double[rounds];
    for (int r = 0; r < rounds; r++) {
      e[r] = eager.getAsDouble();
      c[r] = compiled.getAsDouble();
      p[r] = peer.getAsDouble();
    }
    return new Row(task, model, batch, median(e), median(c), median(p));
  }

  /** The median, NaN when any value is (no peer). */
  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    return Double.isNaN(sorted[sorted.length - 1]) ? Double.NaN : sorted[sorted.length / 2];
  }

  private static String format(double value, String pattern) {
    return Double.isNaN(value) ? "-" : String.format(Locale.ROOT, pattern, value);
  }

  /** Median milliseconds of one SGD-with-momentum step on random data, as the peer measures it. */
  static double timeTrainStep(Supplier<Module> model, Device device, int batch, int steps) {
    Kiln.manualSeed(0);
    Module net = model.get().to(device);
    var opt = new SGD(net.parameters(), 0.01).momentum(0.9);
    var criterion = new CrossEntropyLoss();
    Tensor x = Tensor.randn(batch, 1, 28, 28).to(device);
    int[] labels = new int[batch];
    for (int i = 0; i < batch; i++) {
      labels[i] = Kiln.generator().nextInt(10);
    }
    Tensor y = Tensor.labels(labels).to(device);
    net.train();
    return medianMs(steps, () -> {
      opt.zeroGrad();
      criterion.apply(net.forward(x), y).backward();
      opt.step();
      finish(device);
    });
  }

  /**
   * Median milliseconds of one SGD step ({@code train}) or one evaluation forward of the sequence classifier
   * ({@link SequenceClassifier}, eager, or compiled: {@code KilnSequenceClassifier}).
   */
  static double timeSequence(Supplier<Module> model, Device device, int batch, int steps, boolean train) {
    Kiln.manualSeed(0);
    Module net = model.get().to(device);
    Tensor x = Tensor.randn(batch, 50, 64).to(device);
    int[] labels = new int[batch];
    for (int i = 0; i < batch; i++) {
      labels[i] = Kiln.generator().nextInt(10);
    }
    Tensor y = Tensor.labels(labels).to(device);
    if (!train) {
      net.eval();
      try (var g = Kiln.noGrad()) {
        return medianMs(steps, () -> {
          net.forward(x);
          finish(device);
        });
      }
    }
    var opt = new SGD(net.parameters(), 0.01).momentum(0.9);
    var criterion = new CrossEntropyLoss();
    return medianMs(steps, () -> {
      opt.zeroGrad();
      criterion.apply(net.forward(x), y).backward();
      opt.step();
      finish(device);
    });
  }

  /**
   * Median milliseconds of one training step of the {@code seq2seq} sample's model ({@link Seq2SeqCommand#trainStep}:
   * teacher forcing, Adam, dropout on) on a batch of 8-digit sequences to sort ({@code train}), or of its greedy
   * decoding of the batch in eval mode ({@link Seq2SeqTransformer#greedyDecode}: one encoder pass, eight decoder passes,
   * eager); eager or {@code compiled} ({@code KilnSeq2SeqTransformer}: its forward of source and target, and the encoder).
   */
  static double timeSeq2Seq(boolean compiled, Device device, int batch, int steps, boolean train) {
    Kiln.manualSeed(0);
    int length = Seq2SeqTransformer.LENGTH;
    Seq2SeqTransformer net = Seq2SeqCommand.model(compiled);
    net.to(device);
    Seq2SeqCommand.Batch b = Seq2SeqCommand.Batch.draw(Seq2SeqCommand.Task.SORT, batch, length, new java.util.Random(0), device);
    if (!train) {
      return medianMs(steps, () -> {
        net.greedyDecode(b.src());
        finish(device);
      });
    }
    var opt = Seq2SeqCommand.optimizer(net, 1e-3);
    var criterion = new CrossEntropyLoss();
    return medianMs(steps, () -> {
      Seq2SeqCommand.trainStep(net, opt, criterion, b);
      finish(device);
    });
  }

  /** Waits for the GPU's queue, so that a step's time is its work and not only its launches. */
  static void finish(Device device) {
    if (device.isCuda()) {
      Cuda.get().synchronize();
    }
  }

  /** Median milliseconds of one forward pass in eval mode under {@code noGrad}. */
  static double timeInference(Supplier<Module> model, Device device, int batch, int steps) {
    Kiln.manualSeed(0);
    Module net = model.get().to(device);
    net.eval();
    Tensor x = Tensor.randn(batch, 1, 28, 28).to(device);
    try (var g = Kiln.noGrad()) {
      return medianMs(steps, () -> {
        net.forward(x);
        finish(device);
      });
    }
  }

  /** Median milliseconds of {@code steps} runs after a warm-up long enough for the JIT (at least 1 s). */
  static double medianMs(int steps, Runnable step) {
    long warmUntil = System.nanoTime() + 1_000_000_000L;
    for (int i = 0; i < 10 || System.nanoTime() < warmUntil; i++) {
      step.run();
    }
    double[] ms = new double[steps];
    for (int i = 0; i < steps; i++) {
      long t = System.nanoTime();
      step.run();
      ms[i] = (System.nanoTime() - t) / 1e6;
    }
    Arrays.sort(ms);
    return ms[steps / 2];
  }

  /** Runs the PyTorch peer for one figure; NaN when there is no peer or it fails (its output says why). */
  private static double peerMs(Path peer, boolean cuda, String[] version, String task, String model, int batch, int steps) {
    List<String> args = new ArrayList<>(List.of(task, "--model", model, "--batch", Integer.toString(batch),
        "--steps", Integer.toString(steps)));
    // the other CUDA rows have a CUDA peer of their own
    if (cuda && (model.equals("transformer") || model.equals("encoder") || model.equals("seq2seq"))) {
      args.addAll(List.of("--device", "cuda"));
    }
    String out = runPeer(peer, cuda, version, args);
    Matcher m = out == null ? null : MS_MEDIAN.matcher(out);
    if (m == null || !m.find()) {
      if (out != null) {
        System.out.println("PyTorch peer printed no ms_median:\n" + out.strip());
      }
      return Double.NaN;
    }
    return Double.parseDouble(m.group(1));
  }

  /**
   * Runs a peer script with {@code args} (and {@code --threads 2} on the CPU), records the PyTorch
   * version it reports, and returns its output; null when there is no peer, or it cannot start or
   * fails (saying so).
   */
  private static String runPeer(Path peer, boolean cuda, String[] version, List<String> args) {
    if (peer == null) {
      return null;
    }
    // on the CPU, Debian's python3 (with torch); on a GPU machine, the python3 on the PATH, which has CUDA torch
    String python = !cuda && Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
    List<String> cmd = new ArrayList<>(List.of(python, peer.toString()));
    cmd.addAll(args);
    if (!cuda) {
      cmd.addAll(List.of("--threads", "2"));
    }
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("OPENBLAS_NUM_THREADS", "1");
    try {
      Process p = pb.start();
      StringBuilder out = new StringBuilder();
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          out.append(line).append('\n');
        }
      }
      int status = p.waitFor();
      if (status != 0) {
        System.out.println("PyTorch peer failed (" + String.join(" ", cmd) + "):\n" + out.toString().strip());
        return null;
      }
      Matcher v = VERSION.matcher(out);
      if (v.find()) {
        version[0] = v.group(1);
      }
      return out.toString();
    } catch (IOException e) {
      System.out.println("PyTorch peer could not start (" + e.getMessage() + "); is python3 with torch installed?");
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }
}
