package test;

import static dev.kiln.dsl.F.logSoftmax;

import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Init;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.LSTM;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;
import java.util.List;

/**
 * pytorch/examples word_language_model's RNNModel('LSTM', ntoken=50, ninp=16, nhid=16, nlayers=2, dropout=0.5,
 * tie_weights=True), batch first: token ids [N, 12] to log-probabilities [N, 12, 50] (the caller views them as PyTorch's
 * [N * 12, 50]: a compiled forward keeps the batch first), the decoder's weight the encoder's, init_weights as
 * PyTorch's, the hidden state init_hidden's zeros.
 */
@Model(input = {12})
public class WordLstm extends Module {
  static final int NTOKEN = 50;
  static final int NINP = 16;
  static final int NHID = 16;
  static final int NLAYERS = 2;

  final Dropout drop = new Dropout(0.5);
  final Embedding encoder = new Embedding(NTOKEN, NINP);
  final LSTM rnn = new LSTM(NINP, NHID).numLayers(NLAYERS).dropout(0.5).batchFirst(true);
  final Linear decoder = new Linear(NHID, NTOKEN);

  public WordLstm() {
    decoder.weight(encoder.weight());
    initWeights();
  }

  void initWeights() {
    double initrange = 0.1;
    Init.uniform(encoder.weight(), -initrange, initrange);
    Init.zeros(decoder.bias());
    Init.uniform(decoder.weight(), -initrange, initrange);
  }

  /** The new hidden state beside the log-probabilities: PyTorch's {@code return F.log_softmax(...), hidden}. */
  public record Output(Tensor logProbs, Tensor h, Tensor c) {}

  /**
   * PyTorch's {@code forward(input, hidden)}, the training loop's truncated back-propagation through time carrying the
   * state from one chunk to the next: each sample's state as one row [NLAYERS * NHID] (PyTorch's h[:, n, :] flattened),
   * viewed as [NLAYERS, N, NHID] for the layer, and h_n, c_n returned so.
   */
  public Output forwardFrom(Tensor input, @Input({NLAYERS * NHID}) Tensor h, @Input({NLAYERS * NHID}) Tensor c) {
    Tensor emb = drop.apply(encoder.apply(input));
    var hidden = rnn.forwardWithState(emb, h.view(-1, NLAYERS, NHID).transpose(0, 1), c.view(-1, NLAYERS, NHID).transpose(0, 1));
    Tensor output = drop.apply(hidden.output());
    Tensor decoded = decoder.apply(output);
    Tensor hN = Tensor.cat(List.of(hidden.h().select(0, 0), hidden.h().select(0, 1)), 1);
    Tensor cN = Tensor.cat(List.of(hidden.c().select(0, 0), hidden.c().select(0, 1)), 1);
    return new Output(logSoftmax(decoded, 2), hN, cN);
  }

  @Override
  public Tensor forward(Tensor input) {
    Tensor h0 = Tensor.zeros(NLAYERS, input.size(0), NHID);
    Tensor c0 = Tensor.zeros(NLAYERS, input.size(0), NHID);
    Tensor emb = drop.apply(encoder.apply(input));
    Tensor output = rnn.forwardWithState(emb, h0, c0).output();
    output = drop.apply(output);
    Tensor decoded = decoder.apply(output);
    return logSoftmax(decoded, 2); // [N, 12, 50]: PyTorch's decoded.view(-1, ntoken) folds the rows into the batch, done by the caller

  }
}
