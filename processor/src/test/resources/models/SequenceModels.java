package test;

import dev.kiln.dsl.AdaptiveAvgPool1d;
import dev.kiln.dsl.BatchNorm1d;
import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Flatten;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.MaxPool1d;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.ReLU;
import dev.kiln.dsl.Sequential;

/** The 1-d layers in a Sequential: conv-BN-ReLU-pool twice, global average pooling, a linear head. */
public final class SequenceModels {
  private SequenceModels() {}

  @Model(input = {3, 20})
  public static Sequential cnn() {
    return Sequential.of(
        new Conv1d(3, 6, 3).padding(1), new BatchNorm1d(6), new ReLU(), new MaxPool1d(2),
        new Conv1d(6, 6, 3), new ReLU(), new MaxPool1d(3).stride(2).padding(1).ceilMode(true),
        new AdaptiveAvgPool1d(1), new Flatten(), new Linear(6, 4));
  }
}
