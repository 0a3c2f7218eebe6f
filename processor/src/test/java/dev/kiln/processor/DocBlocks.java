package dev.kiln.processor;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code ```java} blocks of a Markdown file with their doc-check markers, and the Java source
 * each compiles as ({@link DocBlocksTest} says what the markers mean); also the {@code ```xml}
 * blocks marked {@code excerpt}, which are compared with the files they quote.
 */
final class DocBlocks {
  private DocBlocks() {}

  /** One marker: its kind ({@code skip}, {@code given}, ...) and the text after its colon. */
  record Marker(String kind, String text) {}

  /**
   * A fenced Java block: the Markdown file's name, the line of its opening fence (1-based), its
   * lines, its markers, and the fenced block after it (the shown output of a {@code run} block),
   * or null.
   */
  record Block(String file, int fenceLine, List<String> lines, List<Marker> markers, Output output) {
    /** The text of the first marker of this kind, or null. */
    String marker(String kind) {
      return markers.stream().filter(m -> m.kind().equals(kind)).map(Marker::text).findFirst().orElse(null);
    }

    boolean has(String kind) {
      return marker(kind) != null;
    }

    /** Where a line of the block stands in the Markdown file (1-based, {@code index} 0-based). */
    int markdownLine(int index) {
      return fenceLine + 1 + index;
    }

    /** {@code docs/guide.md:265}, the name a failure starts with. */
    String where() {
      return file + ":" + fenceLine;
    }

    /** The package its wrapper class is compiled in: one per block, so that blocks may repeat names. */
    String packageName() {
      return "doc." + file.replaceAll("^.*/", "").replaceAll("\\.md$", "").replaceAll("[^A-Za-z0-9]", "_").toLowerCase()
          + ".l" + fenceLine;
    }
  }

  /** A fenced block of text shown after a {@code run} block: its first line and its lines. */
  record Output(int fenceLine, List<String> lines) {}

  static final List<String> KINDS = List.of("skip", "excerpt", "generated", "given", "model", "continues", "run", "expect-error");

  private static final Pattern MARKER = Pattern.compile("<!--\\s*doc-check:\\s*([a-z-]+)\\s*(?::(.*?))?\\s*-->", Pattern.DOTALL);

  /** Every {@code ```java} block of a Markdown text, markers attached. */
  static List<Block> parse(String file, String markdown) {
    return parse(file, markdown, List.of());
  }

