package test;

import static dev.kiln.dsl.F.celu;
import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.hardsigmoid;
import static dev.kiln.dsl.F.hardswish;
import static dev.kiln.dsl.F.logsigmoid;
import static dev.kiln.dsl.F.mish;
import static dev.kiln.dsl.F.relu6;
import static dev.kiln.dsl.F.selu;
import static dev.kiln.dsl.F.softsign;
import static dev.kiln.dsl.F.tanhshrink;

import dev.kiln.dsl.CELU;
import dev.kiln.dsl.Hardsigmoid;
import dev.kiln.dsl.Hardswish;
import dev.kiln.dsl.Identity;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.LogSigmoid;
import dev.kiln.dsl.Mish;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU6;
import dev.kiln.dsl.SELU;
import dev.kiln.dsl.Sequential;
import dev.kiln.dsl.Softsign;
import dev.kiln.dsl.Tanhshrink;
import dev.kiln.dsl.Unflatten;
import dev.kiln.runtime.Tensor;

/**
 * ReLU6, hardswish, hardsigmoid, Mish, SELU, CELU, softsign, log-sigmoid and tanhshrink as layers of a Sequential, as
 * fields and as F functions in forward, each a pass of its own each way; Identity and Unflatten as views.
 */
@Model(input = {6})
public class MoreActivations extends Module {
  final Sequential body = Sequential.of(new Linear(6, 8), new ReLU6(), new Linear(8, 8), new Hardswish(), new Linear(8, 8),
      new Hardsigmoid(), new Linear(8, 8), new Mish(), new Linear(8, 8), new SELU(), new Linear(8, 8), new CELU(0.5), new Identity());
  final Linear mid = new Linear(8, 8);
  final Softsign soft = new Softsign();
  final LogSigmoid logSig = new LogSigmoid();
  final Tanhshrink shrink = new Tanhshrink();
  final Unflatten unflat = new Unflatten(1, 2, -1);
  final Linear head = new Linear(8, 3);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = body.apply(x);
    Tensor g = shrink.apply(soft.apply(mid.apply(h))).add(logSig.apply(h));
    Tensor f = celu(selu(mish(hardsigmoid(hardswish(relu6(g.mul(4f)))))), 1.5);
    Tensor e = tanhshrink(logsigmoid(softsign(celu(f))));
    return head.apply(flatten(unflat.apply(e.add(h))));
  }
}
