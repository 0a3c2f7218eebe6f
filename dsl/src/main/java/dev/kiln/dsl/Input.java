package dev.kiln.dsl;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * One sample's shape, without the batch dimension, of a further input of a {@code @Model} class: a
 * parameter after the first of the one method besides {@code forward} that takes several tensors
 * (PyTorch's {@code forward(self, x, mask)}), the first being the tensor {@code @Model(input = ...)}
 * describes. Every input shares the batch dimension N.
 *
 * <pre>{@code
 * @Model(input = {6, 8})                                   // x: [N, 6, 8]
 * public class MaskedEncoder extends Module {
 *   public Tensor forwardMasked(Tensor x, @Input({6}) Tensor mask) {   // mask: [N, 6], 1 where a token is real
 *     ...
 *     att = att.maskedFill(mask.reshape(-1, 1, 1, 6).eq(0), Float.NEGATIVE_INFINITY);
 *     ...
 *   }
 *
 *   @Override public Tensor forward(Tensor x) { ... }      // Module's contract: one input, its own body
 * }
 * }</pre>
 *
 * <p>The annotation processor compiles that method as it compiles {@code forward}, the further inputs being
 * values like {@code x} (layer calls, add, mul, cat, matmul, reshape, a masked fill's mask); the generated
 * class overrides it and checks at each call that every further input is {@code [N, ...shape]} with x's N.
 * Without the processor the method runs as written (eager mode). Retained at run time, as {@link Model}'s
 * shape is, so that eager code and tools can read it.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.PARAMETER)
public @interface Input {
  /** One sample's shape, without the batch dimension, each size at least 1: {@code {16}}, {@code {3, 8, 8}}. */
  int[] value();
}
