package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;

/**
 * A lookup table of {@code numEmbeddings} vectors of {@code embeddingDim} values, as PyTorch's
 * {@code nn.Embedding}: {@code forward} takes class indices of any shape (a label tensor, {@code
 * Tensor.labels(...)}: token ids, category codes) and returns their rows, {@code [*, embeddingDim]}.
 * The {@code weight [numEmbeddings, embeddingDim]} starts normally distributed, as PyTorch's; the
 * row {@link #paddingIdx} starts at zero and gets no gradient. Eager on either device (on CUDA the
 * lookup and its gradient are device kernels; {@link Ops#embedding}); compiled as the first step of a {@code @Model} whose input is the ids,
 * over a further input of ids, or over ids built from constants in forward (GPT-2's positions).
 */
public class Embedding extends Layer<Embedding.Spec> {
  /**
   * Embedding's hyper-parameters and shape rule: indices {@code [*]} to {@code [*, embeddingDim]}.
   *
   * @param paddingIdx the padding row, or -1 for none
   */
  public record Spec(int numEmbeddings, int embeddingDim, int paddingIdx) implements LayerSpec {
    public Spec {
      if (numEmbeddings <= 0 || embeddingDim <= 0) {
        throw new IllegalArgumentException("Embedding(" + numEmbeddings + ", " + embeddingDim + "): sizes must be positive");
      }
      if (paddingIdx < -1 || paddingIdx >= numEmbeddings) {
        throw new IllegalArgumentException("Embedding(" + numEmbeddings + ", " + embeddingDim + "): padding_idx " + paddingIdx
            + " is not a row (0.." + (numEmbeddings - 1) + ")");
      }
    }

    /**
     * The spec of {@code new Embedding(numEmbeddings, embeddingDim, paddingIdx)}: a negative padding
     * index counted from the end (the annotation processor builds a compiled embedding's spec here).
     */
    public static Spec of(int numEmbeddings, int embeddingDim, int paddingIdx) {
      return new Spec(numEmbeddings, embeddingDim, paddingRow("Embedding(" + numEmbeddings + ", " + embeddingDim + ")", numEmbeddings,
          paddingIdx));
    }

    @Override
    public int[] outputShape(int[] in) {
      int[] out = Arrays.copyOf(in, in.length + 1);
      out[in.length] = embeddingDim;
      return out;
    }

    /** The table's shape, {@code [numEmbeddings, embeddingDim]}: what a weight tied to it ({@link Embedding#weight(Tensor)}) must have. */
    public int[] weightShape() {
      return new int[] {numEmbeddings, embeddingDim};
    }

    @Override
    public String toString() {
      return "Embedding(" + numEmbeddings + ", " + embeddingDim + (paddingIdx >= 0 ? ", padding_idx=" + paddingIdx : "") + ")";
    }
  }

  private Tensor weight;

  public Embedding(int numEmbeddings, int embeddingDim) {
    this(new Spec(numEmbeddings, embeddingDim, -1));
  }

  /**
   * With a padding row: {@code paddingIdx} starts at zero and is never trained; a negative one counts
   * from the end, as PyTorch's ({@code -1}: the last row, printed as its index).
   */
  public Embedding(int numEmbeddings, int embeddingDim, int paddingIdx) {
    this(Spec.of(numEmbeddings, embeddingDim, paddingIdx));
  }

  /** A padding index as a row, a negative one counted from the end; {@code layer} names the layer in the error. */
  static int paddingRow(String layer, int numEmbeddings, int paddingIdx) {
    if (numEmbeddings > 0 && (paddingIdx < -numEmbeddings || paddingIdx >= numEmbeddings)) {
      throw new IllegalArgumentException(layer + ": padding_idx " + paddingIdx
          + " is not a row (0.." + (numEmbeddings - 1) + ", or -" + numEmbeddings + "..-1 from the end)");
    }
    return paddingIdx < 0 ? paddingIdx + numEmbeddings : paddingIdx;
  }

  private Embedding(Spec spec) {
    super(spec);
    int numEmbeddings = spec.numEmbeddings(), embeddingDim = spec.embeddingDim(), paddingIdx = spec.paddingIdx();
    Tensor w = Tensor.randn(numEmbeddings, embeddingDim);
    if (paddingIdx >= 0) {
      Arrays.fill(w.buffer(), paddingIdx * embeddingDim, (paddingIdx + 1) * embeddingDim, 0f);
    }
    weight = registerParameter("weight", w.requiresGrad(true));
  }

  /** The row a padding index picks, or -1 for none. */
  public int paddingIdx() {
    return spec().paddingIdx();
  }

  public Tensor weight() {
    return weight;
  }

  /**
   * Ties this table to {@code shared}, another layer's parameter of the same shape {@code [numEmbeddings,
   * embeddingDim]}, as nanoGPT's {@code self.transformer.wte.weight = self.lm_head.weight}: {@code
   * wte.weight(lmHead.weight())} in the model's constructor, where {@code lmHead} is a {@code Linear(D, V, false)}.
   * Both layers then train the one tensor (see {@link Module#shareParameter}); a padding row is not zeroed again.
   *
   * @return this layer
   * @throws IllegalArgumentException if {@code shared} is not a parameter of shape {@code [numEmbeddings, embeddingDim]}
   */
  public Embedding weight(Tensor shared) {
    weight = shareParameter("weight", "weight(...)", shared);
    return this;
  }

  @Override
  public Tensor forward(Tensor indices) {
    return Ops.embedding(indices, weight, spec().paddingIdx());
  }
}
