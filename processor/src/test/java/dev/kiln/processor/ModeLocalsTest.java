package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static dev.kiln.processor.ProcessorTest.classModel;
import static dev.kiln.processor.ProcessorTest.compile;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.testing.compile.Compilation;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The training mode held in a local ({@code final boolean t = isTraining();}) and another module's mode read in forward
 * ({@code drop.isTraining()}): conditions on those modules' modes, as {@code isTraining()} itself (TrainingModesTest).
 */
class ModeLocalsTest {
  /** Four SGD steps in training and the output in evaluation, bit for bit eager mode's; the golden source. */
  @Test
  void eachModeMatchesEagerBitForBit() throws java.io.IOException {
    ParityTest.matchesEagerBitForBit("ModeLocals", "6");
    ProcessorTest.assertGolden(compile(ProcessorTest.model("ModeLocals")), "KilnModeLocals", "KilnModeLocals.java");
  }

  /** A module whose mode forward reads apart from the model's (the dropout, the block): the eager forward, eager's values. */
  @Test
  void aModuleInAnotherModeRunsTheEagerForward() {
    Module compiled = ParityTest.matchesEagerBitForBit("ModeLocals", "6");
    Module eager = ParityTest.factory(compiled.getClass().getClassLoader(), "test.ModeLocals").get();
    eager.loadStateDict(compiled.stateDict());
    for (String other : new String[] {"drop", "gate"}) {
      for (Module m : new Module[] {eager, compiled}) {
        m.train();
        m.getSubmodule(other).eval();
      }
      Tensor x = Tensor.randn(4, 6);
      dev.kiln.runtime.Kiln.manualSeed(9); // the same dropout draws
      Tensor out = compiled.forward(x);
      dev.kiln.runtime.Kiln.manualSeed(9);
      assertArrayEquals(eager.forward(x).toFloatArray(), out.toFloatArray(), other + " in evaluation, the model in training");
      assertEquals(false, out.gradFn().name().startsWith("KilnModeLocals"), "a compiled graph ran: " + out.gradFn().name());
    }
  }

  /** A mode local whose value is not the mode's alone, and one outside forward, are errors on their lines. */
  @Test
  void aModeLocalThatIsNotAConditionOnTheModeIsAnError() {
    JavaFileObject f = classModel("BadModeLocals",
        "@Model(input = {4})",
        "public class BadModeLocals extends Module {",
        "  final Linear fc = new Linear(4, 4);",
        "  @Override public Tensor forward(Tensor x) {",
        "    final boolean t = isTraining() && x.size(0) > 1;",
        "    return fc.apply(x);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("unsupported condition on the training mode in forward: isTraining() && x.size(0) > 1")
        .inFile(f).onLineContaining("final boolean t =");
  }

  /** The model compiled and run on CUDA (the fake GPU here) in each mode, one after another: eager's CPU values. */
  @Test
  @Tag("cuda")
  void eachModeOnCudaMatchesEagerOnTheCpu() {
    Module compiled = ParityTest.matchesEagerBitForBit("ModeLocals", "6");
    Module eager = ParityTest.factory(compiled.getClass().getClassLoader(), "test.ModeLocals").get();
    eager.loadStateDict(compiled.stateDict());
    TrainingModesTest.eachModeOnCudaMatchesEager(eager, compiled);
  }
}
