package dev.kiln.runtime.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.runtime.Tensor;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link SafeTensors#write} replaces a file all at once: a crash at any point leaves the previous
 * checkpoint as it was and no temporary file behind.
 */
class SafeTensorsAtomicWriteTest {
  @TempDir Path dir;
  private Path file;
  private byte[] previous;

  @BeforeEach
  void writePreviousCheckpoint() throws IOException {
    file = dir.resolve("model.safetensors");
    SafeTensors.write(file, tensors(1f));
    previous = Files.readAllBytes(file);
  }

  private static Map<String, Tensor> tensors(float value) {
    Map<String, Tensor> m = new LinkedHashMap<>();
    m.put("a", Tensor.full(value, 100, 100));
    m.put("b", Tensor.full(value, 30_000)); // past the first 64 KiB chunk, so data is on disk when "b" fails
    m.put("c", Tensor.full(value, 10));
    return m;
  }

  private List<Path> filesInDir() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.toList();
    }
  }

  private void assertPreviousCheckpointIntact() throws IOException {
    assertArrayEquals(previous, Files.readAllBytes(file), "the previous checkpoint is untouched");
    assertEquals(List.of(file), filesInDir(), "no temporary file is left");
    assertEquals(1f, SafeTensors.read(file).get("c").toFloatArray()[9]);
  }

  /**
   * A map that throws {@code failure} when iteration number {@code pass} reaches entry
   * {@code index}, after noting whether a temporary file existed then.
   */
  private final class CrashingMap extends AbstractMap<String, Tensor> {
    private final Map<String, Tensor> delegate;
    private final int pass;
    private final int index;
    private final Throwable failure;
    private int passes;
    boolean tempFileExistedAtCrash;

    /** {@code failure} is a RuntimeException or an Error. */
    CrashingMap(Map<String, Tensor> delegate, int pass, int index, Throwable failure) {
      this.delegate = delegate;
      this.pass = pass;
      this.index = index;
      this.failure = failure;
    }

    @Override
    public Set<Entry<String, Tensor>> entrySet() {
      return new AbstractSet<>() {
        @Override
        public Iterator<Entry<String, Tensor>> iterator() {
          boolean crashing = ++passes == pass;
          Iterator<Entry<String, Tensor>> it = delegate.entrySet().iterator();
          return new Iterator<>() {
            int next;

            @Override
            public boolean hasNext() {
              return it.hasNext();
            }

            @Override
            public Entry<String, Tensor> next() {
              if (crashing && next++ == index) {
                tempFileExistedAtCrash = tempFileExists();
                if (failure instanceof Error e) {
                  throw e;
                }
                throw (RuntimeException) failure;
              }
              return it.next();
            }
          };
        }

        @Override
        public int size() {
          return delegate.size();
        }
      };
    }

    private boolean tempFileExists() {
      try {
        return filesInDir().stream().anyMatch(p -> p.getFileName().toString().endsWith(".tmp"));
      } catch (IOException e) {
        throw new AssertionError(e);
      }
    }
  }

  /** A killed writer's temporary file (kill -9 leaves it) goes at the next save once it is stale; a fresh one stays. */
  /** torch.save into a missing directory: "Parent directory no_such_dir does not exist." Kiln names the file and its directory, not a temporary file. */
  @Test
  void aMissingDirectoryIsNamedWithTheTarget() {
    Path target = dir.resolve("no_such_dir").resolve("model.safetensors");
    var e = assertThrows(NoSuchFileException.class, () -> SafeTensors.write(target, tensors(1f)));
    assertEquals(target.toAbsolutePath() + ": cannot write it: its directory " + target.getParent().toAbsolutePath()
        + " does not exist", e.getMessage());
  }

  @Test
  void aKilledWritersLeftoverIsDeletedByALaterWrite() throws IOException {
    Path old = Files.writeString(dir.resolve(".model.safetensors.1x2y3z.tmp"), "partial");
    Path userFile = Files.writeString(dir.resolve(".model.safetensors.notes.old.tmp"), "a user's file of that shape");
    Files.setLastModifiedTime(userFile, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 3_600_000));
    Files.setLastModifiedTime(old, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 3_600_000));
    Path fresh = Files.writeString(dir.resolve(".model.safetensors.busy.tmp"), "another writer at work");
    Path other = Files.writeString(dir.resolve(".model.safetensors.safetensors.1x2y3z.tmp"), "another target's");
    Files.setLastModifiedTime(other, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() - 3_600_000));
    SafeTensors.write(file, tensors(2f));
    assertEquals(Set.of(file, fresh, other, userFile), Set.copyOf(filesInDir()));
  }

  @Test
  void crashWhileWritingDataKeepsThePreviousFile() throws IOException {
    // The header is planned on the first pass over the map; the data is written on the second.
    RuntimeException crash = new IllegalStateException("simulated crash while writing tensor b");
    CrashingMap map = new CrashingMap(tensors(2f), 2, 2, crash);
    assertSame(crash, assertThrows(IllegalStateException.class, () -> SafeTensors.write(file, map)));
    assertTrue(map.tempFileExistedAtCrash, "the crash came while the temporary file was being written");
    assertPreviousCheckpointIntact();
  }

  @Test
  void errorsAreCleanedUpToo() throws IOException {
    Error crash = new OutOfMemoryError("simulated");
    CrashingMap map = new CrashingMap(tensors(2f), 2, 1, crash);
    assertSame(crash, assertThrows(OutOfMemoryError.class, () -> SafeTensors.write(file, map)));
    assertTrue(map.tempFileExistedAtCrash);
    assertPreviousCheckpointIntact();
  }

  @Test
  void crashWhilePlanningTheHeaderKeepsThePreviousFile() throws IOException {
    CrashingMap map = new CrashingMap(tensors(2f), 1, 1, new IllegalStateException("simulated"));
    assertThrows(IllegalStateException.class, () -> SafeTensors.write(file, map));
    assertPreviousCheckpointIntact();
  }

  @Test
  void mapChangedBetweenHeaderAndDataIsAnErrorNotACorruptFile() throws IOException {
    Map<String, Tensor> live = tensors(2f);
    Map<String, Tensor> changing = new AbstractMap<>() {
      int passes;

      @Override
      public Set<Entry<String, Tensor>> entrySet() {
        if (++passes == 2) {
          live.put("c", Tensor.zeros(3)); // another thread replaced a tensor
        }
        return live.entrySet();
      }
    };
    var e = assertThrows(IllegalStateException.class, () -> SafeTensors.write(file, changing));
    assertEquals(file + ": the map of tensors changed while it was being written", e.getMessage());
    assertPreviousCheckpointIntact();
  }

  @Test
  void missingDirectoryFailsWithoutCreatingAnything() {
    Path nowhere = dir.resolve("no/such/dir/model.safetensors");
    assertThrows(NoSuchFileException.class, () -> SafeTensors.write(nowhere, tensors(2f)));
    assertTrue(Files.notExists(dir.resolve("no")));
  }

  @Test
  void successfulWriteReplacesTheFile() throws IOException {
    SafeTensors.write(file, tensors(3f));
    assertEquals(List.of(file), filesInDir());
    assertEquals(3f, SafeTensors.read(file).get("b").toFloatArray()[29_999]);
  }

  @Test
  void newFileGetsTheUsualPermissionsNotATempFilesOwnerOnlyOnes() throws IOException {
    assumeTrue(FileSystems.getDefault().supportedFileAttributeViews().contains("posix"));
    Path plain = Files.write(dir.resolve("plain"), new byte[0]);
    Path fresh = dir.resolve("fresh.safetensors");
    SafeTensors.write(fresh, tensors(2f));
    assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(fresh));
  }
}
