package dev.kiln.samples;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.CrossEntropyLoss;
import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Device;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import dev.kiln.runtime.data.Batch;
import dev.kiln.runtime.data.DataLoader;
import dev.kiln.runtime.data.Dataset;
import dev.kiln.runtime.data.Example;
import dev.kiln.runtime.data.FashionMnist;
import dev.kiln.runtime.data.Subset;
import dev.kiln.runtime.optim.SGD;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * {@code pairs}: a siamese network, a model of two inputs. One tower (Flatten, Linear(784, 128), ReLU,
 * Linear(128, 32)) embeds each of two FashionMNIST images; their product and squared difference, side by
 * side, go into a head that says whether the two show the same kind of garment. The pairs are drawn from
 * each batch, half of them of one class. {@link SiameseNet#forwardPair} takes the second image as an
 * {@code @Input}, so the compiled {@code KilnPairsCommand_SiameseNet} runs both towers, the join and the head
 * as fused code; {@code forward} (one image's embedding) stays {@code Module}'s contract. {@code --eager} runs
 * the declaration as written.
 */
final class PairsCommand {
  private PairsCommand() {}

  /** The siamese network: one tower applied to both images, a head on their joined embeddings. */
  @Model(input = {1, 28, 28})
  static class SiameseNet extends Module {
    final Sequential tower = Sequential.of(new Flatten(), new Linear(784, 128), new ReLU(), new Linear(128, 32));
    final Linear head = new Linear(64, 2); // 0: different kinds, 1: the same kind

    /** Scores [N, 2] of "different" and "same" for each pair (a, b). */
    public Tensor forwardPair(Tensor a, @Input({1, 28, 28}) Tensor b) {
      Tensor ea = tower.apply(a);                                           // [N, 32]
      Tensor eb = tower.apply(b);
      Tensor d = ea.sub(eb);
      return head.apply(relu(Tensor.cat(List.of(ea.mul(eb), d.mul(d)), 1)));   // symmetric in a and b
    }

    /** One image's embedding [N, 32]. */
    @Override
    public Tensor forward(Tensor x) {
      return tower.apply(x);
    }
  }

  static void run(Args args) {
    int epochs = args.integer("epochs", 2, 1);
    int batch = args.integer("batch", 64, 2);
    double lr = args.positive("lr", 0.01);
    long seed = args.integer("seed", 0, 0);
    int trainSize = args.integer("train-size", 0, 0);
    boolean eager = args.flag("eager");
    args.rejectUnknown("device");
    Device device = args.device();

    Kiln.manualSeed(seed);
    Dataset<Example> trainSet = FashionMnist.train();
    if (trainSize > 0) {
      if (trainSize > trainSet.size()) {
        throw new Args.UsageException("pairs: --train-size " + trainSize + " is more than the " + trainSet.size() + " training images");
      }
      trainSet = Subset.first(trainSet, trainSize);
    }
    Dataset<Example> testSet = Subset.first(FashionMnist.test(), Math.min(2000, FashionMnist.test().size()));
    SiameseNet net = eager ? new SiameseNet() : new KilnPairsCommand_SiameseNet();
    net.to(device);
    System.out.println((eager ? "eager " : "compiled ") + net);
    CrossEntropyLoss criterion = new CrossEntropyLoss();
    SGD opt = new SGD(net.parameters(), lr).momentum(0.9);
    Random pairing = new Random(seed);
    long start = System.nanoTime();
    for (int epoch = 1; epoch <= epochs; epoch++) {
      net.train();
      double sum = 0;
      int steps = 0;
      for (Batch b : new DataLoader<>(trainSet, batch, true).withProgress("epoch " + epoch)) {
        Pairs p = Pairs.of(b, pairing, device);
        opt.zeroGrad();
        Tensor loss = criterion.apply(net.forwardPair(p.a(), p.b()), p.same());
        loss.backward();
        opt.step();
        float value = loss.item();
        if (!Float.isFinite(value)) {
          throw new IllegalStateException("pairs: the loss is " + value + " at epoch " + epoch + ", step " + (steps + 1)
              + ": try a smaller --lr");
        }
        sum += value;
        steps++;
      }
      System.out.printf(Locale.ROOT, "epoch %d: train loss %.4f, test pair accuracy %.1f%%%n", epoch, sum / steps,
          100 * testAccuracy(net, testSet, seed, device));
    }
    System.out.printf(Locale.ROOT, "trained %d epochs on %d images in %.1f s on %s%n", epochs, trainSet.size(),
        (System.nanoTime() - start) / 1e9, device);
  }

  /** The share of test pairs (drawn as in training, from a fixed seed: the same pairs each epoch) judged right. */
  static double testAccuracy(SiameseNet net, Dataset<Example> testSet, long seed, Device device) {
    net.eval();
    Random pairing = new Random(seed + 1);
    int right = 0;
    int count = 0;
    try (var g = Kiln.noGrad()) {
      for (Batch b : new DataLoader<>(testSet, 500, false)) {
        Pairs p = Pairs.of(b, pairing, device);
        int[] predicted = net.forwardPair(p.a(), p.b()).argmax(1).toIntArray();
        int[] truth = p.same().toIntArray();
        for (int i = 0; i < truth.length; i++) {
          right += predicted[i] == truth[i] ? 1 : 0;
        }
        count += truth.length;
      }
    }
    return (double) right / count;
  }

  /**
   * A batch's images paired: each image {@code a[i]} with {@code b[i]}, another image of the batch, of the same
   * class for even {@code i} (when the batch has another of that class) and of another class for odd {@code i};
   * {@code same} the labels (1: same class).
   */
  record Pairs(Tensor a, Tensor b, Tensor same) {
    static Pairs of(Batch batch, Random random, Device device) {
      int[] y = batch.y().toIntArray();
      int n = y.length;
      int[] partner = new int[n];
      int[] same = new int[n];
      for (int i = 0; i < n; i++) {
        boolean wantSame = i % 2 == 0;
        int j = -1;
        for (int tries = 0; tries < 4 * n && j < 0; tries++) { // a random partner of the wanted kind, if the batch has one
          int c = random.nextInt(n);
          if (c != i && (y[c] == y[i]) == wantSame) {
            j = c;
          }
        }
        partner[i] = j >= 0 ? j : (i + 1) % n;
        same[i] = y[partner[i]] == y[i] ? 1 : 0;
      }
      Tensor x = batch.x();
      return new Pairs(x.to(device), x.indexSelect(0, Tensor.labels(partner)).to(device), Tensor.labels(same).to(device));
    }
  }
}
