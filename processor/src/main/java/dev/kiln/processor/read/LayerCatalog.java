package dev.kiln.processor.read;

import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.ReLU;
import java.util.List;
import java.util.Map;

/**
 * The layers the compiler knows, and how their constructor arguments (already folded to
 * constants) become the dsl's own {@link LayerSpec}, which holds the shape rule.
 */
final class LayerCatalog {
  private LayerCatalog() {}

  /** A constructor's arguments were not what the layer takes; the message says what it takes. */
  static final class BadArguments extends Exception {
    BadArguments(String message) {
      super(message, null, false, false);
    }
  }

  private interface Factory {
    LayerSpec create(List<Object> args) throws BadArguments;
  }

  private static final Map<String, Factory> LAYERS = Map.of(
      "dev.kiln.dsl.Linear", args -> switch (args.size()) {
        case 2 -> new Linear.Spec(integer(args, 0, "in_features"), integer(args, 1, "out_features"), true);
        case 3 -> new Linear.Spec(integer(args, 0, "in_features"), integer(args, 1, "out_features"), bool(args, 2, "bias"));
        default -> throw new BadArguments("Linear takes (in_features, out_features[, bias])");
      },
      "dev.kiln.dsl.ReLU", args -> {
        if (!args.isEmpty()) {
          throw new BadArguments("ReLU takes no arguments");
        }
        return new ReLU.Spec();
      },
      "dev.kiln.dsl.Flatten", args -> switch (args.size()) {
        case 0 -> new Flatten.Spec(1, -1);
        case 2 -> new Flatten.Spec(integer(args, 0, "start_dim"), integer(args, 1, "end_dim"));
        default -> throw new BadArguments("Flatten takes () or (start_dim, end_dim)");
      });

  static boolean knows(String qualifiedName) {
    return LAYERS.containsKey(qualifiedName);
  }

  /** Simple names of the supported layers, for messages. */
  static String supported() {
    return "Linear, ReLU, Flatten, Sequential";
  }

  static LayerSpec create(String qualifiedName, List<Object> args) throws BadArguments {
    try {
      return LAYERS.get(qualifiedName).create(args);
    } catch (IllegalArgumentException e) { // the spec's own validation
      throw new BadArguments(e.getMessage());
    }
  }

  private static int integer(List<Object> args, int i, String name) throws BadArguments {
    Object v = args.get(i);
    if (v instanceof Integer n) {
      return n;
    }
    if (v instanceof Long l && l == (int) (long) l) {
      return (int) (long) l;
    }
    throw new BadArguments(name + " must be an int, got " + v);
  }

  private static boolean bool(List<Object> args, int i, String name) throws BadArguments {
    if (args.get(i) instanceof Boolean b) {
      return b;
    }
    throw new BadArguments(name + " must be a boolean, got " + args.get(i));
  }
}
