package test;

import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.runtime.Tensor;

/**
 * The tutorials' network written by hand: two weight matrices as parameters (PyTorch's {@code
 * nn.Parameter(torch.rand(2, 8))}, under the tutorial's names) multiplied with {@code @}, a ReLU
 * layer between them, no biases. Each product is one GEMM over the batch's rows.
 */
@Model(input = {2})
public class ByHand extends Module {
  final Tensor inputToHidden = registerParameter("input_to_hidden_layer", Tensor.rand(2, 8).requiresGrad(true));
  final ReLU hiddenLayerActivation = new ReLU();
  final Tensor hiddenToOutput = registerParameter("hidden_to_output_layer", Tensor.rand(8, 1).requiresGrad(true));

  @Override
  public Tensor forward(Tensor x) {
    x = x.matmul(inputToHidden);
    x = hiddenLayerActivation.apply(x);
    x = x.matmul(hiddenToOutput);
    return x;
  }
}
