// Writes the CUDA C source the annotation processor's CudaSource.of generates for a made-up plan, to check
// sizes and options no sample model has. Reaches the processor's package-private classes by reflection.
//   java -cp PROCESSOR_JAR:SAMPLES_JAR scripts/cuda-emulate/Gen.java STEP...
// STEP, one kernel step each, in order (kJ is the J-th step, a fused pool counting as one too):
//   linear:F:bias|nobias                          Linear(?, F) + ReLU
//   bn:C:HxW|-:relu|norelu:affine|noaffine:EPS:MOMENTUM[:pool]
//                                                 BatchNorm2d over [n, C, H, W] (- for BatchNorm1d over [n, C]),
//                                                 with ReLU, and with a 2x2 max pool fused in its pass
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public class Gen {
  public static void main(String[] args) throws Exception {
    Class<?> kernelClass = Class.forName("dev.kiln.processor.gen.Kernel");
    @SuppressWarnings({"rawtypes", "unchecked"})
    Class<Enum> kind = (Class<Enum>) Class.forName("dev.kiln.processor.gen.Kernel$Kind");
    Constructor<?> kernel = kernelClass.getDeclaredConstructors()[0];
    kernel.setAccessible(true);
    Object where = source();
    List<Object> kernels = new ArrayList<>();
    Map<String, Integer> pooled = new LinkedHashMap<>();
    for (String step : args) {
      String[] p = step.split(":");
      String in = "v" + kernels.size(), out = "v" + (kernels.size() + 1);
      if (p[0].equals("linear")) {
        int f = Integer.parseInt(p[1]);
        Object spec = new dev.kiln.dsl.Linear.Spec(7, f, p[2].equals("bias"));
        kernels.add(kernel.newInstance(Enum.valueOf(kind, "LINEAR"), "Linear(7, " + f + ") + ReLU", spec, null, spec, true,
            in, out, new int[] {-1, 7}, new int[] {-1, f}, where));
        continue;
      }
      int c = Integer.parseInt(p[1]);
      boolean relu = p[3].equals("relu"), affine = p[4].equals("affine");
      double eps = Double.parseDouble(p[5]), momentum = Double.parseDouble(p[6]);
      int[] shape;
      Object spec;
      if (p[2].equals("-")) {
        shape = new int[] {-1, c};
        spec = new dev.kiln.dsl.BatchNorm1d.Spec(c, eps, momentum, affine);
      } else {
        String[] hw = p[2].split("x");
        shape = new int[] {-1, c, Integer.parseInt(hw[0]), Integer.parseInt(hw[1])};
        spec = new dev.kiln.dsl.BatchNorm2d.Spec(c, eps, momentum, affine);
      }
      kernels.add(kernel.newInstance(Enum.valueOf(kind, "BATCHNORM"), "BatchNorm(" + c + ")" + (relu ? " + ReLU" : ""), spec, null,
          null, relu, in, out, shape, shape, where));
      if (p.length > 7 && p[7].equals("pool")) {
        int[] pooledShape = {-1, c, shape[2] / 2, shape[3] / 2};
        pooled.put(out, kernels.size());
        kernels.add(kernel.newInstance(Enum.valueOf(kind, "POOL"), "MaxPool2d(2)", new dev.kiln.dsl.MaxPool2d.Spec(2, 2, 0, false),
            null, null, false, out, "v" + (kernels.size() + 1), shape, pooledShape, where));
      }
    }
    Method of = Class.forName("dev.kiln.processor.gen.CudaSource").getDeclaredMethod("of", String.class, String.class, List.class, Map.class);
    of.setAccessible(true);
    System.out.print(of.invoke(null, "Variants", "Variants.java:1", kernels, pooled));
  }

  /** A processor.ir.Source whose where() is "Variants.java:1". */
  private static Object source() throws Exception {
    Object file = Proxy.newProxyInstance(Gen.class.getClassLoader(), new Class<?>[] {javax.tools.JavaFileObject.class},
        (proxy, m, a) -> m.getName().equals("getName") ? "Variants.java" : null);
    Object unit = Proxy.newProxyInstance(Gen.class.getClassLoader(), new Class<?>[] {com.sun.source.tree.CompilationUnitTree.class},
        (proxy, m, a) -> m.getName().equals("getSourceFile") ? file : null);
    Constructor<?> c = Class.forName("dev.kiln.processor.ir.Source").getDeclaredConstructors()[0];
    return c.newInstance(unit, null, 1L);
  }
}
