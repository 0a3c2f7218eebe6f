package dev.kiln.processor.read;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.Tree;
import com.sun.source.util.Trees;
import dev.kiln.dsl.RecurrentCell;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.Model;
import dev.kiln.dsl.MultiheadAttention;
import dev.kiln.dsl.TransformerDecoderLayer;
import dev.kiln.dsl.TransformerEncoderLayer;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.Modes;
import dev.kiln.processor.ir.Source;
import dev.kiln.processor.ir.TensorIr;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.lang.model.element.Element;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.Modifier;
import javax.lang.model.element.TypeElement;
import javax.lang.model.element.VariableElement;
import javax.lang.model.util.Elements;
import javax.lang.model.util.Types;
import dev.kiln.processor.read.LayerNode.Leaf;
import dev.kiln.processor.read.LayerNode.Seq;
import dev.kiln.processor.read.LayerNode.Blk;
import dev.kiln.processor.read.LayerNode.Lst;
import dev.kiln.processor.read.LayerNode.Att;

/**
 * Modules applied in forward, for {@link BodyReader}: layers and Sequentials, the dsl's attention layers expanded
 * ({@link AttentionLayers}), blocks and the model's own methods inlined, and the elements of a ModuleList.
 */
final class ModuleCalls {
  private final BodyReader steps;
  private final DeclarationReader reader;
  private final SourceTrees code;
  private final Trees trees;
  private final Types types;
  private final Diagnostics diagnostics;
  private final ConstantFolder folder;

  ModuleCalls(BodyReader steps, DeclarationReader reader) {
    this.steps = steps;
    this.reader = reader;
    this.code = reader.code;
    this.trees = reader.trees;
    this.types = reader.types;
    this.diagnostics = reader.diagnostics;
    this.folder = code.folder;
  }

  // -------------------------------------------------------------- blocks, ModuleList and loops over it

  /** Applies a layer node to {@code input} at {@code call}: a layer's step, a Sequential's, a block inlined; null after an error. */
  // -------------------------------------------------------------- attention layers (AttentionLayers)

  /** The steps the attention layers' expansion writes: this reader's, at {@code where}. */
  private AttentionLayers.Writer attentionWriter(Source where) {
    return new AttentionLayers.Writer() {
      @Override public String step(List<String> inputs, LayerSpec spec, LayerIr layer, String text) {
        return steps.step(inputs, spec, layer, text, where);
      }

      @Override public int[] shapeOf(String value) {
        return steps.sizeReader.sizes().shapeOf(value);
      }

      @Override public String tensor(TensorIr t) {
        return reader.readLayerParameter(t);
      }

      @Override public int split() {
        return ++steps.splits;
      }

      @Override public Boolean training(String owner) {
        if (steps.mode == null) {
          return null;
        }
        steps.mode.reads.add(new Modes.Read(owner, where));
        return steps.mode.training;
      }

      @Override public Source where() {
        return where;
      }
    };
  }

  /** The attention layer {@code att} applied to {@code input} (self-attention, the encoder layer or layers); null after an error. */
  String applyAttention(Att att, String input, Source where) {
    return applyAttention(att, input, null, null, where);
  }

  /**
   * As {@link #applyAttention(Att, String, Source)}, with the float attention mask {@code mask} (a tensor field's value, or
   * null) and key padding mask {@code padding} (a value of the batch {@code [N, S]}, or null).
   */
  String applyAttention(Att att, String input, String mask, String padding, Source where) {
    AttentionLayers.Writer w = attentionWriter(where);
    try {
      if (att.spec() instanceof MultiheadAttention.Spec s) {
        return AttentionLayers.attention(w, att.path(), s, att.layers(), input, input, input, mask, padding);
      }
      if (att.spec() instanceof AttentionLayers.TransformerSpec) { // apply(src): eager refuses it too
        throw new AttentionLayers.Unsupported(att.path() + ": Transformer needs a source and a target: call forward(src, tgt)"
            + " or forward(src, tgt, srcMask, tgtMask, memoryMask, srcKeyPaddingMask, tgtKeyPaddingMask,"
            + " memoryKeyPaddingMask)");
      }
      if (att.spec() instanceof TransformerDecoderLayer.Spec) { // apply(tgt): eager refuses it too
        throw new AttentionLayers.Unsupported(att.path() + ": " + (att.count() == 0 ? att.spec() : "TransformerDecoder")
            + " needs the encoder's output too: call forward(tgt, memory) or forward(tgt, memory, tgtMask, memoryMask,"
            + " tgtKeyPaddingMask, memoryKeyPaddingMask)");
      }
      TransformerEncoderLayer.Spec s = (TransformerEncoderLayer.Spec) att.spec();
      return stack(att, input, where, (path, x) -> AttentionLayers.encoderLayer(w, path, s, att.layers(), x, mask, padding));
    } catch (AttentionLayers.Unsupported e) {
      diagnostics.error(where, Message.ATTENTION_NOT_COMPILED, e.getMessage());
      return null;
    }
  }

