package dev.kiln.dsl;

import dev.kiln.runtime.Tensor;
import java.nio.file.Path;

/**
 * The Kiln twin of {@code Net} in {@code runtime/src/test/resources/io/make_torch_file.py}: a
 * Sequential(Linear(3, 2), ReLU(), Linear(2, 1)) as {@code mlp} and a BatchNorm1d(2) as {@code bn},
 * so that the two share state dict keys. {@link #forward} runs {@code mlp}.
 */
final class TorchNet extends Module {
  final Sequential mlp = Sequential.of(new Linear(3, 2), new ReLU(), new Linear(2, 1));
  final BatchNorm1d bn = new BatchNorm1d(2);

  @Override
  public Tensor forward(Tensor x) {
    return mlp.apply(x);
  }

  /** A file of the runtime module's {@code io} test resources: the scripts and the files PyTorch wrote. */
  static Path resource(String name) {
    // Surefire runs in, and sets basedir to, this module's directory.
    Path dsl = Path.of(System.getProperty("basedir", "")).toAbsolutePath();
    return dsl.resolve("../runtime/src/test/resources/io").resolve(name).normalize();
  }
}
