package dev.kiln.processor.read;

import dev.kiln.dsl.AdaptiveAvgPool1d;
import dev.kiln.dsl.AdaptiveAvgPool2d;
import dev.kiln.dsl.AvgPool1d;
import dev.kiln.dsl.AvgPool2d;
import dev.kiln.dsl.BatchNorm1d;
import dev.kiln.dsl.BatchNorm2d;
import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.ConvTranspose2d;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Dropout2d;
import dev.kiln.dsl.ELU;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.EmbeddingBag;
import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.GELU;
import dev.kiln.dsl.GroupNorm;
import dev.kiln.dsl.Hardtanh;
import dev.kiln.dsl.InstanceNorm1d;
import dev.kiln.dsl.InstanceNorm2d;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.LeakyReLU;
import dev.kiln.dsl.LogSoftmax;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.MaxPool1d;
import dev.kiln.dsl.MaxPool2d;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Recurrent;
import dev.kiln.dsl.RecurrentCell;
import dev.kiln.dsl.SiLU;
import dev.kiln.dsl.Sigmoid;
import dev.kiln.dsl.Softmax;
import dev.kiln.dsl.Softplus;
import dev.kiln.dsl.Tanh;
import dev.kiln.dsl.Upsample;
import dev.kiln.processor.ir.Cosine;
import dev.kiln.processor.ir.Flip;
import dev.kiln.processor.ir.Roll;
import dev.kiln.processor.ir.LineOp;
import dev.kiln.processor.ir.Narrow;
import dev.kiln.processor.ir.Tile;
import dev.kiln.processor.ir.Normalize;
import dev.kiln.processor.ir.Pointwise;
import dev.kiln.processor.ir.IndexedPad;
import dev.kiln.processor.ir.Pad;
import dev.kiln.processor.ir.Permute;
import dev.kiln.processor.ir.Reduce;
import dev.kiln.processor.ir.Reshape;
import dev.kiln.processor.ir.Scale;
import dev.kiln.processor.ir.Shift;
import dev.kiln.processor.ir.Transpose;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The layers the compiler knows: how their constructor arguments and builder calls (already
 * folded to constants) become the dsl's own {@link LayerSpec}, which holds the shape rule; and
 * the functions of {@code F} with the spec of the equivalent layer.
 */
final class LayerCatalog {
  private LayerCatalog() {}

  /** Arguments were not what the layer or function takes; the message says what it takes. */
  static final class BadArguments extends Exception {
    BadArguments(String message) {
      super(message, null, false, false);
    }
  }

  private interface Factory {
    LayerSpec create(List<Object> args) throws BadArguments;
  }

  private interface Builder {
    LayerSpec apply(LayerSpec spec, String method, List<Object> args) throws BadArguments;
  }

  private static final String DSL = "dev.kiln.dsl.";