  /**
   * The attention layer a call of its PyTorch forms applies ({@code mha.forward(q, k, v[, keyPaddingMask, needWeights,
   * attnMask[, average]]).output()} or {@code .weights()}, a bare {@code mha.forward(q, k, v)}, {@code enc.forward(x,
   * mask, padding)}), else null: the one-input {@code apply(x)} and {@code forward(x)} are {@link #applyNode}'s.
   */
  Att attentionCall(MethodInvocationTree mi, Map<String, LayerNode> fields) {
    MethodInvocationTree call = mi;
    if (mi.getMethodSelect() instanceof MemberSelectTree out && mi.getArguments().isEmpty()
        && (out.getIdentifier().contentEquals("output") || out.getIdentifier().contentEquals("weights"))
        && DeclarationReader.stripped(out.getExpression()) instanceof MethodInvocationTree inner) {
      call = inner;
    }
    if (call.getMethodSelect() instanceof MemberSelectTree part && transformerPart(part.getExpression(), fields) != null
        && (part.getIdentifier().contentEquals("forward") || part.getIdentifier().contentEquals("apply"))) {
      return transformerPart(part.getExpression(), fields); // transformer.encoder().forward(src, mask, pad), ....decoder().forward(...)
    }
    if (!(call.getMethodSelect() instanceof MemberSelectTree ms) || !ms.getIdentifier().contentEquals("forward")
        || call.getArguments().size() < 2) {
      return null;
    }
    String field = DeclarationReader.fieldName(ms.getExpression());
    return field != null && fields.get(field) instanceof Att att
        && (call.getArguments().size() >= 3 || att.spec() instanceof TransformerDecoderLayer.Spec
            || att.spec() instanceof AttentionLayers.TransformerSpec) ? att : null;
  }

  /**
   * The encoder or decoder stack of a compiled Transformer field that {@code receiver} reads ({@code
   * transformer.encoder()}, {@code transformer.decoder()}, as PyTorch's {@code transformer.encoder}), else null.
   */
  private static Att transformerPart(ExpressionTree receiver, Map<String, LayerNode> fields) {
    if (DeclarationReader.stripped(receiver) instanceof MethodInvocationTree get && get.getArguments().isEmpty()
        && get.getMethodSelect() instanceof MemberSelectTree ms && DeclarationReader.fieldName(ms.getExpression()) != null
        && fields.get(DeclarationReader.fieldName(ms.getExpression())) instanceof Att att
        && att.spec() instanceof AttentionLayers.TransformerSpec t) {
      return ms.getIdentifier().contentEquals("encoder") ? t.encoder() : ms.getIdentifier().contentEquals("decoder") ? t.decoder() : null;
    }
    return null;
  }

