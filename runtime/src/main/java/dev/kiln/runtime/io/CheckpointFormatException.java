package dev.kiln.runtime.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A checkpoint file that cannot be read as it is: truncated, a header that is not the JSON the
 * format allows, tensors whose offsets, shapes or types disagree with the data. The message always
 * starts with the file's path, then names the problem and, where there is one, the byte offset.
 */
public class CheckpointFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;

  public CheckpointFormatException(Path file, String problem) {
    super(file + ": " + problem);
    this.file = file;
  }

  public CheckpointFormatException(Path file, String problem, Throwable cause) {
    super(file + ": " + problem, cause);
    this.file = file;
  }

  /** The offending file. */
  public Path file() {
    return file;
  }
}
