package dev.kiln.samples;

import dev.kiln.runtime.Device;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** {@code --name value} and {@code --flag} options of one command; unknown or malformed ones are errors. */
final class Args {
  private final String command;
  private final Map<String, String> values = new HashMap<>();
  private final Set<String> used = new HashSet<>();

  Args(String command, String[] args, int from, Set<String> flags) {
    this.command = command;
    for (int i = from; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--") || a.length() == 2) {
        throw new UsageException(command + ": unexpected argument '" + a + "'");
      }
      String name = a.substring(2);
      int eq = name.indexOf('=');
      if (eq >= 0) {
        values.put(name.substring(0, eq), name.substring(eq + 1));
      } else if (flags.contains(name)) {
        values.put(name, "true");
      } else if (i + 1 < args.length) {
        values.put(name, args[++i]);
      } else {
        throw new UsageException(command + ": option --" + name + " needs a value");
      }
    }
  }

  String string(String name, String fallback) {
    used.add(name);
    return values.getOrDefault(name, fallback);
  }

  boolean flag(String name) {
    return Boolean.parseBoolean(string(name, "false"));
  }

  int integer(String name, int fallback, int min) {
    String v = string(name, null);
    if (v == null) {
      return fallback;
    }
    try {
      int n = Integer.parseInt(v);
      if (n < min) {
        throw new UsageException(command + ": --" + name + " must be at least " + min + ", got " + n);
      }
      return n;
    } catch (NumberFormatException e) {
      throw new UsageException(command + ": --" + name + " expects a whole number, got '" + v + "'");
    }
  }

  double number(String name, double fallback) {
    String v = string(name, null);
    if (v == null) {
      return fallback;
    }
    try {
      return Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw new UsageException(command + ": --" + name + " expects a number, got '" + v + "'");
    }
  }

  /**
   * {@code --device auto|cpu|cuda}, default {@code auto}: CUDA when it loads and works, else the
   * CPU (logged once, with what the probe found). {@code cuda} fails, naming what is missing,
   * where CUDA cannot be used.
   */
  Device device() {
    String d = string("device", "auto");
    return switch (d) {
      case "auto" -> Device.best();
      case "cpu" -> Device.cpu();
      case "cuda" -> Device.cuda();
      default -> throw new UsageException(command + ": --device must be auto, cpu or cuda, got '" + d + "'");
    };
  }

  /** Fails on options the command never asked for (typos). Call after reading all options. */
  void rejectUnknown() {
    for (String name : values.keySet()) {
      if (!used.contains(name)) {
        throw new UsageException(command + ": unknown option --" + name);
      }
    }
  }

  /** A command-line mistake: printed with the usage, exit status 2. */
  static final class UsageException extends RuntimeException {
    UsageException(String message) {
      super(message);
    }
  }
}