  /**
   * {@code mha.forward(q, k, v, null, needWeights, attnMask).output()} and {@code enc.forward(x, mask, null)}: the layer's
   * expansion, a mask a tensor field or null; any other form an error naming what is not compiled.
   */
  String attentionForward(MethodInvocationTree mi, Att att, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className) {
    MethodInvocationTree call = mi.getArguments().isEmpty() ? (MethodInvocationTree) DeclarationReader.stripped(
        ((MemberSelectTree) mi.getMethodSelect()).getExpression()) : mi;
    List<? extends ExpressionTree> args = call.getArguments();
    if (args.size() == 1) { // transformer.encoder().apply(src)
      String input = steps.expression(args.get(0), unit, fields, className);
      return input == null ? null : applyAttention(att, input, code.source(unit, mi));
    }
    if (att.spec() instanceof TransformerDecoderLayer.Spec) {
      return decoderForward(mi, att, args, unit, fields, className);
    }
    if (att.spec() instanceof AttentionLayers.TransformerSpec t) {
      return transformerForward(mi, t, args, unit, fields, className);
    }
    boolean attention = att.spec() instanceof MultiheadAttention.Spec;
    if (attention && call == mi) {
      diagnostics.error(unit, mi, Message.ATTENTION_NOT_COMPILED, mi + " returns the output and the weights; compiled, call"
          + " .output() or .weights() on it where it is called (" + mi + ".output())");
      return null;
    }
    Boolean weights = null; // .weights(): averaged over heads (PyTorch's default) or not
    if (attention && ((MemberSelectTree) mi.getMethodSelect()).getIdentifier().contentEquals("weights")) {
      Boolean[] flags = weightFlags(call, unit);
      if (flags == null) {
        return null;
      }
      if (!flags[0]) {
        needWeightsFalse(mi, unit);
        return null;
      }
      weights = flags[1];
    }
    String padding = maskArgument(attention ? (args.size() >= 6 ? args.get(3) : null) : args.get(2), unit, fields, className);
    String mask = maskArgument(attention ? (args.size() >= 6 ? args.get(5) : null) : args.get(1), unit, fields, className);
    if (padding == null || mask == null) {
      return null;
    }
    padding = padding.isEmpty() ? null : padding;
    mask = mask.isEmpty() ? null : mask;
    if (!attention) {
      String input = steps.expression(args.get(0), unit, fields, className);
      return input == null ? null : applyAttention(att, input, mask, padding, code.source(unit, mi));
    }
    String[] qkv = queryKeyValue(args, unit, fields, className);
    if (qkv == null) {
      return null;
    }
    try {
      return AttentionLayers.attention(attentionWriter(code.source(unit, mi)), att.path(), (MultiheadAttention.Spec) att.spec(),
          att.layers(), qkv[0], qkv[1], qkv[2], mask, padding, weights);
    } catch (AttentionLayers.Unsupported e) {
      diagnostics.error(unit, mi, Message.ATTENTION_NOT_COMPILED, e.getMessage());
      return null;
    }
  }

  /**
   * {@code needWeights} and {@code average} of a MultiheadAttention's {@code forward(q, k, v[, keyPaddingMask, needWeights,
   * attnMask[, average]])} (PyTorch's defaults, true and true, where not written); null after an error (reported).
   */
  private Boolean[] weightFlags(MethodInvocationTree call, CompilationUnitTree unit) {
    List<? extends ExpressionTree> args = call.getArguments();
    List<Object> flags = args.size() == 3 ? List.of(true, true) : code.constants(args.size() == 7
        ? List.of(args.get(4), args.get(6)) : List.of(args.get(4)), call.toString(), "MultiheadAttention.forward", unit);
    return flags == null ? null : new Boolean[] {Boolean.TRUE.equals(flags.get(0)), flags.size() == 1 || Boolean.TRUE.equals(flags.get(1))};
  }

  private void needWeightsFalse(Tree read, CompilationUnitTree unit) {
    diagnostics.error(unit, read, Message.ATTENTION_NOT_COMPILED, read + ": needWeights is false, so eager's weights() is"
        + " null; pass needWeights true to read the attention weights");
  }

  /**
   * A MultiheadAttention's run held in a local ({@code var o = mha.forward(q, k, v)}, PyTorch's {@code out, w = mha(q, k,
   * v)}): its output and weights per head, from one expansion (one dropout draw, as eager's one call), the weights averaged
   * when {@code o.weights()} is first read; {@code average} null where {@code needWeights} is false, every value null
   * after an error (reported).
   */
  private static final class AttentionRun {
    final String path;
    final String output;
    final String perHead;
    final Boolean average;
    final Source where;
    String averaged;

    AttentionRun(String path, String output, String perHead, Boolean average, Source where) {
      this.path = path;
      this.output = output;
      this.perHead = perHead;
      this.average = average;
      this.where = where;
    }
  }

  /** The attention runs held in locals, by name. */
  private final Map<String, AttentionRun> attentionRuns = new HashMap<>();

  /** Whether {@code init} is a MultiheadAttention's run whose output and weights a local holds ({@code mha.forward(q, k, v)}). */
  boolean isAttentionRun(ExpressionTree init, Map<String, LayerNode> fields) {
    return DeclarationReader.stripped(init) instanceof MethodInvocationTree mi && mi.getMethodSelect() instanceof MemberSelectTree ms
        && ms.getIdentifier().contentEquals("forward") && attentionCall(mi, fields) != null
        && attentionCall(mi, fields).spec() instanceof MultiheadAttention.Spec;
  }

