package test;

import dev.kiln.dsl.Dropout;
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
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * lucidrains/vit-pytorch's {@code ViT} ({@code vit.py}) with cls pooling, ported as a Java developer would: the patches
 * cut by einops' {@code Rearrange('b c (h p1) (w p2) -> b (h w) (p1 p2 c)')} written as view/permute/reshape, a learned
 * cls token expanded to the batch and concatenated before the patches, a learned position table narrowed to the tokens
 * and added, pre-norm Attention (qkv chunk, scaled dot product, softmax, dropout) and FeedForward blocks held as pairs
 * in a nested ModuleList ({@code for attn, ff in self.layers}), cls pooling ({@code x[:, 0]}), an mlp head. Sizes:
 * 16x16 RGB images, 4x4 patches, dim 32, 4 heads of 8, depth 2, dropout 0.1. State-dict keys are vit.py's in Java's
 * spelling ({@code transformer.layers.0.0.toQkv.weight} for {@code transformer.layers.0.0.to_qkv.weight}).
 */
@Model(input = {ZooVit.CHANNELS, ZooVit.IMAGE, ZooVit.IMAGE})
public class ZooVit extends Module {
  static final int IMAGE = 16;
  static final int PATCH = 4;
  static final int CHANNELS = 3;
  static final int DIM = 32;
  static final int DEPTH = 2;
  static final int HEADS = 4;
  static final int DIM_HEAD = 8;
  static final int MLP_DIM = 64;
  static final int CLASSES = 10;
  static final double DROPOUT = 0.1;
  static final int NUM_PATCHES = (IMAGE / PATCH) * (IMAGE / PATCH);
  static final int PATCH_DIM = CHANNELS * PATCH * PATCH;

  /** vit.py's FeedForward: {@code net = Sequential(LayerNorm, Linear, GELU, Dropout, Linear, Dropout)}. */
  static class FeedForward extends Module {
    final Sequential net;

    FeedForward(int dim, int hiddenDim, double dropout) {
      net = Sequential.of(new LayerNorm(dim), new Linear(dim, hiddenDim), new GELU(), new Dropout(dropout),
          new Linear(hiddenDim, dim), new Dropout(dropout));
    }

    @Override
    public Tensor forward(Tensor x) {
      return net.apply(x);
    }
  }

  /** vit.py's Attention: pre-norm, one bias-free qkv projection chunked in three, heads, softmax, dropout, to_out. */
  static class Attention extends Module {
    final int heads;
    final double scale;
    final LayerNorm norm;
    final Softmax attend = new Softmax(-1);
    final Dropout dropout;
    final Linear toQkv;
    final Sequential toOut;

    Attention(int dim, int heads, int dimHead, double dropout) {
      int innerDim = dimHead * heads;
      this.heads = heads;
      this.scale = Math.pow(dimHead, -0.5);
      this.norm = new LayerNorm(dim);
      this.dropout = new Dropout(dropout);
      this.toQkv = new Linear(dim, innerDim * 3, false);
      this.toOut = Sequential.of(new Linear(innerDim, dim), new Dropout(dropout));
    }

    @Override
    public Tensor forward(Tensor x) {
      x = norm.apply(x);
      int b = x.size(0), n = x.size(1);
      Tensor[] qkv = toQkv.apply(x).chunk(3, -1);
      Tensor q = qkv[0].view(b, n, heads, -1).transpose(1, 2);             // 'b n (h d) -> b h n d'
      Tensor k = qkv[1].view(b, n, heads, -1).transpose(1, 2);
      Tensor v = qkv[2].view(b, n, heads, -1).transpose(1, 2);
      Tensor dots = q.matmul(k.transpose(-1, -2)).mul(scale);
      Tensor attn = attend.apply(dots);
      attn = dropout.apply(attn);
      Tensor out = attn.matmul(v);
      out = out.transpose(1, 2).reshape(b, n, -1);                          // 'b h n d -> b n (h d)'
      return toOut.apply(out);
    }
  }

  /** vit.py's Transformer: depth pairs of (Attention, FeedForward), each added to the residual stream; a final norm. */
  static class Transformer extends Module {
    final LayerNorm norm;
    final ModuleList<ModuleList<Module>> layers;

    Transformer(int dim, int depth, int heads, int dimHead, int mlpDim, double dropout) {
      norm = new LayerNorm(dim);
      layers = new ModuleList<>(IntStream.range(0, depth)
          .mapToObj(i -> ModuleList.<Module>of(new Attention(dim, heads, dimHead, dropout), new FeedForward(dim, mlpDim, dropout)))
          .collect(Collectors.toList()));
    }

    @Override
    public Tensor forward(Tensor x) {
      for (ModuleList<Module> layer : layers) {
        x = layer.get(0).apply(x).add(x);
        x = layer.get(1).apply(x).add(x);
      }
      return norm.apply(x);
    }
  }

  final Sequential toPatchEmbedding = Sequential.builder()           // index 0 is the Rearrange, done in forward
      .add("1", new LayerNorm(PATCH_DIM)).add("2", new Linear(PATCH_DIM, DIM)).add("3", new LayerNorm(DIM)).build();
  final Tensor clsToken = registerParameter("clsToken", Tensor.randn(1, 1, DIM).requiresGrad(true));
  final Tensor posEmbedding = registerParameter("posEmbedding", Tensor.randn(1, NUM_PATCHES + 1, DIM).requiresGrad(true));
  final Dropout dropout = new Dropout(DROPOUT);
  final Transformer transformer = new Transformer(DIM, DEPTH, HEADS, DIM_HEAD, MLP_DIM, DROPOUT);
  final Identity toLatent = new Identity();
  final Linear mlpHead = new Linear(DIM, CLASSES);

  @Override
  public Tensor forward(Tensor img) {
    int hp = IMAGE / PATCH;
    Tensor x = img.view(-1, CHANNELS, hp, PATCH, hp, PATCH).permute(0, 2, 4, 3, 5, 1).reshape(-1, hp * hp, PATCH_DIM);
    x = toPatchEmbedding.apply(x);
    int b = x.size(0), n = x.size(1);
    Tensor clsTokens = clsToken.expand(b, -1, -1);                        // repeat(cls_token, '1 ... d -> b ... d', b=b)
    x = Tensor.cat(List.of(clsTokens, x), 1);
    x = x.add(posEmbedding.narrow(1, 0, n + 1));                          // x += pos_embedding[:, :(n + 1)]
    x = dropout.apply(x);
    x = transformer.apply(x);
    x = x.select(1, 0);                                                   // x[:, 0]
    x = toLatent.apply(x);
    return mlpHead.apply(x);
  }
}
