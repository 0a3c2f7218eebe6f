package test;

import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.ConvTranspose2d;
import dev.kiln.dsl.LeakyReLU;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;
import dev.kiln.dsl.Sigmoid;
import dev.kiln.dsl.Tanh;
import dev.kiln.runtime.Tensor;

/**
 * pytorch/examples {@code dcgan/main.py}'s generator and discriminator for 64x64 images with nz = 8, ngf = ndf = 4:
 * transposed convolutions without bias, batch norms and ReLUs up to a tanh; strided convolutions, batch norms and leaky
 * ReLUs down to a sigmoid.
 */
public final class ZooDcgan {
  static final int NZ = 8, NGF = 4, NDF = 4, NC = 3;

  private ZooDcgan() {}

  @Model(input = {NZ, 1, 1})
  public static class NetG extends Module {
    final Sequential main = Sequential.of(
        // input is Z, going into a convolution
        new ConvTranspose2d(NZ, NGF * 8, 4).stride(1).padding(0).bias(false),
        new BatchNorm2d(NGF * 8),
        new ReLU(),
        // state size. (ngf*8) x 4 x 4
        new ConvTranspose2d(NGF * 8, NGF * 4, 4).stride(2).padding(1).bias(false),
        new BatchNorm2d(NGF * 4),
        new ReLU(),
        // state size. (ngf*4) x 8 x 8
        new ConvTranspose2d(NGF * 4, NGF * 2, 4).stride(2).padding(1).bias(false),
        new BatchNorm2d(NGF * 2),
        new ReLU(),
        // state size. (ngf*2) x 16 x 16
        new ConvTranspose2d(NGF * 2, NGF, 4).stride(2).padding(1).bias(false),
        new BatchNorm2d(NGF),
        new ReLU(),
        // state size. (ngf) x 32 x 32
        new ConvTranspose2d(NGF, NC, 4).stride(2).padding(1).bias(false),
        new Tanh());
        // state size. (nc) x 64 x 64

    @Override
    public Tensor forward(Tensor input) {
      return main.apply(input);
    }
  }

  @Model(input = {NC, 64, 64})
  public static class NetD extends Module {
    final Sequential main = Sequential.of(
        // input is (nc) x 64 x 64
        new Conv2d(NC, NDF, 4).stride(2).padding(1).bias(false),
        new LeakyReLU(0.2),
        // state size. (ndf) x 32 x 32
        new Conv2d(NDF, NDF * 2, 4).stride(2).padding(1).bias(false),
        new BatchNorm2d(NDF * 2),
        new LeakyReLU(0.2),
        // state size. (ndf*2) x 16 x 16
        new Conv2d(NDF * 2, NDF * 4, 4).stride(2).padding(1).bias(false),
        new BatchNorm2d(NDF * 4),
        new LeakyReLU(0.2),
        // state size. (ndf*4) x 8 x 8
        new Conv2d(NDF * 4, NDF * 8, 4).stride(2).padding(1).bias(false),
        new BatchNorm2d(NDF * 8),
        new LeakyReLU(0.2),
        // state size. (ndf*8) x 4 x 4
        new Conv2d(NDF * 8, 1, 4).stride(1).padding(0).bias(false),
        new Sigmoid());

    @Override
    public Tensor forward(Tensor input) {
      Tensor output = main.apply(input);
      return output.view(-1, 1);
    }
  }
}