  private static final Map<String, Factory> LAYERS = Map.ofEntries(
      Map.entry(DSL + "Linear", args -> switch (args.size()) {
        case 2 -> new Linear.Spec(integer(args, 0), integer(args, 1), true);
        case 3 -> new Linear.Spec(integer(args, 0), integer(args, 1), bool(args, 2));
        default -> throw new BadArguments("Linear takes (in_features, out_features[, bias])");
      }),
      Map.entry(DSL + "Embedding", args -> switch (args.size()) {
        case 2 -> new Embedding.Spec(integer(args, 0), integer(args, 1), -1);
        case 3 -> Embedding.Spec.of(integer(args, 0), integer(args, 1), integer(args, 2));
        default -> throw new BadArguments("Embedding takes (num_embeddings, embedding_dim[, padding_idx])");
      }),
      Map.entry(DSL + "EmbeddingBag", args -> switch (args.size()) {
        case 2 -> new EmbeddingBag.Spec(integer(args, 0), integer(args, 1), EmbeddingBag.Mode.MEAN, -1, false);
        case 3 -> new EmbeddingBag.Spec(integer(args, 0), integer(args, 1), bagMode(args.get(2)), -1, false);
        default -> throw new BadArguments("EmbeddingBag takes (num_embeddings, embedding_dim[, mode])");
      }),
      Map.entry(DSL + "LSTM", args -> recurrent("LSTM", args)),
      Map.entry(DSL + "LSTMCell", args -> cell("LSTM", args)),
      Map.entry(DSL + "GRUCell", args -> cell("GRU", args)),
      Map.entry(DSL + "RNNCell", args -> args.size() == 4 ? cell(switch (String.valueOf(args.get(3))) {
          case "tanh" -> "RNN_TANH";
          case "relu" -> "RNN_RELU";
          default -> throw new BadArguments("RNNCell: unknown nonlinearity '" + args.get(3) + "' (tanh or relu)");
        }, args.subList(0, 3)) : cell("RNN_TANH", args)),
      Map.entry(DSL + "GRU", args -> recurrent("GRU", args)),
      Map.entry(DSL + "RNN", args -> switch (args.size()) {
        case 2 -> recurrent("RNN_TANH", args);
        case 3 -> recurrent(switch (String.valueOf(args.get(2))) {
          case "tanh" -> "RNN_TANH";
          case "relu" -> "RNN_RELU";
          default -> throw new BadArguments("RNN: unknown nonlinearity '" + args.get(2) + "' (tanh or relu)");
        }, args.subList(0, 2));
        default -> throw new BadArguments("RNN takes (input_size, hidden_size[, nonlinearity])");
      }),
      Map.entry(DSL + "ReLU", args -> none(args, "ReLU", new ReLU.Spec())),
      Map.entry(DSL + "Sigmoid", args -> none(args, "Sigmoid", new Sigmoid.Spec())),
      Map.entry(DSL + "Tanh", args -> none(args, "Tanh", new Tanh.Spec())),
      Map.entry(DSL + "LeakyReLU", args -> args.isEmpty() ? new LeakyReLU.Spec(0.01) : new LeakyReLU.Spec(number(args, 0))),
      Map.entry(DSL + "Softmax", args -> new Softmax.Spec(integer(args, 0))),
      Map.entry(DSL + "LogSoftmax", args -> new LogSoftmax.Spec(integer(args, 0))),
      Map.entry(DSL + "GELU", args -> gelu("GELU", args)),
      Map.entry(DSL + "SiLU", args -> none(args, "SiLU", new SiLU.Spec())),
      Map.entry(DSL + "ELU", args -> switch (args.size()) {
        case 0 -> new ELU.Spec(1.0);
        case 1 -> new ELU.Spec(number(args, 0));
        default -> throw new BadArguments("ELU takes () or (alpha)");
      }),
      Map.entry(DSL + "Softplus", args -> switch (args.size()) {
        case 0 -> new Softplus.Spec(1, 20);
        case 2 -> new Softplus.Spec(number(args, 0), number(args, 1));
        default -> throw new BadArguments("Softplus takes () or (beta, threshold)");
      }),
      Map.entry(DSL + "Hardtanh", args -> switch (args.size()) {
        case 0 -> new Hardtanh.Spec(-1.0, 1.0);
        case 2 -> new Hardtanh.Spec(number(args, 0), number(args, 1));
        default -> throw new BadArguments("Hardtanh takes () or (min_val, max_val)");
      }),
      // the element-wise activations of eager mode's ActivationCodeKernels, ReLU6 (hardtanh's kernels), and two views
      Map.entry(DSL + "ReLU6", args -> none(args, "ReLU6", new dev.kiln.dsl.ReLU6.Spec())),
      Map.entry(DSL + "Hardswish", args -> none(args, "Hardswish", new dev.kiln.dsl.Hardswish.Spec())),
      Map.entry(DSL + "Hardsigmoid", args -> none(args, "Hardsigmoid", new dev.kiln.dsl.Hardsigmoid.Spec())),
      Map.entry(DSL + "GLU", args -> new dev.kiln.dsl.GLU.Spec(args.isEmpty() ? -1 : integer(args, 0))),
      Map.entry(DSL + "Softmin", args -> new dev.kiln.dsl.Softmin.Spec(integer(args, 0))),
      // the padding layers: F.pad of their mode (index selects of PadModes' tables, or a constant padding: LayerExpansions)
      Map.entry(DSL + "ReflectionPad1d", args -> padding(args, "ReflectionPad1d", "reflect", 1)),
      Map.entry(DSL + "ReflectionPad2d", args -> padding(args, "ReflectionPad2d", "reflect", 2)),
      Map.entry(DSL + "ReplicationPad1d", args -> padding(args, "ReplicationPad1d", "replicate", 1)),
      Map.entry(DSL + "ReplicationPad2d", args -> padding(args, "ReplicationPad2d", "replicate", 2)),
      Map.entry(DSL + "ZeroPad2d", args -> padding(args, "ZeroPad2d", "constant", 2)),
      Map.entry(DSL + "PixelShuffle", args -> new dev.kiln.dsl.PixelShuffle.Spec(integer(args, 0))),
      Map.entry(DSL + "PReLU", args -> switch (args.size()) { // (its weight read as the layer's tensor: LayerExpansions)
        case 0 -> new dev.kiln.dsl.PReLU.Spec(1, 0.25);
        case 1 -> new dev.kiln.dsl.PReLU.Spec(integer(args, 0), 0.25);
        case 2 -> new dev.kiln.dsl.PReLU.Spec(integer(args, 0), number(args, 1));
        default -> throw new BadArguments("PReLU takes (), (num_parameters) or (num_parameters, init)");
      }),
      Map.entry(DSL + "PixelUnshuffle", args -> new dev.kiln.dsl.PixelUnshuffle.Spec(integer(args, 0))),
      Map.entry(DSL + "Mish", args -> none(args, "Mish", new dev.kiln.dsl.Mish.Spec())),
      Map.entry(DSL + "SELU", args -> none(args, "SELU", new dev.kiln.dsl.SELU.Spec())),
      Map.entry(DSL + "CELU", args -> switch (args.size()) {
        case 0 -> new dev.kiln.dsl.CELU.Spec(1.0);
        case 1 -> new dev.kiln.dsl.CELU.Spec(number(args, 0));
        default -> throw new BadArguments("CELU takes () or (alpha)");
      }),
      Map.entry(DSL + "Softsign", args -> none(args, "Softsign", new dev.kiln.dsl.Softsign.Spec())),
      Map.entry(DSL + "LogSigmoid", args -> none(args, "LogSigmoid", new dev.kiln.dsl.LogSigmoid.Spec())),
      Map.entry(DSL + "Tanhshrink", args -> none(args, "Tanhshrink", new dev.kiln.dsl.Tanhshrink.Spec())),
      Map.entry(DSL + "Identity", args -> none(args, "Identity", new dev.kiln.dsl.Identity.Spec())),
      Map.entry(DSL + "Unflatten", args -> {
        if (args.size() < 2) {
          throw new BadArguments("Unflatten takes (dim, sizes...)");
        }
        int[] sizes = new int[args.size() - 1];
        for (int i = 0; i < sizes.length; i++) {
          sizes[i] = integer(args, i + 1);
        }
        return new dev.kiln.dsl.Unflatten.Spec(integer(args, 0), sizes);
      }),
      Map.entry(DSL + "Dropout", args -> args.isEmpty() ? new Dropout.Spec(0.5) : new Dropout.Spec(number(args, 0))),
      Map.entry(DSL + "Dropout2d", args -> args.isEmpty() ? new Dropout2d.Spec(0.5) : new Dropout2d.Spec(number(args, 0))),
      Map.entry(DSL + "Flatten", args -> switch (args.size()) {
        case 0 -> new Flatten.Spec(1, -1);
        case 2 -> new Flatten.Spec(integer(args, 0), integer(args, 1));
        default -> throw new BadArguments("Flatten takes () or (start_dim, end_dim)");
      }),
      Map.entry(DSL + "Conv2d", args -> switch (args.size()) {
        case 3 -> new Conv2d.Spec(integer(args, 0), integer(args, 1), integer(args, 2), integer(args, 2), 1, 1, 0, 0, true);
        case 4 -> new Conv2d.Spec(integer(args, 0), integer(args, 1), integer(args, 2), integer(args, 3), 1, 1, 0, 0, true);
        default -> throw new BadArguments("Conv2d takes (in_channels, out_channels, kernel_size) or (in, out, kernel_h, kernel_w)");
      }),
      Map.entry(DSL + "ConvTranspose2d", args -> switch (args.size()) {
        case 3 -> new ConvTranspose2d.Spec(integer(args, 0), integer(args, 1), integer(args, 2), integer(args, 2), 1, 1, 0, 0, 0, 0, true);
        case 4 -> new ConvTranspose2d.Spec(integer(args, 0), integer(args, 1), integer(args, 2), integer(args, 3), 1, 1, 0, 0, 0, 0, true);
        default -> throw new BadArguments("ConvTranspose2d takes (in_channels, out_channels, kernel_size) or (in, out, kernel_h, kernel_w)");
      }),
      Map.entry(DSL + "Upsample", args -> switch (args.size()) {
        case 1 -> new Upsample.Spec(integer(args, 0), integer(args, 0));
        case 2 -> new Upsample.Spec(integer(args, 0), integer(args, 1));
        default -> throw new BadArguments("Upsample takes (scale_factor) or (scale_h, scale_w)");
      }),
      Map.entry(DSL + "MaxPool2d", args -> new MaxPool2d.Spec(integer(args, 0), integer(args, 0), 0, false)),
      Map.entry(DSL + "AvgPool2d", args -> new AvgPool2d.Spec(integer(args, 0), integer(args, 0), 0, false, true)),
      Map.entry(DSL + "AdaptiveAvgPool2d", args -> switch (args.size()) {
        case 1 -> new AdaptiveAvgPool2d.Spec(integer(args, 0), integer(args, 0), false);
        case 2 -> new AdaptiveAvgPool2d.Spec(integer(args, 0), integer(args, 1), true);
        default -> throw new BadArguments("AdaptiveAvgPool2d takes (output_size) or (out_h, out_w)");
      }),
      Map.entry(DSL + "Conv1d", args -> switch (args.size()) {
        case 3 -> new Conv1d.Spec(integer(args, 0), integer(args, 1), integer(args, 2), 1, 0, true);
        default -> throw new BadArguments("Conv1d takes (in_channels, out_channels, kernel_size); stride, padding and bias are"
            + " builder calls: new Conv1d(16, 32, 3).padding(1)");
      }),
      Map.entry(DSL + "MaxPool1d", args -> new MaxPool1d.Spec(integer(args, 0), integer(args, 0), 0, false)),
      Map.entry(DSL + "AvgPool1d", args -> new AvgPool1d.Spec(integer(args, 0), integer(args, 0), 0, false, true)),
      Map.entry(DSL + "AdaptiveAvgPool1d", args -> new AdaptiveAvgPool1d.Spec(integer(args, 0))),
      Map.entry(DSL + "LayerNorm", args -> {
        if (!args.isEmpty() && args.get(0) instanceof int[] shape) { // the varargs as an array, or the three-argument form
          return switch (args.size()) {
            case 1 -> new LayerNorm.Spec(shape, 1e-5, true);
            case 3 -> new LayerNorm.Spec(shape, number(args, 1), bool(args, 2));
            default -> throw new BadArguments("LayerNorm takes (d, ...), (new int[] {d, ...}) or (new int[] {d, ...}, eps, elementwise_affine)");
          };
        }
        int[] shape = new int[args.size()];
        for (int i = 0; i < shape.length; i++) {
          shape[i] = integer(args, i);
        }
        return new LayerNorm.Spec(shape, 1e-5, true);
      }),
      Map.entry(DSL + "GroupNorm", args -> switch (args.size()) {
        case 2 -> new GroupNorm.Spec(integer(args, 0), integer(args, 1), 1e-5, true);
        case 4 -> new GroupNorm.Spec(integer(args, 0), integer(args, 1), number(args, 2), bool(args, 3));
        default -> throw new BadArguments("GroupNorm takes (num_groups, num_channels) or (num_groups, num_channels, eps, affine)");
      }),
      Map.entry(DSL + "InstanceNorm1d", args -> switch (args.size()) {
        case 1 -> new InstanceNorm1d.Spec(integer(args, 0), 1e-5, false, 0.1, false);
        case 5 -> new InstanceNorm1d.Spec(integer(args, 0), number(args, 1), bool(args, 3), number(args, 2), bool(args, 4));
        default -> throw new BadArguments("InstanceNorm1d takes (num_features) or (num_features, eps, momentum, affine,"
            + " track_running_stats)");
      }),
      Map.entry(DSL + "InstanceNorm2d", args -> switch (args.size()) {
        case 1 -> new InstanceNorm2d.Spec(integer(args, 0), 1e-5, false);
        case 3 -> new InstanceNorm2d.Spec(integer(args, 0), number(args, 1), bool(args, 2));
        case 5 -> new InstanceNorm2d.Spec(integer(args, 0), number(args, 1), bool(args, 3), number(args, 2), bool(args, 4));
        default -> throw new BadArguments("InstanceNorm2d takes (num_features), (num_features, eps, affine) or (num_features, eps,"
            + " momentum, affine, track_running_stats)");
      }),
      Map.entry(DSL + "BatchNorm1d", args -> switch (args.size()) {
        case 1 -> new BatchNorm1d.Spec(integer(args, 0), 1e-5, 0.1, true);
        case 4 -> new BatchNorm1d.Spec(integer(args, 0), number(args, 1), number(args, 2), bool(args, 3));
        default -> throw new BadArguments("BatchNorm1d takes (num_features) or (num_features, eps, momentum, affine)");
      }),
      Map.entry(DSL + "BatchNorm2d", args -> switch (args.size()) {
        case 1 -> new BatchNorm2d.Spec(integer(args, 0), 1e-5, 0.1, true);
        case 4 -> new BatchNorm2d.Spec(integer(args, 0), number(args, 1), number(args, 2), bool(args, 3));
        default -> throw new BadArguments("BatchNorm2d takes (num_features) or (num_features, eps, momentum, affine)");
      }));

