package dev.kiln.processor.read;

import com.sun.source.tree.AnnotationTree;
import com.sun.source.tree.AssignmentTree;
import com.sun.source.tree.BlockTree;
import com.sun.source.tree.ClassTree;
import com.sun.source.tree.ExpressionTree;
import com.sun.source.tree.IdentifierTree;
import com.sun.source.tree.LambdaExpressionTree;
import com.sun.source.tree.MemberSelectTree;
import com.sun.source.tree.MethodInvocationTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.NewClassTree;
import com.sun.source.tree.ReturnTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.TreePath;
import com.sun.source.util.TreePathScanner;
import com.sun.source.util.TreeScanner;
import com.sun.source.util.Trees;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import javax.lang.model.element.Element;
import javax.lang.model.element.ElementKind;
import javax.lang.model.element.ExecutableElement;
import javax.lang.model.element.Modifier;
import javax.lang.model.type.TypeKind;
import javax.lang.model.type.TypeMirror;
import javax.lang.model.util.Types;

/**
 * Whether javac will report an error of its own in the parts of a {@code @Model} declaration the
 * processor reads: the annotation, the fields, the constructors and instance methods of a model
 * class (not its static methods, such as a {@code main} that uses the class still to be
 * generated), or the whole of a factory method.
 *
 * <p>The processor runs before javac has checked method bodies, and when it reports an error javac
 * stops after processing and drops the errors it would have found: a type mismatch then read as
 * the processor's "unsupported expression", a missing return as "must end with return". So a
 * model's messages are held until it is read, and dropped when javac will speak: an expression
 * javac could not type (a misspelt name, a call no method accepts, a constructor given the wrong
 * arguments), a returned value or an initializer of a type the method or variable cannot take, an
 * instance member named through its class, a method with a result and no return, throw or loop.
 * An unresolved name may also be a class another model or processor generates in this round:
 * {@code ModelProcessor} then reads the model again in the next round, and drops its messages
 * only in the last.
 */
public final class JavacErrors {
  private static final Set<TypeKind> NARROWED_CONSTANTS = Set.of(TypeKind.BYTE, TypeKind.SHORT, TypeKind.CHAR);

  private JavacErrors() {}

  /** Whether javac finds an error in the parts of {@code model}'s declaration the processor reads. */
  public static boolean in(Element model, Trees trees, Types types) {
    TreePath path = trees.getPath(model);
    if (path == null) {
      return false;
    }
    // javac types a class's trees only once asked for an element it has not attributed: asking for
    // the modifiers' (they have none) attributes the whole class, as the reader's lookups do
    TreePath classPath = path;
    while (classPath != null && !(classPath.getLeaf() instanceof ClassTree)) {
      classPath = classPath.getParentPath();
    }
    if (classPath != null) {
      trees.getElement(new TreePath(classPath, ((ClassTree) classPath.getLeaf()).getModifiers()));
    }
    Finder finder = new Finder(trees, types);
    if (path.getLeaf() instanceof ClassTree c) {
      for (AnnotationTree annotation : c.getModifiers().getAnnotations()) {
        finder.scan(new TreePath(new TreePath(path, c.getModifiers()), annotation), null);
      }
      for (Tree member : c.getMembers()) {
        boolean staticMethod = member instanceof MethodTree m && m.getModifiers().getFlags().contains(Modifier.STATIC);
        if (member instanceof VariableTree || member instanceof MethodTree && !staticMethod) {
          finder.scan(new TreePath(path, member), null);
        }
      }
    } else {
      finder.scan(path, null);
    }
    return finder.found;
  }

  private static final class Finder extends TreePathScanner<Void, Void> {
    private final Trees trees;
    private final Types types;
    /** The result type a {@code return} here must match; NONE inside a lambda (its own rules, not checked). */
    private final Deque<TypeMirror> results = new ArrayDeque<>();
    boolean found;

    Finder(Trees trees, Types types) {
      this.trees = trees;
      this.types = types;
    }

