package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.sigmoid;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * Pieces of splits as PyTorch code cuts them: a GLU ({@code a, b = x.chunk(2, -1); a * sigmoid(b)}, each piece
 * of a chunk written in place), a split by lengths of the input held by a {@code var}, whose first piece is never
 * read ({@code _, rest = x.split([4, 12], 2)}) while a layer reads the input too, a piece read twice, and a split
 * along a middle dimension whose pieces are read last first.
 */
@Model(input = {4, 16})
public class GatedPieces extends Module {
  final Linear up = new Linear(16, 24);
  final Linear side = new Linear(12, 12);
  final Linear head = new Linear(12, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = up.apply(x);                                         // [N, 4, 24]
    Tensor g = h.chunk(2, -1)[0].mul(sigmoid(h.chunk(2, -1)[1]));   // GLU: [N, 4, 12]
    var parts = x.split(new int[] {4, 12}, 2);                      // [N, 4, 4] (never read), [N, 4, 12]
    Tensor s = side.apply(parts[1]).add(parts[1]);
    Tensor[] rows = g.add(s).split(3, 1);                           // [N, 3, 12], [N, 1, 12]
    Tensor last = rows[1];
    return head.apply(flatten(last.add(rows[0].mean(1, true))));
  }
}
