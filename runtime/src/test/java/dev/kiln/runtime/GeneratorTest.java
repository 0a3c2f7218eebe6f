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

  /** Threads sharing one generator (Kiln's global one) never get the same draw: every draw is one atomic step. */
  @Test
  void threadsSharingAGeneratorGetDistinctDraws() throws Exception {
    Generator shared = new Generator(3);
    int threads = 4, each = 50_000;
    long[][] drawn = new long[threads][each];
    Thread[] workers = new Thread[threads];
    for (int t = 0; t < threads; t++) {
      long[] mine = drawn[t];
      workers[t] = new Thread(() -> {
        for (int i = 0; i < each; i++) {
          mine[i] = shared.nextLong();
        }
      });
      workers[t].start();
    }
    for (Thread w : workers) {
      w.join();
    }
    long[] all = java.util.Arrays.stream(drawn).flatMapToLong(java.util.Arrays::stream).sorted().toArray();
    Generator alone = new Generator(3);
    long[] expected = new long[threads * each];
    for (int i = 0; i < expected.length; i++) {
      expected[i] = alone.nextLong();
    }
    java.util.Arrays.sort(expected);
    assertArrayEquals(expected, all, "the same draws as one thread's, each exactly once");
  }

  /** randn takes its draws as a block: the same values as drawing them one by one (Box-Muller on consecutive pairs). */
  @Test
  void randnIsUnchangedByTakingItsDrawsAsABlock() {
    Kiln.manualSeed(11);
    float[] block = Tensor.randn(5).toFloatArray();
    Kiln.manualSeed(11);
    Generator g = Kiln.generator();
    for (int i = 0; i < 5; i += 2) {
      double u1 = 1.0 - g.nextDouble();
      double u2 = g.nextDouble();
      double r = Math.sqrt(-2.0 * Math.log(u1));
      assertEquals((float) (r * Math.cos(2 * Math.PI * u2)), block[i]);
      if (i + 1 < 5) {
        assertEquals((float) (r * Math.sin(2 * Math.PI * u2)), block[i + 1]);
      }
    }
    assertEquals(g.state(), Kiln.generator().state());
  }

  /** A noGrad block closed on another thread is refused: it would leave both threads in the wrong mode. */
  @Test
  void noGradIsClosedOnTheThreadThatOpenedIt() throws Exception {
    Kiln.NoGrad scope = Kiln.noGrad();
    Throwable[] thrown = new Throwable[1];
    Thread other = new Thread(() -> {
      try {
        scope.close();
      } catch (Throwable t) {
        thrown[0] = t;
      }
      if (!Kiln.isGradEnabled()) {
        thrown[0] = new AssertionError("the other thread's grad mode changed");
      }
    }, "worker");
    other.start();
    other.join();
    assertTrue(thrown[0] instanceof IllegalStateException, String.valueOf(thrown[0]));
    assertTrue(thrown[0].getMessage().contains("opened on thread '" + Thread.currentThread().getName() + "'"), thrown[0].getMessage());
    assertTrue(!Kiln.isGradEnabled(), "still inside the block here");
    scope.close();
    assertTrue(Kiln.isGradEnabled());
  }
}
