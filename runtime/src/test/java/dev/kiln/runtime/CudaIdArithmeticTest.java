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
}
