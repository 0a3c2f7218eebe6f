package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class GeneratorTest {
  @Test
  void drawsWhatSplittableRandomDrewForTheSameSeed() {
    for (long seed : new long[] {0, 1, -7, Long.MIN_VALUE, 0x123456789abcdefL}) {
      Generator g = new Generator(seed);
      SplittableRandom r = new SplittableRandom(seed);
      for (int i = 0; i < 200; i++) {
        assertEquals(r.nextLong(), g.nextLong());
        assertEquals(r.nextDouble(), g.nextDouble());
        int bound = i % 3 == 0 ? 64 : 1 + i * 7919; // powers of two and not
        assertEquals(r.nextInt(bound), g.nextInt(bound));
        assertEquals(r.nextInt(Integer.MAX_VALUE), g.nextInt(Integer.MAX_VALUE));
      }
    }
  }

  @Test
  void aSavedStateReplaysTheSameDraws() {
    Generator g = new Generator(42);
    g.nextLong();
    long state = g.state();
    double[] first = {g.nextDouble(), g.nextInt(10), g.nextLong()};
    g.nextDouble();
    g.setState(state);
    assertArrayEquals(first, new double[] {g.nextDouble(), g.nextInt(10), g.nextLong()});
  }

  @Test
  void kilnRngStateReplaysTensorDraws() {
    Kiln.manualSeed(3);
    Tensor.randn(5);
    long state = Kiln.rngState();
    float[] expected = Tensor.randn(7).toFloatArray();
    Kiln.manualSeed(99);
    Kiln.setRngState(state);
    assertArrayEquals(expected, Tensor.randn(7).toFloatArray());
  }

  @Test
  void manualSeedKeepsTheSameGenerator() {
    Generator before = Kiln.generator();
    Kiln.manualSeed(1);
    assertEquals(before, Kiln.generator());
    assertEquals(1, Kiln.rngState());
  }

  @Test
  void boundMustBePositive() {
    assertThrows(IllegalArgumentException.class, () -> new Generator(0).nextInt(0));
  }

  @Test
  void reservedDrawsAreTheSequentialOnesInAnyOrder() {
    Generator sequential = new Generator(-7);
    double[] draws = new double[1000];
    for (int i = 0; i < draws.length; i++) {
      draws[i] = sequential.nextDouble();
    }
    Generator block = new Generator(-7);
    long start = block.reserve(draws.length);
    for (int i = draws.length - 1; i >= 0; i--) {
      assertEquals(draws[i], Generator.doubleAt(start, i), "draw " + i);
    }
    assertEquals(sequential.state(), block.state(), "left where 1000 draws leave it");
    assertEquals(sequential.nextLong(), block.nextLong());
    assertEquals(block.state(), block.reserve(0), "reserving nothing moves nothing");
    var e = assertThrows(IllegalArgumentException.class, () -> block.reserve(-1));
    assertTrue(e.getMessage().contains("-1"), e.getMessage());
  }
}
