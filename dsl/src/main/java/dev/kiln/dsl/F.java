package dev.kiln.dsl;

import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Shapes;
import dev.kiln.runtime.Tensor;

/**
 * Functional forms of the layers, for use inside {@code forward} as PyTorch's
 * {@code torch.nn.functional}: {@code import static dev.kiln.dsl.F.*;}.
 */
public final class F {
  private F() {}

  public static Tensor relu(Tensor x) {
    return Ops.relu(x);
  }

  /** Flattens all dimensions after the batch: {@code [N, C, H, W] -> [N, C*H*W]}. */
  public static Tensor flatten(Tensor x) {
    return x.flatten(1, -1);
  }

  public static Tensor flatten(Tensor x, int startDim, int endDim) {
    return x.flatten(startDim, endDim);
  }

  /** {@code x W^T + b}; {@code bias} may be null. */
  public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
    return Ops.linear(x, weight, bias);
  }

  public static Tensor reshape(Tensor x, int... shape) {
    return x.reshape(shape);
  }

  /**
   * Cross-entropy of logits against class indices (or class probabilities of the logits' shape),
   * averaged over the batch (see {@link CrossEntropyLoss}).
   */
  public static Tensor crossEntropy(Tensor logits, Tensor target) {
    return new CrossEntropyLoss().apply(logits, target);
  }

  /** Cross-entropy with PyTorch's {@code reduction} and {@code label_smoothing}. */
  public static Tensor crossEntropy(Tensor logits, Tensor target, Reduction reduction, double labelSmoothing) {
    return new CrossEntropyLoss(reduction).labelSmoothing(labelSmoothing).apply(logits, target);
  }

  /** Cross-entropy combined as {@code reduction} says (PyTorch's {@code F.cross_entropy(..., reduction=)}). */
  public static Tensor crossEntropy(Tensor logits, Tensor target, Reduction reduction) {
    return new CrossEntropyLoss(reduction).apply(logits, target);
  }

  /** Negative log-likelihood of log-probabilities against class indices, averaged (PyTorch's {@code F.nll_loss}; {@link NLLLoss}). */
  public static Tensor nllLoss(Tensor logProbabilities, Tensor target) {
    return new NLLLoss().apply(logProbabilities, target);
  }

  /** Negative log-likelihood combined as {@code reduction} says. */
  public static Tensor nllLoss(Tensor logProbabilities, Tensor target, Reduction reduction) {
    return new NLLLoss(reduction).apply(logProbabilities, target);
  }

  /** Binary cross-entropy of logits, averaged (PyTorch's {@code F.binary_cross_entropy_with_logits}; {@link BCEWithLogitsLoss}). */
  public static Tensor binaryCrossEntropyWithLogits(Tensor logits, Tensor target) {
    return new BCEWithLogitsLoss().apply(logits, target);
  }

  /** Binary cross-entropy of logits combined as {@code reduction} says. */
  public static Tensor binaryCrossEntropyWithLogits(Tensor logits, Tensor target, Reduction reduction) {
    return new BCEWithLogitsLoss(reduction).apply(logits, target);
  }

  /** Binary cross-entropy of probabilities, averaged (PyTorch's {@code F.binary_cross_entropy}; {@link BCELoss}). */
  public static Tensor binaryCrossEntropy(Tensor probabilities, Tensor target) {
    return new BCELoss().apply(probabilities, target);
  }

  /** Binary cross-entropy of probabilities combined as {@code reduction} says. */
  public static Tensor binaryCrossEntropy(Tensor probabilities, Tensor target, Reduction reduction) {
    return new BCELoss(reduction).apply(probabilities, target);
  }

  /** Mean squared error over every element (PyTorch's {@code F.mse_loss}). */
  public static Tensor mseLoss(Tensor input, Tensor target) {
    return new MSELoss().apply(input, target);
  }

  /** Squared error combined as {@code reduction} says. */
  public static Tensor mseLoss(Tensor input, Tensor target, Reduction reduction) {
    return new MSELoss(reduction).apply(input, target);
  }

  /** Mean absolute error over every element (PyTorch's {@code F.l1_loss}). */
  public static Tensor l1Loss(Tensor input, Tensor target) {
    return new L1Loss().apply(input, target);
  }

  /** Absolute error combined as {@code reduction} says. */
  public static Tensor l1Loss(Tensor input, Tensor target, Reduction reduction) {
    return new L1Loss(reduction).apply(input, target);
  }

  /** Smooth L1 loss of beta 1, averaged (PyTorch's {@code F.smooth_l1_loss}; {@link SmoothL1Loss}). */
  public static Tensor smoothL1Loss(Tensor input, Tensor target) {
    return new SmoothL1Loss().apply(input, target);
  }

  /** Smooth L1 loss with PyTorch's {@code reduction} and {@code beta}. */
  public static Tensor smoothL1Loss(Tensor input, Tensor target, Reduction reduction, double beta) {
    return new SmoothL1Loss(reduction, beta).apply(input, target);
  }

  /** Huber loss of delta 1, averaged (PyTorch's {@code F.huber_loss}; {@link HuberLoss}). */
  public static Tensor huberLoss(Tensor input, Tensor target) {
    return new HuberLoss().apply(input, target);
  }

  /** Huber loss with PyTorch's {@code reduction} and {@code delta}. */
  public static Tensor huberLoss(Tensor input, Tensor target, Reduction reduction, double delta) {
    return new HuberLoss(reduction, delta).apply(input, target);
  }

  // ---- convolution and pooling

  /** 2-d convolution, stride 1, no padding: {@code [N, C, H, W]} with weight {@code [O, C, kH, kW]}; {@code bias [O]} may be null. */
  public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias) {
    return conv2d(x, weight, bias, 1, 0);
  }

  /** 2-d convolution with the same stride and zero padding along height and width; {@code bias} may be null. */
  public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding) {
    return Ops.conv2d(x, weight, bias, stride, stride, padding, padding);
  }

  /**
   * PyTorch's {@code F.conv2d(x, weight, bias, stride, padding, dilation, groups)} (the same along height and width):
   * weight {@code [O, C / groups, kH, kW]}.
   */
  public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, int dilation, int groups) {
    return Ops.conv2d(x, weight, bias, stride, stride, padding, padding, dilation, dilation, groups);
  }

  /** Max pooling over {@code kernel x kernel} windows moved by {@code kernel}: {@code [N, C, 28, 28] -> [N, C, 14, 14]} for 2. */
  public static Tensor maxPool2d(Tensor x, int kernel) {
    return maxPool2d(x, kernel, kernel);
  }

  /** Max pooling over {@code kernel x kernel} windows moved by {@code stride}, no padding. */
  public static Tensor maxPool2d(Tensor x, int kernel, int stride) {
    return maxPool2d(x, kernel, stride, 0, false);
  }

  /** Max pooling as PyTorch's {@code F.max_pool2d(x, kernel, stride, padding, ceil_mode=ceilMode)}. */
  public static Tensor maxPool2d(Tensor x, int kernel, int stride, int padding, boolean ceilMode) {
    return Ops.maxPool2d(x, kernel, kernel, stride, stride, padding, padding, ceilMode);
  }

  // ---- normalisation, dropout, activations

  /**
   * {@code F.group_norm(x, num_groups, weight, bias, eps)}: x {@code [N, C, *]} normalised per sample over each group of
   * {@code C / groups} channels, then scaled and shifted per channel by {@code weight} and {@code bias} ({@code [C]},
   * either null for none), as {@link GroupNorm} ({@link Ops#groupNorm}).
   */
  public static Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, double eps) {
    return Ops.groupNorm(x, groups, weight, bias, eps);
  }

  /** {@code F.group_norm(x, num_groups)}: no weight or bias, eps 1e-5. */
  public static Tensor groupNorm(Tensor x, int groups) {
    return Ops.groupNorm(x, groups, null, null, 1e-5);
  }

  /** PyTorch's {@code F.avg_pool2d(x, kernel)}: stride = kernel, no padding. */
  public static Tensor avgPool2d(Tensor x, int kernel) {
    return Ops.avgPool2d(x, kernel, kernel, 0, false, true);
  }

  /** {@code F.avg_pool2d(x, kernel, stride)}. */
  public static Tensor avgPool2d(Tensor x, int kernel, int stride) {
    return Ops.avgPool2d(x, kernel, stride, 0, false, true);
  }

  /** {@code F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad)}. */
  public static Tensor avgPool2d(Tensor x, int kernel, int stride, int padding, boolean ceilMode, boolean countIncludePad) {
    return Ops.avgPool2d(x, kernel, stride, padding, ceilMode, countIncludePad);
  }

  /**
   * {@code F.interpolate(x, scale_factor=s)} in its default mode, 'nearest', by a whole factor: {@code
   * [N, C, H, W] -> [N, C, H s, W s]}, as {@link Upsample}.
   */
  public static Tensor interpolate(Tensor x, int scaleFactor) {
    return Ops.upsampleNearest(x, scaleFactor, scaleFactor);
  }

  /** {@code F.interpolate(x, scale_factor=(sh, sw))}, mode 'nearest', whole factors. */
  public static Tensor interpolate(Tensor x, int scaleH, int scaleW) {
    return Ops.upsampleNearest(x, scaleH, scaleW);
  }

  /** {@code F.adaptive_avg_pool2d(x, size)}: a {@code size x size} output; 1 is global average pooling. */
  public static Tensor adaptiveAvgPool2d(Tensor x, int size) {
    return Ops.adaptiveAvgPool2d(x, size, size);
  }

  /** {@code F.adaptive_avg_pool2d(x, (outH, outW))}. */
  public static Tensor adaptiveAvgPool2d(Tensor x, int outH, int outW) {
    return Ops.adaptiveAvgPool2d(x, outH, outW);
  }

  // 1-d convolution and pooling over [N, C, L] (or one sample [C, L]), as PyTorch's F.conv1d, F.max_pool1d, ...

  /** PyTorch's {@code F.conv1d(x, weight, bias)}: weight {@code [O, C, k]}, bias {@code [O]} or null. */
  public static Tensor conv1d(Tensor x, Tensor weight, Tensor bias) {
    return conv1d(x, weight, bias, 1, 0);
  }

  /** PyTorch's {@code F.conv1d(x, weight, bias, stride, padding)}. */
  public static Tensor conv1d(Tensor x, Tensor weight, Tensor bias, int stride, int padding) {
    return Ops.conv1d(x, weight, bias, stride, padding);
  }

  /** PyTorch's {@code F.conv1d(x, weight, bias, stride, padding, dilation, groups)}: weight {@code [O, C / groups, k]}. */
  public static Tensor conv1d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, int dilation, int groups) {
    return Ops.conv1d(x, weight, bias, stride, padding, dilation, groups);
  }

  /** PyTorch's {@code F.max_pool1d(x, kernel)}: the stride is the kernel size. */
  public static Tensor maxPool1d(Tensor x, int kernel) {
    return maxPool1d(x, kernel, kernel);
  }

  /** PyTorch's {@code F.max_pool1d(x, kernel, stride)}. */
  public static Tensor maxPool1d(Tensor x, int kernel, int stride) {
    return maxPool1d(x, kernel, stride, 0, false);
  }

  /** PyTorch's {@code F.max_pool1d(x, kernel, stride, padding, ceil_mode=ceilMode)}. */
  public static Tensor maxPool1d(Tensor x, int kernel, int stride, int padding, boolean ceilMode) {
    return Ops.maxPool1d(x, kernel, stride, padding, ceilMode);
  }

  /** PyTorch's {@code F.avg_pool1d(x, kernel)}: the stride is the kernel size. */
  public static Tensor avgPool1d(Tensor x, int kernel) {
    return avgPool1d(x, kernel, kernel);
  }

  /** PyTorch's {@code F.avg_pool1d(x, kernel, stride)}. */
  public static Tensor avgPool1d(Tensor x, int kernel, int stride) {
    return avgPool1d(x, kernel, stride, 0, false, true);
  }

  /** PyTorch's {@code F.avg_pool1d(x, kernel, stride, padding, ceil_mode, count_include_pad)}. */
  public static Tensor avgPool1d(Tensor x, int kernel, int stride, int padding, boolean ceilMode, boolean countIncludePad) {
    return Ops.avgPool1d(x, kernel, stride, padding, ceilMode, countIncludePad);
  }

  /** PyTorch's {@code F.adaptive_avg_pool1d(x, size)}: {@code [N, C, L] -> [N, C, size]}. */
  public static Tensor adaptiveAvgPool1d(Tensor x, int size) {
    return Ops.adaptiveAvgPool1d(x, size);
  }

  /** {@code 1 / (1 + exp(-x))} element-wise; any shape. */
  public static Tensor sigmoid(Tensor x) {
    return Ops.sigmoid(x);
  }

  /** GELU, {@code x * Phi(x)} (PyTorch's {@code F.gelu}); see {@link Ops#gelu}. */
  public static Tensor gelu(Tensor x) {
    return Ops.gelu(x);
  }

  /**
   * GELU with PyTorch's {@code approximate}: {@code "none"} (exact) or {@code "tanh"} ({@code F.gelu(x,
   * approximate='tanh')}); see {@link Ops#gelu(Tensor, String)}.
   */
  public static Tensor gelu(Tensor x, String approximate) {
    return Ops.gelu(x, approximate);
  }

  /** {@code x * sigmoid(x)} (PyTorch's {@code F.silu}), as {@link SiLU}. */
  public static Tensor silu(Tensor x) {
    return Ops.silu(x);
  }

  /** {@code tanh(x)} element-wise; any shape. */
  public static Tensor tanh(Tensor x) {
    return Ops.tanh(x);
  }

  /** {@code x > 0 ? x : negativeSlope * x} element-wise; any shape. */
  public static Tensor leakyRelu(Tensor x, double negativeSlope) {
    return Ops.leakyRelu(x, negativeSlope);
  }

  /** Softplus with beta 1 and threshold 20 (PyTorch's {@code F.softplus(x)}), as {@link Softplus}. */
  public static Tensor softplus(Tensor x) {
    return Ops.softplus(x, 1, 20);
  }

  /** {@code log(1 + exp(beta x)) / beta}, linear past {@code beta x > threshold}: {@code F.softplus(x, beta, threshold)}. */
  public static Tensor softplus(Tensor x, double beta, double threshold) {
    return Ops.softplus(x, beta, threshold);
  }

  /** ELU with alpha 1 (PyTorch's {@code F.elu(x)}), as {@link ELU}. */
  public static Tensor elu(Tensor x) {
    return Ops.elu(x, 1.0);
  }

  /** {@code x > 0 ? x : alpha (exp(x) - 1)}: {@code F.elu(x, alpha)}. */
  public static Tensor elu(Tensor x, double alpha) {
    return Ops.elu(x, alpha);
  }

  /** {@code x} limited to [-1, 1] (PyTorch's {@code F.hardtanh(x)}), as {@link Hardtanh}: no gradient at the bounds. */
  public static Tensor hardtanh(Tensor x) {
    return Ops.hardtanh(x, -1, 1);
  }

  /** {@code x} limited to {@code [min, max]}: {@code F.hardtanh(x, min_val, max_val)} ({@link Ops#hardtanh}). */
  public static Tensor hardtanh(Tensor x, double min, double max) {
    return Ops.hardtanh(x, min, max);
  }

  // ------------------------------------------------------------------ more activations and rearrangements (PyTorch's F names)

  /** {@code min(max(x, 0), 6)}: {@code F.relu6}, as {@link ReLU6}. */
  public static Tensor relu6(Tensor x) {
    return Ops.relu6(x);
  }

  /** {@code x min(max(x + 3, 0), 6) / 6}: {@code F.hardswish}, as {@link Hardswish}. */
  public static Tensor hardswish(Tensor x) {
    return Ops.hardswish(x);
  }

  /** {@code min(max(x + 3, 0), 6) / 6}: {@code F.hardsigmoid}, as {@link Hardsigmoid}. */
  public static Tensor hardsigmoid(Tensor x) {
    return Ops.hardsigmoid(x);
  }

  /** {@code x tanh(softplus(x))}: {@code F.mish}, as {@link Mish}. */
  public static Tensor mish(Tensor x) {
    return Ops.mish(x);
  }

  /** {@code F.selu}, as {@link SELU}. */
  public static Tensor selu(Tensor x) {
    return Ops.selu(x);
  }

  /** {@code F.celu(x)}: alpha 1, as {@link CELU}. */
  public static Tensor celu(Tensor x) {
    return Ops.celu(x, 1.0);
  }

  /** {@code x > 0 ? x : alpha (exp(x / alpha) - 1)}: {@code F.celu(x, alpha)}. */
  public static Tensor celu(Tensor x, double alpha) {
    return Ops.celu(x, alpha);
  }

  /** {@code x / (1 + |x|)}: {@code F.softsign}, as {@link Softsign}. */
  public static Tensor softsign(Tensor x) {
    return Ops.softsign(x);
  }

  /** {@code log(sigmoid(x))}, computed stably: {@code F.logsigmoid}, as {@link LogSigmoid}. */
  public static Tensor logsigmoid(Tensor x) {
    return Ops.logSigmoid(x);
  }

  /** {@code x - tanh(x)}: {@code F.tanhshrink}, as {@link Tanhshrink}. */
  public static Tensor tanhshrink(Tensor x) {
    return Ops.tanhshrink(x);
  }

  /**
   * {@code x > 0 ? x : weight * x}: {@code F.prelu(x, weight)}, as {@link PReLU}; {@code weight} has one entry, or one per
   * channel (dimension 1 of x).
   */
  public static Tensor prelu(Tensor x, Tensor weight) {
    return Ops.prelu(x, weight); // one kernel each way, the slopes read where they live (as a compiled forward computes it, to the bit)
  }

  /** {@code a * sigmoid(b)} of x's halves along the last dimension: {@code F.glu(x)}, as {@link GLU}. */
  public static Tensor glu(Tensor x) {
    return glu(x, -1);
  }

  /** {@code a * sigmoid(b)} of x's halves {@code a, b} along {@code dim}: {@code F.glu(x, dim)}. */
  public static Tensor glu(Tensor x, int dim) {
    int d = Shapes.normalizeDim(dim, x.shape().length);
    int size = x.shape()[d];
    if (size % 2 != 0) {
      throw new IllegalArgumentException("glu: halving dimension must be even, but dimension " + d + " is size " + size + " (input "
          + Shapes.toString(x.shape()) + ")");
    }
    return Ops.mul(Ops.narrow(x, d, 0, size / 2), Ops.sigmoid(Ops.narrow(x, d, size / 2, size / 2)));
  }

  /** Dimension {@code dim} split into {@code sizes} (one may be -1): {@code torch.unflatten(x, dim, sizes)}, as {@link Unflatten}. */
  public static Tensor unflatten(Tensor x, int dim, int... sizes) {
    return x.reshape(new Unflatten.Spec(dim, sizes).outputShape(x.shape()));
  }

  /** The softmax of {@code -x} along {@code dim}: {@code F.softmin(x, dim)}, as {@link Softmin}. */
  public static Tensor softmin(Tensor x, int dim) {
    return Ops.softmax(Ops.neg(x), dim);
  }

  /** {@code [*, C r^2, H, W] -> [*, C, H r, W r]}: {@code F.pixel_shuffle(x, r)}, as {@link PixelShuffle}. */
  public static Tensor pixelShuffle(Tensor x, int upscaleFactor) {
    int r = upscaleFactor;
    int[] out = new PixelShuffle.Spec(r).outputShape(x.shape());
    int n = out.length, c = out[n - 3], h = out[n - 2] / r, w = out[n - 1] / r;
    Tensor split = x.reshape(-1, c, r, r, h, w); // [B, C, r, r, H, W] -> [B, C, H, r, W, r]
    return Ops.permute(split, 0, 1, 4, 2, 5, 3).reshape(out);
  }

  /** {@code [*, C, H r, W r] -> [*, C r^2, H, W]}: {@code F.pixel_unshuffle(x, r)}, as {@link PixelUnshuffle}. */
  public static Tensor pixelUnshuffle(Tensor x, int downscaleFactor) {
    int r = downscaleFactor;
    int[] in = x.shape();
    int[] out = new PixelUnshuffle.Spec(r).outputShape(in);
    int n = in.length, c = in[n - 3], h = out[n - 2], w = out[n - 1];
    Tensor split = x.reshape(-1, c, h, r, w, r); // [B, C, H, r, W, r] -> [B, C, r, r, H, W]
    return Ops.permute(split, 0, 1, 3, 5, 2, 4).reshape(out);
  }

  // ------------------------------------------------------------------ more losses (PyTorch's F names; the mean by default)

  /** {@code F.kl_div(input, target)}: log-probabilities against probabilities, the mean over every element ({@link KLDivLoss}). */
  public static Tensor klDiv(Tensor input, Tensor target) {
    return klDiv(input, target, Reduction.MEAN, false);
  }

  /** {@code F.kl_div(input, target, reduction, log_target)}; {@link #klDivBatchMean} for {@code 'batchmean'}. */
  public static Tensor klDiv(Tensor input, Tensor target, Reduction reduction, boolean logTarget) {
    return new KLDivLoss(reduction, logTarget).apply(input, target);
  }

  /** {@code F.kl_div(input, target, reduction='batchmean', log_target)}: the summed loss over the batch size. */
  public static Tensor klDivBatchMean(Tensor input, Tensor target, boolean logTarget) {
    return KLDivLoss.batchMean(logTarget).apply(input, target);
  }

  /** {@code F.margin_ranking_loss(input1, input2, target, margin, reduction)}, as {@link MarginRankingLoss}. */
  public static Tensor marginRankingLoss(Tensor input1, Tensor input2, Tensor target, double margin, Reduction reduction) {
    return Loss.reduce(MarginRankingLoss.perElement(input1, input2, target, margin), reduction);
  }

  /** {@code F.cosine_embedding_loss(input1, input2, target, margin, reduction)}, as {@link CosineEmbeddingLoss}. */
  public static Tensor cosineEmbeddingLoss(Tensor input1, Tensor input2, Tensor target, double margin, Reduction reduction) {
    return Loss.reduce(CosineEmbeddingLoss.perSample(input1, input2, target, margin), reduction);
  }

  /** {@code F.triplet_margin_loss(anchor, positive, negative)}: margin 1, p 2, eps 1e-6, no swap, the mean. */
  public static Tensor tripletMarginLoss(Tensor anchor, Tensor positive, Tensor negative) {
    return tripletMarginLoss(anchor, positive, negative, 1.0, 2.0, 1e-6, false, Reduction.MEAN);
  }

  /** {@code F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, reduction)}, as {@link TripletMarginLoss}. */
  public static Tensor tripletMarginLoss(Tensor anchor, Tensor positive, Tensor negative, double margin, double p, double eps,
      boolean swap, Reduction reduction) {
    return Loss.reduce(TripletMarginLoss.perSample(anchor, positive, negative, margin, p, eps, swap), reduction);
  }

  /** {@code F.soft_margin_loss(input, target, reduction)}, as {@link SoftMarginLoss}. */
  public static Tensor softMarginLoss(Tensor input, Tensor target, Reduction reduction) {
    return Loss.reduce(SoftMarginLoss.perElement(input, target), reduction);
  }

  /** {@code F.multilabel_soft_margin_loss(input, target, weight, reduction)} ({@code weight} may be null), as {@link MultiLabelSoftMarginLoss}. */
  public static Tensor multilabelSoftMarginLoss(Tensor input, Tensor target, Tensor weight, Reduction reduction) {
    return Loss.reduce(MultiLabelSoftMarginLoss.perSample(input, target, weight), reduction);
  }

  /** {@code F.gaussian_nll_loss(input, target, var, full, eps, reduction)}, as {@link GaussianNLLLoss}. */
  public static Tensor gaussianNllLoss(Tensor input, Tensor target, Tensor var, boolean full, double eps, Reduction reduction) {
    return Loss.reduce(GaussianNLLLoss.perElement(input, target, var, full, eps), reduction);
  }

  /** {@code F.poisson_nll_loss(input, target, log_input, full, eps, reduction)}, as {@link PoissonNLLLoss}. */
  public static Tensor poissonNllLoss(Tensor input, Tensor target, boolean logInput, boolean full, double eps, Reduction reduction) {
    return Loss.reduce(PoissonNLLLoss.perElement(input, target, logInput, full, eps), reduction);
  }

  /** Softmax along {@code dim} (negative counts from the end); the output has x's shape. */
  public static Tensor softmax(Tensor x, int dim) {
    return Ops.softmax(x, dim);
  }

  /** {@code log(softmax(x, dim))}, computed stably; the output has x's shape. */
  public static Tensor logSoftmax(Tensor x, int dim) {
    return Ops.logSoftmax(x, dim);
  }

  /**
   * Inverted dropout: with {@code training}, zeroes each element with probability {@code p} and
   * scales the rest by {@code 1 / (1 - p)}; without it, returns x. Pass {@code isTraining()} from
   * inside a module's {@code forward}.
   */
  public static Tensor dropout(Tensor x, double p, boolean training) {
    return Ops.dropout(x, p, training);
  }

  /** Channel dropout ({@code F.dropout2d}), as {@link Dropout2d}: whole channel maps of {@code [N, C, H, W]} zeroed in training. */
  public static Tensor dropout2d(Tensor x, double p, boolean training) {
    return Ops.dropout2d(x, p, training);
  }

  /** The rows of {@code weight [num, dim]} that the label tensor {@code indices} picks ({@code F.embedding}): {@code [*, dim]}. */
  public static Tensor embedding(Tensor indices, Tensor weight) {
    return Ops.embedding(indices, weight, -1);
  }

  /**
   * Bags of {@code weight}'s rows reduced by {@code mode} ({@code F.embedding_bag}): one bag per row
   * of 2-D {@code indices} ({@code offsets} null), or the runs of 1-D {@code indices} starting at
   * {@code offsets}; {@code [B, dim]}. See {@link EmbeddingBag} and {@link Ops#embeddingBag}.
   */
  public static Tensor embeddingBag(Tensor indices, Tensor weight, Tensor offsets, EmbeddingBag.Mode mode) {
    return Ops.embeddingBag(indices, offsets, weight, null, mode.toString(), false, -1);
  }

  /**
   * {@code a + b}, broadcast as PyTorch's ({@link Ops#add}). In a compiled forward: two values of one
   * shape (a residual connection), or one repeated over the other along a run of dimensions.
   */
  public static Tensor add(Tensor a, Tensor b) {
    return Ops.add(a, b);
  }

  /**
   * {@code a * b} element-wise, broadcast as {@link #add}: a gate, or a squeeze-and-excitation scale
   * {@code [N, C, 1, 1]} over {@code [N, C, H, W]}.
   */
  public static Tensor mul(Tensor a, Tensor b) {
    return Ops.mul(a, b);
  }

  /**
   * {@code a - b}, broadcast as {@link #add} ({@link Ops#sub}). In a compiled forward: two values of one
   * shape, one repeated over the other (a per-channel mean {@code [N, C, 1, 1]} taken from {@code [N, C, H, W]}),
   * or a tensor field repeated over the batch.
   */
  public static Tensor sub(Tensor a, Tensor b) {
    return Ops.sub(a, b);
  }

  /**
   * {@code a / b} element-wise, broadcast as {@link #add} ({@link Ops#div}): dividing by a gate
   * {@code [N, 1, H, W]} or a norm. Compiled as {@link #sub} is, with PyTorch's true quotient and gradients.
   */
  public static Tensor div(Tensor a, Tensor b) {
    return Ops.div(a, b);
  }

  /**
   * Sums along {@code dim} (negative counts from the end), which is removed: PyTorch's
   * {@code torch.sum(x, dim)} ({@link Tensor#sum(int)}). In a compiled forward the dimension is one
   * after the batch.
   */
  public static Tensor sum(Tensor x, int dim) {
    return x.sum(dim);
  }

  /** Sums along {@code dim}, kept with size 1 when {@code keepDim}: {@code torch.sum(x, dim, keepdim)}. */
  public static Tensor sum(Tensor x, int dim, boolean keepDim) {
    return x.sum(dim, keepDim);
  }

  /**
   * Sums over several dimensions at once, which are removed: PyTorch's {@code torch.sum(x, dim=(2,
   * 3))} is {@code sum(x, new int[] {2, 3})} ({@link Tensor#sum(int[])}: any order, negative counting
   * from the end, none repeated). In a compiled forward the dimensions are after the batch, and the
   * sum is one pass forward and one backward.
   */
  public static Tensor sum(Tensor x, int[] dims) {
    return x.sum(dims);
  }

  /** Sums over several dimensions, kept with size 1 when {@code keepDim}: {@code torch.sum(x, dim=(2, 3), keepdim=True)}. */
  public static Tensor sum(Tensor x, int[] dims, boolean keepDim) {
    return x.sum(dims, keepDim);
  }

  /**
   * Entry {@code index} along {@code dim}, which is removed (negative counts from the end): PyTorch's
   * {@code x.select(dim, index)}, {@code x[:, -1]}; a sequence model's last step is {@code select(out, 1, -1)}
   * ({@link Tensor#select}). Compiled too, along a dimension after the batch.
   */
  public static Tensor select(Tensor x, int dim, int index) {
    return x.select(dim, index);
  }

  /**
   * The {@code length} entries along {@code dim} from {@code start} (negative counts from the end):
   * PyTorch's {@code torch.narrow(x, dim, start, length)} ({@link Tensor#narrow}). Compiled too, along a
   * dimension after the batch.
   */
  public static Tensor narrow(Tensor x, int dim, int start, int length) {
    return x.narrow(dim, start, length);
  }

  /**
   * Means along {@code dim}, which is removed: PyTorch's {@code torch.mean(x, dim)} ({@link Tensor#mean(int)}),
   * a transformer classifier's pooling over its tokens ({@code mean(x, 1)}: {@code [N, S, D] -> [N, D]}).
   */
  public static Tensor mean(Tensor x, int dim) {
    return x.mean(dim);
  }

  /** Means along {@code dim}, kept with size 1 when {@code keepDim}: {@code torch.mean(x, dim, keepdim)}. */
  public static Tensor mean(Tensor x, int dim, boolean keepDim) {
    return x.mean(dim, keepDim);
  }

  /**
   * Means over several dimensions at once, which are removed: PyTorch's {@code torch.mean(x, dim=(2,
   * 3))}, global average pooling of {@code [N, C, H, W]} to {@code [N, C]}, is {@code mean(x, new
   * int[] {2, 3})} ({@link Tensor#mean(int[])}); compiled too, over dimensions after the batch.
   */
  public static Tensor mean(Tensor x, int[] dims) {
    return x.mean(dims);
  }

  /** Means over several dimensions, kept with size 1 when {@code keepDim}: {@code torch.mean(x, dim=(2, 3), keepdim=True)}. */
  public static Tensor mean(Tensor x, int[] dims, boolean keepDim) {
    return x.mean(dims, keepDim);
  }

  /**
   * {@code x * factor} element-wise for a constant factor, rounded to float first as PyTorch takes a
   * Python float ({@link Tensor#mul(double)}): attention's {@code scores * (1 / sqrt(d))}. In a
   * compiled forward the factor must be a constant ({@code static final double SCALE = 0.125;},
   * literals, {@code Math.sqrt} of constants); a matmul before or after takes it into its product.
   */
  public static Tensor mul(Tensor x, double factor) {
    return x.mul(factor);
  }

  /** {@code x / divisor} for a constant divisor, as {@code x * (1 / divisor)} ({@link Tensor#div(double)}); see {@link #mul(Tensor, double)}. */
  public static Tensor div(Tensor x, double divisor) {
    return x.div(divisor);
  }

  /**
   * {@code value} where {@code mask} is nonzero, {@code x} elsewhere: PyTorch's {@code x.masked_fill(mask, value)}
   * ({@link Tensor#maskedFill}), the mask broadcast over x's leading dimensions. A causal mask as GPT
   * writes it: {@code maskedFill(att, mask.eq(0), Float.NEGATIVE_INFINITY)} with {@code mask} a buffer
   * {@code registerBuffer("mask", Tensor.ones(S, S).tril())}. In a compiled forward the mask is a buffer
   * of the model, as it is or compared with a constant ({@code mask.eq(0)}), and the value a constant.
   */
  public static Tensor maskedFill(Tensor x, Tensor mask, float value) {
    return x.maskedFill(mask, value);
  }

  /**
   * {@code a @ b}, PyTorch's {@code torch.matmul} ({@link Ops#matmul}): the last two dimensions
   * multiply as matrices, those before are batches ({@code [N, S, D] @ [N, D, T] -> [N, S, T]},
   * {@code [N, H, S, Dh] @ [N, H, Dh, T]}). In a compiled forward both are values of the graph of
   * one rank (3 or more) and equal batch dimensions; a {@code transpose(-2, -1)} of an operand is
   * folded into the product (no copy), and so is a constant scale before or after it. Or {@code b}
   * is a tensor field of the model {@code [K, M]}, a weight by hand ({@code nn.Parameter}), that
   * multiplies every row of {@code a} ({@code [N, K]}, {@code [N, S, K]}): one GEMM over the batch's rows.
   */
  public static Tensor matmul(Tensor a, Tensor b) {
    return Ops.matmul(a, b);
  }

  /**
   * {@code x} with dimensions {@code d0} and {@code d1} swapped (negative counting from the end), as
   * PyTorch's {@code x.transpose(d0, d1)}; a copy ({@link Tensor#transpose}). Multi-head attention's
   * {@code transpose(reshape(q, -1, S, H, Dh), 1, 2)} gives {@code [N, H, S, Dh]}. In a compiled forward
   * the batch (dimension 0) stays where it is.
   */
  public static Tensor transpose(Tensor x, int d0, int d1) {
    return x.transpose(d0, d1);
  }

  /**
   * {@code x} with its dimensions reordered as PyTorch's {@code x.permute(dims)}: dimension {@code i}
   * of the result is {@code x}'s {@code dims[i]}; a copy ({@link Tensor#permute}). In a compiled
   * forward the batch stays first ({@code permute(x, 0, 2, 1, 3)}).
   */
  public static Tensor permute(Tensor x, int... dims) {
    return x.permute(dims);
  }

  // ---- padding, normalising, similarities, one-hot

  /**
   * {@code x} padded with zeros, PyTorch's {@code F.pad(x, pad)} in its constant mode: {@code pad}
   * holds (before, after) pairs from the last dimension backwards ({@code pad(x, new int[] {1, 1,
   * 2, 2})} pads W by 1 and H by 2 on each side of {@code [N, C, H, W]}); a negative count crops.
   * See {@link Ops#pad}.
   */
  public static Tensor pad(Tensor x, int[] pad) {
    return Ops.pad(x, pad, 0f);
  }

  /** {@code F.pad(x, pad, value=value)}: padded with {@code value}. */
  public static Tensor pad(Tensor x, int[] pad, float value) {
    return Ops.pad(x, pad, value);
  }

  /**
   * {@code F.pad(x, pad, mode=mode)}: {@code "constant"} (zeros), {@code "reflect"}, {@code "replicate"} or {@code "circular"}
   * over the dimensions after the first ({@code pad(x, new int[] {4, 4, 4, 4}, "reflect")} of {@code [N, C, H, W]}); eager or
   * compiled. See {@link Ops#pad(Tensor, int[], String)}.
   */
  public static Tensor pad(Tensor x, int[] pad, String mode) {
    return Ops.pad(x, pad, mode);
  }

  /** Each row of {@code x} along dimension 1 scaled to 2-norm 1 (PyTorch's {@code F.normalize(x)}: p 2, dim 1, eps 1e-12). */
  public static Tensor normalize(Tensor x) {
    return Ops.normalize(x, 2f, 1, 1e-12f);
  }

  /** {@code x / max(||x||_p, eps)} along {@code dim}: {@code F.normalize(x, p, dim, eps)} ({@link Ops#normalize}). */
  public static Tensor normalize(Tensor x, double p, int dim, double eps) {
    return Ops.normalize(x, (float) p, dim, (float) eps);
  }

  /** Cosine similarity along dimension 1 with eps 1e-8 (PyTorch's {@code F.cosine_similarity(a, b)}). */
  public static Tensor cosineSimilarity(Tensor a, Tensor b) {
    return Ops.cosineSimilarity(a, b, 1, 1e-8f);
  }

  /**
   * The cosine of the angle between {@code a} and {@code b} along {@code dim}, which is removed:
   * PyTorch 1.13's {@code F.cosine_similarity(a, b, dim, eps)}, each norm clamped below at eps
   * ({@link Ops#cosineSimilarity}).
   */
  public static Tensor cosineSimilarity(Tensor a, Tensor b, int dim, double eps) {
    return Ops.cosineSimilarity(a, b, dim, (float) eps);
  }

  /**
   * Class indices ({@code Tensor.labels}) as one-hot float rows {@code [*, numClasses]}: PyTorch's
   * {@code F.one_hot(labels, num_classes).float()}; -1 counts the classes from the largest label
   * ({@link Ops#oneHot}).
   */
  public static Tensor oneHot(Tensor labels, int numClasses) {
    return Ops.oneHot(labels, numClasses);
  }

  // ---- attention (the attention branch's section) ----

  /**
   * PyTorch 2's {@code F.scaled_dot_product_attention(q, k, v)}: {@code softmax(q k^T / sqrt(E)) v} over the last two
   * dimensions, query {@code [..., L, E]}, key {@code [..., S, E]}, value {@code [..., S, Ev]} (the leading dimensions
   * equal, e.g. {@code [N, heads, L, E]}), output {@code [..., L, Ev]}; gradients reach q, k and v. Computed with the
   * ops the hand-written form uses ({@code q.matmul(k.transpose(-2, -1)).mul(scale).softmax(-1).matmul(v)}), so eager
   * mode fuses it the same way (the key read in place, the scale inside the softmax).
   */
  public static Tensor scaledDotProductAttention(Tensor q, Tensor k, Tensor v) {
    return scaledDotProductAttention(q, k, v, null, 0, false);
  }

  /**
   * PyTorch 2's {@code F.scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)}.
   *
   * <p>{@code attnMask} (or null) is a <b>float</b> mask added to the scaled scores, broadcast to {@code [..., L, S]}:
   * 0 where a query may attend, {@code -inf} where not (or any bias). Kiln has no boolean tensors, so PyTorch's
   * boolean mask (where {@code True} means "may attend") becomes {@code F.attentionMask(allowed.logicalNot())}:
   * {@link #attentionMask} turns a 0/1 mask whose 1 marks what is <i>blocked</i> into 0/-inf. A 0/1 mask passed
   * as it is would be added as numbers. {@code isCausal} blocks every key after the query's position (the upper
   * triangle of {@code [L, S]} above the diagonal, as PyTorch) and may not be given with a mask. Dropout with
   * probability {@code dropoutP} is applied to the attention weights whenever it is positive, as PyTorch's
   * function does: pass {@code isTraining() ? p : 0} from a module's forward. A row whose keys are all blocked
   * gives NaN, as in PyTorch.
   *
   * @throws ShapeException naming the shapes when q, k and v (or the mask) do not fit together
   */
  public static Tensor scaledDotProductAttention(Tensor q, Tensor k, Tensor v, Tensor attnMask, double dropoutP,
      boolean isCausal) {
    return Attention.compute("scaledDotProductAttention", q, k, v, attnMask, dropoutP, isCausal).output();
  }

  /**
   * A 0/1 mask whose 1 marks a position that may not be attended to (PyTorch's boolean {@code attn_mask} and
   * {@code key_padding_mask} of {@code nn.MultiheadAttention} and {@code nn.TransformerEncoder}, {@code True} = blocked)
   * as the float mask Kiln's attention adds: 0 where the mask is 0, {@code -inf} where it is nonzero. E.g. padding:
   * {@code F.attentionMask(tokens.eq(PAD))}; a causal mask: {@code F.attentionMask(Tensor.ones(L, L).triu(1))}.
   */
  public static Tensor attentionMask(Tensor blocked) {
    return Attention.additive(blocked);
  }
}
