package test;

import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * An encoder with a padding mask returning several outputs as an array: the pooled sentence and its tokens,
 * the padding tokens zero.
 */
@Model(input = {5, 4})
public class MaskedTokens extends Module {
  static final int S = 5;
  final Linear embed = new Linear(4, 6);
  final Linear head = new Linear(6, 2);

  public Tensor[] forwardMasked(Tensor x, @Input({S}) Tensor mask) {
    Tensor tokens = relu(embed.apply(x)).maskedFill(mask.reshape(-1, S, 1).eq(0), 0f); // [N, 5, 6]
    return new Tensor[] {head.apply(tokens.mean(1)), tokens};                         // [N, 2], [N, 5, 6]
  }

  @Override
  public Tensor forward(Tensor x) {
    return head.apply(relu(embed.apply(x)).mean(1));
  }
}
