package dev.kiln.samples;

import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.runtime.Tensor;

/**
 * The tutorials' add-two-numbers network written by hand, as their first PyTorch program writes it:
 * <pre>
 * class MyNeuralNet(nn.Module):
 *     def __init__(self):
 *         super().__init__()
 *         self.input_to_hidden_layer = nn.Parameter(torch.rand(2,8))
 *         self.hidden_layer_activation = nn.ReLU()
 *         self.hidden_to_output_layer = nn.Parameter(torch.rand(8,1))
 *     def forward(self, x):
 *         x = x @ self.input_to_hidden_layer
 *         x = self.hidden_layer_activation(x)
 *         x = x @ self.hidden_to_output_layer
 *         return x
 * </pre>
 * Two weight matrices as parameters (the state-dict keys are the tutorial's attribute names), uniform
 * in [0, 1) as {@code torch.rand}, no biases. {@code @Model} compiles it ({@code KilnByHandRegression}):
 * each product is one GEMM over the batch's rows, its weight's gradient one GEMM summed over them.
 * Trained by {@code regression --model by-hand}.
 */
@Model(input = {2})
public class ByHandRegression extends Module {
  final Tensor inputToHiddenLayer = registerParameter("input_to_hidden_layer", Tensor.rand(2, 8).requiresGrad(true));
  final ReLU hiddenLayerActivation = new ReLU();
  final Tensor hiddenToOutputLayer = registerParameter("hidden_to_output_layer", Tensor.rand(8, 1).requiresGrad(true));

  @Override
  public Tensor forward(Tensor x) {
    x = x.matmul(inputToHiddenLayer);
    x = hiddenLayerActivation.apply(x);
    x = x.matmul(hiddenToOutputLayer);
    return x;
  }
}