  /** {@code var local = mha.forward(q, k, v[, ...])}: the layer's expansion, held for {@code local.output()} and {@code local.weights()}. */
  void holdAttentionRun(String local, ExpressionTree init, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className) {
    MethodInvocationTree mi = (MethodInvocationTree) DeclarationReader.stripped(init);
    Att att = attentionCall(mi, fields);
    Source where = code.source(unit, mi);
    attentionRuns.put(local, new AttentionRun(att.path(), null, null, null, where)); // until it is read whole
    List<? extends ExpressionTree> args = mi.getArguments();
    Boolean[] flags = weightFlags(mi, unit);
    String padding = maskArgument(args.size() >= 6 ? args.get(3) : null, unit, fields, className);
    String mask = maskArgument(args.size() >= 6 ? args.get(5) : null, unit, fields, className);
    String[] qkv = flags == null || padding == null || mask == null ? null : queryKeyValue(args, unit, fields, className);
    if (qkv == null) {
      return;
    }
    try {
      String[] run = AttentionLayers.run(attentionWriter(where), att.path(), (MultiheadAttention.Spec) att.spec(), att.layers(),
          qkv[0], qkv[1], qkv[2], mask.isEmpty() ? null : mask, padding.isEmpty() ? null : padding, true);
      if (run != null) {
        attentionRuns.put(local, new AttentionRun(att.path(), run[0], run[1], flags[0] ? flags[1] : null, where));
      }
    } catch (AttentionLayers.Unsupported e) {
      diagnostics.error(unit, mi, Message.ATTENTION_NOT_COMPILED, e.getMessage());
    }
  }

  /** Whether {@code mi} is {@code o.output()} or {@code o.weights()} of an attention run held in the local {@code o}. */
  boolean readsAttentionRun(MethodInvocationTree mi, CompilationUnitTree unit) {
    return mi.getArguments().isEmpty() && mi.getMethodSelect() instanceof MemberSelectTree ms
        && DeclarationReader.stripped(ms.getExpression()) instanceof com.sun.source.tree.IdentifierTree id
        && attentionRuns.containsKey(id.getName().toString())
        && trees.getElement(com.sun.source.util.TreePath.getPath(unit, id)) instanceof VariableElement v
        && v.asType().toString().equals(MultiheadAttention.Output.class.getCanonicalName()) // (not a recurrent run's o)
        && (ms.getIdentifier().contentEquals("output") || ms.getIdentifier().contentEquals("weights"));
  }

  /** The value {@link #readsAttentionRun} found: the run's output, or its weights (averaged once); null after an error. */
  String attentionRunValue(MethodInvocationTree mi, CompilationUnitTree unit) {
    MemberSelectTree ms = (MemberSelectTree) mi.getMethodSelect();
    AttentionRun run = attentionRuns.get(((com.sun.source.tree.IdentifierTree) DeclarationReader.stripped(ms.getExpression()))
        .getName().toString());
    if (run.output == null) {
      return null; // its error was reported at the run
    }
    if (ms.getIdentifier().contentEquals("output")) {
      return run.output;
    }
    if (run.average == null) {
      needWeightsFalse(mi, unit);
      return null;
    }
    if (run.average && run.averaged == null) {
      run.averaged = AttentionLayers.averaged(attentionWriter(run.where), run.path, run.perHead);
    }
    return run.average ? run.averaged : run.perHead;
  }

  /** One transformer block's expansion at {@code path} over {@code x}. */
  private interface Block {
    String apply(String path, String x) throws AttentionLayers.Unsupported;
  }

  /**
   * A transformer block ({@code att.count()} 0) or stack applied to {@code x}: each copy at {@code layers.i} in turn, then
   * the stack's norm; null after an error.
   */
  private String stack(Att att, String x, Source where, Block block) throws AttentionLayers.Unsupported {
    if (att.count() == 0) {
      return block.apply(att.path(), x);
    }
    for (int i = 0; i < att.count() && x != null; i++) {
      x = block.apply(att.path() + ".layers." + i, x);
    }
    return x == null || att.norm() == null ? x : steps.step(x, att.norm().spec(), att.norm(), att.norm().path(), where);
  }

