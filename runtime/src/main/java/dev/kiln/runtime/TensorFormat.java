package dev.kiln.runtime;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;

/**
 * Lays out a tensor's values the way PyTorch 1.13 prints them: the text that
 * {@code torch._tensor_str._tensor_str(t, indent=len("tensor("))} returns, that is everything
 * between {@code tensor(} and the suffixes ({@code dtype=...}, {@code grad_fn=...}).
 *
 * <p>PyTorch's default print options are fixed here: precision 4, threshold 1000, edgeitems 3,
 * linewidth 80, sci_mode chosen automatically.
 *
 * <ul>
 *   <li><b>Summarizing.</b> Only a tensor with more than 1000 elements is summarized; then every
 *       dimension longer than 6 shows its first 3 and last 3 entries around a {@code ...}.
 *   <li><b>One formatter for all values.</b> It is computed over the values that are shown (the
 *       summarized data when summarizing), and every value is right-aligned to its width.
 *       <ul>
 *         <li>int32: plain integers ({@code -5}, {@code 1234}).
 *         <li>float32 whose nonzero finite values are all integers (int mode): {@code 1.},
 *             {@code -3.}; scientific instead when max / min of the nonzero finite |values|
 *             exceeds 1000 or max exceeds 1e8.
 *         <li>other float32: scientific ({@code 1.0000e-05}) when that ratio exceeds 1000, max
 *             exceeds 1e8 or min is below 1e-4, else fixed with 4 decimals ({@code 3.1416}).
 *         <li>{@code nan}, {@code inf} and {@code -inf} print as such (no {@code .} in int mode)
 *             and do not count for the width or the mode; negative zero keeps its sign
 *             ({@code -0.}, {@code -0.0000}); with no nonzero finite value the width is 1 and
 *             int mode applies.
 *       </ul>
 *   <li><b>Rounding</b> is Python's: the float32 value, widened to double, correctly rounded half
 *       to even on its exact binary value; exponents have a sign and at least two digits.
 *   <li><b>Wrapping.</b> A last-dimension row holds {@code floor((80 - indent) / (width + 2))}
 *       elements per line (at least 1), where indent is 7 plus the dimension's depth; the
 *       {@code " ..."} of a summarized row counts as an element. Continuation lines and the rows
 *       of higher dimensions are indented to one past their opening bracket; the slices of a
 *       dimension {@code d} levels above the last are separated by {@code d - 1} blank lines.
 * </ul>
 */
final class TensorFormat {
  private static final int PRECISION = 4;
  /** Tensors with more elements than this are summarized. */
  static final long THRESHOLD = 1000;
  private static final int EDGE_ITEMS = 3;
  private static final int LINE_WIDTH = 80;
  /** {@code len("tensor(")}: the column where the values start. */
  private static final int INDENT = 7;
  private static final MathContext SCI_DIGITS = new MathContext(PRECISION + 1, RoundingMode.HALF_EVEN);

  private final float[] data;
  private final int[] shape;
  private final int[] strides;
  private final boolean summarize;
  private final boolean integer;
  private boolean intMode = true;
  private boolean sciMode;
  private int width = 1;

  private TensorFormat(float[] data, int[] shape, int[] strides, boolean summarize, boolean integer) {
    this.data = data;
    this.shape = shape;
    this.strides = strides;
    this.summarize = summarize;
    this.integer = integer;
  }

