package dev.kiln.runtime;

/**
 * What {@link Tensor#max(int)} and {@link Tensor#min(int)} return, as PyTorch's {@code (values,
 * indices)} pair: {@code var m = outputs.max(1); m.indices()} is {@code _, predicted =
 * torch.max(outputs, 1)}.
 *
 * @param values the maxima (or minima), float, on the tape: the gradient goes to the element each
 *     came from
 * @param indices where along the dimension each was found (the first on ties, a NaN before any
 *     number), as an {@link DType#INT32} tensor
 */
public record ValuesAndIndices(Tensor values, Tensor indices) {}
