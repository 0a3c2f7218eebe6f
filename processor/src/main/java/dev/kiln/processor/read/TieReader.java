package dev.kiln.processor.read;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.ExpressionStatementTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.Tree;
import com.sun.source.util.TreePath;
import com.sun.source.util.TreePathScanner;
import com.sun.source.util.Trees;
import dev.kiln.dsl.Embedding;
import dev.kiln.dsl.LayerSpec;
import dev.kiln.dsl.Linear;
import dev.kiln.processor.Diagnostics;
import dev.kiln.processor.Message;
import dev.kiln.processor.ir.LayerIr;
import dev.kiln.processor.ir.Source;
import dev.kiln.runtime.Shapes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.BiFunction;
import javax.lang.model.element.Element;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.TypeElement;

/**
 * Reads weight ties ({@link Linear#weight(dev.kiln.runtime.Tensor)}, {@link Embedding#weight(dev.kiln.runtime.Tensor)}):
 * nanoGPT's {@code self.transformer.wte.weight = self.lm_head.weight}, written {@code wte.weight(lmHead.weight())} as a
 * statement at the top level of the constructor without parameters (a block's: the one it is built with), or {@code new
 * Linear(D, V, false).weight(wte.weight())} where a layer is declared. The compiled code reads each layer's {@code
 * weight()} on every call, so a tied weight is one tensor to it as to eager mode, both steps adding their gradient into
 * it; this reader checks at compile time that the two weights have one shape and marks the tie on the layer's IR
 * ({@link LayerIr#tiedTo()}). A tie it cannot check (of a weight that is not another layer field's, or inside a branch)
 * is an error on its line.
 */
final class TieReader {
  /** The layers whose {@code weight(Tensor)} ties their weight to another tensor. */
  private static final Set<String> TIED = Set.of(Linear.class.getName(), Embedding.class.getName());

  private final Trees trees;
  private final Diagnostics diagnostics;
  private final BiFunction<CompilationUnitTree, Tree, Source> source;
  private final List<Pending> pending = new ArrayList<>();
  /** The path prefix of the class whose fields are being read ({@code ""} for the model's, {@code "h.0."} for a block's). */
  private String prefix = "";

  /** A tie read, resolved once every layer is: the prefix of its class, the path of the layer whose weight it replaces. */
  private record Pending(String prefix, String layer, MethodInvocationTree call, CompilationUnitTree unit) {}

  TieReader(Trees trees, Diagnostics diagnostics, BiFunction<CompilationUnitTree, Tree, Source> source) {
    this.trees = trees;
    this.diagnostics = diagnostics;
    this.source = source;
  }

  /** Forgets the ties of the model read before. */
  void clear() {
    pending.clear();
    prefix = "";
  }

  /** Sets the prefix of the class whose fields are read next, returning the one before (to restore). */
  String enter(String classPrefix) {
    String before = prefix;
    prefix = classPrefix;
    return before;
  }

  /** Whether {@code expr} calls a layer's {@code weight(Tensor)}. */
  boolean isTie(ExpressionTree expr, CompilationUnitTree unit) {
    if (!(expr instanceof MethodInvocationTree mi) || !(mi.getMethodSelect() instanceof MemberSelectTree select)
        || !select.getIdentifier().contentEquals("weight") || mi.getArguments().size() != 1) {
      return false;
    }
    Element method = trees.getElement(TreePath.getPath(unit, mi));
    return method instanceof ExecutableElement e && e.getParameters().size() == 1
        && TIED.contains(((TypeElement) e.getEnclosingElement()).getQualifiedName().toString());
  }

  /**
   * The layer a tie in an initializer is called on ({@code new Linear(D, V, false)} of {@code new Linear(D, V,
   * false).weight(wte.weight())}), noting the tie of the layer at {@code path} for {@link #resolve}.
   */
  ExpressionTree initializer(MethodInvocationTree call, String path, CompilationUnitTree unit) {
    pending.add(new Pending(prefix, path, call, unit));
    return ((MemberSelectTree) call.getMethodSelect()).getExpression();
  }

  /** Notes the ties written as statements in {@code ctor}'s body; a tie inside a block, branch or loop is an error. */
  void readStatements(ExecutableElement ctor, CompilationUnitTree unit) {
    MethodTree tree = ctor == null ? null : trees.getTree(ctor);
    if (tree == null || tree.getBody() == null) {
      return;
    }
    String classPrefix = prefix;
    new TreePathScanner<Void, Void>() {
      @Override
      public Void visitMethodInvocation(MethodInvocationTree node, Void unused) {
        if (isTie(node, unit)) {
          TreePath parent = getCurrentPath().getParentPath();
          boolean topLevel = parent.getLeaf() instanceof ExpressionStatementTree
              && parent.getParentPath().getLeaf() == tree.getBody();
          String layer = DeclarationReader.fieldName(((MemberSelectTree) node.getMethodSelect()).getExpression());
          if (!topLevel) {
            diagnostics.error(unit, node, Message.TIE_PLACE, classPrefix + (layer == null ? "weight" : layer), node);
          } else if (layer == null) {
            diagnostics.error(unit, node, Message.TIE_FORM, classPrefix + "weight", node);
          } else {
            pending.add(new Pending(classPrefix, classPrefix + layer, node, unit));
          }
        }
        return super.visitMethodInvocation(node, unused);
      }
    }.scan(new TreePath(trees.getPath(ctor), tree.getBody()), null);
  }

  /**
   * Marks each tie read on its layer in {@code layers} ({@link LayerIr#tiedTo}), after checking that it reads another
   * layer field's weight of the same shape; reports those that do not.
   */
  void resolve(List<LayerIr> layers) {
    for (Pending p : pending) {
      int target = indexOf(layers, p.layer());
      if (target < 0) {
        continue; // the layer's own declaration has an error, reported
      }
      ExpressionTree argument = p.call().getArguments().get(0);
      String from = argument instanceof MethodInvocationTree mi && mi.getArguments().isEmpty()
          && mi.getMethodSelect() instanceof MemberSelectTree select && select.getIdentifier().contentEquals("weight")
          ? DeclarationReader.fieldName(select.getExpression()) : null;
      int other = from == null ? -1 : indexOf(layers, p.prefix() + from);
      LayerIr tied = layers.get(target);
      int[] shape = weightShape(tied.spec());
      int[] otherShape = other < 0 ? null : weightShape(layers.get(other).spec());
      if (otherShape == null) {
        diagnostics.error(p.unit(), p.call(), Message.TIE_FORM, p.layer(), p.call());
      } else if (!Arrays.equals(shape, otherShape)) {
        diagnostics.error(p.unit(), p.call(), Message.TIE_SHAPE, p.layer(), tied.spec(), Shapes.toString(shape),
            layers.get(other).path(), layers.get(other).spec(), Shapes.toString(otherShape));
      } else {
        layers.set(target, tied.tiedTo(layers.get(other).path(), source.apply(p.unit(), p.call())));
      }
    }
    pending.clear();
  }

  /** The weight's shape of a layer that has one a tie may read ({@code [out, in]}, {@code [V, D]}), else null. */
  private static int[] weightShape(LayerSpec spec) {
    return spec instanceof Linear.Spec l ? l.weightShape() : spec instanceof Embedding.Spec e ? e.weightShape() : null;
  }

  private static int indexOf(List<LayerIr> layers, String path) {
    for (int i = 0; i < layers.size(); i++) {
      if (layers.get(i).path().equals(path)) {
        return i;
      }
    }
    return -1;
  }
}
