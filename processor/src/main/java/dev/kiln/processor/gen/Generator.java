package dev.kiln.processor.gen;

import com.palantir.javapoet.AnnotationSpec;
import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.JavaFile;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.ParameterizedTypeName;
import com.palantir.javapoet.TypeName;
import com.palantir.javapoet.TypeSpec;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.Linear;
import dev.kiln.dsl.Recurrent;
import dev.kiln.processor.check.CheckedModel;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.ModelIr;
import dev.kiln.processor.ir.LineOp;
import dev.kiln.processor.ir.Split;
import dev.kiln.processor.ir.OutputsIr;
import dev.kiln.processor.ir.Reorder;
import dev.kiln.processor.ir.TensorIr;
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
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import javax.lang.model.element.Modifier;
import javax.lang.model.element.TypeElement;

/**
 * Pass 3: writes {@code Kiln<Name>} for a checked model: a {@code forward} of planned, fused
 * kernels over buffers allocated once per batch size, and a {@code Backward} node whose
 * {@code backward} accumulates parameter gradients directly ({@code +=}) and returns the input's.
 * This class plans one graph (storage, backward order, run conditions) and assembles the file; its
 * emitters write the parts ({@link ForwardEmitter}, {@link BackwardEmitter}, {@link PlanEmitter},
 * {@link CudaEmitter}, the step families, the members of several inputs and outputs).
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
  record Ref(String array, String offset, boolean owned) {}

  /** The CUDA forward's locals of the values, while {link CudaEmitter#forwardCuda} writes it. */
  Map<String, String> cudaLocals = Map.of();

  final CheckedModel model;
  final ModelIr ir;
  final List<Kernel> kernels;
  final String name;
  /**
   * Storage name of each value: the input is "in" (further inputs of a method of several inputs "in1", "in2", ...),
   * kernel outputs "a<k>", the final output "out".
   */
  final Map<String, String> storage = new LinkedHashMap<>();
  final Set<String> activationBuffers = new LinkedHashSet<>();
  final Set<String> gradientBuffers = new LinkedHashSet<>();
  /** {@code "k:w"}: kernel k's backward adds the gradient of its w-th input to one a later step wrote. */
  final Set<String> accumulating = new HashSet<>();
  /** Kernels of a split's pieces whose backward copies into its slice of the source's gradient ({@link #placedPieces}). */
  final Set<Integer> placing = new HashSet<>();
  /** For a graph of several outputs, by kernel: the condition under which its backward runs ({@link #runConditions}). */
  final Map<Integer, String> runIf = new HashMap<>();
  /**
   * For a graph of several inputs and several outputs, by input storage ("in", "in1", ...): the condition under which
   * it gets a gradient (an output it leads to received one), as eager mode's tape reaches it or not.
   */
  private final Map<String, String> inputReached = new HashMap<>();
  /** Storage of values whose gradient every reader adds, zeroed at the start of the backward (several outputs). */
  final Set<String> zeroedGradients = new LinkedHashSet<>();
  /** Storage of the further inputs some kernel sends a gradient to (not those only read as a mask). */
  final Set<String> inputGradients = new java.util.TreeSet<>(
      java.util.Comparator.comparingInt((String st) -> Integer.parseInt(st.substring(2))));
  /** The kernels (views too) in the order the backward runs them: eager's engine's order ({@link #backwardOrder()}). */
  List<Integer> backwardOrder;
  /** Storage of values whose gradient some kernel adds through a scratch buffer ({@code t<storage>}). */
  final Set<String> scratchBuffers = new LinkedHashSet<>();
  final Map<String, Integer> sizes = new LinkedHashMap<>();
  /** The outputs method when this generator writes its graph (see "several outputs" below), else null. */
  final OutputsIr outputs;
  /** The component forward returns when forward is {@code return outputsMethod(x).component();}, else -1. */
  final int forwardReturns;

  /** Values of BN+ReLU kernels whose only reader is a max pooling, which then applies the ReLU's mask in its backward. */
  final Set<String> maskedByPooling;
  /** Of those, the ones computed with their 2x2 pooling in one forward pass, mapped to the pooling kernel's index. */
  final Map<String, Integer> pooledInOnePass;
  /** Each layer's name in generated code, by path ({@link LayerFields#fieldNames}). */
  final Map<String, String> fieldNames;
  /** Whether this graph is forward in one training mode, beside the other's ({link ForwardMethods#addModeMembers}). */
  boolean modeGraph;

  /** The fields of the modules whose modes the class reads ({link InputsMembers#modeChoice}), shared by the graphs that read them. */
  Set<String> modeFields = new HashSet<>();

  /** The emitters of the generated class's parts, each writing one concern from this generator's plan and storage. */
  final ParameterCode parameterCode;
  final LayerFields layerFields;
  private final ForwardEmitter forwardEmitter;
  final InputsMembers inputsMembers;
  final ForwardMethods forwardMethods;
  final CudaEmitter cudaEmitter;
  final StepCalls stepCalls;
  final ElementwiseEmitter elementwise;
  final StepGradients stepGradients;
  final NormEmitter norms;
  private final PlanEmitter planEmitter;
  private final BackwardEmitter backwardEmitter;
  final OutputsMembers outputsMembers;

  private Generator(CheckedModel model, OutputsIr outputs, int forwardReturns) {
    this.parameterCode = new ParameterCode(this);
    this.layerFields = new LayerFields(this);
    this.forwardEmitter = new ForwardEmitter(this);
    this.inputsMembers = new InputsMembers(this);
    this.forwardMethods = new ForwardMethods(this);
    this.cudaEmitter = new CudaEmitter(this);
    this.stepCalls = new StepCalls(this);
    this.elementwise = new ElementwiseEmitter(this);
    this.stepGradients = new StepGradients(this);
    this.norms = new NormEmitter(this);
    this.planEmitter = new PlanEmitter(this);
    this.backwardEmitter = new BackwardEmitter(this);
    this.outputsMembers = new OutputsMembers(this);
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
    this.fieldNames = LayerFields.fieldNames(ir);
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
      for (int w : stepGradients.operandOrder(kernel)) {
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
  static boolean sendsNoGradient(Kernel k) {
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
  String reachedOrNot(String input) {
    String reached = inputReached.get(input);
    return reached == null ? "" : " || !(" + reached + ")";
  }

  /** Whether a storage is an input's: "in", or a further input's "in1", "in2", ... */
  static boolean isInput(String storage) {
    return storage.equals("in") || storage.matches("in\\d+");
  }

  /** The gradient of an input's storage in the backward: {@code dx}, {@code dx1}, ... */
  static String inputGradient(String storage) {
    return "dx" + storage.substring(2);
  }

  /** Whether a kernel's input {@code w} gets no gradient from it: a masked fill's mask input, an embedding's ids, a comparison's. */
  static boolean carriesNoGradient(Kernel k, int w) {
    return k.kind() == Kernel.Kind.MASKED_FILL && w == 1 || k.kind() == Kernel.Kind.EMBEDDING || k.kind() == Kernel.Kind.COMPARE
        || k.kind() == Kernel.Kind.WHERE && w == 2 || Planner.expandsWhereMask(k) || isArgmax(k) || ScatterEmitter.isIndex(k, w);
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
  static boolean addsItself(Kernel k) {
    return k.kind() == Kernel.Kind.LINEAR || k.arithmetic() || k.kind() == Kernel.Kind.SHIFT || k.kind() == Kernel.Kind.REDUCE
        || k.kind() == Kernel.Kind.CAT || k.kind() == Kernel.Kind.MATMUL || k.kind() == Kernel.Kind.PERMUTE
        || k.kind() == Kernel.Kind.SCALE || k.kind() == Kernel.Kind.MASKED_FILL || k.kind() == Kernel.Kind.EMBEDDING
        || k.kind() == Kernel.Kind.RECURRENT || k.kind() == Kernel.Kind.SLICE || k.kind() == Kernel.Kind.COSINE
        || k.kind() == Kernel.Kind.WHERE || k.kind() == Kernel.Kind.POINTWISE_PAIR || k.kind() == Kernel.Kind.SCATTER;
  }

  /** Whether the kernel's backward applies its fused ReLU's mask to the incoming gradient in place. */
  static boolean masksInPlace(Kernel k) {
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
    type.addTypeVariables(forwardMethods.typeVariables());
    type.superclass(ir.form() == ModelIr.Form.CLASS ? forwardMethods.parameterized(declared) : MODULE);
    if (ir.form() == ModelIr.Form.CLASS) {
      // A field of the model named like a type the generated code uses (Compiled, Tensor) would
      // obscure it in expressions (Compiled.onCuda(...)): such types are written fully qualified.
      type.alwaysQualify(LayerFields.inheritedFieldNames((TypeElement) ir.element()).toArray(new String[0]));
    }

    List<LayerIr> layers = new ArrayList<>(parameterCode.fieldLayers());
    if (several != null) {
      layers.addAll(several.parameterCode.fieldLayers());
    }
    if (inputs != null) {
      layers.addAll(inputs.parameterCode.fieldLayers());
    }
    if (evaluation != null) {
      layers.addAll(evaluation.parameterCode.fieldLayers());
    }
    for (Generator g : java.util.Arrays.asList(severalEvaluation, inputsEvaluation)) {
      if (g != null) {
        layers.addAll(g.parameterCode.fieldLayers());
      }
    }
    layerFields.addLayerFields(type, declared, layers);
    type.addMethod(forwardMethods.declaredInputShape());
    if (ir.takesIds()) {
      type.addMethod(MethodSpec.methodBuilder("declaredInputIsIds")
          .addJavadoc("The input is token ids (an Embedding applied to it): {@code summary()} feeds ids.\n")
          .addAnnotation(Override.class)
          .addModifiers(Modifier.PROTECTED)
          .returns(boolean.class)
          .addStatement("return true")
          .build());
    }
    forwardMethods.addSelfTypedOverrides(type);
    if (several != null) {
      several.modeFields = modeFields;
      several.outputsMembers.addOutputsMembers(type, severalEvaluation);
    }
    if (inputs != null) {
      inputs.modeFields = modeFields;
      inputs.inputsMembers.addInputsMembers(type, inputsEvaluation);
    }
    if (ir.forwardDelegates()) {
      return JavaFile.builder(ir.packageName(), type.build()).skipJavaLangImports(true).indent("  ").build();
    }
    if (evaluation != null) {
      forwardMethods.addModeMembers(type, evaluation);
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
  void addFusedMembers(TypeSpec.Builder type, String sourceName) {
    String cuda = cudaEmitter.cudaSource();
    type.addField(plansField())
        .addMethod(forwardEmitter.forward())
        .addMethod(cudaEmitter.forwardCuda(cuda != null))
        .addType(planEmitter.plan())
        .addType(backwardEmitter.backward());
    if (cuda != null) {
      type.addType(cudaEmitter.cudaCode(sourceName, cuda));
    }
  }

  private static FieldSpec plansField() {
    return FieldSpec.builder(ParameterizedTypeName.get(PLAN_CACHE, ClassName.get("", "Plan")), "plans", Modifier.PRIVATE, Modifier.FINAL)
        .initializer("new $T<>(Plan::new)", PLAN_CACHE).build();
  }

  private String javadocTarget() {
    return ir.form() == ModelIr.Form.CLASS ? ir.declaringType() : ir.declaringType() + "#" + ir.factoryMethod() + "()";
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
  static int[] order(Kernel k) {
    return ((Reorder) k.spec()).order(k.inShape().length);
  }

  /** The inverse of a permutation step's order: its gradient's. */
  static int[] inverseOrder(Kernel k) {
    int[] order = order(k);
    int[] inverse = new int[order.length];
    for (int i = 0; i < order.length; i++) {
      inverse[order[i]] = i;
    }
    return inverse;
  }

  /** A shape with the batch as {@code n}: {@code n, 4, 4, 4}. */
  static String batchShape(int[] shape) {
    return "n" + (shape.length > 1 ? ", " + joined(Arrays.copyOfRange(shape, 1, shape.length)) : "");
  }

  Ref ref(String value, Map<String, Ref> refs) {
    return refs.computeIfAbsent(value, v -> {
      TensorIr field = ir.tensor(v);
      if (field != null) { // the model's own tensor, read where it lives
        return new Ref(parameterCode.readExpression(field) + ".readBuffer()", parameterCode.fieldOffset(field), false);
      }
      String s = storage.get(v);
      return switch (s) {
        case "in" -> new Ref("in", "inOff", false);
        case "out" -> new Ref("out", "0", false);
        default -> isInput(s) ? new Ref(s, s + "Off", false) : new Ref("p." + s, "0", true);
      };
    });
  }

  // ------------------------------------------------------------------ helpers

  static int perSample(int[] shape) {
    int n = 1;
    for (int i = 1; i < shape.length; i++) {
      n *= shape[i];
    }
    return n;
  }

  static String joined(int[] values) {
    return Arrays.stream(values).mapToObj(Integer::toString).collect(Collectors.joining(", "));
  }
}
