package test;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.interpolate;
import static dev.kiln.dsl.F.pad;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReflectionPad2d;
import dev.kiln.dsl.ReplicationPad2d;
import dev.kiln.dsl.ZeroPad2d;
import dev.kiln.runtime.Tensor;

/**
 * The padding layers and F.pad's modes in a compiled forward: reflection, replication, zeros, circular, and a reflection
 * of one dimension, between convolutions; a block whose constructor computes its padding in a local and whose forward
 * interpolates only when its constant factor asks for it (one block with factor 1, one with 2).
 */
@Model(input = {2, 5, 6})
public class PaddedMaps extends Module {
  static class Up extends Module {
    final int scale;
    final ReflectionPad2d pad;
    final Conv2d conv;

    Up(int channels, int kernel, int scale) {
      this.scale = scale;
      int padding = kernel / 2;
      pad = new ReflectionPad2d(padding);
      conv = new Conv2d(channels, channels, kernel);
    }

    @Override
    public Tensor forward(Tensor x) {
      if (scale > 1) {
        x = interpolate(x, scale);
      } else {
        x = x.mul(2.0);
      }
      return conv.apply(pad.apply(x));
    }
  }

  final ReflectionPad2d reflect = new ReflectionPad2d(2, 1, 3, 4);
  final Conv2d conv1 = new Conv2d(2, 3, 3);
  final ReplicationPad2d replicate = new ReplicationPad2d(1);
  final ZeroPad2d zeros = new ZeroPad2d(0, 1, 1, 0);
  final Up same = new Up(3, 3, 1);
  final Up twice = new Up(3, 5, 2);
  final Linear fc = new Linear(3 * 20 * 20, 4);

  @Override
  public Tensor forward(Tensor x) {
    Tensor h = conv1.apply(reflect.apply(x));          // [N, 3, 10, 7]
    h = zeros.apply(replicate.apply(h));               // [N, 3, 13, 10]
    h = pad(h, new int[] {2, 1, 0, 0}, "circular");    // [N, 3, 13, 13]
    h = pad(h, new int[] {1, 0}, "reflect");           // [N, 3, 13, 14]
    h = h.narrow(2, 0, 10).narrow(3, 0, 10);           // [N, 3, 10, 10]
    h = twice.apply(same.apply(h));                    // [N, 3, 20, 20]
    return fc.apply(flatten(h));
  }
}