  /**
   * {@code dec.forward(tgt, memory[, tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask])} of a decoder layer or
   * a TransformerDecoder: each layer's expansion over the same memory and masks, then the stack's norm; null after an error.
   */
  private String decoderForward(MethodInvocationTree mi, Att att, List<? extends ExpressionTree> args, CompilationUnitTree unit,
      Map<String, LayerNode> fields, String className) {
    String[] masks = masks(args, 4, unit, fields, className); // tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask
    if (masks == null) {
      return null;
    }
    String x = steps.expression(args.get(0), unit, fields, className);
    String memory = steps.expression(args.get(1), unit, fields, className);
    if (x == null || memory == null) {
      return null;
    }
    Source where = code.source(unit, mi);
    AttentionLayers.Writer w = attentionWriter(where);
    TransformerDecoderLayer.Spec s = (TransformerDecoderLayer.Spec) att.spec();
    try {
      return stack(att, x, where, (path, h) -> AttentionLayers.decoderLayer(w, path, s, att.layers(), h, memory, masks[0],
          masks[1], masks[2], masks[3]));
    } catch (AttentionLayers.Unsupported e) {
      diagnostics.error(unit, mi, Message.ATTENTION_NOT_COMPILED, e.getMessage());
      return null;
    }
  }

  /**
   * {@code transformer.forward(src, tgt[, srcMask, tgtMask, memoryMask, srcKeyPaddingMask, tgtKeyPaddingMask,
   * memoryKeyPaddingMask])}, PyTorch's order: the encoder stack over {@code src} with the source masks (its final norm
   * giving the memory), then the decoder stack over {@code tgt} and the memory with the others, as eager's forward; null
   * after an error.
   */
  private String transformerForward(MethodInvocationTree mi, AttentionLayers.TransformerSpec t, List<? extends ExpressionTree> args,
      CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    String[] masks = masks(args, 6, unit, fields, className);
    if (masks == null) {
      return null;
    }
    String src = steps.expression(args.get(0), unit, fields, className);
    String tgt = steps.expression(args.get(1), unit, fields, className);
    if (src == null || tgt == null) {
      return null;
    }
    Source where = code.source(unit, mi);
    AttentionLayers.Writer w = attentionWriter(where);
    Att enc = t.encoder();
    Att dec = t.decoder();
    TransformerEncoderLayer.Spec e = (TransformerEncoderLayer.Spec) enc.spec();
    TransformerDecoderLayer.Spec d = (TransformerDecoderLayer.Spec) dec.spec();
    try {
      String memory = stack(enc, src, where, (path, x) -> AttentionLayers.encoderLayer(w, path, e, enc.layers(), x, masks[0],
          masks[3]));
      return memory == null ? null : stack(dec, tgt, where, (path, h) -> AttentionLayers.decoderLayer(w, path, d, dec.layers(),
          h, memory, masks[1], masks[2], masks[4], masks[5]));
    } catch (AttentionLayers.Unsupported ex) {
      diagnostics.error(unit, mi, Message.ATTENTION_NOT_COMPILED, ex.getMessage());
      return null;
    }
  }

  /** The values of an attention call's first three arguments (query, key, value); null where one was reported. */
  private String[] queryKeyValue(List<? extends ExpressionTree> args, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className) {
    String q = steps.expression(args.get(0), unit, fields, className);
    String k = steps.expression(args.get(1), unit, fields, className);
    String v = steps.expression(args.get(2), unit, fields, className);
    return q == null || k == null || v == null ? null : new String[] {q, k, v};
  }

  /**
   * The {@code count} mask arguments after a call's first two ({@code dec.forward(tgt, memory, tgtMask, ...)}), each null
   * where none is given (absent or {@code null}), all null when the call passes only the two; null after an error.
   */
  private String[] masks(List<? extends ExpressionTree> args, int count, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className) {
    String[] masks = new String[count];
    for (int i = 0; i < count; i++) {
      masks[i] = maskArgument(args.size() == 2 + count ? args.get(2 + i) : null, unit, fields, className);
      if (masks[i] == null) {
        return null;
      }
      masks[i] = masks[i].isEmpty() ? null : masks[i];
    }
    return masks;
  }

