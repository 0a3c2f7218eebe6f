package dev.kiln.processor.gen;

import com.palantir.javapoet.AnnotationSpec;
import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.JavaFile;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.ParameterSpec;
import com.palantir.javapoet.ParameterizedTypeName;
import com.palantir.javapoet.TypeName;
import com.palantir.javapoet.TypeSpec;
import com.palantir.javapoet.TypeVariableName;
import dev.kiln.dsl.AdaptiveAvgPool1d;
import dev.kiln.dsl.AdaptiveAvgPool2d;
import dev.kiln.dsl.AvgPool1d;
import dev.kiln.dsl.AvgPool2d;
import dev.kiln.dsl.BatchNorm;
import dev.kiln.dsl.Conv1d;
import dev.kiln.dsl.Conv2d;
import dev.kiln.dsl.ConvTranspose2d;
import dev.kiln.dsl.Dropout;
import dev.kiln.dsl.Dropout2d;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.EmbeddingBag;
import dev.kiln.dsl.ELU;
import dev.kiln.dsl.GELU;
import dev.kiln.dsl.Hardtanh;
import dev.kiln.dsl.GroupNorm;
import dev.kiln.dsl.LayerNorm;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.LeakyReLU;
import dev.kiln.dsl.LogSoftmax;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.MaxPool1d;
import dev.kiln.dsl.MaxPool2d;
import dev.kiln.dsl.Recurrent;
import dev.kiln.dsl.SiLU;
import dev.kiln.dsl.Sigmoid;
import dev.kiln.dsl.Softmax;
import dev.kiln.dsl.Softplus;
import dev.kiln.dsl.Upsample;
import dev.kiln.processor.check.CheckedModel;
import dev.kiln.processor.ir.Arithmetic;
import dev.kiln.processor.ir.GroupNormOf;
import dev.kiln.processor.ir.Cat;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.InputsIr;
import dev.kiln.processor.ir.Compare;
import dev.kiln.processor.ir.MaskedFill;
import dev.kiln.processor.ir.ModelIr;
import dev.kiln.processor.ir.Narrow;
import dev.kiln.processor.ir.ConstantIds;
import dev.kiln.processor.ir.IdOp;
import dev.kiln.processor.ir.Cosine;
import dev.kiln.processor.ir.IndexMap;
import dev.kiln.processor.ir.InitialStates;
import dev.kiln.processor.ir.LineOp;
import dev.kiln.processor.ir.Normalize;
import dev.kiln.processor.ir.Pointwise;
import dev.kiln.processor.ir.PointwisePair;
import dev.kiln.processor.ir.Tile;
import dev.kiln.processor.ir.Split;
import dev.kiln.processor.ir.OutputsIr;
import dev.kiln.processor.ir.Reduce;
import dev.kiln.processor.ir.Reorder;
import dev.kiln.processor.ir.Repeat;
import dev.kiln.processor.ir.Scale;
import dev.kiln.processor.ir.Shift;
import dev.kiln.processor.ir.TensorIr;
import dev.kiln.runtime.Shapes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import javax.lang.model.element.Modifier;
import javax.lang.model.element.TypeElement;
import javax.lang.model.element.VariableElement;
import javax.lang.model.type.DeclaredType;
import javax.lang.model.util.ElementFilter;

/**
 * Pass 3: writes {@code Kiln<Name>} for a checked model: a {@code forward} of planned, fused
 * kernels over buffers allocated once per batch size, and a {@code Backward} node whose
 * {@code backward} accumulates parameter gradients directly ({@code +=}) and returns the input's.
 */
public final class Generator {
  static final ClassName TENSOR = ClassName.get("dev.kiln.runtime", "Tensor");
  static final ClassName NODE = ClassName.get("dev.kiln.runtime", "Node");
  static final ClassName COMPILED = ClassName.get("dev.kiln.runtime", "Compiled");
  static final ClassName DERIVED = COMPILED.nestedClass("Derived");
  static final ClassName OUTPUT_GRADIENTS = ClassName.get("dev.kiln.runtime", "OutputGradients");
  static final ClassName PLAN_CACHE = ClassName.get("dev.kiln.runtime", "PlanCache");
  static final ClassName BLAS = ClassName.get("dev.kiln.runtime.cpu", "Blas");
  static final ClassName KERNELS = ClassName.get("dev.kiln.runtime.cpu", "CpuKernels");
  static final ClassName MATH_KERNELS = ClassName.get("dev.kiln.runtime.cpu", "MathKernels");
  static final ClassName CONV = ClassName.get("dev.kiln.runtime.cpu", "ConvKernels");
  static final ClassName NORM = ClassName.get("dev.kiln.runtime.cpu", "NormKernels");
  static final ClassName ACTIVATIONS = ClassName.get("dev.kiln.runtime.cpu", "ActivationKernels");
  static final ClassName ARITHMETIC = ClassName.get("dev.kiln.runtime.cpu", "ArithmeticKernels");
  static final ClassName MATH = ClassName.get("dev.kiln.runtime.cpu", "MathKernels");
  static final ClassName PIECEWISE = ClassName.get("dev.kiln.runtime.cpu", "PiecewiseKernels");
  static final ClassName POINTWISE = ClassName.get("dev.kiln.runtime.cpu", "PointwiseKernels");
  static final ClassName POINTWISE_UNARY = ClassName.get("dev.kiln.runtime.cpu", "PointwiseKernels", "Unary");
  static final ClassName POINTWISE_BINARY = ClassName.get("dev.kiln.runtime.cpu", "PointwiseKernels", "Binary");
  static final ClassName INDEX = ClassName.get("dev.kiln.runtime.cpu", "IndexKernels");
  static final ClassName ID_KERNELS = ClassName.get("dev.kiln.runtime.cpu", "IdKernels");
  static final ClassName MASK_TEST = ClassName.get("dev.kiln.runtime.cpu", "MaskTest");
  static final ClassName WHERE_KERNELS = ClassName.get("dev.kiln.runtime.cpu", "WhereKernels");
  static final ClassName CONV_SHAPE = ClassName.get("dev.kiln.runtime.cpu", "Conv2dShape");
  static final ClassName POOL_SHAPE = ClassName.get("dev.kiln.runtime.cpu", "Pool2dShape");
  static final ClassName AVG_SHAPE = ClassName.get("dev.kiln.runtime.cpu", "AvgPool2dShape");
  static final ClassName RECURRENT_STACK = ClassName.get("dev.kiln.runtime.cpu", "RecurrentStack");
  static final ClassName RECURRENT_OUTPUT = ClassName.get("dev.kiln.dsl", "Recurrent", "Output");
  static final ClassName RECURRENT_MODE = ClassName.get("dev.kiln.runtime.cpu", "RecurrentKernels", "Mode");
  static final ClassName SLICES = ClassName.get("dev.kiln.runtime.cpu", "SliceKernels");
  static final ClassName SORT = ClassName.get("dev.kiln.runtime.cpu", "SortKernels");
  static final ClassName KILN = ClassName.get("dev.kiln.runtime", "Kiln");
  static final ClassName F = ClassName.get("dev.kiln.dsl", "F");
  static final ClassName CUDA_COMPILED = ClassName.get("dev.kiln.runtime", "CudaCompiled");
  static final ClassName CUDA_SOURCE = ClassName.get("dev.kiln.runtime", "CudaCompiled", "Source");
  static final ClassName MODULE = ClassName.get("dev.kiln.dsl", "Module");
  static final ClassName SEQUENTIAL = ClassName.get("dev.kiln.dsl", "Sequential");
  static final ClassName LINEAR = ClassName.get("dev.kiln.dsl", "Linear");
  static final ClassName GENERATED = ClassName.get("javax.annotation.processing", "Generated");
  static final TypeName FLOATS = ArrayTypeName.of(TypeName.FLOAT);
  static final TypeName DOUBLES = ArrayTypeName.of(TypeName.DOUBLE);

  /** Where a value's data lives: an array expression and an offset expression. */
  private record Ref(String array, String offset, boolean owned) {}

  /** The CUDA forward's locals of the values, while {@link #forwardCuda} writes it. */
  private Map<String, String> cudaLocals = Map.of();

  private final CheckedModel model;
  private final ModelIr ir;
  private final List<Kernel> kernels;
  private final String name;
  /**
   * Storage name of each value: the input is "in" (further inputs of a method of several inputs "in1", "in2", ...),
   * kernel outputs "a<k>", the final output "out".
   */
  private final Map<String, String> storage = new LinkedHashMap<>();
  private final Set<String> activationBuffers = new LinkedHashSet<>();
  private final Set<String> gradientBuffers = new LinkedHashSet<>();
  /** {@code "k:w"}: kernel k's backward adds the gradient of its w-th input to one a later step wrote. */
  private final Set<String> accumulating = new HashSet<>();
  /** Kernels of a split's pieces whose backward copies into its slice of the source's gradient ({@link #placedPieces}). */
  private final Set<Integer> placing = new HashSet<>();
  /** For a graph of several outputs, by kernel: the condition under which its backward runs ({@link #runConditions}). */
  private final Map<Integer, String> runIf = new HashMap<>();
  /**
   * For a graph of several inputs and several outputs, by input storage ("in", "in1", ...): the condition under which
   * it gets a gradient (an output it leads to received one), as eager mode's tape reaches it or not.
   */
  private final Map<String, String> inputReached = new HashMap<>();
  /** Storage of values whose gradient every reader adds, zeroed at the start of the backward (several outputs). */
  private final Set<String> zeroedGradients = new LinkedHashSet<>();
  /** Storage of the further inputs some kernel sends a gradient to (not those only read as a mask). */
  private final Set<String> inputGradients = new java.util.TreeSet<>(
      java.util.Comparator.comparingInt((String st) -> Integer.parseInt(st.substring(2))));
  /** The kernels (views too) in the order the backward runs them: eager's engine's order ({@link #backwardOrder()}). */
  private List<Integer> backwardOrder;
  /** Storage of values whose gradient some kernel adds through a scratch buffer ({@code t<storage>}). */
  private final Set<String> scratchBuffers = new LinkedHashSet<>();
  private final Map<String, Integer> sizes = new LinkedHashMap<>();
  /** The outputs method when this generator writes its graph (see "several outputs" below), else null. */
  private final OutputsIr outputs;
  /** The component forward returns when forward is {@code return outputsMethod(x).component();}, else -1. */
  private final int forwardReturns;

  /** Values of BN+ReLU kernels whose only reader is a max pooling, which then applies the ReLU's mask in its backward. */
  private final Set<String> maskedByPooling;
  /** Of those, the ones computed with their 2x2 pooling in one forward pass, mapped to the pooling kernel's index. */
  private final Map<String, Integer> pooledInOnePass;
  /** Each layer's name in generated code, by path ({@link #fieldNames}). */
  private final Map<String, String> fieldNames;
  /** Whether this graph is forward in one training mode, beside the other's ({@link #addModeMembers}). */
  private boolean modeGraph;

  /** The fields of the modules whose modes the class reads ({@link #modeChoice}), shared by the graphs that read them. */
  private Set<String> modeFields = new HashSet<>();

  private Generator(CheckedModel model, OutputsIr outputs, int forwardReturns) {
    this.model = model;
    this.ir = model.ir();
    this.outputs = outputs;
    this.forwardReturns = forwardReturns;
    Set<String> returned = outputs == null ? Set.of() : Set.copyOf(outputs.results());
    this.kernels = Planner.plan(model, returned);
    this.name = ir.generatedName();
    Planner.PoolFusion pooling = Planner.poolFusion(kernels, returned);
    this.maskedByPooling = pooling.maskedByPooling();
    this.pooledInOnePass = pooling.pooledInOnePass();
    this.fieldNames = fieldNames(ir);
    assignStorage();
  }

  /** The generated source file of a checked model. */
  public static JavaFile generate(CheckedModel model, String processorName) {
    return new Generator(model, null, -1).file(processorName);
  }

  private void assignStorage() {
    storage.put(ir.inputName(), "in");
    sizes.put("in", model.inputShape().length == 0 ? 1 : perSample(model.inputShape()));
    for (int j = 1; j <= ir.further().size(); j++) {
      storage.put(ir.further().get(j - 1).name(), "in" + j);
      sizes.put("in" + j, perSample(ir.further().get(j - 1).batchShape()));
    }
    int lastComputing = -1;
    for (int k = 0; k < kernels.size(); k++) {
      if (kernels.get(k).kind() != Kernel.Kind.VIEW) {
        lastComputing = k;
      }
    }
    for (int k = 0; k < kernels.size(); k++) {
      Kernel kernel = kernels.get(k);
      if (kernel.kind() == Kernel.Kind.VIEW) {
        storage.put(kernel.out(), storage.get(kernel.in()));
        continue;
      }
      String s = k == lastComputing ? "out" : "a" + (k + 1);
      storage.put(kernel.out(), s);
      sizes.put(s, kernel.outPerSample());
      if (!s.equals("out") && !pooledInOnePass.containsKey(kernel.out())) { // a pooled-in-one-pass map is never written
        activationBuffers.add(s);
      }
      for (String value : kernel.inputs()) {
        String in = storage.get(value);
        if (in != null && !isInput(in)) { // (a tensor field has no storage in the plan)
          gradientBuffers.add(in);
        }
      }
    }
    // A value several steps read gets its gradient from each: the step the backward reaches first
    // writes it, the others add theirs (through a scratch buffer where their kernel overwrites)
    Map<String, Integer> reads = new HashMap<>();
    kernels.stream().filter(k -> k.kind() != Kernel.Kind.VIEW)
        .forEach(k -> k.inputs().stream().filter(storage::containsKey).forEach(v -> reads.merge(storage.get(v), 1, Integer::sum)));
    String finalStorage = kernels.isEmpty() ? "in" : storage.get(kernels.get(kernels.size() - 1).out());
    // A method of several outputs over a graph (a value read twice, a head no step reads, or several inputs,
    // whose towers are branches however each value is read): a step runs only when an output it leads to
    // received a gradient (as eager mode, which never reaches the others' parameters), so every reader adds
    // its gradient, to one zeroed at the start
    boolean graphOutputs = outputs != null && (reads.values().stream().anyMatch(c -> c > 1) || !ir.further().isEmpty()
        || outputs.results().stream().map(storage::get).anyMatch(st -> !st.equals(finalStorage) && !reads.containsKey(st)));
    if (graphOutputs) {
      runConditions();
    }
    backwardOrder = backwardOrder();
    Set<String> written = new HashSet<>();
    for (int k : backwardOrder) {
      Kernel kernel = kernels.get(k);
      if (kernel.kind() == Kernel.Kind.VIEW) {
        continue;
      }
      for (int w : operandOrder(kernel)) {
        String in = storage.get(kernel.inputs().get(w));
        if (in == null || carriesNoGradient(kernel, w)) { // a tensor field: a parameter's gradient is added to its own
          continue;
        }
        if (isInput(in) && !in.equals("in")) {
          inputGradients.add(in);
        }
        if (graphOutputs && !isInput(in)) { // (dx starts zero)
          zeroedGradients.add(in);
        }
        if (!written.add(in) || graphOutputs) {
          accumulating.add(k + ":" + w);
          if (!addsItself(kernel)) {
            scratchBuffers.add(in);
          }
        }
      }
    }
    placedPieces();
    // A ReLU fused into a Linear at the very end masks the incoming gradient in place: it needs a
    // buffer of its own (batch norm applies the mask as it reads the gradient).
    if (lastComputing >= 0 && masksInPlace(kernels.get(lastComputing))) {
      gradientBuffers.add("out");
    }
    // Each output's gradient is added into the gradient of the value it returns; one no step reads
    // (a head beside others) starts from zero, since the loss may send it nothing while it sends
    // a later output something
    if (outputs != null) {
      outputs.results().stream().map(storage::get).filter(st -> !isInput(st)).forEach(gradientBuffers::add);
      if (graphOutputs) {
        outputs.results().stream().map(storage::get).filter(st -> !isInput(st)).forEach(zeroedGradients::add);
      }
    }
  }

  /**
   * The order the backward runs the kernels in (views too), that of eager mode's engine: the reverse of a depth-first
   * post-order from the output that goes down each step's inputs in index order ({@code Tensor.topologicalOrder}),
   * skipping the inputs a step sends no gradient to (a mask, ids), as eager's tape has no node there. A value read by
   * several steps then gets their gradients in eager's order, the order its sums round in: reverse program order
   * differs once three steps or more read one value ({@code (g3 + g1) + g2} against {@code (g3 + g2) + g1}). For
   * a graph of several outputs (whose steps run by which outputs received a gradient) it is reverse program order.
   */
  private List<Integer> backwardOrder() {
    List<Integer> program = new ArrayList<>();
    for (int k = kernels.size() - 1; k >= 0; k--) {
      program.add(k);
    }
    if (outputs != null || kernels.isEmpty()) {
      return program;
    }
    Map<String, Integer> producer = new HashMap<>();
    for (int k = 0; k < kernels.size(); k++) {
      producer.put(kernels.get(k).out(), k);
    }
    List<Integer> post = new ArrayList<>();
    Set<Integer> visited = new HashSet<>();
    ArrayDeque<int[]> stack = new ArrayDeque<>(); // {kernel, next input}
    int root = kernels.size() - 1;
    stack.push(new int[] {root, 0});
    visited.add(root);
    while (!stack.isEmpty()) {
      int[] frame = stack.peek();
      Kernel k = kernels.get(frame[0]);
      if (frame[1] < k.inputs().size()) {
        int w = frame[1]++;
        Integer in = producer.get(k.inputs().get(w));
        if (in != null && in < frame[0] && !carriesNoGradient(k, w) && visited.add(in)) {
          stack.push(new int[] {in, 0});
        }
      } else {
        post.add(stack.pop()[0]);
      }
    }
    Collections.reverse(post);
    // the steps no gradient reaches (a comparison, an argmax: eager's tape has no node there) have no backward; each
    // goes where reverse program order has it, before the first step below it
    Deque<Integer> unreached = new ArrayDeque<>();
    for (int k : program) {
      if (!visited.contains(k)) {
        if (kernels.get(k).kind() != Kernel.Kind.VIEW && !sendsNoGradient(kernels.get(k))) {
          return program; // (a step the output does not lead to otherwise: none is planned, but keep the order sound)
        }
        unreached.add(k);
      }
    }
    List<Integer> order = new ArrayList<>();
    for (int k : post) {
      while (!unreached.isEmpty() && unreached.peek() > k) {
        order.add(unreached.poll());
      }
      order.add(k);
    }
    order.addAll(unreached);
    return order;
  }

  /** Whether a kernel's backward has nothing to do: a comparison, a where's expanded mask, an argmax or ids' arithmetic. */
  private static boolean sendsNoGradient(Kernel k) {
    return k.kind() == Kernel.Kind.COMPARE || Planner.expandsWhereMask(k) || isArgmax(k);
  }

  /**
   * The pieces of one split whose backward copies its gradient into its slice of the source's instead of adding
   * it (or writing zeros around it): those the backward reaches after another piece of the same split when nothing
   * else wrote the source's gradient, or every piece when forward reads them all and nothing else reads the source.
   * The first piece wrote zeros around its slice (unless the pieces cover it all), and the slices do not overlap,
   * so each value is the piece's gradient itself, bit for bit eager mode's (which places the pieces' gradients into
   * zeros); an add would turn a -0 into 0.
   */
  private void placedPieces() {
    Map<String, List<Integer>> writers = new LinkedHashMap<>(); // by storage: the kernels that write its gradient, first reached first
    for (int k : backwardOrder) {
      Kernel kernel = kernels.get(k);
      for (int w = 0; kernel.kind() != Kernel.Kind.VIEW && w < kernel.inputs().size(); w++) {
        String in = storage.get(kernel.inputs().get(w));
        if (in != null && !carriesNoGradient(kernel, w)) {
          writers.computeIfAbsent(in, st -> new ArrayList<>()).add(k);
        }
      }
    }
    for (List<Integer> ks : writers.values()) {
      List<Object> splits = ks.stream().map(k -> kernels.get(k).spec() instanceof Split.Piece piece ? piece.split() : (Object) k).toList();
      Kernel first = kernels.get(ks.get(0));
      boolean covered = first.spec() instanceof Split.Piece piece && splits.stream().allMatch(piece.split()::equals)
          && ks.size() == piece.split().lengths(first.inShape()).length; // (each piece read is one step)
      for (int i = 0; i < ks.size(); i++) {
        if (covered || i > 0 && splits.get(i) instanceof Split && splits.subList(0, i).stream().allMatch(splits.get(i)::equals)) {
          placing.add(ks.get(i));
        }
      }
    }
  }

  /**
   * {@code  || !(outputGrads[0] != null)}: with several inputs and several outputs, an input no output it leads to
   * received a gradient for gets none (null), as eager mode's tape never reaches it; empty otherwise.
   */
  private String reachedOrNot(String input) {
    String reached = inputReached.get(input);
    return reached == null ? "" : " || !(" + reached + ")";
  }

  /** Whether a storage is an input's: "in", or a further input's "in1", "in2", ... */
  private static boolean isInput(String storage) {
    return storage.equals("in") || storage.matches("in\\d+");
  }

  /** The gradient of an input's storage in the backward: {@code dx}, {@code dx1}, ... */
  private static String inputGradient(String storage) {
    return "dx" + storage.substring(2);
  }

  /** Whether a kernel's input {@code w} gets no gradient from it: a masked fill's mask input, an embedding's ids, a comparison's. */
  private static boolean carriesNoGradient(Kernel k, int w) {
    return k.kind() == Kernel.Kind.MASKED_FILL && w == 1 || k.kind() == Kernel.Kind.EMBEDDING || k.kind() == Kernel.Kind.COMPARE
        || k.kind() == Kernel.Kind.WHERE && w == 2 || Planner.expandsWhereMask(k) || isArgmax(k);
  }

  /** Whether {@code k} is an argmax or argmin ({@code x.argmax(-1)}, {@code x.argmin(-1)}): ids, which take no gradient back to the values. */
  static boolean isArgmax(Kernel k) {
    return k.kind() == Kernel.Kind.LINE && ((LineOp) k.spec()).makesIds() || k.kind() == Kernel.Kind.IDS; // (ids.add(1): ids too)
  }

  /**
   * For a graph of several outputs: each kernel's backward runs when one of the outputs its value
   * leads to received a gradient ({@code outputGrads[i] != null}), found backwards from the results.
   */
  private void runConditions() {
    Map<String, Set<Integer>> reach = new HashMap<>();
    for (int i = 0; i < outputs.results().size(); i++) {
      reach.computeIfAbsent(outputs.results().get(i), v -> new java.util.TreeSet<>()).add(i);
    }
    for (int k = kernels.size() - 1; k >= 0; k--) {
      Set<Integer> leads = reach.getOrDefault(kernels.get(k).out(), Set.of());
      runIf.put(k, leads.stream().map(i -> "outputGrads[" + i + "] != null").collect(Collectors.joining(" || ")));
      for (String v : kernels.get(k).inputs()) {
        reach.computeIfAbsent(v, x -> new java.util.TreeSet<>()).addAll(leads);
      }
    }
    if (!ir.further().isEmpty()) {
      List<String> inputs = new ArrayList<>(List.of(ir.inputName()));
      ir.further().forEach(f -> inputs.add(f.name()));
      for (String input : inputs) {
        Set<Integer> leads = new java.util.TreeSet<>(reach.getOrDefault(input, Set.of()));
        // (through views: a reshaped input is the input)
        kernels.stream().filter(k -> k.kind() == Kernel.Kind.VIEW && storage.get(k.out()).equals(storage.get(input)))
            .forEach(k -> leads.addAll(reach.getOrDefault(k.out(), Set.of())));
        inputReached.put(storage.get(input), leads.isEmpty() ? "false"
            : leads.stream().map(i -> "outputGrads[" + i + "] != null").collect(Collectors.joining(" || ")));
      }
    }
  }

  /**
   * Whether the kernel's backward can add its input's gradient to one already there (a GEMM with
   * beta 1, an add's or a cat's copy turned into a sum); the others write theirs into a scratch
   * buffer, which is then added.
   */
  private static boolean addsItself(Kernel k) {
    return k.kind() == Kernel.Kind.LINEAR || k.arithmetic() || k.kind() == Kernel.Kind.SHIFT || k.kind() == Kernel.Kind.REDUCE
        || k.kind() == Kernel.Kind.CAT || k.kind() == Kernel.Kind.MATMUL || k.kind() == Kernel.Kind.PERMUTE
        || k.kind() == Kernel.Kind.SCALE || k.kind() == Kernel.Kind.MASKED_FILL || k.kind() == Kernel.Kind.EMBEDDING
        || k.kind() == Kernel.Kind.RECURRENT || k.kind() == Kernel.Kind.SLICE || k.kind() == Kernel.Kind.COSINE
        || k.kind() == Kernel.Kind.WHERE || k.kind() == Kernel.Kind.POINTWISE_PAIR;
  }

  /** Whether the kernel's backward applies its fused ReLU's mask to the incoming gradient in place. */
  private static boolean masksInPlace(Kernel k) {
    return k.relu() && k.kind() == Kernel.Kind.LINEAR;
  }

  private JavaFile file(String processorName) {
    Generator several = model.outputs() == null ? null : new Generator(model.outputs(), ir.outputs(), ir.forwardReturns());
    Generator inputs = model.inputs() == null ? null : new Generator(model.inputs(), ir.inputs().outputs(), -1);
    Generator evaluation = model.evaluation() == null ? null : new Generator(model.evaluation(), null, -1);
    // a method beside forward that reads the training mode: its graph in evaluation beside (MethodModes)
    Generator severalEvaluation = several == null || model.outputs().evaluation() == null ? null
        : new Generator(model.outputs().evaluation(), ir.outputs().modes().evaluation(), -1);
    Generator inputsEvaluation = inputs == null || model.inputs().evaluation() == null ? null
        : new Generator(model.inputs().evaluation(), ir.inputs().modes().evaluation().outputs(), -1);
    TypeSpec.Builder type = TypeSpec.classBuilder(name)
        .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
        .addOriginatingElement(ir.element())
        .addAnnotation(AnnotationSpec.builder(GENERATED).addMember("value", "$S", processorName).build())
        .addJavadoc("Compiled form of {@link $L}: forward and backward as planned, fused kernels over buffers\n"
                + "kept per batch size ({@link $T}). Same parameters (and state dict keys) as the eager model.\n"
                + "<p>Generated by Kiln from $L; do not edit. On the CPU, inference may run on several threads at once;\n"
                + "training is one forward and its backward at a time, as on the eager model.\n",
            javadocTarget(), PLAN_CACHE, ir.source().where());
    ClassName declared = ClassName.get(ir.packageName(), ir.declaringType().split("\\.")[0],
        Arrays.copyOfRange(ir.declaringType().split("\\."), 1, ir.declaringType().split("\\.").length));
    // a generic model class's type variables carry over: KilnNet<T> extends Net<T>, not the raw type
    type.addTypeVariables(typeVariables());
    type.superclass(ir.form() == ModelIr.Form.CLASS ? parameterized(declared) : MODULE);
    if (ir.form() == ModelIr.Form.CLASS) {
      // A field of the model named like a type the generated code uses (Compiled, Tensor) would
      // obscure it in expressions (Compiled.onCuda(...)): such types are written fully qualified.
      type.alwaysQualify(inheritedFieldNames((TypeElement) ir.element()).toArray(new String[0]));
    }

    List<LayerIr> layers = new ArrayList<>(fieldLayers());
    if (several != null) {
      layers.addAll(several.fieldLayers());
    }
    if (inputs != null) {
      layers.addAll(inputs.fieldLayers());
    }
    if (evaluation != null) {
      layers.addAll(evaluation.fieldLayers());
    }
    for (Generator g : java.util.Arrays.asList(severalEvaluation, inputsEvaluation)) {
      if (g != null) {
        layers.addAll(g.fieldLayers());
      }
    }
    addLayerFields(type, declared, layers);
    type.addMethod(declaredInputShape());
    if (ir.takesIds()) {
      type.addMethod(MethodSpec.methodBuilder("declaredInputIsIds")
          .addJavadoc("The input is token ids (an Embedding applied to it): {@code summary()} feeds ids.\n")
          .addAnnotation(Override.class)
          .addModifiers(Modifier.PROTECTED)
          .returns(boolean.class)
          .addStatement("return true")
          .build());
    }
    addSelfTypedOverrides(type);
    if (several != null) {
      several.modeFields = modeFields;
      several.addOutputsMembers(type, severalEvaluation);
    }
    if (inputs != null) {
      inputs.modeFields = modeFields;
      inputs.addInputsMembers(type, inputsEvaluation);
    }
    if (ir.forwardDelegates()) {
      return JavaFile.builder(ir.packageName(), type.build()).skipJavaLangImports(true).indent("  ").build();
    }
    if (evaluation != null) {
      addModeMembers(type, evaluation);
      return JavaFile.builder(ir.packageName(), type.build()).skipJavaLangImports(true).indent("  ").build();
    }
    addFusedMembers(type, name);
    return JavaFile.builder(ir.packageName(), type.build()).skipJavaLangImports(true).indent("  ").build();
  }

  /**
   * What a fused graph adds to the class that holds it: its plans, the fused forward (or outputs
   * method), its CUDA form, the plan and backward types and, when some step has generated kernels,
   * the CUDA source (named {@code sourceName} in NVRTC's and the kernels' messages).
   */
  private void addFusedMembers(TypeSpec.Builder type, String sourceName) {
    String cuda = cudaSource();
    type.addField(plansField())
        .addMethod(forward())
        .addMethod(forwardCuda(cuda != null))
        .addType(plan())
        .addType(backward());
    if (cuda != null) {
      type.addType(cudaCode(sourceName, cuda));
    }
  }

  private static FieldSpec plansField() {
    return FieldSpec.builder(ParameterizedTypeName.get(PLAN_CACHE, ClassName.get("", "Plan")), "plans", Modifier.PRIVATE, Modifier.FINAL)
        .initializer("new $T<>(Plan::new)", PLAN_CACHE).build();
  }

  private String javadocTarget() {
    return ir.form() == ModelIr.Form.CLASS ? ir.declaringType() : ir.declaringType() + "#" + ir.factoryMethod() + "()";
  }

  // ------------------------------------------------------------------ layers

  private List<LayerIr> parameterLayers() {
    return kernels.stream()
        .filter(Kernel::hasParameters)
        .map(Kernel::layer).collect(Collectors.toList());
  }

  /** The layers generated code reads: those with parameters, and dropouts (for their train()/eval() mode). */
  private List<LayerIr> fieldLayers() {
    return kernels.stream()
        .filter(k -> k.hasParameters() || k.kind() == Kernel.Kind.DROPOUT && k.layer() != null)
        .map(Kernel::layer).collect(Collectors.toList());
  }

  /**
   * {@code fc1.weight(), fc1.bias(), ..., pos}: every parameter the fused code reads, in layer order,
   * then the tensor fields that are parameters; each once, though a layer may be applied several times
   * (a siamese tower applied to both inputs).
   */
  private List<String> parameterExpressions() {
    List<String> params = new ArrayList<>();
    for (LayerIr layer : parameterLayers()) {
      params.addAll(parametersOf(layer));
    }
    for (TensorIr t : tensorsRead()) {
      if (t.isParameter()) {
        params.add(tensorField(t));
      }
    }
    return params.stream().distinct().toList();
  }

  /**
   * A tensor forward computes from a buffer ({@link TensorIr#derived}: {@code bias.narrow(2, 0, 4).narrow(3, 0, 4)}), or a
   * parameter's {@link TensorIr#isGathered} region (runs at a stride, {@code pos.narrow(2, 0, 4)}, whose gradient goes back
   * by {@link #scatterFieldGradient}): a {@code Compiled.Derived} of the eager calls, and the method {@code computed_bias()}
   * ({@code gathered_pos()}) that every read calls, which computes them again only when the buffer (the parameter: an
   * optimizer's step) was written, moved or replaced since.
   */
  private void computedTensor(TypeSpec.Builder type, TensorIr t) {
    String method = readExpression(t).substring(0, readExpression(t).length() - 2);
    String cache = method + "_cache";
    if (t.isWhere()) {
      whereOfBuffers(type, t, method, cache);
      return;
    }
    type.addField(FieldSpec.builder(DERIVED, cache, Modifier.PRIVATE, Modifier.FINAL, Modifier.TRANSIENT)
        .initializer("new $T(t -> t$L)", DERIVED, t.derived().calls()).build());
    type.addMethod(MethodSpec.methodBuilder(method).addModifiers(Modifier.PRIVATE).returns(TENSOR)
        .addJavadoc("{@code $L$L} $L, as eager mode computes it, kept while the $L is unchanged.\n", t.derived().of(),
            t.derived().calls(), Shapes.toString(t.shape()), t.isParameter() ? "parameter" : "buffer")
        .addStatement("return $L.of($L)", cache, fieldNames.get(TensorIr.valueName(t.derived().of()))).build());
  }

