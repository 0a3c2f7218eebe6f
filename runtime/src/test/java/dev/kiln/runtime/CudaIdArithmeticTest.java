package dev.kiln.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Integer arithmetic of ids on the GPU ({@link IntOps}): each op of ids on the device gives ids on the device with the
 * CPU's values (and floats where PyTorch promotes), the float side of a mixed op its CPU gradient, and the same errors.
 * Needs a GPU: tagged cuda (docs/cuda.md says how to run these; the fake GPU runs them here).
 */
@Tag("cuda")
class CudaIdArithmeticTest {
  private static final Device GPU = Device.cuda();
  private static final Tensor A = Tensor.labels(7, -7, 7, -7, 0, 5);
  private static final Tensor B = Tensor.labels(2, 2, -2, -2, 3, -3);

  private static void sameOnBothDevices(String what, Function<Tensor[], Tensor> op) {
    Tensor cpu = op.apply(new Tensor[] {A, B});
    Tensor gpu = op.apply(new Tensor[] {A.to(GPU), B.to(GPU)});
    assertEquals(GPU, gpu.device(), what);
    assertEquals(cpu.dtype(), gpu.dtype(), what);
    assertArrayEquals(cpu.shape(), gpu.shape(), what);
    assertArrayEquals(cpu.to(Device.cpu()).toFloatArray(), gpu.to(Device.cpu()).toFloatArray(), what);
  }

  @Test
  void idOpsOnTheDeviceAreTheCpusIds() {
    sameOnBothDevices("add", t -> t[0].add(1));
    sameOnBothDevices("sub", t -> t[0].sub(t[1]));
    sameOnBothDevices("mul broadcast", t -> t[0].reshape(6, 1).mul(t[1].narrow(0, 0, 2)));
    sameOnBothDevices("floor_divide", t -> t[0].floorDivide(t[1]));
    sameOnBothDevices("remainder", t -> t[0].remainder(3));
    sameOnBothDevices("clamp", t -> t[0].sub(1).clamp(0, 5));
    sameOnBothDevices("neg abs", t -> t[0].neg().abs());
    sameOnBothDevices("max", t -> t[0].reshape(2, 3).max(1).values());
    sameOnBothDevices("where", t -> Tensor.where(t[0].gt(0), t[0], t[1]));
    sameOnBothDevices("cat", t -> Tensor.cat(List.of(t[0], t[1]), 0));
    sameOnBothDevices("div", t -> t[0].div(t[1]));
    sameOnBothDevices("float constant", t -> t[0].mul(0.5f));
    assertEquals(DType.INT32, A.to(GPU).add(1).dtype());
  }

