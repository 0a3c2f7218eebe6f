package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;
import java.util.Arrays;
import java.util.Locale;

/**
 * Bags of embeddings reduced to one vector each, as PyTorch's {@code nn.EmbeddingBag}: the sum,
 * mean (the default) or per-dimension maximum of the rows of {@code weight [numEmbeddings,
 * embeddingDim]} that each bag's indices pick, without making the {@code [*, embeddingDim]} lookup
 * first (the text-classification tutorial's {@code EmbeddingBag(vocab, 64)} over a batch of texts
 * of different lengths). Bags are given as PyTorch gives them: the rows of a 2-D label tensor
 * {@code [B, N]} ({@link #forward(Tensor)}), or one 1-D label tensor of every text's tokens back to
 * back and the offsets where each text starts ({@link #forward(Tensor, Tensor)}); the result is
 * {@code [B, embeddingDim]}. The weight starts normally distributed, as PyTorch's; the row {@link
 * #paddingIdx} starts at zero, is left out of every bag (and of the mean's count) and gets no
 * gradient. Eager on either device (device kernels on CUDA; {@link Ops#embeddingBag}); compiled over ids {@code [N, L]}, each
 * sample one bag (the processor refuses offsets and per-sample weights, whose bags vary in length).
 */
public class EmbeddingBag extends Layer<EmbeddingBag.Spec> {
  /** How a bag's rows are reduced. */
  public enum Mode {
    SUM,
    MEAN,
    MAX;

    /** PyTorch's name, {@code "sum"}, {@code "mean"} or {@code "max"}. */
    @Override
    public String toString() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * EmbeddingBag's hyper-parameters and shape rule: bags {@code [B, N]} to {@code [B, embeddingDim]}
   * (1-D indices need their offsets to say how many bags there are).
   *
   * @param paddingIdx the padding row, or -1 for none
   * @param includeLastOffset whether the offsets' last entry only ends the last bag, as PyTorch's
   *     {@code include_last_offset} (the offsets then have one entry more than there are bags)
   */
  public record Spec(int numEmbeddings, int embeddingDim, Mode mode, int paddingIdx, boolean includeLastOffset)
      implements LayerSpec {
    public Spec {
      if (numEmbeddings <= 0 || embeddingDim <= 0) {
        throw new IllegalArgumentException("EmbeddingBag(" + numEmbeddings + ", " + embeddingDim + "): sizes must be positive");
      }
      if (mode == null) {
        throw new IllegalArgumentException("EmbeddingBag(" + numEmbeddings + ", " + embeddingDim + "): mode is null");
      }
      if (paddingIdx < -1 || paddingIdx >= numEmbeddings) {
        throw new IllegalArgumentException("EmbeddingBag(" + numEmbeddings + ", " + embeddingDim + "): padding_idx " + paddingIdx
            + " is not a row (0.." + (numEmbeddings - 1) + ")");
      }
    }

    @Override
    public int[] outputShape(int[] in) {
      if (in.length != 2) {
        throw new ShapeException(this + " takes bags as rows [B, N] (or 1-D indices with their offsets: forward(input, offsets)), got "
            + Shapes.toString(in));
      }
      return new int[] {in[0], embeddingDim};
    }

    /** As PyTorch prints it: {@code EmbeddingBag(10, 3, mode=mean)}, then {@code padding_idx} if there is one. */
    @Override
    public String toString() {
      return "EmbeddingBag(" + numEmbeddings + ", " + embeddingDim + ", mode=" + mode
          + (paddingIdx >= 0 ? ", padding_idx=" + paddingIdx : "") + ")";
    }
  }

  private final Tensor weight;

  /** Mean bags, as PyTorch's default. */
  public EmbeddingBag(int numEmbeddings, int embeddingDim) {
    this(numEmbeddings, embeddingDim, Mode.MEAN);
  }

  public EmbeddingBag(int numEmbeddings, int embeddingDim, Mode mode) {
    super(new Spec(numEmbeddings, embeddingDim, mode, -1, false));
    weight = registerParameter("weight", Tensor.randn(numEmbeddings, embeddingDim).requiresGrad(true));
  }

  /**
   * Makes {@code row} the padding row (zeroed now, left out of bags, never trained); a negative one
   * counts from the end, as PyTorch's. Set before the first forward, once.
   */
  public EmbeddingBag paddingIdx(int row) {
    Spec s = spec();
    int n = s.numEmbeddings(), r = Embedding.paddingRow(s.toString(), n, row);
    if (s.paddingIdx() >= 0) {
      throw new IllegalStateException(s + ": the padding row is set already");
    }
    reconfigure(new Spec(n, s.embeddingDim(), s.mode(), r, s.includeLastOffset()), "padding_idx");
    Arrays.fill(weight.buffer(), weight.offset() + r * s.embeddingDim(), weight.offset() + (r + 1) * s.embeddingDim(), 0f);
    return this;
  }

  /** PyTorch's {@code include_last_offset}: the offsets end with the end of the last bag. */
  public EmbeddingBag includeLastOffset(boolean on) {
    Spec s = spec();
    reconfigure(new Spec(s.numEmbeddings(), s.embeddingDim(), s.mode(), s.paddingIdx(), on), "include_last_offset");
    return this;
  }

  /** The row left out of bags, or -1 for none. */
  public int paddingIdx() {
    return spec().paddingIdx();
  }

  public Tensor weight() {
    return weight;
  }

  /** One bag per row of the label tensor {@code [B, N]}; {@code [B, embeddingDim]}. */
  @Override
  public Tensor forward(Tensor indices) {
    return forward(indices, null, null);
  }

  /** The bags of the 1-D label tensor {@code indices}, each starting at its entry of {@code offsets}. */
  public Tensor forward(Tensor indices, Tensor offsets) {
    return forward(indices, offsets, null);
  }

  /**
   * As {@link #forward(Tensor, Tensor)}, each row scaled by its entry of {@code perSampleWeights}
   * (the indices' shape; mode {@code SUM} only, as PyTorch's) before the sum; {@code offsets} null
   * for 2-D indices.
   */
  public Tensor forward(Tensor indices, Tensor offsets, Tensor perSampleWeights) {
    markApplied();
    Spec s = spec();
    return Ops.embeddingBag(indices, offsets, weight, perSampleWeights, s.mode().toString(), s.includeLastOffset(), s.paddingIdx());
  }
}
