package dev.kiln.runtime.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Replaces a file all at once: the content goes to a temporary file in the same directory, which
 * is forced to disk and then renamed over the target. Readers, and a crash at any point, see
 * either the previous file or the complete new one; on failure the temporary file is deleted. A
 * writer killed outright leaves its temporary file; the next write to the same target deletes such
 * leftovers once they are ten minutes old.
 */
final class AtomicFile {
  /** Writes the content of the new file. */
  @FunctionalInterface
  interface Content {
    void writeTo(FileChannel channel) throws IOException;
  }

  private static final int NAME_ATTEMPTS = 100;

  private AtomicFile() {}

  /**
   * Writes {@code content} to {@code target} atomically.
   *
   * @throws IOException (or the unchecked exception {@code content} threw) with {@code target}
   *     unchanged and no temporary file left behind
   */
  static void write(Path target, Content content) throws IOException {
    Path absolute = target.toAbsolutePath();
    Path parent = absolute.getParent();
    if (parent != null && !Files.isDirectory(parent)) { // else the error would name the temporary file
      throw new java.nio.file.NoSuchFileException(absolute.toString(), null,
          "cannot write it: its directory " + parent + (Files.exists(parent) ? " is not a directory" : " does not exist"));
    }
    Path temp = createTemp(absolute);
    try {
      try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.WRITE)) {
        content.writeTo(channel);
        channel.force(true);
      }
      Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (Throwable t) {
      try {
        Files.deleteIfExists(temp);
      } catch (IOException e) {
        t.addSuppressed(e);
      }
      if (t.getClass() == IOException.class) { // a plain one ("No space left on device") names no file; subclasses kept
        throw new IOException("cannot write " + absolute + " (left as it was): " + t.getMessage(), t);
      }
      throw t;
    }
    syncDirectory(absolute.getParent());
    deleteStaleTemps(absolute, temp);
  }

  /** How old another temporary file of the same target must be to count as a killed writer's leftover. */
  private static final long STALE_MILLIS = 10 * 60 * 1000;

  /**
   * Deletes the temporary files of {@code target} that a writer killed mid-write left behind
   * (kill -9, a power cut): those not modified for {@link #STALE_MILLIS}, so that a writer still at
   * work on the same target elsewhere is left alone. Best effort: failures are ignored.
   */
  private static void deleteStaleTemps(Path target, Path own) {
    java.util.regex.Pattern ours = java.util.regex.Pattern.compile(
        java.util.regex.Pattern.quote("." + target.getFileName() + ".") + "[0-9a-z]{1,13}\\.tmp");
    long before = System.currentTimeMillis() - STALE_MILLIS;
    try (var siblings = Files.newDirectoryStream(target.getParent(),
        p -> ours.matcher(p.getFileName().toString()).matches() && !p.equals(own))) {
      for (Path stale : siblings) {
        try {
          if (Files.getLastModifiedTime(stale).toMillis() < before) {
            Files.deleteIfExists(stale);
          }
        } catch (IOException e) {
          // another writer's file, or gone already: leave it
        }
      }
    } catch (IOException | RuntimeException e) {
      // the directory cannot be listed: nothing to clean
    }
  }

  /**
   * A new empty file {@code .<name>.<random>.tmp} beside {@code target}. Unlike
   * {@link Files#createTempFile} it gets the usual permissions (from the umask), not owner-only
   * ones, since it becomes the target.
   */
  private static Path createTemp(Path target) throws IOException {
    for (int attempt = 1; ; attempt++) {
      String random = Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36);
      Path temp = target.resolveSibling("." + target.getFileName() + "." + random + ".tmp");
      try {
        Files.newByteChannel(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
        return temp;
      } catch (FileAlreadyExistsException e) {
        if (attempt == NAME_ATTEMPTS) {
          throw e;
        }
      }
    }
  }

  /** Forces the rename itself to disk where the platform can (Linux); elsewhere it is skipped. */
  private static void syncDirectory(Path dir) {
    try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
      channel.force(true);
    } catch (IOException e) {
      // Directories cannot be opened or forced on some platforms (Windows); the rename is done.
    }
  }
}
