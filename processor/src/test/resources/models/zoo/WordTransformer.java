package test;

import static dev.kiln.dsl.F.logSoftmax;

import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Init;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.Transformer;
import dev.kiln.dsl.TransformerEncoder;
import dev.kiln.dsl.TransformerEncoderLayer;
import dev.kiln.runtime.Tensor;

/**
 * pytorch/examples word_language_model's TransformerModel(ntoken=50, ninp=16, nhead=2, nhid=32, nlayers=2,
 * dropout=0.2), batch first: the embedding scaled by sqrt(ninp), PositionalEncoding's sin/cos table a registered buffer
 * (PyTorch's [max_len, 1, d_model]), nn.Transformer's encoder (with its final LayerNorm) under the square subsequent
 * mask, the decoder Linear, log-probabilities [N, 12, 50].
 */
@Model(input = {12})
public class WordTransformer extends Module {
  static final int NTOKEN = 50;
  static final int NINP = 16;
  static final int NHEAD = 2;
  static final int NHID = 32;
  static final int NLAYERS = 2;
  static final double DROPOUT = 0.2;

  /** Adds the sin/cos position table to a batch-first [N, S, d_model], then dropout. */
  static class PositionalEncoding extends Module {
    static final int MAX_LEN = 64;

    final Dropout dropout = new Dropout(DROPOUT);
    final Tensor pe = registerBuffer("pe", Tensor.zeros(MAX_LEN, 1, NINP)); // sized by constants: the compiler reads its shape

    PositionalEncoding() {
      pe.copyFrom(table(MAX_LEN, NINP));
    }

    static Tensor table(int maxLen, int dModel) {
      Tensor position = Tensor.arange(0, maxLen, 1).unsqueeze(1);                                  // [max_len, 1]
      Tensor divTerm = Tensor.arange(0, dModel, 2).mul(-Math.log(10000.0) / dModel).exp();       // [d_model / 2]
      Tensor angles = position.mul(divTerm);                                                      // [max_len, d_model / 2]
      Tensor pe = Tensor.stack(java.util.List.of(angles.sin(), angles.cos()), 2).view(maxLen, dModel); // pe[:, 0::2], pe[:, 1::2]
      return pe.unsqueeze(0).transpose(0, 1);                                                     // [max_len, 1, d_model]
    }

    @Override
    public Tensor forward(Tensor x) {
      x = x.add(pe.narrow(0, 0, x.size(1)).transpose(0, 1)); // pe[:S] as [1, S, d_model]
      return dropout.apply(x);
    }
  }

  final PositionalEncoding pos_encoder = new PositionalEncoding();
  final TransformerEncoder encoder = new TransformerEncoder(
      new TransformerEncoderLayer(NINP, NHEAD, NHID, DROPOUT, "relu", 1e-5, true, false), NLAYERS, new LayerNorm(NINP));
  final Embedding input_emb = new Embedding(NTOKEN, NINP);
  final Linear decoder = new Linear(NINP, NTOKEN);

  public WordTransformer() {
    initWeights();
  }

  void initWeights() {
    double initrange = 0.1;
    Init.uniform(input_emb.weight(), -initrange, initrange);
    Init.zeros(decoder.bias());
    Init.uniform(decoder.weight(), -initrange, initrange);
  }

  @Override
  public Tensor forward(Tensor src) {
    src = input_emb.apply(src).mul(Math.sqrt(NINP));
    src = pos_encoder.apply(src);
    Tensor output = encoder.forward(src, Transformer.generateSquareSubsequentMask(src.size(1)), null); // the causal mask

    output = decoder.apply(output);
    return logSoftmax(output, -1);
  }
}