  /** Builder-style calls on a layer, e.g. {@code new Conv2d(1, 32, 3).padding(1)}. */
  private static final Map<String, Builder> BUILDERS = Map.of(
      DSL + "Recurrent", (spec, method, args) -> { // LSTM, GRU, RNN: their builders are Recurrent's
        Recurrent.Spec s = (Recurrent.Spec) spec;
        return switch (method + "/" + args.size()) {
          case "numLayers/1" -> new Recurrent.Spec(s.mode(), s.inputSize(), s.hiddenSize(), integer(args, 0), s.bias(), s.batchFirst(),
              s.dropout(), s.bidirectional());
          case "bias/1" -> new Recurrent.Spec(s.mode(), s.inputSize(), s.hiddenSize(), s.numLayers(), bool(args, 0), s.batchFirst(),
              s.dropout(), s.bidirectional());
          case "batchFirst/1" -> new Recurrent.Spec(s.mode(), s.inputSize(), s.hiddenSize(), s.numLayers(), s.bias(), bool(args, 0),
              s.dropout(), s.bidirectional());
          case "dropout/1" -> new Recurrent.Spec(s.mode(), s.inputSize(), s.hiddenSize(), s.numLayers(), s.bias(), s.batchFirst(),
              number(args, 0), s.bidirectional());
          case "bidirectional/1" -> new Recurrent.Spec(s.mode(), s.inputSize(), s.hiddenSize(), s.numLayers(), s.bias(),
              s.batchFirst(), s.dropout(), bool(args, 0));
          default -> throw new BadArguments(s.toString().substring(0, s.toString().indexOf('(')) + " has no builder " + method
              + " with " + args.size() + " argument(s); it has numLayers, bias, batchFirst, dropout, bidirectional");
        };
      },
      DSL + "EmbeddingBag", (spec, method, args) -> {
        EmbeddingBag.Spec s = (EmbeddingBag.Spec) spec;
        return switch (method + "/" + args.size()) {
          case "paddingIdx/1" -> new EmbeddingBag.Spec(s.numEmbeddings(), s.embeddingDim(), s.mode(),
              Embedding.Spec.of(s.numEmbeddings(), s.embeddingDim(), integer(args, 0)).paddingIdx(), s.includeLastOffset());
          case "includeLastOffset/1" -> new EmbeddingBag.Spec(s.numEmbeddings(), s.embeddingDim(), s.mode(), s.paddingIdx(),
              bool(args, 0));
          default -> throw new BadArguments("EmbeddingBag has no builder " + method + " with " + args.size()
              + " argument(s); it has paddingIdx, includeLastOffset");
        };
      },
      DSL + "AvgPool2d", (spec, method, args) -> {
        AvgPool2d.Spec s = (AvgPool2d.Spec) spec;
        return switch (method + "/" + args.size()) {
          case "stride/1" -> new AvgPool2d.Spec(s.kernelSize(), integer(args, 0), s.padding(), s.ceilMode(), s.countIncludePad());
          case "padding/1" -> new AvgPool2d.Spec(s.kernelSize(), s.stride(), integer(args, 0), s.ceilMode(), s.countIncludePad());
          case "ceilMode/1" -> new AvgPool2d.Spec(s.kernelSize(), s.stride(), s.padding(), bool(args, 0), s.countIncludePad());
          case "countIncludePad/1" -> new AvgPool2d.Spec(s.kernelSize(), s.stride(), s.padding(), s.ceilMode(), bool(args, 0));
          default -> throw new BadArguments("AvgPool2d has no builder " + method + " with " + args.size()
              + " argument(s); it has stride, padding, ceilMode, countIncludePad");
        };
      },
      DSL + "Conv2d", (spec, method, args) -> {
        Conv2d.Spec s = (Conv2d.Spec) spec;
        return switch (method + "/" + args.size()) {
          case "stride/1" -> s.withStride(integer(args, 0), integer(args, 0));
          case "stride/2" -> s.withStride(integer(args, 0), integer(args, 1));
          case "padding/1" -> s.withPadding(integer(args, 0), integer(args, 0));
          case "padding/2" -> s.withPadding(integer(args, 0), integer(args, 1));
          case "dilation/1" -> s.withDilation(integer(args, 0), integer(args, 0));
          case "dilation/2" -> s.withDilation(integer(args, 0), integer(args, 1));
          case "groups/1" -> s.withGroups(integer(args, 0));
          case "bias/1" -> s.withBias(bool(args, 0));
          default -> throw new BadArguments("Conv2d has no builder " + method + " with " + args.size()
              + " argument(s); it has stride, padding, dilation, groups, bias");
        };
      },
      DSL + "ConvTranspose2d", (spec, method, args) -> {
        ConvTranspose2d.Spec s = (ConvTranspose2d.Spec) spec;
        return switch (method + "/" + args.size()) {
          case "stride/1" -> s.withStride(integer(args, 0), integer(args, 0));
          case "stride/2" -> s.withStride(integer(args, 0), integer(args, 1));
          case "padding/1" -> s.withPadding(integer(args, 0), integer(args, 0));
          case "padding/2" -> s.withPadding(integer(args, 0), integer(args, 1));
          case "outputPadding/1" -> s.withOutputPadding(integer(args, 0), integer(args, 0));
          case "outputPadding/2" -> s.withOutputPadding(integer(args, 0), integer(args, 1));
          case "dilation/1" -> s.withDilation(integer(args, 0), integer(args, 0));
          case "dilation/2" -> s.withDilation(integer(args, 0), integer(args, 1));
          case "groups/1" -> s.withGroups(integer(args, 0));
          case "bias/1" -> s.withBias(bool(args, 0));
          default -> throw new BadArguments("ConvTranspose2d has no builder " + method + " with " + args.size()
              + " argument(s); it has stride, padding, outputPadding, dilation, groups, bias");
        };
      },
      DSL + "Conv1d", (spec, method, args) -> {
        Conv1d.Spec s = (Conv1d.Spec) spec;
        return switch (method + "/" + args.size()) {
          case "stride/1" -> s.withStride(integer(args, 0));
          case "padding/1" -> s.withPadding(integer(args, 0));
          case "dilation/1" -> s.withDilation(integer(args, 0));
          case "groups/1" -> s.withGroups(integer(args, 0));
          case "bias/1" -> s.withBias(bool(args, 0));
          default -> throw new BadArguments("Conv1d has no builder " + method + " with " + args.size()
              + " argument(s); it has stride, padding, dilation, groups, bias");
        };
      },
      DSL + "MaxPool1d", (spec, method, args) -> {
        MaxPool1d.Spec s = (MaxPool1d.Spec) spec;
        return switch (method + "/" + args.size()) {
          case "stride/1" -> new MaxPool1d.Spec(s.kernelSize(), integer(args, 0), s.padding(), s.ceilMode());
          case "padding/1" -> new MaxPool1d.Spec(s.kernelSize(), s.stride(), integer(args, 0), s.ceilMode());
          case "ceilMode/1" -> new MaxPool1d.Spec(s.kernelSize(), s.stride(), s.padding(), bool(args, 0));
          default -> throw new BadArguments("MaxPool1d has no builder " + method + " with " + args.size() + " argument(s); it has stride, padding, ceilMode");
        };
      },
      DSL + "AvgPool1d", (spec, method, args) -> {
        AvgPool1d.Spec s = (AvgPool1d.Spec) spec;
        return switch (method + "/" + args.size()) {
          case "stride/1" -> new AvgPool1d.Spec(s.kernelSize(), integer(args, 0), s.padding(), s.ceilMode(), s.countIncludePad());
          case "padding/1" -> new AvgPool1d.Spec(s.kernelSize(), s.stride(), integer(args, 0), s.ceilMode(), s.countIncludePad());
          case "ceilMode/1" -> new AvgPool1d.Spec(s.kernelSize(), s.stride(), s.padding(), bool(args, 0), s.countIncludePad());
          case "countIncludePad/1" -> new AvgPool1d.Spec(s.kernelSize(), s.stride(), s.padding(), s.ceilMode(), bool(args, 0));
          default -> throw new BadArguments("AvgPool1d has no builder " + method + " with " + args.size()
              + " argument(s); it has stride, padding, ceilMode, countIncludePad");
        };
      },
      DSL + "MaxPool2d", (spec, method, args) -> {
        MaxPool2d.Spec s = (MaxPool2d.Spec) spec;
        return switch (method + "/" + args.size()) {
          case "stride/1" -> new MaxPool2d.Spec(s.kernelSize(), integer(args, 0), s.padding(), s.ceilMode());
          case "padding/1" -> new MaxPool2d.Spec(s.kernelSize(), s.stride(), integer(args, 0), s.ceilMode());
          case "ceilMode/1" -> new MaxPool2d.Spec(s.kernelSize(), s.stride(), s.padding(), bool(args, 0));
          default -> throw new BadArguments("MaxPool2d has no builder " + method + " with " + args.size() + " argument(s); it has stride, padding, ceilMode");
        };
      });

