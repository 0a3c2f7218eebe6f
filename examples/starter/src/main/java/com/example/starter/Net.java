package com.example.starter;

import static dev.kiln.dsl.F.flatten;
import static dev.kiln.dsl.F.relu;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/**
 * A small FashionMNIST classifier, written as a PyTorch nn.Module. At build time Kiln's annotation
 * processor checks its shapes (a mistake is a compile error on its line) and generates
 * {@code KilnNet}, the same network with fused forward and backward code.
 */
@Model(input = {1, 28, 28})            // one sample's shape; the batch dimension is implicit
public class Net extends Module {
  final Linear fc1 = new Linear(28 * 28, 128);
  final Linear fc2 = new Linear(128, 10);

  @Override
  public Tensor forward(Tensor x) {
    return fc2.apply(relu(fc1.apply(flatten(x))));
  }
}
