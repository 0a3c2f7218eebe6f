package dev.kiln.processor;

import static com.google.testing.compile.CompilationSubject.assertThat;
import static dev.kiln.processor.ProcessorTest.classModel;
import static dev.kiln.processor.ProcessorTest.compile;

import com.google.testing.compile.Compilation;
import com.google.testing.compile.JavaFileObjects;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Test;

/** GroupNorm and InstanceNorm2d in compiled models: their shape errors on the right line (values: ParityTest's GroupNormNet). */
class GroupNormCompileTest {
  @Test
  void channelsThatDoNotMatchAreAnErrorOnTheCall() {
    JavaFileObject f = classModel("GnChannels",
        "@Model(input = {1, 8, 8})",
        "public class GnChannels extends Module {",
        "  final Conv2d conv = new Conv2d(1, 4, 3).padding(1);",
        "  final GroupNorm gn = new GroupNorm(2, 6);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = conv.apply(x);",
        "    return silu(gn.apply(h));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("gn: GroupNorm(2, 6, eps=1e-05, affine=True) expects [N, 6, *], receives [N, 4, 8, 8]")
        .inFile(f).onLineContaining("return silu(gn.apply(h));");
  }

  @Test
  void channelsNotDivisibleByTheGroupsAreAnErrorOnTheDeclaration() {
    JavaFileObject f = classModel("GnGroups",
        "@Model(input = {6, 4, 4})",
        "public class GnGroups extends Module {",
        "  final GroupNorm gn = new GroupNorm(4, 6);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return gn.apply(x);",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("GroupNorm(4, 6): num_channels (6) must be divisible by num_groups (4)")
        .inFile(f).onLineContaining("new GroupNorm(4, 6)");
  }

  @Test
  void aSequentialMismatchIsReportedOnTheLayer() {
    JavaFileObject f = JavaFileObjects.forSourceLines("test.GnSeq",
        "package test;",
        "import dev.kiln.dsl.*;",
        "public class GnSeq {",
        "  @Model(input = {3, 8, 8})",
        "  static Sequential net() {",
        "    return Sequential.of(new Conv2d(3, 16, 3), new SiLU(),",
        "        new GroupNorm(8, 32));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("2: GroupNorm(8, 32, eps=1e-05, affine=True) expects [N, 32, *], receives [N, 16, 6, 6]")
        .inFile(f).onLineContaining("new GroupNorm(8, 32)");
  }

  @Test
  void instanceNormWantsMaps() {
    JavaFileObject f = classModel("InFlat",
        "@Model(input = {4, 3, 3})",
        "public class InFlat extends Module {",
        "  final InstanceNorm2d norm = new InstanceNorm2d(4);",
        "  @Override public Tensor forward(Tensor x) {",
        "    Tensor h = norm.apply(x);",
        "    return norm.apply(flatten(h));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("norm: InstanceNorm2d(4, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False) "
        + "expects [N, 4, H, W], receives [N, 36]").inFile(f).onLineContaining("return norm.apply(flatten(h));");
  }

  @Test
  void instanceNormWantsMoreThanOneValueAMap() {
    JavaFileObject f = classModel("InPoint",
        "@Model(input = {4, 2, 2})",
        "public class InPoint extends Module {",
        "  final InstanceNorm2d norm = new InstanceNorm2d(4);",
        "  @Override public Tensor forward(Tensor x) {",
        "    return norm.apply(maxPool2d(x, 2));",
        "  }",
        "}");
    Compilation c = compile(f);
    assertThat(c).hadErrorContaining("norm: InstanceNorm2d(4, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False) "
        + "expects more than 1 spatial element").inFile(f).onLineContaining("return norm.apply(maxPool2d(x, 2));");
  }
}
