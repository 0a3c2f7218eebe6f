package dev.kiln.runtime.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.runtime.Tensor;
import java.util.List;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/**
 * A group's own weight decay (PyTorch's {@code {'params': biases, 'weight_decay': 0}}): each group
 * steps exactly as an optimizer of that decay over its parameters alone, for every optimizer.
 */
class ParamGroupWeightDecayTest {
  /** Each optimizer, built over a list with a learning rate and an optimizer-wide weight decay. */
  private static final List<BiFunction<List<Tensor>, Double, Optimizer>> OPTIMIZERS = List.of(
      (ps, wd) -> new SGD(ps, 0.05).momentum(0.9).weightDecay(wd),
      (ps, wd) -> new Adam(ps, 0.05).weightDecay(wd),
      (ps, wd) -> new AdamW(ps, 0.05).weightDecay(wd),
      (ps, wd) -> new RMSprop(ps, 0.01).weightDecay(wd),
      (ps, wd) -> new Adagrad(ps, 0.1).weightDecay(wd),
      (ps, wd) -> new Adadelta(ps, 1.0).weightDecay(wd));

  @Test
  void eachGroupStepsWithItsOwnDecay() {
    for (var make : OPTIMIZERS) {
      Tensor w = param(1f, -2f, 3f);
      Tensor b = param(0.5f, 0.25f);
      Optimizer grouped = make.apply(List.of(w), 0.1);
      grouped.addParamGroup(List.of(b), 0.05).weightDecay(0);
      Tensor wAlone = param(1f, -2f, 3f);
      Tensor bAlone = param(0.5f, 0.25f);
      Optimizer decayed = make.apply(List.of(wAlone), 0.1);
      Optimizer plain = make.apply(List.of(bAlone), 0.0);
      plain.paramGroups().get(0).lr(0.05);
      for (int step = 0; step < 4; step++) {
        float[] gw = {0.3f * step - 0.2f, 0.1f, -0.4f};
        float[] gb = {0.2f, -0.1f * step};
        w.setGrad(Tensor.of(gw));
        b.setGrad(Tensor.of(gb));
        wAlone.setGrad(Tensor.of(gw));
        bAlone.setGrad(Tensor.of(gb));
        grouped.step();
        decayed.step();
        plain.step();
      }
      String name = grouped.getClass().getSimpleName();
      assertArrayEquals(wAlone.toFloatArray(), w.toFloatArray(), name + ": the group with the optimizer's decay");
      assertArrayEquals(bAlone.toFloatArray(), b.toFloatArray(), name + ": the group without decay");
    }
  }

  @Test
  void groupsAreCheckedAndNamed() {
    Tensor a = param(1f);
    Tensor b = param(2f);
    SGD opt = new SGD(List.of(a), 0.1);
    assertNull(opt.paramGroups().get(0).weightDecay());
    var again = assertThrows(IllegalArgumentException.class, () -> opt.addParamGroup(List.of(b, a), 0.1));
    assertEquals("SGD: parameter 1 of the new group is already in param group 0 (a parameter may belong to one group only)",
        again.getMessage());
    var twice = assertThrows(IllegalArgumentException.class, () -> opt.addParamGroup(List.of(b, b), 0.1));
    assertEquals("SGD: parameter 1 of the new group is parameter 0 again (a parameter may be listed once)", twice.getMessage());
    assertThrows(IllegalArgumentException.class, () -> opt.addParamGroup(List.of(b), -1));
    opt.addParamGroup(List.of(b), 0.1); // the refused lists left nothing behind
    assertEquals(2, opt.paramGroups().size());
    var negative = assertThrows(IllegalArgumentException.class, () -> opt.paramGroups().get(1).weightDecay(-0.1));
    assertEquals("weight decay must be finite and >= 0, got -0.1", negative.getMessage());
  }

  private static Tensor param(float... values) {
    return Tensor.of(values).requiresGrad(true);
  }
}