  /**
   * A where of buffers alone ({@link TensorIr#where}): a {@code Compiled.Computed} of eager's {@code Tensor.where} over the
   * operands as generated code reads them, and the method {@code computed_where()} that every read calls, which computes
   * it again only when one of the buffers they come from was written, moved or replaced since.
   */
  private void whereOfBuffers(TypeSpec.Builder type, TensorIr t, String method, String cache) {
    List<TensorIr> operands = t.derived().where().stream().map(ir::tensor).toList();
    String reads = operands.stream().map(this::readExpression).collect(Collectors.joining(", "));
    String roots = operands.stream().map(o -> o.isDerived() ? fieldNames.get(TensorIr.valueName(o.derived().of())) : tensorField(o))
        .collect(Collectors.joining(", "));
    type.addField(FieldSpec.builder(COMPILED.nestedClass("Computed"), cache, Modifier.PRIVATE, Modifier.FINAL, Modifier.TRANSIENT)
        .initializer("new $T(() -> $T.where($L))", COMPILED.nestedClass("Computed"), TENSOR, reads).build());
    type.addMethod(MethodSpec.methodBuilder(method).addModifiers(Modifier.PRIVATE).returns(TENSOR)
        .addJavadoc("{@code $L} $L, as eager mode computes it, kept while the buffers are unchanged.\n", t.field(),
            Shapes.toString(t.shape()))
        .addStatement("return $L.of($L)", cache, roots).build());
  }

  /** Prefixes a gathered region's value in {@link #fieldNames} for the method that reads it ({@link #readExpression}). */
  private static final String GATHERED = "gathered ";

  /** The expression reading a tensor field's values: {@link #tensorField}, or a gathered region's {@code gathered_pos()}. */
  private String readExpression(TensorIr t) {
    return t.isGathered() ? fieldNames.get(GATHERED + t.value()) : tensorField(t);
  }

  /**
   * Declares {@code local}, the buffer a parameter field's gradient is added into from {@link #gradOffset} (null when it is
   * not needed): the parameter's gradient buffer, or for a {@link TensorIr#isGathered} region a zeroed one of its own size
   * ({@code localP} the parameter's), which {@link #scatterFieldGradient} adds to the parameter's runs.
   */
  private void declareFieldGradient(CodeBlock.Builder b, String local, TensorIr field) {
    String f = tensorField(field);
    if (field.isWhere()) { // a where of fields with a parameter: its own gradient, returned for eager's where backward
      b.addStatement("float[] $L = $L ? new float[$L] : null", local, recordedNeed(f), Shapes.numel(field.shape()));
      return;
    }
    if (!field.isGathered()) {
      b.addStatement("float[] $L = $T.gradBuffer($L, $L)", local, COMPILED, f, recordedNeed(f));
      return;
    }
    b.addStatement("float[] $LP = $T.gradBuffer($L, $L)", local, COMPILED, f, recordedNeed(f))
        .addStatement("float[] $L = $LP == null ? null : new float[$L]", local, local, Shapes.numel(field.shape()));
  }

  /**
   * After the kernels that added a gathered region's gradient into {@code local} ({@link #declareFieldGradient}): that
   * gradient added to the parameter's at the region's runs, as eager's narrow backward places it and its engine adds it;
   * nothing for another field.
   */
  private void scatterFieldGradient(CodeBlock.Builder b, String local, TensorIr field) {
    scatterFieldGradient(b, local, field, "true");
  }

  /** As {@link #scatterFieldGradient(CodeBlock.Builder, String, TensorIr)}, adding where {@code adds} (generated code) holds, else writing. */
  private void scatterFieldGradient(CodeBlock.Builder b, String local, TensorIr field, String adds) {
    if (field.isWhere()) { // summed with its other readers' into the gradient backward returns for it (whereGradient)
      b.addStatement("$L = $T.sumGradients($L, $L)", whereGradient(field), COMPILED, whereGradient(field), local);
    } else if (field.isGathered() && field.derived().runs().grouped()) { // runs at several strides: each level's count and pitch
      TensorIr.Runs r = field.derived().runs();
      int[] g = r.groups();
      String counts = IntStream.range(0, g.length / 2).mapToObj(l -> g[2 * l] + ", ").collect(Collectors.joining()) + r.count();
      String pitches = IntStream.range(0, g.length / 2).mapToObj(l -> g[2 * l + 1] + ", ").collect(Collectors.joining()) + r.pitch();
      b.addStatement("$T.runsBackward($LP, $L, $L, new int[] {$L}, new int[] {$L}, $L, $L)", SLICES, local, local,
          field.derived().offset(), counts, pitches, r.width(), adds);
    } else if (field.isGathered()) {
      TensorIr.Runs r = field.derived().runs();
      b.addStatement("$T.narrowBackward($LP, 0, $L, 0, $L, $L, $L, $L, $L)", SLICES, local, local, r.count(), r.pitch(),
          field.derived().offset(), r.width(), adds);
    }
  }

  /**
   * Declares {@code <local>Adds}, whether a parameter field's gradient is added to one the parameter has or written where
   * it has none yet (before {@link #fieldGradient} makes it): eager's engine takes a parameter's first gradient as it is,
   * so a sum that is -0 stays -0 (a field subtracted where nothing after reads it: {@code -(+0)}), where an add into the
   * zeros made for it would give +0. Returns the accumulate argument of the kernel that sums the field's gradient: that
   * boolean, or false into a gathered region's own fresh array (the boolean then goes to its scatter).
   */
  private String declareFieldAdds(CodeBlock.Builder b, String local, TensorIr field) {
    if (field.isWhere()) { // (its own fresh gradient)
      return "false";
    }
    b.addStatement("boolean $LAdds = $L.grad() != null", local, tensorField(field));
    return field.isGathered() ? "false" : local + "Adds";
  }

  /** The gradient buffer of a parameter field, for a kernel that adds into it from {@link #gradOffset}: declared first when gathered. */
  private CodeBlock fieldGradient(CodeBlock.Builder b, String local, TensorIr field) {
    if (field.isGathered() || field.isWhere()) {
      declareFieldGradient(b, local, field);
      return CodeBlock.of("$L", local);
    }
    String f = tensorField(field);
    return CodeBlock.of("$T.gradBuffer($L, $L)", COMPILED, f, recordedNeed(f));
  }

  /** The tensor fields this graph's kernels read (a position table, a mask), in the order the model lists them. */
  private List<TensorIr> tensorsRead() {
    Set<String> read = new HashSet<>();
    for (Kernel k : kernels) {
      read.addAll(k.inputs());
      if (k.spec() instanceof MaskedFill m && !m.byValue()) {
        read.add(TensorIr.valueName(m.mask()));
      }
    }
    return ir.tensors().stream().filter(t -> read.contains(t.value())).toList();
  }

  /** The expression naming a tensor field in generated code: the user's field, or a field of our own ({@link #fieldNames}). */
  private String tensorField(TensorIr t) {
    return fieldNames.get(t.value());
  }

  /**
   * Where a tensor field's values start in its buffer: {@code pos.offset()}, and for a parameter's {@link TensorIr#region}
   * ({@code pos.narrow(1, 0, 6)}, read in place) the run's start after it, {@code pos.offset() + 48}.
   */
  private String fieldOffset(TensorIr t) {
    return readExpression(t) + ".offset()" + (t.isRegion() && !t.isGathered() && t.derived().offset() != 0 ? " + " + t.derived().offset() : "");
  }

  /**
   * Where a parameter field's gradient starts in the buffer {@link #declareFieldGradient} declares: 0, or a contiguous {@link
   * TensorIr#region}'s start in the parameter's.
   */
  private static String gradOffset(TensorIr t) {
    return t.isRegion() && !t.isGathered() ? String.valueOf(t.derived().offset()) : "0";
  }

  /**
   * A tensor field as a GEMM operand: the tensor itself ({@code pos}, read in its native copy), or for a {@link
   * TensorIr#region} its buffer and start ({@code pos.readBuffer(), pos.offset() + 48}).
   */
  private String gemmOperand(TensorIr t) {
    return t.isRegion() ? readExpression(t) + ".readBuffer(), " + fieldOffset(t) : tensorField(t);
  }

  /** A tensor field as eager code reads it (the CUDA path): {@code pos}, {@code computed_bias()}, {@code pos.narrow(1, 0, 6)}. */
  private String fieldExpression(TensorIr t) {
    return t.isRegion() ? tensorField(t) + t.derived().calls() : t.isWhere() && t.isParameter() ? nodeInput(tensorField(t))
        : tensorField(t);
  }

  /**
   * A backward node's input as the forward passes it: the parameter expression itself, or for a where of fields with a
   * parameter ({@code computed_where()}, read by the kernels without a graph) eager's {@code Tensor.where} of them, on the
   * tape, whose gradient the backward returns so that eager's engine runs the where's backward into the parameters.
   */
  private String nodeInput(String parameter) {
    TensorIr t = ir.tensors().stream().filter(o -> o.isWhere() && o.isParameter() && tensorField(o).equals(parameter)).findFirst()
        .orElse(null);
    return t == null ? parameter : "Tensor.where(" + t.derived().where().stream().map(ir::tensor).map(this::readExpression)
        .collect(Collectors.joining(", ")) + ")";
  }

  /**
   * What tells whether a forward records for a backward node's input ({@code Compiled.recording}): the input itself, or for
   * a where of fields with a parameter the parameters it is computed from (its node input requires grad when they do).
   */
  private String recordingInput(String parameter) {
    TensorIr t = ir.tensors().stream().filter(o -> o.isWhere() && o.isParameter() && tensorField(o).equals(parameter)).findFirst()
        .orElse(null);
    return t == null ? parameter : t.derived().where().stream().map(ir::tensor).filter(TensorIr::isParameter).map(this::tensorField)
        .collect(Collectors.joining(", "));
  }

  /** The backward's local summing a where of fields' gradient over its readers ({@code computed_whereGrad}). */
  private String whereGradient(TensorIr t) {
    return whereLocal(t, "Grad");
  }

  /** A local of generated code about a where of fields: {@code computed_where} and {@code suffix}. */
  private String whereLocal(TensorIr t, String suffix) {
    return readExpression(t).substring(0, readExpression(t).length() - 2) + suffix;
  }

  /** The wheres of fields with a parameter among the tensors the kernels read, whose gradients backward returns. */
  private List<TensorIr> parameterWheres() {
    return tensorsRead().stream().filter(t -> t.isWhere() && t.isParameter()).toList();
  }

  /**
   * Returns the backward's gradients from {@code array} ({@code grads}), or from a new array of {@code size} when {@code
   * array} is null (an early return): with a where of fields with a parameter, its summed gradient in its node input's
   * slot first.
   */
  private void returnGradients(CodeBlock.Builder b, String array, int size) {
    if (parameterWheres().isEmpty()) {
      b.addStatement(array == null ? CodeBlock.of("return new $T[$L]", TENSOR, size) : CodeBlock.of("return $L", array));
      return;
    }
    String into = array == null ? "early" : array;
    if (array == null) {
      b.addStatement("$T[] early = new $T[$L]", TENSOR, TENSOR, size);
    }
    for (TensorIr t : parameterWheres()) {
      int slot = parameterExpressions().indexOf(tensorField(t)) + 1 + ir.further().size();
      b.addStatement("$L[$L] = $L == null ? null : $T.wrap($L, $L)", into, slot, whereGradient(t), TENSOR, whereGradient(t),
          joined(t.shape()));
    }
    b.addStatement("return $L", into);
  }

  /** The tensor field an ADD, SUB, MUL or DIV repeats over the batch, or a MATMUL multiplies every row by; else null. */
  private TensorIr fieldOperand(Kernel k) {
    return k.overBatch() || k.byField() || k.kind() == Kernel.Kind.COSINE && Cosine.isField(k.inShapes().get(1))
        ? ir.tensor(k.inputs().get(1)) : null;
  }

  /** {@code fc1.weight()} and {@code fc1.bias()}, each where the layer has it (none for BatchNorm without affine). */
  private List<String> parametersOf(LayerIr layer) {
    String f = layerField(layer);
    if (layer.spec() instanceof Recurrent.Spec r) { // PyTorch's order: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ...
      List<String> out = new ArrayList<>();
      for (int l = 0; l < r.numLayers(); l++) {
        for (int d = 0; d < r.directions(); d++) {
          out.addAll(List.of(f + ".weightIh(" + l + ", " + d + ")", f + ".weightHh(" + l + ", " + d + ")"));
          if (r.bias()) {
            out.addAll(List.of(f + ".biasIh(" + l + ", " + d + ")", f + ".biasHh(" + l + ", " + d + ")"));
          }
        }
      }
      return out;
    }
    if (layer.spec() instanceof GroupNorm.Options g) { // GroupNorm, InstanceNorm2d: both or neither
      return g.affine() ? List.of(f + ".weight()", f + ".bias()") : List.of();
    }
    boolean weight = layer.spec() instanceof BatchNorm.Options o ? o.affine()
        : !(layer.spec() instanceof LayerNorm.Spec n) || n.elementwiseAffine();
    boolean bias = layer.spec() instanceof Linear.Spec l ? l.bias()
        : layer.spec() instanceof Conv2d.Spec c ? c.bias()
        : layer.spec() instanceof Conv1d.Spec c ? c.bias()
        : layer.spec() instanceof ConvTranspose2d.Spec t ? t.bias()
        : layer.spec() instanceof LayerNorm.Spec n ? n.elementwiseAffine()
        : !ModelIr.looksUp(layer.spec()) && ((BatchNorm.Options) layer.spec()).affine();
    List<String> out = new ArrayList<>();
    if (weight) {
      out.add(f + ".weight()");
    }
    if (bias) {
      out.add(f + ".bias()");
    }
    return out;
  }

  /**
   * {@code boolean[] training}: each batch norm's and dropout's own mode, by step number (PyTorch's
   * {@code self.training} of that module: {@code model.eval(); model.drop.train()} keeps that
   * dropout on), read once per forward and handed to its backward.
   */
  private void declareTrainingFlags(CodeBlock.Builder b) {
    if (!usesTrainingMode()) {
      return;
    }
    b.add("// each batch norm's and dropout's own train()/eval() mode, by step\n")
        .addStatement("boolean[] training = new boolean[$L]", kernels.size() + 1);
    for (int j = 0; j < kernels.size(); j++) {
      Kernel k = kernels.get(j);
      if (k.kind() == Kernel.Kind.BATCHNORM || k.kind() == Kernel.Kind.DROPOUT || dropsBetweenLayers(k)) {
        // (F.dropout(x, p, isTraining()) in training has no layer: it drops, as eager's call in that mode)
        b.addStatement("training[$L] = $L", j + 1, k.layer() == null ? "true" : layerField(k.layer()) + ".isTraining()");
      }
    }
  }

  private boolean usesTrainingMode() {
    return kernels.stream().anyMatch(k -> k.kind() == Kernel.Kind.BATCHNORM || k.kind() == Kernel.Kind.DROPOUT || dropsBetweenLayers(k));
  }

  /** A recurrent step's arguments after its input's when it starts from initial states ({@code , init, off}), else none. */
  private String initialStatesArgs(Kernel k, Map<String, Ref> refs) {
    if (!k.initialStates()) {
      return "";
    }
    Ref init = ref(k.inputs().get(1), refs);
    return ", " + init.array + ", " + init.offset;
  }

  /**
   * A recurrent step's arguments after its output's gradient when it starts from initial states: where the states'
   * gradient goes ({@code , dInit, off, accumulate}; a further input's gradient, or the value's, null when not needed),
   * else none; the gradient is then the value's in {@code grads}. {@code i} is the step's index.
   */
  private String initialStatesGradient(Kernel k, int i, Map<String, Ref> grads) {
    if (!k.initialStates()) {
      return "";
    }
    String st = storage.get(k.inputs().get(1));
    String array = isInput(st) ? inputGradient(st) : i > 0 ? "dIn" + i + "_1" : "p.d" + st;
    grads.put(st, new Ref(array, "0", true));
    return ", " + array + ", 0, " + accumulating.contains(i + ":1");
  }

  /**
   * A recurrent step given one initial state and zeros for the other ({@link InitialStates#only}): its stack reads that
   * one alone ({@code RecurrentStack.onlyInitial}).
   */
  private static void onlyInitial(MethodSpec.Builder ctor, Kernel k, int j) {
    if (k.spec() instanceof InitialStates s && s.only() >= 0) {
      ctor.addStatement("this.rnn$L.onlyInitial($L)", j, s.only());
    }
  }

  /** Whether a step is a recurrent layer with dropout between its layers (in training). */
  private static boolean dropsBetweenLayers(Kernel k) {
    return k.kind() == Kernel.Kind.RECURRENT && k.recurrent().dropout() > 0 && k.recurrent().numLayers() > 1;
  }

  /** The dsl class of a layer: its spec record is nested in it. */
  private static ClassName layerClass(LayerIr layer) {
    if (layer.spec() instanceof Recurrent.Spec r) { // the spec of LSTM, GRU and RNN is their base class's
      return ClassName.get("dev.kiln.dsl", r.mode().startsWith("RNN") ? "RNN" : r.mode());
    }
    return ClassName.get(layer.spec().getClass().getEnclosingClass());
  }

  /** Names of the generated class's own fields, which a field for a layer must not take. */
  private static final Set<String> OWN_FIELDS = Set.of("eager", "plans");

  /**
   * Names the generated methods declare (parameters, locals, the Backward class's fields): a user's
   * layer field of such a name would be shadowed there, so the generated code refers to it through
   * a field of its own ({@code layer_out}). CUDA locals ({@code v3}) and outputs' values
   * ({@code hiddenValues}) are matched by pattern.
   */
  private static final Set<String> GENERATED_NAMES = Set.of("x", "n", "p", "in", "inOff", "out", "dx", "g", "values",
      "training", "recording", "flowing", "outputs", "outputGrads", "one", "grads", "outputGradients", "model", "anchor",
      "all", "plans", "eager", "generation");

  /**
   * The expression naming a layer in generated code: the user's field, or a field of our own
   * ({@code layer1} for child "1", {@code features_0}, {@code layer_out} for a name the generated
   * code declares itself); see {@link #fieldNames}.
   */
  private String layerField(LayerIr layer) {
    return fieldNames.get(layer.path());
  }

