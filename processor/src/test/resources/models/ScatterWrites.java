package test;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Writes by index in a compiled forward: a scatter of a value at each sample's argmax (the largest zeroed), a scatterAdd of a
 * topk's indices, a scatter of a source, and the slices of every sample at constant ids, indexAdd (with alpha), indexCopy
 * and indexFill (a negative id among them), and a gather at the argmax; values and every gradient eager mode's bit for bit.
 */
@Model(input = {6})
public class ScatterWrites extends Module {
  final Linear fc = new Linear(6, 8);
  final Linear gate = new Linear(6, 4);
  final Linear head = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = fc.apply(x);                                   // [N, 8]
    Tensor g = gate.apply(x);                                 // [N, 4]
    Tensor top = h.argmax(1, true);                           // ids [N, 1]
    Tensor a = h.scatter(1, top, 0f);                         // each sample's largest zeroed
    Tensor b = a.scatterAdd(1, g.topk(2, 1).indices(), g);    // g's first two added at its two largest's places
    Tensor c = b.scatter(1, top, g.narrow(1, 0, 1));          // g's first at h's argmax
    Tensor d = c.view(-1, 2, 4).indexAdd(2, Tensor.labels(0, 3), g.view(-1, 2, 2), 0.5f);
    Tensor e = d.indexCopy(1, Tensor.labels(1), g.view(-1, 1, 4)).indexFill(2, Tensor.labels(2, -1), 1.5f);
    Tensor f = e.reshape(-1, 8);
    return head.apply(f.scatterAdd(1, top, f.gather(1, top)));   // the value at h's argmax doubled
  }
}
