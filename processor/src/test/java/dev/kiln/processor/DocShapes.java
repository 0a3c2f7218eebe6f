package dev.kiln.processor;

import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The shape comments of a run block ({@link DocBlocksTest}) checked as the block runs: a line
 * {@code Tensor e = relu(enc.apply(x));   // [N, 4, 7, 7]} must give {@code e} that shape.
 */
public final class DocShapes {
  private DocShapes() {}

  /** A statement that sets one variable, then a comment that starts with a shape. */
  static final Pattern COMMENTED = Pattern.compile("^\\s*(?:Tensor\\s+)?(\\w+)\\s*=\\s*[^=].*;\\s*//\\s*(\\[.*)$");

  /**
   * The shape a comment gives a result: the one after its last {@code ->} or, without one, its
   * first; null when there is none.
   */
  static String expected(String comment) {
    int arrow = comment.lastIndexOf(" -> ");
    String shape = arrow < 0 ? comment : comment.substring(arrow + 4);
    Matcher m = Pattern.compile("^\\[([^\\]]*)\\]").matcher(shape.strip());
    return m.find() ? m.group(1) : null;
  }

  /**
   * Checks a value against a comment's sizes: a number is that size, a name (N, C, S, ...) the
   * same size wherever the block uses it ({@code names}), anything else ({@code 4+6+2}) any size.
   */
  public static void check(Object value, String sizes, String where, Map<String, Integer> names) {
    if (!(value instanceof Tensor t)) {
      return;
    }
    String[] dims = sizes.split(",\\s*");
    int[] shape = t.shape();
    boolean ok = dims.length == shape.length;
    for (int i = 0; ok && i < dims.length; i++) {
      String d = dims[i].strip();
      if (d.matches("\\d+")) {
        ok = Integer.parseInt(d) == shape[i];
      } else if (d.matches("[A-Za-z_]\\w*")) {
        Integer bound = names.putIfAbsent(d, shape[i]);
        ok = bound == null || bound == shape[i];
      }
    }
    if (!ok) {
      throw new AssertionError(where + ": the value is " + Arrays.toString(shape) + ", the comment says [" + sizes + "]"
          + (names.isEmpty() ? "" : " (with " + names + " so far)"));
    }
  }
}
