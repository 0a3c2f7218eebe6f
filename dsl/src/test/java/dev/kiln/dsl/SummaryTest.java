package dev.kiln.dsl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.runtime.Tensor;
import org.junit.jupiter.api.Test;

/** {@link Module#summary} prints what torchsummary prints (expected texts from torchsummary's format code). */
class SummaryTest {
  /** The tutorial's regression model, nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)). */
  @Test
  void tutorialRegressionModel() {
    Module model = Sequential.of(new Linear(2, 8), new ReLU(), new Linear(8, 1));
    assertEquals("""
----------------------------------------------------------------
        Layer (type)               Output Shape         Param #
================================================================
            Linear-1                    [-1, 8]              24
              ReLU-2                    [-1, 8]               0
            Linear-3                    [-1, 1]               9
================================================================
Total params: 33
Trainable params: 33
Non-trainable params: 0
----------------------------------------------------------------
Input size (MB): 0.00
Forward/backward pass size (MB): 0.00
Params size (MB): 0.00
Estimated Total Size (MB): 0.00
----------------------------------------------------------------""", model.summary(2));
  }

  /** The tutorials' FashionMNIST MLP: Linear(784, 512) holds 784 * 512 + 512 = 401,920 parameters. */
  @Test
  void fashionMnistMlp() {
    Module model = Sequential.of(
        new Flatten(), new Linear(784, 512), new ReLU(), new Linear(512, 512), new ReLU(), new Linear(512, 10));
    assertEquals("""
----------------------------------------------------------------
        Layer (type)               Output Shape         Param #
================================================================
           Flatten-1                  [-1, 784]               0
            Linear-2                  [-1, 512]         401,920
              ReLU-3                  [-1, 512]               0
            Linear-4                  [-1, 512]         262,656
              ReLU-5                  [-1, 512]               0
            Linear-6                   [-1, 10]           5,130
================================================================
Total params: 669,706
Trainable params: 669,706
Non-trainable params: 0
----------------------------------------------------------------
Input size (MB): 0.00
Forward/backward pass size (MB): 0.02
Params size (MB): 2.55
Estimated Total Size (MB): 2.58
----------------------------------------------------------------""", model.summary(1, 28, 28));
  }