  static boolean knows(String qualifiedName) {
    return LAYERS.containsKey(qualifiedName);
  }

  /** Simple names of the supported layers, for messages. */
  static String supported() {
    return "Linear, Conv1d, Conv2d, ConvTranspose2d, Upsample, MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool1d, AdaptiveAvgPool2d, BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, InstanceNorm1d, InstanceNorm2d, Dropout, Dropout2d, Flatten, ReLU, Sigmoid, Tanh, LeakyReLU, GELU, SiLU, ELU, Softplus, Hardtanh, ReLU6, Hardswish, Hardsigmoid, Mish, SELU, CELU, Softsign, LogSigmoid, Tanhshrink, Identity, Unflatten, Softmax, LogSoftmax, Softmin, GLU, PReLU, PixelShuffle, PixelUnshuffle, ReflectionPad1d, ReflectionPad2d, ReplicationPad1d, ReplicationPad2d, ZeroPad2d, Embedding, EmbeddingBag, LSTM, GRU, RNN, Sequential";
  }

  static LayerSpec create(String qualifiedName, List<Object> args) throws BadArguments {
    try {
      return LAYERS.get(qualifiedName).create(args);
    } catch (IndexOutOfBoundsException e) {
      throw new BadArguments(qualifiedName.substring(DSL.length()) + " needs more arguments than " + args.size());
    } catch (IllegalArgumentException e) { // the spec's own validation
      throw new BadArguments(e.getMessage());
    }
  }

