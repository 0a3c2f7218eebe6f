package test;

import dev.kiln.dsl.GRU;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * One initial state held in a local and read by two layers: the projection runs once, where the local is written, its
 * gradient the sum of both layers' (a GRU over the input, and one over its output, each from {@code h0}).
 */
@Model(input = {6, 5})
public class SharedState extends Module {
  final Linear proj = new Linear(5, 8);
  final GRU first = new GRU(5, 8).batchFirst(true);
  final GRU second = new GRU(8, 8).batchFirst(true);
  final Linear head = new Linear(16, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h0 = proj.apply(x.mean(1)).unsqueeze(0).sigmoid();     // [1, N, 8]
    Tensor seq = first.forwardWithState(x, h0).output();
    Tensor b = second.forwardWithState(seq, h0).h().select(0, -1);
    return head.apply(Tensor.cat(List.of(seq.select(1, -1), b), 1));
  }
}
