package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Ops;
import dev.kiln.runtime.Tensor;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Conv1d, MaxPool1d, AvgPool1d, AdaptiveAvgPool1d and BatchNorm1d over {@code [N, C, L]}: parameters as PyTorch's,
 * reprs, shape rules and errors naming the layer, the functional forms, one sample, a small 1-d CNN's gradients and
 * summary. (The values against PyTorch: runtime's Conv1dOpsTest.)
 */
class Conv1dLayersTest {
  @BeforeEach
  void seed() {
    Kiln.manualSeed(7);
  }

  @Test
  void conv1dParametersAndInitialisationAsPyTorch() {
    Conv1d conv = new Conv1d(16, 32, 5);
    assertEquals(List.of("weight", "bias"), List.copyOf(conv.namedParameters().keySet()));
    assertArrayEquals(new int[] {32, 16, 5}, conv.weight().shape());
    assertArrayEquals(new int[] {32}, conv.bias().shape());
    double bound = 1 / Math.sqrt(16 * 5);
    float largest = 0;
    for (Tensor p : conv.parameters()) {
      for (float v : p.toFloatArray()) {
        assertTrue(Math.abs(v) <= bound, v + " is outside ±" + bound);
        largest = Math.max(largest, Math.abs(v));
      }
    }
    assertTrue(largest > 0.9 * bound, "uniform over the whole range: largest " + largest);
    assertEquals(32 * 16 * 5 + 32, conv.parameterCount());
    Tensor weight = conv.weight();
    assertSame(conv, conv.bias(false));
    assertSame(weight, conv.weight());
    assertNull(conv.bias());
    assertEquals(List.of("weight"), List.copyOf(conv.stateDict().keySet()));
    conv.bias(true);
    assertNotNull(conv.bias());
  }

  @Test
  void reprsAsPyTorch() {
    assertEquals("Conv1d(16, 32, kernel_size=(3,), stride=(1,), padding=(1,))", new Conv1d(16, 32, 3).padding(1).toString());
    assertEquals("Conv1d(16, 32, kernel_size=(3,), stride=(2,), bias=False)", new Conv1d(16, 32, 3).stride(2).bias(false).toString());
    assertEquals("MaxPool1d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)", new MaxPool1d(2).toString());
    assertEquals("MaxPool1d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)",
        new MaxPool1d(3).stride(2).padding(1).ceilMode(true).toString());
    assertEquals("AvgPool1d(kernel_size=(2,), stride=(2,), padding=(0,))", new AvgPool1d(2).toString());
    assertEquals("AvgPool1d(kernel_size=(3,), stride=(2,), padding=(1,))", new AvgPool1d(3).stride(2).padding(1).toString());
    assertEquals("AdaptiveAvgPool1d(output_size=3)", new AdaptiveAvgPool1d(3).toString());
  }

  @Test
  void shapeRules() {
    assertArrayEquals(new int[] {-1, 32, 128}, new Conv1d(16, 32, 3).padding(1).outputShape(new int[] {-1, 16, 128}));
    assertArrayEquals(new int[] {4, 8, 15}, new Conv1d(3, 8, 5).stride(2).padding(1).outputShape(new int[] {4, 3, 31}));
    assertArrayEquals(new int[] {-1, 8, 64}, new MaxPool1d(2).outputShape(new int[] {-1, 8, 128}));
    assertArrayEquals(new int[] {-1, 8, 4}, new MaxPool1d(2).ceilMode(true).outputShape(new int[] {-1, 8, 7}));
    assertArrayEquals(new int[] {-1, 8, 4}, new AvgPool1d(3).stride(2).padding(1).outputShape(new int[] {-1, 8, 7}));
    assertArrayEquals(new int[] {-1, 8, 1}, new AdaptiveAvgPool1d(1).outputShape(new int[] {-1, 8, 7}));
  }

  @Test
  void shapeErrorsNameTheLayerAndTheInput() {
    Conv1d conv = new Conv1d(16, 32, 9);
    var e = assertThrows(ShapeException.class, () -> conv.outputShape(new int[] {-1, 8, 128}));
    assertEquals("Conv1d(16, 32, kernel_size=(9,), stride=(1,)) expects [N, 16, L], receives [N, 8, 128]", e.getMessage());
    e = assertThrows(ShapeException.class, () -> conv.forward(Tensor.zeros(2, 16, 6)));
    assertEquals("Conv1d(16, 32, kernel_size=(9,), stride=(1,)) expects an input of length at least 9 after padding, receives"
        + " [2, 16, 6]", e.getMessage());
    e = assertThrows(ShapeException.class, () -> new Conv1d(1, 4, 3).forward(Tensor.zeros(8, 100)));
    assertEquals("Conv1d(1, 4, kernel_size=(3,), stride=(1,)) expects [N, 1, L], or [1, L] for one sample, receives [8, 100];"
        + " sequences without a channel dimension take one with x.unsqueeze(1)", e.getMessage());
    e = assertThrows(ShapeException.class, () -> new MaxPool1d(4).forward(Tensor.zeros(2, 3, 3)));
    assertEquals("MaxPool1d(kernel_size=4, stride=4, padding=0, dilation=1, ceil_mode=False) expects an input of length at least"
        + " 4 after padding, receives [2, 3, 3]", e.getMessage());
    e = assertThrows(ShapeException.class, () -> new AvgPool1d(2).forward(Tensor.zeros(2, 3, 4, 4)));
    assertEquals("AvgPool1d(kernel_size=(2,), stride=(2,), padding=(0,)) expects [N, C, L], receives [2, 3, 4, 4]", e.getMessage());
    e = assertThrows(ShapeException.class, () -> new AdaptiveAvgPool1d(2).forward(Tensor.zeros(6)));
    assertEquals("AdaptiveAvgPool1d(output_size=2) expects [N, C, L], receives [6]", e.getMessage());
    var bad = assertThrows(IllegalArgumentException.class, () -> new MaxPool1d(3).padding(2));
    assertEquals("MaxPool1d: padding 2 must be at most half of kernel_size 3", bad.getMessage());
    bad = assertThrows(IllegalArgumentException.class, () -> new Conv1d(4, 4, 0));
    assertEquals("Conv1d(4, 4): kernel_size 0 and stride 1 must be positive and padding 0 non-negative", bad.getMessage());
    var late = assertThrows(IllegalStateException.class, () -> {
      Conv1d c = new Conv1d(1, 2, 3);
      c.forward(Tensor.randn(1, 1, 5));
      c.padding(1);
    });
    assertTrue(late.getMessage().contains("before the first forward"), late.getMessage());
  }

  @Test
  void layersMatchTheirFunctionalFormsAndTakeOneSample() {
    Tensor x = Tensor.randn(4, 3, 17);
    Conv1d conv = new Conv1d(3, 5, 4).stride(2).padding(1);
    assertArrayEquals(F.conv1d(x, conv.weight(), conv.bias(), 2, 1).toFloatArray(), conv.forward(x).toFloatArray());
    Conv1d plain = new Conv1d(3, 5, 3).bias(false);
    assertArrayEquals(F.conv1d(x, plain.weight(), null).toFloatArray(), plain.forward(x).toFloatArray());
    assertArrayEquals(new int[] {5, 8}, conv.forward(Ops.select(x, 0, 2)).shape());
    assertArrayEquals(Ops.select(conv.forward(x), 0, 2).toFloatArray(), conv.forward(Ops.select(x, 0, 2)).toFloatArray());
    assertArrayEquals(F.maxPool1d(x, 3, 2, 1, true).toFloatArray(),
        new MaxPool1d(3).stride(2).padding(1).ceilMode(true).forward(x).toFloatArray());
    assertArrayEquals(F.maxPool1d(x, 2, 2).toFloatArray(), F.maxPool1d(x, 2).toFloatArray());
    assertArrayEquals(F.avgPool1d(x, 3, 1, 1, false, false).toFloatArray(),
        new AvgPool1d(3).stride(1).padding(1).countIncludePad(false).forward(x).toFloatArray());
    assertArrayEquals(F.avgPool1d(x, 2, 2).toFloatArray(), F.avgPool1d(x, 2).toFloatArray());
    assertArrayEquals(F.adaptiveAvgPool1d(x, 4).toFloatArray(), new AdaptiveAvgPool1d(4).forward(x).toFloatArray());
    assertArrayEquals(new int[] {3, 1}, new AdaptiveAvgPool1d(1).forward(Ops.select(x, 0, 0)).shape());
    assertArrayEquals(new int[] {3, 8}, new MaxPool1d(2).forward(Ops.select(x, 0, 0)).shape());
  }

  /** PyTorch 1.13's nn.BatchNorm1d(3) on sin(0.37 i - 3) over [2, 3, 5], output gradient cos(j): training, then eval. */
  @Test
  void batchNorm1dOverSequencesMatchesPyTorch() {
    float[] v = new float[30];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) Math.sin(i * 0.37 - 3);
    }
    Tensor x = Tensor.of(v, 2, 3, 5).requiresGrad(true);
    BatchNorm1d bn = new BatchNorm1d(3);
    Tensor y = bn.forward(x);
    assertArrayEquals(new float[] {0.5281222462654114f, -0.18475700914859772f, -0.7620753049850464f, -1.1256952285766602f,
        -1.226402759552002f, -0.8267663717269897f, -0.3242238163948059f, 0.40666404366493225f, 1.266974925994873f,
        2.1402697563171387f, -0.21552099287509918f, 0.5209245681762695f, 0.8820872902870178f, 0.8190852999687195f,
        0.3404456377029419f, 1.9577895402908325f, 1.2664871215820312f, 0.5143265724182129f, -0.1968906670808792f,
        -0.7709046602249146f, -0.9199370741844177f, -1.032061219215393f, -0.8200376033782959f, -0.3125626742839813f,
        0.4216793179512024f, -2.35673451423645f, -1.2072203159332275f, -0.1990930289030075f, 0.5312025547027588f,
        0.8848239183425903f}, y.toFloatArray(), 1e-5f);
    float[] g = new float[30];
    for (int j = 0; j < g.length; j++) {
      g[j] = (float) Math.cos(j);
    }
    y.backward(Tensor.of(g, 2, 3, 5));
    assertArrayEquals(new float[] {2.3383023738861084f, 1.2414097785949707f, -0.8420335054397583f, -2.0958306789398193f,
        -1.4297972917556763f, 0.5521979928016663f, 2.2978768348693848f, 1.981605887413025f, 0.034159496426582336f,
        -1.589202642440796f, -3.041271448135376f, 0.21036970615386963f, 3.1508402824401855f, 3.3017737865448f,
        0.48513785004615784f, -0.9481325149536133f, -1.5048314332962036f, -0.27355316281318665f, 1.4842824935913086f,
        2.030184268951416f, 0.8279133439064026f, -1.4924205541610718f, -2.525503635406494f, -1.2809122800827026f,
        1.1942850351333618f, 1.0420912504196167f, 0.867568850517273f, -1.2993896007537842f, -2.838192939758301f,
        -1.8789271116256714f}, x.grad().toFloatArray(), 1e-4f);
    assertArrayEquals(new float[] {-1.0724104642868042f, -1.018359899520874f, -2.5147271156311035f},
        bn.weight().grad().toFloatArray(), 1e-5f);
    assertArrayEquals(new float[] {-0.8629701733589172f, -0.3071574568748474f, 0.6887120008468628f},
        bn.bias().grad().toFloatArray(), 1e-5f);
    assertArrayEquals(new float[] {-0.039925966411828995f, -0.056812699884176254f, 0.07124001532793045f},
        bn.runningMean().toFloatArray(), 1e-6f);
    assertArrayEquals(new float[] {0.9265447854995728f, 0.9193059206008911f, 0.9111193418502808f},
        bn.runningVar().toFloatArray(), 1e-6f);
    bn.eval();
    assertArrayEquals(new float[] {-0.1051282286643982f, -0.4671216309070587f, -0.7602784633636475f, -0.9449212551116943f,
        -0.9960595369338989f, -0.8927227854728699f, -0.6742388010025024f, -0.3564801514148712f, 0.017546093091368675f,
        0.3972172141075134f, 0.6002714037895203f, 0.8443523645401001f, 0.9640529155731201f, 0.9431720972061157f,
        0.7845360040664673f, 0.6208433508872986f, 0.26980650424957275f, -0.11213356256484985f, -0.47328299283981323f,
        -0.7647619247436523f, -0.933229386806488f, -0.9819761514663696f, -0.8897973895072937f, -0.6691690683364868f,
        -0.34995216131210327f, -0.10939323902130127f, 0.271591454744339f, 0.6057161688804626f, 0.8477588295936584f,
        0.9649599194526672f}, bn.forward(x).toFloatArray(), 1e-5f);
  }

  static Sequential smallCnn() {
    return Sequential.of(
        new Conv1d(4, 8, 5).padding(2), new BatchNorm1d(8), new ReLU(), new MaxPool1d(2),
        new Conv1d(8, 8, 3).stride(2).bias(false), new ReLU(), new AvgPool1d(2), new AdaptiveAvgPool1d(3),
        new Flatten(), new Linear(8 * 3, 5));
  }

  @Test
  void smallOneDimensionalCnnTrainsEndToEnd() {
    Sequential net = smallCnn();
    assertEquals(List.of("0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "9.weight", "9.bias"),
        List.copyOf(net.namedParameters().keySet()));
    assertArrayEquals(new int[] {-1, 5}, net.outputShape(new int[] {-1, 4, 32}));
    Tensor loss = Ops.crossEntropy(net.forward(Tensor.randn(3, 4, 32)), Tensor.labels(1, 4, 0), true);
    loss.backward();
    for (Tensor p : net.parameters()) {
      assertNotNull(p.grad());
      assertArrayEquals(p.shape(), p.grad().shape());
    }
    assertEquals("""
----------------------------------------------------------------
        Layer (type)               Output Shape         Param #
================================================================
            Conv1d-1                [-1, 8, 32]             168
       BatchNorm1d-2                [-1, 8, 32]              16
              ReLU-3                [-1, 8, 32]               0
         MaxPool1d-4                [-1, 8, 16]               0
            Conv1d-5                 [-1, 8, 7]             192
              ReLU-6                 [-1, 8, 7]               0
         AvgPool1d-7                 [-1, 8, 3]               0
 AdaptiveAvgPool1d-8                 [-1, 8, 3]               0
           Flatten-9                   [-1, 24]               0
           Linear-10                    [-1, 5]             125
================================================================
Total params: 501
Trainable params: 501
Non-trainable params: 0
----------------------------------------------------------------
Input size (MB): 0.00
Forward/backward pass size (MB): 0.01
Params size (MB): 0.00
Estimated Total Size (MB): 0.01
----------------------------------------------------------------""", net.summary(4, 32));
  }
}
