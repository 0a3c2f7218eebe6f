package dev.kiln.runtime.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A writer process killed (SIGKILL) in the middle of {@code SafeTensors.write} leaves the previous
 * checkpoint readable and unchanged: the new file is only renamed into place once complete.
 */
class SafeTensorsKillTest {
  @TempDir Path dir;

  /** Child process: rewrites a large checkpoint at args[0] until it is killed. */
  public static final class Writer {
    public static void main(String[] args) throws IOException {
      Map<String, Tensor> big = new LinkedHashMap<>();
      for (int i = 0; i < 8; i++) {
        big.put("w" + i, Tensor.full(i + 1f, 2_000_000));
      }
      while (true) {
        SafeTensors.write(Path.of(args[0]), big);
      }
    }
  }

  @Test
  void killingTheWriterLeavesThePreviousCheckpointIntact() throws Exception {
    Path file = dir.resolve("model.safetensors");
    Map<String, Tensor> previous = Map.of("w", Tensor.of(new float[] {1, 2, 3}));
    SafeTensors.write(file, previous);

    Process writer = new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp", System.getProperty("java.class.path"), Writer.class.getName(), file.toString())
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!temporaryFileExists() && System.nanoTime() < deadline && writer.isAlive()) {
        Thread.sleep(5);
      }
      assertTrue(temporaryFileExists(), "the writer never started a temporary file");
    } finally {
      writer.destroyForcibly();
      writer.waitFor(30, TimeUnit.SECONDS);
    }

    // Whatever the moment of the kill, the file is a complete checkpoint: the old one, or a
    // complete new one if a rename had already happened before the kill.
    Map<String, Tensor> read = SafeTensors.read(file);
    if (read.containsKey("w")) {
      assertArrayEquals(new float[] {1, 2, 3}, read.get("w").toFloatArray());
    } else {
      assertTrue(read.keySet().containsAll(java.util.List.of("w0", "w7")), read.keySet().toString());
      assertTrue(read.get("w7").toFloatArray()[1_999_999] == 8f, "the new checkpoint is complete");
    }
  }

  private boolean temporaryFileExists() throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.anyMatch(p -> p.getFileName().toString().endsWith(".tmp"));
    }
  }
}