  /** The value of a mask argument ({@code pad}), {@code ""} for none (absent, or {@code null}); null after an error (reported). */
  private String maskArgument(ExpressionTree mask, CompilationUnitTree unit, Map<String, LayerNode> fields, String className) {
    Integer causal = mask == null ? null : subsequentMask(mask, unit);
    if (causal != null) {
      return causal < 0 ? null : AttentionLayers.causalMask(causal);
    }
    return mask == null || DeclarationReader.stripped(mask).getKind() == Tree.Kind.NULL_LITERAL ? "" : steps.expression(mask, unit, fields, className);
  }

  /**
   * The size of {@code Transformer.generateSquareSubsequentMask(size)} (or the same {@code .to(device)}) written as a mask
   * argument, -1 after an error (reported: a size not constant), null for another expression.
   */
  private Integer subsequentMask(ExpressionTree mask, CompilationUnitTree unit) {
    ExpressionTree e = DeclarationReader.stripped(mask);
    if (e instanceof MethodInvocationTree to && to.getArguments().size() == 1 && to.getMethodSelect() instanceof MemberSelectTree ms
        && ms.getIdentifier().contentEquals("to") && DeclarationReader.stripped(ms.getExpression()) instanceof MethodInvocationTree) {
      e = DeclarationReader.stripped(ms.getExpression()); // generateSquareSubsequentMask(T).to(x.device())
    }
    if (!(e instanceof MethodInvocationTree mi) || mi.getArguments().size() != 1
        || !(trees.getElement(com.sun.source.util.TreePath.getPath(unit, mi)) instanceof ExecutableElement m)
        || !m.getSimpleName().contentEquals("generateSquareSubsequentMask")
        || !((TypeElement) m.getEnclosingElement()).getQualifiedName().contentEquals("dev.kiln.dsl.Transformer")) {
      return null;
    }
    List<Object> size = code.constants(mi.getArguments(), mi.toString(), "generateSquareSubsequentMask", unit);
    if (size == null) {
      return -1;
    }
    if (!(size.get(0) instanceof Integer n) || n <= 0) {
      diagnostics.error(unit, mi, Message.ATTENTION_NOT_COMPILED, mi + ": the size must be a positive int, got " + size.get(0));
      return -1;
    }
    return n;
  }

  /** {@code F.scaledDotProductAttention(q, k, v[, attnMask, dropoutP, isCausal])}; null after an error (reported). */
  String scaledDotProductAttention(MethodInvocationTree mi, List<? extends ExpressionTree> args, CompilationUnitTree unit,
      Map<String, LayerNode> fields, String className) {
    String mask = maskArgument(args.size() == 6 ? args.get(3) : null, unit, fields, className);
    if (mask == null) {
      return null;
    }
    mask = mask.isEmpty() ? null : mask;
    List<Object> options = args.size() == 6 ? code.constants(args.subList(4, 6), mi.toString(), "scaledDotProductAttention", unit)
        : List.of(0.0, false);
    if (options == null) {
      return null;
    }
    String[] qkv = queryKeyValue(args, unit, fields, className);
    if (qkv == null) {
      return null;
    }
    try {
      return AttentionLayers.scaledDotProduct(attentionWriter(code.source(unit, mi)), qkv[0], qkv[1], qkv[2], mask,
          LayerCatalog.number(options, 0),
          LayerCatalog.bool(options, 1), mi.toString());
    } catch (AttentionLayers.Unsupported | LayerCatalog.BadArguments e) {
      diagnostics.error(unit, mi, Message.ATTENTION_NOT_COMPILED, e.getMessage());
      return null;
    }
  }

  String applyNode(LayerNode node, String input, MethodInvocationTree call, Source where, String receiver) {
    if (node instanceof Att att) {
      return applyAttention(att, input, where);
    }
    if (node instanceof Leaf leaf && leaf.layer().spec() instanceof RecurrentCell.Spec) { // cell.apply(x): a step from zeros
      return steps.stateReader.cellApply(input, leaf.layer(), call.toString(), where);
    }
    if (node instanceof Leaf leaf) {
      return steps.step(input, leaf.layer().spec(), leaf.layer(), call.toString(), where);
    }
    if (node instanceof Blk blk) {
      return inline(blk, input);
    }
    if (node instanceof Lst) {
      diagnostics.error(where.unit(), call, Message.LIST_APPLIED, receiver, receiver);
      return null;
    }
    return steps.applySequential((Seq) node, input, call.toString(), where);
  }

