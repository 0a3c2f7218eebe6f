package dev.kiln.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Device;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The samples' option parsing: values, flags, bad input named, and {@code --device}. */
class ArgsTest {
  private static Args args(String... a) {
    String[] all = new String[a.length + 1];
    all[0] = "train";
    System.arraycopy(a, 0, all, 1, a.length);
    return new Args("train", all, 1, Set.of("eager"));
  }

  @Test
  void valuesFlagsAndDefaults() {
    Args a = args("--epochs", "3", "--lr=0.5", "--eager");
    assertEquals(3, a.integer("epochs", 5, 1));
    assertEquals(0.5, a.number("lr", 0.01));
    assertTrue(a.flag("eager"));
    assertEquals(64, a.integer("batch", 64, 1));
    a.rejectUnknown();
  }

  @Test
  void badInputIsNamed() {
    var e = assertThrows(Args.UsageException.class, () -> args("--epochs", "x").integer("epochs", 5, 1));
    assertEquals("train: --epochs expects a whole number, got 'x'", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> args("--epochs", "0").integer("epochs", 5, 1));
    assertEquals("train: --epochs must be at least 1, got 0", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> args("--epoch", "3").rejectUnknown());
    assertEquals("train: unknown option --epoch (it takes no options)", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> {
      Args a = args("--epoch", "3");
      a.integer("epochs", 5, 1);
      a.number("lr", 0.01);
      a.rejectUnknown("device");
    });
    assertEquals("train: unknown option --epoch (it takes --device, --epochs, --lr)", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> args("--epochs").integer("epochs", 5, 1));
    assertEquals("train: option --epochs needs a value", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> args("--out", "--eager").string("out", "x"));
    assertEquals("train: option --out needs a value", e.getMessage()); // not a directory named --eager
    e = assertThrows(Args.UsageException.class, () -> args("--bogus").rejectUnknown());
    assertEquals("train: unknown option --bogus (it takes no options)", e.getMessage()); // a flag it does not have
    e = assertThrows(Args.UsageException.class, () -> args("--eager=yes").flag("eager"));
    assertTrue(e.getMessage().startsWith("train: --eager is on or off"), e.getMessage());
    assertTrue(args("--eager=true").flag("eager"));
    e = assertThrows(Args.UsageException.class, () -> args("--epochs", "99999999999").integer("epochs", 5, 1));
    assertEquals("train: --epochs must be at most 2147483647, got 99999999999", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> args("--lr", "-1").positive("lr", 0.01));
    assertEquals("train: --lr must be a positive number, got -1.0", e.getMessage());
    // Java's number forms are not a user's: NaN, Infinity, 1d, hexadecimal are refused as numbers
    for (String javaOnly : List.of("NaN", "Infinity", "1d", "2f", "0x1p3", " 1")) {
      e = assertThrows(Args.UsageException.class, () -> args("--lr", javaOnly).positive("lr", 0.01));
      assertEquals("train: --lr expects a number, got '" + javaOnly + "'", e.getMessage());
    }
    assertEquals(1e-3, args("--lr", "1e-3").positive("lr", 0.01));
    assertEquals(0.5, args("--lr", ".5").positive("lr", 0.01));
    assertEquals(-2.0, args("--x", "-2.").number("x", 0));
    e = assertThrows(Args.UsageException.class, () -> args("--lr", "1e999").positive("lr", 0.01));
    assertEquals("train: --lr must be a positive number, got Infinity", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> args("--momentum", "-0.5").nonNegative("momentum", 0.9));
    assertEquals("train: --momentum must be a number of at least 0, got -0.5", e.getMessage());
    assertThrows(Args.HelpRequested.class, () -> args("--epochs", "2", "--help"));
    assertThrows(Args.HelpRequested.class, () -> args("-h"));
  }