  /**
   * Each layer's name in generated code, by path, the same for the forward and the outputs graph
   * (both are built from the declaration). A top-level field of a {@code @Model} class keeps its
   * name where generated code can use it ({@link #referable}); every other layer gets a field of the
   * class's own, whose name clashes with none of the user's fields, no other layer's and nothing the
   * generated methods declare (a {@code _} is appended until it is free).
   */
  private static Map<String, String> fieldNames(ModelIr ir) {
    Set<String> taken = new HashSet<>(OWN_FIELDS);
    if (ir.form() == ModelIr.Form.CLASS) {
      ElementFilter.fieldsIn(ir.element().getEnclosedElements()).forEach(f -> taken.add(f.getSimpleName().toString()));
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (LayerIr layer : ir.layers()) {
      if (ir.form() == ModelIr.Form.CLASS && !layer.path().contains(".") && referable(ir, layer)) {
        out.put(layer.path(), layer.path());
      }
    }
    for (LayerIr layer : ir.layers()) {
      if (out.containsKey(layer.path())) {
        continue;
      }
      String s = javaName(layer.path());
      String name = !Character.isJavaIdentifierStart(s.charAt(0)) ? "layer" + s
          : ir.form() == ModelIr.Form.CLASS && !layer.path().contains(".") || generatedName(s)
              || javax.lang.model.SourceVersion.isKeyword(s) ? "layer_" + s : s;
      while (taken.contains(name) || out.containsValue(name) || generatedName(name)) {
        name += "_";
      }
      out.put(layer.path(), name);
    }
    // tensor fields (by value name, this.pos): their own name where generated code can use it, else tensor_<name>
    for (TensorIr t : ir.tensors()) {
      if (t.isRegion()) { // a run of a parameter's values, read in place: the parameter's name
        out.put(t.value(), out.get(TensorIr.valueName(t.derived().of())));
        if (t.isGathered()) { // runs at a stride, read as eager computes them: a method of ours, gathered_pos()
          String base = "gathered_" + javaName(t.derived().of());
          String name = base;
          for (int k = 2; taken.contains(name) || out.containsValue(name + "()") || out.containsValue(name) || generatedName(name); k++) {
            name = base + "_" + k;
          }
          out.put(GATHERED + t.value(), name + "()");
        }
        continue;
      }
      if (t.isDerived()) { // computed from a buffer: a method of ours returning it, computed_bias()
        TensorIr root = ir.tensor(TensorIr.valueName(t.derived().of()));
        String base = root != null && root.isWhere() ? "computed_where" : "computed_" + javaName(t.derived().of());
        String name = base;
        for (int k = 2; taken.contains(name) || out.containsValue(name + "()") || out.containsValue(name) || generatedName(name); k++) {
          name = base + "_" + k;
        }
        out.put(t.value(), name + "()");
        continue;
      }
      String name = t.field();
      if (!referableTensor(ir, name) || t.inBlock()) { // (a block's tensor, h.0.mask: tensor_h_0_mask)
        name = "tensor_" + javaName(name);
        while (taken.contains(name) || out.containsValue(name) || generatedName(name)) {
          name += "_";
        }
      }
      out.put(t.value(), name);
    }
    return out;
  }

  /**
   * Whether generated code may name a tensor field as it is: named unlike anything the generated
   * methods declare, including the locals derived from layer names ({@link #referable}).
   */
  private static boolean referableTensor(ModelIr ir, String name) {
    return !clashesWithGenerated(ir, name);
  }

  /**
   * Whether {@code name} is one the generated methods declare themselves ({@link #generatedName}),
   * holds {@code $}, or is a local they derive from a layer's name ({@code fcB}, {@code fcW}, {@code fcGW}).
   */
  private static boolean clashesWithGenerated(ModelIr ir, String name) {
    if (generatedName(name) || name.contains("$")) {
      return true;
    }
    for (LayerIr other : ir.layers()) {
      for (String o : List.of(other.path(), "layer_" + other.path())) {
        if (name.equals(o + "B") || name.equals(o + "W") || name.equals(o + "GW")) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * A layer path as the start of a Java name: dots (between child names) and any other character a
   * name cannot hold ({@code "fc-1"}, {@code "fc 2"}: Sequential takes any name without a dot) become
   * {@code _}.
   */
  private static String javaName(String path) {
    StringBuilder b = new StringBuilder(path.length());
    path.codePoints().forEach(c -> b.appendCodePoint(Character.isJavaIdentifierPart(c) && c != '$' ? c : '_'));
    return b.toString();
  }

  /**
   * Whether generated methods declare {@code name} themselves (parameters, locals, the Backward
   * class's fields). A field named like a type is another matter, which an alias would not cure
   * (the subclass inherits the field): {@link #file} has such types written fully qualified.
   */
  private static boolean generatedName(String name) {
    // (vK values on CUDA, needK flags, dInK and dInK_W input gradients, tK scratch gradients: see backward)
    // (xK, inK, inKOff, dxK: a method of several inputs' further inputs)
    return GENERATED_NAMES.contains(name) || name.matches("(v|need|dIn|t)\\d+(_\\d+)?") || name.endsWith("Values")
        || name.matches("(x|in|dx)\\d+|in\\d+Off");
  }

  /** The names of the fields of {@code type} and its superclasses, which the generated subclass inherits. */
  private static Set<String> inheritedFieldNames(TypeElement type) {
    Set<String> names = new HashSet<>();
    for (TypeElement t = type; t != null; ) {
      ElementFilter.fieldsIn(t.getEnclosedElements()).forEach(f -> names.add(f.getSimpleName().toString()));
      t = t.getSuperclass() instanceof DeclaredType d ? (TypeElement) d.asElement() : null;
    }
    return names;
  }

  /**
   * Whether generated code may name a top-level layer field of a {@code @Model} class as it is:
   * declared with the layer's own class (not {@code Module} or {@code Layer<?>}, whose type lacks
   * {@code weight()}), and named unlike anything the generated methods declare, including the
   * locals they derive from layer names ({@code fcB}, {@code fcW}, {@code fcGW}; a step's number
   * is joined with {@code $}, which user names do not use).
   */
  private static boolean referable(ModelIr ir, LayerIr layer) {
    String name = layer.path();
    if (clashesWithGenerated(ir, name)) {
      return false;
    }
    for (VariableElement field : ElementFilter.fieldsIn(ir.element().getEnclosedElements())) {
      if (field.getSimpleName().contentEquals(name)) {
        return field.asType() instanceof DeclaredType t
            && ((TypeElement) t.asElement()).getQualifiedName().contentEquals(layerClass(layer).canonicalName());
      }
    }
    return true;
  }

  /**
   * The prefix of the locals a Linear or convolution step declares ({@code fc} for {@code fcB},
   * {@code fcW}, {@code fcGW}): the layer's field, with the step's number when the layer serves
   * several steps of this graph (a layer applied twice), so each step's locals have names of their own.
   */
  private String localPrefix(Kernel k, int step) {
    String field = layerField(k.layer());
    long uses = kernels.stream()
        .filter(o -> (o.kind() == Kernel.Kind.LINEAR || o.kind() == Kernel.Kind.CONV || o.kind() == Kernel.Kind.EMBEDDING)
            && o.layer() == k.layer()).count(); // (an Embedding looking up two ids: codebook$3W, codebook$5W)
    return uses > 1 ? field + "$" + step : field;
  }

  /** Conv2d's and Conv1d's components that their shorter spec constructor leaves at 1 (no dilation, one group). */
  private static final Set<String> CONV_EXTRAS = Set.of("dilationH", "dilationW", "dilation", "groups");

  /**
   * {@code new Linear.Spec(784, 512, true)}: the layer's spec record rebuilt from its components (a convolution without
   * dilation or groups by its shorter constructor).
   */
  private static CodeBlock specExpression(LayerIr layer) {
    Record spec = (Record) layer.spec();
    List<CodeBlock> args = new ArrayList<>();
    boolean plainConv = spec instanceof Conv2d.Spec c2 ? c2.dilationH() == 1 && c2.dilationW() == 1 && c2.groups() == 1
        : spec instanceof Conv1d.Spec c1 && c1.dilation() == 1 && c1.groups() == 1;
    for (var component : spec.getClass().getRecordComponents()) {
      if (plainConv && CONV_EXTRAS.contains(component.getName())) { // the convolution specs' constructor without them
        continue;
      }
      Object value;
      try {
        value = component.getAccessor().invoke(spec);
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException("cannot read " + component.getName() + " of " + spec, e);
      }
      args.add(value instanceof Double d ? CodeBlock.of("$L", d + "")
          : value instanceof String text ? CodeBlock.of("$S", text) // a recurrent layer's mode
          : value instanceof int[] dims ? CodeBlock.of("new int[] {$L}", joined(dims)) // LayerNorm's normalized shape
          : value instanceof Enum<?> constant ? CodeBlock.of("$T.$L", ClassName.get(constant.getDeclaringClass()), constant.name())
          : CodeBlock.of("$L", value));
    }
    return CodeBlock.of("new $T($L)", ClassName.get(spec.getClass()), CodeBlock.join(args, ", "));
  }

  /**
   * A comment per tied weight ({@code lmHead.weight(wte.weight())}, read by {@code TieReader}): the code needs nothing
   * more, as every step reads its layer's weight() when it runs, so both read the one tensor and add into its gradient.
   */
  private void addTieComments(MethodSpec.Builder ctor) {
    for (LayerIr layer : ir.layers()) {
      if (layer.tiedTo() != null) {
        ctor.addComment("$L's weight is $L's (tied at $L): one tensor, which the steps of both read and both add their"
            + " gradients into", layer.path(), layer.tiedTo(), layer.tie().where());
      }
    }
  }

  private void addLayerFields(TypeSpec.Builder type, ClassName declared, List<LayerIr> layers) {
    MethodSpec.Builder ctor = MethodSpec.constructorBuilder().addModifiers(Modifier.PUBLIC);
    if (ir.form() == ModelIr.Form.METHOD) {
      // transient: the factory's Sequential, whose forward applies the registered layers one by one (for summary())
      type.addField(SEQUENTIAL, "eager", Modifier.PRIVATE, Modifier.FINAL, Modifier.TRANSIENT);
      ctor.addStatement("$T model = $T.$L()", SEQUENTIAL, declared, ir.factoryMethod())
          .addStatement("model.namedChildren().forEach(this::registerModule)")
          .addStatement("this.eager = model");
    }
    // Every layer the code was generated for must still be the one its declaration initialises.
    for (LayerIr layer : ir.layers()) {
      ctor.addStatement("requireCompiledLayer($S, $L)", layer.path(), specExpression(layer));
    }
    addTieComments(ctor);
    // Every tensor field the code reads must still have the shape and role (parameter or buffer) it was compiled for.
    for (TensorIr t : ir.tensors()) {
      if (!t.inBlock() && !t.isDerived()) { // (a block's, h.0.mask, is checked where its field below is set)
        ctor.addStatement("requireCompiledTensor($S, $L, $L, $L)", t.field(), t.field(), t.isParameter(), joined(t.shape()));
      }
    }
    boolean any = !ir.layers().isEmpty() || !ir.tensors().isEmpty();
    Set<String> done = new LinkedHashSet<>();
    for (LayerIr layer : layers) {
      String field = layerField(layer);
      if (field.equals(layer.path()) && ir.form() == ModelIr.Form.CLASS || !done.add(field)) {
        continue;
      }
      // transient: a second reference to a registered layer, not a child of its own
      type.addField(layerClass(layer), field, Modifier.PRIVATE, Modifier.FINAL, Modifier.TRANSIENT);
      ctor.addStatement("this.$L = ($T) getSubmodule($S)", field, layerClass(layer), layer.path());
      any = true;
    }
    for (TensorIr t : ir.tensors()) {
      String field = tensorField(t);
      if (t.isGathered()) { // runs of a parameter at a stride: read as eager mode computes them, when the parameter changes
        computedTensor(type, t);
      }
      if (t.isRegion()) { // read in place in its parameter, which has its field
        continue;
      }
      if (t.isDerived()) { // computed from its buffer by eager calls, again when the buffer changes
        computedTensor(type, t);
      } else if (t.inBlock()) { // transient: a reference to a block's tensor, found by its path
        type.addField(TENSOR, field, Modifier.PRIVATE, Modifier.FINAL, Modifier.TRANSIENT);
        ctor.addStatement("this.$L = requireCompiledBlockTensor($S, $L, $L)", field, t.field(), t.isParameter(), joined(t.shape()));
      } else if (!field.equals(t.field())) { // transient: a second reference to the model's own tensor
        type.addField(TENSOR, field, Modifier.PRIVATE, Modifier.FINAL, Modifier.TRANSIENT);
        ctor.addStatement("this.$L = $L", field, t.field());
      }
    }
    if (ir.form() == ModelIr.Form.METHOD || any) {
      type.addMethod(ctor.build());
    }
  }

  // ------------------------------------------------------------------ forward

  private MethodSpec forward() {
    int[] sample = Arrays.copyOfRange(model.inputShape(), 1, model.inputShape().length);
    int[] outShape = model.outputShape();
    CodeBlock.Builder b = CodeBlock.builder()
        .addStatement("int n = $T.$L($S, x, $L)", COMPILED, batchSizeCheck(), name, joined(sample));
    checkFurtherInputs(b);
    b.add("// the plan (buffers) for this batch size, this call's alone until released: another thread's call gets another\n")
        .addStatement("Plan p = plans.acquire(n, $T.isGradEnabled())", KILN)
        .beginControlFlow("try")
        .addStatement("float[] in = x.readBuffer()")
        .addStatement("int inOff = x.offset()");
    readFurtherInputs(b);
    // (the last computed value's size: with several outputs the last statement may be a view of another)
    b.addStatement("float[] out = new float[n * $L]", sizes.getOrDefault("out", perSample(outShape)));
    declareTrainingFlags(b);
    Map<String, Ref> refs = new LinkedHashMap<>();
    for (int j = 0; j < kernels.size(); j++) {
      Kernel k = kernels.get(j);
      b.add("// $L: $L -> $L   $L\n", k.label(), inShapes(k), Shapes.toString(k.outShape()), k.source().where());
      Ref in = ref(k.in(), refs);
      Ref out = ref(k.out(), refs);
      switch (k.kind()) {
        case VIEW -> b.add(foldedNote(k));
        case MATMUL -> {
          Kernel.Product m = k.product();
          if (k.fieldOnLeft()) { // each sample's matrices times the field [M, K], read for each (stride 0): eager's bmm
            TensorIr w = fieldOperand(k);
            b.addStatement("$T.sgemmBatched($L, false, false, $L, $L, $L, $Lf, $L.readBuffer(), $L, 0, $L, $L, $L, 0f, $L, $L, $L)",
                BLAS, m.count(), m.m(), m.n(), m.k(), m.alpha(), readExpression(w), fieldOffset(w), in.array, in.offset, m.k() * m.n(), out.array, out.offset,
                m.m() * m.n());
            break;
          }
          if (k.byField()) { // every row times the field [K, M] (or [M, K] transposed), read where it lives (its native copy, kept current)
            b.addStatement("$T.sgemm(false, $L, $L, $L, $L, $Lf, $L, $L, $L, $L, $L, 0f, $L, $L, $L)", BLAS, m.transB(), fieldRows(k),
                m.n(), m.k(), m.alpha(), in.array, in.offset, m.k(), gemmOperand(fieldOperand(k)), m.transB() ? m.k() : m.n(),
                out.array, out.offset, m.n());
            break;
          }
          Ref other = ref(k.inputs().get(1), refs);
          b.addStatement("$T.sgemmBatched($L, $L, $L, $L, $L, $L, $Lf, $L, $L, $L, $L, $L, $L, 0f, $L, $L, $L)", BLAS, m.count(),
              m.transA(), m.transB(), m.m(), m.n(), m.k(), m.alpha(), in.array, in.offset, m.m() * m.k(), other.array,
              other.offset, m.k() * m.n(), out.array, out.offset, m.m() * m.n());
        }
        case PERMUTE -> b.addStatement("$T.permute($L, $L, $L, $L, new int[] {$L}, new int[] {$L}, false)", KERNELS, out.array,
            out.offset, in.array, in.offset, batchShape(k.inShape()), joined(order(k)));
        case SCALE -> b.addStatement("$T.scale($L, $L, $L, $L, n * $L, $Lf, false)", KERNELS, out.array, out.offset, in.array,
            in.offset, k.outPerSample(), ((Scale) k.spec()).factor());
        case COMPARE -> compareForward(b, k, out, in, refs);
        case WHERE -> { // a where the mask (the third input) is nonzero, b elsewhere (swapped: b the first input, a the second)
          for (int w = 0; w < 3; w++) { // a tensor field eager mode expands first ([T, 1] over [N, T, D]): the expand's passes
            int[][] passes = whereExpansion(k, w);
            if (passes.length > 0) {
              spreadPasses(b, passes, ref(k.inputs().get(w), refs), whereOperand(k, w, refs), "p.whereExpanding" + (j + 1) + "_" + w + "_");
            }
          }
          Ref first = whereOperand(k, 0, refs);
          Ref other = whereOperand(k, 1, refs);
          Ref mask = whereOperand(k, 2, refs);
          Ref a = k.swapped() ? other : first;
          Ref bRef = k.swapped() ? first : other;
          b.addStatement("$T.forward($L, $L, $L, $L, $L, $L, $L, $L, $L, $L, n * $L)", WHERE_KERNELS, out.array,
              mask.array, mask.offset, whereCount(k, 2), a.array, a.offset, whereCount(k, k.swapped() ? 1 : 0), bRef.array,
              bRef.offset, whereCount(k, k.swapped() ? 0 : 1), k.outPerSample());
        }
        case MUL -> {
          Ref other = ref(k.inputs().get(1), refs);
          String repeat = repeatArgs(k);
          if (repeat != null) {
            b.addStatement("$T.mulRepeatedForward($L, $L, $L, $L, $L, $L, $L)", KERNELS, out.array, out.offset, in.array,
                in.offset, other.array, other.offset, repeat);
          } else {
            b.addStatement("$T.mulForward($L, $L, $L, $L, $L, $L, n * $L)", KERNELS, out.array, out.offset, in.array, in.offset,
                other.array, other.offset, k.outPerSample());
          }
        }
        case SUB, DIV -> { // (inputs[1] - inputs[0] when swapped: the repeated value is the left operand)
          Ref other = ref(k.inputs().get(1), refs);
          String op = k.kind() == Kernel.Kind.SUB ? "sub" : "div";
          String repeat = repeatArgs(k);
          if (repeat != null) {
            b.addStatement("$T.$LRepeatedForward($L, $L, $L, $L, $L, $L, $L, $L)", ARITHMETIC, op, out.array, out.offset,
                in.array, in.offset, other.array, other.offset, repeat, k.swapped());
          } else {
            b.addStatement("$T.$LForward($L, $L, $L, $L, $L, $L, n * $L)", ARITHMETIC, op, out.array, out.offset, in.array,
                in.offset, other.array, other.offset, k.outPerSample());
          }
        }
        case SHIFT -> b.addStatement("$T.shift($L, $L, $L, $L, n * $L, $L)", ARITHMETIC, out.array, out.offset, in.array,
            in.offset, k.outPerSample(), floatLiteral(((Shift) k.spec()).amount()));
        case REDUCE -> b.addStatement("$T.$L($L, $L, $L, $L, $L, $L)", MATH, reducesOver(k) ? "sumOver" : "sumAlong", out.array,
            out.offset, in.array, in.offset, reduceAxes(k), reduceFactor(k));
        case ADD -> {
          Ref other = ref(k.inputs().get(1), refs);
          String repeat = repeatArgs(k);
          if (repeat != null) {
            b.addStatement("$T.addRepeatedForward($L, $L, $L, $L, $L, $L, $L, $L)", KERNELS, out.array, out.offset,
                in.array, in.offset, other.array, other.offset, repeat, k.relu());
          } else {
            b.addStatement("$T.addForward($L, $L, $L, $L, $L, $L, n * $L, $L)", KERNELS, out.array, out.offset, in.array,
                in.offset, other.array, other.offset, k.outPerSample(), k.relu());
          }
        }
        case RELU -> b.addStatement("$T.reluForward($L, $L, $L, $L, n * $L)", KERNELS, out.array, out.offset, in.array, in.offset, k.outPerSample());
        case MASKED_FILL -> {
          MaskedFill m = (MaskedFill) k.spec();
          if (m.byValue()) { // each sample's own mask (an input), repeated along a run of the value's dimensions
            b.addStatement("$T.maskedFillRepeatedForward($L, $L, $L, $L, $L, $L)", KERNELS, out.array, out.offset, in.array,
                in.offset, maskInputArgs(k, refs), floatLiteral(m.value()));
          } else {
            b.addStatement("$T.maskedFillForward($L, $L, $L, $L, $L, $L, $L)", KERNELS, out.array, out.offset, in.array, in.offset,
                maskBlocks(k), maskArgs(k), floatLiteral(m.value()));
          }
        }
        case CAT -> {
          CatLayout c = new CatLayout(k);
          for (int w = 0; w < k.inputs().size(); w++) {
            Ref src = ref(k.inputs().get(w), refs);
            b.addStatement("$T.catForward($L, $L, $L, $L, $L, $L, $L, $L)", KERNELS, out.array, out.offset, c.outBlock,
                src.array, src.offset, c.block(w), c.at(w), c.blocks());
          }
        }
        case POINTWISE -> pointwiseForward(b, k, out, in);
        case POINTWISE_PAIR -> pointwisePairForward(b, k, out, refs);
        case ACTIVATION -> {
          if (Planner.isPiecewise(k.spec())) {
            piecewiseForward(b, k, out, in);
          } else if (k.spec() instanceof LeakyReLU.Spec l) {
            b.addStatement("$T.leakyReluForward($L, $L, $L, $L, n * $L, $Lf)", ACTIVATIONS, out.array, out.offset, in.array,
                in.offset, k.outPerSample(), (float) l.negativeSlope());
          } else if (k.spec() instanceof Softmax.Spec || k.spec() instanceof LogSoftmax.Spec) {
            b.addStatement("$T.$LForward($L, $L, $L, $L, $L)", ACTIVATIONS, softmaxName(k), out.array, out.offset, in.array,
                in.offset, softmaxAxes(k));
          } else if (k.spec() instanceof GELU.Spec) { // with grad on, its slope too: the backward is then one product
            b.addStatement("$T.geluForward($L, $L, $L, $L, n * $L, $T.isGradEnabled() ? p.slope$L : null, 0)", ACTIVATIONS,
                out.array, out.offset, in.array, in.offset, k.outPerSample(), KILN, j + 1);
          } else {
            b.addStatement("$T.$LForward($L, $L, $L, $L, n * $L)", ACTIVATIONS, activationName(k), out.array, out.offset,
                in.array, in.offset, k.outPerSample());
          }
        }
        case LINEAR -> {
          String layer = layerField(k.layer());
          String local = localPrefix(k, j + 1);
          String rows = rows(k);
          if (k.linear().bias() && !k.relu()) { // the bias folded into the product, as eager linear does
            b.addStatement("$T $LB = $L.bias()", TENSOR, local, layer);
            b.addStatement("$T.linear($L, $L, $L, $L, $L, $L.weight(), $LB.readBuffer(), $LB.offset(), $L, $L)", BLAS, rows,
                k.linear().outFeatures(), k.linear().inFeatures(), in.array, in.offset, layer, local, local, out.array, out.offset);
          } else {
            b.addStatement("$T.sgemm(false, true, $L, $L, $L, 1f, $L, $L, $L, $L.weight(), $L, 0f, $L, $L, $L)",
                BLAS, rows, k.linear().outFeatures(), k.linear().inFeatures(), in.array, in.offset, k.linear().inFeatures(),
                layer, k.linear().inFeatures(), out.array, out.offset, k.linear().outFeatures());
            if (k.linear().bias()) { // with the ReLU: one pass for both
              b.addStatement("$T $LB = $L.bias()", TENSOR, local, layer);
              b.addStatement("$T.addBiasRelu($L, $L, $L, $L, $LB.readBuffer(), $LB.offset(), $L, $L)", KERNELS,
                  out.array, out.offset, out.array, out.offset, local, local, rows, k.linear().outFeatures());
            } else if (k.relu()) {
              b.addStatement("$T.reluForward($L, $L, $L, $L, n * $L)", KERNELS, out.array, out.offset, out.array, out.offset,
                  k.outPerSample());
            }
          }
        }
        case CONV -> {
          if (k.functionalConv()) { // F.conv2d(x, w, b): the layer's kernel, the weight and bias read where the fields live
            TensorIr w = convField(k, 1), bias = convField(k, 2);
            b.addStatement("$T.$LForward($L, $L, $L, $L, $L.readBuffer(), $L, $L, p.shape$L)", CONV, convName(k), out.array, out.offset,
                in.array, in.offset, readExpression(w), fieldOffset(w), fieldArguments(bias), j + 1);
            break;
          }
          String layer = layerField(k.layer());
          String local = localPrefix(k, j + 1);
          boolean bias = convBias(k);
          b.addStatement("$T $LW = $L.weight()", TENSOR, local, layer);
          if (bias) {
            b.addStatement("$T $LB = $L.bias()", TENSOR, local, layer);
          }
          Ref read = in;
          if (paddedInput(k) != null) { // an output padding of at least the stride: x padded with zeros, as eager mode pads it
            b.addStatement("$T.indexMap(p.padded$L, 0, $L, $L, new int[] {$L}, new int[] {$L}, new boolean[4], new long[4], 0f)", INDEX,
                j + 1, in.array, in.offset, batchShape(paddedInput(k)), batchShape(k.inShape()));
            read = new Ref("p.padded" + (j + 1), "0", true);
          }
          b.addStatement("$T.$LForward($L, $L, $L, $L, $LW.readBuffer(), $LW.offset(), $L, p.shape$L)", CONV, convName(k),
              out.array, out.offset, read.array, read.offset, local, local,
              bias ? local + "B.readBuffer(), " + local + "B.offset()" : "null, 0", j + 1);
        }
        case EMBEDDING -> {
          if (k.spec() instanceof ConstantIds c) { // wpe.apply(pos): the ids' rows, once per sample
            constantIdsForward(b, k, c, j + 1, out);
            break;
          }
          if (k.spec() instanceof EmbeddingBag.Spec bag) { // each sample's ids one bag, reduced as eager's
            String local = localPrefix(k, j + 1);
            b.addStatement("$T $LW = $L.weight()", TENSOR, local, layerField(k.layer()))
                .addStatement("$T.embeddingBagForward($L, $L, $L, $L, null, n, $L, $LW.readBuffer(), $LW.offset(), $L, $L, $L, $L, null, $L,"
                    + " $L)", KERNELS, out.array, out.offset, in.array, in.offset, k.inPerSample(), local, local, bag.numEmbeddings(),
                    bag.embeddingDim(), bag.mode().ordinal(), bag.paddingIdx(), bag.mode() == EmbeddingBag.Mode.MAX ? "p.bagArgmax" + (j + 1) : "null",
                    idsShape(k)); // (the ids' tensor's shape, or ids computed in forward: theirs)
            break;
          }
          Embedding.Spec e = (Embedding.Spec) k.spec();
          String local = localPrefix(k, j + 1);
          b.addStatement("$T $LW = $L.weight()", TENSOR, local, layerField(k.layer()));
          if (!isInput(storage.get(k.in()))) { // ids an argmax made in forward: their range checked per call, the layer named
            computedIdsForward(b, k, e, local, out, in);
            break;
          }
          b.addStatement("$T.embeddingForward($L, $L, $L, $L, n * $L, $LW.readBuffer(), $LW.offset(), $L, $L, x$L.shape())", KERNELS,
                  out.array, out.offset, in.array, in.offset, k.inPerSample(), local, local, e.numEmbeddings(), e.embeddingDim(),
                  storage.get(k.in()).substring(2)); // the ids' tensor: x, or a further input's x1, x2, ...
        }
        case PAD -> indexMap(b, k, out, in, false);
        case NORMALIZE -> normalizeForward(b, k, j + 1, out, in);
        case LINE -> lineForward(b, k, out, in);
        case IDS -> idArithmeticForward(b, k, out, in, k.inputs().size() > 1 ? ref(k.inputs().get(1), refs) : null);
        case TILE -> spreadPasses(b, ((Tile) k.spec()).passes(k.inShape()), in, out, "p.tile" + (j + 1) + "_");
        case COSINE -> cosineForward(b, k, j + 1, out, in, ref(k.inputs().get(1), refs));
        case UPSAMPLE -> b.addStatement("$T.upsampleNearestForward($L, $L, $L, $L, $L)", CONV, out.array, out.offset, in.array,
            in.offset, upsampleArgs(k));
        case RECURRENT -> b.add("// the eager layer's kernels over the plan's buffers, time-major inside (keeping what a backward needs when it may run)\n")
            .addStatement("p.rnn$L.forward($L, $L, $L, $L$L, $L.flatWeights(), $L, $T.generator(), $T.isGradEnabled())", j + 1, out.array,
                out.offset, in.array, in.offset, initialStatesArgs(k, refs), layerField(k.layer()),
                dropsBetweenLayers(k) ? "training[" + (j + 1) + "]" : "false", KILN, KILN);
        case SLICE -> b.addStatement("$T.narrowForward($L, $L, $L, $L, $L)", SLICES, out.array, out.offset, in.array, in.offset,
            sliceArgs(k));
        case AVGPOOL -> b.addStatement("p.shape$L.forward($L, $L, $L, $L, n * $L)", j + 1, out.array, out.offset, in.array, in.offset,
            k.channels());
        case POOL -> {
          if (pooledInOnePass.containsKey(k.in())) {
            b.add("// computed with the batch norm above, in one pass\n");
          } else {
            // no grad mode (inference): the values alone, as PyTorch's pooling keeps no indices there
            b.addStatement("$T.maxPool2dForward($L, $L, $T.isGradEnabled() ? p.argmax$L : null, $L, $L, p.shape$L)", CONV,
                out.array, out.offset, KILN, j + 1, in.array, in.offset, j + 1);
          }
        }
        case BATCHNORM -> {
          Integer pool = pooledInOnePass.get(k.out());
          batchNormForward(b, k, j + 1, in, pool == null ? out : ref(kernels.get(pool).out(), refs), pool == null ? -1 : pool + 1);
        }
        case LAYERNORM -> {
          LayerNorm.Spec s = (LayerNorm.Spec) k.spec();
          b.addStatement("$T.layerNormForward($L, $L, $L, $L, $L, p.mean$L, p.rstd$L, n * $L, $L, $L)", NORM, out.array, out.offset,
              in.array, in.offset, affineArguments(layerField(k.layer()), s.elementwiseAffine()), j + 1, j + 1, layerNormRows(k),
              layerNormInner(k), s.eps());
        }
        case GROUPNORM -> groupNormForward(b, k, j + 1, in, out);
        case DROPOUT -> {
          b.beginControlFlow("if (training[$L])", j + 1)
              .addStatement("$T.dropoutMask(p.mask$L, 0, n * $L, $L, $T.generator())", ACTIVATIONS, j + 1, maskPerSample(k), dropoutP(k), KILN);
          if (k.spec() instanceof Dropout2d.Spec) { // each channel's mask value over its map
            b.addStatement("$T.mulRepeatedForward($L, $L, $L, $L, p.mask$L, 0, n * $L, $L, 1)", KERNELS, out.array, out.offset,
                in.array, in.offset, j + 1, k.channels(), k.spatial());
          } else {
            b.addStatement("$T.applyMask($L, $L, $L, $L, p.mask$L, 0, n * $L)", ACTIVATIONS, out.array, out.offset,
                in.array, in.offset, j + 1, k.outPerSample());
          }
          b.nextControlFlow("else")
              .addStatement("System.arraycopy($L, $L, $L, $L, n * $L)", in.array, in.offset, out.array, out.offset, k.outPerSample())
              .endControlFlow();
        }
      }
    }
    if (kernels.stream().allMatch(k -> k.kind() == Kernel.Kind.VIEW)) {
      b.addStatement("System.arraycopy(in, inOff, out, 0, out.length)");
    }
    if (outputs != null) {
      return outputsMethod(b);
    }
    List<String> params = parameterExpressions();
    String shapeArgs = "n" + (outShape.length > 1 ? ", " + joined(Arrays.copyOfRange(outShape, 1, outShape.length)) : "");
    b.beginControlFlow("if (!$T.recording(x$L$L))", COMPILED, furtherArguments(), params.isEmpty() ? ""
        : ", " + params.stream().map(this::recordingInput).collect(Collectors.joining(", ")))
        .addStatement("return $T.wrap(out, $L)", TENSOR, shapeArgs)
        .endControlFlow()
        .addStatement("return $T.ofNode(out, new int[] {$L}, new Backward(x$L, p, out$L))", TENSOR, shapeArgs, furtherArguments(),
            usesTrainingMode() ? ", training" : "");
    if (ir.isInputsGraph()) {
      return MethodSpec.methodBuilder("forward")
          .addJavadoc("The fused $L: x and the further inputs $L, in order.\n", ir.inputs().method(), furtherLabels())
          .returns(TENSOR).addParameters(inputParameters()).addCode(cudaGuard("forward")).addCode(releasing(b).build()).build();
    }
    if (modeGraph) {
      return MethodSpec.methodBuilder("forward").addJavadoc("The fused forward in this mode.\n").returns(TENSOR)
          .addParameter(TENSOR, "x").addCode(cudaGuard("forward")).addCode(releasing(b).build()).build();
    }
    return forwardMethod(releasing(b).build());
  }

  // ------------------------------------------------------------------ several inputs

  /** {@code , x1, x2}: the further inputs of a method of several inputs as arguments after x; empty otherwise. */
  private String furtherArguments() {
    StringBuilder b = new StringBuilder();
    for (int j = 1; j <= ir.further().size(); j++) {
      b.append(", x").append(j);
    }
    return b.toString();
  }

  /** {@code x}, then {@code x1, x2, ...} for the further inputs: the fused methods' parameters. */
  private List<ParameterSpec> inputParameters() {
    List<ParameterSpec> params = new ArrayList<>(List.of(ParameterSpec.builder(TENSOR, "x").build()));
    for (int j = 1; j <= ir.further().size(); j++) {
      params.add(ParameterSpec.builder(TENSOR, "x" + j).build());
    }
    return params;
  }

  /** {@code x1 = mask [N, 6]}, for comments. */
  private String furtherLabels() {
    List<String> labels = new ArrayList<>();
    for (int j = 1; j <= ir.further().size(); j++) {
      labels.add("x" + j + " = " + ir.further().get(j - 1).name() + " " + Shapes.toString(ir.further().get(j - 1).batchShape()));
    }
    return String.join(", ", labels);
  }

  /**
   * Checks each further input's shape against x's batch size, naming its parameter ({@code Compiled.furtherInput}, or
   * {@code Compiled.furtherIds} for ids an Embedding looks up: a label tensor).
   */
  private void checkFurtherInputs(CodeBlock.Builder b) {
    for (int j = 1; j <= ir.further().size(); j++) {
      InputsIr.Further f = ir.further().get(j - 1);
      b.addStatement("$T.$L($S, $S, x$L, $S, n$L)", COMPILED, ir.furtherIsIds(f) ? "furtherIds" : "furtherInput",
          name + "." + ir.inputs().method(), f.name(), j, ir.inputs().inputName(),
          f.shape().length == 0 ? "" : ", " + joined(f.shape())); // (@Input({}): ids [N], no sizes after n)
    }
  }

  /** {@code float[] in1 = x1.readBuffer(); int in1Off = x1.offset();} for each further input. */
  private void readFurtherInputs(CodeBlock.Builder b) {
    for (int j = 1; j <= ir.further().size(); j++) {
      b.addStatement("float[] in$L = x$L.readBuffer()", j, j).addStatement("int in$LOff = x$L.offset()", j, j);
    }
  }

  /**
   * A comparison's 0/1 values: of a value with its constant ({@code MaskTest.GT.select(...)}), or of two values, the second
   * repeated over the first ({@code MaskTest.LT.selectRepeated(...)}, swapped when the repeated one was written first).
   */
  private void compareForward(CodeBlock.Builder b, Kernel k, Ref out, Ref in, Map<String, Ref> refs) {
    Compare c = (Compare) k.spec();
    if (k.inputs().size() == 1) {
      b.addStatement("$T.$L.select($L, $L, $L, $L, n * $L, $L)", MASK_TEST, c.test(), out.array, out.offset, in.array, in.offset,
          k.outPerSample(), floatLiteral(c.against()));
      return;
    }
    Ref other = ref(k.inputs().get(1), refs);
    int[] small = k.inShapes().get(1);
    String repeat;
    if (small[0] != -1) { // a buffer (x.lt(threshold)): repeated over the batch as an added field
      repeat = fieldRepeatArgs(k);
    } else {
      Repeat r = Repeat.of(k.inShapes().get(0), small);
      repeat = r == null ? "n, 1, " + k.outPerSample() : "n * " + r.groups() + ", " + r.size() + ", " + r.inner();
    }
    b.addStatement("$T.$L.selectRepeated($L, $L, $L, $L, $L, $L, $L, $L)", MASK_TEST, c.test(), out.array, out.offset, in.array,
        in.offset, other.array, other.offset, repeat, k.swapped());
  }

  /**
   * A masked fill's mask input as {@code maskedFillRepeated*} takes it: {@code in1, in1Off, n, 12, 6, MaskTest.EQ, 0f}
   * for a mask {@code [N, 1, 1, 6]} over {@code [N, 2, 6, 6]} (each sample's mask repeated over 12 rows of 6).
   */
  private CodeBlock maskInputArgs(Kernel k, Map<String, Ref> refs) {
    MaskedFill m = (MaskedFill) k.spec();
    Repeat r = k.maskRepeat();
    Ref mask = ref(k.inputs().get(1), refs);
    return CodeBlock.of("$L, $L, $L, $L, $L, $T.$L, $L", mask.array, mask.offset, r.groups() == 1 ? "n" : "n * " + r.groups(),
        r.size(), r.inner(), MASK_TEST, m.test(), floatLiteral(m.against()));
  }

  /**
   * A method compiled beside forward ({@code method}, of several outputs or several inputs): an inner
   * class {@code Compiled<Method>} holding its fused graph (plans, forward, CUDA form, Plan and
   * Backward), and the field {@code compiled} that holds one.
   */
  private void addCompiledBeside(TypeSpec.Builder type, String compiled, String method) {
    addCompiledBeside(type, compiled, CodeBlock.of("The compiled $L, beside the compiled forward: its own plans, backward node and CUDA form.\n", method));
  }

  /** {@link #addCompiledBeside(TypeSpec.Builder, String, String)} with the inner class's javadoc. */
  private void addCompiledBeside(TypeSpec.Builder type, String compiled, CodeBlock javadoc) {
    String inner = Character.toUpperCase(compiled.charAt(0)) + compiled.substring(1);
    TypeSpec.Builder innerType = TypeSpec.classBuilder(inner)
        .addModifiers(Modifier.PRIVATE, Modifier.FINAL)
        .addJavadoc(javadoc);
    addFusedMembers(innerType, name + "." + inner);
    type.addType(innerType.build());
    type.addField(FieldSpec.builder(ClassName.get("", inner), compiled, Modifier.PRIVATE, Modifier.FINAL)
        .initializer("new $L()", inner).build());
  }

  /**
   * The method of several inputs' override and what it calls: its fused graph in an inner class of its own
   * ({@code compiledForwardMasked}: plans, forward, CUDA form, Plan and Backward), as a several-outputs
   * method beside a forward of its own has.
   */
  private void addInputsMembers(TypeSpec.Builder type, Generator evaluation) {
    InputsIr inputs = ir.inputs();
    String compiled = "compiled" + Character.toUpperCase(inputs.method().charAt(0)) + inputs.method().substring(1);
    if (evaluation == null) {
      addCompiledBeside(type, compiled, inputs.method());
    } else {
      addMethodModes(type, evaluation, compiled, inputs.method());
    }
    // the override's parameters: x, then the declared names (x1, ... for one that is named x)
    List<String> names = new ArrayList<>(List.of("x"));
    for (int j = 1; j <= inputs.further().size(); j++) {
      String declared = inputs.further().get(j - 1).name();
      names.add(declared.equals("x") ? "x" + j : declared);
    }
    MethodSpec.Builder m = MethodSpec.methodBuilder(inputs.method()).addAnnotation(Override.class)
        .addModifiers(Modifier.PUBLIC).returns(outputs == null ? TENSOR : outputsType());
    names.forEach(n -> m.addParameter(TENSOR, n));
    String args = String.join(", ", names);
    m.beginControlFlow("if (recordingLayers())")
        .addComment("summary() is recording: the layers' eager forwards, each seen as it is applied")
        .addStatement("return super.$L($L)", inputs.method(), args)
        .endControlFlow();
    if (evaluation == null) {
      returnInputs(m, compiled, args);
    } else { // the graph of the call's mode
      m.addCode(modeChoice(type, inputs.modes().owners(), inputs.method(), "super." + inputs.method() + "(" + args + ")"));
      m.beginControlFlow("if (training)");
      returnInputs(m, compiled + "Training", args);
      m.endControlFlow();
      evaluation.returnInputs(m, compiled + "Evaluation", args);
    }
    type.addMethod(m.build());
  }

  /** The end of the method of several inputs' override: the result of the graph in the field {@code compiled}. */
  private void returnInputs(MethodSpec.Builder m, String compiled, String args) {
    if (outputs == null) {
      m.addStatement("return $L.forward($L)", compiled, args);
    } else { // several outputs: the fused outputs, or their CUDA form, as the method of several outputs picks them
      List<String> params = parameterExpressions();
      CodeBlock onCuda = CodeBlock.of("$T.onCuda($S, $L$L)", COMPILED, name, args, params.isEmpty() ? "" : ", " + String.join(", ", params));
      returnOutputs(m, onCuda, compiled + "." + cudaOutputsMethod() + "(" + args + ")", compiled + ".outputs(" + args + ")");
    }
  }

  /**
   * A method beside forward that reads the training mode ({@link dev.kiln.processor.ir.MethodModes}): this graph (the method
   * in training) and {@code evaluation}'s, each in an inner class of its own ({@code compiledBothTraining}, {@code
   * compiledBothEvaluation}), as forward's two graphs are ({@link #addModeMembers}).
   */
  private void addMethodModes(TypeSpec.Builder type, Generator evaluation, String compiled, String method) {
    addCompiledBeside(type, compiled + "Training", CodeBlock.of("The compiled $L in training, beside the compiled forward: its"
        + " own plans, backward node and CUDA form.\n", method));
    evaluation.addCompiledBeside(type, compiled + "Evaluation", CodeBlock.of("The compiled $L in evaluation, beside the"
        + " compiled forward: its own plans, backward node and CUDA form.\n", method));
  }

  /**
   * {@code boolean training = isTraining();} (the mode of the first of {@code owners}, the modules whose modes the method
   * reads), and the eager call {@code eager} returned where they differ; each owner but the model a field, added once.
   */
  private CodeBlock modeChoice(TypeSpec.Builder type, List<String> owners, String method, String eager) {
    List<String> modes = new ArrayList<>();
    for (String owner : owners) {
      if (owner.isEmpty()) {
        modes.add("isTraining()");
        continue;
      }
      String field = "modeOf_" + owner.replace('.', '_');
      if (modeFields.add(field)) {
        type.addField(FieldSpec.builder(MODULE, field, Modifier.PRIVATE, Modifier.FINAL, Modifier.TRANSIENT)
            .addJavadoc("The module whose own mode $L reads ($L).\n", method, owner)
            .initializer("getSubmodule($S)", owner).build());
      }
      modes.add(field + ".isTraining()");
    }
    CodeBlock.Builder b = CodeBlock.builder()
        .add("// $L reads the training mode: the graph compiled for this call's mode runs, and its backward\n", method)
        .addStatement("boolean training = $L", modes.get(0));
    if (modes.size() > 1) {
      b.beginControlFlow("if ($L)", modes.subList(1, modes.size()).stream().map(m -> m + " != training").collect(Collectors.joining(" || ")))
          .add("// modules in different modes ($L): the eager $L, as written\n", String.join(", ", owners.stream()
              .map(o -> o.isEmpty() ? "the model" : o).toList()), method)
          .addStatement("return $L", eager)
          .endControlFlow();
    }
    return b.build();
  }

  // ------------------------------------------------------------------ a forward that reads the training mode

  /**
   * A forward that reads the training mode ({@code if (isTraining())}, {@link dev.kiln.processor.ir.Modes}): this graph
   * (forward in training) and {@code evaluation}'s, each in an inner class of its own (plans, forward, CUDA form, Plan
   * and Backward), and the forward that runs the one of the call's mode, whose backward node then follows that mode.
   * Where forward reads the modes of several modules (the model's, a block's) and they differ ({@code h.0.eval()} in a
   * training model), the eager forward runs, as written.
   */
  private void addModeMembers(TypeSpec.Builder type, Generator evaluation) {
    modeGraph = true;
    evaluation.modeGraph = true;
    addCompiledBeside(type, "compiledTraining", CodeBlock.of("Forward compiled for training ($L): its own plans, backward node"
        + " and CUDA form.\n", modeReads()));
    evaluation.addCompiledBeside(type, "compiledEvaluation", CodeBlock.of("Forward compiled for evaluation: its own plans,"
        + " backward node and CUDA form.\n"));
    CodeBlock.Builder b = modeChoice(type, ir.modes().owners(), "forward", "super.forward(x)").toBuilder();
    b.addStatement("return training ? compiledTraining.forward(x) : compiledEvaluation.forward(x)");
    type.addMethod(MethodSpec.methodBuilder("forward").addAnnotation(Override.class).addModifiers(Modifier.PUBLIC)
        .returns(TENSOR).addParameter(TENSOR, "x").addCode(summaryGuard("forward")).addCode(b.build()).build());
  }

  /** Where forward reads the training mode, for comments: {@code isTraining() at Model.java:20, h.0's at Block.java:12}. */
  private String modeReads() {
    Map<String, Set<String>> lines = new LinkedHashMap<>();
    ir.modes().reads().forEach(r -> lines.computeIfAbsent(r.owner(), o -> new LinkedHashSet<>()).add(r.source().where()));
    return lines.entrySet().stream().map(e -> (e.getKey().isEmpty() ? "isTraining()" : e.getKey() + "'s") + " at "
        + String.join(", ", e.getValue())).collect(Collectors.joining("; "));
  }

  /** The input's check: float values of one sample's shape, or ids (a label tensor) when an Embedding reads them. */
  private String batchSizeCheck() {
    return ir.takesIds() ? "batchSizeOfIds" : "batchSize";
  }

  private MethodSpec forwardMethod(CodeBlock body) {
    return MethodSpec.methodBuilder("forward")
        .addAnnotation(Override.class)
        .addModifiers(Modifier.PUBLIC)
        .returns(TENSOR)
        .addParameter(TENSOR, "x")
        .addCode(summaryGuard("forward"))
        .addCode(cudaGuard("forward"))
        .addCode(body)
        .build();
  }

  /**
   * While {@code summary()} records the layers a forward applies, the eager forward runs instead of
   * the fused code (which applies no layer): the declaration's own method, or the factory's Sequential.
   */
  private CodeBlock summaryGuard(String method) {
    return CodeBlock.builder()
        .beginControlFlow("if (recordingLayers())")
        .add("// summary() is recording: the layers' eager forwards, each seen as it is applied\n")
        .addStatement("return $L.$L(x)", ir.form() == ModelIr.Form.METHOD ? "eager" : "super", method)
        .endControlFlow()
        .build();
  }

  /**
   * {@code to}, {@code train} and {@code eval} returning the generated type (they return {@code
   * Module} in {@code Module}), so that {@code KilnNet net = new KilnNet().to(device)} compiles.
   */
  private void addSelfTypedOverrides(TypeSpec.Builder type) {
    TypeName self = parameterized(ClassName.get(ir.packageName(), name));
    type.addMethod(selfTyped(self, "to", ClassName.get("dev.kiln.runtime", "Device"), "device"))
        .addMethod(selfTyped(self, "train", null, null))
        .addMethod(selfTyped(self, "train", TypeName.BOOLEAN, "on"))
        .addMethod(selfTyped(self, "eval", null, null));
  }

  /** The type variables of a generic model class ({@code <T>} of {@code Net<T>}); none for a factory method's model. */
  private List<TypeVariableName> typeVariables() {
    return ir.form() != ModelIr.Form.CLASS ? List.of()
        : ((TypeElement) ir.element()).getTypeParameters().stream().map(TypeVariableName::get).toList();
  }

  /** {@code type} with the model's type variables as arguments, or {@code type} itself when there are none. */
  private TypeName parameterized(ClassName type) {
    List<TypeVariableName> vars = typeVariables();
    return vars.isEmpty() ? type : ParameterizedTypeName.get(type, vars.toArray(new TypeName[0]));
  }

  /** {@code public Self method(param) { super.method(param); return this; }}, without a parameter if its type is null. */
  private static MethodSpec selfTyped(TypeName self, String method, TypeName paramType, String param) {
    MethodSpec.Builder m = MethodSpec.methodBuilder(method).addAnnotation(Override.class).addModifiers(Modifier.PUBLIC).returns(self);
    if (paramType != null) {
      m.addParameter(paramType, param);
    }
    return m.addStatement("super.$L($L)", method, param == null ? "" : param).addStatement("return this").build();
  }

  /** The sample shape of the declaration's {@code @Model(input = ...)}, for {@code summary()}. */
  private MethodSpec declaredInputShape() {
    int[] sample = Arrays.copyOfRange(model.inputShape(), 1, model.inputShape().length);
    return MethodSpec.methodBuilder("declaredInputShape")
        .addAnnotation(Override.class)
        .addModifiers(Modifier.PROTECTED)
        .returns(int[].class)
        .addStatement("return new int[] {$L}", joined(sample))
        .build();
  }

  /**
   * The fused code works on host arrays; on CUDA, {@link #forwardCuda} runs instead. A forward that
   * returns a component of the several-outputs method runs the declared forward, which calls that
   * method, whose override runs its own CUDA plan.
   */
  private CodeBlock cudaGuard(String method) {
    List<String> params = parameterExpressions();
    String args = params.isEmpty() ? "" : ", " + String.join(", ", params);
    CodeBlock.Builder b = CodeBlock.builder().beginControlFlow("if ($T.onCuda($S, x$L$L))", COMPILED, name, furtherArguments(), args);
    if (outputs == null) {
      b.addStatement("return forwardCuda(x$L)", furtherArguments());
    } else {
      b.add("// the declared $L calls $L, whose CUDA form runs\n", method, outputs.method())
          .addStatement("return super.$L(x)", method);
    }
    return b.endControlFlow().build();
  }

  /**
   * The plan on CUDA: one call per planned step, recorded on the tape. Steps with a fused
   * element-wise chain (Linear + ReLU, batch norm with its ReLU and pooling) run the kernels this
   * class's CUDA source defines ({@link CudaSource}); the others (convolution, a Linear alone,
   * pooling, dropout, views) run their layers' eager CUDA kernels (cuDNN, cuBLAS).
   */
  private MethodSpec forwardCuda(boolean hasSource) {
    int[] sample = Arrays.copyOfRange(model.inputShape(), 1, model.inputShape().length);
    CodeBlock.Builder b = CodeBlock.builder().addStatement("int n = $T.$L($S, x, $L)", COMPILED, batchSizeCheck(), name,
        joined(sample));
    checkFurtherInputs(b);
    declareTrainingFlags(b);
    Map<String, String> locals = new LinkedHashMap<>();
    cudaLocals = locals; // (an ids step of two values names its second operand's local: eagerCall)
    locals.put(ir.inputName(), "x");
    for (int j = 1; j <= ir.further().size(); j++) {
      locals.put(ir.further().get(j - 1).name(), "x" + j);
    }
    tensorsRead().forEach(t -> locals.put(t.value(), fieldExpression(t)));
    for (TensorIr t : parameterWheres()) { // one eager where on the tape, read by every step that reads it, as eager's
      b.addStatement("$T $L = $L", TENSOR, whereLocal(t, "Value"), fieldExpression(t));
      locals.put(t.value(), whereLocal(t, "Value"));
    }
    Map<Split, String> splitArrays = new HashMap<>();
    Map<String, String> sharedMasks = sharedCudaMasks();
    String last = "x";
    for (int j = 0; j < kernels.size(); j++) {
      Kernel k = kernels.get(j);
      b.add("// $L: $L -> $L   $L\n", k.label(), inShapes(k), Shapes.toString(k.outShape()), k.source().where());
      String in = locals.get(k.in());
      String out = k.out();
      String step = CudaSource.step(j);
      if (folded(k)) {
        b.add(foldedNote(k));
        continue;
      }
      if (k.spec() instanceof Split.Piece piece) {
        pieceOnCuda(b, piece, in, out, splitArrays);
        locals.put(out, out);
        last = out;
        continue;
      }
      switch (k.kind()) {
        case MATMUL -> {
          Kernel.Product m = k.product();
          if (k.fieldOnLeft()) { // the field repeated over the batch: eager's product on the tape (a strided-batched GEMM)
            b.addStatement("$T $L = $T.matmul($L, $L)", TENSOR, out, F, locals.get(k.inputs().get(1)), in);
            break;
          }
          if (k.byField()) { // every row times the field: one GEMM (count 1) over the batch's rows, its gradient summed over them
            b.addStatement("$T $L = $T.matmul($L, false, $L, $L, $Lf, 1, $L, $L, $L, $L)", TENSOR, out, CUDA_COMPILED, in,
                locals.get(k.inputs().get(1)), m.transB(), m.alpha(), fieldRows(k), m.n(), m.k(), batchShape(k.outShape()));
            break;
          }
          b.addStatement("$T $L = $T.matmul($L, $L, $L, $L, $Lf, $L, $L, $L, $L, $L)", TENSOR, out, CUDA_COMPILED, in, m.transA(),
              locals.get(k.inputs().get(1)), m.transB(), m.alpha(), m.count(), m.m(), m.n(), m.k(), batchShape(k.outShape()));
        }
        case LINEAR -> {
          if (k.relu()) {
            String layer = layerField(k.layer());
            b.addStatement("$T $L = $T.linearRelu(CudaCode.SOURCE, $S, $L, $L.weight(), $L, $L, $L)", TENSOR, out, CUDA_COMPILED, step, in, layer,
                k.linear().bias() ? layer + ".bias()" : "null", rows(k), batchShape(k.outShape()));
          } else {
            b.addStatement("$T $L = $L.apply($L)", TENSOR, out, layerField(k.layer()), in);
          }
        }
        case BATCHNORM -> {
          BatchNorm.Options o = (BatchNorm.Options) k.spec();
          String bn = layerField(k.layer());
          String affine = o.affine() ? bn + ".weight(), " + bn + ".bias()" : "null, null";
          b.beginControlFlow("if (training[$L])", j + 1)
              .addStatement("$T.requireBatchStatistics(n, $L)", COMPILED, joined(Arrays.copyOfRange(k.inShape(), 1, k.inShape().length)))
              .endControlFlow();
          Integer pool = pooledInOnePass.get(k.out());
          if (pool != null) {
            out = kernels.get(pool).out();
            b.addStatement("$T $L = $T.batchNormReluMaxPool2x2(CudaCode.SOURCE, $S, $L, $L.runningMean(), $L.runningVar(), $L, training[$L], n, $L, $L)",
                TENSOR, out, CUDA_COMPILED, step, in, bn, bn, affine, j + 1, k.channels(), batchShape(kernels.get(pool).outShape()));
          } else {
            b.addStatement("$T $L = $T.batchNorm(CudaCode.SOURCE, $S, $L, $L.runningMean(), $L.runningVar(), $L, training[$L], n, $L)",
                TENSOR, out, CUDA_COMPILED, step, in, bn, bn, affine, j + 1, k.channels());
          }
          b.beginControlFlow("if (training[$L])", j + 1)
              .addStatement("$T.countBatch($L.numBatchesTracked())", COMPILED, bn)
              .endControlFlow();
        }
        case POOL -> {
          if (pooledInOnePass.containsKey(k.in())) {
            b.add("// computed with the batch norm above, in one pass\n");
            last = out;
            continue;
          }
          b.addStatement("$T $L = $L", TENSOR, out, eagerCall(k, in));
        }
        case ADD -> {
          String other = locals.get(k.inputs().get(1));
          b.addStatement(k.relu() ? "$T $L = $T.relu($T.add($L, $L))" : "$T $L = $T.add($L, $L)",
              k.relu() ? new Object[] {TENSOR, out, F, F, in, other} : new Object[] {TENSOR, out, F, in, other});
        }
        case MUL -> b.addStatement("$T $L = $T.mul($L, $L)", TENSOR, out, F, in, locals.get(k.inputs().get(1)));
        case SUB, DIV -> { // the eager ops on the tape, the operands as written
          String other = locals.get(k.inputs().get(1));
          b.addStatement("$T $L = $T.$L($L, $L)", TENSOR, out, F, k.kind() == Kernel.Kind.SUB ? "sub" : "div",
              k.swapped() ? other : in, k.swapped() ? in : other);
        }
        case MASKED_FILL -> {
          MaskedFill m = (MaskedFill) k.spec();
          String mask = m.byValue() ? locals.get(k.inputs().get(1)) : cudaMaskField(m);
          CodeBlock selects = m.test() == dev.kiln.runtime.cpu.MaskTest.NONZERO ? CodeBlock.of("$L", mask)
              : CodeBlock.of("$L.$L($L)", mask, m.test().name().toLowerCase(java.util.Locale.ROOT), floatLiteral(m.against()));
          String shared = cudaMaskKey(k);
          if (sharedMasks.containsKey(shared)) { // a mask several fills read: compared once, on its first fill
            if (sharedMasks.get(shared) == null) {
              sharedMasks.put(shared, out + "_1");
              b.addStatement("$T $L = $L", TENSOR, out + "_1", selects);
            }
            selects = CodeBlock.of("$L", sharedMasks.get(shared));
          }
          b.addStatement("$T $L = $T.maskedFill($L, $L, $L)", TENSOR, out, F, in, selects, floatLiteral(m.value()));
        }
        case CAT -> b.addStatement("$T $L = $T.cat($T.of($L), $L)", TENSOR, out, TENSOR, ClassName.get("java.util", "List"),
            k.inputs().stream().map(locals::get).collect(Collectors.joining(", ")), ((Cat) k.spec()).dim());
        case RECURRENT -> cudaRecurrent(b, k, out, in, k.initialStates() ? locals.get(k.inputs().get(1)) : null);
        case COSINE -> b.addStatement("$T $L = $T.cosineSimilarity($L, $L, $L, $L)", TENSOR, out, F, in, locals.get(k.inputs().get(1)),
            ((Cosine) k.spec()).dim(), floatLiteral(((Cosine) k.spec()).eps()));
        case WHERE -> b.addStatement("$T $L = $T.where($L, $L, $L)", TENSOR, out, TENSOR, locals.get(k.inputs().get(2)),
            k.swapped() ? locals.get(k.inputs().get(1)) : in, k.swapped() ? in : locals.get(k.inputs().get(1)));
        case COMPARE -> b.addStatement("$T $L = $L", TENSOR, out, k.inputs().size() == 1 ? eagerCall(k, in) // x.lt(y) as written
            : CodeBlock.of("$L.$L($L)", k.swapped() ? locals.get(k.inputs().get(1)) : in, ((Compare) k.spec()).method(),
                k.swapped() ? in : locals.get(k.inputs().get(1))));
        case GROUPNORM -> b.addStatement("$T $L = $L", TENSOR, out, eagerCall(k, in)); // the layer's eager device kernels
        case POINTWISE_PAIR -> b.addStatement("$T $L = $L.$L($L)", TENSOR, out, in, ((PointwisePair) k.spec()).method(),
            locals.get(k.inputs().get(1)));
        case VIEW, RELU, ACTIVATION, POINTWISE, CONV, LAYERNORM, DROPOUT, AVGPOOL, UPSAMPLE, PAD, NORMALIZE, LINE, TILE, PERMUTE, SCALE, SHIFT, REDUCE,
            EMBEDDING, SLICE, IDS -> b.addStatement("$T $L = $L", TENSOR,
            out, eagerCall(k, in));
      }
      locals.put(out, out);
      last = out;
    }
    String doc = hasSource
        ? "The plan on CUDA, step by step on the tape: the fused element-wise chains run the kernels of {@link CudaCode},\n"
            + "the other steps their layers' CUDA kernels (cuDNN, cuBLAS)"
        : "The plan on CUDA, step by step on the tape, each step running its layer's CUDA kernels (cuDNN, cuBLAS)";
    if (outputs == null) {
      b.addStatement("return $L", locals.get(last));
      return MethodSpec.methodBuilder("forwardCuda").addModifiers(Modifier.PRIVATE).returns(TENSOR).addParameters(inputParameters())
          .addJavadoc(doc + ".\n").addCode(b.build()).build();
    }
    b.addStatement("return new $T[] {$L}", TENSOR, outputs.results().stream().map(locals::get).collect(Collectors.joining(", ")));
    return MethodSpec.methodBuilder(cudaOutputsMethod()).addModifiers(Modifier.PRIVATE).returns(ArrayTypeName.of(TENSOR))
        .addParameters(inputParameters())
        .addJavadoc(doc + "; the outputs of $L in order ($L).\n", outputs.method(), String.join(", ", outputs.components()))
        .addCode(b.build()).build();
  }

  /**
   * A recurrent step on CUDA: the eager layer on the device, its {@code apply}; or, with its last states after the
   * output ({@code forwardWithState} in forward), its {@code forwardWithState}, the output and the states joined into
   * the plan's one value ({@code CudaCompiled.withLastStates}, the CPU plan's layout).
   */
  private void cudaRecurrent(CodeBlock.Builder b, Kernel k, String out, String in, String init) {
    if (!k.lastStates() && init == null) {
      b.addStatement("$T $L = $L", TENSOR, out, eagerCall(k, in));
      return;
    }
    String states = in;
    if (init != null) { // h0 (and c0) [L * D, N, H] on the tape, out of the value holding them (null for zeros)
      Recurrent.Spec r = k.recurrent();
      int only = ((InitialStates) k.spec()).only();
      if (only != 1) {
        b.addStatement("$T $LH0 = $T.initialState($L, false, $L, $L, $L)", TENSOR, out, CUDA_COMPILED, init, r.numLayers(),
            r.directions(), r.hiddenSize());
      }
      states = in + ", " + (only == 1 ? "null" : out + "H0");
      if (r.mode().equals("LSTM")) {
        if (only != 0) {
          b.addStatement("$T $LC0 = $T.initialState($L, true, $L, $L, $L)", TENSOR, out, CUDA_COMPILED, init, r.numLayers(),
              r.directions(), r.hiddenSize());
        }
        states += ", " + (only == 0 ? "null" : out + "C0");
      }
    }
    if (!k.lastStates()) {
      b.addStatement("$T $L = $L.forwardWithState($L).output()", TENSOR, out, layerField(k.layer()), states);
      return;
    }
    b.addStatement("$T $LStates = $L.forwardWithState($L)", RECURRENT_OUTPUT, out, layerField(k.layer()), states)
        .addStatement("$T $L = $T.withLastStates($LStates.output(), $LStates.h(), $LStates.c())", TENSOR, out, CUDA_COMPILED, out, out,
            out);
  }

  /**
   * A piece of a split on CUDA: the eager split, called once for all the pieces forward reads ({@code Tensor[]
   * s1 = v2.split(8, 2)}), so that their gradients reach the source through its one node, as in eager mode.
   */
  private static void pieceOnCuda(CodeBlock.Builder b, Split.Piece piece, String in, String out, Map<Split, String> splitArrays) {
    String array = splitArrays.get(piece.split());
    if (array == null) {
      array = "s" + piece.split().id();
      splitArrays.put(piece.split(), array);
      b.addStatement("$T[] $L = $L.$L", TENSOR, array, in, piece.split().call());
    }
    b.addStatement("$T $L = $L[$L]", TENSOR, out, array, piece.index());
  }

  /** This plan's CUDA source, or null when no step has generated kernels. */
  private String cudaSource() {
    return CudaSource.of(name, ir.source().where(), kernels, pooledInOnePass);
  }

  /** The name of the CUDA form of a several-outputs method: {@code forwardWithHiddenCuda}. */
  private String cudaOutputsMethod() {
    return outputs.method() + "Cuda";
  }

  /** The nested class holding a plan's CUDA source, named {@code generated} in the kernels' errors. */
  private TypeSpec cudaCode(String generated, String source) {
    return TypeSpec.classBuilder("CudaCode")
        .addModifiers(Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
        .addJavadoc("The CUDA C source of the plan's fused element-wise kernels, compiled by NVRTC at first use and cached\n"
            + "by source.\n")
        .addField(FieldSpec.builder(CUDA_SOURCE, "SOURCE", Modifier.STATIC, Modifier.FINAL)
            .initializer("new $T($S, $S)", CUDA_SOURCE, generated, source)
            .build())
        .build();
  }

  /**
   * The rows of ids built in forward ({@link ConstantIds}, {@code wpe.apply(pos)}): eager mode's lookup of the ids into
   * the first sample, copied to the others (eager mode's add repeats its {@code [S, D]} over the batch).
   */
  private void constantIdsForward(CodeBlock.Builder b, Kernel k, ConstantIds c, int step, Ref out) {
    String local = "rows$" + step;
    b.addStatement("float[] $LIds = {$L}", local, Arrays.stream(c.ids()).mapToObj(i -> i + "f").collect(Collectors.joining(", ")))
        .addStatement("$T $LW = $L.weight()", TENSOR, local, layerField(k.layer()))
        .addStatement("$T.embeddingForward($L, $L, $LIds, 0, $L, $LW.readBuffer(), $LW.offset(), $L, $L, new int[] {$L})", KERNELS,
            out.array, out.offset, local, c.ids().length, local, local, c.embedding().numEmbeddings(), c.embedding().embeddingDim(),
            joined(c.shape()))
        .beginControlFlow("for (int s = 1; s < n; s++)")
        .addStatement("System.arraycopy($L, $L, $L, $L + s * $L, $L)", out.array, out.offset, out.array, out.offset, c.perSample(),
            c.perSample())
        .endControlFlow();
  }

  /**
   * The weight's gradient from the rows of ids built in forward: the incoming gradient summed over the batch as eager
   * mode's broadcast add sums it ({@code biasGradient} for its {@code [S, D]}, {@code sumRepeatedBackward} for {@code [1,
   * S, D]}), then added into each id's row (none into a padding row).
   */
  private void constantIdsBackward(CodeBlock.Builder b, Kernel k, ConstantIds c, int step, Ref d) {
    String local = "rows$" + step;
    String layer = layerField(k.layer());
    b.addStatement("float[] $LGW = $T.gradBuffer($L.weight(), $L)", local, COMPILED, layer, recordedNeed(layer + ".weight()"))
        .beginControlFlow("if ($LGW != null)", local)
        .addStatement("float[] $LIds = {$L}", local, Arrays.stream(c.ids()).mapToObj(i -> i + "f").collect(Collectors.joining(", ")))
        .addStatement("float[] $LG = new float[$L]", local, c.perSample())
        .addStatement(c.shape().length > c.sampleShape().length // [1, S, D]: repeated over the batch, else a suffix ([S, D])
            ? CodeBlock.of("$T.sumRepeatedBackward($LG, 0, $L, $L, null, 0, null, 0, 1, n, $L, false)", KERNELS, local, d.array,
                d.offset, c.perSample())
            : CodeBlock.of("$T.biasGradient($LG, 0, $L, $L, n, $L, false)", KERNELS, local, d.array, d.offset, c.perSample()))
        .addStatement("$T.embeddingBackward($LGW, 0, $LG, 0, $LIds, 0, $L, $L, $L)", KERNELS, local, local, local, c.ids().length,
            c.embedding().embeddingDim(), c.embedding().paddingIdx())
        .endControlFlow();
  }

  /**
   * The eager call of a step without generated CUDA code: a convolution's layer's {@code apply}
   * (the fused class keeps fields for the layers with parameters only), else the function.
   */
  private CodeBlock eagerCall(Kernel k, String in) {
    if (k.spec() instanceof IdOp op && op.values() != null) { // ids.add(pos): the constant ids on the ids' device
      CodeBlock values = CodeBlock.of("$T.labels($L).reshape($L).to($L.device())", TENSOR,
          Arrays.stream(op.values()).mapToObj(String::valueOf).collect(Collectors.joining(", ")), joined(op.valuesShape()), in);
      String method = op.valuesMethod();
      return op.valuesFirst() ? CodeBlock.of("$L.$L($L)", values, method, in) : CodeBlock.of("$L.$L($L)", in, method, values);
    }
    if (k.spec() instanceof IdOp op && op.pair()) { // users.mul(V).add(items): eager's ids of two values on the device
      return CodeBlock.of("$L.$L($L)", in, op.valuesMethod(), cudaLocals.get(k.inputs().get(1)));
    }
    if (k.spec() instanceof IdOp op) { // ids.add(1): eager's integer arithmetic of the ids on the device
      return CodeBlock.of("$L.$L", in, op.call());
    }
    if (k.spec() instanceof ConstantIds c) { // eager mode's [S, D], which the add that reads it repeats over the batch
      return CodeBlock.of("$L.apply($T.labels($L).reshape($L).to($L.device()))", layerField(k.layer()), TENSOR,
          Arrays.stream(c.ids()).mapToObj(String::valueOf).collect(Collectors.joining(", ")), joined(c.shape()), in);
    }
    if (k.functionalConv()) {
      return functionalConvCall(k, in);
    }
    if (k.spec() instanceof GroupNormOf f) { // eager's F.groupNorm on the device
      TensorIr w = groupNormField(k, true), bias = groupNormField(k, false);
      return CodeBlock.of("$T.groupNorm($L, $L, $L, $L, $L)", F, in, f.groups(), w == null ? "null" : fieldExpression(w),
          bias == null ? "null" : fieldExpression(bias), f.eps());
    }
    if (k.kind() == Kernel.Kind.CONV || k.kind() == Kernel.Kind.LAYERNORM || k.kind() == Kernel.Kind.EMBEDDING
        || k.kind() == Kernel.Kind.RECURRENT || k.kind() == Kernel.Kind.GROUPNORM) {
      return CodeBlock.of("$L.apply($L)", layerField(k.layer()), in);
    }
    if (k.kind() == Kernel.Kind.DROPOUT) {
      return CodeBlock.of("$T.$L($L, $L, training[$L])", F, k.spec() instanceof Dropout2d.Spec ? "dropout2d" : "dropout", in, dropoutP(k),
          kernels.indexOf(k) + 1);
    }
    if (k.spec() instanceof Dropout.Spec || k.spec() instanceof Dropout2d.Spec) { // p = 0: planned as a view, the value itself
      return CodeBlock.of("$L", in);
    }
    return Functions.call(k.spec(), in);
  }

  /**
   * A softmax step's input seen as {@code [outer, size, inner]} around its dimension, as the kernels
   * take it: {@code n * 4, 10, 1} along the last of {@code [N, 4, 10]}; {@code 1, n, 40} along the batch.
   */
  private static CodeBlock softmaxAxes(Kernel k) {
    int[] oneSample = k.inShape().clone();
    oneSample[0] = 1;
    int dim = Shapes.normalizeDim(k.spec() instanceof Softmax.Spec s ? s.dim() : ((LogSoftmax.Spec) k.spec()).dim(),
        oneSample.length);
    int[] a = Shapes.along(oneSample, dim); // outer per sample, size, inner
    return dim == 0 ? CodeBlock.of("1, n, $L", a[2])
        : CodeBlock.of("$L, $L, $L", a[0] == 1 ? "n" : "n * " + a[0], a[1], a[2]);
  }

  /** The kernels' name of a softmax or log-softmax step: {@code softmax}, {@code logSoftmax}. */
  private static String softmaxName(Kernel k) {
    return k.spec() instanceof Softmax.Spec ? "softmax" : "logSoftmax";
  }

  /** The kernels' name of a convolution step: {@code conv2d}, or {@code convTranspose2d} for a transposed one. */
  private static String convName(Kernel k) {
    return k.spec() instanceof ConvTranspose2d.Spec ? "convTranspose2d" : "conv2d";
  }

  /** Whether a convolution step's layer has a bias. */
  private static boolean convBias(Kernel k) {
    return k.spec() instanceof ConvTranspose2d.Spec t ? t.bias() : asConv2d(k.spec()).bias();
  }

  // ------------------------------------------------------------------ a transposed convolution's large output padding

  /**
   * The shape of the input a transposed convolution's kernels read when its output padding is at least its stride (below
   * its dilation, as PyTorch allows): the convolution that maps its output back has more rows (columns) than x, so x is read
   * padded with zeros at the bottom and right ({@code p.padded<j>}), as eager mode pads it, and its gradient is the top
   * left of the padded one's ({@code p.dPadded<j>}); null for any other step.
   */
  private static int[] paddedInput(Kernel k) {
    if (!(k.spec() instanceof ConvTranspose2d.Spec c)) {
      return null;
    }
    int[] in = k.inShape(), out = k.outShape();
    int h = (out[2] + 2 * c.padH() - c.dilationH() * (c.kernelH() - 1) - 1) / c.strideH() + 1;
    int w = (out[3] + 2 * c.padW() - c.dilationW() * (c.kernelW() - 1) - 1) / c.strideW() + 1;
    return h == in[2] && w == in[3] ? null : new int[] {-1, in[1], h, w};
  }

  // ------------------------------------------------------------------ F.conv2d / F.conv1d of tensor fields

  /** A functional convolution's ({@link Kernel#functionalConv}) weight (input 1) or bias (input 2; null without one). */
  private TensorIr convField(Kernel k, int input) {
    return input < k.inputs().size() ? ir.tensor(k.inputs().get(input)) : null;
  }

  /** A tensor field as a kernel's array and offset arguments ({@code w.readBuffer(), w.offset()}), or {@code null, 0} for none. */
  private String fieldArguments(TensorIr t) {
    return t == null ? "null, 0" : readExpression(t) + ".readBuffer(), " + fieldOffset(t);
  }

  /**
   * The gradient buffer a functional convolution or group norm adds a field's gradient into: a parameter's own, or null (a
   * buffer, or none given).
   */
  private CodeBlock convFieldGradient(TensorIr t) {
    return t == null || !t.isParameter() ? CodeBlock.of("null")
        : CodeBlock.of("$T.gradBuffer($L, $L)", COMPILED, tensorField(t), recordedNeed(tensorField(t)));
  }

  /** Eager mode's {@code F.conv2d(x, w, b, stride, padding, dilation, groups)} (conv1d) of a functional convolution: the CUDA step. */
  private CodeBlock functionalConvCall(Kernel k, String in) {
    TensorIr w = convField(k, 1), bias = convField(k, 2);
    String b = bias == null ? "null" : fieldExpression(bias);
    if (k.spec() instanceof Conv1d.Spec c) {
      return CodeBlock.of("$T.conv1d($L, $L, $L, $L, $L, $L, $L)", F, in, fieldExpression(w), b, c.stride(), c.padding(), c.dilation(),
          c.groups());
    }
    Conv2d.Spec c = (Conv2d.Spec) k.spec();
    return CodeBlock.of("$T.conv2d($L, $L, $L, $L, $L, $L, $L)", F, in, fieldExpression(w), b, c.strideH(), c.padH(), c.dilationH(),
        c.groups());
  }

  // ------------------------------------------------------------------ 1-d layers as their 2-d forms

  /*
   * A Conv1d, MaxPool1d, AvgPool1d or AdaptiveAvgPool1d step runs the 2-d kernels over [N, C, 1, L] (the same
   * values in the same order as [N, C, L]) with windows of height 1, as eager mode's Ops.conv1d and its siblings.
   */

  /** A shape {@code [N, C, L]} as the 2-d kernels see it, {@code [N, C, 1, L]}; an image's as it is. */
  private static int[] asImage(int[] shape) {
    return shape.length == 3 ? new int[] {shape[0], shape[1], 1, shape[2]} : shape;
  }

  /** A convolution step's Conv2d: its own, or the one over {@code [N, C, 1, L]} of a Conv1d. */
  private static Conv2d.Spec asConv2d(LayerSpec spec) {
    return spec instanceof Conv1d.Spec c ? c.asConv2d() : (Conv2d.Spec) spec;
  }

  /** A max pooling's {@code Pool2dShape} window: kernel, stride and padding along height and width, and the ceil mode. */
  private static CodeBlock maxPoolWindow(LayerSpec spec) {
    if (spec instanceof MaxPool1d.Spec m) {
      return CodeBlock.of("1, $L, 1, $L, 0, $L, $L", m.kernelSize(), m.stride(), m.padding(), m.ceilMode());
    }
    MaxPool2d.Spec m = (MaxPool2d.Spec) spec;
    return CodeBlock.of("$L, $L, $L, $L, $L, $L, $L", m.kernelSize(), m.kernelSize(), m.stride(), m.stride(), m.padding(),
        m.padding(), m.ceilMode());
  }

  /** An average pooling's {@code AvgPool2dShape} for an input of {@code image}'s height and width. */
  private static CodeBlock avgPoolShape(LayerSpec spec, int[] image) {
    int h = image[2], w = image[3];
    if (spec instanceof AvgPool2d.Spec a) {
      return CodeBlock.of("$T.fixed($L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", AVG_SHAPE, h, w, a.kernelSize(), a.kernelSize(),
          a.stride(), a.stride(), a.padding(), a.padding(), a.ceilMode(), a.countIncludePad());
    }
    if (spec instanceof AvgPool1d.Spec a) {
      return CodeBlock.of("$T.fixed($L, $L, 1, $L, 1, $L, 0, $L, $L, $L)", AVG_SHAPE, h, w, a.kernelSize(), a.stride(), a.padding(),
          a.ceilMode(), a.countIncludePad());
    }
    if (spec instanceof AdaptiveAvgPool1d.Spec a) {
      return CodeBlock.of("$T.adaptive($L, $L, 1, $L)", AVG_SHAPE, h, w, a.size());
    }
    AdaptiveAvgPool2d.Spec a = (AdaptiveAvgPool2d.Spec) spec;
    return CodeBlock.of("$T.adaptive($L, $L, $L, $L)", AVG_SHAPE, h, w, a.outH(), a.outW());
  }

  /**
   * An ELU, softplus or hardtanh step's forward: eager mode's kernels ({@code PiecewiseKernels}; hardtanh's values are
   * clamp's, {@code MathKernels.clampForward}), its hyper-parameters the floats eager mode rounds them to.
   */
  private static void piecewiseForward(CodeBlock.Builder b, Kernel k, Ref out, Ref in) {
    if (k.spec() instanceof Hardtanh.Spec h) {
      b.addStatement("$T.clampForward($L, $L, $L, $L, n * $L, $L, $L)", MATH, out.array, out.offset, in.array, in.offset,
          k.outPerSample(), floatLiteral((float) h.minVal()), floatLiteral((float) h.maxVal()));
    } else {
      b.addStatement("$T.$LForward($L, $L, $L, $L, n * $L, $L)", PIECEWISE, piecewiseName(k), out.array, out.offset, in.array,
          in.offset, k.outPerSample(), piecewiseParameters(k));
    }
  }

  /** An ELU, softplus or hardtanh step's backward, from its input: eager mode's {@code PiecewiseKernels}. */
  private static void piecewiseBackward(CodeBlock.Builder b, Kernel k, Ref target, Ref d, Ref in) {
    b.addStatement("$T.$LBackward($L, $L, $L, $L, $L, $L, n * $L, $L)", PIECEWISE, piecewiseName(k), target.array, target.offset,
        d.array, d.offset, in.array, in.offset, k.outPerSample(), piecewiseParameters(k));
  }

  private static String piecewiseName(Kernel k) {
    return k.spec() instanceof ELU.Spec ? "elu" : k.spec() instanceof Softplus.Spec ? "softplus" : "hardtanh";
  }

  /** The floats after the count: {@code alpha}, {@code beta, threshold} or {@code min, max}. */
  private static CodeBlock piecewiseParameters(Kernel k) {
    if (k.spec() instanceof ELU.Spec e) {
      return floatLiteral((float) e.alpha());
    }
    if (k.spec() instanceof Softplus.Spec s) {
      return CodeBlock.of("$L, $L", floatLiteral((float) s.beta()), floatLiteral((float) s.threshold()));
    }
    Hardtanh.Spec h = (Hardtanh.Spec) k.spec();
    return CodeBlock.of("$L, $L", floatLiteral((float) h.minVal()), floatLiteral((float) h.maxVal()));
  }

  // ------------------------------------------------------------------ element-wise functions (Pointwise, PointwisePair)

  /**
   * An element-wise function's forward ({@link Pointwise}): the table's entry through {@code PointwiseKernels.forward}, or
   * {@code MathKernels}' kernel ({@code expForward}, {@code clampForward} with its bounds): eager mode's CPU code.
   */
  private static void pointwiseForward(CodeBlock.Builder b, Kernel k, Ref out, Ref in) {
    Pointwise f = (Pointwise) k.spec();
    if (f.table() != null) {
      b.addStatement("$T.forward($T.$L, $L, $L, $L, $L, n * $L)", POINTWISE, POINTWISE_UNARY, f.table().name(), out.array, out.offset,
          in.array, in.offset, k.outPerSample());
    } else {
      b.addStatement("$T.$LForward($L, $L, $L, $L, n * $L$L)", MATH_KERNELS, f.mathKernel(), out.array, out.offset, in.array,
          in.offset, k.outPerSample(), pointwiseConstants(f));
    }
  }

  /** An element-wise function's backward into {@code target}: the table's gradient (of the input and the output), or MathKernels'. */
  private static void pointwiseBackward(CodeBlock.Builder b, Kernel k, Ref target, Ref d, Ref in, Ref out) {
    Pointwise f = (Pointwise) k.spec();
    if (f.table() != null) {
      b.addStatement("$T.backward($T.$L, $L, $L, $L, $L, $L, $L, $L, $L, n * $L)", POINTWISE, POINTWISE_UNARY, f.table().name(),
          target.array, target.offset, d.array, d.offset, in.array, in.offset, out.array, out.offset, k.outPerSample());
    } else {
      Ref from = f.backwardFromOutput() ? out : in; // exp and sqrt from the output, as eager mode's
      b.addStatement("$T.$LBackward($L, $L, $L, $L, $L, $L, n * $L$L)", MATH_KERNELS, f.mathKernel(), target.array, target.offset,
          d.array, d.offset, from.array, from.offset, k.outPerSample(), pointwiseConstants(f));
    }
  }

  /** {@code , 2.0f} or {@code , -1.0f, Float.POSITIVE_INFINITY}: a MathKernels function's floats after the count. */
  private static CodeBlock pointwiseConstants(Pointwise f) {
    CodeBlock.Builder c = CodeBlock.builder();
    f.kernelConstants().forEach(v -> c.add(", $L", floatLiteral(v)));
    return c.build();
  }

  /** {@code a.maximum(b)}'s forward over its two inputs of the result's shape (expanded before where they broadcast). */
  private void pointwisePairForward(CodeBlock.Builder b, Kernel k, Ref out, Map<String, Ref> refs) {
    Ref a = ref(k.inputs().get(0), refs), other = ref(k.inputs().get(1), refs);
    b.addStatement("$T.forward($T.$L, $L, $L, $L, $L, $L, $L, n * $L)", POINTWISE, POINTWISE_BINARY,
        ((PointwisePair) k.spec()).function().name(), out.array, out.offset, a.array, a.offset, other.array, other.offset,
        k.outPerSample());
  }

  /** The gradient of {@code a.maximum(b)}'s operand {@code w} by the table's formula, written or added ({@code accumulate}). */
  private void pointwisePairBackward(CodeBlock.Builder b, Kernel k, int w, Ref target, boolean accumulate, Ref d,
      Map<String, Ref> refs) {
    Ref a = ref(k.inputs().get(0), refs), other = ref(k.inputs().get(1), refs);
    b.addStatement("$T.backward($T.$L, $L, $L, $L, $L, $L, $L, $L, $L, $L, n * $L, $L)", POINTWISE, POINTWISE_BINARY,
        ((PointwisePair) k.spec()).function().name(), w == 1, target.array, target.offset, d.array, d.offset, a.array, a.offset,
        other.array, other.offset, k.outPerSample(), accumulate);
  }

  /**
   * A normalize step's forward, eager mode's three nodes' kernels: the p-norm along the dimension, clamped below at
   * eps, and the quotient by it repeated along the dimension (an elementwise one where the dimension has size 1, as
   * eager mode's division of two values of one shape).
   */
  private static void normalizeForward(CodeBlock.Builder b, Kernel k, int j, Ref out, Ref in) {
    Normalize s = (Normalize) k.spec();
    int[] a = s.along(k.inShape());
    String outer = times(a[0]);
    b.addStatement("$T.normForward(p.norm$L, 0, $L, $L, $L, $L, $L, $L)", INDEX, j, in.array, in.offset, outer, a[1], a[2],
        (double) s.p());
    b.addStatement("$T.clampForward(p.clamped$L, 0, p.norm$L, 0, $L, $L, $T.POSITIVE_INFINITY)", MATH, j, j, times(a[0] * a[2]),
        floatLiteral(s.eps()), Float.class);
    if (a[1] == 1) {
      b.addStatement("$T.divForward($L, $L, $L, $L, p.clamped$L, 0, n * $L)", ARITHMETIC, out.array, out.offset, in.array,
          in.offset, j, k.inPerSample());
    } else {
      b.addStatement("$T.divRepeatedForward($L, $L, $L, $L, p.clamped$L, 0, $L, $L, $L, false)", ARITHMETIC, out.array,
          out.offset, in.array, in.offset, j, outer, a[1], a[2]);
    }
  }

  /**
   * A normalize step's backward, eager mode's nodes' kernels in turn: the numerator's gradient {@code g / b} into the
   * input's, the denominator's {@code -sum(g y / b)} along the dimension, through the clamp (0 where the norm was below
   * eps) and the norm ({@code IndexKernels.normBackward}, from the norm before the clamp), added to it.
   */
  private static void normalizeBackward(CodeBlock.Builder b, Kernel k, int j, Ref target, Ref d, Ref in, Ref out) {
    Normalize s = (Normalize) k.spec();
    int[] a = s.along(k.inShape());
    String outer = times(a[0]);
    if (a[1] == 1) {
      b.addStatement("$T.numeratorBackward($L, $L, $L, $L, p.clamped$L, 0, n * $L, false)", ARITHMETIC, target.array, target.offset,
          d.array, d.offset, j, k.inPerSample());
      b.addStatement("$T.denominatorBackward(p.dnorm$L, 0, $L, $L, $L, $L, p.clamped$L, 0, n * $L, false)", ARITHMETIC, j, d.array,
          d.offset, out.array, out.offset, j, k.inPerSample());
    } else {
      b.addStatement("$T.numeratorRepeatedBackward($L, $L, $L, $L, p.clamped$L, 0, $L, $L, $L, false)", ARITHMETIC, target.array,
          target.offset, d.array, d.offset, j, outer, a[1], a[2]);
      b.addStatement("$T.denominatorSumBackward(p.dnorm$L, 0, $L, $L, $L, $L, p.clamped$L, 0, $L, $L, $L, false)", ARITHMETIC, j,
          d.array, d.offset, out.array, out.offset, j, outer, a[1], a[2]);
    }
    b.addStatement("$T.clampBackward(p.dnorm$L, 0, p.dnorm$L, 0, p.norm$L, 0, $L, $L, $T.POSITIVE_INFINITY)", MATH, j, j, j,
        times(a[0] * a[2]), floatLiteral(s.eps()), Float.class);
    b.addStatement("$T.normBackward(p.dnormIn$L, 0, p.dnorm$L, 0, $L, $L, p.norm$L, 0, $L, $L, $L, $L)", INDEX, j, j, in.array,
        in.offset, j, outer, a[1], a[2], (double) s.p());
    b.addStatement("$T.accumulate($L, $L, p.dnormIn$L, 0, n * $L)", KERNELS, target.array, target.offset, j, k.inPerSample());
  }

  /** {@code count} per sample over the batch, as generated code: {@code n}, {@code n * 6}. */
  private static String times(int count) {
    return count == 1 ? "n" : "n * " + count;
  }

  /**
   * A constant padding's or a flip's copy, eager mode's coordinate map ({@code IndexKernels.indexMap}) over the batch:
   * forward, {@code to} of the output's shape read from {@code from} at each coordinate minus the padding before it (or
   * reversed along a flipped dimension), the constant outside; backward ({@code inverse}), the input's gradient read
   * from the output's through the inverse map.
   */
  private static void indexMap(CodeBlock.Builder b, Kernel k, Ref to, Ref from, boolean inverse) {
    IndexMap map = (IndexMap) k.spec();
    int rank = k.inShape().length;
    boolean[] flips = map.flips(k.inShape());
    long[] offsets = map.offsets(k.inShape());
    if (inverse) {
      offsets = dev.kiln.runtime.cpu.IndexKernels.inverseOffsets(flips, offsets);
    }
    String flipped = IntStream.range(0, rank).anyMatch(d -> flips[d])
        ? "new boolean[] {" + IntStream.range(0, rank).mapToObj(d -> String.valueOf(flips[d])).collect(Collectors.joining(", ")) + "}"
        : "new boolean[" + rank + "]";
    int[] toShape = inverse ? k.inShape() : k.outShape(), fromShape = inverse ? k.outShape() : k.inShape();
    b.addStatement("$T.indexMap($L, $L, $L, $L, new int[] {$L}, new int[] {$L}, $L, new long[] {$L}, $L)", INDEX,
        to.array, to.offset, from.array, from.offset, batchShape(toShape), batchShape(fromShape), flipped,
        Arrays.stream(offsets).mapToObj(Long::toString).collect(Collectors.joining(", ")), floatLiteral(inverse ? 0f : map.fill()));
  }

  /**
   * An Embedding over ids an argmax computed in forward ({@code emb.apply(logits.argmax(-1))}, in an activation buffer
   * as floats): eager's lookup kernel, which checks each id against the table as eager's does; an id out of range
   * (an argmax along more values than the table has rows) fails with eager's message, the layer and the call before it.
   */
  private void computedIdsForward(CodeBlock.Builder b, Kernel k, Embedding.Spec e, String local, Ref out, Ref in) {
    String shape = Arrays.stream(k.inShape()).skip(1).mapToObj(String::valueOf).collect(Collectors.joining(", "));
    b.beginControlFlow("try")
        .addStatement("$T.embeddingForward($L, $L, $L, $L, n * $L, $LW.readBuffer(), $LW.offset(), $L, $L, new int[] {n, $L})",
            KERNELS, out.array, out.offset, in.array, in.offset, k.inPerSample(), local, local, e.numEmbeddings(),
            e.embeddingDim(), shape)
        .nextControlFlow("catch ($T bad)", IllegalArgumentException.class)
        .addStatement("throw new $T($S + bad.getMessage(), bad)", IllegalArgumentException.class,
            k.label() + " over " + kernels.stream().filter(o -> o.out().equals(k.in())).findFirst().map(Kernel::label)
                .orElse(k.in()) + ": ")
        .endControlFlow();
  }

  /** The shape of the ids an embedding step reads, for messages: the input's tensor ({@code x1.shape()}), or computed ids' {@code new int[] {n, 6}}. */
  private String idsShape(Kernel k) {
    return isInput(storage.get(k.in())) ? "x" + storage.get(k.in()).substring(2) + ".shape()"
        : "new int[] {n, " + Arrays.stream(k.inShape()).skip(1).mapToObj(String::valueOf).collect(Collectors.joining(", ")) + "}";
  }

  /**
   * Integer arithmetic of ids ({@code ids.add(1)}, {@link IdOp}): eager's kernel over the batch's ids, which checks each
   * result's range (and a division by zero) with eager's message.
   */
  private static void idArithmeticForward(CodeBlock.Builder b, Kernel k, Ref out, Ref in, Ref other) {
    IdOp op = (IdOp) k.spec();
    if (op.pair()) { // users.mul(V).add(items): each sample's two operands broadcast to the result's, eager's positions
      idPairForward(b, k, op, out, in, other);
      return;
    }
    if (op.values() != null) { // ids.add(pos): the constant ids repeated over each sample's leading dimensions
      b.addStatement("$T.withValues($T.$L, new int[] {$L}, $L, $L, $L, $L, $L, n * $L)", ID_KERNELS, ID_KERNELS.nestedClass("Op"),
          op.op().name(), Arrays.stream(op.values()).mapToObj(String::valueOf).collect(Collectors.joining(", ")), op.valuesFirst(),
          out.array, out.offset, in.array, in.offset, k.inPerSample());
      return;
    }
    b.addStatement("$T.withConstant($T.$L, $L, $L, $L, $L, $L, $L, n * $L)", ID_KERNELS, ID_KERNELS.nestedClass("Op"), op.op().name(),
        longLiteral(op.c()), longLiteral(op.c2()), out.array, out.offset, in.array, in.offset, k.inPerSample());
  }

  /**
   * Ids of two values of the batch ({@link IdOp#ofPair}): {@code IdKernels.ofSamples} over the batch, each operand's place
   * for each position of a result's sample (null where the operand has the result's shape), so values and errors are
   * eager's broadcast.
   */
  private static void idPairForward(CodeBlock.Builder b, Kernel k, IdOp op, Ref out, Ref a, Ref bRef) {
    int[] result = Arrays.copyOfRange(k.outShape(), 1, k.outShape().length);
    int per = Shapes.numel(result);
    String[] places = new String[2];
    int[] pers = new int[2];
    for (int w = 0; w < 2; w++) {
      int[] own = Arrays.copyOfRange(k.inShapes().get(w), 1, k.inShapes().get(w).length);
      pers[w] = Shapes.numel(own);
      places[w] = Arrays.equals(own, result) ? "null" : "new int[] {" + Arrays.stream(samplePlaces(result, own))
          .mapToObj(String::valueOf).collect(Collectors.joining(", ")) + "}";
    }
    b.addStatement("$T.ofSamples($T.$L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, n)", ID_KERNELS, ID_KERNELS.nestedClass("Op"),
        op.op().name(), out.array, out.offset, a.array, a.offset, places[0], pers[0], bRef.array, bRef.offset, places[1], pers[1],
        per);
  }

  /** For each position of a sample of shape {@code result}, its place in a sample of shape {@code own} broadcast to it (row-major, sizes of 1 repeated). */
  private static int[] samplePlaces(int[] result, int[] own) {
    int[] places = new int[Shapes.numel(result)];
    int[] pos = new int[result.length];
    for (int i = 0; i < places.length; i++) {
      int at = 0;
      for (int d = 0; d < result.length; d++) {
        at = at * own[d] + (own[d] == 1 ? 0 : pos[d]);
      }
      places[i] = at;
      for (int d = result.length - 1; d >= 0 && ++pos[d] == result[d]; d--) {
        pos[d] = 0;
      }
    }
    return places;
  }

  /** {@code 5L}, or {@code Long.MAX_VALUE} and {@code Long.MIN_VALUE} by name (a clamp's missing bound). */
  private static String longLiteral(long v) {
    return v == Long.MAX_VALUE ? "Long.MAX_VALUE" : v == Long.MIN_VALUE ? "Long.MIN_VALUE" : v + "L";
  }

  /**
   * A log-sum-exp's, norm's or running sum's forward: eager mode's line kernel over the input seen as {@code [outer,
   * size, inner]} around the dimension ({@code IndexKernels}).
   */
  private static void lineForward(CodeBlock.Builder b, Kernel k, Ref out, Ref in) {
    LineOp s = (LineOp) k.spec();
    int[] a = s.along(k.inShape());
    switch (s.kind()) {
      case LOGSUMEXP -> b.addStatement("$T.logsumexpForward($L, $L, $L, $L, $L, $L, $L)", INDEX, out.array, out.offset, in.array,
          in.offset, times(a[0]), a[1], a[2]);
      case NORM -> b.addStatement("$T.normForward($L, $L, $L, $L, $L, $L, $L, $L)", INDEX, out.array, out.offset, in.array,
          in.offset, times(a[0]), a[1], a[2], (double) s.p());
      case CUMSUM -> b.addStatement("$T.cumsum($L, $L, $L, $L, $L, $L, $L, false)", INDEX, out.array, out.offset, in.array,
          in.offset, times(a[0]), a[1], a[2]);
      case PROD -> b.addStatement("$T.prodForward($L, $L, $L, $L, $L, $L, $L)", INDEX, out.array, out.offset, in.array, in.offset,
          times(a[0]), a[1], a[2]);
      case AMAX, AMIN -> b.addStatement("$T.extremeAlong($L, $L, $L, $L, $L, $L, $L, $L)", INDEX, out.array, out.offset, in.array,
          in.offset, times(a[0]), a[1], a[2], s.kind() == LineOp.Kind.AMAX);
      case ARGMAX, ARGMIN -> b.addStatement("$T.$L($L, $L, $L, $L, $L, $L, $L)", INDEX,
          s.kind() == LineOp.Kind.ARGMAX ? "argmaxAlong" : "argminAlong", out.array, out.offset, in.array, in.offset, times(a[0]),
          a[1], a[2]);
      case TOPK, BOTTOMK -> { // eager's topk (argsort) kernel: values and positions into scratch, the indices into the plan
        int count = a[0] * s.kept(a[1]) * a[2];
        b.add("{\n").indent()
            .addStatement("float[] rankedIds = new float[n * $L]", count)
            .addStatement("$T.ordered($L, $L, $L, $L, $L, $L, $L, new float[n * $L], rankedIds, new int[n * $L])", SORT, in.array,
                in.offset, times(a[0]), a[1], a[2], s.kept(a[1]), s.kind() == LineOp.Kind.TOPK, count, count)
            .addStatement("System.arraycopy(rankedIds, 0, $L, $L, n * $L)", out.array, out.offset, count)
            .unindent().add("}\n");
      }
    }
  }

  /**
   * A log-sum-exp's, norm's or running sum's backward, eager mode's: {@code g exp(x - y)}, the norm's gradient from the
   * input and the norm, or the running sum of the gradient from the end.
   */
  private static void lineBackward(CodeBlock.Builder b, Kernel k, Ref target, Ref d, Ref in, Ref out) {
    LineOp s = (LineOp) k.spec();
    int[] a = s.along(k.inShape());
    switch (s.kind()) {
      case LOGSUMEXP -> b.addStatement("$T.logsumexpBackward($L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", INDEX, target.array,
          target.offset, d.array, d.offset, in.array, in.offset, out.array, out.offset, times(a[0]), a[1], a[2]);
      case NORM -> b.addStatement("$T.normBackward($L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", INDEX, target.array,
          target.offset, d.array, d.offset, in.array, in.offset, out.array, out.offset, times(a[0]), a[1], a[2], (double) s.p());
      case CUMSUM -> b.addStatement("$T.cumsum($L, $L, $L, $L, $L, $L, $L, true)", INDEX, target.array, target.offset, d.array,
          d.offset, times(a[0]), a[1], a[2]);
      case PROD -> b.addStatement("$T.prodBackward($L, $L, $L, $L, $L, $L, $L, $L, $L)", INDEX, target.array, target.offset, d.array,
          d.offset, in.array, in.offset, times(a[0]), a[1], a[2]);
      case AMAX, AMIN -> b.addStatement("$T.extremeBackward($L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", INDEX, target.array,
          target.offset, d.array, d.offset, in.array, in.offset, out.array, out.offset, times(a[0]), a[1], a[2]);
      case ARGMAX, ARGMIN, TOPK, BOTTOMK -> throw new IllegalStateException("an argmax has no gradient"); // (carriesNoGradient)
    }
  }

  /** A cosine similarity's broadcast shape: both operands' sizes, each 1 stretched to the other's. */
  private static int[] cosineShape(Kernel k) {
    return ((Cosine) k.spec()).broadcast(k.inShapes().get(0), k.inShapes().get(1));
  }

  /** The passes of eager mode's expand of a cosine similarity's operand {@code w} to the broadcast shape; none when it has it. */
  private static int[][] cosineExpansion(Kernel k, int w) {
    return Cosine.expansion(k.inShapes().get(w), cosineShape(k));
  }

  /**
   * A cosine similarity's forward, eager mode's nodes' kernels: an operand of another shape expanded to the broadcast
   * one (eager mode's expand passes, into the plan's {@code expandedJ_W}); for each operand its 2-norm along the
   * dimension, raised to eps in place (PyTorch 1.13 clamps the norm in place), and the quotient by it repeated along the
   * dimension (an elementwise one where the dimension has size 1); the quotients' product, summed along the dimension.
   */
  private static void cosineForward(CodeBlock.Builder b, Kernel k, int j, Ref out, Ref in, Ref other) {
    Cosine s = (Cosine) k.spec();
    int[] shape = cosineShape(k);
    int[] a = s.along(shape);
    int per = perSample(shape);
    List<Ref> operands = List.of(in, other);
    for (int w = 0; w < 2; w++) {
      Ref x = operands.get(w);
      int[][] passes = cosineExpansion(k, w);
      if (passes.length > 0) {
        Ref expanded = new Ref("p.expanded" + j + "_" + w, "0", true);
        spreadPasses(b, passes, x, expanded, "p.expanding" + j + "_" + w + "_");
        x = expanded;
      }
      b.addStatement("$T.normForward(p.norm$L_$L, 0, $L, $L, $L, $L, $L, 2.0)", INDEX, j, w, x.array, x.offset, times(a[0]), a[1], a[2]);
      b.addStatement("$T.clampForward(p.norm$L_$L, 0, p.norm$L_$L, 0, $L, $L, $T.POSITIVE_INFINITY)", MATH, j, w, j, w,
          times(a[0] * a[2]), floatLiteral(s.eps()), Float.class);
      if (a[1] == 1) {
        b.addStatement("$T.divForward(p.quotient$L_$L, 0, $L, $L, p.norm$L_$L, 0, n * $L)", ARITHMETIC, j, w, x.array, x.offset, j, w,
            per);
      } else {
        b.addStatement("$T.divRepeatedForward(p.quotient$L_$L, 0, $L, $L, p.norm$L_$L, 0, $L, $L, $L, false)", ARITHMETIC, j, w,
            x.array, x.offset, j, w, times(a[0]), a[1], a[2]);
      }
    }
    b.addStatement("$T.mulForward(p.product$L, 0, p.quotient$L_0, 0, p.quotient$L_1, 0, n * $L)", KERNELS, j, j, j, per);
    b.addStatement("$T.sumAlong($L, $L, p.product$L, 0, $L, $L, $L, 1f)", MATH, out.array, out.offset, j, times(a[0]), a[1], a[2]);
  }

  /**
   * A cosine similarity's backward, eager mode's nodes' kernels in turn: the sum's gradient spread along the dimension,
   * the product's into each quotient's, then for each operand the quotient's numerator gradient and its denominator's
   * summed along the dimension, through the norm ({@code normBackward} from the raised norm, as PyTorch's in-place clamp
   * makes it), added to it; an expanded operand's gradient then summed back over the expand's passes.
   */
  private void cosineBackward(CodeBlock.Builder b, Kernel k, int i, Ref d, Ref inTarget, Map<String, Ref> grads, Map<String, Ref> refs) {
    Cosine s = (Cosine) k.spec();
    int[] shape = cosineShape(k);
    int[] a = s.along(shape);
    int per = perSample(shape);
    int j = i + 1;
    b.addStatement("$T.spreadAlong(p.dproduct$L, 0, $L, $L, $L, $L, $L, 1f)", MATH, j, d.array, d.offset, times(a[0]), a[1], a[2]);
    for (int w = 0; w < 2; w++) {
      b.addStatement("$T.mulBackward(p.dquotient$L_$L, 0, p.dproduct$L, 0, p.quotient$L_$L, 0, n * $L, false)", KERNELS, j, w, j, j,
          1 - w, per);
    }
    for (int w = 0; w < 2; w++) {
      String value = k.inputs().get(w);
      String st = storage.get(value);
      TensorIr field = ir.tensor(value); // (second, when it is one): its gradient summed over the batch into the parameter's
      if (field != null && !field.isParameter()) {
        continue; // a buffer: no gradient
      }
      Ref target = field != null ? new Ref("field" + j + "G", gradOffset(field), true) : w == 0 ? inTarget
          : isInput(st) ? new Ref(inputGradient(st), "0", true)
          : i > 0 ? new Ref("dIn" + i + "_" + w, "0", true) : new Ref("p.d" + st, "0", true);
      if (field != null) {
        declareFieldGradient(b, target.array, field);
      }
      boolean accumulate = field != null || accumulating.contains(i + ":" + w);
      int[][] passes = cosineExpansion(k, w);
      boolean expanded = passes.length > 0;
      Ref x = expanded ? new Ref("p.expanded" + j + "_" + w, "0", true) : ref(value, refs);
      Ref dx = expanded ? new Ref("p.dexpanded" + j + "_" + w, "0", true) : target; // the gradient of the operand as divided
      b.beginControlFlow("if ($L != null)", target.array);
      if (a[1] == 1) {
        b.addStatement("$T.numeratorBackward($L, $L, p.dquotient$L_$L, 0, p.norm$L_$L, 0, n * $L, $L)", ARITHMETIC, dx.array,
            dx.offset, j, w, j, w, per, accumulate && !expanded);
        b.addStatement("$T.denominatorBackward(p.dnorm$L_$L, 0, p.dquotient$L_$L, 0, p.quotient$L_$L, 0, p.norm$L_$L, 0, n * $L, false)",
            ARITHMETIC, j, w, j, w, j, w, j, w, per);
      } else {
        b.addStatement("$T.numeratorRepeatedBackward($L, $L, p.dquotient$L_$L, 0, p.norm$L_$L, 0, $L, $L, $L, $L)", ARITHMETIC,
            dx.array, dx.offset, j, w, j, w, times(a[0]), a[1], a[2], accumulate && !expanded);
        b.addStatement("$T.denominatorSumBackward(p.dnorm$L_$L, 0, p.dquotient$L_$L, 0, p.quotient$L_$L, 0, p.norm$L_$L, 0, $L, $L, $L,"
            + " false)", ARITHMETIC, j, w, j, w, j, w, j, w, times(a[0]), a[1], a[2]);
      }
      b.addStatement("$T.normBackward(p.dnormIn$L, 0, p.dnorm$L_$L, 0, $L, $L, p.norm$L_$L, 0, $L, $L, $L, 2.0)", INDEX, j, j, w,
          x.array, x.offset, j, w, times(a[0]), a[1], a[2]);
      b.addStatement("$T.accumulate($L, $L, p.dnormIn$L, 0, n * $L)", KERNELS, dx.array, dx.offset, j, per);
      if (expanded && accumulate) { // summed back into a buffer of the operand's, added to the gradient already there
        Ref own = new Ref("p.dsmall" + j + "_" + w, "0", true);
        sumPasses(b, passes, dx, own, "p.dexpanding" + j + "_" + w + "_");
        b.addStatement("$T.accumulate($L, $L, $L, 0, $L)", KERNELS, target.array, target.offset, own.array, operandValues(k, w));
      } else if (expanded) {
        sumPasses(b, passes, dx, target, "p.dexpanding" + j + "_" + w + "_");
      }
      b.endControlFlow();
      if (field == null) {
        grads.put(st, target);
      } else {
        scatterFieldGradient(b, target.array, field);
      }
    }
  }

  /** The values of a cosine similarity's operand {@code w} as generated code: {@code n * 24}, or a tensor field's count. */
  private static String operandValues(Kernel k, int w) {
    int[] own = k.inShapes().get(w);
    return Cosine.isField(own) ? String.valueOf(Shapes.numel(own)) : "n * " + perSample(own);
  }

  /**
   * Eager mode's expand ({@code Shapes.expandRuns}' passes, {@code {outer, size, inner, ...}} per sample) of {@code from}
   * into {@code to}: each pass spreads its input along a run of dimensions ({@code MathKernels.spreadAlong}), into the
   * plan's {@code <between>P} buffers between passes ({@link #passBuffers}).
   */
  private static void spreadPasses(CodeBlock.Builder b, int[][] passes, Ref from, Ref to, String between) {
    for (int q = 0; q < passes.length; q++) {
      Ref src = q == 0 ? from : new Ref(between + (q - 1), "0", true);
      Ref dst = q == passes.length - 1 ? to : new Ref(between + q, "0", true);
      b.addStatement("$T.spreadAlong($L, $L, $L, $L, $L, 1f)", MATH, dst.array, dst.offset, src.array, src.offset, passAxes(passes[q]));
    }
  }

  /**
   * A pass's {@code outer, size, inner} as generated code: the outer count times the batch ({@code n * 4, 6, 1}), or the
   * size for the pass that stretches a tensor field over the batch itself, which starts at dimension 0 ({@code 1, n, 24}).
   */
  private static String passAxes(int[] pass) {
    return pass[3] == 0 ? "1, " + times(pass[1]) + ", " + pass[2] : times(pass[0]) + ", " + pass[1] + ", " + pass[2];
  }

  /** The expand's backward, eager mode's: each pass's gradient summed along its run ({@code MathKernels.sumAlong}), last pass first. */
  private static void sumPasses(CodeBlock.Builder b, int[][] passes, Ref from, Ref to, String between) {
    for (int q = passes.length - 1; q >= 0; q--) {
      Ref src = q == passes.length - 1 ? from : new Ref(between + q, "0", true);
      Ref dst = q == 0 ? to : new Ref(between + (q - 1), "0", true);
      b.addStatement("$T.sumAlong($L, $L, $L, $L, $L, 1f)", MATH, dst.array, dst.offset, src.array, src.offset, passAxes(passes[q]));
    }
  }

  /** The plan's buffers between an expand's passes, {@code <name>P} for each prefix ({@code tile5_}: {@code tile5_0}, ...). */
  private static void passBuffers(TypeSpec.Builder t, MethodSpec.Builder ctor, int[][] passes, List<String> prefixes) {
    for (int q = 0; q < passes.length - 1; q++) {
      for (String f : prefixes) {
        t.addField(FLOATS, f + q, Modifier.FINAL);
        ctor.addStatement("this.$L$L = new float[n * $L]", f, q, passes[q][0] * passes[q][1] * passes[q][2]);
      }
    }
  }

  /** The kernels' name of a sigmoid, GELU, SiLU or tanh step: {@code sigmoid}, {@code gelu}, {@code silu}, {@code tanh}. */
  private static String activationName(Kernel k) {
    return k.spec() instanceof Sigmoid.Spec ? "sigmoid" : k.spec() instanceof GELU.Spec ? "gelu" : k.spec() instanceof SiLU.Spec ? "silu" : "tanh";
  }

  /**
   * The shapes a step reads, for its comment: its input's, a matmul's two operands as it multiplies
   * them ({@code [N, 6, 8] @ [N, 8, 6]}, a transposed operand as the transpose gives it), or a value and
   * the tensor field repeated over its batch ({@code [N, 6, 8] + [1, 6, 8]}).
   */
  private static String inShapes(Kernel k) {
    if (k.spec() instanceof ConstantIds c) { // the ids' own shape (the input only places the rows in the batch)
      return "ids " + Shapes.toString(c.shape());
    }
    if (k.overBatch()) { // x + pos: the tensor field's own shape (pos - x: the field first)
      String value = Shapes.toString(k.inShape()), field = Shapes.toString(k.inShapes().get(1));
      String op = " " + ((Arithmetic) k.spec()).symbol() + " ";
      return k.swapped() ? field + op + value : value + op + field;
    }
    if (k.kind() == Kernel.Kind.COSINE) { // both operands: one may broadcast over the other
      return Shapes.toString(k.inShape()) + ", " + Shapes.toString(k.inShapes().get(1));
    }
    if (k.kind() != Kernel.Kind.MATMUL) {
      return Shapes.toString(k.inShape());
    }
    if (k.fieldOnLeft()) { // w @ x: the field's own shape first
      return Shapes.toString(k.inShapes().get(1)) + " @ " + Shapes.toString(k.inShape());
    }
    if (k.byField()) { // x @ w: the field's own shape
      return Shapes.toString(k.inShape()) + " @ " + Shapes.toString(k.inShapes().get(1));
    }
    Kernel.Product m = k.product();
    int[] out = k.outShape();
    int[] a = out.clone(), b = out.clone();
    a[out.length - 1] = m.k();
    b[out.length - 2] = m.k();
    return Shapes.toString(a) + " @ " + Shapes.toString(b);
  }

  /** Whether a step is a transpose or scale that a matmul applies itself (planned as a view). */
  private static boolean folded(Kernel k) {
    return k.kind() == Kernel.Kind.VIEW && (k.spec() instanceof Reorder || k.spec() instanceof Scale);
  }

  /** The comment of a view: no work, or a step a matmul applies. */
  private static CodeBlock foldedNote(Kernel k) {
    if (!folded(k)) {
      return CodeBlock.of("// a view: no work\n");
    }
    return CodeBlock.of(k.spec() instanceof Scale ? "// the matmul below multiplies by it (its alpha): no work\n"
        : "// the matmul below reads it transposed (a GEMM flag): no copy\n");
  }

  /**
   * How an add's or a mul's second input repeats over its first, as the repeated kernels take it
   * ({@code [outer, size, inner]}): {@code n * 4, 36, 1} within each sample, or {@code 1, n, 48} for a
   * tensor field repeated over the batch; null when the two have one shape.
   */
  private static String repeatArgs(Kernel k) {
    if (k.overBatch()) {
      return fieldRepeatArgs(k);
    }
    Repeat r = k.repeat();
    return r == null ? null : "n * " + r.groups() + ", " + r.size() + ", " + r.inner();
  }

  /**
   * A tensor field (the kernel's second input) repeated over the batch, as the repeated kernels take it: {@code [1, N *
   * repeats per sample, the field's values]} (a bias {@code [D]} repeats over the {@code N * S} rows of {@code [N, S, D]}).
   */
  private static String fieldRepeatArgs(Kernel k) {
    int repeats = Repeat.fieldRepeats(k.outShape(), k.inShapes().get(1));
    return "1, " + (repeats == 1 ? "n" : "n * " + repeats) + ", " + k.outPerSample() / repeats;
  }

  /**
   * Whether a tensor field repeated over the batch has a suffix of the value's shape ({@code [S, D]} or {@code [D]} over
   * {@code [N, S, D]}, not {@code [1, S, D]}): eager mode's add, sub and mul then sum its gradient in float row by row
   * ({@code CpuKernels.sumRowsBackward}), a field with the batch's dimension in double ({@code sumRepeatedBackward}).
   */
  private static boolean fieldIsSuffix(Kernel k) {
    int[] value = k.outShape(), field = k.inShapes().get(1);
    return field.length < value.length
        && Arrays.equals(field, Arrays.copyOfRange(value, value.length - field.length, value.length));
  }

  /** A tensor field's rows as {@code sumRowsBackward} takes them: {@code n * 6, 8} for {@code [D]} over {@code [N, 6, D]}. */
  private static String fieldRowArgs(Kernel k) {
    int repeats = Repeat.fieldRepeats(k.outShape(), k.inShapes().get(1));
    return (repeats == 1 ? "n" : "n * " + repeats) + ", " + k.outPerSample() / repeats;
  }

  /** The rows a product by a tensor field multiplies, as generated code: {@code n}, or {@code n * 6} for {@code [N, 6, D]}. */
  private static String fieldRows(Kernel k) {
    return k.product().m() == 1 ? "n" : "n * " + k.product().m();
  }

  /**
   * The masks (a comparison of one buffer or value with one constant) that several masked fills read, each mapped to null:
   * the CUDA form compares such a mask once ({@code Tensor v9_1 = v1.eq(0.0f)}, named after its first fill's value) and
   * every fill reads that tensor; a mask one fill reads stays in its call.
   */
  private Map<String, String> sharedCudaMasks() {
    Map<String, Integer> uses = new HashMap<>();
    kernels.stream().filter(k -> k.kind() == Kernel.Kind.MASKED_FILL && ((MaskedFill) k.spec()).test() != dev.kiln.runtime.cpu.MaskTest.NONZERO)
        .forEach(k -> uses.merge(cudaMaskKey(k), 1, Integer::sum));
    Map<String, String> shared = new HashMap<>();
    uses.forEach((key, count) -> {
      if (count > 1) {
        shared.put(key, null);
      }
    });
    return shared;
  }

  /** What a masked fill's mask compares, with what: {@code v1 EQ 0.0} for a value, {@code tril [1, 1, 6, 6] EQ 0.0} for a buffer. */
  private static String cudaMaskKey(Kernel k) {
    MaskedFill m = (MaskedFill) k.spec();
    return (m.byValue() ? k.inputs().get(1) : m.mask() + " " + Shapes.toString(m.maskShape())) + " " + m.test() + " " + m.against();
  }

  /** A buffer mask in the CUDA form: the field, viewed as forward views it ({@code mask.view(S, S)}). */
  private String cudaMaskField(MaskedFill m) {
    if (m.causal()) { // made here, as eager's isCausal makes it
      return "Tensor.ones(" + joined(m.maskShape()) + ").triu(1).to(x.device())";
    }
    String field = fieldNames.get(TensorIr.valueName(m.mask()));
    TensorIr t = ir.tensor(TensorIr.valueName(m.mask()));
    return t == null || Arrays.equals(t.shape(), m.maskShape()) ? field : field + ".reshape(" + joined(m.maskShape()) + ")";
  }

  /** The blocks a masked fill repeats its mask over: {@code n * 2} for a {@code [S, S]} mask over {@code [N, 2, S, S]}. */
  private static String maskBlocks(Kernel k) {
    int per = k.outPerSample() / ((MaskedFill) k.spec()).maskSize();
    return per == 1 ? "n" : "n * " + per;
  }

  /** A masked fill's mask as the kernels take it: {@code mask.readBuffer(), mask.offset(), 36, MaskTest.EQ, 0f}. */
  private CodeBlock maskArgs(Kernel k) {
    MaskedFill m = (MaskedFill) k.spec();
    if (m.causal()) { // 1 above the diagonal of [L, S], as eager's isCausal makes it
      return CodeBlock.of("$T.ones($L).triu(1).readBuffer(), 0, $L, $T.$L, $L", TENSOR, joined(m.maskShape()), m.maskSize(), MASK_TEST,
          m.test(), floatLiteral(m.against()));
    }
    String mask = fieldNames.get(TensorIr.valueName(m.mask()));
    return CodeBlock.of("$L.readBuffer(), $L.offset(), $L, $T.$L, $L", mask, mask, m.maskSize(), MASK_TEST, m.test(),
        floatLiteral(m.against()));
  }

  /** A float as Java source: {@code 0.5f}, {@code Float.NEGATIVE_INFINITY}. */
  static CodeBlock floatLiteral(float v) {
    if (Float.isNaN(v)) {
      return CodeBlock.of("$T.NaN", Float.class);
    }
    if (Float.isInfinite(v)) {
      return CodeBlock.of("$T.$L", Float.class, v > 0 ? "POSITIVE_INFINITY" : "NEGATIVE_INFINITY");
    }
    return CodeBlock.of("$Lf", v);
  }

  /** A permutation step's order of dimensions (the batch first). */
  private static int[] order(Kernel k) {
    return ((Reorder) k.spec()).order(k.inShape().length);
  }

  /** The inverse of a permutation step's order: its gradient's. */
  private static int[] inverseOrder(Kernel k) {
    int[] order = order(k);
    int[] inverse = new int[order.length];
    for (int i = 0; i < order.length; i++) {
      inverse[order[i]] = i;
    }
    return inverse;
  }

  /** A shape with the batch as {@code n}: {@code n, 4, 4, 4}. */
  private static String batchShape(int[] shape) {
    return "n" + (shape.length > 1 ? ", " + joined(Arrays.copyOfRange(shape, 1, shape.length)) : "");
  }

  /**
   * {@code needsGrad(i)} of a parameter expression ({@code fc1.weight()}), i its place among the
   * backward node's inputs (x first): whether it required grad when the forward recorded the
   * node, and still does. The graph is fixed at the forward, as eager mode's and PyTorch's.
   */
  private String recordedNeed(String parameter) {
    int i = parameterExpressions().indexOf(parameter);
    if (i < 0) {
      throw new IllegalStateException("Planner: " + parameter + " is not among the backward node's inputs");
    }
    return "needsGrad(" + (i + 1 + ir.further().size()) + " /* " + parameter + " */)";
  }

  /** {@code needsGrad(i)} for each parameter of the step's layer (none for parameter-free steps). */
  private List<String> trainable(Kernel k) {
    if (k.kind() == Kernel.Kind.WHERE || fieldOperand(k) != null || k.functional()) {
      return parameterFields(k).stream().map(this::recordedNeed).toList();
    }
    return !k.hasParameters() ? List.of() : parametersOf(k.layer()).stream().map(this::recordedNeed).toList();
  }

  /**
   * The parameters among the tensor fields a kernel reads, by {@link #tensorField}: the one an add, mul, product or cosine
   * repeats over the batch ({@link #fieldOperand}), a where's a and b (its mask gets no gradient); a buffer gets none.
   */
  private List<String> parameterFields(Kernel k) {
    List<String> inputs = k.kind() == Kernel.Kind.WHERE ? k.inputs().subList(0, 2)
        : fieldOperand(k) != null ? List.of(k.inputs().get(1))
        : k.functional() ? k.inputs().subList(1, k.inputs().size()) : List.of(); // F.conv2d(x, w, b): its weight and bias
    return inputs.stream().map(ir::tensor).filter(t -> t != null && t.isParameter()).map(this::tensorField).toList();
  }

  /**
   * The backward of an add, a mul, a cat or a matmul: an add's gradient (masked by its ReLU's output when it
   * has one) goes to both inputs, a mul's times the other input, a cat's slices each to its own, a matmul's
   * through a GEMM with the other operand ({@link #matmulBackward});
   * each written into the first gradient of its value or added to one a later step wrote.
   */
  private void joinBackward(CodeBlock.Builder b, Kernel k, int i, Ref d, Ref out, Ref inTarget, Map<String, Ref> grads,
      Map<String, Ref> refs) {
    List<String> inputs = k.inputs();
    CatLayout c = k.kind() == Kernel.Kind.CAT ? new CatLayout(k) : null;
    TensorIr field = fieldOperand(k);
    for (int w : operandOrder(k)) {
      String value = inputs.get(w);
      if (carriesNoGradient(k, w)) { // where's mask
        continue;
      }
      if (k.kind() == Kernel.Kind.WHERE && ir.tensor(value) != null) { // a tensor field, a or b: a parameter's gradient summed
        whereFieldBackward(b, k, w, ir.tensor(value), d, refs);
        continue;
      }
      if (w == 1 && field != null) { // a tensor field repeated over the batch: a parameter's gradient sums the batch's
        if (field.isParameter()) {
          fieldBackward(b, k, field, d, out, refs);
        }
        continue;
      }
      if (field != null && k.byField()) { // x @ w: x's gradient g @ w^T, one GEMM over all rows (w @ x: w^T @ g per sample)
        Kernel.Product m = k.product();
        boolean accumulate = accumulating.contains(i + ":" + w);
        boolean guarded = !inTarget.array.startsWith("p.");
        if (guarded) {
          b.beginControlFlow("if ($L != null)", inTarget.array);
        }
        if (k.fieldOnLeft()) { // w @ x: each sample's gradient w^T @ g, the field read for each (stride 0), as eager's bmm
          b.addStatement("$T.sgemmBatched($L, true, false, $L, $L, $L, $Lf, $L.readBuffer(), $L, 0, $L, $L, $L, $L, $L, $L, $L)",
              BLAS, m.count(), m.k(), m.n(), m.m(), m.alpha(), readExpression(field), fieldOffset(field), d.array, d.offset, m.m() * m.n(), accumulate ? "1f" : "0f",
              inTarget.array, inTarget.offset, m.k() * m.n());
        } else { // (g @ w of a field read transposed)
          b.addStatement("$T.sgemm(false, $L, $L, $L, $L, $Lf, $L, $L, $L, $L, $L, $L, $L, $L, $L)", BLAS, !m.transB(), fieldRows(k),
              m.k(), m.n(), m.alpha(), d.array, d.offset, m.n(), gemmOperand(field), m.transB() ? m.k() : m.n(),
              accumulate ? "1f" : "0f", inTarget.array, inTarget.offset, m.k());
        }
        if (guarded) {
          b.endControlFlow();
        }
        grads.put(storage.get(value), inTarget);
        continue;
      }
      String st = storage.get(value);
      Ref target = w == 0 ? inTarget
          : isInput(st) ? new Ref(inputGradient(st), "0", true)
          : i > 0 ? new Ref("dIn" + i + "_" + w, "0", true) : new Ref("p.d" + st, "0", true);
      boolean accumulate = accumulating.contains(i + ":" + w);
      Repeat r = k.repeat();
      if (k.kind() == Kernel.Kind.POINTWISE_PAIR) { // the table's gradient of this operand
        pointwisePairBackward(b, k, w, target, accumulate, d, refs);
      } else if (k.kind() == Kernel.Kind.WHERE) { // the gradient where this branch was taken, 0 elsewhere
        whereBranchBackward(b, k, target, d, (w == 0) != k.swapped(), accumulate, refs);
      } else if (k.kind() == Kernel.Kind.SUB || k.kind() == Kernel.Kind.DIV) {
        quotientBackward(b, k, w, target, accumulate, d, out, refs);
      } else if (field != null && k.kind() == Kernel.Kind.MUL) { // x's gradient: the incoming one times the field, repeated
        Ref other = ref(inputs.get(1), refs);
        b.addStatement("$T.mulRepeatedBackward($L, $L, $L, $L, $L, $L, $L, $L)", KERNELS, target.array, target.offset,
            d.array, d.offset, other.array, other.offset, repeatArgs(k), accumulate);
      } else if (k.kind() == Kernel.Kind.MATMUL) {
        matmulBackward(b, k, w, target, accumulate, d, ref(inputs.get(1 - w), refs));
      } else if (r != null && w == 1) { // the repeated input's gradient: summed over its repeats
        Ref other = k.kind() == Kernel.Kind.MUL ? ref(inputs.get(0), refs) : null;
        b.addStatement("$T.sumRepeatedBackward($L, $L, $L, $L, $L, $L, $L, $L, n * $L, $L, $L, $L)", KERNELS, target.array,
            target.offset, d.array, d.offset, k.relu() ? out.array : "null", k.relu() ? out.offset : "0",
            other != null ? other.array : "null", other != null ? other.offset : "0", r.groups(), r.size(), r.inner(), accumulate);
      } else if (r != null && k.kind() == Kernel.Kind.MUL) {
        Ref other = ref(inputs.get(1), refs);
        b.addStatement("$T.mulRepeatedBackward($L, $L, $L, $L, $L, $L, n * $L, $L, $L, $L)", KERNELS, target.array, target.offset,
            d.array, d.offset, other.array, other.offset, r.groups(), r.size(), r.inner(), accumulate);
      } else if (k.kind() == Kernel.Kind.MUL) { // each input's gradient: the incoming one times the other input
        Ref other = ref(inputs.get(1 - w), refs);
        b.addStatement("$T.mulBackward($L, $L, $L, $L, $L, $L, n * $L, $L)", KERNELS, target.array, target.offset, d.array,
            d.offset, other.array, other.offset, k.outPerSample(), accumulate);
      } else if (c != null) {
        b.addStatement("$T.catBackward($L, $L, $L, $L, $L, $L, $L, $L, $L)", KERNELS, target.array, target.offset, c.block(w),
            d.array, d.offset, c.outBlock, c.at(w), c.blocks(), accumulate);
      } else {
        b.addStatement("$T.addBackward($L, $L, $L, $L, $L, $L, n * $L, $L)", KERNELS, target.array, target.offset, d.array,
            d.offset, k.relu() ? out.array : "null", k.relu() ? out.offset : "0", k.outPerSample(), accumulate);
      }
      grads.put(st, target);
    }
  }

  /**
   * How many values a where's input {@code w} (0: a, 1: b, or the other way round where the kernel is swapped; 2: the mask)
   * holds: the batch's, or a tensor field's own ({@code [1, T, D]}, {@code [T, D]} or {@code [D]}), which {@link
   * dev.kiln.runtime.cpu.WhereKernels#forward} repeats over the result.
   */
  private String whereCount(Kernel k, int w) {
    TensorIr field = ir.tensor(k.inputs().get(w));
    return field != null && whereExpansion(k, w).length == 0 ? String.valueOf(Shapes.numel(field.shape())) : "n * " + k.outPerSample();
  }

  /**
   * The passes of eager mode's expand of a where's tensor field operand {@code w} that does not repeat over the result as
   * it is ({@code [T, 1]} over {@code [N, T, D]}: {@code Ops.where} expands it to the result's shape first, {@link
   * Cosine#expansion}); none for any other operand.
   */
  private int[][] whereExpansion(Kernel k, int w) {
    TensorIr field = ir.tensor(k.inputs().get(w));
    return field == null || Shapes.repeatsOver(k.outShape(), field.shape()) ? new int[0][] : Cosine.expansion(field.shape(), k.outShape());
  }

  /** A where's operand {@code w} as its kernel reads it: expanded into the plan's {@code whereExpandedJ_W} ({@link #whereExpansion}), or itself. */
  private Ref whereOperand(Kernel k, int w, Map<String, Ref> refs) {
    return whereExpansion(k, w).length > 0 ? new Ref("p.whereExpanded" + (kernels.indexOf(k) + 1) + "_" + w, "0", true)
        : ref(k.inputs().get(w), refs);
  }

  /**
   * A where's gradient to a branch of the result's shape ({@code taken}: a's) into {@code target}: the incoming one where the
   * mask picked it, else 0 ({@code WhereKernels.branchBackward}, over a mask the model holds repeated where it is one).
   */
  private void whereBranchBackward(CodeBlock.Builder b, Kernel k, Ref target, Ref d, boolean taken, boolean accumulate,
      Map<String, Ref> refs) {
    Ref mask = whereOperand(k, 2, refs);
    if (ir.tensor(k.inputs().get(2)) != null && whereExpansion(k, 2).length == 0) { // a mask the model holds, repeated over the result
      b.addStatement("$T.branchBackward($L, $L, $L, $L, $L, $L, $L, $L, n * $L, $L)", WHERE_KERNELS, target.array, target.offset,
          d.array, d.offset, mask.array, mask.offset, whereCount(k, 2), taken, k.outPerSample(), accumulate);
    } else {
      b.addStatement("$T.branchBackward($L, $L, $L, $L, $L, $L, $L, n * $L, $L)", WHERE_KERNELS, target.array, target.offset,
          d.array, d.offset, mask.array, mask.offset, taken, k.outPerSample(), accumulate);
    }
  }

  /**
   * The gradient of a parameter a where reads as its input {@code w} ({@code [T, D]} or {@code [D]}, repeated over
   * the result): eager mode's, the incoming gradient where the branch was taken summed per value in float, rows in
   * order ({@link dev.kiln.runtime.cpu.WhereKernels#backward}), then added to the parameter's gradient.
   */
  private void whereFieldBackward(CodeBlock.Builder b, Kernel k, int w, TensorIr field, Ref d, Map<String, Ref> refs) {
    if (!field.isParameter()) { // a buffer gets no gradient
      return;
    }
    String local = "field" + (kernels.indexOf(k) + 1) + ((w == 0) != k.swapped() ? "A" : "B"); // (a or b)
    int m = Shapes.numel(field.shape());
    Ref mask = whereOperand(k, 2, refs);
    int[][] passes = whereExpansion(k, w);
    declareFieldGradient(b, local + "G", field);
    b.beginControlFlow("if ($LG != null)", local)
        .addStatement("float[] $LSum = new float[$L]", local, m);
    if (passes.length == 0) {
      b.addStatement("$T.backward($LSum, $L, $L, $L, $L, $L, $L, $L, n * $L)", WHERE_KERNELS, local, d.array, d.offset,
          mask.array, mask.offset, whereCount(k, 2), m, (w == 0) != k.swapped(), k.outPerSample());
    } else { // eager's: the gradient of the expanded operand, then the expand's sums back to the field's shape
      int j = kernels.indexOf(k) + 1;
      Ref expanded = new Ref("p.dwhereExpanded" + j + "_" + w, "0", true);
      whereBranchBackward(b, k, expanded, d, (w == 0) != k.swapped(), false, refs);
      sumPasses(b, passes, expanded, new Ref(local + "Sum", "0", true), "p.dwhereExpanding" + j + "_" + w + "_");
    }
    b.addStatement("$T.accumulate($LG, $L, $LSum, 0, $L)", KERNELS, local, gradOffset(field), local, m);
    scatterFieldGradient(b, local + "G", field);
    b.endControlFlow();
  }

  /**
   * The gradient of a tensor field that an add or a mul repeats over the batch: the incoming
   * gradient (masked by a fused ReLU's output; times the other input for a mul) summed over the
   * batch, added to the parameter's own gradient.
   */
  private void fieldBackward(CodeBlock.Builder b, Kernel k, TensorIr field, Ref d, Ref out, Map<String, Ref> refs) {
    Ref other = k.kind() == Kernel.Kind.MUL ? ref(k.in(), refs) : null;
    String f = tensorField(field);
    if (k.fieldOnLeft()) { // w @ x: w's gradient as eager's: each sample's g @ x^T, then their sum over the batch (in double)
      Kernel.Product m = k.product();
      Ref x = ref(k.in(), refs);
      String local = "field" + (kernels.indexOf(k) + 1);
      declareFieldGradient(b, local + "G", field);
      b.beginControlFlow("if ($LG != null)", local)
          .addStatement("float[] $LProducts = new float[$L * $L]", local, m.count(), m.m() * m.k())
          .addStatement("$T.sgemmBatched($L, false, true, $L, $L, $L, $Lf, $L, $L, $L, $L, $L, $L, 0f, $LProducts, 0, $L)", BLAS,
              m.count(), m.m(), m.k(), m.n(), m.alpha(), d.array, d.offset, m.m() * m.n(), x.array, x.offset, m.k() * m.n(), local,
              m.m() * m.k())
          .addStatement("float[] $LSum = new float[$L]", local, m.m() * m.k())
          .addStatement("$T.sumAlong($LSum, 0, $LProducts, 0, 1, $L, $L, 1f)", MATH_KERNELS, local, local, m.count(), m.m() * m.k())
          .addStatement("$T.accumulate($LG, $L, $LSum, 0, $L)", KERNELS, local, gradOffset(field), local, m.m() * m.k());
      scatterFieldGradient(b, local + "G", field);
      b.endControlFlow();
      return;
    }
    if (k.byField()) { // x @ w: w's gradient x^T @ g summed over every row of the batch, one GEMM added to the parameter's
      Kernel.Product m = k.product();
      Ref x = ref(k.in(), refs);
      String local = "field" + (kernels.indexOf(k) + 1) + "G";
      if (field.isRegion() || field.isWhere()) { // into the run of the parameter's gradient (a where's own)
        declareFieldGradient(b, local, field);
      } else {
        b.addStatement("$T $L = $T.grad($L, $L)", TENSOR, local, COMPILED, f, recordedNeed(f));
      }
      String target = field.isRegion() || field.isWhere() ? local + ", " + gradOffset(field) : local;
      b.beginControlFlow("if ($L != null)", local);
      if (m.transB()) { // x @ w^T: w's gradient g^T @ x, [out, in] as the field lies
        b.addStatement("$T.sgemm(true, false, $L, $L, $L, $Lf, $L, $L, $L, $L, $L, $L, 1f, $L, $L)", BLAS, m.n(), m.k(),
            fieldRows(k), m.alpha(), d.array, d.offset, m.n(), x.array, x.offset, m.k(), target, m.k());
      } else {
        b.addStatement("$T.sgemm(true, false, $L, $L, $L, $Lf, $L, $L, $L, $L, $L, $L, 1f, $L, $L)", BLAS, m.k(), m.n(),
            fieldRows(k), m.alpha(), x.array, x.offset, m.k(), d.array, d.offset, m.n(), target, m.n());
      }
      scatterFieldGradient(b, local, field);
      b.endControlFlow();
      return;
    }
    if (k.kind() != Kernel.Kind.DIV && fieldIsSuffix(k)) { // [S, D] or [D]: eager's float sums of a suffix operand
      boolean negated = k.kind() == Kernel.Kind.SUB && !k.swapped(); // the field is the right operand of a sub
      String local = "field" + (kernels.indexOf(k) + 1) + "G";
      String accumulate = declareFieldAdds(b, local, field);
      b.addStatement("$T.sumRowsBackward($L, $L, $L, $L, $L, $L, $L, $L, $L, $Lf, $L)", KERNELS, fieldGradient(b, local, field),
          gradOffset(field), d.array, d.offset, k.relu() ? out.array : "null", k.relu() ? out.offset : "0",
          other != null ? other.array : "null", other != null ? other.offset : "0", fieldRowArgs(k), negated ? -1 : 1, accumulate);
      scatterFieldGradient(b, local, field, local + "Adds");
      return;
    }
    if (k.kind() == Kernel.Kind.SUB || k.kind() == Kernel.Kind.DIV) {
      String local = "field" + (kernels.indexOf(k) + 1) + "G";
      declareFieldGradient(b, local, field);
      quotientBackward(b, k, 1, new Ref(local, gradOffset(field), false), true, d, out, refs);
      scatterFieldGradient(b, local, field);
      return;
    }
    String local = "field" + (kernels.indexOf(k) + 1) + "G";
    b.addStatement("$T.sumRepeatedBackward($L, $L, $L, $L, $L, $L, $L, $L, $L, true)", KERNELS, fieldGradient(b, local, field),
        gradOffset(field), d.array, d.offset, k.relu() ? out.array : "null", k.relu() ? out.offset : "0",
        other != null ? other.array : "null", other != null ? other.offset : "0", repeatArgs(k));
    scatterFieldGradient(b, local, field);
  }

  /**
   * The gradient of a sub's or a div's input {@code w} (0: the big one, {@code inputs[0]}; 1: the other, of one shape
   * or repeated over it, summed over its repeats), the left operand being {@code inputs[1]} when the kernel is
   * swapped: a sub sends the gradient to its left operand and its negation to its right one; a div {@code y = a / b}
   * sends {@code g / b} to a and {@code -g * (y / b)} to b, PyTorch's.
   */
  private void quotientBackward(CodeBlock.Builder b, Kernel k, int w, Ref target, boolean accumulate, Ref d, Ref out,
      Map<String, Ref> refs) {
    Ref big = ref(k.inputs().get(0), refs), small = ref(k.inputs().get(1), refs);
    String repeat = repeatArgs(k);
    int values = k.outPerSample();
    boolean left = w == 0 ? !k.swapped() : k.swapped(); // whether input w is the left operand (a, the numerator)
    if (k.kind() == Kernel.Kind.SUB && left && w == 0) {
      b.addStatement("$T.addBackward($L, $L, $L, $L, null, 0, n * $L, $L)", KERNELS, target.array, target.offset, d.array,
          d.offset, values, accumulate);
    } else if (k.kind() == Kernel.Kind.SUB && left) { // the repeated left operand: the gradient summed over its repeats
      b.addStatement("$T.sumRepeatedBackward($L, $L, $L, $L, null, 0, null, 0, $L, $L)", KERNELS, target.array, target.offset,
          d.array, d.offset, repeat, accumulate);
    } else if (k.kind() == Kernel.Kind.SUB && (w == 0 || repeat == null)) {
      b.addStatement("$T.subtrahendBackward($L, $L, $L, $L, n * $L, $L)", ARITHMETIC, target.array, target.offset, d.array,
          d.offset, values, accumulate);
    } else if (k.kind() == Kernel.Kind.SUB) {
      b.addStatement("$T.subtrahendSumBackward($L, $L, $L, $L, $L, $L)", ARITHMETIC, target.array, target.offset, d.array,
          d.offset, repeat, accumulate);
    } else if (left && w == 0 && repeat == null) { // the numerator: g / b
      b.addStatement("$T.numeratorBackward($L, $L, $L, $L, $L, $L, n * $L, $L)", ARITHMETIC, target.array, target.offset,
          d.array, d.offset, small.array, small.offset, values, accumulate);
    } else if (left && w == 0) {
      b.addStatement("$T.numeratorRepeatedBackward($L, $L, $L, $L, $L, $L, $L, $L)", ARITHMETIC, target.array, target.offset,
          d.array, d.offset, small.array, small.offset, repeat, accumulate);
    } else if (left) {
      b.addStatement("$T.numeratorSumBackward($L, $L, $L, $L, $L, $L, $L, $L)", ARITHMETIC, target.array, target.offset,
          d.array, d.offset, big.array, big.offset, repeat, accumulate);
    } else if (w == 0 || repeat == null) { // the denominator: -g * (y / b)
      Ref denominator = w == 0 ? big : small;
      b.addStatement("$T.denominatorBackward($L, $L, $L, $L, $L, $L, $L, $L, n * $L, $L)", ARITHMETIC, target.array,
          target.offset, d.array, d.offset, out.array, out.offset, denominator.array, denominator.offset, values, accumulate);
    } else {
      b.addStatement("$T.denominatorSumBackward($L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", ARITHMETIC, target.array,
          target.offset, d.array, d.offset, out.array, out.offset, small.array, small.offset, repeat, accumulate);
    }
  }

  /**
   * A sum's or mean's input seen as {@code [outer, size, inner]} around its dimension, as the kernels take
   * it: {@code n, 6, 8} for {@code mean(1)} of {@code [N, 6, 8]}, {@code n * 4, 6, 1} for {@code sum(-1)} of
   * {@code [N, 4, 6]}; over several dimensions the same of their one run ({@code n * 8, 36, 1} for
   * {@code mean(new int[] {2, 3})} of {@code [N, 8, 6, 6]}), or the runs in an array for {@code sumOver}
   * ({@code new int[] {n, 8, 6, 6, 1}} for {@code (1, 3)}).
   */
  private static String reduceAxes(Kernel k) {
    Reduce r = (Reduce) k.spec();
    int[] a = r.several() ? r.runs(k.inShape()) : r.along(k.inShape());
    if (a.length == 1) { // only dimensions of size 1 reduced: a copy
      a = new int[] {a[0], 1, 1};
    }
    String runs = (a[0] == 1 ? "n" : "n * " + a[0]) + Arrays.stream(a, 1, a.length).mapToObj(v -> ", " + v).collect(Collectors.joining());
    return a.length > 3 ? "new int[] {" + runs + "}" : runs;
  }

  /** Whether a sum or mean reduces several runs of dimensions ({@code (1, 3)} of {@code [N, C, H, W]}): one pass of {@code sumOver}. */
  private static boolean reducesOver(Kernel k) {
    Reduce r = (Reduce) k.spec();
    return r.several() && r.runs(k.inShape()).length > 3;
  }

  /** What a sum or mean multiplies its sum by: {@code 1f}, or {@code 1f / 6} for a mean over 6 values (eager's float). */
  private static String reduceFactor(Kernel k) {
    Reduce r = (Reduce) k.spec();
    return r.mean() ? "1f / " + r.count(k.inShape()) : "1f";
  }

  /**
   * The order in which the backward reaches a kernel's inputs, the order their gradients are added in: index order, but
   * for a product whose two operands are one value ({@code h @ h^T}, {@code h @ h}) the right's first. Eager's matmul
   * reads each operand through a reshape of its own (and the right one through its transpose), and its engine runs nodes
   * in the reverse of a depth-first order that went down the left first: the right's path reaches the value first (the
   * in-place product of a deferred permute, {@code ProductOps.stridedMatmul}, lists its inputs right first for the same order).
   * With a later reader's gradient already there ({@code att @ h} after {@code att = h @ h^T}) the order of the three
   * sums shows in the last bit.
   */
  private int[] operandOrder(Kernel k) {
    int count = k.inputs().size();
    if (k.kind() == Kernel.Kind.MATMUL && count == 2 && storage.get(k.inputs().get(0)) != null
        && storage.get(k.inputs().get(0)).equals(storage.get(k.inputs().get(1)))) {
      return new int[] {1, 0};
    }
    return IntStream.range(0, count).toArray();
  }

  /**
   * The gradient of a matmul's operand {@code w} (0: A, 1: B) from {@code d}, the output's, and the
   * other operand: {@code d op(A) = d @ op(B)^T} and {@code d op(B) = op(A)^T @ d}, written in the
   * operand's stored layout (a transposed operand gets the transpose of those, {@code op(B) @ d^T}
   * and {@code d^T @ op(A)}), times the product's alpha; one batched GEMM, whose beta adds to a
   * gradient a later step wrote.
   */
  private void matmulBackward(CodeBlock.Builder b, Kernel k, int w, Ref target, boolean accumulate, Ref d, Ref other) {
    Kernel.Product m = k.product();
    // X @ Y over `inner`, each operand with its flag and the matrices' size (strides): rows x cols per product
    boolean transX, transY;
    int rows, cols, inner, xSize, ySize;
    Ref x, y;
    if (w == 0 && !m.transA()) { // dA = d @ op(B)^T
      x = d; y = other; transX = false; transY = !m.transB(); rows = m.m(); cols = m.k(); inner = m.n();
    } else if (w == 0) { // dA = op(B) @ d^T
      x = other; y = d; transX = m.transB(); transY = true; rows = m.k(); cols = m.m(); inner = m.n();
    } else if (!m.transB()) { // dB = op(A)^T @ d
      x = other; y = d; transX = !m.transA(); transY = false; rows = m.k(); cols = m.n(); inner = m.m();
    } else { // dB = d^T @ op(A)
      x = d; y = other; transX = true; transY = m.transA(); rows = m.n(); cols = m.k(); inner = m.m();
    }
    xSize = x == d ? m.m() * m.n() : w == 0 ? m.k() * m.n() : m.m() * m.k();
    ySize = y == d ? m.m() * m.n() : w == 0 ? m.k() * m.n() : m.m() * m.k();
    boolean guarded = !target.array.startsWith("p.");
    if (guarded) {
      b.beginControlFlow("if ($L != null)", target.array);
    }
    b.addStatement("$T.sgemmBatched($L, $L, $L, $L, $L, $L, $Lf, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", BLAS, m.count(), transX,
        transY, rows, cols, inner, m.alpha(), x.array, x.offset, xSize, y.array, y.offset, ySize, accumulate ? "1f" : "0f",
        target.array, target.offset, rows * cols);
    if (guarded) {
      b.endControlFlow();
    }
  }

  /**
   * Where a cat's inputs go: per sample, the dimensions before the joined one make {@code outer}
   * blocks; in each, input w's {@code block(w)} values land at {@code at(w)} of the output's
   * {@code outBlock}.
   */
  private static final class CatLayout {
    final int outer;
    final int inner;
    final int outBlock;
    final int[] sizes;
    final int dim;

    CatLayout(Kernel k) {
      int[] out = k.outShape();
      dim = ((Cat) k.spec()).dimension(out.length);
      int o = 1;
      for (int i = 1; i < dim; i++) {
        o *= out[i];
      }
      int in = 1;
      for (int i = dim + 1; i < out.length; i++) {
        in *= out[i];
      }
      outer = o;
      inner = in;
      outBlock = out[dim] * inner;
      sizes = k.inShapes().stream().mapToInt(s -> s[dim]).toArray();
    }

    int block(int w) {
      return sizes[w] * inner;
    }

    int at(int w) {
      int a = 0;
      for (int i = 0; i < w; i++) {
        a += block(i);
      }
      return a;
    }

    /** {@code n * outer}, as generated code. */
    String blocks() {
      return outer == 1 ? "n" : "n * " + outer;
    }
  }

  /** The batch-norm gradients (through the fused ReLU's mask); parameter gradients are added to the parameters'. */
  private void batchNormBackward(CodeBlock.Builder b, Kernel k, int j, Ref in, Ref d, Ref target) {
    BatchNorm.Options o = (BatchNorm.Options) k.spec();
    String bn = layerField(k.layer());
    int c = k.channels(), l = k.spatial();
    String gradsOut = o.affine() ? "p.dweight" + j + ", 0, p.dbias" + j + ", 0" : "null, 0, null, 0";
    String weight = o.affine() ? bn + ".weight().readBuffer(), " + bn + ".weight().offset()" : "null, 0";
    if (k.relu() && !maskedByPooling.contains(k.out())) { // the ReLU's mask is recomputed from the input as the gradient is read
      String bias = o.affine() ? bn + ".bias().readBuffer(), " + bn + ".bias().offset()" : "null, 0";
      b.addStatement("$T.batchNormReluBackward($L, $L, $L, $L, $L, $L, $L, p.mean$L, 0, p.var$L, 0, $L, $L, n, $L, $L, $L, training[$L])",
          NORM, target.array, target.offset, gradsOut, d.array, d.offset, in.array, in.offset, j, j,
          weight, bias, c, l, o.eps(), j);
    } else {
      b.addStatement("$T.batchNormBackward($L, $L, $L, $L, $L, $L, $L, p.mean$L, 0, p.var$L, 0, $L, n, $L, $L, $L, training[$L])", NORM,
          target.array, target.offset, gradsOut, d.array, d.offset, in.array, in.offset, j, j, weight, c, l, o.eps(), j);
    }
    if (o.affine()) {
      b.addStatement("$T.accumulate($T.gradBuffer($L.weight(), $L), 0, p.dweight$L, 0, $L)", KERNELS, COMPILED, bn,
              recordedNeed(bn + ".weight()"), j, c)
          .addStatement("$T.accumulate($T.gradBuffer($L.bias(), $L), 0, p.dbias$L, 0, $L)", KERNELS, COMPILED, bn,
              recordedNeed(bn + ".bias()"), j, c);
    }
  }

  /**
   * Batch statistics (training) or running statistics (evaluation), then one normalising pass (+ ReLU), or, with
   * {@code pool > 0}, one pass that also max-pools into that pooling kernel's output ({@code out}).
   */
  private void batchNormForward(CodeBlock.Builder b, Kernel k, int j, Ref in, Ref out, int pool) {
    BatchNorm.Options o = (BatchNorm.Options) k.spec();
    String bn = layerField(k.layer());
    int c = k.channels(), l = k.spatial();
    b.beginControlFlow("if (training[$L])", j)
        .addStatement("$T.requireBatchStatistics(n, $L)", COMPILED, joined(Arrays.copyOfRange(k.inShape(), 1, k.inShape().length)))
        .addStatement("$T.batchStatistics(p.mean$L, 0, p.var$L, 0, $L, $L, n, $L, $L)", NORM, j, j, in.array, in.offset, c, l)
        .addStatement("$T.updateRunningStatistics($L.runningMean().buffer(), $L.runningMean().offset(), $L.runningVar().buffer(), "
            + "$L.runningVar().offset(), p.mean$L, 0, p.var$L, 0, $L, n * $L, $L)", NORM, bn, bn, bn, bn, j, j, c, l, o.momentum())
        .addStatement("$T.countBatch($L.numBatchesTracked())", COMPILED, bn)
        .nextControlFlow("else")
        .addStatement("System.arraycopy($L.runningMean().readBuffer(), $L.runningMean().offset(), p.mean$L, 0, $L)", bn, bn, j, c)
        .addStatement("System.arraycopy($L.runningVar().readBuffer(), $L.runningVar().offset(), p.var$L, 0, $L)", bn, bn, j, c)
        .endControlFlow();
    String affine = o.affine()
        ? bn + ".weight().readBuffer(), " + bn + ".weight().offset(), " + bn + ".bias().readBuffer(), " + bn + ".bias().offset()"
        : "null, 0, null, 0";
    if (pool > 0) { // BN + ReLU + 2x2 max pooling: out is the pooling's output
      b.addStatement("$T.batchNormReluMaxPool2x2($L, $L, p.argmax$L, $L, $L, p.mean$L, 0, p.var$L, 0, $L, $L, p.shape$L)", NORM,
          out.array, out.offset, pool, in.array, in.offset, j, j, affine, o.eps(), pool);
      return;
    }
    b.addStatement("$T.$L($L, $L, $L, $L, p.mean$L, 0, p.var$L, 0, $L, n, $L, $L, $L)", NORM,
        k.relu() ? "batchNormReluForward" : "batchNormForward", out.array, out.offset, in.array, in.offset, j, j, affine, c, l, o.eps());
  }

  /**
   * A group norm's (or instance norm's) forward: one pass, each sample's groups' mean and 1/std kept in {@code
   * p.mean}, {@code p.rstd}; the same in training and evaluation.
   */
  private void groupNormForward(CodeBlock.Builder b, Kernel k, int j, Ref in, Ref out) {
    if (k.spec() instanceof GroupNormOf f) { // F.groupNorm(x, groups, w, b, eps): the weight and bias fields, where given
      b.addStatement("$T.groupNormForward($L, $L, $L, $L, $L, $L, p.mean$L, p.rstd$L, n, $L, $L, $L, $L)", NORM, out.array, out.offset,
          in.array, in.offset, fieldArguments(groupNormField(k, true)), fieldArguments(groupNormField(k, false)), j, j, k.channels(),
          f.groups(), k.spatial(), f.eps());
      return;
    }
    GroupNorm.Options o = (GroupNorm.Options) k.spec();
    b.addStatement("$T.groupNormForward($L, $L, $L, $L, $L, p.mean$L, p.rstd$L, n, $L, $L, $L, $L)", NORM, out.array, out.offset,
        in.array, in.offset, affineArguments(layerField(k.layer()), o.affine()), j, j, k.channels(), o.numGroups(), k.spatial(),
        o.eps());
  }

  /** A group norm's gradients: the input's into {@code target} (when wanted), the weight's and bias's added to theirs. */
  private void groupNormBackward(CodeBlock.Builder b, Kernel k, int j, Ref in, Ref d, Ref target) {
    if (k.spec() instanceof GroupNormOf f) { // the fields' gradients added to their own (none for a buffer)
      TensorIr w = groupNormField(k, true), bias = groupNormField(k, false);
      b.addStatement("$T.groupNormBackward($L, $L, $L, $L, $L, $L, true, $L, $L, $L, $L, $L, p.mean$L, p.rstd$L, n, $L, $L, $L)", NORM,
          target.array, target.offset, convFieldGradient(w), w == null ? "0" : gradOffset(w), convFieldGradient(bias),
          bias == null ? "0" : gradOffset(bias), d.array, d.offset, in.array, in.offset, fieldArguments(w), j, j, k.channels(),
          f.groups(), k.spatial());
      return;
    }
    GroupNorm.Options o = (GroupNorm.Options) k.spec();
    String gn = layerField(k.layer());
    b.addStatement("$T.groupNormBackward($L, $L, $L, true, $L, $L, $L, $L, $L, p.mean$L, p.rstd$L, n, $L, $L, $L)", NORM,
        target.array, target.offset, affineGradients(gn, o.affine()), d.array, d.offset, in.array, in.offset,
        weightArguments(gn, o.affine()), j, j, k.channels(), o.numGroups(), k.spatial());
  }

  /** A group norm step's number of groups: its layer's, or {@code F.groupNorm}'s. */
  private static int groupCount(Kernel k) {
    return k.spec() instanceof GroupNormOf f ? f.groups() : ((GroupNorm.Options) k.spec()).numGroups();
  }

  /** {@code F.groupNorm}'s weight field ({@code weight}) or bias field, null where not given: its inputs after x, in that order. */
  private TensorIr groupNormField(Kernel k, boolean weight) {
    GroupNormOf f = (GroupNormOf) k.spec();
    return weight ? (f.weight() ? ir.tensor(k.inputs().get(1)) : null) : f.bias() ? ir.tensor(k.inputs().get(f.weight() ? 2 : 1)) : null;
  }

  /** A norm layer's weight and bias as kernel arguments (array, offset each), or {@code null, 0, null, 0} without. */
  private static String affineArguments(String layer, boolean affine) {
    return affine ? weightArguments(layer, true) + ", " + layer + ".bias().readBuffer(), " + layer + ".bias().offset()"
        : "null, 0, null, 0";
  }

  /** A norm layer's weight as kernel arguments (array, offset), or {@code null, 0} without. */
  private static String weightArguments(String layer, boolean affine) {
    return affine ? layer + ".weight().readBuffer(), " + layer + ".weight().offset()" : "null, 0";
  }

  /** Where a norm layer's backward adds its weight's and bias's gradients (null where not wanted), or nowhere. */
  private CodeBlock affineGradients(String layer, boolean affine) {
    return affine
        ? CodeBlock.of("$T.gradBuffer($L.weight(), $L), 0, $T.gradBuffer($L.bias(), $L), 0", COMPILED, layer,
            recordedNeed(layer + ".weight()"), COMPILED, layer, recordedNeed(layer + ".bias()"))
        : CodeBlock.of("null, 0, null, 0");
  }

  private Ref ref(String value, Map<String, Ref> refs) {
    return refs.computeIfAbsent(value, v -> {
      TensorIr field = ir.tensor(v);
      if (field != null) { // the model's own tensor, read where it lives
        return new Ref(readExpression(field) + ".readBuffer()", fieldOffset(field), false);
      }
      String s = storage.get(v);
      return switch (s) {
        case "in" -> new Ref("in", "inOff", false);
        case "out" -> new Ref("out", "0", false);
        default -> isInput(s) ? new Ref(s, s + "Off", false) : new Ref("p." + s, "0", true);
      };
    });
  }

  /** A dropout step's probability (element-wise or channel dropout). */
  private static double dropoutP(Kernel k) {
    return k.spec() instanceof Dropout2d.Spec c ? c.p() : ((Dropout.Spec) k.spec()).p();
  }

  /** Mask values per sample of a dropout step: one per value, or one per channel for channel dropout. */
  private static int maskPerSample(Kernel k) {
    return k.spec() instanceof Dropout2d.Spec ? k.channels() : k.outPerSample();
  }

  /** An upsampling step's planes and sizes, as the kernels take them: {@code n * 3, 4, 4, 2, 2}. */
  private static String upsampleArgs(Kernel k) {
    Upsample.Spec s = (Upsample.Spec) k.spec();
    return "n * " + k.channels() + ", " + k.inShape()[2] + ", " + k.inShape()[3] + ", " + s.scaleH() + ", " + s.scaleW();
  }

  /** A select's or narrow's slabs, as {@code SliceKernels} takes them: {@code n * rows, pitch, skip, width}. */
  private static String sliceArgs(Kernel k) {
    int[] s = (k.spec() instanceof Split.Piece piece ? piece.narrow(k.inShape()) : (Narrow) k.spec()).slabs(k.inShape());
    return (s[0] == 1 ? "n" : "n * " + s[0]) + ", " + s[1] + ", " + s[2] + ", " + s[3];
  }

  /** Values a layer norm step normalises together: the product of its normalized shape. */
  private static int layerNormInner(Kernel k) {
    return Shapes.numel(((LayerNorm.Spec) k.spec()).normalizedShape());
  }

  /** Rows per sample a layer norm step normalises: [N, S, D] over D has S. */
  private static int layerNormRows(Kernel k) {
    return k.outPerSample() / layerNormInner(k);
  }

  private static String rows(Kernel k) {
    return k.rowsPerSample() == 1 ? "n" : "n * " + k.rowsPerSample();
  }

  // ------------------------------------------------------------------ plan

  private TypeSpec plan() {
    TypeSpec.Builder t = TypeSpec.classBuilder("Plan")
        .addModifiers(Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
        .superclass(PLAN_CACHE.nestedClass("Entry"))
        .addJavadoc("Buffers for one batch size: activations kept for backward, allocated with the plan; gradients, allocated\n"
            + "by the first backward (inference never needs them).\n");
    MethodSpec.Builder ctor = MethodSpec.constructorBuilder().addParameter(TypeName.INT, "n").addStatement("super(n)");
    for (String a : activationBuffers) {
      t.addField(FLOATS, a, Modifier.FINAL);
      ctor.addStatement("this.$L = new float[n * $L]", a, sizes.get(a));
    }
    MethodSpec.Builder gradients = MethodSpec.methodBuilder("gradients")
        .addJavadoc("Allocates the gradient buffers once, at the first backward.\n");
    if (!gradientBuffers.isEmpty()) {
      gradients.beginControlFlow("if (d$L != null)", gradientBuffers.iterator().next()).addStatement("return").endControlFlow();
    }
    for (String d : gradientBuffers) {
      t.addField(FLOATS, "d" + d);
      gradients.addStatement("d$L = new float[n * $L]", d, sizes.get(d));
    }
    for (String d : scratchBuffers) {
      t.addField(FLOATS, "t" + d);
      gradients.addStatement("t$L = new float[n * $L]", d, sizes.get(d));
    }
    t.addMethod(gradients.build());
    for (int j = 1; j <= kernels.size(); j++) {
      Kernel k = kernels.get(j - 1);
      int[] in = k.inShape();
      switch (k.kind()) {
        case CONV -> {
          t.addField(CONV_SHAPE, "shape" + j, Modifier.FINAL);
          if (paddedInput(k) != null) { // x padded as eager pads it, and its gradient (a transposed convolution's output padding)
            t.addField(FLOATS, "padded" + j, Modifier.FINAL).addField(FLOATS, "dPadded" + j, Modifier.FINAL);
            ctor.addStatement("this.padded$L = new float[n * $L]", j, perSample(paddedInput(k)))
                .addStatement("this.dPadded$L = new float[n * $L]", j, perSample(paddedInput(k)));
          }
          if (k.spec() instanceof ConvTranspose2d.Spec c) { // the convolution that maps the output back to the input
            int[] out = k.outShape();
            if (c.dilationH() == 1 && c.dilationW() == 1 && c.groups() == 1) {
              ctor.addStatement("this.shape$L = new $T(n, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", j, CONV_SHAPE, out[1], out[2],
                  out[3], in[1], c.kernelH(), c.kernelW(), c.strideH(), c.strideW(), c.padH(), c.padW());
            } else { // dilation and groups: the convolution's with the same ones (GroupedConv's kernels)
              ctor.addStatement("this.shape$L = new $T(n, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", j, CONV_SHAPE, out[1],
                  out[2], out[3], in[1], c.kernelH(), c.kernelW(), c.strideH(), c.strideW(), c.padH(), c.padW(), c.dilationH(),
                  c.dilationW(), c.groups());
            }
          } else {
            Conv2d.Spec c = asConv2d(k.spec());
            int[] image = asImage(in);
            if (c.dilationH() == 1 && c.dilationW() == 1 && c.groups() == 1) {
              ctor.addStatement("this.shape$L = new $T(n, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", j, CONV_SHAPE, image[1], image[2],
                  image[3], c.outChannels(), c.kernelH(), c.kernelW(), c.strideH(), c.strideW(), c.padH(), c.padW());
            } else { // dilation and groups: GroupedConv's kernels
              ctor.addStatement("this.shape$L = new $T(n, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L, $L)", j, CONV_SHAPE, image[1],
                  image[2], image[3], c.outChannels(), c.kernelH(), c.kernelW(), c.strideH(), c.strideW(), c.padH(), c.padW(),
                  c.dilationH(), c.dilationW(), c.groups());
            }
          }
        }
        case POOL -> {
          int[] image = asImage(in);
          t.addField(POOL_SHAPE, "shape" + j, Modifier.FINAL);
          ctor.addStatement("this.shape$L = new $T(n, $L, $L, $L, $L)", j, POOL_SHAPE, image[1], image[2], image[3],
              maxPoolWindow(k.spec()));
          t.addField(ArrayTypeName.of(TypeName.INT), "argmax" + j, Modifier.FINAL);
          ctor.addStatement("this.argmax$L = new int[n * $L]", j, k.outPerSample());
        }
        case EMBEDDING -> {
          if (k.spec() instanceof EmbeddingBag.Spec bag && bag.mode() == EmbeddingBag.Mode.MAX) { // where each maximum came from
            t.addField(ArrayTypeName.of(TypeName.INT), "bagArgmax" + j, Modifier.FINAL);
            ctor.addStatement("this.bagArgmax$L = new int[n * $L]", j, bag.embeddingDim());
          }
        }
        case NORMALIZE -> { // the norm and its clamp kept for backward; the denominator's gradient and the norm's input gradient
          int[] a = ((Normalize) k.spec()).along(k.inShape());
          for (String f : List.of("norm", "clamped", "dnorm")) {
            t.addField(FLOATS, f + j, Modifier.FINAL);
            ctor.addStatement("this.$L$L = new float[n * $L]", f, j, a[0] * a[2]);
          }
          t.addField(FLOATS, "dnormIn" + j, Modifier.FINAL);
          ctor.addStatement("this.dnormIn$L = new float[n * $L]", j, k.inPerSample());
        }
        case COSINE -> { // each operand's expansion, raised norm and quotient, their product; backward's gradients of those
          int[] shape = cosineShape(k);
          int[] a = ((Cosine) k.spec()).along(shape);
          for (int w = 0; w < 2; w++) {
            int[][] passes = cosineExpansion(k, w);
            for (String f : List.of("norm", "dnorm")) {
              t.addField(FLOATS, f + j + "_" + w, Modifier.FINAL);
              ctor.addStatement("this.$L$L_$L = new float[n * $L]", f, j, w, a[0] * a[2]);
            }
            for (String f : passes.length > 0 ? List.of("quotient", "dquotient", "expanded", "dexpanded") : List.of("quotient", "dquotient")) {
              t.addField(FLOATS, f + j + "_" + w, Modifier.FINAL);
              ctor.addStatement("this.$L$L_$L = new float[n * $L]", f, j, w, perSample(shape));
            }
            if (passes.length > 0) {
              t.addField(FLOATS, "dsmall" + j + "_" + w, Modifier.FINAL);
              ctor.addStatement("this.dsmall$L_$L = new float[$L]", j, w, operandValues(k, w));
              passBuffers(t, ctor, passes, List.of("expanding" + j + "_" + w + "_", "dexpanding" + j + "_" + w + "_"));
            }
          }
          for (String f : List.of("product", "dproduct", "dnormIn")) {
            t.addField(FLOATS, f + j, Modifier.FINAL);
            ctor.addStatement("this.$L$L = new float[n * $L]", f, j, perSample(shape));
          }
        }
        case TILE -> passBuffers(t, ctor, ((Tile) k.spec()).passes(k.inShape()), List.of("tile" + j + "_", "dtile" + j + "_"));
        case WHERE -> { // a tensor field expanded to the result's shape first, its gradient summed back through the passes
          for (int w = 0; w < 3; w++) {
            int[][] passes = whereExpansion(k, w);
            if (passes.length > 0) { // (a field: a gradient buffer for a parameter's, not a mask's or a buffer's)
              boolean trained = w < 2 && ir.tensor(k.inputs().get(w)).isParameter();
              for (String f : trained ? List.of("whereExpanded", "dwhereExpanded") : List.of("whereExpanded")) {
                t.addField(FLOATS, f + j + "_" + w, Modifier.FINAL);
                ctor.addStatement("this.$L$L_$L = new float[n * $L]", f, j, w, k.outPerSample());
              }
              passBuffers(t, ctor, passes, trained ? List.of("whereExpanding" + j + "_" + w + "_", "dwhereExpanding" + j + "_" + w + "_")
                  : List.of("whereExpanding" + j + "_" + w + "_"));
            }
          }
        }
        case LAYERNORM, GROUPNORM -> {
          for (String f : List.of("mean", "rstd")) {
            t.addField(DOUBLES, f + j, Modifier.FINAL);
            ctor.addStatement("this.$L$L = new double[n * $L]", f, j,
                k.kind() == Kernel.Kind.LAYERNORM ? layerNormRows(k) : groupCount(k));
          }
        }
        case BATCHNORM -> {
          for (String f : List.of("mean", "var", "dweight", "dbias")) {
            t.addField(FLOATS, f + j, Modifier.FINAL);
            ctor.addStatement("this.$L$L = new float[$L]", f, j, k.channels());
          }
        }
        case AVGPOOL -> {
          t.addField(AVG_SHAPE, "shape" + j, Modifier.FINAL);
          ctor.addStatement("this.shape$L = $L", j, avgPoolShape(k.spec(), asImage(in)));
        }
        case RECURRENT -> {
          Recurrent.Spec r = k.recurrent();
          t.addField(RECURRENT_STACK, "rnn" + j, Modifier.FINAL);
          ctor.addStatement("this.rnn$L = new $T($T.$L, n, $L, $L, $L, $L, $L, $L, $L$L)", j, RECURRENT_STACK, RECURRENT_MODE, r.mode(),
              in[1], r.inputSize(), r.hiddenSize(), r.numLayers(), r.bidirectional(), r.bias(), r.dropout(),
              k.lastStates() ? ", true /* the last states after the output */" : "");
          onlyInitial(ctor, k, j);
        }
        case DROPOUT -> {
          t.addField(FLOATS, "mask" + j, Modifier.FINAL);
          ctor.addStatement("this.mask$L = new float[n * $L]", j, maskPerSample(k));
        }
        case ACTIVATION -> {
          if (k.spec() instanceof GELU.Spec) { // GELU's slope, written by a forward with grad on for its backward
            t.addField(FLOATS, "slope" + j, Modifier.FINAL);
            ctor.addStatement("this.slope$L = new float[n * $L]", j, k.outPerSample());
          }
        }
        default -> { }
      }
    }
    return t.addMethod(ctor.build()).build();
  }

  // ------------------------------------------------------------------ backward

  private TypeSpec backward() {
    List<String> params = parameterExpressions();
    MethodSpec.Builder ctorBuilder = MethodSpec.constructorBuilder()
        .addParameters(inputParameters()).addParameter(ClassName.get("", "Plan"), "p").addParameter(FLOATS, "out");
    if (outputs != null) {
      ctorBuilder.addParameter(OUTPUT_GRADIENTS, "outputGradients");
    }
    if (usesTrainingMode()) {
      ctorBuilder.addParameter(ArrayTypeName.of(TypeName.BOOLEAN), "training");
    }
    ctorBuilder.addStatement("super(x$L$L)", furtherArguments(), params.isEmpty() ? "" : ", "
        + params.stream().map(this::nodeInput).collect(Collectors.joining(", ")))
        .addStatement("this.x = x");
    for (int j = 1; j <= ir.further().size(); j++) {
      ctorBuilder.addStatement("this.x$L = x$L", j, j);
    }
    ctorBuilder
        .addStatement("this.p = p")
        .addStatement("this.out = out")
        .addStatement("this.generation = p.holdForBackward()");
    if (outputs != null) {
      ctorBuilder.addStatement("this.outputGradients = outputGradients");
    }
    if (usesTrainingMode()) {
      ctorBuilder.addStatement("this.training = training");
    }
    MethodSpec ctor = ctorBuilder.build();

    CodeBlock.Builder b = CodeBlock.builder()
        .addStatement("p.enterBackward($S, generation, lastBackward())", name)
        .beginControlFlow("try")
        .addStatement("p.gradients()")
        .addStatement("int n = p.n")
        .addStatement("float[] in = x.readBuffer()")
        .addStatement("int inOff = x.offset()")
        .addStatement("float[] dx = needsGrad(0) ? new float[n * $L] : null", sizes.get("in"));
    readFurtherInputs(b);
    for (int j = 1; j <= ir.further().size(); j++) {
      if (inputGradients.contains("in" + j)) {
        b.addStatement("float[] dx$L = needsGrad($L) ? new float[n * $L] : null", j, j, sizes.get("in" + j));
      } else {
        b.add(ir.furtherIsIds(ir.further().get(j - 1)) ? "// $L is ids, which an Embedding looks up: it gets no gradient\n"
            : "// $L is read as a mask only: it gets no gradient\n", ir.further().get(j - 1).name());
      }
    }
    for (TensorIr t : parameterWheres()) { // each reader's gradient summed here, returned for eager's where backward
      b.addStatement("float[] $L = null", whereGradient(t));
    }
    if (!zeroedGradients.isEmpty()) {
      b.add("// gradients of values several steps read: each adds its own, and a step no gradient reaches is skipped\n");
      zeroedGradients.forEach(st -> b.addStatement("$T.fill(p.d$L, 0f)", Arrays.class, st));
    }
    Map<String, Ref> refs = new LinkedHashMap<>();
    String finalStorage = kernels.isEmpty() ? "in" : storage.get(kernels.get(kernels.size() - 1).out());
    Map<String, Ref> grads = new LinkedHashMap<>();
    grads.put(finalStorage, new Ref("g.readBuffer()", "g.offset()", false));
    OutputGradientFlow flow = outputs == null ? null : new OutputGradientFlow(b, grads);
    // A step's input gradient is needed only when a step before it has a parameter that requires grad, or
    // x does (fine-tuning with frozen layers): below the last such step the backward stops.
    b.add("// needK: whether step K's input gradient is needed (a parameter before it, or x, requires grad); dInK\n"
        + "// is its buffer then, else null. Each step returns first when its output's gradient is not needed, so\n"
        + "// frozen early layers cost nothing\n");
    String below = "dx != null" + inputGradients.stream().map(st -> " || " + inputGradient(st) + " != null").collect(Collectors.joining());
    for (int i = 0; i < kernels.size(); i++) {
      Kernel k = kernels.get(i);
      if (k.kind() == Kernel.Kind.VIEW) {
        continue;
      }
      if (i > 0) {
        b.addStatement("boolean need$L = $L", i, below);
        below = "need" + i;
        String inStorage = storage.get(k.in());
        if (inStorage != null && !isInput(inStorage)) { // (none for a tensor field: a where of two, Planner.plan)
          b.addStatement("float[] dIn$L = need$L ? p.d$L : null", i, i, inStorage);
        }
        for (int w = 1; w < k.inputs().size(); w++) {
          String joined = storage.get(k.inputs().get(w));
          if (joined != null && !isInput(joined)) { // (a tensor field's gradient, if any, is its own; an input's is dxK)
            b.addStatement("float[] dIn$L_$L = need$L ? p.d$L : null", i, w, i, joined);
          }
        }
      }
      List<String> own = trainable(k);
      if (!own.isEmpty()) {
        below = below + " || " + String.join(" || ", own);
      }
    }
    String needAbove = null; // the needK of the step after this one: whether this step's output gradient is needed
    for (int at = 0; at < backwardOrder.size(); at++) {
      int i = backwardOrder.get(at);
      Kernel k = kernels.get(i);
      if (k.kind() == Kernel.Kind.VIEW) {
        continue;
      }
      if (flow != null) {
        flow.enter(storage.get(k.out()));
      }
      b.add("// $L: gradient of $L   $L\n", k.label(), inShapes(k), k.source().where());
      // needAbove: the needK of the step after this one in program order (none for the last)
      needAbove = IntStream.range(i + 1, kernels.size()).filter(j -> kernels.get(j).kind() != Kernel.Kind.VIEW)
          .mapToObj(j -> "need" + j).findFirst().orElse(null);
      // in eager's order a step after this one in program order may still come (one of another branch): skip this one
      boolean skips = needAbove != null && backwardOrder.subList(at + 1, backwardOrder.size()).stream().anyMatch(j -> j > i);
      if (needAbove != null && !skips) { // at each step (after an output's gradient joined, too): nothing left to do, return
        b.beginControlFlow("if (!$L)", needAbove);
        returnGradients(b, null, params.size() + 1 + ir.further().size()); // x needs no gradient: dx is null
        b.endControlFlow();
      }
      String runs = runIf.get(i);
      if (runs != null) {
        b.add("// only when an output this step leads to received a gradient\n").beginControlFlow("if ($L)", runs);
      } else if (skips) {
        runs = needAbove;
        b.add("// only when a step before it needs its gradient (a later one in program order still comes: no return)\n")
            .beginControlFlow("if ($L)", runs);
      }
      if (sendsNoGradient(k)) { // (its values read only as a mask got no gradient either)
        b.add(k.kind() == Kernel.Kind.COMPARE ? "// a comparison has no gradient\n"
            : k.spec() instanceof LineOp l ? "// an " + l.kind().name().toLowerCase(Locale.ROOT) + " has no gradient\n"
            : k.kind() == Kernel.Kind.IDS ? "// integer arithmetic of ids has no gradient\n"
            : "// a where's mask has no gradient\n");
        if (runs != null) {
          b.endControlFlow();
        }
        continue;
      }
      Ref in = ref(k.in(), refs);
      Ref out = ref(k.out(), refs);
      // (a returned value no step reads has the gradient the loss sent it alone)
      Ref d = grads.computeIfAbsent(storage.get(k.out()), st -> flow.gradient(st));
      String inStorage = storage.get(k.in());
      Ref target = inStorage == null ? null // a tensor field (a where of two), whose gradient is its own
          : isInput(inStorage) ? new Ref(inputGradient(inStorage), "0", true) : new Ref("p.d" + inStorage, "0", true);
      boolean conditional = inStorage != null && !isInput(inStorage) && i > 0;
      if (conditional) { // null when nothing before this step needs its input's gradient
        target = new Ref("dIn" + i, target.offset, true);
      }
      if (masksInPlace(k) && !d.owned) { // work on a copy of the incoming gradient
        b.addStatement("System.arraycopy($L, $L, p.dout, 0, n * $L)", d.array, d.offset, k.outPerSample());
        d = new Ref("p.dout", "0", true);
      }
      int j = i + 1;
      if (k.kind() == Kernel.Kind.EMBEDDING && k.spec() instanceof ConstantIds c) { // summed over the batch, then by id
        constantIdsBackward(b, k, c, j, d);
        if (runs != null) {
          b.endControlFlow();
        }
        continue;
      }
      if (k.kind() == Kernel.Kind.EMBEDDING && k.spec() instanceof EmbeddingBag.Spec bag) { // each bag's gradient into its rows
        String layer = layerField(k.layer());
        String local = localPrefix(k, j);
        b.addStatement("float[] $LGW = $T.gradBuffer($L.weight(), $L)", local, COMPILED, layer, recordedNeed(layer + ".weight()"))
            .beginControlFlow("if ($LGW != null)", local)
            .addStatement("$T.embeddingBagBackward($LGW, 0, $L, $L, $L, $L, null, n, $L, $L, $L, $L, null, $L)", KERNELS, local, d.array,
                d.offset, in.array, in.offset, k.inPerSample(), bag.embeddingDim(), bag.mode().ordinal(), bag.paddingIdx(),
                bag.mode() == EmbeddingBag.Mode.MAX ? "p.bagArgmax" + j : "null")
            .endControlFlow();
        if (runs != null) {
          b.endControlFlow();
        }
        continue;
      }
      if (k.kind() == Kernel.Kind.EMBEDDING) { // the weight's rows, by id; the ids get no gradient
        Embedding.Spec e = (Embedding.Spec) k.spec();
        String layer = layerField(k.layer());
        b.addStatement("$T.embeddingBackward($L.weight(), $L, $L, $L, $L, $L, n * $L, $L, $L)", COMPILED, layer,
            recordedNeed(layer + ".weight()"), d.array, d.offset, in.array, in.offset, k.inPerSample(), e.embeddingDim(), e.paddingIdx());
        if (runs != null) {
          b.endControlFlow();
        }
        continue;
      }
      if (k.kind() == Kernel.Kind.COSINE) {
        cosineBackward(b, k, i, d, target, grads, refs);
        if (runs != null) {
          b.endControlFlow();
        }
        continue;
      }
      if (k.arithmetic() || k.kind() == Kernel.Kind.CAT || k.kind() == Kernel.Kind.MATMUL || k.kind() == Kernel.Kind.WHERE
          || k.kind() == Kernel.Kind.POINTWISE_PAIR) {
        joinBackward(b, k, i, d, out, target, grads, refs);
        if (runs != null) {
          b.endControlFlow();
        }
        continue;
      }
      // the input's gradient is already written by a step after this one: this step's is added to it
      boolean accumulate = accumulating.contains(i + ":0");
      Ref written = target;
      if (accumulate && !addsItself(k)) {
        b.add("// $L is read by a later step too, whose gradient is there already: this one's is added\n", k.in().equals(ir.inputName())
                ? "the input" : "this step's input")
            .addStatement("float[] t$L = $L != null ? p.t$L : null", j, target.array, inStorage);
        target = new Ref("t" + j, "0", true);
      }
      if (k.functionalConv()) { // the weight's and bias's gradients added to the fields' own (none for a buffer)
        TensorIr w = convField(k, 1), bias = convField(k, 2);
        b.addStatement("$T.$LBackward($L, $L, $L, $L, $L, $L, true, $L, $L, $L, $L, $L.readBuffer(), $L, p.shape$L)", CONV, convName(k),
            target.array, target.offset, convFieldGradient(w), gradOffset(w), convFieldGradient(bias), bias == null ? "0" : gradOffset(bias),
            d.array, d.offset, in.array, in.offset, readExpression(w), fieldOffset(w), j);
      } else if (k.kind() == Kernel.Kind.CONV) {
        String layer = layerField(k.layer());
        String local = localPrefix(k, j);
        int[] padded = paddedInput(k);
        // an output padding of at least the stride: the padded x's gradient, of which x's is the top left (pad's backward)
        String dx = padded == null ? target.array : target.array + " == null ? null : p.dPadded" + j;
        b.addStatement("$T $LW = $L.weight()", TENSOR, local, layer)
            .addStatement("$T.$LBackward($L, $L, $T.gradBuffer($L.weight(), $L), 0, $L, 0, true, $L, $L, $L, $L, $LW.readBuffer(), $LW.offset(), p.shape$L)",
                CONV, convName(k), dx, padded == null ? target.offset : "0", COMPILED, layer, recordedNeed(layer + ".weight()"),
                convBias(k)
                    ? CodeBlock.of("$T.gradBuffer($L.bias(), $L)", COMPILED, layer, recordedNeed(layer + ".bias()")) : "null",
                d.array, d.offset, padded == null ? in.array : "p.padded" + j, padded == null ? in.offset : "0", local, local, j);
        if (padded != null) {
          b.beginControlFlow("if ($L != null)", target.array)
              .addStatement("$T.indexMap($L, $L, p.dPadded$L, 0, new int[] {$L}, new int[] {$L}, new boolean[4], new long[4], 0f)", INDEX,
                  target.array, target.offset, j, batchShape(k.inShape()), batchShape(padded))
              .endControlFlow();
        }
      } else if (k.kind() == Kernel.Kind.PERMUTE) { // the gradient permuted back
        b.addStatement("$T.permute($L, $L, $L, $L, new int[] {$L}, new int[] {$L}, $L)", KERNELS, target.array, target.offset,
            d.array, d.offset, batchShape(k.outShape()), joined(inverseOrder(k)), accumulate);
      } else if (k.kind() == Kernel.Kind.SCALE) {
        b.addStatement("$T.scale($L, $L, $L, $L, n * $L, $Lf, $L)", KERNELS, target.array, target.offset, d.array, d.offset,
            k.outPerSample(), ((Scale) k.spec()).factor(), accumulate);
      } else if (k.kind() == Kernel.Kind.SHIFT) { // the gradient as it is
        b.addStatement("$T.addBackward($L, $L, $L, $L, null, 0, n * $L, $L)", KERNELS, target.array, target.offset, d.array,
            d.offset, k.outPerSample(), accumulate);
      } else if (k.kind() == Kernel.Kind.REDUCE) { // the gradient (over the size, for a mean) along the dimension
        b.addStatement("$T.$L($L, $L, $L, $L, $L, $L, $L)", MATH, reducesOver(k) ? "spreadOver" : "spreadAlong", target.array,
            target.offset, d.array, d.offset, reduceAxes(k), reduceFactor(k), accumulate);
      } else if (k.kind() == Kernel.Kind.MASKED_FILL && ((MaskedFill) k.spec()).byValue()) { // zero where the mask input filled
        b.addStatement("$T.maskedFillRepeatedBackward($L, $L, $L, $L, $L, $L)", KERNELS, target.array, target.offset, d.array,
            d.offset, maskInputArgs(k, refs), accumulate);
      } else if (k.kind() == Kernel.Kind.MASKED_FILL) { // the gradient, zero where the mask filled
        b.addStatement("$T.maskedFillBackward($L, $L, $L, $L, $L, $L, $L)", KERNELS, target.array, target.offset, d.array,
            d.offset, maskBlocks(k), maskArgs(k), accumulate);
      } else if (placing.contains(i)) { // a piece of a split, whose pieces write their slices of its input's gradient
        b.add("// the split's pieces write its input's gradient between them: this piece's is copied into its slice\n")
            .addStatement("$T.pieceBackward($L, $L, $L, $L, $L)", SLICES, target.array, target.offset, d.array, d.offset, sliceArgs(k));
      } else if (k.kind() == Kernel.Kind.SLICE) { // the gradient into the slice, zero elsewhere
        b.addStatement("$T.narrowBackward($L, $L, $L, $L, $L, $L)", SLICES, target.array, target.offset, d.array, d.offset,
            sliceArgs(k), accumulate);
      } else if (k.kind() == Kernel.Kind.RECURRENT) { // back through time; each parameter's gradient added to its own
        String layer = layerField(k.layer());
        List<CodeBlock> parameterGrads = parametersOf(k.layer()).stream()
            .map(param -> CodeBlock.of("$T.grad($L, $L)", COMPILED, param, recordedNeed(param))).toList();
        b.addStatement("p.rnn$L.backward($L, $L, $L, $L, $L$L, $L.flatWeights(), new $T[] {\n$>$>$L$<$<})", j, target.array,
            target.offset, accumulate, d.array, d.offset, initialStatesGradient(k, i, grads), layer, TENSOR, CodeBlock.join(parameterGrads, ",\n"));
      } else if (k.kind() == Kernel.Kind.NORMALIZE) {
        b.beginControlFlow("if ($L != null)", target.array);
        normalizeBackward(b, k, j, target, d, in, out);
        b.endControlFlow();
      } else if (k.kind() == Kernel.Kind.PAD) { // the inverse map: each input entry's gradient read where the forward wrote it
        b.beginControlFlow("if ($L != null)", target.array);
        indexMap(b, k, target, d, true);
        b.endControlFlow();
      } else if (k.kind() == Kernel.Kind.LINE) {
        b.beginControlFlow("if ($L != null)", target.array);
        lineBackward(b, k, target, d, in, out);
        b.endControlFlow();
      } else if (k.kind() == Kernel.Kind.TILE) {
        b.beginControlFlow("if ($L != null)", target.array);
        sumPasses(b, ((Tile) k.spec()).passes(k.inShape()), d, target, "p.dtile" + j + "_");
        b.endControlFlow();
      } else if (k.kind() == Kernel.Kind.UPSAMPLE) {
        b.beginControlFlow("if ($L != null)", target.array)
            .addStatement("$T.upsampleNearestBackward($L, $L, $L, $L, $L)", CONV, target.array, target.offset, d.array, d.offset,
                upsampleArgs(k))
            .endControlFlow();
      } else if (k.kind() == Kernel.Kind.AVGPOOL) {
        b.beginControlFlow("if ($L != null)", target.array)
            .addStatement("p.shape$L.backward($L, $L, $L, $L, n * $L)", j, target.array, target.offset, d.array, d.offset, k.channels())
            .endControlFlow();
      } else if (k.kind() == Kernel.Kind.POOL) {
        b.beginControlFlow("if ($L != null)", target.array);
        if (maskedByPooling.contains(k.in())) { // the preceding ReLU's mask, applied to the pooled values
          b.addStatement("$T.maxPool2dReluBackward($L, $L, $L, $L, $L, $L, p.argmax$L, p.shape$L)", CONV, target.array,
              target.offset, d.array, d.offset, out.array, out.offset, j, j);
        } else {
          b.addStatement("$T.maxPool2dBackward($L, $L, $L, $L, p.argmax$L, p.shape$L)", CONV, target.array, target.offset,
              d.array, d.offset, j, j);
        }
        b.endControlFlow();
      } else if (k.kind() == Kernel.Kind.DROPOUT) {
        b.beginControlFlow("if ($L != null && training[$L])", target.array, j);
        if (k.spec() instanceof Dropout2d.Spec) {
          b.addStatement("$T.mulRepeatedBackward($L, $L, $L, $L, p.mask$L, 0, n * $L, $L, 1, false)", KERNELS, target.array,
              target.offset, d.array, d.offset, j, k.channels(), k.spatial());
        } else {
          b.addStatement("$T.applyMask($L, $L, $L, $L, p.mask$L, 0, n * $L)", ACTIVATIONS, target.array, target.offset,
              d.array, d.offset, j, k.outPerSample());
        }
        b.nextControlFlow("else if ($L != null)", target.array)
            .addStatement("System.arraycopy($L, $L, $L, $L, n * $L)", d.array, d.offset, target.array, target.offset, k.outPerSample())
            .endControlFlow();
      } else if (k.kind() == Kernel.Kind.BATCHNORM) {
        batchNormBackward(b, k, j, in, d, target);
      } else if (k.kind() == Kernel.Kind.GROUPNORM) {
        groupNormBackward(b, k, j, in, d, target);
      } else if (k.kind() == Kernel.Kind.LAYERNORM) {
        LayerNorm.Spec s = (LayerNorm.Spec) k.spec();
        String ln = layerField(k.layer());
        b.addStatement("$T.layerNormBackward($L, $L, $L, true, $L, $L, $L, $L, $L, p.mean$L, p.rstd$L, n * $L, $L)", NORM,
            target.array, target.offset, affineGradients(ln, s.elementwiseAffine()), d.array, d.offset, in.array, in.offset,
            weightArguments(ln, s.elementwiseAffine()), j, j, layerNormRows(k), layerNormInner(k));
      } else if (k.kind() == Kernel.Kind.RELU) {
        b.beginControlFlow("if ($L != null)", target.array)
            .addStatement("$T.reluBackward($L, $L, $L, $L, $L, $L, n * $L)", KERNELS, target.array, target.offset,
                d.array, d.offset, out.array, out.offset, k.outPerSample())
            .endControlFlow();
      } else if (k.kind() == Kernel.Kind.POINTWISE) {
        b.beginControlFlow("if ($L != null)", target.array);
        pointwiseBackward(b, k, target, d, in, out);
        b.endControlFlow();
      } else if (k.kind() == Kernel.Kind.ACTIVATION) {
        b.beginControlFlow("if ($L != null)", target.array);
        if (Planner.isPiecewise(k.spec())) { // from the input, as eager mode's
          piecewiseBackward(b, k, target, d, in);
        } else if (k.spec() instanceof LeakyReLU.Spec l) { // from the input: its sign picks the slope
          b.addStatement("$T.leakyReluBackward($L, $L, $L, $L, $L, $L, n * $L, $Lf)", ACTIVATIONS, target.array,
              target.offset, d.array, d.offset, in.array, in.offset, k.outPerSample(), (float) l.negativeSlope());
        } else if (k.spec() instanceof GELU.Spec) { // the slope Phi(x) + x phi(x) the forward kept: geluBackward's bits
          b.addStatement("$T.applyMask($L, $L, $L, $L, p.slope$L, 0, n * $L)", ACTIVATIONS, target.array, target.offset,
              d.array, d.offset, j, k.outPerSample());
        } else if (k.spec() instanceof SiLU.Spec) { // from the input: s (1 + x (1 - s))
          b.addStatement("$T.$LBackward($L, $L, $L, $L, $L, $L, n * $L)", ACTIVATIONS, activationName(k), target.array,
              target.offset, d.array, d.offset, in.array, in.offset, k.outPerSample());
        } else if (k.spec() instanceof Softmax.Spec || k.spec() instanceof LogSoftmax.Spec) {
          // from the output: y (g - sum(g y)) along the dimension, or g - exp(y) sum(g) for log-softmax
          b.addStatement("$T.$LBackward($L, $L, $L, $L, $L, $L, $L)", ACTIVATIONS, softmaxName(k), target.array, target.offset,
              d.array, d.offset, out.array, out.offset, softmaxAxes(k));
        } else { // from the output: y (1 - y) for sigmoid, 1 - y^2 for tanh
          b.addStatement("$T.$LBackward($L, $L, $L, $L, $L, $L, n * $L)", ACTIVATIONS, activationName(k), target.array,
              target.offset, d.array, d.offset, out.array, out.offset, k.outPerSample());
        }
        b.endControlFlow();
      } else {
        String layer = layerField(k.layer());
        String rows = rows(k);
        int inF = k.linear().inFeatures(), outF = k.linear().outFeatures();
        String gb = k.linear().bias() ? "$T.gradBuffer(" + layer + ".bias(), " + recordedNeed(layer + ".bias()") + ")" : "null";
        if (k.relu()) {
          b.addStatement("$T.reluBackwardBiasGradient(" + gb + ", 0, $L, $L, $L, $L, $L, $L, true)",
              k.linear().bias() ? new Object[] {KERNELS, COMPILED, d.array, d.offset, out.array, out.offset, rows, outF}
                  : new Object[] {KERNELS, d.array, d.offset, out.array, out.offset, rows, outF});
        } else if (k.linear().bias()) {
          b.addStatement("$T.biasGradient($T.gradBuffer($L.bias(), $L), 0, $L, $L, $L, $L, true)", KERNELS, COMPILED, layer,
              recordedNeed(layer + ".bias()"), d.array, d.offset, rows, outF);
        }
        String local = localPrefix(k, j);
        // both products from the gradient staged once: the weight's (none when its GW is null), the input's (none when
        // its buffer is null; beta 1 where a later step's gradient of the same input is there already)
        b.addStatement("$T $LGW = $T.grad($L.weight(), $L)", TENSOR, local, COMPILED, layer, recordedNeed(layer + ".weight()"))
            .addStatement("$T.linearBackward($L, $L, $L, $L, $L, $L, $L, $LGW, $L.weight(), $L, $L, $L)", BLAS, rows, outF, inF,
                d.array, d.offset, in.array, in.offset, local, layer, accumulate ? "1f" : "0f", target.array, target.offset);
      }
      if (accumulate && !addsItself(k)) {
        b.addStatement("$T.accumulate($L, $L, $L, 0, n * $L)", KERNELS, written.array, written.offset, target.array, k.inPerSample());
      }
      if (runs != null) {
        b.endControlFlow();
      }
      grads.put(inStorage, written);
    }
    if (flow != null) {
      flow.enter("in");
      flow.close();
    } else if (kernels.stream().allMatch(k -> k.kind() == Kernel.Kind.VIEW)) {
      b.beginControlFlow("if (dx != null)").addStatement("System.arraycopy(g.readBuffer(), g.offset(), dx, 0, dx.length)").endControlFlow();
    }
    b.addStatement("$T[] grads = new $T[$L]", TENSOR, TENSOR, params.size() + 1 + ir.further().size())
        .addStatement("grads[0] = dx == null$L ? null : $T.wrap(dx, x.shape())", reachedOrNot("in"), TENSOR);
    for (int j = 1; j <= ir.further().size(); j++) {
      if (inputGradients.contains("in" + j)) {
        b.addStatement("grads[$L] = dx$L == null$L ? null : $T.wrap(dx$L, x$L.shape())", j, j, reachedOrNot("in" + j), TENSOR, j, j);
      }
    }
    returnGradients(b, "grads", 0);
    releasing(b);

    return TypeSpec.classBuilder("Backward")
        .addModifiers(Modifier.PRIVATE, Modifier.FINAL)
        .superclass(NODE)
        .addJavadoc("Backward of one forward call; parameter gradients are accumulated in place, the input's is returned.\n")
        .addField(TENSOR, "x", Modifier.PRIVATE, Modifier.FINAL)
        .addFields(java.util.stream.IntStream.rangeClosed(1, ir.further().size())
            .mapToObj(j -> FieldSpec.builder(TENSOR, "x" + j, Modifier.PRIVATE, Modifier.FINAL).build()).toList())
        .addField(ClassName.get("", "Plan"), "p", Modifier.PRIVATE, Modifier.FINAL)
        .addField(FLOATS, "out", Modifier.PRIVATE, Modifier.FINAL)
        .addField(TypeName.INT, "generation", Modifier.PRIVATE, Modifier.FINAL)
        .addFields(outputs != null
            ? List.of(FieldSpec.builder(OUTPUT_GRADIENTS, "outputGradients", Modifier.PRIVATE, Modifier.FINAL).build()) : List.of())
        .addFields(usesTrainingMode()
            ? List.of(FieldSpec.builder(ArrayTypeName.of(TypeName.BOOLEAN), "training", Modifier.PRIVATE, Modifier.FINAL).build()) : List.of())
        .addMethod(ctor)
        .addMethod(MethodSpec.methodBuilder("name").addAnnotation(Override.class).addModifiers(Modifier.PUBLIC)
            .returns(String.class).addStatement("return $S", name + ".backward").build())
        .addMethod(MethodSpec.methodBuilder("checkIntact").addAnnotation(Override.class).addModifiers(Modifier.PROTECTED)
            .addStatement("p.checkIntact($S, generation)", name).build())
        .addMethod(MethodSpec.methodBuilder("backward").addAnnotation(Override.class).addModifiers(Modifier.PROTECTED)
            .returns(ArrayTypeName.of(TENSOR)).addParameter(TENSOR, "g").addCode(b.build()).build())
        .build();
  }

  // ------------------------------------------------------------------ several outputs

  /**
   * The outputs method's override and what it calls: for a fused graph, its forward as a private
   * method returning every output ({@code compiledForwardWithHidden(x, all)}), with its own plan and
   * backward node, or all of those in an inner class when forward has a body of its own (so the two
   * graphs keep the usual names {@code Plan}, {@code Backward}, {@code plans}). A delegating
   * {@code forward} returns its component of the same graph.
   */
  private void addOutputsMembers(TypeSpec.Builder type, Generator evaluation) {
    TypeName returns = outputsType();
    String compiled = "compiled" + Character.toUpperCase(outputs.method().charAt(0)) + outputs.method().substring(1);
    String call;
    String cudaCall;
    if (forwardReturns >= 0) {
      addFusedMembers(type, name);
      type.addMethod(forwardMethod(CodeBlock.builder()
          .add("// $L: only that output is kept, its tensor carries the backward node\n", outputs.call(forwardReturns))
          .addStatement("return $L(x, false)[$L]", compiled, forwardReturns).build()));
      call = compiled + "(x, true)";
      cudaCall = cudaOutputsMethod() + "(x)";
    } else if (evaluation == null) {
      addCompiledBeside(type, compiled, outputs.method());
      call = compiled + ".outputs(x)";
      cudaCall = compiled + "." + cudaOutputsMethod() + "(x)";
    } else { // the method reads the training mode: a graph of each (forward does not delegate to it then)
      addMethodModes(type, evaluation, compiled, outputs.method());
      call = compiled + "Training.outputs(x)";
      cudaCall = compiled + "Training." + cudaOutputsMethod() + "(x)";
    }
    List<String> params = parameterExpressions();
    MethodSpec.Builder m = MethodSpec.methodBuilder(outputs.method()).addAnnotation(Override.class)
        .addModifiers(Modifier.PUBLIC).returns(returns).addParameter(TENSOR, "x");
    CodeBlock onCuda = CodeBlock.of("$T.onCuda($S, x$L)", COMPILED, name, params.isEmpty() ? "" : ", " + String.join(", ", params));
    m.addCode(summaryGuard(outputs.method()));
    if (evaluation != null) {
      m.addCode(modeChoice(type, outputs.modes().owners(), outputs.method(), "super." + outputs.method() + "(x)"));
      m.beginControlFlow("if (training)");
    }
    returnOutputs(m, onCuda, cudaCall, call);
    if (evaluation != null) {
      m.endControlFlow();
      List<String> evaluated = evaluation.parameterExpressions();
      evaluation.returnOutputs(m, CodeBlock.of("$T.onCuda($S, x$L)", COMPILED, name, evaluated.isEmpty() ? ""
          : ", " + String.join(", ", evaluated)), compiled + "Evaluation." + cudaOutputsMethod() + "(x)", compiled
          + "Evaluation.outputs(x)");
    }
    type.addMethod(m.build());
  }

  /** The type a method of several outputs returns: its record, or {@code Tensor[]}. */
  private TypeName outputsType() {
    return outputs.isArray() ? ArrayTypeName.of(TENSOR) : recordClass();
  }

  /** The end of a method of several outputs' override: the outputs of {@code cudaCall} or {@code call}, as its record. */
  private void returnOutputs(MethodSpec.Builder m, CodeBlock onCuda, String cudaCall, String call) {
    if (outputs.isArray()) {
      m.addStatement("return $L ? $L : $L", onCuda, cudaCall, call);
    } else {
      m.addStatement("$T[] outputs = $L ? $L : $L", TENSOR, onCuda, cudaCall, call)
          .addStatement("return new $T($L)", outputsType(), java.util.stream.IntStream.range(0, outputs.results().size())
              .mapToObj(i -> "outputs[" + i + "]").collect(Collectors.joining(", ")));
    }
  }

  private ClassName recordClass() {
    String[] names = outputs.recordType().split("\\.");
    return ClassName.get(outputs.recordPackage(), names[0], Arrays.copyOfRange(names, 1, names.length));
  }

  /**
   * The end of the fused outputs method: each output's tensor, handing its gradient to the backward
   * node on a hidden anchor ({@code OutputGradients}), or a plain tensor where its steps record nothing.
   */
  private MethodSpec outputsMethod(CodeBlock.Builder b) {
    List<String> params = parameterExpressions();
    List<String> results = outputs.results();
    int count = results.size();
    String training = usesTrainingMode() ? ", training" : "";
    b.addStatement("boolean recording = $T.recording(x$L$L)", COMPILED, furtherArguments(),
        params.isEmpty() ? "" : ", " + params.stream().map(this::recordingInput).collect(Collectors.joining(", ")));
    if (forwardReturns >= 0) {
      int c = forwardReturns;
      b.beginControlFlow("if (!all)")
          .add("// forward returns $L alone, through the backward node's hidden anchor (OutputGradients)\n", outputLabel(c))
          .addStatement("float[] values = $L", valuesExpression(c, true))
          .addStatement("$T[] one = new $T[$L]", TENSOR, TENSOR, count)
          .beginControlFlow("if ($L)", recordingOf(c))
          .addStatement("$T outputGradients = new $T($L)", OUTPUT_GRADIENTS, OUTPUT_GRADIENTS, count)
          .addStatement("one[$L] = outputGradients.output($L, values, new int[] {$L}, $T.anchor(new Backward(x, p, out, outputGradients$L)))",
              c, c, shapeArguments(c), OUTPUT_GRADIENTS, training)
          .nextControlFlow("else")
          .addStatement("one[$L] = $T.wrap(values, $L)", c, TENSOR, shapeArguments(c))
          .endControlFlow()
          .addStatement("return one")
          .endControlFlow();
    }
    b.add("// the outputs' values: out is new for each call; what lies in the plan's buffers is copied, since the next\n")
        .add("// forward of this batch size overwrites them\n");
    List<String> values = new ArrayList<>();
    boolean outTaken = false;
    for (int i = 0; i < count; i++) {
      boolean first = storage.get(results.get(i)).equals("out") && !outTaken;
      outTaken |= first;
      if (first) {
        values.add("out");
      } else {
        String local = (outputs.isArray() ? "output" + i : outputs.components().get(i)) + "Values";
        b.addStatement("float[] $L = $L", local, valuesExpression(i, false));
        values.add(local);
      }
    }
    List<CodeBlock> plain = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      plain.add(CodeBlock.of("$T.wrap($L, $L)", TENSOR, values.get(i), shapeArguments(i)));
    }
    b.beginControlFlow("if (!recording)")
        .addStatement("return new $T[] {$L}", TENSOR, CodeBlock.join(plain, ", "))
        .endControlFlow();
    b.add("// a hidden anchor carries the backward node; each output hands it its gradient (OutputGradients), an output\n")
        .add("// whose steps record nothing (their parameters frozen, x without gradient) is a plain tensor, as eager's\n")
        .addStatement("$T outputGradients = new $T($L)", OUTPUT_GRADIENTS, OUTPUT_GRADIENTS, count)
        .addStatement("$T anchor = $T.anchor(new Backward(x$L, p, out, outputGradients$L))", TENSOR, OUTPUT_GRADIENTS,
            furtherArguments(), training);
    List<CodeBlock> tensors = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      CodeBlock recorded = CodeBlock.of("outputGradients.output($L, $L, new int[] {$L}, anchor)", i, values.get(i), shapeArguments(i));
      CodeBlock condition = recordingOf(i);
      tensors.add(condition.toString().equals("recording") ? recorded : CodeBlock.of("$L\n    ? $L\n    : $L", condition, recorded, plain.get(i)));
    }
    b.addStatement("return new $T[] {$L}", TENSOR, CodeBlock.join(tensors, ",\n    "));

    MethodSpec.Builder m = forwardReturns >= 0
        ? MethodSpec.methodBuilder("compiled" + Character.toUpperCase(outputs.method().charAt(0)) + outputs.method().substring(1))
            .addModifiers(Modifier.PRIVATE)
            .addJavadoc("The fused $L: its outputs in order ($L), or only $L (for forward) when {@code all} is false.\n",
                outputs.method(), String.join(", ", outputs.components()), outputLabel(forwardReturns))
        : MethodSpec.methodBuilder("outputs")
            .addJavadoc("The fused $L: its outputs in order ($L).\n", outputs.method(), String.join(", ", outputs.components()));
    m.returns(ArrayTypeName.of(TENSOR)).addParameters(inputParameters());
    if (forwardReturns >= 0) {
      m.addParameter(TypeName.BOOLEAN, "all");
    }
    return m.addCode(releasing(b).build()).build();
  }

  /** Closes the {@code try} opened after a plan was taken: the plan is given back however the block ends. */
  private static CodeBlock.Builder releasing(CodeBlock.Builder b) {
    return b.nextControlFlow("finally").addStatement("p.release()").endControlFlow();
  }

  /** The values of output {@code i} for its tensor: {@code out} itself, or a copy of a buffer the next forward reuses. */
  private String valuesExpression(int i, boolean outFree) {
    String s = storage.get(outputs.results().get(i));
    int size = perSample(model.shapeOf(outputs.results().get(i)));
    return switch (s) {
      case "out" -> outFree ? "out" : "out.clone()";
      case "in" -> CodeBlock.of("$T.copyOfRange(in, inOff, inOff + n * $L)", Arrays.class, size).toString();
      default -> "p." + s + ".clone()";
    };
  }

  /** {@code n, 8}: the dimensions of output {@code i}. */
  private String shapeArguments(int i) {
    int[] shape = model.shapeOf(outputs.results().get(i));
    return "n" + (shape.length > 1 ? ", " + joined(Arrays.copyOfRange(shape, 1, shape.length)) : "");
  }

  /** {@code hidden() [N, 8]} for a record component, {@code [1] [N, 8]} for an array element. */
  private String outputLabel(int i) {
    return outputs.components().get(i) + (outputs.isArray() ? "" : "()") + " " + Shapes.toString(model.shapeOf(outputs.results().get(i)));
  }

  /**
   * Whether output {@code i} records: {@code recording} (x or any parameter requires grad) when
   * its steps hold every parameter, else a check of x and its steps' parameters alone, so that an
   * output below frozen layers does not require grad, as in eager mode.
   */
  private CodeBlock recordingOf(int i) {
    Set<String> own = new HashSet<>();
    Map<String, Kernel> producers = new HashMap<>();
    kernels.forEach(k -> producers.put(k.out(), k));
    Deque<String> todo = new ArrayDeque<>(List.of(outputs.results().get(i)));
    Set<String> seen = new HashSet<>();
    Set<String> reached = new HashSet<>(); // the values an output is computed from, the further inputs among them
    while (!todo.isEmpty()) {
      String value = todo.pop();
      reached.add(value);
      Kernel k = producers.get(value);
      if (k != null && seen.add(k.out())) {
        if (k.layer() != null && k.hasParameters()) {
          own.addAll(parametersOf(k.layer()));
        }
        own.addAll(parameterFields(k));
        todo.addAll(k.inputs());
      }
    }
    List<String> all = parameterExpressions();
    // the inputs it is computed from: x (always, with one input), the further inputs it reaches
    List<String> inputs = new ArrayList<>();
    if (ir.further().isEmpty() || reached.contains(ir.inputName())) {
      inputs.add("x");
    }
    for (int j = 1; j <= ir.further().size(); j++) {
      if (reached.contains(ir.further().get(j - 1).name())) {
        inputs.add("x" + j);
      }
    }
    if (own.containsAll(all) && inputs.size() == ir.further().size() + 1) {
      return CodeBlock.of("recording");
    }
    List<String> mine = new ArrayList<>(inputs.isEmpty() ? List.of("x") : inputs);
    all.stream().filter(own::contains).map(this::recordingInput).forEach(mine::add);
    return CodeBlock.of("$T.recording($L)", COMPILED, String.join(", ", mine));
  }

  /** The output computed first (the input counts as before every step); the first such on ties. */
  private int earliestOutput() {
    int best = 0;
    for (int i = 1; i < outputs.results().size(); i++) {
      if (position(outputs.results().get(i)) < position(outputs.results().get(best))) {
        best = i;
      }
    }
    return best;
  }

  private int position(String value) {
    List<dev.kiln.processor.ir.StepIr> steps = ir.steps();
    for (int i = 0; i < steps.size(); i++) {
      if (steps.get(i).output().equals(value)) {
        return i;
      }
    }
    return -1;
  }

  /**
   * Backward with several outputs: walking the kernels from the last, adds each output's gradient
   * into the gradient of its value when the walk reaches it ({@code flowing} says whether a
   * gradient came back from later steps; a step runs only when one did, so a loss on the hidden
   * output alone leaves the layers after it without gradients, as in eager mode). From the
   * earliest output on, some output has received a gradient (the backward runs for one), so no
   * guard is needed there; in a graph each step has its own ({@link #runConditions}).
   */
  private final class OutputGradientFlow {
    private final CodeBlock.Builder b;
    private final String earliest;
    private final Set<String> entered = new LinkedHashSet<>();
    private boolean guarded;

    OutputGradientFlow(CodeBlock.Builder b, Map<String, Ref> grads) {
      this.b = b;
      this.earliest = storage.get(outputs.results().get(earliestOutput()));
      b.add("// the gradient of each output, null where the loss did not use it; added below where each is computed\n")
          .addStatement("$T[] outputGrads = outputGradients.take()", TENSOR)
          .addStatement("boolean flowing = false");
      grads.replaceAll((st, ref) -> gradient(st));
    }

    /** Called before the walk reaches the step that writes {@code storage} (last with "in"). */
    void enter(String st) {
      if (!entered.add(st)) {
        return;
      }
      boolean any = false;
      for (int i = 0; i < outputs.results().size(); i++) {
        if (!storage.get(outputs.results().get(i)).equals(st)) {
          continue;
        }
        if (!any) {
          close();
          any = true;
        }
        Ref d = gradient(st);
        b.add("// $L: add the gradient the loss sent to this output\n", outputLabel(i))
            .addStatement("flowing = $T.addOutputGradient($L, $L, outputGrads[$L], flowing)", COMPILED, d.array, d.offset, i);
      }
      if (any && !st.equals(earliest)) {
        b.add("// the steps back to the next output run only if a later output received a gradient\n")
            .beginControlFlow("if (flowing)");
        guarded = true;
      }
    }

    void close() {
      if (guarded) {
        b.endControlFlow();
        guarded = false;
      }
    }

    private Ref gradient(String st) {
      return st.equals("in") ? new Ref("dx", "0", true) : new Ref("p.d" + st, "0", true);
    }
  }

  // ------------------------------------------------------------------ helpers

  private static int perSample(int[] shape) {
    int n = 1;
    for (int i = 1; i < shape.length; i++) {
      n *= shape[i];
    }
    return n;
  }

  private static String joined(int[] values) {
    return Arrays.stream(values).mapToObj(Integer::toString).collect(Collectors.joining(", "));
  }
}
