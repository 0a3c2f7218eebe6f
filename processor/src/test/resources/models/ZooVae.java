package test;

import static dev.kiln.dsl.F.relu;
import static dev.kiln.dsl.F.sigmoid;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * pytorch/examples {@code vae/main.py}'s VAE on 14x14 images with 32 hidden units and 4 latent ones: an encoder with
 * two heads (fc21 the mean, fc22 the log-variance), the reparameterisation {@code mu + eps * std}, and a decoder whose
 * sigmoid is clamped away from 0 and 1. {@code eps = Tensor.randnLike(std)} (PyTorch's {@code torch.randn_like(std)}) is
 * drawn inside, compiled as eager mode draws it (in training and in evaluation, as PyTorch's); a model has one method of
 * several outputs, so encode's two heads are read in {@code forwardAll}.
 */
@Model(input = {1, 14, 14})
public class ZooVae extends Module {
  static final int D = 196, LATENT = 4;

  final Linear fc1 = new Linear(D, 32);
  final Linear fc21 = new Linear(32, LATENT);
  final Linear fc22 = new Linear(32, LATENT);
  final Linear fc3 = new Linear(LATENT, 32);
  final Linear fc4 = new Linear(32, D);

  /** forward's three results: the reconstruction, the mean and the log-variance. */
  public record Outputs(Tensor recon, Tensor mu, Tensor logvar) {}

  Tensor encodeHidden(Tensor x) {
    return relu(fc1.apply(x));
  }

  Tensor reparameterize(Tensor mu, Tensor logvar) {
    Tensor std = logvar.mul(0.5).exp();
    Tensor eps = Tensor.randnLike(std);
    return mu.add(eps.mul(std));
  }

  Tensor decode(Tensor z) {
    Tensor h3 = relu(fc3.apply(z));
    return sigmoid(fc4.apply(h3)).clamp(1e-4f, 1.0f - 1e-4f);
  }

  /** PyTorch's forward: the reconstruction of x through a sampled code, the mean and the log-variance. */
  public Outputs forwardAll(Tensor x) {
    Tensor h1 = encodeHidden(x.view(-1, D));
    Tensor mu = fc21.apply(h1), logvar = fc22.apply(h1);
    Tensor z = reparameterize(mu, logvar);
    return new Outputs(decode(z), mu, logvar);
  }

  /** The reconstruction of the mean (no noise), as the VAE's decoder reads a code at evaluation. */
  @Override
  public Tensor forward(Tensor x) {
    return decode(fc21.apply(encodeHidden(x.view(-1, D))));
  }
}