    /** Visits {@code tree}, then flags it when it is an expression javac could not type. */
    @Override
    public Void scan(Tree tree, Void unused) {
      if (found || tree == null) {
        return null;
      }
      super.scan(tree, unused);
      if (!found && tree instanceof ExpressionTree
          && erroneous(trees.getTypeMirror(new TreePath(getCurrentPath(), tree)))) {
        flag(tree);
      }
      return null;
    }

    @Override
    public Void scan(TreePath path, Void unused) {
      return found ? null : super.scan(path, unused);
    }

    private TypeMirror typeOf(Tree child) {
      return trees.getTypeMirror(new TreePath(getCurrentPath(), child));
    }

    private static boolean erroneous(TypeMirror type) {
      return type != null && type.getKind() == TypeKind.ERROR;
    }

    /**
     * Records that javac reports an error at {@code tree}, unless the tree names a {@code Kiln...}
     * class: a compiled model, which is missing when a model's own mistakes (the ones we are about
     * to report) kept it from being generated, or not yet written in this round.
     */
    private void flag(Tree tree) {
      if (!namesGenerated(tree)) {
        found = true;
      }
    }

    private static boolean namesGenerated(Tree tree) {
      boolean[] seen = {false};
      new TreeScanner<Void, Void>() {
        @Override
        public Void visitIdentifier(IdentifierTree id, Void unused) {
          seen[0] |= generatedName(id.getName().toString());
          return null;
        }

        @Override
        public Void visitMemberSelect(MemberSelectTree select, Void unused) {
          seen[0] |= generatedName(select.getIdentifier().toString());
          return super.visitMemberSelect(select, unused);
        }
      }.scan(tree, null);
      return seen[0];
    }

    /** {@code Kiln<Name>}, {@code Kiln<Outer>_<Name>}: the classes the processor writes. */
    private static boolean generatedName(String name) {
      return name.startsWith("Kiln") && name.length() > 4 && Character.isUpperCase(name.charAt(4));
    }

    /** {@code value} cannot be assigned to {@code target} (both known): javac reports incompatible types. */
    private boolean incompatible(TypeMirror value, TypeMirror target) {
      if (erroneous(value)) {
        return true; // javac types a value it found of the wrong type as erroneous
      }
      if (value == null || target == null || erroneous(target)
          || value.getKind() == TypeKind.NONE || target.getKind() == TypeKind.NONE) {
        return false;
      }
      if (NARROWED_CONSTANTS.contains(unboxedKind(target))) {
        return false; // byte b = 1: a constant narrows (JLS 5.2); left to javac
      }
      return !types.isAssignable(value, target);
    }

    private TypeKind unboxedKind(TypeMirror type) {
      if (type.getKind().isPrimitive()) {
        return type.getKind();
      }
      try {
        return types.unboxedType(type).getKind();
      } catch (IllegalArgumentException notBoxed) {
        return TypeKind.NONE;
      }
    }

    @Override
    public Void visitMethod(MethodTree method, Void unused) {
      Element element = trees.getElement(getCurrentPath());
      TypeMirror result = element instanceof ExecutableElement e ? e.getReturnType() : null;
      if (result != null && result.getKind() != TypeKind.VOID && method.getBody() != null
          && !leavesOtherThanByFallingOff(method.getBody())) {
        found = true; // javac: missing return statement
        return null;
      }
      results.push(result == null ? types.getNoType(TypeKind.NONE) : result);
      try {
        return super.visitMethod(method, unused);
      } finally {
        results.pop();
      }
    }

    @Override
    public Void visitLambdaExpression(LambdaExpressionTree lambda, Void unused) {
      results.push(types.getNoType(TypeKind.NONE));
      try {
        return super.visitLambdaExpression(lambda, unused);
      } finally {
        results.pop();
      }
    }

    @Override
    public Void visitClass(ClassTree local, Void unused) {
      return null; // a local or anonymous class: not read by the processor
    }