  @Test
  void sumsAndMovesOfIdsOnTheDeviceAreTheCpusIds() {
    sameOnBothDevices("sum", t -> t[0].sum());
    sameOnBothDevices("sum dim", t -> t[0].reshape(2, 3).sum(1, true));
    sameOnBothDevices("pad", t -> dev.kiln.runtime.Ops.pad(t[0].reshape(2, 3), new int[] {1, 0}, -1.7f));
    sameOnBothDevices("roll", t -> t[0].reshape(2, 3).roll(1, 1));
    sameOnBothDevices("flip", t -> t[0].reshape(2, 3).flip(1));
    sameOnBothDevices("narrow", t -> t[0].reshape(2, 3).narrow(1, 1, 2));
    sameOnBothDevices("where", t -> Tensor.where(t[0].eq(7), t[0], t[1].mul(0)));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.labels(1 << 24, 1).to(GPU).sum());
    assertTrue(e.getMessage().startsWith("sum: the result 16777217 at flat position 0"), e.getMessage());
  }

  @Test
  void floatSideGetsItsGradientAndComputedIdsLookUpRows() {
    Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 6).to(GPU).requiresGrad(true);
    x.mul(A.to(GPU)).add(x.sub(B.to(GPU))).sum().backward();
    assertArrayEquals(new float[] {8, -6, 8, -6, 1, 6}, x.grad().to(Device.cpu()).toFloatArray());
    Tensor weight = Tensor.arange(12).reshape(6, 2).to(GPU).requiresGrad(true);
    Tensor rows = Ops.embedding(A.to(GPU).remainder(6).abs(), weight, -1);
    assertArrayEquals(new float[] {2, 3, 10, 11, 2, 3, 10, 11, 0, 1, 10, 11}, rows.to(Device.cpu()).toFloatArray());
  }

  @Test
  void errorsAreTheCpus() {
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Tensor.labels(1 << 23).to(GPU).mul(3)).getMessage()
        .startsWith("mul: the result 25165824 at flat position 0"));
    assertEquals("floor_divide: integer division by zero",
        assertThrows(IllegalArgumentException.class, () -> A.to(GPU).floorDivide(0)).getMessage());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> A.to(GPU).add(B)).getMessage().startsWith("add: expected all"
        + " tensors on one device"));
  }

  /** Random ids in [-range, range] of the given shape (0 replaced by 1 where {@code nonzero}: divisors). */
  private static Tensor randomIds(int range, boolean nonzero, int... shape) {
    int[] v = new int[Shapes.numel(shape)];
    for (int i = 0; i < v.length; i++) {
      v[i] = Kiln.generator().nextInt(2 * range + 1) - range;
      v[i] = nonzero && v[i] == 0 ? 1 : v[i];
    }
    return Tensor.labels(v).reshape(shape);
  }

  /** op on the CPU and on the device: the same type, shape and values, the device's never computed on the host. */
  private static void sameIds(String what, Function<Tensor[], Tensor> op, Tensor... in) {
    Tensor[] gpu = new Tensor[in.length];
    for (int i = 0; i < in.length; i++) {
      gpu[i] = in[i].to(GPU);
    }
    Tensor cpu = op.apply(in), dev = op.apply(gpu);
    assertEquals(GPU, dev.device(), what);
    assertEquals(cpu.dtype(), dev.dtype(), what);
    assertArrayEquals(cpu.shape(), dev.shape(), what);
    assertTrue(!dev.isHeapCurrent(), what + ": the result was computed (or read) on the host");
    assertArrayEquals(cpu.toFloatArray(), dev.toFloatArray(), what);
  }

  @Test
  void idKernelsOnOddSizesAndBroadcastAreTheCpusIds() {
    Kiln.manualSeed(7);
    Tensor a = randomIds(4000, false, 1031, 3), b = randomIds(50, true, 3), c = randomIds(3000, true, 1031, 3);
    Tensor d = randomIds(100, false, 5, 1, 7), e = randomIds(9, true, 1, 4, 1), s = Tensor.labels(-6).reshape();
    sameIds("add constant", t -> t[0].add(1000), a);
    sameIds("sub constant", t -> t[0].sub(-17), a);
    sameIds("mul constant", t -> t[0].mul(-3), a);
    sameIds("floor_divide constant", t -> t[0].floorDivide(7), a);
    sameIds("floor_divide negative constant", t -> t[0].floorDivide(-7), a);
    sameIds("remainder constant", t -> t[0].remainder(13), a);
    sameIds("remainder negative constant", t -> t[0].remainder(-13), a);
    sameIds("clamp", t -> t[0].clamp(-100, 250), a);
    sameIds("clamp min", t -> t[0].clampMin(0), a);
    sameIds("clamp max", t -> t[0].clampMax(-5), a);
    sameIds("clamp past the ids' range", t -> t[0].clamp(Integer.MIN_VALUE, Integer.MAX_VALUE), a);
    sameIds("neg", t -> t[0].neg(), a);
    sameIds("abs", t -> t[0].abs(), a);
    sameIds("add same shape", t -> t[0].add(t[1]), a, c);
    sameIds("sub row", t -> t[0].sub(t[1]), a, b);
    sameIds("mul row first", t -> t[1].mul(t[0]), a, b);
    sameIds("floor_divide same shape", t -> t[0].floorDivide(t[1]), a, c);
    sameIds("floor_divide row", t -> t[0].floorDivide(t[1]), a, b);
    sameIds("remainder same shape", t -> t[0].remainder(t[1]), a, c);
    sameIds("remainder [5,1,7] by [1,4,1]", t -> t[0].remainder(t[1]), d, e);
    sameIds("mul [5,1,7] by [1,4,1]", t -> t[0].mul(t[1]), d, e);
    sameIds("add rank 0", t -> t[0].add(t[1]), d, s);
    sameIds("rank 0 floor_divide", t -> t[1].floorDivide(t[0]), e, s);
    sameIds("empty", t -> t[0].add(t[0]), Tensor.labels().reshape(0, 3));
    // the ops that move ids through their float copies stay on the device too
    sameIds("where", t -> Tensor.where(t[0].gt(0), t[0], t[1]), a, c);
    sameIds("cat", t -> Tensor.cat(List.of(t[0], t[1]), 0), a, c);
    sameIds("expand", t -> t[0].expand(5, 4, 7), d);
    sameIds("float constant", t -> t[0].mul(0.5f), a);
    sameIds("true division", t -> t[0].div(t[1]), a, b);
  }

  @Test
  void deviceErrorsAreTheCpusMessages() {
    Tensor a = Tensor.labels(5, -3, 1 << 22, 9, -(1 << 22), 2).reshape(2, 3), z = Tensor.labels(2, 0, 1);
    for (Function<Tensor[], Tensor> op : List.<Function<Tensor[], Tensor>>of(
        t -> t[0].mul(5), t -> t[0].add(1 << 24), t -> t[0].sub(t[0].neg().mul(4)), t -> t[0].mul(t[0]),
        t -> t[0].floorDivide(t[1]), t -> t[0].remainder(t[1]), t -> t[0].remainder(0), t -> t[1].floorDivide(t[0].sub(t[0])))) {
      String cpu = assertThrows(IllegalArgumentException.class, () -> op.apply(new Tensor[] {a, z})).getMessage();
      String gpu = assertThrows(IllegalArgumentException.class, () -> op.apply(new Tensor[] {a.to(GPU), z.to(GPU)})).getMessage();
      assertEquals(cpu, gpu);
    }
  }
}