  /**
   * A block's forward read in place of its call, as if written here: its layers are its children's ({@code h0.ln1}),
   * its locals its own, its parameter the value it is applied to; the value it returns, or null after an error (which
   * points at the line in the block). A block applied twice reads its one set of layers twice (shared weights).
   */
  String inline(Blk blk, String input) {
    MethodTree forward = trees.getTree(blk.forward());
    String parameter = blk.forward().getParameters().get(0).getSimpleName().toString();
    BodyReader inner = new BodyReader(steps, blk.type().getSimpleName() + ".forward", Map.of(parameter, input));
    inner.modeOwner = blk.path(); // isTraining() in a block is its own mode, which train() and eval() set with the model's
    inner.modelType = blk.type();
    inner.tensors = blk.tensors();
    inner.broken.addAll(blk.broken());
    Map<Element, Object> before = folder.bind(blk.constants());
    try {
      inner.readBody(forward.getBody(), blk.unit(), blk.fields(), blk.type().getSimpleName().toString(), null);
    } finally {
      folder.restore(before);
    }
    return steps.resume(inner);
  }

  /** The methods being inlined, outermost first: a method that calls itself is refused. */
  private final java.util.ArrayDeque<ExecutableElement> inlining = new java.util.ArrayDeque<>();

  /**
   * Whether {@code m} is a method of the class being read (the model's, or a block's), or a static method of any class
   * of the compilation (shufflenetv2.py's {@code channel_shuffle(x, groups)}, called from a block), that returns a tensor
   * and whose source is here, other than forward: a call of it is inlined ({@link #inlineMethod}).
   */
  boolean isOwnMethod(ExecutableElement m) {
    return steps.modelType != null && (declaredHereOrAbove(m) || staticHere(m))
        && (!m.getSimpleName().contentEquals("forward") || forwardOverload(m))
        && types.isSameType(m.getReturnType(), code.type(DeclarationReader.TENSOR)) && !m.getModifiers().contains(Modifier.ABSTRACT)
        && trees.getTree(m) != null && trees.getTree(m).getBody() != null;
  }

  /** Whether {@code m} is a static method of a class of the compilation other than the dsl's (it reads no layer). */
  private boolean staticHere(ExecutableElement m) {
    return m.getModifiers().contains(Modifier.STATIC) && m.getEnclosingElement() instanceof TypeElement owner
        && !owner.getQualifiedName().toString().startsWith("dev.kiln.");
  }

  /**
   * Whether {@code m} is an overload of forward taking constants besides tensors ({@code forward(input, future)}, PyTorch's
   * {@code forward(input, future=0)}, which {@code forward(input)} calls as {@code forward(input, 0)}): inlined as the
   * model's other methods are, its constants folded.
   */
  private static boolean forwardOverload(ExecutableElement m) {
    return m.getSimpleName().contentEquals("forward") && m.getParameters().stream().anyMatch(p -> p.asType().getKind().isPrimitive());
  }

  /**
   * Whether {@code m} is declared by the class being read or, for a block extending another block, by one of the
   * blocks above it (an inherited helper: its source is here, it is not the dsl's).
   */
  private boolean declaredHereOrAbove(ExecutableElement m) {
    return m.getEnclosingElement() instanceof TypeElement owner && ownMember(owner);
  }

  /**
   * Whether the members {@code owner} declares are the class being read's own: it is that class or, for a block
   * extending another block, one of the blocks above it (their fields are the block's: eager mode registers them in it, as
   * PyTorch's subclass holds its base's parameters); a @Model class's base class's are not.
   */
  boolean ownMember(TypeElement owner) {
    return owner.equals(steps.modelType) || steps.modelType.getAnnotation(Model.class) == null
        && !owner.getQualifiedName().toString().startsWith("dev.kiln.dsl.")
        && types.isSubtype(types.erasure(steps.modelType.asType()), types.erasure(owner.asType()));
  }

