package dev.kiln.samples;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * {@code intermediate}: the tutorials' two ways to see a hidden layer's values. Either call the
 * layers by hand in order, or have the network return the hidden activation beside its output; in
 * Java, {@link HiddenNet#forwardWithHidden} returns both in a record while {@link Module#forward}
 * keeps returning the output alone. {@code HiddenNet} is a {@code @Model}, so the compiled
 * {@code KilnIntermediateCommand_HiddenNet} returns the same record, computed by fused code.
 */
final class IntermediateCommand {
  private IntermediateCommand() {}

  /** The tutorial's {@code MyNeuralNet}: Linear(2, 8), ReLU, Linear(8, 1). */
  @Model(input = {2})
  static class HiddenNet extends Module {
    final Linear inputToHiddenLayer = new Linear(2, 8);
    final ReLU hiddenLayerActivation = new ReLU();
    final Linear hiddenToOutputLayer = new Linear(8, 1);

    /** The network's output and the activation of its hidden layer. */
    record Outputs(Tensor output, Tensor hidden) {}

    /** The tutorial's {@code return x, hidden2}. */
    Outputs forwardWithHidden(Tensor x) {
      Tensor hidden = hiddenLayerActivation.apply(inputToHiddenLayer.apply(x));
      return new Outputs(hiddenToOutputLayer.apply(hidden), hidden);
    }

    @Override
    public Tensor forward(Tensor x) {
      return forwardWithHidden(x).output();
    }
  }

  static void run(Args args) {
    args.rejectUnknown();
    Kiln.manualSeed(0);
    HiddenNet net = new HiddenNet();
    Kiln.manualSeed(0);
    HiddenNet compiled = new KilnIntermediateCommand_HiddenNet(); // the same parameters
    Tensor x = RegressionCommand.matrix(RegressionCommand.X);
    try (var g = Kiln.noGrad()) {
      Tensor byHand = net.hiddenLayerActivation.apply(net.inputToHiddenLayer.apply(x));
      System.out.println("1. calling the layers in order, hidden " + Shapes.toString(byHand.shape()) + ":");
      System.out.println(byHand);
      HiddenNet.Outputs out = net.forwardWithHidden(x);
      System.out.println("2. forwardWithHidden(x): output " + Shapes.toString(out.output().shape())
          + ", hidden " + Shapes.toString(out.hidden().shape()));
      System.out.println(out.hidden());
      HiddenNet.Outputs fused = compiled.forwardWithHidden(x);
      System.out.println("3. the compiled KilnIntermediateCommand_HiddenNet.forwardWithHidden(x), hidden:");
      System.out.println(fused.hidden());
      System.out.println("   equals eager: hidden " + (maxDifference(fused.hidden(), out.hidden()) < 1e-5)
          + ", output " + (maxDifference(fused.output(), out.output()) < 1e-5));
    }
  }

  /** The largest absolute difference between two tensors of the same shape. */
  static double maxDifference(Tensor a, Tensor b) {
    float[] x = a.toFloatArray();
    float[] y = b.toFloatArray();
    double max = 0;
    for (int i = 0; i < x.length; i++) {
      max = Math.max(max, Math.abs(x[i] - y[i]));
    }
    return max;
  }
}
