package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;

import com.google.testing.compile.Compilation;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;

/**
 * The padding layers (ReflectionPad2d, ReplicationPad2d, ZeroPad2d, ...) and {@code F.pad(x, pad, mode)} compiled: eager
 * mode's index selects, so values and gradients are eager's bit for bit; their errors on their lines; and what the vision
 * zoo pass added around them (a block's constructor locals, a constant {@code if} outside a loop, random draws named).
 */
class PaddingCompileTest {
  @Test
  void paddedMapsMatchEagerBitForBit() {
    ParityTest.matchesEagerBitForBit("PaddedMaps", "2:5:6");
  }

  @Test
  void aReflectionWiderThanTheMapIsAnErrorOnItsLine() {
    JavaFileObject f = ProcessorTest.classModel("WideReflection",
        "@Model(input = {3, 4, 4})",
        "public class WideReflection extends Module {",
        "  final ReflectionPad2d pad = new ReflectionPad2d(4);",
        "  final Linear fc = new Linear(3 * 12 * 12, 2);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = pad.apply(x);",
        "    return fc.apply(flatten(h));",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorContaining("pad: ReflectionPad2d((4, 4, 4, 4)) cannot take [N, 3, 4, 4]: pad: padding size should be less"
        + " than the corresponding input dimension in mode \"reflect\", but got padding (4, 4) at dimension 3 of size 4")
        .inFile(f).onLineContaining("pad.apply(x)");
  }

  @Test
  void anUnknownModeIsAnErrorOnItsLine() {
    JavaFileObject f = ProcessorTest.classModel("UnknownMode",
        "@Model(input = {3, 4, 4})",
        "public class UnknownMode extends Module {",
        "  final Linear fc = new Linear(3 * 4 * 6, 2);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = pad(x, new int[] {1, 1}, \"mirror\");",
        "    return fc.apply(flatten(h));",
        "  }",
        "}");
    Compilation c = ProcessorTest.compile(f);
    assertThat(c).hadErrorContaining("F.pad: mode must be one of \"constant\", \"reflect\", \"replicate\" or \"circular\", got \"mirror\"")
        .inFile(f).onLineContaining("\"mirror\"");
  }
}
