package dev.kiln.processor;

import static com.google.testing.compile.Compiler.javac;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.testing.compile.Compilation;
import com.google.testing.compile.JavaFileObjects;
import dev.kiln.dsl.Model;
import dev.kiln.processor.DocBlocks.Block;
import dev.kiln.processor.DocBlocks.Source;
import dev.kiln.runtime.Kiln;
import dev.kiln.runtime.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.Diagnostic;
import javax.tools.JavaFileObject;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every {@code ```java} block of README.md, docs/guide.md and docs/generated-code.md is checked,
 * one test per block, named by its file and line; a failure names the Markdown line and javac's
 * message (or the exception a run threw, or the quoted line that is missing).
 *
 * <p>How a block is compiled: against the current dsl and runtime with the Kiln annotation
 * processor on (a {@code @Model} block is checked as a build checks it, shape errors included), in
 * a package of its own, inside a class {@code Doc extends Module} with the standard imports
 * ({@link DocBlocks#STANDARD_IMPORTS}: the dsl with {@code F.*} statically, the runtime's packages,
 * {@code java.util.*}, {@code java.util.stream.*}, {@code Path}) and the block's own {@code import}
 * lines. Its top-level lines that start with an annotation, a modifier or a type's keyword
 * (classes, records, fields, methods) become members of {@code Doc} (a class static: a model
 * {@code Net} compiles as {@code KilnDoc_Net}); the other lines are statements, the body of
 * {@code Tensor run() throws Exception} (which may end in {@code return x;}). A line {@code ...}
 * is left out, a {@code { ... }} body is empty. Each {@code @Model} a compiled block declares is
 * then built eager and compiled (the weights copied) and both forwards run on a batch of two in
 * evaluation: the compiled one must give the eager one's values. Markers, HTML comments right before the block's
 * fence (GitHub shows none of them), say more:
 * <ul>
 *   <li>{@code <!-- doc-check: given: static final int S = 6; Tensor x = Tensor.randn(2, S, 8); -->}:
 *       members of {@code Doc} the block uses without declaring them (constants, inputs, layers),
 *       written as members of a class; several lines may follow the colon.
 *   <li>{@code <!-- doc-check: model: input = {3, 8, 8} -->}: {@code Doc} is the {@code @Model}
 *       itself (a block of a model's fields and its forward).
 *   <li>{@code <!-- doc-check: continues -->}: the block goes on from the block before it (which
 *       may itself continue one): compiled after that block's lines, in one {@code Doc}.
 *   <li>{@code <!-- doc-check: run -->}: {@code run()} is called too; a {@code ```text} block right
 *       after the block is the output it must print (each line's ends stripped), and a statement's
 *       shape comment ({@code Tensor e = relu(enc.apply(x));   // [N, 4, 7, 7]}, the shape after the
 *       last {@code ->} where there is one) is checked as it runs ({@link DocShapes}).
 *   <li>{@code <!-- doc-check: expect-error: text -->}: the block shows a mistake: compiling it
 *       must fail with an error containing {@code text}.
 *   <li>{@code <!-- doc-check: excerpt: processor/src/test/resources/models/CausalBlock.java -->}
 *       (several paths separated by commas; a folder stands for its files): the block quotes files
 *       of the repository, with {@code ...} for what it leaves out: each of its lines (comments and
 *       spacing aside; a {@code ...} in a line stands for any code) must stand in one of them. A
 *       quoted test model ({@code processor/src/test/resources/models}) is compiled with the
 *       processor here too; samples are compiled by their own module's build. A block of
 *       docs/generated-code.md without markers quotes the golden files
 *       ({@code processor/src/test/resources/expected/}, which {@link ProcessorTest} compares with
 *       the processor's output).
 *       A {@code ```xml} block is read only with this marker (a pom.xml snippet quoting
 *       {@code examples/starter/pom.xml}); other xml blocks are not checked.
 *   <li>{@code <!-- doc-check: generated: processor/src/test/resources/models/WhereOfBuffers.java -->}:
 *       the block quotes the code the processor generates from these sources (compiled here, in
 *       the run that compiles the quoted test models), compared as an excerpt is.
 *   <li>{@code <!-- doc-check: skip: reason -->}: pseudo-code, or code with nothing to compare it
 *       with; the reason is the test's skip message. Keep these rare.
 * </ul>
 * All compiled blocks compile in one javac run; only when it reports an error is each block
 * compiled alone, so that each test names its own errors. docs/design-notes.md, "How the docs are
 * checked", says the same for the docs' writers.
 */
class DocBlocksTest {
  /** The repository's root: tests run in the processor module. */
  static final Path ROOT = Path.of("..");

  /** A checked file, with the markers of its blocks that have none. */
  record Checked(String file, List<DocBlocks.Marker> unmarked) {}

  static final List<Checked> CHECKED = List.of(
      new Checked("README.md", List.of()),
      new Checked("docs/guide.md", List.of()),
      // generated code: each block quotes the golden files, which ProcessorTest compares with the processor's output
      new Checked("docs/generated-code.md", List.of(new DocBlocks.Marker("excerpt", "processor/src/test/resources/expected/"))));

  @TestFactory
  Stream<DynamicTest> everyJavaBlockOfTheDocs() throws IOException {
    List<Block> blocks = new ArrayList<>();
    for (Checked c : CHECKED) {
      blocks.addAll(DocBlocks.parse(c.file(), Files.readString(ROOT.resolve(c.file()), StandardCharsets.UTF_8), c.unmarked()));
    }
    Checker checker = new Checker(blocks, ROOT);
    return blocks.stream().map(b -> DynamicTest.dynamicTest(b.where() + " " + checker.kind(b), () -> checker.check(b)));
  }

  /** The markers on a small Markdown text of their own: each kind does what the class comment says. */
  @Test
  void theMarkersWork() throws Exception {
    Path root = Files.createTempDirectory("doc-blocks");
    Files.writeString(root.resolve("Quoted.java"), "class Quoted {\n  int a = 1;   // one\n  int b =  2;\n  void f() {\n    g();\n  }\n}\n");
    String md = String.join("\n",
        "# A guide",
        "<!-- doc-check: given: static Tensor x = Tensor.ones(2, 3); -->",
        "<!-- doc-check: run -->",
        "```java",
        "Tensor y = x.mul(2);",
        "System.out.println(y.sum().item());",
        "```",
        "```text",
        "12.0",
        "```",
        "<!-- doc-check: continues -->",
        "```java",
        "System.out.println(y.shape().length);",
        "```",
        "```java",
        "@Model(input = {4})",
        "public class Net extends Module {",
        "  final Linear fc = new Linear(4, 2);",
        "  @Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "}",
        "Net net = new Net();",
        "```",
        "<!-- doc-check: expect-error: cannot find symbol -->",
        "```java",
        "Tensor z = missing.mul(2);",
        "```",
        "<!-- doc-check: excerpt: Quoted.java -->",
        "```java",
        "int a = 1;",
        "...",
        "void f() { ... }",
        "```",
        "<!-- doc-check: excerpt: Quoted.java -->",
        "```java",
        "int b = 3;",
        "```",
        "<!-- doc-check: skip: pseudo-code -->",
        "```java",
        "for each batch: step",
        "```",
        "<!-- doc-check: run -->",
        "```java",
        "System.out.println(1 + 1);",
        "```",
        "```text",
        "3",
        "```",
        "<!-- doc-check: model: input = {4} -->",
        "```java",
        "final Linear fc = new Linear(4, 2);",
        "@Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "```",
        "<!-- doc-check: given: Tensor x = Tensor.ones(2, 3); -->",
        "<!-- doc-check: run -->",
        "```java",
        "Tensor y = x.sum(1, true);   // [N, 3] -> [N, 1]",
        "Tensor z = x.view(3, 2);     // [N, 3]",
        "```",
        "<!-- doc-check: generated: Tiny.java -->",
        "```java",
        "public final class KilnTiny extends Tiny {",
        "...",
        "int n = Compiled.batchSize(\"KilnTiny\", x, 4);",
        "```",
        "<!-- doc-check: generated: Tiny.java -->",
        "```java",
        "int n = Compiled.batchSize(\"KilnTiny\", x, 5);",
        "```",
        "```xml",
        "<not-checked/>",
        "```",
        "<!-- doc-check: excerpt: pom.xml -->",
        "```xml",
        "<artifactId>kiln-dsl</artifactId>",
        "```",
        "<!-- doc-check: excerpt: pom.xml -->",
        "```xml",
        "<artifactId>kiln-runtime</artifactId>",
        "```",
        "");
    Files.writeString(root.resolve("Tiny.java"), String.join("\n", "package test;", "import dev.kiln.dsl.*;",
        "import dev.kiln.dsl.Module;", "import dev.kiln.runtime.Tensor;", "@Model(input = {4})",
        "public class Tiny extends Module {", "  final Linear fc = new Linear(4, 2);",
        "  @Override public Tensor forward(Tensor x) { return fc.apply(x); }", "}", ""));
    // an xml block is read only when it quotes files (a pom.xml snippet): the unmarked one is not a block
    Files.writeString(root.resolve("pom.xml"), "<project>\n  <dependency>\n    <artifactId>kiln-dsl</artifactId>\n  </dependency>\n</project>\n");
    List<Block> blocks = DocBlocks.parse("guide.md", md);
    assertEquals(14, blocks.size());
    Checker checker = new Checker(blocks, root);
    checker.check(blocks.get(0));
    checker.check(blocks.get(1));
    checker.check(blocks.get(2));
    assertTrue(checker.compiled().get(blocks.get(2)).generatedSourceFile("doc.guide.l15.KilnDoc_Net").isPresent(),
        "the processor compiles a block's @Model");
    checker.check(blocks.get(3));
    checker.check(blocks.get(4));
    AssertionError wrongQuote = assertThrows(AssertionError.class, () -> checker.check(blocks.get(5)));
    assertEquals("guide.md:35: not in Quoted.java: int b = 3;", wrongQuote.getMessage());
    assertThrows(org.opentest4j.TestAbortedException.class, () -> checker.check(blocks.get(6)));
    AssertionError wrongOutput = assertThrows(AssertionError.class, () -> checker.check(blocks.get(7)));
    checker.check(blocks.get(8));
    assertTrue(checker.compiled().get(blocks.get(8)).generatedSourceFile("doc.guide.l49.KilnDoc").isPresent(),
        "a model marker makes the block's members a @Model");
    AssertionError wrongShape = assertThrows(AssertionError.class, () -> checker.check(blocks.get(9)));
    assertEquals("guide.md:57: running the block at line 55 throws java.lang.AssertionError: guide.md:57: the value is [3, 2], "
        + "the comment says [N, 3] (with {N=2} so far)", wrongShape.getMessage());
    checker.check(blocks.get(10));
    AssertionError staleCode = assertThrows(AssertionError.class, () -> checker.check(blocks.get(11)));
    assertEquals("guide.md:67: not in the code generated from Tiny.java: int n = Compiled.batchSize(\"KilnTiny\", x, 5);",
        staleCode.getMessage());
    checker.check(blocks.get(12));
    AssertionError wrongPom = assertThrows(AssertionError.class, () -> checker.check(blocks.get(13)));
    assertEquals("guide.md:78: not in pom.xml: <artifactId>kiln-runtime</artifactId>", wrongPom.getMessage());
    assertTrue(wrongOutput.getMessage().startsWith("guide.md:42: printed [2], the output block at line 45 shows [3]"),
        wrongOutput.getMessage());

    String badModel = String.join("\n",
        "```java",
        "@Model(input = {4})",
        "public class Net extends Module {",
        "  final Linear fc = new Linear(5, 2);",
        "  @Override public Tensor forward(Tensor x) { return fc.apply(x); }",
        "}",
        "```",
        "");
    List<Block> bad = DocBlocks.parse("guide.md", badModel);
    AssertionError shapes = assertThrows(AssertionError.class, () -> new Checker(bad, root).check(bad.get(0)));
    assertTrue(shapes.getMessage().startsWith("guide.md:5: "), shapes.getMessage());
    assertTrue(shapes.getMessage().contains("fc"), shapes.getMessage());
  }

  /** Checks blocks of Markdown files whose quoted paths are relative to {@code root}. */
  static final class Checker {
    private final List<Block> blocks;
    private final Path root;
    private Map<Block, Compilation> compiled;
    private Compilation quoted;

    Checker(List<Block> blocks, Path root) {
      this.blocks = blocks;
      this.root = root;
      for (Block b : blocks) {
        if (b.has("skip") && b.marker("skip").isEmpty()) {
          throw new IllegalArgumentException(b.where() + ": a skipped block needs a reason: <!-- doc-check: skip: why -->");
        }
        if ((b.has("excerpt") || b.has("generated")) && (b.has("given") || b.has("run") || b.has("expect-error") || b.has("continues"))) {
          throw new IllegalArgumentException(b.where() + ": an excerpt is only compared with its files, not compiled");
        }
      }
    }

    String kind(Block b) {
      return b.has("skip") ? "(skipped)" : b.has("excerpt") ? "(excerpt)" : b.has("generated") ? "(generated code)"
          : b.has("expect-error") ? "(expected error)" : b.has("run") ? "(compiled and run)" : "(compiled)";
    }

    void check(Block b) throws Exception {
      if (b.has("skip")) {
        Assumptions.abort(b.where() + " skipped: " + b.marker("skip"));
      } else if (b.has("excerpt")) {
        checkExcerpt(b);
      } else if (b.has("generated")) {
        checkGenerated(b);
      } else if (b.has("expect-error")) {
        checkError(b);
      } else {
        Compilation c = compiled().get(b);
        assertCompiled(b, c);
        if (b.has("run")) {
          checkRun(b, c);
        }
        checkModels(b, c);
      }
    }

    private List<Block> chain(Block b) {
      List<Block> chain = new ArrayList<>();
      int i = blocks.indexOf(b);
      chain.add(0, b);
      while (blocks.get(i).has("continues")) {
        if (i == 0 || !blocks.get(i - 1).file().equals(b.file())) {
          throw new IllegalArgumentException(blocks.get(i).where() + ": continues no block");
        }
        chain.add(0, blocks.get(--i));
      }
      return chain;
    }

    /** The blocks to compile, all in one javac run; each alone where that run has errors. */
    synchronized Map<Block, Compilation> compiled() {
      if (compiled == null) {
        Map<Block, Source> sources = new LinkedHashMap<>();
        for (Block b : blocks) {
          if (!b.has("skip") && !b.has("excerpt") && !b.has("generated") && !b.has("expect-error")) {
            sources.put(b, DocBlocks.wrap(chain(b)));
          }
        }
        compiled = new HashMap<>();
        Compilation all = compile(sources.values());
        boolean failed = all.status() == Compilation.Status.FAILURE;
        for (Map.Entry<Block, Source> e : sources.entrySet()) {
          compiled.put(e.getKey(), failed ? compile(List.of(e.getValue())) : all);
        }
      }
      return compiled;
    }

    /** The wrapped blocks of each compilation. */
    private final Map<Compilation, List<Source>> sources = new HashMap<>();

    private Compilation compile(Collection<Source> sources) {
      List<JavaFileObject> files = sources.stream()
          .map(s -> JavaFileObjects.forSourceString(s.className(), s.text())).collect(Collectors.toList());
      Compilation c = javac().withProcessors(new ModelProcessor()).withOptions("-Xlint:-processing").compile(files);
      synchronized (this.sources) {
        this.sources.put(c, List.copyOf(sources));
      }
      return c;
    }

    /** A diagnostic of a block's compilation unit (or of code generated from it), as its Markdown line and message. */
    private static String describe(Source s, Diagnostic<? extends JavaFileObject> d) {
      int line = s.markdownLine(d.getLineNumber());
      String at = line > 0 ? s.block().file() + ":" + line : s.block().where() + " (the wrapper's line " + d.getLineNumber() + ")";
      String text = line > 0 ? "\n    " + s.block().lines().get(line - s.block().fenceLine() - 1).strip() : "";
      return at + ": " + d.getMessage(Locale.ROOT) + text;
    }

    private static boolean isOf(Source s, Diagnostic<? extends JavaFileObject> d) {
      return d.getSource() != null && ("/" + d.getSource().toUri().getPath()).contains("/" + s.block().packageName().replace('.', '/') + "/");
    }

    private Source sourceOf(Compilation c, Block b) {
      synchronized (sources) {
        return sources.get(c).stream().filter(s -> s.block() == b).findFirst().orElseThrow();
      }
    }

    private static List<String> errors(Compilation c, Source s) {
      return c.errors().stream().filter(d -> isOf(s, d) || d.getSource() == null).map(d -> describe(s, d)).collect(Collectors.toList());
    }

    private void assertCompiled(Block b, Compilation c) {
      List<String> errors = errors(c, sourceOf(c, b));
      if (!errors.isEmpty()) {
        throw new AssertionError(String.join("\n", errors) + "\n(" + b.where() + " compiles as:\n" + numbered(sourceOf(c, b)) + ")");
      }
    }

    private static String numbered(Source s) {
      StringBuilder text = new StringBuilder();
      for (int i = 0; i < s.lines().size(); i++) {
        text.append(String.format("%4d  %s%n", i + 1, s.lines().get(i)));
      }
      return text.toString();
    }

    private void checkError(Block b) {
      String expected = b.marker("expect-error");
      Compilation c = compile(List.of(DocBlocks.wrap(chain(b))));
      List<String> errors = errors(c, sourceOf(c, b));
      if (errors.stream().noneMatch(e -> e.contains(expected))) {
        throw new AssertionError(b.where() + ": shows a mistake whose error should contain \"" + expected + "\", but "
            + (errors.isEmpty() ? "it compiles" : "javac says:\n" + String.join("\n", errors)));
      }
    }

    private void checkRun(Block b, Compilation c) throws Exception {
      Class<?> doc = new ParityTest.CompiledClasses(c).loadClass(b.packageName() + "." + DocBlocks.WRAPPER);
      Method run = doc.getDeclaredMethod("run");
      run.setAccessible(true);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      PrintStream console = System.out;
      try (PrintStream capture = new PrintStream(out, true, StandardCharsets.UTF_8)) {
        System.setOut(capture);
        var ctor = doc.getDeclaredConstructor();
        ctor.setAccessible(true);
        run.invoke(ctor.newInstance());
      } catch (InvocationTargetException e) {
        Source s = sourceOf(c, b);
        int line = Stream.of(e.getCause().getStackTrace()).filter(f -> f.getClassName().startsWith(b.packageName() + "."))
            .mapToInt(f -> s.markdownLine(f.getLineNumber())).filter(l -> l > 0).findFirst().orElse(b.fenceLine());
        throw new AssertionError(b.file() + ":" + line + ": running the block at line " + b.fenceLine() + " throws " + e.getCause(),
            e.getCause());
      } finally {
        System.setOut(console);
      }
      if (b.output() != null) {
        List<String> printed = out.toString(StandardCharsets.UTF_8).lines().map(String::strip).collect(Collectors.toList());
        if (!printed.equals(b.output().lines())) {
          throw new AssertionError(b.where() + ": printed " + printed + ", the output block at line " + b.output().fenceLine()
              + " shows " + b.output().lines());
        }
      }
    }

    /**
     * Each {@code @Model} of the block, compiled and eager, in evaluation on one batch of two
     * samples (random floats, or ids 1 where the model takes ids): the compiled forward gives the
     * eager one's values.
     */
    private void checkModels(Block b, Compilation c) throws Exception {
      ClassLoader loader = new ParityTest.CompiledClasses(c);
      for (JavaFileObject f : c.generatedSourceFiles()) {
        String path = ("/" + f.toUri().getPath());
        String dir = "/" + b.packageName().replace('.', '/') + "/";
        if (!path.contains(dir) || !path.endsWith(".java")) {
          continue;
        }
        String name = b.packageName() + "." + path.substring(path.lastIndexOf('/') + 1, path.length() - ".java".length());
        Class<?> compiledClass = loader.loadClass(name);
        Class<?> eagerClass = compiledClass.getSuperclass();
        Model model = eagerClass.getAnnotation(Model.class);
        if (model == null || !dev.kiln.dsl.Module.class.isAssignableFrom(compiledClass)) {
          continue;
        }
        dev.kiln.dsl.Module eager = (dev.kiln.dsl.Module) construct(eagerClass);
        dev.kiln.dsl.Module compiledModel = (dev.kiln.dsl.Module) construct(compiledClass);
        compiledModel.loadStateDict(eager.stateDict());
        eager.eval();
        compiledModel.eval();
        int[] shape = new int[model.input().length + 1];
        shape[0] = 2;
        System.arraycopy(model.input(), 0, shape, 1, model.input().length);
        Kiln.manualSeed(3);
        Tensor x = Tensor.randn(shape);
        Tensor expected;
        try {
          expected = eager.forward(x);
        } catch (IllegalArgumentException floatsRefused) { // a model of ids
          x = Tensor.labels(java.util.stream.IntStream.generate(() -> 1).limit(x.numel()).toArray()).view(shape);
          expected = eager.forward(x);
        }
        Tensor actual = compiledModel.forward(x);
        assertEquals(java.util.Arrays.toString(expected.shape()), java.util.Arrays.toString(actual.shape()),
            b.where() + ": " + eagerClass.getSimpleName() + "'s compiled forward's shape");
        double err = ParityTest.relativeError(actual.toFloatArray(), expected.toFloatArray());
        if (!(err <= 1e-4)) {
          throw new AssertionError(b.where() + ": " + eagerClass.getSimpleName() + "'s compiled forward differs from the eager one by "
              + err + " (relative)");
        }
      }
    }

    private static Object construct(Class<?> type) throws ReflectiveOperationException {
      var constructor = type.getDeclaredConstructor();
      constructor.setAccessible(true);
      return constructor.newInstance();
    }

    private void checkExcerpt(Block b) throws IOException {
      List<String> paths = split(b.marker("excerpt"));
      List<String> texts = new ArrayList<>();
      for (String p : paths) {
        Path file = root.resolve(p);
        if (!Files.exists(file)) {
          throw new AssertionError(b.where() + ": quotes " + p + ", which does not exist");
        }
        if (Files.isDirectory(file)) { // every file in it
          try (Stream<Path> files = Files.list(file)) {
            for (Path f : files.sorted().collect(Collectors.toList())) {
              texts.add(Files.readString(f, StandardCharsets.UTF_8));
            }
          }
        } else {
          texts.add(Files.readString(file, StandardCharsets.UTF_8));
        }
      }
      List<Integer> missing = DocBlocks.linesNotIn(b, texts);
      if (!missing.isEmpty()) {
        String names = paths.stream().map(p -> p.replaceAll("^.*/(?=.)", "")).collect(Collectors.joining(" or "));
        throw new AssertionError(missing.stream()
            .map(i -> b.file() + ":" + b.markdownLine(i) + ": not in " + names + ": " + b.lines().get(i).strip())
            .collect(Collectors.joining("\n")));
      }
      List<String> models = paths.stream().filter(p -> p.startsWith(MODELS)).collect(Collectors.toList());
      if (!models.isEmpty()) {
        assertQuotedCompile(b, models);
      }
    }

    /** A block quoting the code the processor generates from the named sources, compiled here. */
    private void checkGenerated(Block b) throws IOException {
      List<String> paths = split(b.marker("generated"));
      for (String p : paths) {
        if (!Files.isRegularFile(root.resolve(p))) {
          throw new AssertionError(b.where() + ": quotes the code generated from " + p + ", which does not exist");
        }
      }
      Compilation c = assertQuotedCompile(b, paths);
      List<String> texts = new ArrayList<>();
      for (JavaFileObject f : c.generatedSourceFiles()) {
        String name = f.toUri().getPath().replaceAll("^.*/", "");
        if (paths.stream().anyMatch(p -> name.startsWith("Kiln" + p.replaceAll("^.*/", "").replaceAll("\\.java$", "")))) {
          texts.add(f.getCharContent(false).toString());
        }
      }
      String names = paths.stream().map(p -> p.replaceAll("^.*/", "")).collect(Collectors.joining(" or "));
      if (texts.isEmpty()) {
        throw new AssertionError(b.where() + ": the processor generates no code from " + names);
      }
      List<Integer> missing = DocBlocks.linesNotIn(b, texts);
      if (!missing.isEmpty()) {
        throw new AssertionError(missing.stream()
            .map(i -> b.file() + ":" + b.markdownLine(i) + ": not in the code generated from " + names + ": " + b.lines().get(i).strip())
            .collect(Collectors.joining("\n")));
      }
    }

    private static List<String> split(String paths) {
      return List.of(paths.split("\\s*,\\s*"));
    }

    /** The quoted sources' compilation, after checking that these of them compile. */
    private Compilation assertQuotedCompile(Block b, List<String> paths) throws IOException {
      Compilation c = quoted();
      List<String> errors = c.errors().stream()
          .filter(d -> d.getSource() == null || paths.stream().anyMatch(p -> ("/" + d.getSource().toUri().getPath()).endsWith("/" + p.replaceAll("^.*/", ""))))
          .map(d -> d.getSource() + ":" + d.getLineNumber() + ": " + d.getMessage(Locale.ROOT)).collect(Collectors.toList());
      if (!errors.isEmpty()) {
        throw new AssertionError(b.where() + " quotes a model that does not compile:\n" + String.join("\n", errors));
      }
      return c;
    }

    private static final String MODELS = "processor/src/test/resources/models/";

    /**
     * Every test model an excerpt quotes and every source whose generated code a block quotes, in
     * one javac run with the processor.
     */
    private synchronized Compilation quoted() throws IOException {
      if (quoted == null) {
        Set<String> paths = new LinkedHashSet<>();
        for (Block b : blocks) {
          if (b.has("excerpt")) {
            split(b.marker("excerpt")).stream().filter(p -> p.startsWith(MODELS)).forEach(paths::add);
          }
          if (b.has("generated")) {
            paths.addAll(split(b.marker("generated")));
          }
        }
        List<JavaFileObject> files = new ArrayList<>();
        for (String p : paths) {
          String text = Files.readString(root.resolve(p), StandardCharsets.UTF_8);
          Matcher pkg = Pattern.compile("(?m)^package\\s+([\\w.]+);").matcher(text);
          String simple = p.replaceAll("^.*/", "").replaceAll("\\.java$", "");
          files.add(JavaFileObjects.forSourceString(pkg.find() ? pkg.group(1) + "." + simple : simple, text));
        }
        quoted = javac().withProcessors(new ModelProcessor()).withOptions("-Xlint:-processing").compile(files);
      }
      return quoted;
    }
  }
}