  /** Output paths are checked before any work: a file as --out, a --checkpoint in a missing directory. */
  @Test
  void outputPathsAreCheckedUpFront(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path file = java.nio.file.Files.createFile(dir.resolve("afile"));
    var e = assertThrows(Args.UsageException.class, () -> args("--out", file.toString()).outputDirectory("out", "runs/x"));
    assertEquals("train: --out " + file + " is a file, not a directory", e.getMessage());
    java.nio.file.Path made = dir.resolve("a/b");
    assertEquals(made, args("--out", made.toString()).outputDirectory("out", "runs/x"));
    assertTrue(java.nio.file.Files.isDirectory(made));

    java.nio.file.Path missing = dir.resolve("nodir/ck.safetensors");
    e = assertThrows(Args.UsageException.class, () -> args("--checkpoint", missing.toString()).outputFile("checkpoint"));
    assertEquals("train: --checkpoint " + missing + ": the directory " + missing.getParent() + " does not exist", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> args("--checkpoint", dir.toString()).outputFile("checkpoint"));
    assertEquals("train: --checkpoint " + dir + " is a directory; give a file path", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> args("--checkpoint", file + "/ck").outputFile("checkpoint"));
    assertEquals("train: --checkpoint " + file + "/ck: " + file + " is a file, not a directory", e.getMessage());
    assertEquals(null, args().outputFile("checkpoint"));
  }

  /** Files a command reads are checked before any work: missing, or a directory. */
  @Test
  void inputFilesAreCheckedUpFront(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path file = java.nio.file.Files.writeString(dir.resolve("text.txt"), "hello");
    assertEquals(file, args("--text", file.toString()).inputFile("text"));
    assertEquals(null, args().inputFile("text"));
    var e = assertThrows(Args.UsageException.class, () -> args("--text", dir + "/none.txt").inputFile("text"));
    assertEquals("train: --text " + dir + "/none.txt: no such file", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> args("--text", dir.toString()).inputFile("text"));
    assertEquals("train: --text " + dir + " is a directory; give a file", e.getMessage());
  }

  /** Each command's flags are known to the parser: {@code cifar10 --eager} is a flag, not an option missing its value. */
  @Test
  void everyCommandKnowsItsFlags() {
    Args cifar = Main.parse(new String[] {"cifar10", "--eager", "--augment", "--epochs", "1"});
    assertTrue(cifar.flag("eager"));
    assertTrue(cifar.flag("augment"));
    assertEquals(1, cifar.integer("epochs", 1, 1));
    for (String command : List.of("fashion-mnist", "mnist", "sweep", "regression", "pairs", "reverse", "cifar10",
        "autoencoder", "char-gpt", "seq2seq")) {
      assertTrue(Main.parse(new String[] {command, "--eager"}).flag("eager"), command);
      assertTrue(Main.USAGE.contains("  " + command + " [") && Main.USAGE.contains("[--eager]"), command);
    }
    // the commands without flags: an --eager there is an unknown option, not one that lacks its value
    var e = assertThrows(Args.UsageException.class, () -> Main.parse(new String[] {"summary", "--eager"}).rejectUnknown());
    assertEquals("summary: unknown option --eager (it takes no options)", e.getMessage());
  }

  @Test
  void deviceChoices() {
    assertSame(Device.cpu(), args("--device", "cpu").device());
    assertSame(Device.cpu(), args().device(), "auto, on a machine without a GPU: the CPU");
    var e = assertThrows(Args.UsageException.class, () -> args("--device", "gpu").device());
    assertEquals("train: --device must be auto, cpu or cuda, got 'gpu'", e.getMessage());
    var cuda = assertThrows(IllegalStateException.class, () -> args("--device", "cuda").device());
    assertTrue(cuda.getMessage().startsWith("train: --device cuda: CUDA not available: ")
        && cuda.getMessage().endsWith("; use --device auto (the CPU when CUDA cannot run) or --device cpu"
            + " (docs/cuda.md says what a GPU run needs)"), cuda.getMessage());
  }
}
