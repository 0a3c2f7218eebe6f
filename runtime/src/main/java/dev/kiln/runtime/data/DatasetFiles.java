package dev.kiln.runtime.data;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URL;
import java.net.URLConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Finds the files of a published dataset on this machine, or downloads them. The places searched,
 * in order:
 *
 * <ol>
 *   <li>{@code <root>/<directory>} and {@code <root>} for the root named by the system property
 *       {@code kiln.data}, then for the one named by the environment variable {@code KILN_DATA};
 *   <li>{@code <kiln home>/datasets/<directory>}, where the Kiln home is the system property {@code
 *       kiln.home} or else {@code ~/.kiln};
 *   <li>the system directories, e.g. where a Debian package installs the dataset.
 * </ol>
 *
 * The first directory holding every requested file wins; each file may be stored gzip-compressed
 * under its {@code .gz} name or uncompressed under the name without {@code .gz}. When none does,
 * the missing files are downloaded into the Kiln home directory: each to a temporary file beside its
 * final name, checked against its MD5 checksum and then renamed, so that an interrupted or corrupt
 * download never leaves a file that looks complete. Files found on disk are not checksummed (a
 * re-compressed copy, such as Debian's, holds the same data under another checksum); the reader
 * validates their structure instead. A download kept on disk only until it is unpacked, such as
 * CIFAR-10's archive, is the exception: {@link #isIntact} checks it before it is used.
 *
 * @param name the dataset's name in messages, e.g. {@code FashionMNIST}
 * @param directory the directory name under a data root and the Kiln home, e.g. {@code fashion-mnist}
 * @param defaultMirror the base URL the {@code .gz} files are downloaded from
 * @param mirrorProperty the system property that overrides the mirror
 * @param mirrorVariable the environment variable that overrides the mirror, after the property
 * @param md5 the MD5 checksum (lower-case hex) of each downloadable {@code .gz} file, by file name
 * @param systemDirs directories searched last
 * @param debianPackage the Debian package that installs the files, or null
 */
record DatasetFiles(
    String name,
    String directory,
    String defaultMirror,
    String mirrorProperty,
    String mirrorVariable,
    Map<String, String> md5,
    List<Path> systemDirs,
    String debianPackage) {
  private static final int TIMEOUT_MILLIS = 15_000;
  private static final String GZ = ".gz";

  DatasetFiles {
    md5 = Map.copyOf(md5);
    systemDirs = List.copyOf(systemDirs);
  }

  /**
   * The paths of the named files (their {@code .gz} names), from the first place that holds them
   * all, downloading them if none does.
   *
   * @throws FileNotFoundException listing every place searched, why the download failed, and where
   *     to put the files
   */
  List<Path> locate(List<String> fileNames) throws IOException {
    List<Path> searched = searchDirectories();
    for (Path dir : searched) {
      Optional<List<Path>> found = findAll(dir, fileNames);
      if (found.isPresent()) {
        return found.get();
      }
    }
    Path target = downloadDirectory();
    try {
      for (String file : fileNames) {
        if (find(target, file).isEmpty()) {
          download(file, target);
        }
      }
    } catch (IOException e) {
      throw notFound(fileNames, searched, e);
    }
    return findAll(target, fileNames).orElseThrow();
  }

  /**
   * The paths of the named files in {@code dir}, each compressed or not.
   *
   * @throws FileNotFoundException naming the first file that is missing
   */
  static List<Path> inDirectory(Path dir, List<String> fileNames) throws FileNotFoundException {
    for (String file : fileNames) {
      if (find(dir, file).isEmpty()) {
        throw new FileNotFoundException(dir.resolve(file) + ": no such file, compressed or not");
      }
    }
    return findAll(dir, fileNames).orElseThrow();
  }

  /** The directories searched, in order, before downloading. */
  List<Path> searchDirectories() {
    List<Path> dirs = new ArrayList<>();
    Stream.of(System.getProperty("kiln.data"), System.getenv("KILN_DATA"))
        .filter(DatasetFiles::isSet)
        .forEach(root -> {
          dirs.add(Path.of(root, directory));
          dirs.add(Path.of(root));
        });
    dirs.add(downloadDirectory());
    dirs.addAll(systemDirs);
    return dirs;
  }

  /** Where downloads go, and where a user puts the files: {@code <kiln home>/datasets/<directory>}. */
  Path downloadDirectory() {
    String home = System.getProperty("kiln.home");
    Path kilnHome = isSet(home) ? Path.of(home) : Path.of(System.getProperty("user.home"), ".kiln");
    return kilnHome.resolve("datasets").resolve(directory);
  }

  /** The base URL to download from, ending with a slash. */
  private String mirror() {
    String url = Stream.of(System.getProperty(mirrorProperty), System.getenv(mirrorVariable))
        .filter(DatasetFiles::isSet)
        .findFirst()
        .orElse(defaultMirror);
    return url.endsWith("/") ? url : url + "/";
  }

  /** Whether a property or environment variable has a value. */
  private static boolean isSet(String value) {
    return value != null && !value.isBlank();
  }

  private static Optional<List<Path>> findAll(Path dir, List<String> fileNames) {
    List<Path> paths = new ArrayList<>();
    for (String file : fileNames) {
      Optional<Path> path = find(dir, file);
      if (path.isEmpty()) {
        return Optional.empty();
      }
      paths.add(path.get());
    }
    return Optional.of(paths);
  }

  /** {@code dir/name.gz}, or else {@code dir/name} uncompressed, if it is a regular file. */
  private static Optional<Path> find(Path dir, String gzName) {
    String plainName = gzName.substring(0, gzName.length() - GZ.length());
    return Stream.of(dir.resolve(gzName), dir.resolve(plainName)).filter(Files::isRegularFile).findFirst();
  }

  /**
   * Downloads {@code file} into {@code dir} through a temporary file that is renamed only once its
   * checksum matches.
   *
   * @throws IOException whose message starts with the URL and says what went wrong
   */
  void download(String file, Path dir) throws IOException {
    URL url = URI.create(mirror() + file).toURL();
    Path target = dir.resolve(file);
    Files.createDirectories(dir);
    Path partial = Files.createTempFile(dir, file + ".", ".part");
    try {
      System.err.println(name + ": downloading " + url + " to " + target);
      String actual = fetch(url, partial);
      String expected = md5.get(file);
      if (!actual.equals(expected)) {
        throw new IOException("MD5 checksum " + actual + " differs from the expected " + expected
            + "; the download was discarded");
      }
      Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new IOException(url + ": " + reason(e), e);
    } finally {
      Files.deleteIfExists(partial);
    }
  }

  /**
   * Whether {@code path} holds the downloadable {@code file} as published: its MD5 checksum is the
   * expected one. For a download kept on disk before it is used, such as an archive to extract.
   */
  boolean isIntact(String file, Path path) throws IOException {
    MessageDigest md5 = md5Digest();
    try (InputStream stream = Files.newInputStream(path); InputStream in = new DigestInputStream(stream, md5)) {
      in.transferTo(OutputStream.nullOutputStream());
    }
    return HexFormat.of().formatHex(md5.digest()).equals(this.md5.get(file));
  }

  /** Copies {@code url} into {@code file} and returns the MD5 checksum of what it copied. */
  private static String fetch(URL url, Path file) throws IOException {
    MessageDigest md5 = md5Digest();
    URLConnection connection = url.openConnection();
    connection.setConnectTimeout(TIMEOUT_MILLIS);
    connection.setReadTimeout(TIMEOUT_MILLIS);
    try (InputStream in = new DigestInputStream(open(connection), md5)) {
      Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      if (connection instanceof HttpURLConnection http) {
        http.disconnect();
      }
    }
    return HexFormat.of().formatHex(md5.digest());
  }

  private static InputStream open(URLConnection connection) throws IOException {
    if (connection instanceof HttpURLConnection http && http.getResponseCode() != HttpURLConnection.HTTP_OK) {
      throw new IOException("HTTP " + http.getResponseCode() + " " + http.getResponseMessage());
    }
    return connection.getInputStream();
  }

  /**
   * The exception's message, after its type unless it is a plain IOException: an unknown host's
   * message, for one, is only the host's name.
   */
  private static String reason(IOException e) {
    return e.getClass() == IOException.class ? e.getMessage() : e.getClass().getSimpleName() + ": " + e.getMessage();
  }

  private static MessageDigest md5Digest() {
    try {
      return MessageDigest.getInstance("MD5");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform provides MD5", e);
    }
  }

  private FileNotFoundException notFound(List<String> fileNames, List<Path> searched, IOException downloadFailure) {
    String places = searched.stream().map(p -> "  " + p).collect(Collectors.joining("\n"));
    String debian = debianPackage == null ? ""
        : "; on Debian or Ubuntu, `apt-get install " + debianPackage + "` provides them";
    var e = new FileNotFoundException(
        name + ": " + String.join(", ", fileNames) + " (gzip-compressed or not) not found in any of\n" + places
            + "\nand downloading them failed: " + downloadFailure.getMessage()
            + "\nPut the files in " + downloadDirectory() + ", or in a directory named by the kiln.data system property"
            + " or the KILN_DATA environment variable" + debian + ".");
    e.initCause(downloadFailure);
    return e;
  }
}
