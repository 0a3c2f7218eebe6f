package dev.kiln.samples;

import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Input;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.dsl.Transformer;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;

/**
 * The {@code Seq2SeqTransformer} of PyTorch's "Language Translation with nn.Transformer" tutorial, sized for digit
 * sequences: token embeddings of the source and of the target ({@code srcTokEmb}, {@code tgtTokEmb}; not scaled by
 * sqrt(d_model) as the tutorial's, see {@code embed}), the tutorial's fixed sinusoidal positions (the buffer {@code
 * pos_embedding [64, D]}, narrowed to the sequences' length) and their dropout, an {@code nn.Transformer(64, 4, 2, 2, 128,
 * 0.1, batch_first=True)} and a Linear {@code generator} to the ten digits. Batch first: source ids {@code [N, S]}, target
 * ids {@code [N, T]}. The vocabulary is the digits 0-9 and the start token {@link #START}, which begins every target. The
 * annotation processor compiles it into {@code KilnSeq2SeqTransformer} for sequences of {@value #LENGTH} digits (a
 * compiled model's sizes are constants): {@link #forward(Tensor, Tensor)} (teacher forcing, what training runs) and
 * {@link #forward(Tensor)} (the encoder's memory); {@link #decode} stays eager (its prefix grows a token at a time).
 * {@code samples/peer/pytorch_seq2seq_peer.py} is its PyTorch twin.
 */
@Model(input = {Seq2SeqTransformer.LENGTH})
public class Seq2SeqTransformer extends Module {
  static final int D = 64;
  static final int HEADS = 4;
  static final int LAYERS = 2;
  static final int FF = 128;
  static final double DROPOUT = 0.1;
  static final int DIGITS = 10;
  /** The start token: the decoder's first input, never an output. */
  static final int START = DIGITS;
  static final int VOCAB = DIGITS + 1;
  /** The rows of the position table: the longest sequences on either side. */
  static final int MAX_LEN = 64;
  /** The sequences' length the compiled class takes, the sample's default {@code --length}. */
  static final int LENGTH = 8;

  final Embedding srcTokEmb = new Embedding(VOCAB, D);
  final Embedding tgtTokEmb = new Embedding(VOCAB, D);
  final Dropout dropout = new Dropout(DROPOUT);
  final Transformer transformer = new Transformer(D, HEADS, LAYERS, LAYERS, FF, DROPOUT, "relu", 1e-5, true, false);
  final Linear generator = new Linear(D, DIGITS);
  final Tensor posEmbedding = registerBuffer("pos_embedding", Tensor.zeros(MAX_LEN, D));

  public Seq2SeqTransformer() {
    posEmbedding.copyFrom(sinusoidal(MAX_LEN, D));
  }

  /**
   * The tutorial's {@code PositionalEncoding} table {@code [maxLen, d]}: {@code sin(pos / 10000^(i / d))} in the even
   * columns {@code i}, {@code cos} of the same in the odd ones after them.
   */
  static Tensor sinusoidal(int maxLen, int d) {
    float[] table = new float[maxLen * d];
    for (int pos = 0; pos < maxLen; pos++) {
      for (int i = 0; i < d; i += 2) {
        double angle = pos * Math.exp(-i * Math.log(10000) / d);
        table[pos * d + i] = (float) Math.sin(angle);
        table[pos * d + i + 1] = (float) Math.cos(angle);
      }
    }
    return Tensor.of(table, maxLen, d);
  }

  /**
   * The encoder's output (the memory) {@code [N, S, D]} for source ids {@code [N, S]}: the tutorial's {@code encode}.
   */
  @Override
  public Tensor forward(Tensor src) {
    return transformer.encoder().forward(embed(srcTokEmb.apply(src)), null, null);
  }

  /**
   * Teacher forcing: the digit scores {@code [N, T, 10]} at every target position, each seeing the source and the
   * target's positions up to itself (the causal mask).
   */
  public Tensor forward(Tensor src, @Input({LENGTH}) Tensor tgt) {
    return generator.apply(transformer.forward(embed(srcTokEmb.apply(src)), embed(tgtTokEmb.apply(tgt)), null,
        Transformer.generateSquareSubsequentMask(tgt.size(1)).to(tgt.device()), null, null, null, null));
  }

  /** The encoder's output (the memory) {@code [N, S, D]} for source ids {@code [N, S]}: {@link #forward(Tensor)}. */
  public Tensor encode(Tensor src) {
    return forward(src);
  }

  /** The digit scores {@code [N, T, 10]} of target ids {@code [N, T]} over a memory: the tutorial's {@code decode}, then the generator. */
  public Tensor decode(Tensor tgt, Tensor memory) {
    Tensor mask = Transformer.generateSquareSubsequentMask(tgt.size(1)).to(tgt.device());
    return generator.apply(transformer.decoder().forward(embed(tgtTokEmb.apply(tgt)), memory, mask, null, null, null));
  }

  /**
   * The tutorial's {@code greedy_decode}, for a batch: the source ids {@code [N, S]} encoded once, then {@code S}
   * digits, each the argmax of the last position's scores after the start token and the digits chosen so far. In
   * eval mode (no dropout) without a tape; returns the digits, {@code S} for each sequence in turn.
   */
  public int[] greedyDecode(Tensor src) {
    int n = src.shape()[0];
    int length = src.shape()[1];
    int[] ys = new int[n * (length + 1)];                 // each row: the start token, then the digits decoded
    for (int i = 0; i < n; i++) {
      ys[i * (length + 1)] = START;
    }
    eval();
    try (var g = Kiln.noGrad()) {
      Tensor memory = encode(src);
      for (int t = 0; t < length; t++) {
        int[] prefix = new int[n * (t + 1)];
        for (int i = 0; i < n; i++) {
          System.arraycopy(ys, i * (length + 1), prefix, i * (t + 1), t + 1);
        }
        Tensor scores = decode(Tensor.labels(prefix).view(n, t + 1).to(src.device()), memory).select(1, t);   // [N, 10]
        int[] next = scores.argmax(1).toIntArray();
        for (int i = 0; i < n; i++) {
          ys[i * (length + 1) + t + 1] = next[i];
        }
      }
    }
    int[] out = new int[n * length];
    for (int i = 0; i < n; i++) {
      System.arraycopy(ys, i * (length + 1) + 1, out, i * length, length);
    }
    return out;
  }

  /**
   * {@code dropout(tokens + pos_embedding[:len])} of the token embeddings {@code emb(ids)}, the tutorial's TokenEmbedding and PositionalEncoding but for the
   * tutorial's scale {@code * sqrt(D)}: over Embedding's N(0, 1) table that makes each token value some 8 times a
   * position's (at most 1), and the model then learns the positions slowly (reversing 8 digits: 29% of digits right
   * after 600 steps scaled, 99.8% unscaled, in PyTorch).
   */
  private Tensor embed(Tensor tokens) {
    return dropout.apply(tokens.add(posEmbedding.narrow(0, 0, tokens.size(1))));
  }
}
