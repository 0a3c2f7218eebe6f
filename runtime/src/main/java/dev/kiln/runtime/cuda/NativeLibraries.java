package dev.kiln.runtime.cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Says which of the shared libraries Kiln's CUDA backend needs cannot be found, so that a failed
 * load is reported as "libcudnn.so.9 not found" rather than JavaCPP's "no jnicudnn in
 * java.library.path". It looks where the dynamic linker looks: {@code LD_LIBRARY_PATH}, the
 * folders listed under {@code /etc/ld.so.conf.d}, the usual system folders and CUDA's.
 */
final class NativeLibraries {
  /** What the JavaCPP {@code cuda} preset links against, with what each one is. */
  static final List<String[]> REQUIRED = List.of(
      new String[] {"libcuda.so.1", "the NVIDIA driver"},
      new String[] {"libcudart.so.13", "the CUDA 13 runtime"},
      new String[] {"libnvrtc.so.13", "NVRTC, CUDA's runtime compiler"},
      new String[] {"libcublas.so.13", "cuBLAS"},
      new String[] {"libcublasLt.so.13", "cuBLASLt"},
      new String[] {"libcudnn.so.9", "cuDNN 9"});

  private NativeLibraries() {}

  /** The required libraries found in none of the linker's folders, as "name (what)", in order. */
  static List<String> missing() {
    Set<Path> dirs = searchPath();
    List<String> missing = new ArrayList<>();
    for (String[] lib : REQUIRED) {
      boolean found = dirs.stream().anyMatch(d -> Files.exists(d.resolve(lib[0])));
      if (!found) {
        missing.add(lib[0] + " (" + lib[1] + ")");
      }
    }
    return missing;
  }

  private static Set<Path> searchPath() {
    Set<Path> dirs = new LinkedHashSet<>();
    String ld = System.getenv("LD_LIBRARY_PATH");
    if (ld != null) {
      for (String d : ld.split(":")) {
        if (!d.isEmpty()) {
          dirs.add(Path.of(d));
        }
      }
    }
    Path conf = Path.of("/etc/ld.so.conf.d");
    if (Files.isDirectory(conf)) {
      try (Stream<Path> files = Files.list(conf)) {
        for (Path f : (Iterable<Path>) files.sorted()::iterator) {
          for (String line : Files.readAllLines(f)) {
            String t = line.strip();
            if (t.startsWith("/")) {
              dirs.add(Path.of(t));
            }
          }
        }
      } catch (IOException | RuntimeException e) {
        // an unreadable configuration only makes the diagnosis less precise
      }
    }
    for (String d : new String[] {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
        "/usr/local/cuda/lib64", "/usr/local/cuda/lib", "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib"}) {
      dirs.add(Path.of(d));
    }
    return dirs;
  }
}
