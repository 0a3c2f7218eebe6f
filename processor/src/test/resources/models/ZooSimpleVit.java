package test;

import dev.kiln.dsl.GELU;
import dev.kiln.dsl.Identity;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.ModuleList;
import dev.kiln.dsl.Sequential;
import dev.kiln.dsl.Softmax;
import dev.kiln.runtime.Tensor;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * lucidrains/vit-pytorch's {@code SimpleViT} ({@code simple_vit.py}): the patches by view/permute/reshape (einops'
 * Rearrange), LayerNorm, Linear, LayerNorm; the fixed 2-D sincos position table {@code posemb_sincos_2d} added (a
 * non-persistent buffer computed in the constructor: PyTorch keeps it as a plain attribute, outside the state dict, so
 * the state dicts match), pre-norm attention
 * without dropout or biases, mean pooling, a LayerNorm + Linear head. Sizes: 16x16 RGB, 4x4 patches, dim 32, 4 heads of
 * 8, depth 2.
 */
@Model(input = {ZooSimpleVit.CHANNELS, ZooSimpleVit.IMAGE, ZooSimpleVit.IMAGE})
public class ZooSimpleVit extends Module {
  static final int IMAGE = 16;
  static final int PATCH = 4;
  static final int CHANNELS = 3;
  static final int DIM = 32;
  static final int DEPTH = 2;
  static final int HEADS = 4;
  static final int DIM_HEAD = 8;
  static final int MLP_DIM = 64;
  static final int CLASSES = 10;
  static final int SIDE = IMAGE / PATCH;
  static final int PATCH_DIM = CHANNELS * PATCH * PATCH;

  /** simple_vit.py's {@code posemb_sincos_2d(h, w, dim)}: x.sin, x.cos, y.sin, y.cos of each patch's row and column. */
  static Tensor posembSincos2d(int h, int w, int dim, int temperature) {
    int quarter = dim / 4;
    float[] omega = new float[quarter];
    for (int i = 0; i < quarter; i++) {
      omega[i] = (float) (1.0 / Math.pow(temperature, (float) i / (quarter - 1)));
    }
    float[] pe = new float[h * w * dim];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int row = (y * w + x) * dim;
        for (int i = 0; i < quarter; i++) {
          float ox = x * omega[i], oy = y * omega[i];
          pe[row + i] = (float) Math.sin(ox);
          pe[row + quarter + i] = (float) Math.cos(ox);
          pe[row + 2 * quarter + i] = (float) Math.sin(oy);
          pe[row + 3 * quarter + i] = (float) Math.cos(oy);
        }
      }
    }
    return Tensor.of(pe, h * w, dim);
  }

  static class FeedForward extends Module {
    final Sequential net;

    FeedForward(int dim, int hiddenDim) {
      net = Sequential.of(new LayerNorm(dim), new Linear(dim, hiddenDim), new GELU(), new Linear(hiddenDim, dim));
    }

    @Override
    public Tensor forward(Tensor x) {
      return net.apply(x);
    }
  }

  static class Attention extends Module {
    final int heads;
    final double scale;
    final LayerNorm norm;
    final Softmax attend = new Softmax(-1);
    final Linear toQkv;
    final Linear toOut;

    Attention(int dim, int heads, int dimHead) {
      int innerDim = dimHead * heads;
      this.heads = heads;
      this.scale = 1 / Math.sqrt(dimHead);                                    // dim_head ** -0.5
      this.norm = new LayerNorm(dim);
      this.toQkv = new Linear(dim, innerDim * 3, false);
      this.toOut = new Linear(innerDim, dim, false);
    }

    @Override
    public Tensor forward(Tensor x) {
      x = norm.apply(x);
      int b = x.size(0), n = x.size(1);
      Tensor[] qkv = toQkv.apply(x).chunk(3, -1);
      Tensor q = qkv[0].view(b, n, heads, -1).transpose(1, 2);
      Tensor k = qkv[1].view(b, n, heads, -1).transpose(1, 2);
      Tensor v = qkv[2].view(b, n, heads, -1).transpose(1, 2);
      Tensor dots = q.matmul(k.transpose(-1, -2)).mul(scale);
      Tensor out = attend.apply(dots).matmul(v);
      return toOut.apply(out.transpose(1, 2).reshape(b, n, -1));
    }
  }

  static class Transformer extends Module {
    final ModuleList<ModuleList<Module>> layers;

    Transformer(int dim, int depth, int heads, int dimHead, int mlpDim) {
      layers = new ModuleList<>(IntStream.range(0, depth)
          .mapToObj(i -> ModuleList.<Module>of(new Attention(dim, heads, dimHead), new FeedForward(dim, mlpDim)))
          .collect(Collectors.toList()));
    }

    @Override
    public Tensor forward(Tensor x) {
      for (ModuleList<Module> layer : layers) {
        x = layer.get(0).apply(x).add(x);
        x = layer.get(1).apply(x).add(x);
      }
      return x;
    }
  }

  final Sequential toPatchEmbedding = Sequential.builder()
      .add("1", new LayerNorm(PATCH_DIM)).add("2", new Linear(PATCH_DIM, DIM)).add("3", new LayerNorm(DIM)).build();
  final Tensor posEmbedding = registerBuffer("posEmbedding", Tensor.zeros(SIDE * SIDE, DIM), false);   // out of the state dict
  final Transformer transformer = new Transformer(DIM, DEPTH, HEADS, DIM_HEAD, MLP_DIM);
  final Identity toLatent = new Identity();
  final Sequential linearHead = Sequential.of(new LayerNorm(DIM), new Linear(DIM, CLASSES));

  public ZooSimpleVit() {
    posEmbedding.copyFrom(posembSincos2d(SIDE, SIDE, DIM, 10000));
  }

  @Override
  public Tensor forward(Tensor img) {
    Tensor x = img.view(-1, CHANNELS, SIDE, PATCH, SIDE, PATCH).permute(0, 2, 4, 3, 5, 1).reshape(-1, SIDE * SIDE, PATCH_DIM);
    x = toPatchEmbedding.apply(x);
    x = x.add(posEmbedding.to(img.device()));                                 // x += self.pos_embedding.to(device)
    x = transformer.apply(x);
    x = x.mean(1);
    x = toLatent.apply(x);
    return linearHead.apply(x);
  }
}
