package dev.kiln.processor.gen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** A generated class's CUDA source as Java: one literal, or literals of whole lines joined where it is too long for one. */
class CudaSourceLiteralTest {
  @Test
  void aLongSourceIsCutIntoLiteralsAtLines() {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 3000; i++) {
      s.append("__global__ void k").append(i).append("(float* x) { x[0] = 1.0f; }\n");
    }
    String code = CudaEmitter.sourceLiteral(s.toString()).toString();
    assertTrue(code.startsWith("java.lang.String.join(\"\",\n\"__global__ void k0("), code.substring(0, 80));
    assertTrue(code.split("\",\n\"__global__").length >= 2, "two literals or more");
  }

  @Test
  void aShortSourceIsOneLiteral() {
    assertEquals("\"short\\n\"", CudaEmitter.sourceLiteral("short\n").toString());
  }
}
