package dev.kiln.runtime.cuda;

import static org.bytedeco.cuda.global.cudnn.CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_CROSS_CORRELATION;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DATA_FLOAT;
import static org.bytedeco.cuda.global.cudnn.CUDNN_DEFAULT_MATH;
import static org.bytedeco.cuda.global.cudnn.CUDNN_FMA_MATH;
import static org.bytedeco.cuda.global.cudnn.CUDNN_STATUS_SUCCESS;
import static org.bytedeco.cuda.global.cudnn.CUDNN_TENSOR_NCHW;

import dev.kiln.runtime.cpu.Conv2dShape;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdDataAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdFilterAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionFwdAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionStruct;
import org.bytedeco.cuda.cudnn.cudnnFilterStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;
import org.bytedeco.cuda.global.cudnn;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * cuDNN for the layers: 2-d convolution (NCHW floats, cross-correlation, stride, padding, dilation in
 * the convolution descriptor and groups by {@code cudnnSetConvolutionGroupCount}, as {@link Conv2dShape}
 * describes) forward and backward, and its bias. (Batch
 * normalisation is Kiln's own, {@link BatchNormKernels}.) Arguments are device addresses; calls are
 * queued on the device's stream and return at once.
 *
 * <p>Descriptors and algorithms are made once per shape and cached for the life of the process:
 * the three convolution algorithms come from cuDNN's heuristics ({@code _v7}), taking the first
 * that succeeds within {@link #WORKSPACE_LIMIT}; one workspace buffer, grown as needed, serves every
 * call. {@link #plansCreated()} counts the shapes planned.
 *
 * <p>Precision: convolutions use {@code CUDNN_FMA_MATH}, exact FP32 without TF32 tensor cores, so
 * that results agree with the CPU backend to float rounding. {@code -Dkiln.cuda.tf32=true} switches
 * to {@code CUDNN_DEFAULT_MATH}, which lets cuDNN use TF32 on Ampere and later GPUs: faster, with
 * products rounded to a 10-bit mantissa (relative errors around 1e-3).
 *
 * <p>Not thread-safe, like {@link Cuda}: one thread drives the device at a time.
 */
// cuDNN 9 marks its legacy API (these calls) deprecated in favour of the graph API; the legacy
// calls remain supported throughout 9.x and are what this class is written against.
@SuppressWarnings("deprecation")
public final class CuDnn {
  /** Whether convolutions may use TF32 ({@code -Dkiln.cuda.tf32=true}); exact FP32 otherwise. */
  public static final boolean TF32 = Boolean.getBoolean("kiln.cuda.tf32");

  /** The most workspace one convolution algorithm may ask for: 1 GiB. */
  public static final long WORKSPACE_LIMIT = 1L << 30;

  private static final Map<Conv2dShape, ConvPlan> CONV_PLANS = new HashMap<>();
  private static long plansCreated;
  private static CudaBuffer workspace;

  private CuDnn() {}

  /** How many convolution shapes have had descriptors and algorithms made. */
  public static synchronized long plansCreated() {
    return plansCreated;
  }

  // ---------------------------------------------------------------- convolution

  /** {@code y = conv2d(x, w)} (no bias), overwriting y. */
  public static void conv2dForward(Conv2dShape s, long x, long w, long y) {
    if (s.batch() == 0) {
      return;
    }
    ConvPlan p = convPlan(s);
    Cuda.checkCudnn("cudnnConvolutionForward(" + p + ", algo " + p.forwardAlgo + ")",
        cudnn.cudnnConvolutionForward(handle(), DeviceConstants.ONE, p.x, ptr(x), p.w, ptr(w), p.forwardConv, p.forwardAlgo,
            ptr(workspace(p.forwardBytes)), p.forwardBytes, DeviceConstants.ZERO, p.y, ptr(y)));
  }

  /** {@code dx} = the gradient of the input from {@code dy} and the weight, overwriting dx. */
  public static void conv2dBackwardData(Conv2dShape s, long w, long dy, long dx) {
    if (s.batch() == 0) {
      return;
    }
    ConvPlan p = convPlan(s);
    Cuda.checkCudnn("cudnnConvolutionBackwardData(" + p + ", algo " + p.dataAlgo + ")",
        cudnn.cudnnConvolutionBackwardData(handle(), DeviceConstants.ONE, p.w, ptr(w), p.y, ptr(dy), p.dataConv, p.dataAlgo,
            ptr(workspace(p.dataBytes)), p.dataBytes, DeviceConstants.ZERO, p.x, ptr(dx)));
  }

  /** The weight gradient from the input and {@code dy}: written to dw, or added to it when {@code accumulate}. */
  public static void conv2dBackwardFilter(Conv2dShape s, long x, long dy, long dw, boolean accumulate) {
    if (s.batch() == 0) {
      zeroUnlessAccumulating(dw, (long) s.outChannels() * s.patchSize(), accumulate);
      return;
    }
    ConvPlan p = convPlan(s);
    Cuda.checkCudnn("cudnnConvolutionBackwardFilter(" + p + ", algo " + p.filterAlgo + ")",
        cudnn.cudnnConvolutionBackwardFilter(handle(), DeviceConstants.ONE, p.x, ptr(x), p.y, ptr(dy), p.filterConv, p.filterAlgo,
            ptr(workspace(p.filterBytes)), p.filterBytes, beta(accumulate), p.w, ptr(dw)));
  }

  /** {@code y[n, o, :, :] += bias[o]}. */
  public static void conv2dAddBias(Conv2dShape s, long bias, long y) {
    if (s.batch() == 0) {
      return;
    }
    ConvPlan p = convPlan(s);
    Cuda.checkCudnn("cudnnAddTensor(bias, " + p + ")",
        cudnn.cudnnAddTensor(handle(), DeviceConstants.ONE, p.bias, ptr(bias), DeviceConstants.ONE, p.y, ptr(y)));
  }

  /** The bias gradient, {@code db[o] = sum of dy[:, o, :, :]}: written, or added when {@code accumulate}. */
  public static void conv2dBiasGradient(Conv2dShape s, long dy, long db, boolean accumulate) {
    if (s.batch() == 0) {
      zeroUnlessAccumulating(db, s.outChannels(), accumulate);
      return;
    }
    ConvPlan p = convPlan(s);
    Cuda.checkCudnn("cudnnConvolutionBackwardBias(" + p + ")",
        cudnn.cudnnConvolutionBackwardBias(handle(), DeviceConstants.ONE, p.y, ptr(dy), beta(accumulate), p.bias, ptr(db)));
  }

  private static synchronized ConvPlan convPlan(Conv2dShape s) {
    ConvPlan p = CONV_PLANS.get(s);
    if (p == null) {
      p = new ConvPlan(s);
      CONV_PLANS.put(s, p);
      plansCreated++;
    }
    return p;
  }

  /** One convolution shape's descriptors, and per direction an algorithm and its workspace size. */
  private static final class ConvPlan {
    final Conv2dShape s;
    final cudnnTensorStruct x;
    final cudnnTensorStruct y;
    final cudnnTensorStruct bias;
    final cudnnFilterStruct w;
    // One convolution descriptor per direction: with TF32 allowed each carries its algorithm's math type.
    final cudnnConvolutionStruct forwardConv;
    final cudnnConvolutionStruct dataConv;
    final cudnnConvolutionStruct filterConv;
    final int forwardAlgo;
    final int dataAlgo;
    final int filterAlgo;
    final long forwardBytes;
    final long dataBytes;
    final long filterBytes;

    ConvPlan(Conv2dShape s) {
      this.s = s;
      x = tensor4d(s.batch(), s.inChannels(), s.height(), s.width());
      y = tensor4d(s.batch(), s.outChannels(), s.outHeight(), s.outWidth());
      bias = tensor4d(1, s.outChannels(), 1, 1);
      w = new cudnnFilterStruct();
      Cuda.checkCudnn("cudnnCreateFilterDescriptor", cudnn.cudnnCreateFilterDescriptor(w));
      // Filter descriptors take the data type first and the layout second (tensor descriptors the reverse).
      Cuda.checkCudnn("cudnnSetFilter4dDescriptor(" + this + ")", cudnn.cudnnSetFilter4dDescriptor(
          w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s.outChannels(), s.groupInChannels(), s.kernelH(), s.kernelW()));
      forwardConv = convolution();
      dataConv = convolution();
      filterConv = convolution();
      checkOutputSize();
      cudnnContext h = handle();

      Candidate f = forwardAlgorithm(h);
      forwardAlgo = f.algo();
      useMathType(forwardConv, f);
      try (SizeTPointer bytes = new SizeTPointer(1)) {
        Cuda.checkCudnn("cudnnGetConvolutionForwardWorkspaceSize(" + this + ")",
            cudnn.cudnnGetConvolutionForwardWorkspaceSize(h, x, w, forwardConv, y, forwardAlgo, bytes));
        forwardBytes = bytes.get();
      }

      Candidate d = dataAlgorithm(h);
      dataAlgo = d.algo();
      useMathType(dataConv, d);
      try (SizeTPointer bytes = new SizeTPointer(1)) {
        Cuda.checkCudnn("cudnnGetConvolutionBackwardDataWorkspaceSize(" + this + ")",
            cudnn.cudnnGetConvolutionBackwardDataWorkspaceSize(h, w, y, dataConv, x, dataAlgo, bytes));
        dataBytes = bytes.get();
      }

      Candidate g = filterAlgorithm(h);
      filterAlgo = g.algo();
      useMathType(filterConv, g);
      try (SizeTPointer bytes = new SizeTPointer(1)) {
        Cuda.checkCudnn("cudnnGetConvolutionBackwardFilterWorkspaceSize(" + this + ")",
            cudnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(h, x, y, filterConv, w, filterAlgo, bytes));
        filterBytes = bytes.get();
      }
    }

    private cudnnConvolutionStruct convolution() {
      cudnnConvolutionStruct c = new cudnnConvolutionStruct();
      Cuda.checkCudnn("cudnnCreateConvolutionDescriptor", cudnn.cudnnCreateConvolutionDescriptor(c));
      // pad h, pad w, stride h, stride w, dilation h, dilation w
      Cuda.checkCudnn("cudnnSetConvolution2dDescriptor(" + this + ")", cudnn.cudnnSetConvolution2dDescriptor(
          c, s.padH(), s.padW(), s.strideH(), s.strideW(), s.dilationH(), s.dilationW(), CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
      if (s.groups() != 1) {
        Cuda.checkCudnn("cudnnSetConvolutionGroupCount(" + this + ")", cudnn.cudnnSetConvolutionGroupCount(c, s.groups()));
      }
      Cuda.checkCudnn("cudnnSetConvolutionMathType(" + this + ")",
          cudnn.cudnnSetConvolutionMathType(c, TF32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
      return c;
    }

    /** cuDNN's idea of the output size must be Kiln's: a cheap guard against a misordered argument. */
    private void checkOutputSize() {
      int[] n = new int[1], c = new int[1], h = new int[1], wd = new int[1];
      Cuda.checkCudnn("cudnnGetConvolution2dForwardOutputDim(" + this + ")",
          cudnn.cudnnGetConvolution2dForwardOutputDim(forwardConv, x, w, n, c, h, wd));
      if (n[0] != s.batch() || c[0] != s.outChannels() || h[0] != s.outHeight() || wd[0] != s.outWidth()) {
        throw new CudaException("cuDNN computes the output of " + this + " as [" + n[0] + ", " + c[0] + ", " + h[0] + ", " + wd[0]
            + "], Kiln as [" + s.batch() + ", " + s.outChannels() + ", " + s.outHeight() + ", " + s.outWidth() + "]");
      }
    }

    private Candidate forwardAlgorithm(cudnnContext h) {
      try (cudnnConvolutionFwdAlgoPerf_t perf = new cudnnConvolutionFwdAlgoPerf_t(CUDNN_CONVOLUTION_FWD_ALGO_COUNT)) {
        int[] count = new int[1];
        Cuda.checkCudnn("cudnnGetConvolutionForwardAlgorithm_v7(" + this + ")", cudnn.cudnnGetConvolutionForwardAlgorithm_v7(
            h, x, w, forwardConv, y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, count, perf));
        List<Candidate> list = new ArrayList<>();
        for (int i = 0; i < count[0]; i++) {
          cudnnConvolutionFwdAlgoPerf_t r = perf.getPointer(i);
          list.add(new Candidate(r.algo(), r.status(), r.memory(), r.mathType()));
        }
        return choose("forward", list);
      }
    }

    private Candidate dataAlgorithm(cudnnContext h) {
      try (cudnnConvolutionBwdDataAlgoPerf_t perf = new cudnnConvolutionBwdDataAlgoPerf_t(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT)) {
        int[] count = new int[1];
        Cuda.checkCudnn("cudnnGetConvolutionBackwardDataAlgorithm_v7(" + this + ")", cudnn.cudnnGetConvolutionBackwardDataAlgorithm_v7(
            h, w, y, dataConv, x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, count, perf));
        List<Candidate> list = new ArrayList<>();
        for (int i = 0; i < count[0]; i++) {
          cudnnConvolutionBwdDataAlgoPerf_t r = perf.getPointer(i);
          list.add(new Candidate(r.algo(), r.status(), r.memory(), r.mathType()));
        }
        return choose("backward data", list);
      }
    }

    private Candidate filterAlgorithm(cudnnContext h) {
      try (cudnnConvolutionBwdFilterAlgoPerf_t perf = new cudnnConvolutionBwdFilterAlgoPerf_t(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT)) {
        int[] count = new int[1];
        Cuda.checkCudnn("cudnnGetConvolutionBackwardFilterAlgorithm_v7(" + this + ")", cudnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7(
            h, x, y, filterConv, w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, count, perf));
        List<Candidate> list = new ArrayList<>();
        for (int i = 0; i < count[0]; i++) {
          cudnnConvolutionBwdFilterAlgoPerf_t r = perf.getPointer(i);
          list.add(new Candidate(r.algo(), r.status(), r.memory(), r.mathType()));
        }
        return choose("backward filter", list);
      }
    }

    /**
     * The first candidate (the heuristics list them best first) that succeeds within the workspace
     * limit, preferring, in exact mode, one that says it runs in FMA math. Failing that, any that
     * succeeds within the limit: the descriptor still asks for FMA math, so cuDNN runs it without
     * TF32 or reports the algorithm unsupported.
     */
    private Candidate choose(String direction, List<Candidate> candidates) {
      for (Candidate c : candidates) {
        if (c.usable() && (TF32 || c.mathType() == CUDNN_FMA_MATH)) {
          return c;
        }
      }
      for (Candidate c : candidates) {
        if (c.usable()) {
          return c;
        }
      }
      throw new CudaException("cuDNN offers no " + direction + " algorithm for " + this + " that succeeds within a "
          + WORKSPACE_LIMIT + "-byte workspace; its heuristics listed " + candidates);
    }

    /** With TF32 allowed, the algorithm is run in the math type the heuristics chose it for; exact mode keeps FMA. */
    private void useMathType(cudnnConvolutionStruct conv, Candidate c) {
      if (TF32) {
        Cuda.checkCudnn("cudnnSetConvolutionMathType(" + this + ")", cudnn.cudnnSetConvolutionMathType(conv, c.mathType()));
      }
    }

    @Override
    public String toString() {
      return "conv2d [" + s.batch() + ", " + s.inChannels() + ", " + s.height() + ", " + s.width() + "] * ["
          + s.outChannels() + ", " + s.inChannels() + ", " + s.kernelH() + ", " + s.kernelW() + "] stride ("
          + s.strideH() + ", " + s.strideW() + ") padding (" + s.padH() + ", " + s.padW() + ")";
    }
  }

  /** One entry of a heuristic's list of algorithms. */
  private record Candidate(int algo, int status, long memory, int mathType) {
    boolean usable() {
      return status == CUDNN_STATUS_SUCCESS && memory <= WORKSPACE_LIMIT;
    }

    @Override
    public String toString() {
      return "algo " + algo + " (status " + status + ", " + memory + " bytes, math " + mathType + ")";
    }
  }

  /** The address of a workspace of at least {@code bytes}, grown as needed; 0 when none is needed. */
  private static synchronized long workspace(long bytes) {
    if (bytes == 0) {
      return 0;
    }
    if (workspace == null || workspace.bytes() < bytes) {
      if (workspace != null) {
        workspace.release(); // safe while queued calls still use it: reuse is ordered on the stream
      }
      workspace = Cuda.get().allocate((bytes + Float.BYTES - 1) / Float.BYTES);
    }
    return workspace.address();
  }

  // ---------------------------------------------------------------- helpers

  private static cudnnContext handle() {
    return Cuda.get().cudnn();
  }

  /** A packed NCHW float tensor descriptor. */
  private static cudnnTensorStruct tensor4d(int n, int c, int h, int w) {
    cudnnTensorStruct t = new cudnnTensorStruct();
    Cuda.checkCudnn("cudnnCreateTensorDescriptor", cudnn.cudnnCreateTensorDescriptor(t));
    // Tensor descriptors take the layout first and the data type second (filter descriptors the reverse).
    Cuda.checkCudnn("cudnnSetTensor4dDescriptor([" + n + ", " + c + ", " + h + ", " + w + "])",
        cudnn.cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
    return t;
  }

  /** A device address as a call argument; 0 becomes NULL (cuDNN's "not wanted"). */
  private static Pointer ptr(long address) {
    return address == 0 ? null : new DevicePointer(address);
  }

  private static Pointer beta(boolean accumulate) {
    return accumulate ? DeviceConstants.ONE : DeviceConstants.ZERO;
  }

  private static void zeroUnlessAccumulating(long address, long count, boolean accumulate) {
    if (address != 0 && !accumulate) {
      Cuda.get().zero(address, count);
    }
  }
}
