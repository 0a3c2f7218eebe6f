package test;

import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU6;
import dev.kiln.dsl.Sequential;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * What the torchvision zoo pass taught the processor, in one model: layers returned by helper methods (conv3x3, a
 * conv-norm-activation Sequential), a layer chosen by a constant ?: in a block's constructor, sizes folded from a static
 * helper of locals and a return and from Math.max and Math.round, and a static tensor helper (a channel shuffle) inlined
 * in a block's forward.
 */
@Model(input = {4, 6, 6})
public class LayerHelpers extends Module {
  static int makeDivisible(double v, int divisor) {
    int newV = Math.max(divisor, (int) (v + divisor / 2.0) / divisor * divisor);
    return newV < 0.9 * v ? newV + divisor : newV;
  }

  static Conv2d conv3x3(int in, int out, int stride) {
    return new Conv2d(in, out, 3).stride(stride).padding(1).bias(false);
  }

  static Sequential convBnAct(int in, int out, int groups) {
    return Sequential.of(conv3x3(in, out, 1).groups(groups), new BatchNorm2d(out), new ReLU6());
  }

  static Tensor channelShuffle(Tensor x, int groups) {
    int b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    x = x.view(b, groups, c / groups, h, w).transpose(1, 2);
    return x.view(b, -1, h, w);
  }

  static class Unit extends Module {
    final Sequential conv;

    Unit(int inp, int expandRatio) {
      int hidden = (int) Math.round(inp * (double) expandRatio);
      conv = expandRatio != 1
          ? Sequential.of(convBnAct(inp, hidden, 1), convBnAct(hidden, hidden, hidden), new Conv2d(hidden, inp, 1))
          : Sequential.of(convBnAct(hidden, hidden, hidden), new Conv2d(hidden, inp, 1));
    }

    @Override
    public Tensor forward(Tensor x) {
      return channelShuffle(x.add(conv.apply(x)), 2);
    }
  }

  final Sequential stem = convBnAct(4, makeDivisible(6 * 0.5, 4), 1); // 4 channels
  final Unit plain = new Unit(4, 1);
  final Unit expanded = new Unit(4, Math.max(2, 1));
  final Conv2d down = conv3x3(4, 8, 2);
  final Linear fc = new Linear(8 * 3 * 3, 3);

  @Override
  public Tensor forward(Tensor x) {
    x = stem.apply(x);
    x = plain.apply(x);
    x = expanded.apply(x);
    x = down.apply(x);
    return fc.apply(x.flatten(1, -1));
  }
}
