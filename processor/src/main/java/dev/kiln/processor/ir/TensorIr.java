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
 * @param derived how forward computes it from a buffer ({@code bias.narrow(2, 0, 4).eq(0)}), or null for a field itself
 */
public record TensorIr(String field, String key, Kind kind, int[] shape, Source source, Derived derived) {
  public TensorIr {
    shape = shape.clone();
  }

  /** A tensor field of the model (or of a block) itself. */
  public TensorIr(String field, String key, Kind kind, int[] shape, Source source) {
    this(field, key, kind, shape, source, null);
  }

  /**
   * A tensor forward computes from a buffer by constant eager steps, once per change of the buffer ({@code
   * Compiled.Derived}): a slice ({@code bias.narrow(2, 0, T)}, nanoGPT's {@code bias[:, :, :T, :T]}), a view, a comparison
   * read as 0/1 floats. Read as a buffer is (no gradient), its field {@code of} followed by {@code calls}.
   *
   * @param of the buffer's field ({@link #field()} of its TensorIr), or the parameter's for a {@link #region}
   * @param calls the eager calls after it, as Java source: {@code .narrow(2, 0, 4).eq(0.0f)}
   * @param offset for a {@link #region} of a parameter, where it starts among the parameter's values; 0 otherwise
   * @param runs for a region that is not one contiguous run, the runs of the parameter's values it reads; null otherwise
   * @param where for a where of buffers alone ({@link #where}), the values of its mask, a and b; empty otherwise
   */
  public record Derived(String of, String calls, int offset, Runs runs, java.util.List<String> where) {
    public Derived {
      where = java.util.List.copyOf(where);
    }

    /** A tensor computed from a buffer, or a region of its parameter's values ({@code runs} null: one contiguous run). */
    public Derived(String of, String calls, int offset, Runs runs) {
      this(of, calls, offset, runs, java.util.List.of());
    }

    /** A tensor computed from a buffer, or a region that is one contiguous run of its parameter's values. */
    public Derived(String of, String calls, int offset) {
      this(of, calls, offset, null);
    }
  }

  /**
   * {@code Tensor.where(mask, a, b)} of tensor fields alone (buffers, or tensors computed from buffers, and parameters as a
   * or b), as eager mode computes it: a tensor of their broadcast shape, without a batch, read as a buffer is, computed
   * again when one of them changes; with a parameter among them a parameter itself, whose gradient the compiled backward
   * returns for eager's where backward. Its {@link Derived#of} is itself (a further call on it, {@code .view(...)}, is
   * {@link #derived} from it).
   */
  public static TensorIr where(String call, TensorIr mask, TensorIr a, TensorIr b, int[] shape, Source source) {
    return new TensorIr(call, call, a.isParameter() || b.isParameter() ? Kind.PARAMETER : Kind.BUFFER, shape, source,
        new Derived(call, "", 0, null, java.util.List.of(mask.value(), a.value(), b.value())));
  }

  /** Whether it is a {@link #where} of tensor fields. */
  public boolean isWhere() {
    return derived != null && !derived.where().isEmpty();
  }

  /**
   * Where a region that is not one contiguous run lies in its parameter's values ({@code pos.narrow(2, 0, 4)} of {@code
   * [1, T, 8]}): {@code count} runs of {@code width} values, the {@code r}-th from the region's offset plus {@code r *
   * pitch}, its values in that order; with {@code groups}, those runs repeated at further strides ({@code
   * grid.narrow(2, 0, 6).narrow(1, 0, 2)} of {@code [6, 3, 8]}: 6 groups 24 apart of 2 runs 8 apart).
   *
   * @param groups the outer strides, outermost first, as pairs of a count and a pitch ({@code {6, 24}}); empty for runs at
   *     one stride
   */
  public record Runs(int count, int pitch, int width, int[] groups) {
    public Runs {
      groups = groups.clone();
    }

    /** Runs at one stride. */
    public Runs(int count, int pitch, int width) {
      this(count, pitch, width, new int[0]);
    }

    /** Whether the runs lie at more than one stride ({@link #groups}). */
    public boolean grouped() {
      return groups.length > 0;
    }

    @Override
    public int[] groups() {
      return groups.clone();
    }
  }

  /** A buffer computed from a buffer ({@link Derived}) with its shape {@code shape}. */
  public static TensorIr derived(TensorIr of, String calls, int[] shape, Source source) {
    return new TensorIr(of.field() + calls, of.key() + calls, Kind.BUFFER, shape, source, new Derived(of.field(), calls, 0));
  }

  /**
   * A parameter sliced or viewed in forward by constant eager calls whose result is one contiguous run of its values
   * ({@code pos.narrow(1, 0, T)} of a {@code [1, L, D]} table, {@code wpe.narrow(0, 0, T)}, a view): read in place, at
   * {@code offset} in the parameter's values, and its gradient added there in the parameter's (zero elsewhere, as eager's
   * narrow backward gives).
   */
  public static TensorIr region(TensorIr of, String calls, int offset, int[] shape, Source source) {
    return region(of, calls, offset, null, shape, source);
  }

  /**
   * A parameter sliced by constant eager calls into {@code runs} at one stride ({@code pos.narrow(2, 0, 4)} of a {@code [1,
   * T, 8]} table: T runs of 4 values, 8 apart): read as eager mode computes it, its gradient added to those runs of the
   * parameter's ({@link #isGathered}); with {@code runs} null, a {@link #region} of one contiguous run.
   */
  public static TensorIr region(TensorIr of, String calls, int offset, Runs runs, int[] shape, Source source) {
    return new TensorIr(of.field() + calls, of.key() + calls, Kind.PARAMETER, shape, source, new Derived(of.field(), calls, offset, runs));
  }

  /** Whether it is a {@link #region} of several runs of its parameter's values, which is not read in place. */
  public boolean isGathered() {
    return isRegion() && derived.runs() != null;
  }

  /** Whether it is a {@link #region} of a parameter (read in place), rather than a field or a tensor computed from a buffer. */
  public boolean isRegion() {
    return derived != null && kind == Kind.PARAMETER && derived.where().isEmpty();
  }

  /** Whether forward computes it from a field ({@link Derived}: from a buffer, or a parameter's {@link #region}), rather than it being one. */
  public boolean isDerived() {
    return derived != null;
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
    return (derived == null ? field : derived.of()).contains(".");
  }

  public boolean isParameter() {
    return kind == Kind.PARAMETER;
  }

  /** {@code the parameter pos [1, 6, 8]}, for messages. */
  public String describe() {
    return "the " + (isParameter() ? "parameter " : "buffer ") + field + " " + Shapes.toString(shape);
  }
}