  /**
   * What PyTorch 1.13 prints between {@code tensor(} and the suffixes for a tensor with this
   * layout: {@code "3.5000"} for a rank-0 tensor, {@code "[]"} for an empty one, else the nested
   * bracketed rows, possibly over several lines (continuation lines are indented for a
   * {@code tensor(} prefix). See the class comment for the rules.
   *
   * @param data the storage; element {@code (i0, i1, ...)} is
   *     {@code data[offset + i0 * strides[0] + i1 * strides[1] + ...]}
   * @param offset the storage index of the first element
   * @param shape the tensor's shape, empty for a scalar
   * @param strides the stride of each dimension, in elements (nonnegative)
   * @param integer true for an int32 tensor (values are whole numbers stored as floats), false
   *     for float32
   * @return the formatted values, without a trailing newline
   */
  static String values(float[] data, int offset, int[] shape, int[] strides, boolean integer) {
    if (shape.length != strides.length) {
      throw new IllegalArgumentException(
          "shape and strides differ in rank: " + shape.length + " and " + strides.length);
    }
    int numel = Shapes.numel(shape);
    if (numel == 0) {
      return "[]";
    }
    TensorFormat f = new TensorFormat(data, shape, strides, numel > THRESHOLD, integer);
    f.fitFormatter(offset);
    StringBuilder sb = new StringBuilder();
    if (shape.length == 0) {
      sb.append(f.format(data[offset]));
    } else {
      f.appendTensor(sb, 0, offset, INDENT);
    }
    return sb.toString();
  }

  /** Whether dimension {@code dim} shows only its first and last {@link #EDGE_ITEMS} entries. */
  private boolean elided(int dim) {
    return summarize && shape[dim] > 2 * EDGE_ITEMS;
  }

  /** The index shown at position {@code k} of dimension {@code dim} (positions skip the elision). */
  private int index(int dim, int k) {
    return elided(dim) && k >= EDGE_ITEMS ? shape[dim] - 2 * EDGE_ITEMS + k : k;
  }

  /** How many indices of dimension {@code dim} are shown. */
  private int shown(int dim) {
    return elided(dim) ? 2 * EDGE_ITEMS : shape[dim];
  }

  /** Appends the shown values under dimension {@code dim} to {@code out}, counting them in {@code count[0]}. */
  private void collect(int dim, int start, float[] out, int[] count) {
    if (dim == shape.length) {
      out[count[0]++] = data[start];
      return;
    }
    for (int k = 0; k < shown(dim); k++) {
      collect(dim + 1, start + index(dim, k) * strides[dim], out, count);
    }
  }

  /** PyTorch's {@code _Formatter.__init__} over the shown values. */
  private void fitFormatter(int offset) {
    int n = 1;
    for (int dim = 0; dim < shape.length; dim++) {
      n *= shown(dim);
    }
    float[] shownValues = new float[n];
    collect(0, offset, shownValues, new int[1]);
    if (integer) {
      for (float v : shownValues) {
        width = Math.max(width, Integer.toString(Math.round(v)).length());
      }
      return;
    }
    double min = Double.POSITIVE_INFINITY;
    double max = 0;
    boolean any = false;
    for (float v : shownValues) {
      if (v != 0 && Float.isFinite(v)) {
        any = true;
        double a = Math.abs((double) v);
        min = Math.min(min, a);
        max = Math.max(max, a);
        if (v != Math.ceil(v)) {
          intMode = false;
        }
      }
    }
    if (!any) {
      return;
    }
    boolean wide = max / min > 1000.0 || max > 1.0e8;
    sciMode = intMode ? wide : wide || min < 1.0e-4;
    for (float v : shownValues) {
      if (v != 0 && Float.isFinite(v)) {
        int len = sciMode ? scientific(v).length() : intMode ? fixed(v, 0).length() + 1 : fixed(v, PRECISION).length();
        width = Math.max(width, len);
      }
    }
  }

  /** PyTorch's {@code _Formatter.format}: one value, right-aligned to the common width. */
  private String format(float v) {
    String s;
    if (integer) {
      s = Integer.toString(Math.round(v));
    } else if (sciMode) {
      s = scientific(v);
    } else if (intMode) {
      s = Float.isFinite(v) ? fixed(v, 0) + "." : fixed(v, 0);
    } else {
      s = fixed(v, PRECISION);
    }
    return s.length() >= width ? s : " ".repeat(width - s.length()) + s;
  }

