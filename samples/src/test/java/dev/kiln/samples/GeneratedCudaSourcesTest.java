package dev.kiln.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.CudaCompiled;
import dev.kiln.runtime.cuda.Nvrtc;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Tag;

/**
 * The CUDA C source the processor wrote into each sample's compiled model compiles with NVRTC for
 * Ampere (sm_80) and Hopper (sm_90), and defines every kernel {@link CudaCompiled} launches for
 * the steps it covers. Needs NVRTC, not a GPU ({@code eval "$(scripts/cuda-dev-env)"}; run with
 * {@code -Dgroups=nvrtc}).
 */
@Tag("nvrtc")
class GeneratedCudaSourcesTest {
  private static final int[][] ARCHITECTURES = {{8, 0}, {9, 0}};
  private static final Pattern DEFINED = Pattern.compile("extern \"C\" __global__ void (\\w+)\\s*\\(");
  private static final Pattern STEP = Pattern.compile("(k\\d+)_(?:statistics|forward)\\b");

  @ParameterizedTest
  @ValueSource(strings = {"KilnFashionCnn", "KilnMlp", "KilnMnistMlp", "KilnIntermediateCommand_HiddenNet"})
  void generatedSourceCompiles(String model) throws ReflectiveOperationException {
    CudaCompiled.Source source = source(model);
    assertNotNull(source, model + " has no CUDA source");
    Set<String> defined = new TreeSet<>();
    Matcher d = DEFINED.matcher(source.text());
    while (d.find()) {
      defined.add(d.group(1));
    }
    Set<String> expected = new TreeSet<>();
    Matcher s = STEP.matcher(source.text());
    while (s.find()) {
      String step = s.group(1);
      boolean batchNorm = source.text().contains(step + "_statistics(");
      for (String suffix : batchNorm
          ? new String[] {"_statistics", "_factors", "_forward", "_backward_reduce", "_backward"}
          : new String[] {"_forward", "_backward"}) {
        expected.add(step + suffix);
      }
    }
    assertEquals(expected, defined, model + ": the kernels defined are not those CudaCompiled launches for its steps");
    for (int[] arch : ARCHITECTURES) {
      byte[] cubin = Nvrtc.compile(model + ".cu", source.text(), arch[0], arch[1]);
      String bytes = new String(cubin, StandardCharsets.ISO_8859_1);
      for (String function : defined) {
        assertTrue(bytes.contains(function + "\0"), model + " for sm_" + arch[0] + arch[1] + ": the cubin has no symbol " + function);
      }
    }
  }

  /** The generated class's {@code CudaCode.SOURCE}, or null when its plan has no generated kernels. */
  private static CudaCompiled.Source source(String model) throws ReflectiveOperationException {
    Class<?> holder;
    try {
      holder = Class.forName("dev.kiln.samples." + model + "$CudaCode");
    } catch (ClassNotFoundException e) {
      return null;
    }
    Field f = holder.getDeclaredField("SOURCE");
    f.setAccessible(true);
    return (CudaCompiled.Source) f.get(null);
  }
}
