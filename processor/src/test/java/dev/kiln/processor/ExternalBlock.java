package dev.kiln.processor;

import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Module;
import dev.kiln.runtime.Tensor;

/** A block compiled beforehand, as one from a jar: BlocksTest's models hold it, and the processor cannot read its source. */
public class ExternalBlock extends Module {
  final Linear fc = new Linear(4, 4);

  @Override
  public Tensor forward(Tensor x) {
    return fc.apply(x);
  }
}
