package dev.kiln.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Device;
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
    assertEquals("train: unknown option --epoch", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> args("--epochs").integer("epochs", 5, 1));
    assertEquals("train: option --epochs needs a value", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> args("--out", "--eager").string("out", "x"));
    assertEquals("train: option --out needs a value", e.getMessage()); // not a directory named --eager
    e = assertThrows(Args.UsageException.class, () -> args("--bogus").rejectUnknown());
    assertEquals("train: unknown option --bogus", e.getMessage()); // a flag this command does not have
    e = assertThrows(Args.UsageException.class, () -> args("--eager=yes").flag("eager"));
    assertTrue(e.getMessage().startsWith("train: --eager is on or off"), e.getMessage());
    assertTrue(args("--eager=true").flag("eager"));
    e = assertThrows(Args.UsageException.class, () -> args("--epochs", "99999999999").integer("epochs", 5, 1));
    assertEquals("train: --epochs must be at most 2147483647, got 99999999999", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> args("--lr", "-1").positive("lr", 0.01));
    assertEquals("train: --lr must be a positive number, got -1.0", e.getMessage());
    e = assertThrows(Args.UsageException.class, () -> args("--lr", "NaN").positive("lr", 0.01));
    assertEquals("train: --lr must be a positive number, got NaN", e.getMessage());
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
    assertEquals(null, args().outputFile("checkpoint"));
  }

  @Test
  void deviceChoices() {
    assertSame(Device.cpu(), args("--device", "cpu").device());
    assertSame(Device.cpu(), args().device(), "auto, on a machine without a GPU: the CPU");
    var e = assertThrows(Args.UsageException.class, () -> args("--device", "gpu").device());
    assertEquals("train: --device must be auto, cpu or cuda, got 'gpu'", e.getMessage());
    var cuda = assertThrows(IllegalStateException.class, () -> args("--device", "cuda").device());
    assertTrue(cuda.getMessage().startsWith("--device cuda: CUDA not available: ")
        && cuda.getMessage().endsWith("; use --device auto (the CPU when CUDA cannot run) or --device cpu"), cuda.getMessage());
  }
}
