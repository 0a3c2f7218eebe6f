package dev.kiln.processor.gen;

import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.ReLU;
import dev.kiln.processor.check.CheckedModel;
import dev.kiln.processor.ir.StepIr;
import java.util.ArrayList;
import java.util.List;

/**
 * Fusion: turns the checked chain of steps into kernels. A Linear followed by a ReLU becomes one
 * GEMM with a bias+ReLU epilogue (its backward masks and reduces the bias gradient in one pass);
 * Flatten becomes a view.
 */
final class Planner {
  private Planner() {}

  static List<Kernel> plan(CheckedModel model) {
    List<StepIr> steps = model.ir().steps();
    List<Kernel> kernels = new ArrayList<>();
    for (int i = 0; i < steps.size(); i++) {
      StepIr s = steps.get(i);
      int[] in = model.stepInputs().get(i);
      int[] out = model.stepOutputs().get(i);
      String label = label(s);
      if (s.spec() instanceof Linear.Spec lin) {
        boolean relu = i + 1 < steps.size() && steps.get(i + 1).spec() instanceof ReLU.Spec;
        String outValue = s.output();
        if (relu) {
          StepIr r = steps.get(++i);
          label += " + " + label(r);
          outValue = r.output();
        }
        kernels.add(new Kernel(Kernel.Kind.LINEAR, label, s.layer(), lin, relu, s.input(), outValue, in, out, s.source()));
      } else if (s.spec() instanceof ReLU.Spec) {
        kernels.add(new Kernel(Kernel.Kind.RELU, label, null, null, false, s.input(), s.output(), in, out, s.source()));
      } else if (s.spec() instanceof Flatten.Spec) {
        kernels.add(new Kernel(Kernel.Kind.VIEW, label, null, null, false, s.input(), s.output(), in, out, s.source()));
      } else {
        throw new IllegalStateException("no kernel for " + s.spec()); // the reader admits only the layers above
      }
    }
    return kernels;
  }

  /** {@code fc1 Linear(in_features=...)} for a layer, the call as written for a function. */
  private static String label(StepIr s) {
    return s.layer() != null ? s.layer().path() + " " + s.spec() : s.text();
  }
}