  /**
   * The model's own method called in forward ({@code attention(h)}, {@code this.mlp(x)}), read in place of the call
   * as a block's forward is: its tensor parameters hold the arguments' values, its int (or other constant) parameters
   * fold to the arguments' constants; its locals are its own, the layers the class's. Null after an error, reported on
   * the method's line (a parameter of another kind, a method that calls itself).
   */
  String inlineMethod(MethodInvocationTree call, ExecutableElement m, CompilationUnitTree unit, Map<String, LayerNode> fields,
      String className) {
    String name = m.getSimpleName().toString();
    if (inlining.contains(m) || m.getSimpleName().contentEquals(steps.methodName) && !forwardOverload(m)) {
      diagnostics.error(unit, call, Message.METHOD_RECURSION, call, name);
      return null;
    }
    Map<String, String> inputs = new HashMap<>();
    Map<Element, Object> constants = new HashMap<>();
    boolean ok = true;
    for (int i = 0; i < m.getParameters().size(); i++) {
      VariableElement p = m.getParameters().get(i);
      ExpressionTree arg = call.getArguments().get(i);
      if (types.isSameType(p.asType(), code.type(DeclarationReader.TENSOR))) {
        String value = steps.expression(arg, unit, fields, className);
        ok &= value != null;
        inputs.put(p.getSimpleName().toString(), value);
      } else if (p.asType().getKind().isPrimitive() || types.isSameType(p.asType(), code.type(String.class.getName()))) {
        List<Object> folded = code.constants(List.of(arg), call.toString(), name, unit);
        ok &= folded != null;
        if (folded != null) {
          constants.put(p, folded.get(0));
        }
      } else {
        diagnostics.error(unit, arg, Message.METHOD_PARAMETER, call, p.getSimpleName(), name, p.asType());
        ok = false;
      }
    }
    if (!ok) {
      return null;
    }
    BodyReader inner = new BodyReader(steps, name, inputs);
    inner.modelType = steps.modelType;
    inner.tensors = steps.tensors;
    inner.broken.addAll(steps.broken);
    inner.moduleCalls.inlining.addAll(inlining);
    inner.moduleCalls.inlining.add(m);
    Map<Element, Object> before = folder.bind(constants);
    try {
      inner.readBody(trees.getTree(m).getBody(), trees.getPath(m).getCompilationUnit(), fields, className, null);
    } finally {
      folder.restore(before);
    }
    return steps.resume(inner);
  }

  /** The modules of {@code h.get(i)}'s receiver, a ModuleList or Sequential field, else null. */
  List<LayerNode> listGet(ExpressionTree e, Map<String, LayerNode> fields) {
    return DeclarationReader.stripped(e) instanceof MethodInvocationTree get && get.getMethodSelect() instanceof MemberSelectTree ms
        && ms.getIdentifier().contentEquals("get") && get.getArguments().size() == 1
        ? modules(fields.get(DeclarationReader.fieldName(ms.getExpression()))) : null;
  }

  /**
   * The modules a loop or {@code get(i)} goes over: a ModuleList's, or a Sequential field's layers (PyTorch's {@code
   * for layer in self.layers} over an {@code nn.Sequential}); null for any other node.
   */
  static List<LayerNode> modules(LayerNode node) {
    return node instanceof Lst list ? list.children() : node instanceof Seq seq ? seq.children() : null;
  }

  /** The module {@code h.get(i)} names, its index a constant (negative from the end); null after an error (reported). */
  LayerNode listElement(MethodInvocationTree get, CompilationUnitTree unit, Map<String, LayerNode> fields) {
    List<LayerNode> list = listGet(get, fields);
    String receiver = ((MemberSelectTree) get.getMethodSelect()).getExpression().toString();
    List<Object> index = code.constants(get.getArguments(), get.toString(), receiver + ".get", unit);
    if (index == null) {
      return null;
    }
    int size = list.size();
    if (!(index.get(0) instanceof Integer i) || i < -size || i >= size) {
      diagnostics.error(unit, get, Message.LIST_INDEX, get, index.get(0) instanceof Number n ? n.intValue() : 0, receiver, size,
          size - 1, size);
      return null;
    }
    return list.get(i < 0 ? i + size : i);
  }

  /**
   * A loop unrolled: {@code for (Block b : h)} over a ModuleList field, its body read once per module with {@code b}
   * naming it; or {@code for (int i = a; i < b; i++)} ({@code <=}, {@code i += k}; {@code b} a constant or {@code
   * h.size()}), its body read once per value of {@code i}, a constant there. Anything else is an error on the loop.
   * Inside, an {@code if} whose condition folds there ({@code if (i == EXIT) return x;}) reads the branch it takes, and a
   * return ends the unrolling (the modules after it are never applied). True when a return ended it.
   */
}
