package test;

import static dev.kiln.dsl.F.maxPool1d;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ModuleList;
import dev.kiln.runtime.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Kim (2014)'s CNN for sentence classification as pytorch/examples' cnn_text_classfication writes it (CNN_Text):
 * embedded ids [N, W, D] as one channel, a Conv2d of kernel (K, D) for each width K, ReLU, max over time, joined,
 * dropout, a linear head. V 50, D 16, 4 kernels a width, widths 2, 3 and 4, 5 classes.
 */
@Model(input = {12})
public class CnnText extends Module {
  static final int V = 50;
  static final int D = 16;
  static final int C = 5;
  static final int CI = 1;
  static final int CO = 4;

  final Embedding embed = new Embedding(V, D);
  final ModuleList<Conv2d> convs1 = ModuleList.of(new Conv2d(CI, CO, 2, D), new Conv2d(CI, CO, 3, D), new Conv2d(CI, CO, 4, D));
  final Dropout dropout = new Dropout(0.5);
  final Linear fc1 = new Linear(3 * CO, C);

  @Override
  public Tensor forward(Tensor x) {
    x = embed.apply(x); // (N, W, D)
    x = x.unsqueeze(1); // (N, Ci, W, D)
    List<Tensor> xs = new ArrayList<>();
    for (Conv2d conv : convs1) {
      xs.add(relu(conv.apply(x)).squeeze(3)); // (N, Co, W - K + 1)
    }
    List<Tensor> pooled = new ArrayList<>();
    for (Tensor i : xs) {
      pooled.add(maxPool1d(i, i.size(2)).squeeze(2)); // (N, Co)
    }
    x = Tensor.cat(pooled, 1);
    x = dropout.apply(x); // (N, len(Ks) * Co)
    return fc1.apply(x); // (N, C)
  }
}