  /** {@code _tensor_str_with_formatter} for dimensions {@code dim..} starting at storage index {@code start}. */
  private void appendTensor(StringBuilder sb, int dim, int start, int indent) {
    if (dim == shape.length - 1) {
      appendVector(sb, dim, start, indent);
      return;
    }
    String separator = "," + "\n".repeat(shape.length - dim - 1) + " ".repeat(indent + 1);
    sb.append('[');
    for (int k = 0; k < shown(dim); k++) {
      if (k > 0) {
        sb.append(separator);
      }
      if (elided(dim) && k == EDGE_ITEMS) {
        sb.append("...").append(separator);
      }
      appendTensor(sb, dim + 1, start + index(dim, k) * strides[dim], indent + 1);
    }
    sb.append(']');
  }

  /** {@code _vector_str}: one last-dimension row, wrapped at the line width. */
  private void appendVector(StringBuilder sb, int dim, int start, int indent) {
    int perLine = Math.max(1, Math.floorDiv(LINE_WIDTH - indent, width + 2));
    String lineBreak = ",\n" + " ".repeat(indent + 1);
    sb.append('[');
    int element = 0;
    for (int k = 0; k < shown(dim); k++) {
      if (elided(dim) && k == EDGE_ITEMS) {
        element = appendElement(sb, " ...", element, perLine, lineBreak);
      }
      element = appendElement(sb, format(data[start + index(dim, k) * strides[dim]]), element, perLine, lineBreak);
    }
    sb.append(']');
  }

  private static int appendElement(StringBuilder sb, String s, int element, int perLine, String lineBreak) {
    if (element > 0) {
      sb.append(element % perLine == 0 ? lineBreak : ", ");
    }
    sb.append(s);
    return element + 1;
  }

  /** Python's {@code '{:.Nf}'.format(v)} for the float widened to double. */
  private static String fixed(float v, int decimals) {
    if (!Float.isFinite(v)) {
      return nonFinite(v);
    }
    String digits = new BigDecimal(Math.abs((double) v)).setScale(decimals, RoundingMode.HALF_EVEN).toPlainString();
    return negative(v) ? "-" + digits : digits;
  }

  /** Python's {@code '{:.4e}'.format(v)} for the float widened to double. */
  private static String scientific(float v) {
    if (!Float.isFinite(v)) {
      return nonFinite(v);
    }
    String sign = negative(v) ? "-" : "";
    if (v == 0) {
      return sign + "0." + "0".repeat(PRECISION) + "e+00";
    }
    BigDecimal rounded = new BigDecimal(Math.abs((double) v)).round(SCI_DIGITS);
    String digits = rounded.unscaledValue().toString();
    int exponent = digits.length() - 1 - rounded.scale();
    digits = digits + "0".repeat(PRECISION + 1 - digits.length());
    int e = Math.abs(exponent);
    return sign + digits.charAt(0) + "." + digits.substring(1) + (exponent < 0 ? "e-" : "e+") + (e < 10 ? "0" : "") + e;
  }

  private static String nonFinite(float v) {
    return Float.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
  }

  /** Negative, including negative zero (Python keeps the sign of -0.0 and of values rounding to 0). */
  private static boolean negative(float v) {
    return Float.floatToRawIntBits(v) < 0;
  }

  /**
   * {@code text} (which starts with {@code tensor(}) with each suffix after {@code ", "}, or on a
   * line of its own indented by 7 where it would pass column 80, and the closing parenthesis:
   * PyTorch's {@code _add_suffixes}.
   */
  static String withSuffixes(String text, java.util.List<String> suffixes) {
    StringBuilder sb = new StringBuilder(text);
    int lastLineLength = text.length() - text.lastIndexOf('\n') + 1;
    for (String suffix : suffixes) {
      if (lastLineLength + suffix.length() + 2 > LINE_WIDTH) {
        sb.append(",\n").append(" ".repeat(INDENT)).append(suffix);
        lastLineLength = INDENT + suffix.length();
      } else {
        sb.append(", ").append(suffix);
        lastLineLength += suffix.length() + 2;
      }
    }
    return sb.append(')').toString();
  }
}
