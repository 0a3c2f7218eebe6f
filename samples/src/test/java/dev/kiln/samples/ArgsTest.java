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
    e = assertThrows(Args.UsageException.class, () -> args("--epochs"));
    assertEquals("train: option --epochs needs a value", e.getMessage());
  }

  @Test
  void deviceChoices() {
    assertSame(Device.cpu(), args("--device", "cpu").device());
    assertSame(Device.cpu(), args().device(), "auto, on a machine without a GPU: the CPU");
    var e = assertThrows(Args.UsageException.class, () -> args("--device", "gpu").device());
    assertEquals("train: --device must be auto, cpu or cuda, got 'gpu'", e.getMessage());
    var cuda = assertThrows(IllegalStateException.class, () -> args("--device", "cuda").device());
    assertTrue(cuda.getMessage().startsWith("Device.cuda(): ") && cuda.getMessage().contains("use Device.best() or Device.cpu()"),
        cuda.getMessage());
  }
}
