package dev.kiln.samples;

import dev.kiln.runtime.Device;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * {@code --name value} and {@code --flag} options of one command; unknown or malformed ones are
 * errors, checked before any work starts. {@code --help} or {@code -h} anywhere asks for the usage.
 */
final class Args {
  private final String command;
  private final Map<String, String> values = new HashMap<>();
  /** Options given without a value: an error once the command reads them, else an unknown option. */
  private final Set<String> missingValue = new HashSet<>();
  private final Set<String> used = new HashSet<>();

  Args(String command, String[] args, int from, Set<String> flags) {
    this.command = command;
    for (int i = from; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--help") || a.equals("-h")) {
        throw new HelpRequested();
      }
      if (!a.startsWith("--") || a.length() == 2) {
        throw new UsageException(command + ": unexpected argument '" + a + "'");
      }
      String name = a.substring(2);
      int eq = name.indexOf('=');
      if (eq >= 0) {
        values.put(name.substring(0, eq), name.substring(eq + 1));
      } else if (flags.contains(name)) {
        values.put(name, "true");
      } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
        values.put(name, args[++i]);
      } else {
        missingValue.add(name);
      }
    }
  }

  String string(String name, String fallback) {
    used.add(name);
    if (missingValue.contains(name)) {
      throw new UsageException(command + ": option --" + name + " needs a value");
    }
    return values.getOrDefault(name, fallback);
  }

  /** An on/off option: {@code --eager}, or {@code --eager=true|false}. */
  boolean flag(String name) {
    String v = string(name, "false");
    if (!v.equals("true") && !v.equals("false")) {
      throw new UsageException(command + ": --" + name + " is on or off: give --" + name + " alone or --" + name
          + "=false, got '" + v + "'");
    }
    return v.equals("true");
  }

  int integer(String name, int fallback, int min) {
    String v = string(name, null);
    if (v == null) {
      return fallback;
    }
    long n;
    try {
      n = Long.parseLong(v);
    } catch (NumberFormatException e) {
      throw new UsageException(command + ": --" + name + " expects a whole number, got '" + v + "'");
    }
    if (n < min) {
      throw new UsageException(command + ": --" + name + " must be at least " + min + ", got " + n);
    }
    if (n > Integer.MAX_VALUE) {
      throw new UsageException(command + ": --" + name + " must be at most " + Integer.MAX_VALUE + ", got " + n);
    }
    return (int) n;
  }

  double number(String name, double fallback) {
    String v = string(name, null);
    if (v == null) {
      return fallback;
    }
    try {
      return parseNumber(v);
    } catch (NumberFormatException e) {
      throw new UsageException(command + ": --" + name + " expects a number, got '" + v + "'");
    }
  }

  private static final Pattern DECIMAL = Pattern.compile("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?");

  /**
   * A decimal number as a user writes it ({@code 0.01}, {@code 1e-3}, {@code -2}): unlike
   * {@link Double#parseDouble}, Java's suffixes and forms ({@code 1d}, {@code 0x1p3}, {@code Infinity},
   * {@code NaN}, surrounding spaces) are refused with a {@link NumberFormatException}.
   */
  static double parseNumber(String v) {
    if (!DECIMAL.matcher(v).matches()) {
      throw new NumberFormatException(v);
    }
    return Double.parseDouble(v);
  }

  /** A finite number above 0, such as a learning rate. */
  double positive(String name, double fallback) {
    double v = number(name, fallback);
    if (!(v > 0) || Double.isInfinite(v)) {
      throw new UsageException(command + ": --" + name + " must be a positive number, got " + v);
    }
    return v;
  }

  /** A finite number of at least 0, such as a momentum. */
  double nonNegative(String name, double fallback) {
    double v = number(name, fallback);
    if (!(v >= 0) || Double.isInfinite(v)) {
      throw new UsageException(command + ": --" + name + " must be a number of at least 0, got " + v);
    }
    return v;
  }

  /**
   * A directory for a command's output files, created now (with its parents) so that a bad path
   * fails before any training rather than after it.
   */
  Path outputDirectory(String name, String fallback) {
    Path dir = Path.of(string(name, fallback));
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw new UsageException(command + ": --" + name + " " + dir + " is a file, not a directory");
    }
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UsageException(command + ": --" + name + " " + dir + ": cannot create the directory (" + e + ")");
    }
    if (!Files.isWritable(dir)) {
      throw new UsageException(command + ": --" + name + " " + dir + ": the directory is not writable");
    }
    return dir;
  }

  /**
   * A file the command will write (a checkpoint, a model), or null when the option is absent:
   * checked now, before any training, to be a file path whose directory exists and is writable.
   */
  Path outputFile(String name) {
    String v = string(name, null);
    if (v == null) {
      return null;
    }
    Path file = Path.of(v).toAbsolutePath();
    if (Files.isDirectory(file)) {
      throw new UsageException(command + ": --" + name + " " + v + " is a directory; give a file path");
    }
    Path dir = file.getParent();
    if (dir != null && Files.exists(dir) && !Files.isDirectory(dir)) {
      throw new UsageException(command + ": --" + name + " " + v + ": " + dir + " is a file, not a directory");
    }
    if (dir == null || !Files.isDirectory(dir)) {
      throw new UsageException(command + ": --" + name + " " + v + ": the directory " + dir + " does not exist");
    }
    if (!Files.isWritable(dir)) {
      throw new UsageException(command + ": --" + name + " " + v + ": the directory " + dir + " is not writable");
    }
    return Path.of(v);
  }

  /**
   * A file the command reads (a checkpoint, a text), or null when the option is absent: checked now,
   * before any work, to exist and be a readable file.
   */
  Path inputFile(String name) {
    String v = string(name, null);
    if (v == null) {
      return null;
    }
    Path file = Path.of(v);
    if (Files.isDirectory(file)) {
      throw new UsageException(command + ": --" + name + " " + v + " is a directory; give a file");
    }
    if (!Files.isRegularFile(file)) {
      throw new UsageException(command + ": --" + name + " " + v + ": no such file");
    }
    if (!Files.isReadable(file)) {
      throw new UsageException(command + ": --" + name + " " + v + ": the file is not readable");
    }
    return file;
  }

  /**
   * {@code --device auto|cpu|cuda}, default {@code auto}: CUDA when it loads and works, else the
   * CPU (logged once, with what the probe found). {@code cuda} fails, naming what is missing,
   * where CUDA cannot be used. Call it after {@link #rejectUnknown}, so that a mistyped option is
   * reported before the device is probed.
   */
  Device device() {
    return device("auto");
  }

  /** {@link #device()} with another default. */
  Device device(String fallback) {
    String d = string("device", fallback);
    return switch (d) {
      case "auto" -> Device.best();
      case "cpu" -> Device.cpu();
      case "cuda" -> {
        try {
          yield Device.cuda();
        } catch (IllegalStateException e) {
          throw new IllegalStateException(command + ": --device cuda: " + e.getMessage().replaceFirst("^Device\\.cuda\\(\\): ", "")
              .replace("; use Device.best() or Device.cpu()", "") + "; use --device auto (the CPU when CUDA cannot run)"
              + " or --device cpu (docs/cuda.md says what a GPU run needs)", e);
        }
      }
      default -> throw new UsageException(command + ": --device must be auto, cpu or cuda, got '" + d + "'");
    };
  }

  /**
   * Fails on options the command never asked for (typos) and on flags given a value. Call after
   * reading all options; {@code readLater} are options the command reads afterwards ({@code device}).
   */
  void rejectUnknown(String... readLater) {
    used.addAll(List.of(readLater));
    for (String name : values.keySet()) {
      if (!used.contains(name)) {
        throw unknown(name);
      }
    }
    for (String name : missingValue) {
      if (!used.contains(name)) {
        throw unknown(name);
      }
    }
    for (String name : readLater) {
      if (missingValue.contains(name)) {
        throw new UsageException(command + ": option --" + name + " needs a value");
      }
    }
  }

  /** An option the command does not take, with the ones it does (an option of another command, a typo). */
  private UsageException unknown(String name) {
    List<String> known = used.stream().sorted().map(n -> "--" + n).toList();
    return new UsageException(command + ": unknown option --" + name
        + (known.isEmpty() ? " (it takes no options)" : " (it takes " + String.join(", ", known) + ")"));
  }

  /** A command-line mistake: printed with a pointer to the usage, exit status 2. */
  static final class UsageException extends RuntimeException {
    UsageException(String message) {
      super(message);
    }
  }

  /** {@code --help} or {@code -h} among a command's options: the usage, exit status 0. */
  static final class HelpRequested extends RuntimeException {
    HelpRequested() {
      super("--help");
    }
  }
}