  /** A small CNN written by hand: rows follow the forward pass, functional calls are not rows. */
  @Test
  void handWrittenCnn() {
    Module model = new SmallCnn();
    assertEquals("""
----------------------------------------------------------------
        Layer (type)               Output Shape         Param #
================================================================
            Conv2d-1            [-1, 8, 28, 28]              80
       BatchNorm2d-2            [-1, 8, 28, 28]              16
              ReLU-3            [-1, 8, 28, 28]               0
         MaxPool2d-4            [-1, 8, 14, 14]               0
           Flatten-5                 [-1, 1568]               0
            Linear-6                   [-1, 10]          15,690
================================================================
Total params: 15,786
Trainable params: 15,786
Non-trainable params: 0
----------------------------------------------------------------
Input size (MB): 0.00
Forward/backward pass size (MB): 0.17
Params size (MB): 0.06
Estimated Total Size (MB): 0.23
----------------------------------------------------------------""", model.summary(1, 28, 28));
    var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, model::summary);
    org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("give the shape of one input sample, e.g. "
        + "summary(1, 28, 28) (only a model declared with @Model knows its own)"), e.getMessage());
  }

  static final class SmallCnn extends Module {
    final Linear fc = new Linear(8 * 14 * 14, 10); // declared first, applied last: rows follow execution
    final Sequential features = Sequential.of(new Conv2d(1, 8, 3).padding(1), new BatchNorm2d(8), new ReLU());
    final MaxPool2d pool = new MaxPool2d(2);
    final Flatten flatten = new Flatten();

    @Override
    public Tensor forward(Tensor x) {
      return fc.apply(flatten.apply(pool.apply(features.apply(x))));
    }
  }

  @Test
  void restoresEachModulesModeAndStopsRecording() {
    SmallCnn model = new SmallCnn();
    model.train();
    model.pool.eval();
    model.summary(1, 28, 28);
    assertTrue(model.isTraining());
    assertTrue(model.features.get(1).isTraining());
    assertFalse(model.pool.isTraining());
    assertNull(Module.FORWARD_LISTENER.get());

    model.eval();
    model.summary(1, 28, 28);
    assertFalse(model.features.isTraining());
  }

  @Test
  void rejectsBadInputShapes() {
    Module model = Sequential.of(new Linear(2, 8));
    assertThrows(IllegalArgumentException.class, model::summary);
    assertThrows(IllegalArgumentException.class, () -> model.summary(0));
    var e = assertThrows(ShapeException.class, () -> model.summary(3));
    assertTrue(e.getMessage().startsWith("summary(3): the model does not take samples of shape [3] (run as a batch of 2): "
        + "Sequential layer '0': Linear(in_features=2"), e.getMessage());
    assertNull(Module.FORWARD_LISTENER.get());
  }

  /** A model whose forward bypasses apply() would print an empty table with "Total params: 0": refused, saying why. */
  @Test
  void refusesAForwardThatAppliesNoLayer() {
    Module model = new Module() {
      final Linear fc = new Linear(2, 3);

      @Override
      public Tensor forward(Tensor x) {
        return fc.forward(x);
      }
    };
    var e = assertThrows(IllegalStateException.class, () -> model.summary(2));
    assertTrue(e.getMessage().contains("applied no layer through apply()"), e.getMessage());
    assertNull(Module.FORWARD_LISTENER.get());
    // Functions alone, and no parameters: an empty table is the truth.
    Module functional = new Module() {
      @Override
      public Tensor forward(Tensor x) {
        return F.relu(x);
      }
    };
    assertTrue(functional.summary(2).contains("Total params: 0"));
  }

  /**
   * A forward mixing apply() and forward() calls (or a layer never called) would undercount
   * silently: the table lists what apply() reached and a line after it names the layers left out.
   */
  @Test
  void namesTheLayersWithParametersThatNoApplyReached() {
    Module model = new Module() {
      final Linear fc1 = new Linear(2, 3);
      final Sequential head = Sequential.of(new Linear(3, 4), new ReLU(), new Linear(4, 1));
      final Linear unused = new Linear(1, 1, false);

      @Override
      public Tensor forward(Tensor x) {
        Tensor h = fc1.apply(x);
        h = ((Linear) head.getSubmodule("0")).forward(h);
        return head.getSubmodule("2").apply(F.relu(h));
      }
    };
    String summary = model.summary(2);
    assertTrue(summary.contains("Linear-1"), summary);
    assertTrue(summary.contains("Linear-2"), summary);
    assertTrue(summary.contains("Total params: 14"), summary); // 9 + 5: the two applied layers
    assertTrue(summary.endsWith("Not in the table (no apply() reached them in the forward pass; called as"
        + " forward(x), or not at all): head.0 (Linear, 16 params), unused (Linear, 1 param)"), summary);
    // Every layer applied: no such line.
    assertFalse(Sequential.of(new Linear(2, 3), new ReLU()).summary(2).contains("Not in the table"));
  }

  @Test
  void sequentialKeepsItsTypeThroughToTrainAndEval() {
    Sequential model = Sequential.of(new Linear(2, 3)).to(dev.kiln.runtime.Device.cpu()).eval();
    assertFalse(model.isTraining());
    Sequential same = model.train();
    assertSame(model, same);
    assertTrue(same.train(true).isTraining());
  }

  /** A model that takes ids (an Embedding first) is summarised on a batch of id 0. */
  @Test
  void idsForAnEmbeddingFirstModel() {
    Sequential net = Sequential.of(new Embedding(10, 4), new Flatten(), new Linear(12, 2));
    String table = net.summaryOfIds(3);
    org.junit.jupiter.api.Assertions.assertTrue(table.contains("Embedding-1"), table);
    org.junit.jupiter.api.Assertions.assertTrue(table.contains("[-1, 3, 4]"), table);
    org.junit.jupiter.api.Assertions.assertTrue(table.contains("Total params: 66"), table);
  }
}
