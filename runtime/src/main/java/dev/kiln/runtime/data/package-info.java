/**
 * Data loading in the shape of {@code torch.utils.data}: a {@link dev.kiln.runtime.data.Dataset}
 * of {@link dev.kiln.runtime.data.Example}s, a {@link dev.kiln.runtime.data.DataLoader} that
 * shuffles and batches it, and ready-made datasets read from IDX files.
 *
 * <pre>{@code
 * Kiln.manualSeed(0);                                   // makes the shuffling reproducible
 * var loader = new DataLoader<>(FashionMnist.train(), 64, true);
 * for (int epoch = 0; epoch < 5; epoch++) {
 *   for (Batch b : loader) {                            // b.x(): [64, 1, 28, 28], b.y(): [64] INT32
 *     ...
 *   }
 * }
 * }</pre>
 *
 * <p>Datasets whose samples are rows of larger arrays implement {@link
 * dev.kiln.runtime.data.BatchSource} so that a loader copies a whole batch at once instead of
 * building one tensor per sample; any other dataset is batched by stacking its examples.
 */
package dev.kiln.runtime.data;
