package dev.kiln.runtime.optim;

import org.junit.jupiter.api.Test;

/** SGD's momentum variants against PyTorch 1.13 (reference.txt). */
class SgdReferenceTest {
  private final Reference ref = Reference.get();

  @Test
  void momentumNesterovAndWeightDecayMatchPyTorch() {
    ref.replay("sgd_nesterov", ps -> new SGD(ps, 0.02).momentum(0.9).nesterov(true).weightDecay(0.01));
  }

  @Test
  void dampeningMatchesPyTorch() {
    ref.replay("sgd_dampening", ps -> new SGD(ps, 0.02).momentum(0.9).dampening(0.5));
  }
}