  /** Every {@code ```java} block of a Markdown text, markers attached, {@code unmarked} those of a block without any. */
  static List<Block> parse(String file, String markdown, List<Marker> unmarked) {
    String[] lines = markdown.split("\n", -1);
    List<Block> blocks = new ArrayList<>();
    List<Marker> pending = new ArrayList<>();
    int pendingLine = 0;
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i].strip();
      if (line.startsWith("<!-- doc-check:")) {
        StringBuilder comment = new StringBuilder(line);
        int start = i;
        while (!lines[i].contains("-->")) {
          comment.append('\n').append(lines[++i]);
        }
        Matcher m = MARKER.matcher(comment.toString().strip());
        if (!m.matches() || !KINDS.contains(m.group(1))) {
          throw new IllegalArgumentException(file + ":" + (start + 1) + ": a doc-check marker is <!-- doc-check: KIND[: text] -->, KIND one of "
              + KINDS + ", got " + comment);
        }
        pending.add(new Marker(m.group(1), m.group(2) == null ? "" : m.group(2).strip()));
        pendingLine = start + 1;
      } else if (line.equals("```java") || line.equals("```xml") && pending.stream().anyMatch(m -> m.kind().equals("excerpt"))) {
        // an xml block (a pom.xml snippet) is read only when it quotes files: it is compared, never compiled
        String indent = lines[i].substring(0, lines[i].indexOf('`'));
        int fence = i;
        List<String> body = new ArrayList<>();
        while (!lines[++i].strip().equals("```")) {
          body.add(lines[i].startsWith(indent) ? lines[i].substring(indent.length()) : lines[i]);
        }
        blocks.add(new Block(file, fence + 1, body, List.copyOf(pending.isEmpty() ? unmarked : pending), outputAfter(lines, i + 1)));
        pending.clear();
      } else if (!line.isEmpty() && !pending.isEmpty()) {
        throw new IllegalArgumentException(file + ":" + pendingLine + ": a doc-check marker must stand right before a ```java block");
      }
    }
    if (!pending.isEmpty()) {
      throw new IllegalArgumentException(file + ":" + pendingLine + ": a doc-check marker must stand right before a ```java block");
    }
    return blocks;
  }

  /** The {@code ```text} block after blank lines from {@code from}, or null. */
  private static Output outputAfter(String[] lines, int from) {
    int i = from;
    while (i < lines.length && lines[i].isBlank()) {
      i++;
    }
    if (i >= lines.length || !lines[i].strip().equals("```text")) {
      return null;
    }
    int fence = i;
    List<String> body = new ArrayList<>();
    while (!lines[++i].strip().equals("```")) {
      body.add(lines[i].strip());
    }
    return new Output(fence + 1, body);
  }

  /** Imports every block compiles with, besides its own. */
  static final List<String> STANDARD_IMPORTS = List.of(
      "import static dev.kiln.dsl.F.*;",
      "import dev.kiln.dsl.*;",
      "import dev.kiln.dsl.Module;",
      "import dev.kiln.runtime.*;",
      "import dev.kiln.runtime.data.*;",
      "import dev.kiln.runtime.io.*;",
      "import dev.kiln.runtime.optim.*;",
      "import java.nio.file.Path;",
      "import java.util.*;",
      "import java.util.stream.*;");

  /** The class every block's declarations and statements are wrapped in. */
  static final String WRAPPER = "Doc";

  /**
   * A block's compilation unit: its lines and, for each, the Markdown line it came from (0 for the
   * wrapper's own lines).
   */
  record Source(Block block, List<String> lines, List<Integer> origins) {
    String text() {
      return String.join("\n", lines) + "\n";
    }

    String className() {
      return block.packageName() + "." + WRAPPER;
    }

    /** The Markdown line of a source line (1-based), or 0. */
    int markdownLine(long sourceLine) {
      return sourceLine >= 1 && sourceLine <= origins.size() ? origins.get((int) sourceLine - 1) : 0;
    }
  }

  /** A member's first line: an annotation, a modifier, or a type's keyword. */
  private static final Pattern MEMBER_START = Pattern.compile(
      "^(@\\w+|(public|protected|private|static|final|abstract|sealed|non-sealed|class|record|interface|enum)\\s).*$");

  /**
   * Wraps a block (after the blocks it continues, in {@code chain}, first to last) as one class
   * {@code Doc extends Module} (so that statements may call {@code isTraining()}, field
   * initializers {@code registerParameter}): the block's imports after the standard ones; the
   * {@code given} members; its members (top-level lines from an annotation, a modifier or a
   * type's keyword to the end of the declaration; a class made static); its other lines as the
   * body of {@code Tensor run() throws Exception} (which returns null after them unless they end in
   * a {@code return}). A {@code model} marker annotates {@code Doc} itself.
   */
  static Source wrap(List<Block> chain) {
    Block block = chain.get(chain.size() - 1);
    List<String> imports = new ArrayList<>();
    List<Integer> importOrigins = new ArrayList<>();
    List<String> members = new ArrayList<>();
    List<Integer> memberOrigins = new ArrayList<>();
    List<String> statements = new ArrayList<>();
    List<Integer> statementOrigins = new ArrayList<>();
    boolean ownForward = false;
    for (Block b : chain) {
      String given = b.marker("given");
      if (given != null) {
        for (String g : given.split("\n")) {
          members.add("  " + g.strip());
          memberOrigins.add(0);
        }
      }
      int depth = 0;
      boolean inMember = false;
      for (int i = 0; i < b.lines().size(); i++) {
        String line = b.lines().get(i).replace("{ ... }", "{ }"); // a body left out: an empty one
        String code = line.strip();
        int origin = b.markdownLine(i);
        if (normalized(code).equals("...")) {
          continue; // left out, in a block quoting a longer text
        }
        if (depth == 0 && !inMember && code.startsWith("import ")) {
          imports.add(line);
          importOrigins.add(origin);
          continue;
        }
        if (depth == 0 && !inMember && MEMBER_START.matcher(code).matches()) {
          inMember = true;
          ownForward |= code.matches(".*\\bTensor forward\\(Tensor \\w+\\).*");
        }
        depth += nesting(code);
        if (inMember) {
          members.add("  " + asNested(line));
          memberOrigins.add(origin);
          String end = normalized(code);
          if (depth == 0 && (end.endsWith("}") || end.endsWith(";"))) {
            inMember = false;
          }
        } else {
          statements.add("    " + line);
          statementOrigins.add(origin);
          Matcher shaped = DocShapes.COMMENTED.matcher(line);
          String sizes = shaped.matches() ? DocShapes.expected(shaped.group(2)) : null;
          if (b == block && block.has("run") && depth == 0 && sizes != null) { // its shape comment checked as it runs
            statements.add("    " + DocShapes.class.getName() + ".check(" + shaped.group(1) + ", \"" + sizes + "\", \""
                + b.file() + ":" + origin + "\", shapes$);");
            statementOrigins.add(origin);
          }
        }
      }
    }
    List<String> lines = new ArrayList<>();
    List<Integer> origins = new ArrayList<>();
    add(lines, origins, "package " + block.packageName() + ";", 0);
    for (String i : STANDARD_IMPORTS) {
      add(lines, origins, i, 0);
    }
    for (int i = 0; i < imports.size(); i++) {
      add(lines, origins, imports.get(i), importOrigins.get(i));
    }
    String model = block.marker("model");
    if (model != null) {
      add(lines, origins, "@Model(" + model + ")", 0);
    }
    add(lines, origins, "@SuppressWarnings(\"all\")", 0);
    add(lines, origins, "public class " + WRAPPER + " extends Module {", 0);
    for (int i = 0; i < members.size(); i++) {
      add(lines, origins, members.get(i), memberOrigins.get(i));
    }
    if (!ownForward) {
      add(lines, origins, "  @Override public Tensor forward(Tensor input) { throw new UnsupportedOperationException(); }", 0);
    }
    add(lines, origins, "  Tensor run() throws Exception {", 0);
    add(lines, origins, "    java.util.Map<String, Integer> shapes$ = new java.util.HashMap<>();", 0);
    for (int i = 0; i < statements.size(); i++) {
      add(lines, origins, statements.get(i), statementOrigins.get(i));
    }
    boolean returns = statements.stream().map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("//"))
        .reduce((a, b) -> b).map(l -> l.startsWith("return ")).orElse(false);
    if (!returns) {
      add(lines, origins, "    return null;", 0);
    }
    add(lines, origins, "  }", 0);
    add(lines, origins, "}", 0);
    return new Source(block, lines, origins);
  }

  private static void add(List<String> lines, List<Integer> origins, String line, int origin) {
    lines.add(line);
    origins.add(origin);
  }

  /** A top-level class of a block as a member of the wrapper: static, so that it stands alone. */
  private static String asNested(String line) {
    return line.replaceFirst("^(\\s*)(public\\s+|)(abstract\\s+|final\\s+|)class\\s", "$1$2static $3class ");
  }

  /** Opening minus closing braces and parentheses of a line, outside strings, characters and comments. */
  static int nesting(String code) {
    int n = 0;
    for (int i = 0; i < code.length(); i++) {
      char c = code.charAt(i);
      if (c == '"' || c == '\'') {
        i = code.indexOf(c, i + 1);
        if (i < 0) {
          break;
        }
      } else if (c == '/' && i + 1 < code.length() && code.charAt(i + 1) == '/') {
        break;
      } else if (c == '{' || c == '(') {
        n++;
      } else if (c == '}' || c == ')') {
        n--;
      }
    }
    return n;
  }

  /** A line of code without its {@code //} comment, its whitespace collapsed. */
  static String normalized(String line) {
    String code = line;
    boolean inString = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (c == '"' && (i == 0 || line.charAt(i - 1) != '\\')) {
        inString = !inString;
      } else if (!inString && c == '/' && i + 1 < line.length() && line.charAt(i + 1) == '/') {
        code = line.substring(0, i);
        break;
      }
    }
    return code.strip().replaceAll("\\s+", " ");
  }

  /**
   * The lines of an {@code excerpt} block found in none of the sources, each source's code read as
   * one line (comments dropped, whitespace collapsed); a {@code ...} in a line stands for any code,
   * a line that is {@code ...} alone, or a comment, is left out.
   */
  static List<Integer> linesNotIn(Block block, List<String> sources) {
    List<String> texts = new ArrayList<>();
    for (String s : sources) {
      StringBuilder text = new StringBuilder();
      for (String line : s.split("\n")) {
        String code = normalized(line);
        if (!code.isEmpty() && !code.startsWith("*") && !code.startsWith("/*")) {
          text.append(' ').append(code);
        }
      }
      texts.add(text.append(' ').toString());
    }
    List<Integer> missing = new ArrayList<>();
    for (int i = 0; i < block.lines().size(); i++) {
      String code = normalized(block.lines().get(i));
      if (code.isEmpty() || code.equals("...") || code.startsWith("/*") || code.startsWith("*")) {
        continue; // comments are not compared
      }
      StringBuilder regex = new StringBuilder("\\Q ");
      regex.append(code.replace("...", "\\E.*?\\Q"));
      regex.append(" \\E");
      Pattern p = Pattern.compile(regex.toString().replace("\\Q\\E", ""));
      if (texts.stream().noneMatch(t -> p.matcher(t).find())) {
        missing.add(i);
      }
    }
    return missing;
  }
}