    @Override
    public Void visitReturn(ReturnTree ret, Void unused) {
      super.visitReturn(ret, unused);
      if (!found && ret.getExpression() != null && !results.isEmpty()
          && incompatible(typeOf(ret.getExpression()), results.peek())) {
        flag(ret);
      }
      return null;
    }

    @Override
    public Void visitVariable(VariableTree variable, Void unused) {
      super.visitVariable(variable, unused);
      if (!found && variable.getInitializer() != null && variable.getType() != null) {
        Element element = trees.getElement(getCurrentPath());
        if (element != null && incompatible(typeOf(variable.getInitializer()), element.asType())) {
          flag(variable);
        }
      }
      return null;
    }


    @Override
    public Void visitMemberSelect(MemberSelectTree select, Void unused) {
      super.visitMemberSelect(select, unused);
      if (found) {
        return null;
      }
      String name = select.getIdentifier().toString();
      if (!List.of("this", "super", "class").contains(name)) {
        Element member = trees.getElement(getCurrentPath());
        Element owner = trees.getElement(new TreePath(getCurrentPath(), select.getExpression()));
        if (member != null && owner != null && (owner.getKind().isClass() || owner.getKind().isInterface())
            && (member.getKind() == ElementKind.FIELD || member.getKind() == ElementKind.METHOD)
            && !member.getModifiers().contains(Modifier.STATIC)) {
          found = true; // Net.fc2: non-static variable cannot be referenced from a static context
          return null;
        }
      }
      return null;
    }

    @Override
    public Void visitMethodInvocation(MethodInvocationTree call, Void unused) {
      super.visitMethodInvocation(call, unused);
      if (!found && trees.getElement(getCurrentPath()) == null) {
        flag(call); // no method takes these arguments
      }
      return null;
    }

    @Override
    public Void visitNewClass(NewClassTree creation, Void unused) {
      super.visitNewClass(creation, unused);
      if (!found && trees.getElement(getCurrentPath()) == null) {
        flag(creation); // no constructor takes these arguments
      }
      return null;
    }

    @Override
    public Void visitAssignment(AssignmentTree assignment, Void unused) {
      if (getCurrentPath().getParentPath().getLeaf() instanceof AnnotationTree) {
        return scan(assignment.getExpression(), unused); // input = {...}: the element's name is no expression
      }
      super.visitAssignment(assignment, unused);
      if (!found && incompatible(typeOf(assignment.getExpression()), typeOf(assignment.getVariable()))) {
        flag(assignment);
      }
      return null;
    }

    /**
     * Whether {@code body} has a {@code return}, a {@code throw} or a loop of its own (not of a
     * lambda or local class): without any, every path runs off its end, which javac reports for a
     * method with a result. With one, javac's rule (can the body complete normally?) decides,
     * which this does not repeat: an always-throwing {@code if}/{@code else}, a {@code for (;;)}.
     */
    private static boolean leavesOtherThanByFallingOff(BlockTree body) {
      boolean[] seen = {false};
      new TreeScanner<Void, Void>() {
        @Override
        public Void scan(Tree tree, Void unused) {
          if (tree == null || seen[0] || NOT_ITS_OWN.contains(tree.getKind())) {
            return null;
          }
          seen[0] = LEAVES.contains(tree.getKind());
          return super.scan(tree, unused);
        }
      }.scan(body, null);
      return seen[0];
    }

    /** Statements by which a body can end without running off its end. */
    private static final Set<Tree.Kind> LEAVES = Set.of(Tree.Kind.RETURN, Tree.Kind.THROW, Tree.Kind.WHILE_LOOP,
        Tree.Kind.DO_WHILE_LOOP, Tree.Kind.FOR_LOOP, Tree.Kind.ENHANCED_FOR_LOOP);

    /** Bodies within a body whose statements are not the method's. */
    private static final Set<Tree.Kind> NOT_ITS_OWN = Set.of(Tree.Kind.LAMBDA_EXPRESSION, Tree.Kind.CLASS,
        Tree.Kind.RECORD, Tree.Kind.ENUM, Tree.Kind.INTERFACE);
  }
}
