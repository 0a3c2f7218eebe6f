package dev.kiln.runtime.data;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A dataset file that cannot be used as it is: a wrong magic number, an unsupported element type, a
 * header that promises more or fewer bytes than the file holds, labels out of range. The message
 * always starts with the file's path, then says what was found and what was expected.
 */
public class DatasetFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;

  public DatasetFormatException(Path file, String problem) {
    super(file + ": " + problem);
    this.file = file;
  }

  public DatasetFormatException(Path file, String problem, Throwable cause) {
    super(file + ": " + problem, cause);
    this.file = file;
  }

  /** The offending file. */
  public Path file() {
    return file;
  }
}
