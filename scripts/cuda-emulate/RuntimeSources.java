// The runtime's own CUDA kernel families, read by reflection from a classpath (the shaded samples jar, or
// runtime/target/classes with the JavaCPP jars) for check-runtime.
//   java -cp CLASSPATH scripts/cuda-emulate/RuntimeSources.java sources DIR
//       writes DIR/{Core,Elementwise,Optim,BatchNorm}.cu (the SOURCE strings of CoreKernels, ElementwiseKernels,
//       OptimKernels and BatchNormKernels) and DIR/constants.txt: the int constants of those classes, CudaKernel and
//       OptimKernels.Table (the struct layout Table writes), one NAME=VALUE a line
//   java -cp CLASSPATH scripts/cuda-emulate/RuntimeSources.java tables SPEC
//       SPEC holds entry lists, one a line, entries separated by ';', each "p,g,a,b,c,s0,s1,n,first" (addresses and
//       n as decimal longs, s0 and s1 as float bits in decimal, first 0 or 1). For each list, cut into tables of
//       OptimKernels.LIST as OptimKernels.launch does, prints one line per table: "LINE TABLE BLOCKS HEX", the
//       bytes OptimKernels.Table wrote (JavaCPP allocates them; its native library comes from the jar).
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

public class RuntimeSources {
  private static final String PKG = "dev.kiln.runtime.cuda.";

  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "sources" -> sources(Path.of(args[1]));
      case "tables" -> tables(Path.of(args[1]));
      default -> throw new IllegalArgumentException("sources DIR | tables SPEC");
    }
  }

  private static void sources(Path dir) throws Exception {
    Files.createDirectories(dir);
    StringBuilder constants = new StringBuilder();
    for (String[] c : new String[][] {{"CoreKernels", "Core"}, {"ElementwiseKernels", "Elementwise"}, {"OptimKernels", "Optim"},
        {"BatchNormKernels", "BatchNorm"}}) {
      Class<?> k = Class.forName(PKG + c[0]);
      Files.writeString(dir.resolve(c[1] + ".cu.new"), (String) k.getField("SOURCE").get(null));
      Files.move(dir.resolve(c[1] + ".cu.new"), dir.resolve(c[1] + ".cu"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    for (String name : new String[] {"ElementwiseKernels", "OptimKernels", "OptimKernels$Table", "BatchNormKernels", "CudaKernel",
        "IndexKernels"}) {
      for (Field f : Class.forName(PKG + name).getDeclaredFields()) {
        if (Modifier.isStatic(f.getModifiers()) && (f.getType() == int.class || f.getType() == long.class)) {
          f.setAccessible(true);
          constants.append(name.replace('$', '.')).append('.').append(f.getName()).append('=').append(f.getLong(null)).append('\n');
        }
      }
    }
    Files.writeString(dir.resolve("constants.txt"), constants);
  }

  private static void tables(Path spec) throws Exception {
    Class<?> entry = Class.forName(PKG + "OptimKernels$Entry");
    Constructor<?> make = entry.getConstructor(long.class, long.class, long.class, long.class, long.class, float.class, float.class,
        int.class, boolean.class);
    Class<?> table = Class.forName(PKG + "OptimKernels$Table");
    Constructor<?> build = table.getDeclaredConstructor(List.class);
    build.setAccessible(true);
    Field bytes = table.getDeclaredField("bytes");
    Field blocks = table.getDeclaredField("blocks");
    bytes.setAccessible(true);
    blocks.setAccessible(true);
    int list = Class.forName(PKG + "OptimKernels").getField("LIST").getInt(null);
    int size = 0;
    for (Field f : table.getDeclaredFields()) {
      if (f.getName().equals("BYTES")) {
        f.setAccessible(true);
        size = f.getInt(null);
      }
    }
    StringBuilder out = new StringBuilder();
    int line = 0;
    for (String text : Files.readAllLines(spec)) {
      List<Object> entries = new ArrayList<>();
      for (String e : text.isBlank() ? new String[0] : text.split(";")) {
        String[] v = e.split(",");
        entries.add(make.newInstance(Long.parseLong(v[0]), Long.parseLong(v[1]), Long.parseLong(v[2]), Long.parseLong(v[3]),
            Long.parseLong(v[4]), Float.intBitsToFloat(Integer.parseInt(v[5])), Float.intBitsToFloat(Integer.parseInt(v[6])),
            Integer.parseInt(v[7]), v[8].equals("1")));
      }
      for (int from = 0, t = 0; from < entries.size(); from += list, t++) { // OptimKernels.launch's cut
        try (AutoCloseable tb = (AutoCloseable) build.newInstance(entries.subList(from, Math.min(from + list, entries.size())))) {
          byte[] b = new byte[size];
          ((org.bytedeco.javacpp.BytePointer) bytes.get(tb)).get(b);
          out.append(line).append(' ').append(t).append(' ').append(blocks.getInt(tb)).append(' ').append(HexFormat.of().formatHex(b))
              .append('\n');
        }
      }
      line++;
    }
    System.out.print(out);
  }
}
