package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ShapesTest {
  /** [outer, size, inner] around a dimension, as the softmax and reduce-along kernels (and the processor) take it. */
  @Test
  void alongADimension() {
    assertArrayEquals(new int[] {1, 2, 12}, Shapes.along(new int[] {2, 3, 4}, 0));
    assertArrayEquals(new int[] {2, 3, 4}, Shapes.along(new int[] {2, 3, 4}, 1));
    assertArrayEquals(new int[] {6, 4, 1}, Shapes.along(new int[] {2, 3, 4}, -1));
    assertArrayEquals(new int[] {1, 5, 1}, Shapes.along(new int[] {5}, 0));
    var e = assertThrows(IllegalArgumentException.class, () -> Shapes.along(new int[] {2, 3}, 2));
    assertTrue(e.getMessage().contains("dimension 2 is out of range"), e.getMessage());
  }
}
