package dev.kiln.runtime.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Kiln's fork-join: coverage of the range, fixed parts, failures, nesting and concurrent callers. */
class ParallelTest {
  private static final long BIG = 1 << 20;

  @Test
  void everyItemRunsExactlyOnceInContiguousParts() {
    for (int items : new int[] {1, 2, 3, 7, 64, 1001}) {
      int[] seen = new int[items];
      List<int[]> parts = java.util.Collections.synchronizedList(new ArrayList<>());
      Parallel.forRange(items, BIG, (part, from, to) -> {
        parts.add(new int[] {part, from, to});
        for (int i = from; i < to; i++) {
          seen[i]++;
        }
      });
      for (int i = 0; i < items; i++) {
        assertEquals(1, seen[i], items + " items: item " + i);
      }
      assertEquals(Math.min(items, Parallel.threads()), parts.size(), items + " items: one part per thread at most");
      parts.sort((a, b) -> Integer.compare(a[0], b[0]));
      for (int p = 0; p < parts.size(); p++) {
        assertEquals(p, parts.get(p)[0], "parts are numbered from 0");
        assertEquals(p == 0 ? 0 : parts.get(p - 1)[2], parts.get(p)[1], "parts follow each other");
      }
    }
  }

  @Test
  void smallWorkRunsInlineAsOnePart() {
    List<String> calls = new ArrayList<>();
    Thread caller = Thread.currentThread();
    Parallel.forRange(100, 10, (part, from, to) -> {
      assertSame(caller, Thread.currentThread());
      calls.add(part + ":" + from + "-" + to);
    });
    assertEquals(List.of("0:0-100"), calls);
  }

  @Test
  void partsUseTheOtherThreadsWhenThereAreSeveral() {
    Set threads = new Set();
    AtomicInteger started = new AtomicInteger();
    Parallel.forRange(Parallel.threads(), BIG, (part, from, to) -> {
      threads.add(Thread.currentThread().getName());
      started.incrementAndGet();
      if (part == 0) { // the caller waits until the workers have started theirs (else it would run them itself)
        long until = System.nanoTime() + 5_000_000_000L;
        while (started.get() < Parallel.threads() && System.nanoTime() < until) {
          Thread.onSpinWait();
        }
      }
    });
    assertEquals(Parallel.threads(), threads.size(), "one thread per part: " + threads);
  }

  @Test
  void partsTheWorkersHaveNotStartedRunOnTheCallerExactlyOnce() {
    // part 0 returns at once, so the caller often reaches a part its worker has not started yet and runs it itself;
    // over many regions both paths run, and every part must run once, never twice or not at all
    int parts = Parallel.threads();
    int[] runs = new int[parts];
    Thread caller = Thread.currentThread();
    int onCaller = 0;
    for (int region = 0; region < 20_000; region++) {
      java.util.Arrays.fill(runs, 0);
      boolean[] mine = new boolean[parts];
      Parallel.forRange(parts, BIG, (part, from, to) -> {
        runs[part]++;
        mine[part] = Thread.currentThread() == caller;
      });
      for (int p = 0; p < parts; p++) {
        assertEquals(1, runs[p], "region " + region + ": part " + p + " ran " + runs[p] + " times");
        onCaller += p > 0 && mine[p] ? 1 : 0;
      }
    }
    if (parts > 1) {
      // the other path in this same run: a worker free for a part that takes a while
      partsUseTheOtherThreadsWhenThereAreSeveral();
    }
    System.out.println("ParallelTest: " + onCaller + " workers' parts of 20000 regions ran on the caller");
  }

  @Test
  void aFailingPartIsRethrownAfterAllPartsFinish() {
    AtomicInteger finished = new AtomicInteger();
    int items = Math.max(2, Parallel.threads());
    int last = Math.min(items, Parallel.threads()) - 1;
    var e = assertThrows(IllegalStateException.class, () -> Parallel.forRange(items, BIG, (part, from, to) -> {
      if (part == last) {
        throw new IllegalStateException("part " + part + " failed");
      }
      finished.incrementAndGet();
    }));
    assertEquals("part " + last + " failed", e.getMessage());
    assertEquals(last, finished.get(), "the other parts ran to the end");
    // the pool is usable again
    int[] seen = new int[10];
    Parallel.forRange(10, BIG, (part, from, to) -> {
      for (int i = from; i < to; i++) {
        seen[i]++;
      }
    });
    assertArrayEquals(new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, seen);
  }

  @Test
  void aRegionInsideAPartRunsItsPartsInOrderOnThatThread() {
    int outer = Parallel.threads();
    int[][] inner = new int[outer][];
    Parallel.forRange(outer, BIG, (part, from, to) -> {
      assertTrue(Parallel.busy() || Parallel.threads() == 1, "a region of several threads is running");
      Thread mine = Thread.currentThread();
      List<Integer> order = new ArrayList<>();
      Parallel.forRange(5, BIG, (p, f, t) -> {
        assertSame(mine, Thread.currentThread());
        order.add(p);
      });
      inner[part] = order.stream().mapToInt(Integer::intValue).toArray();
    });
    int[] expected = java.util.stream.IntStream.range(0, Math.min(5, Parallel.threads())).toArray();
    for (int[] order : inner) {
      assertArrayEquals(expected, order, "the same parts as a region of its own, in order");
    }
  }

  @Test
  void concurrentCallersGetTheSameResults() throws Exception {
    float[] data = new float[1 << 16];
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) Math.sin(i);
    }
    float expected = partSums(data);
    float[] results = new float[4];
    Thread[] threads = new Thread[results.length];
    for (int t = 0; t < threads.length; t++) {
      int slot = t;
      threads[t] = new Thread(() -> {
        for (int r = 0; r < 50; r++) {
          results[slot] = partSums(data);
          if (results[slot] != expected) {
            return;
          }
        }
      });
      threads[t].start();
    }
    for (Thread t : threads) {
      t.join();
    }
    for (float r : results) {
      assertEquals(expected, r, 0f, "a sum split into parts adds them in part order, whichever thread ran them");
    }
  }

  /** Sum of {@code data} by parts, the parts' sums added in part order. */
  private static float partSums(float[] data) {
    float[] sums = new float[Parallel.threads()];
    Parallel.forRange(data.length, data.length, (part, from, to) -> {
      float s = 0;
      for (int i = from; i < to; i++) {
        s += data[i];
      }
      sums[part] = s;
    });
    float total = 0;
    for (float s : sums) {
      total += s;
    }
    return total;
  }

  /** A thread-safe set of names. */
  private static final class Set {
    private final ConcurrentHashMap<String, Boolean> map = new ConcurrentHashMap<>();

    void add(String s) {
      map.put(s, Boolean.TRUE);
    }

    int size() {
      return map.size();
    }

    @Override
    public String toString() {
      return map.keySet().toString();
    }
  }
}
