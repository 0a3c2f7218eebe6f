package dev.kiln.processor.ir;

import dev.kiln.dsl.LayerSpec;
import dev.kiln.runtime.cpu.PointwiseKernels;
import java.util.List;
import java.util.Map;

/**
 * An element-wise function of one value in a compiled forward, a {@code Tensor} method of eager mode: one of {@code
 * cpu.PointwiseKernels}' table ({@code x.rsqrt()}, {@code floor}, {@code ceil}, {@code round}, {@code trunc}, {@code sign},
 * {@code reciprocal}, {@code log1p}, {@code expm1}, {@code square}), whose forward and gradient the generated code runs
 * from that table, or one of {@code cpu.MathKernels}' ({@code exp}, {@code log}, {@code sqrt}, {@code abs}, {@code sin},
 * {@code cos}, {@code pow(e)}, {@code clamp(min, max)}, {@code clampMin(min)}, {@code clampMax(max)}), whose kernels it
 * calls: eager mode's own code on the CPU, its Tensor method on CUDA, so that both give eager mode's bits.
 *
 * @param method the Tensor method, as written
 * @param constants its float arguments (pow's exponent; clamp's bounds)
 */
public record Pointwise(String method, List<Float> constants) implements LayerSpec {
  /** The methods of {@code cpu.MathKernels} and their number of constants (the table's take none). */
  private static final Map<String, Integer> MATH = Map.of("exp", 0, "log", 0, "sqrt", 0, "abs", 0, "sin", 0, "cos", 0, "pow", 1,
      "clamp", 2, "clampMin", 1, "clampMax", 1);

  public Pointwise {
    constants = List.copyOf(constants);
  }

  /**
   * The random draws of x's shape, {@code Tensor.randnLike(x)} and {@code Tensor.randLike(x)} (PyTorch's {@code
   * torch.randn_like}, {@code torch.rand_like}): eager mode's values from Kiln's generator, drawn at their place in forward,
   * and no gradient to x (a draw is a leaf).
   */
  private static final java.util.Set<String> RANDOM = java.util.Set.of("randnLike", "randLike");

  /** Whether {@code x.method(constants...)} is one: a table function of none, a MathKernels one of its count, or a random draw. */
  public static boolean knows(String method, int constants) {
    return table(method) != null && constants == 0 || MATH.getOrDefault(method, -1) == constants
        || RANDOM.contains(method) && constants == 0;
  }

  /** Whether {@code Tensor.method(x)} draws random values of x's shape ({@link #RANDOM}), static in eager mode. */
  public static boolean isRandom(String method) {
    return RANDOM.contains(method);
  }

  /** Whether this step draws random values of its input's shape ({@code Tensor.randnLike(x)}), reading none of its values. */
  public boolean random() {
    return isRandom(method);
  }

  /**
   * {@code x.method(args...)}, its numbers rounded to float as eager mode's overloads take them.
   *
   * @throws IllegalArgumentException for eager mode's bad arguments (a NaN bound, an exponent that is not finite)
   */
  public static Pointwise of(String method, List<Object> args) {
    List<Float> constants = args.stream().map(a -> ((Number) a).floatValue()).toList();
    if (method.startsWith("clamp") && constants.stream().anyMatch(c -> c.isNaN())) {
      throw new IllegalArgumentException("x." + method + ": the bounds must be numbers, got NaN");
    }
    if (method.equals("pow") && !Float.isFinite(constants.get(0))) {
      throw new IllegalArgumentException("x.pow: the exponent must be finite, got " + constants.get(0));
    }
    return new Pointwise(method, constants);
  }

  /** The table's entry of {@code method}, or null for a MathKernels function. */
  public static PointwiseKernels.Unary table(String method) {
    for (PointwiseKernels.Unary u : PointwiseKernels.Unary.values()) {
      if (u.opName.equals(method)) {
        return u;
      }
    }
    return null;
  }

  /** This function's entry of the table, or null for a MathKernels function. */
  public PointwiseKernels.Unary table() {
    return table(method);
  }

  /** The MathKernels functions' prefix: {@code exp} for {@code expForward}, {@code clamp} for clampMin and clampMax too. */
  public String mathKernel() {
    return method.startsWith("clamp") ? "clamp" : method;
  }

  /** Whether a MathKernels function's backward reads the output (exp, sqrt) rather than the input. */
  public boolean backwardFromOutput() {
    return method.equals("exp") || method.equals("sqrt");
  }

  /** The floats a MathKernels function's kernels take after the count: pow's exponent, clamp's bounds (infinite where open). */
  public List<Float> kernelConstants() {
    return switch (method) {
      case "clampMin" -> List.of(constants.get(0), Float.POSITIVE_INFINITY);
      case "clampMax" -> List.of(Float.NEGATIVE_INFINITY, constants.get(0));
      default -> constants;
    };
  }

  /** The Tensor call as eager code writes it, after the value: {@code rsqrt()}, {@code pow(2.0f)} (a random draw's is static: {@code Tensor.randnLike(h)}). */
  public String call() {
    return method + "(" + String.join(", ", constants.stream().map(c -> c.isInfinite() ? (c > 0 ? "Float.POSITIVE_INFINITY"
        : "Float.NEGATIVE_INFINITY") : c + "f").toList()) + ")";
  }

  @Override
  public int[] outputShape(int[] in) {
    return in.clone();
  }

  @Override
  public String toString() {
    return call();
  }
}
