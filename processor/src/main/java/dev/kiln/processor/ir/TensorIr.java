package dev.kiln.processor.ir;

import dev.kiln.runtime.Shapes;

/**
 * A tensor a {@code @Model} class holds itself and its forward reads: a learned position table
 * ({@code final Tensor pos = registerParameter("pos", Tensor.zeros(1, S, D).requiresGrad(true));}), a
 * causal mask ({@code registerBuffer("mask", Tensor.ones(S, S).tril())}). Its shape is folded from the
 * declaration at compile time; its values are the object's own at run time.
 *
 * @param field the Java field that holds it
 * @param key its state-dict key: the name it is registered under, or the field's for a parameter held
 *     by a plain field ({@code Tensor.zeros(...).requiresGrad(true)})
 * @param kind whether it trains
 * @param shape its whole shape (it has no batch dimension: {@code [1, S, D]}, {@code [S, S]})
 * @param source the field, for diagnostics
 */
public record TensorIr(String field, String key, Kind kind, int[] shape, Source source) {
  public TensorIr {
    shape = shape.clone();
  }

  /** A parameter is trained (it gets a gradient); a buffer is saved in the state dict but not trained. */
  public enum Kind {
    PARAMETER,
    BUFFER
  }

  /** The name of its value among forward's values ({@code this.pos}: no local has a dot). */
  public String value() {
    return valueName(field);
  }

  /** The value name of the tensor field {@code field}. */
  public static String valueName(String field) {
    return "this." + field;
  }

  /** Whether a block holds it: its field is then a path from the model ({@code h.0.attn.bias}), not a field of the model's own. */
  public boolean inBlock() {
    return field.contains(".");
  }

  public boolean isParameter() {
    return kind == Kind.PARAMETER;
  }

  /** {@code the parameter pos [1, 6, 8]}, for messages. */
  public String describe() {
    return "the " + (isParameter() ? "parameter " : "buffer ") + field + " " + Shapes.toString(shape);
  }
}
