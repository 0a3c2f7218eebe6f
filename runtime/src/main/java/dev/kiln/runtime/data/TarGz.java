package dev.kiln.runtime.data;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Takes chosen files out of a gzip-compressed tar archive (POSIX ustar, as {@code tar czf} and the
 * dataset publishers write it): only regular files named {@code <directory>/<name>} for the wanted
 * names are written, each under its bare name through a temporary file renamed once complete, so
 * no path in the archive can place a file anywhere else and an interrupted extraction leaves no
 * file that looks whole. Other entries (read-me files, directories, links) are skipped. As {@code
 * tar} does, a later entry of the same name replaces an earlier one.
 *
 * <p>The whole archive is read, to the end of the gzip stream, before any file is renamed into
 * place: each tar header's checksum is verified, and the gzip trailer's CRC-32 and length
 * ({@link GzipMember}: one member, nothing after it) vouch for every byte extracted.
 */
final class TarGz {
  private static final int BLOCK = 512;
  /** The checksum field of a header: bytes 148 to 155, counted as spaces in the sum. */
  private static final int CHECKSUM = 148;
  private static final int CHECKSUM_WIDTH = 8;

  private TarGz() {}

  /**
   * Extracts {@code <directory>/<name>} for each of {@code names} not yet in {@code into} from
   * {@code archive} into {@code into}.
   *
   * @throws DatasetFormatException naming the archive when it is not gzip, is cut short, fails the
   *     gzip trailer's CRC-32 or length check, has a malformed header or one whose checksum is wrong
   *     (with its byte offset in the uncompressed tar), or lacks a wanted file; the files extracted
   *     are kept only when the whole archive is sound: all of them or none
   */
  static void extract(Path archive, String directory, List<String> names, Path into) throws IOException {
    List<Path> written = new ArrayList<>();
    boolean complete = false;
    try {
      extract(archive, directory, names, into, written);
      complete = true;
    } finally {
      if (!complete) {
        for (Path p : written) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  private static void extract(Path archive, String directory, List<String> names, Path into, List<Path> written)
      throws IOException {
    Set<String> missing = new LinkedHashSet<>();
    for (String name : names) { // files already there are kept as they are (and never deleted on a failure)
      if (!Files.isRegularFile(into.resolve(name))) {
        missing.add(name);
      }
    }
    Files.createDirectories(into);
    Map<String, Path> partials = new LinkedHashMap<>();
    try {
      readAll(archive, directory, missing, into, partials);
      missing.removeAll(partials.keySet());
      if (!missing.isEmpty()) {
        throw new DatasetFormatException(archive, "holds no " + String.join(", ", missing.stream()
            .map(n -> directory + "/" + n).toList()));
      }
      for (Map.Entry<String, Path> partial : partials.entrySet()) { // the archive is sound: rename them all
        Path target = into.resolve(partial.getKey());
        Files.move(partial.getValue(), target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        written.add(target);
      }
    } finally {
      for (Path p : partials.values()) { // those not renamed
        Files.deleteIfExists(p);
      }
    }
  }

  /**
   * Reads the whole archive, copying each wanted file into a temporary file in {@code into}, added
   * to {@code partials} under its bare name (a later entry of that name overwrites it), then reads
   * the gzip stream to its end so that its trailer is checked.
   */
  private static void readAll(Path archive, String directory, Set<String> wanted, Path into, Map<String, Path> partials)
      throws IOException {
    try (InputStream file = Files.newInputStream(archive); // its own resource: closed when the next one fails
        InputStream gzip = GzipMember.open(archive, new BufferedInputStream(file, 1 << 16));
        InputStream in = new BufferedInputStream(gzip, 1 << 16)) {
      byte[] header = new byte[BLOCK];
      long offset = 0;
      while (readBlock(in, header) && !isZero(header)) { // to the end of the data or the end-of-archive marker
        long size = octal(header, 124, 12, archive, offset, "size");
        checkChecksum(header, archive, offset);
        char type = (char) header[156];
        String name = text(header, 0, 100);
        if (isUstar(header) && header[345] != 0) {
          name = text(header, 345, 155) + "/" + name;
        }
        offset += BLOCK;
        String bare = (type == '0' || type == 0) ? wantedName(name, directory, wanted) : null;
        if (bare != null) {
          Path partial = partials.get(bare);
          if (partial == null) {
            partial = Files.createTempFile(into, bare + ".", ".part");
            partials.put(bare, partial);
          }
          try (OutputStream out = Files.newOutputStream(partial)) { // truncates an earlier entry's copy
            copy(in, out, size, archive, offset, name);
          }
        } else {
          skip(in, size, archive, offset, name);
        }
        long padded = (size + BLOCK - 1) / BLOCK * BLOCK;
        skip(in, padded - size, archive, offset + size, name);
        offset += padded;
      }
      in.transferTo(OutputStream.nullOutputStream()); // the blocks after the marker, then the trailer's check
    } catch (EOFException e) {
      throw new DatasetFormatException(archive, "not a complete tar archive (" + e.getMessage() + ")", e);
    }
  }

  /** The bare name when {@code name} is {@code directory/<one of missing>} (a leading "./" allowed), else null. */
  private static String wantedName(String name, String directory, Set<String> missing) {
    String n = name.startsWith("./") ? name.substring(2) : name;
    String prefix = directory + "/";
    if (!n.startsWith(prefix)) {
      return null;
    }
    String rest = n.substring(prefix.length());
    return missing.contains(rest) ? rest : null;
  }

  /** Reads one whole block; false at a clean end of the stream before any byte of it. */
  private static boolean readBlock(InputStream in, byte[] block) throws IOException {
    int n = in.readNBytes(block, 0, BLOCK);
    if (n == 0) {
      return false;
    }
    if (n < BLOCK) {
      throw new EOFException("a header block cut short after " + n + " bytes");
    }
    return true;
  }

  private static void copy(InputStream in, OutputStream out, long size, Path archive, long offset, String name) throws IOException {
    byte[] buffer = new byte[1 << 16];
    long left = size;
    while (left > 0) {
      int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
      if (n < 0) {
        throw new DatasetFormatException(archive, name + " at tar offset " + offset + " is cut short: "
            + (size - left) + " of its " + size + " bytes");
      }
      out.write(buffer, 0, n);
      left -= n;
    }
  }

  private static void skip(InputStream in, long count, Path archive, long offset, String name) throws IOException {
    long skipped = in.skip(count);
    while (skipped < count) {
      if (in.read() < 0) {
        throw new DatasetFormatException(archive, "the archive ends inside " + name + " (tar offset " + offset + ")");
      }
      skipped++;
      skipped += in.skip(count - skipped);
    }
  }

  /**
   * Checks the header's checksum field against the sum of its 512 bytes with that field counted as
   * spaces, as unsigned bytes (POSIX) or as signed ones (some historic tar programs).
   */
  private static void checkChecksum(byte[] header, Path archive, long offset) throws DatasetFormatException {
    long stored = octal(header, CHECKSUM, CHECKSUM_WIDTH, archive, offset, "checksum");
    long unsigned = 0;
    long signed = 0;
    for (int i = 0; i < BLOCK; i++) {
      byte b = i >= CHECKSUM && i < CHECKSUM + CHECKSUM_WIDTH ? (byte) ' ' : header[i];
      unsigned += Byte.toUnsignedInt(b);
      signed += b;
    }
    if (stored != unsigned && stored != signed) {
      throw new DatasetFormatException(archive, "the tar header at offset " + offset + " is corrupt: it records the"
          + " checksum " + Long.toOctalString(stored) + " but its bytes sum to " + Long.toOctalString(unsigned)
          + " (octal)");
    }
  }

  private static boolean isZero(byte[] block) {
    for (byte b : block) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }

  /** POSIX ustar ("ustar\0"), whose bytes 345.. are a name prefix; GNU tar's "ustar " has times there. */
  private static boolean isUstar(byte[] header) {
    return text(header, 257, 6).equals("ustar") && header[262] == 0;
  }

  /** A NUL-terminated (or full-width) ASCII field. */
  private static String text(byte[] header, int from, int width) {
    int end = from;
    while (end < from + width && header[end] != 0) {
      end++;
    }
    return new String(header, from, end - from, StandardCharsets.US_ASCII);
  }

  /** An octal number field, NUL- or space-terminated, leading spaces allowed. */
  private static long octal(byte[] header, int from, int width, Path archive, long offset, String field)
      throws DatasetFormatException {
    long value = 0;
    int i = from;
    while (i < from + width && header[i] == ' ') {
      i++;
    }
    int digits = 0;
    for (; i < from + width && header[i] != 0 && header[i] != ' '; i++, digits++) {
      int d = header[i] - '0';
      if (d < 0 || d > 7) {
        throw new DatasetFormatException(archive, "the tar header at offset " + offset + " has a " + field
            + " field that is not an octal number: '" + text(header, from, width).strip() + "'");
      }
      value = value * 8 + d;
    }
    if (digits == 0) {
      throw new DatasetFormatException(archive, "the tar header at offset " + offset + " has an empty " + field + " field");
    }
    return value;
  }
}