  /** Applies a builder call; unknown builders are reported with the ones that exist. */
  static LayerSpec builder(String qualifiedName, LayerSpec spec, String method, List<Object> args) throws BadArguments {
    Builder b = BUILDERS.get(qualifiedName);
    if (b == null) {
      throw new BadArguments(qualifiedName.substring(DSL.length()) + " has no builder methods; pass its arguments to the constructor");
    }
    try {
      return b.apply(spec, method, args);
    } catch (IllegalArgumentException e) {
      throw new BadArguments(e.getMessage());
    }
  }

  /**
   * Checks a layer's configuration that its builder calls may reach in any order, once they are all
   * applied: a transposed convolution's output padding below its stride or dilation (at least the stride: the generator
   * pads the input as eager mode does).
   */
  static void complete(LayerSpec spec) throws BadArguments {
    if (spec instanceof ConvTranspose2d.Spec s) {
      try {
        s.checkOutputPadding();
      } catch (RuntimeException e) {
        throw new BadArguments(e.getMessage());
      }
    }
  }

  /**
   * The spec of an {@code F} function applied to one tensor, given its constant arguments after
   * the tensor; e.g. {@code maxPool2d(x, 2)} is {@code MaxPool2d(2)}.
   */
  static LayerSpec function(String name, List<Object> args) throws BadArguments {
    if (!knowsFunction(name, args.size())) {
      throw new BadArguments(unsupportedFunction(name, args.size()));
    }
    try {
      LayerSpec activation = moreActivation(name, args);
      if (activation != null) {
        return activation;
      }
      if (name.equals("permute")) { // F.permute(x, 0, 2, 1, 3), or its varargs as an array
        List<Integer> dims = new ArrayList<>();
        if (args.size() == 1 && args.get(0) instanceof int[] given) {
          Arrays.stream(given).forEach(dims::add);
        } else {
          for (int i = 0; i < args.size(); i++) {
            dims.add(integer(args, i));
          }
        }
        return new Permute(dims);
      }
      if (name.equals("roll")) { // x.roll(1, 2), x.roll(new int[] {1, -1}, new int[] {1, 2})
        return roll(args);
      }
      if (name.equals("flip") || name.equals("repeat")) { // x.flip(1, 2), x.repeat(1, 2, 1), or their varargs as an array
        return indexing(name, args);
      }
      if (Pointwise.knows(name, args.size())) { // x.rsqrt(), x.pow(2), x.clamp(-1, 1): eager mode's element-wise kernels
        return Pointwise.of(name, args);
      }
      if (name.equals("reshape")) {
        List<Integer> shape = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
          shape.add(integer(args, i));
        }
        return new Reshape(shape);
      }
      return switch (name + "/" + args.size()) {
        case "relu/0" -> new ReLU.Spec();
        case "sigmoid/0" -> new Sigmoid.Spec();
        case "tanh/0" -> new Tanh.Spec();
        case "gelu/0", "gelu/1" -> gelu("gelu", args);
        case "silu/0" -> new SiLU.Spec();
        case "leakyRelu/1" -> new LeakyReLU.Spec(number(args, 0));
        case "elu/0" -> new ELU.Spec(1.0);
        case "elu/1" -> new ELU.Spec(number(args, 0));
        case "softplus/0" -> new Softplus.Spec(1, 20);
        case "softplus/2" -> new Softplus.Spec(number(args, 0), number(args, 1));
        case "hardtanh/0" -> new Hardtanh.Spec(-1.0, 1.0);
        case "hardtanh/2" -> new Hardtanh.Spec(number(args, 0), number(args, 1));
        case "pad/1" -> new Pad(pads(args), 0f);
        case "pad/2" -> args.get(1) instanceof String mode ? padMode(args, mode) : new Pad(pads(args), (float) number(args, 1));
        case "normalize/0" -> new Normalize(2f, 1, 1e-12f);
        case "normalize/3" -> new Normalize((float) number(args, 0), integer(args, 1), (float) number(args, 2));
        case "softmax/1" -> new Softmax.Spec(integer(args, 0));
        case "logSoftmax/1" -> new LogSoftmax.Spec(integer(args, 0));
        case "flatten/0" -> new Flatten.Spec(1, -1);
        case "flatten/2" -> new Flatten.Spec(integer(args, 0), integer(args, 1));
        case "maxPool2d/1" -> new MaxPool2d.Spec(integer(args, 0), integer(args, 0), 0, false);
        case "maxPool2d/2" -> new MaxPool2d.Spec(integer(args, 0), integer(args, 1), 0, false);
        case "maxPool2d/4" -> new MaxPool2d.Spec(integer(args, 0), integer(args, 1), integer(args, 2), bool(args, 3));
        case "avgPool2d/1" -> new AvgPool2d.Spec(integer(args, 0), integer(args, 0), 0, false, true);
        case "avgPool2d/2" -> new AvgPool2d.Spec(integer(args, 0), integer(args, 1), 0, false, true);
        case "avgPool2d/5" -> new AvgPool2d.Spec(integer(args, 0), integer(args, 1), integer(args, 2), bool(args, 3), bool(args, 4));
        case "maxPool1d/1" -> new MaxPool1d.Spec(integer(args, 0), integer(args, 0), 0, false);
        case "maxPool1d/2" -> new MaxPool1d.Spec(integer(args, 0), integer(args, 1), 0, false);
        case "maxPool1d/4" -> new MaxPool1d.Spec(integer(args, 0), integer(args, 1), integer(args, 2), bool(args, 3));
        case "avgPool1d/1" -> new AvgPool1d.Spec(integer(args, 0), integer(args, 0), 0, false, true);
        case "avgPool1d/2" -> new AvgPool1d.Spec(integer(args, 0), integer(args, 1), 0, false, true);
        case "avgPool1d/5" -> new AvgPool1d.Spec(integer(args, 0), integer(args, 1), integer(args, 2), bool(args, 3), bool(args, 4));
        case "adaptiveAvgPool1d/1" -> new AdaptiveAvgPool1d.Spec(integer(args, 0));
        case "interpolate/1" -> new Upsample.Spec(integer(args, 0), integer(args, 0));
        case "interpolate/2" -> new Upsample.Spec(integer(args, 0), integer(args, 1));
        case "adaptiveAvgPool2d/1" -> new AdaptiveAvgPool2d.Spec(integer(args, 0), integer(args, 0), false);
        case "adaptiveAvgPool2d/2" -> new AdaptiveAvgPool2d.Spec(integer(args, 0), integer(args, 1), true);
        case "transpose/2" -> new Transpose(integer(args, 0), integer(args, 1));
        case "select/2" -> Narrow.select(integer(args, 0), integer(args, 1));
        case "narrow/3" -> new Narrow(integer(args, 0), integer(args, 1), integer(args, 2), false);
        case "add/1" -> Shift.plus(number(args, 0));
        case "sub/1" -> Shift.minus(number(args, 0));
        case "sum/1", "sum/2", "mean/1", "mean/2" -> reduce(name.equals("mean"), args);
        case "logsumexp/1" -> LineOp.logsumexp(integer(args, 0), false);
        case "logsumexp/2" -> LineOp.logsumexp(integer(args, 0), bool(args, 1));
        case "norm/2" -> LineOp.norm((float) number(args, 0), integer(args, 1), false);
        case "norm/3" -> LineOp.norm((float) number(args, 0), integer(args, 1), bool(args, 2));
        case "cumsum/1" -> LineOp.cumsum(integer(args, 0));
        case "prod/1" -> LineOp.prod(integer(args, 0), false);
        case "prod/2" -> LineOp.prod(integer(args, 0), bool(args, 1));
        case "prod/0" -> throw new BadArguments("x.prod() is the product of every value of the batch together, and a compiled forward"
            + " keeps the batch dimension: take the product along a dimension after it (x.prod(1)), or of the model's output"
            + " outside forward");
        case "amax/0", "amin/0", "amax/1", "amin/1", "amax/2", "amin/2" -> extreme(name, args);
        case "argmax/1" -> LineOp.argmax(integer(args, 0), false);
        case "argmax/2" -> LineOp.argmax(integer(args, 0), bool(args, 1));
        case "argmin/1" -> LineOp.argmin(integer(args, 0), false);
        case "argmin/2" -> LineOp.argmin(integer(args, 0), bool(args, 1));
        case "topk/2" -> LineOp.ranks(integer(args, 0), integer(args, 1), true); // (its indices(): DeclarationReader)
        case "topk/3" -> LineOp.ranks(integer(args, 0), integer(args, 1), bool(args, 2));
        case "argsort/1" -> LineOp.ranks(-1, integer(args, 0), false);
        case "argsort/2" -> LineOp.ranks(-1, integer(args, 0), bool(args, 1));
        case "norm/0" -> throw new BadArguments("x.norm() is the norm of every value of the batch together, and a compiled forward"
            + " keeps the batch dimension: take the norm along a dimension after it (x.norm(2, 1)), or of the model's output"
            + " outside forward");
        case "mul/1" -> Scale.times(number(args, 0));
        case "div/1" -> Scale.dividedBy(number(args, 0));
        default -> throw new BadArguments(unsupportedFunction(name, args.size()));
      };
    } catch (IllegalArgumentException e) {
      throw new BadArguments(e.getMessage());
    }
  }

  /** The {@code F} functions {@link #function} compiles, as name/number of arguments after the tensor. */
  private static final java.util.Set<String> FUNCTIONS = java.util.Set.of("relu/0", "sigmoid/0", "tanh/0", "gelu/0", "gelu/1", "silu/0", "leakyRelu/1",
      "elu/0", "elu/1", "softplus/0", "softplus/2", "hardtanh/0", "hardtanh/2", "pad/1", "pad/2", "normalize/0", "normalize/3", "softmax/1", "logSoftmax/1", "flatten/0", "flatten/2", "maxPool2d/1", "maxPool2d/2", "maxPool2d/4", "avgPool2d/1", "avgPool2d/2",
      "avgPool2d/5", "adaptiveAvgPool2d/1", "adaptiveAvgPool2d/2", "maxPool1d/1", "maxPool1d/2", "maxPool1d/4", "avgPool1d/1",
      "avgPool1d/2", "avgPool1d/5", "adaptiveAvgPool1d/1", "interpolate/1", "interpolate/2", "transpose/2", "select/2", "narrow/3", "mul/1", "div/1", "add/1", "sub/1", "sum/1", "sum/2", "mean/1",
      "mean/2", "logsumexp/1", "logsumexp/2", "norm/0", "norm/2", "norm/3", "cumsum/1", "prod/0", "prod/1", "prod/2",
      "amax/0", "amax/1", "amax/2", "amin/0", "amin/1", "amin/2", "argmax/1", "argmax/2", "argmin/1", "argmin/2", "argsort/1", "argsort/2", "topk/2", "topk/3");

  /**
   * Whether {@code F.name} with {@code constants} arguments after the tensor is compiled: checked
   * before its arguments are folded, so that {@code F.add(x, h)} is named as unsupported rather
   * than {@code h} as not a constant.
   */
  static boolean knowsFunction(String name, int constants) {
    return FUNCTIONS.contains(name + "/" + constants) || MORE_ACTIVATIONS.contains(name + "/" + constants)
        || Pointwise.knows(name, constants) || (name.equals("reshape") || name.equals("permute")) && constants >= 1
        || name.equals("flip") || name.equals("repeat") // (x.flip() is a copy, x.repeat() an error naming the shape)
        || (name.equals("unsqueeze") || name.equals("squeeze")) && constants == 1 // (read by FunctionCalls: the shape they give)
        || name.equals("roll") && constants >= 1 && constants <= 2; // (x.roll(1) of the flattened batch: an error saying why)
  }

  /** The {@code F} activations of eager mode's {@code ActivationCodeKernels}, and relu6, as name/number of arguments after the tensor. */
  private static final java.util.Set<String> MORE_ACTIVATIONS = java.util.Set.of("relu6/0", "hardswish/0", "hardsigmoid/0", "mish/0",
      "selu/0", "celu/0", "celu/1", "softsign/0", "logsigmoid/0", "tanhshrink/0", "glu/0", "glu/1", "softmin/1", "pixelShuffle/1",
      "pixelUnshuffle/1");

  /** The step of {@code F.mish(x)} and the rest of {@link #MORE_ACTIVATIONS}, or null for another function. */
  private static LayerSpec moreActivation(String name, List<Object> args) throws BadArguments {
    return switch (name + "/" + args.size()) {
      case "relu6/0" -> new dev.kiln.dsl.ReLU6.Spec();
      case "hardswish/0" -> new dev.kiln.dsl.Hardswish.Spec();
      case "hardsigmoid/0" -> new dev.kiln.dsl.Hardsigmoid.Spec();
      case "mish/0" -> new dev.kiln.dsl.Mish.Spec();
      case "selu/0" -> new dev.kiln.dsl.SELU.Spec();
      case "celu/0" -> new dev.kiln.dsl.CELU.Spec(1.0);
      case "celu/1" -> new dev.kiln.dsl.CELU.Spec(number(args, 0));
      case "softsign/0" -> new dev.kiln.dsl.Softsign.Spec();
      case "logsigmoid/0" -> new dev.kiln.dsl.LogSigmoid.Spec();
      case "tanhshrink/0" -> new dev.kiln.dsl.Tanhshrink.Spec();
      case "glu/0" -> new dev.kiln.dsl.GLU.Spec(-1);
      case "glu/1" -> new dev.kiln.dsl.GLU.Spec(integer(args, 0));
      case "softmin/1" -> new dev.kiln.dsl.Softmin.Spec(integer(args, 0));
      case "pixelShuffle/1" -> new dev.kiln.dsl.PixelShuffle.Spec(integer(args, 0));
      case "pixelUnshuffle/1" -> new dev.kiln.dsl.PixelUnshuffle.Spec(integer(args, 0));
      default -> null;
    };
  }

  static String unsupportedFunction(String name, int constants) {
    String instead = switch (name) {
      case "linear" -> "it takes weight tensors: declare a Linear field and apply it"; // (F.conv2d of tensor fields compiles)
      case "crossEntropy", "mseLoss", "l1Loss", "nllLoss", "binaryCrossEntropy", "binaryCrossEntropyWithLogits" ->
          "a loss belongs outside forward: apply it to the model's output";
      case "reshape" -> "give the shape after the tensor, the batch first as -1: reshape(x, -1, 64, 1, 1)";
      case "dropout", "dropout2d" -> "pass the mode (F.dropout(x, p, isTraining())), or use a Dropout field (new Dropout(p)),"
          + " which follows train() and eval()";
      default -> "use layer fields for the rest, or leave out @Model and the model runs eagerly, as written";
    };
    return "F." + name + " with " + (constants + 1) + " argument(s) is not supported by the Kiln compiler; supported: relu, "
        + "sigmoid, tanh, gelu(x[, approximate]), silu, leakyRelu(x, slope), elu(x[, alpha]), softplus(x[, beta, threshold]), hardtanh(x[, min, max]), relu6, hardswish, hardsigmoid, mish, selu, celu(x[, alpha]), softsign, logsigmoid, tanhshrink, glu(x[, dim]), softmin(x, dim), pixelShuffle(x, r), pixelUnshuffle(x, r), softmax(x, dim), logSoftmax(x, dim), flatten(x[, start, end]), maxPool2d(x, k[, stride[, padding, "
        + "ceilMode]]), avgPool2d(x, k[, stride[, padding, ceilMode, countIncludePad]]), adaptiveAvgPool2d(x, size[, width]), maxPool1d(x, k[, stride[, padding, ceilMode]]), avgPool1d(x, k[, stride[, padding, "
        + "ceilMode, countIncludePad]]), adaptiveAvgPool1d(x, size), interpolate(x, scale[, scale_w]), "
        + "reshape(x, -1, ...), pad(x, new int[] {left, right, ...}[, value or mode]), normalize(x[, p, dim, eps]), x.logsumexp(dim[, keepDim]), x.norm(p, dim[, keepDim]), x.prod(dim[, keepDim]), x.amax(dims...) and x.amin(dims...) (or (new int[] {dims}, keepDim)), x.cumsum(dim), x.flip(dims...), x.roll(shift, dim), x.neg(), x.repeat(1, counts...), cosineSimilarity(a, b[, dim, eps]) of two values (broadcast where a size is 1), transpose(x, d0, d1), permute(x, 0, ...), select(x, dim, index), narrow(x, dim, start, length), add(a, b), sub(a, b), mul(a, b) and div(a, b) of two"
        + " values of one shape or broadcast ([N, C, 1, 1] over [N, C, H, W]) or of a tensor field (x.add(pos)), matmul(a, b) of"
        + " two values, mul(x, c) and div(x, c) of a constant (x.add(c), x.sub(c) too), sum(x, dim[, keepDim]) and mean(x, dim[,"
        + " keepDim]) along a dimension after the batch (or several: mean(x, new int[] {2, 3})), maskedFill(x, mask, value) of a buffer mask, "
        + "the element-wise Tensor methods x.rsqrt(), square(), reciprocal(), log1p(), expm1(), floor(), ceil(), round(), trunc(), "
        + "sign(), exp(), log(), sqrt(), abs(), sin(), cos(), pow(e), clamp(min, max), clampMin(min), clampMax(max), "
        + "a.maximum(b) and a.minimum(b); " + instead;
  }

  /**
   * {@code x.amax(dim)} or {@code x.amin}, also {@code (new int[] {dim}, keepDim)}: one dimension after the batch, or several at
   * once ({@code x.amax(1, 2)}, {@code (new int[] {1, 2}, keepDim)}); none (every value, the batch's too) is refused with the way
   * to write it.
   */
  private static LayerSpec extreme(String name, List<Object> args) throws BadArguments {
    boolean max = name.equals("amax");
    boolean keepDim = args.size() == 2 && args.get(1) instanceof Boolean;
    int[] dims = args.isEmpty() ? new int[0] : args.get(0) instanceof int[] given ? given
        : keepDim || args.size() == 1 ? new int[] {integer(args, 0)} : new int[] {integer(args, 0), integer(args, 1)};
    if (keepDim) {
      keepDim = bool(args, 1);
    }
    if (dims.length == 0) {
      throw new BadArguments("x." + name + "() is the " + (max ? "maximum" : "minimum") + " of every value of the batch together,"
          + " and a compiled forward keeps the batch dimension: take it along a dimension after it (x." + name + "(1)), or of the"
          + " model's output outside forward");
    }
    return dims.length > 1 ? LineOp.extreme(max, dims, keepDim) : LineOp.extreme(max, dims[0], keepDim);
  }

  /** {@code sum(x, dim[, keepDim])} or {@code mean}, or over several dimensions: {@code mean(x, new int[] {2, 3}[, keepDim])}. */
  private static LayerSpec reduce(boolean mean, List<Object> args) throws BadArguments {
    boolean keepDim = args.size() == 2 && bool(args, 1);
    if (args.get(0) instanceof int[] dims) {
      return new Reduce(mean, Arrays.stream(dims).boxed().toList(), keepDim, true);
    }
    return new Reduce(mean, integer(args, 0), keepDim);
  }

  /** {@code F.cosineSimilarity(a, b)} (dim 1, eps 1e-8, PyTorch's defaults) or {@code (a, b, dim, eps)}: the constants after the values. */
  static LayerSpec cosineSimilarity(List<Object> args) throws BadArguments {
    try {
      return args.isEmpty() ? new Cosine(1, 1e-8f) : new Cosine(integer(args, 0), (float) number(args, 1));
    } catch (IllegalArgumentException e) {
      throw new BadArguments(e.getMessage());
    }
  }

  /** {@code x.flip(dims...)} or {@code x.repeat(counts...)}: ints, or one int[] (the varargs as an array). */
  private static LayerSpec indexing(String name, List<Object> args) throws BadArguments {
    List<Integer> values = new ArrayList<>();
    if (args.size() == 1 && args.get(0) instanceof int[] given) {
      Arrays.stream(given).forEach(values::add);
    } else {
      for (int i = 0; i < args.size(); i++) {
        values.add(integer(args, i));
      }
    }
    return name.equals("flip") ? new Flip(values) : new Tile(values);
  }

  /**
   * {@code x.roll(shift, dim)} or {@code x.roll(shifts, dims)}; {@code x.roll(shift)}, which rolls the tensor flattened (the
   * batch's values into one another), is refused with the way to write it.
   */
  private static LayerSpec roll(List<Object> args) throws BadArguments {
    if (args.size() == 1) {
      throw new BadArguments("x.roll(shift) rolls the tensor flattened, the batch's samples into one another, and a compiled forward"
          + " keeps the batch dimension: roll along dimensions after it (x.roll(shift, 1), or x.flatten(1).roll(shift, 1) for each"
          + " sample's values flattened)");
    }
    List<Integer> shifts = new ArrayList<>(), dims = new ArrayList<>();
    if (args.get(0) instanceof int[] s && args.get(1) instanceof int[] d) {
      Arrays.stream(s).forEach(shifts::add);
      Arrays.stream(d).forEach(dims::add);
    } else {
      shifts.add(integer(args, 0));
      dims.add(integer(args, 1));
    }
    try {
      return new Roll(shifts, dims);
    } catch (IllegalArgumentException e) {
      throw new BadArguments(e.getMessage());
    }
  }

  /** {@code F.pad}'s padding, an {@code int[]} of (before, after) pairs from the last dimension backwards. */
  /** A padding layer's spec of {@code args}: one count for every side, or one per side (left, right[, top, bottom]). */
  private static LayerSpec padding(List<Object> args, String layer, String mode, int dims) throws BadArguments {
    int sides = 2 * dims;
    if (args.size() != 1 && args.size() != sides) {
      throw new BadArguments(layer + " takes (padding) or (" + (sides == 2 ? "left, right" : "left, right, top, bottom") + ")");
    }
    List<Integer> pads = new ArrayList<>();
    for (int i = 0; i < sides; i++) {
      pads.add(integer(args, args.size() == 1 ? 0 : i));
    }
    try {
      return new dev.kiln.dsl.Padding.Spec(layer, mode, dims, pads);
    } catch (IllegalArgumentException e) {
      throw new BadArguments(e.getMessage());
    }
  }

  /** {@code F.pad(x, pad, mode)}: a constant padding with zeros, or the index selects of {@code mode}'s tables. */
  private static LayerSpec padMode(List<Object> args, String mode) throws BadArguments {
    if (mode.equals("constant")) {
      return new Pad(pads(args), 0f);
    }
    if (!dev.kiln.runtime.PadModes.indexed(mode)) {
      throw new BadArguments("F.pad: mode must be one of \"constant\", \"reflect\", \"replicate\" or \"circular\", got \"" + mode + "\"");
    }
    return new IndexedPad(mode, pads(args));
  }

  private static List<Integer> pads(List<Object> args) throws BadArguments {
    if (!(args.get(0) instanceof int[] pads)) {
      throw new BadArguments("F.pad takes the padding as an int[] of (before, after) pairs from the last dimension backwards, e.g."
          + " pad(x, new int[] {1, 1, 2, 2}), got " + args.get(0));
    }
    return Arrays.stream(pads).boxed().toList();
  }

  /** {@code new LSTM(input_size, hidden_size)} (GRU, RNN alike): one layer, with bias, time first, as PyTorch's defaults. */
  private static LayerSpec recurrent(String mode, List<Object> args) throws BadArguments {
    if (args.size() != 2) {
      throw new BadArguments((mode.startsWith("RNN") ? "RNN" : mode) + " takes (input_size, hidden_size)");
    }
    return new Recurrent.Spec(mode, integer(args, 0), integer(args, 1), 1, true, false, 0, false);
  }

  /** {@code new LSTMCell(input_size, hidden_size[, bias])} (GRUCell, RNNCell alike): the cell's spec. */
  private static LayerSpec cell(String mode, List<Object> args) throws BadArguments {
    if (args.size() != 2 && args.size() != 3) {
      throw new BadArguments((mode.startsWith("RNN") ? "RNN" : mode) + "Cell takes (input_size, hidden_size[, bias])");
    }
    return new RecurrentCell.Spec(mode, integer(args, 0), integer(args, 1), args.size() == 2 || bool(args, 2));
  }

  /** The recurrent layer a cell's step is: one layer, one way, batch first, run over a sequence of one. */
  public static Recurrent.Spec stepOf(RecurrentCell.Spec cell) {
    return new Recurrent.Spec(cell.mode(), cell.inputSize(), cell.hiddenSize(), 1, cell.bias(), true, 0, false);
  }

  /** {@code GELU()}, {@code GELU("tanh")}, {@code F.gelu(x[, approximate])}: the approximate string, "none" or "tanh". */
  private static LayerSpec gelu(String name, List<Object> args) throws BadArguments {
    if (args.isEmpty()) {
      return new GELU.Spec();
    }
    if (args.size() != 1 || !(args.get(0) instanceof String approximate)) {
      throw new BadArguments(name + " takes () or (approximate), approximate \"none\" or \"tanh\"");
    }
    try {
      return new GELU.Spec(approximate);
    } catch (IllegalArgumentException e) {
      throw new BadArguments(e.getMessage());
    }
  }

  private static LayerSpec none(List<Object> args, String name, LayerSpec spec) throws BadArguments {
    if (!args.isEmpty()) {
      throw new BadArguments(name + " takes no arguments");
    }
    return spec;
  }

  /** {@code EmbeddingBag.Mode.SUM} as folded ({@link ConstantFolder.EnumConstant}). */
  private static EmbeddingBag.Mode bagMode(Object arg) throws BadArguments {
    if (arg instanceof ConstantFolder.EnumConstant c && c.type().equals(DSL + "EmbeddingBag.Mode")) {
      return EmbeddingBag.Mode.valueOf(c.name());
    }
    throw new BadArguments("EmbeddingBag's mode must be EmbeddingBag.Mode.SUM, MEAN or MAX, got " + arg);
  }

  static int integer(List<Object> args, int i) throws BadArguments {
    Object v = args.get(i);
    if (v instanceof Integer n) {
      return n;
    }
    if (v instanceof Long l && l == (int) (long) l) {
      return (int) (long) l;
    }
    throw new BadArguments("argument " + (i + 1) + " must be an int, got " + v);
  }

  static double number(List<Object> args, int i) throws BadArguments {
    if (args.get(i) instanceof Number n) {
      return n.doubleValue();
    }
    throw new BadArguments("argument " + (i + 1) + " must be a number, got " + args.get(i));
  }

  static boolean bool(List<Object> args, int i) throws BadArguments {
    if (args.get(i) instanceof Boolean b) {
      return b;
    }
    throw new BadArguments("argument " + (i + 1) + " must be a boolean, got " + args.get(i));
  }
}
