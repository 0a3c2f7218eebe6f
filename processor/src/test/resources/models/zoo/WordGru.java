package test;

import static dev.kiln.dsl.F.logSoftmax;

import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Init;
import dev.kiln.dsl.GRU;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * pytorch/examples word_language_model's RNNModel('GRU', ntoken=50, ninp=16, nhid=16, nlayers=2, dropout=0.5,
 * tie_weights=True), batch first: token ids [N, 12] to log-probabilities [N, 12, 50] (the caller views them as PyTorch's
 * [N * 12, 50]: a compiled forward keeps the batch first), the decoder's weight the encoder's, init_weights as
 * PyTorch's, the hidden state init_hidden's zeros (one state: no cell).
 */
@Model(input = {12})
public class WordGru extends Module {
  static final int NTOKEN = 50;
  static final int NINP = 16;
  static final int NHID = 16;
  static final int NLAYERS = 2;

  final Dropout drop = new Dropout(0.5);
  final Embedding encoder = new Embedding(NTOKEN, NINP);
  final GRU rnn = new GRU(NINP, NHID).numLayers(NLAYERS).dropout(0.5).batchFirst(true);
  final Linear decoder = new Linear(NHID, NTOKEN);

  public WordGru() {
    decoder.weight(encoder.weight());
    initWeights();
  }

  void initWeights() {
    double initrange = 0.1;
    Init.uniform(encoder.weight(), -initrange, initrange);
    Init.zeros(decoder.bias());
    Init.uniform(decoder.weight(), -initrange, initrange);
  }

  @Override
  public Tensor forward(Tensor input) {
    Tensor h0 = Tensor.zeros(NLAYERS, input.size(0), NHID);
    Tensor emb = drop.apply(encoder.apply(input));
    Tensor output = rnn.forwardWithState(emb, h0).output();
    output = drop.apply(output);
    Tensor decoded = decoder.apply(output);
    return logSoftmax(decoded, 2); // [N, 12, 50]: PyTorch's decoded.view(-1, ntoken) folds the rows into the batch, done by the caller

  }
}
