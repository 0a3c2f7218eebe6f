// Prints the CUDA C source a compiled model's generated class carries (its CudaCode.SOURCE), or nothing.
// java -cp samples/target/kiln-samples.jar scripts/cuda-emulate/Dump.java KilnFashionCnn
public class Dump {
  public static void main(String[] args) throws Exception {
    Class<?> holder;
    try {
      holder = Class.forName("dev.kiln.samples." + args[0] + "$CudaCode");
    } catch (ClassNotFoundException e) {
      System.err.println(e); System.exit(3);
      return;
    }
    var f = holder.getDeclaredField("SOURCE");
    f.setAccessible(true);
    Object source = f.get(null);
    var text = source.getClass().getMethod("text");
    text.setAccessible(true);
    System.out.print(text.invoke(source));
  }
}
