package dev.kiln.processor;

import com.google.auto.service.AutoService;
import com.sun.source.util.Trees;
import dev.kiln.processor.check.ShapeChecker;
import dev.kiln.processor.gen.Generator;
import dev.kiln.processor.read.DeclarationReader;
import dev.kiln.processor.read.JavacBugs;
import dev.kiln.processor.read.JavacErrors;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import javax.annotation.processing.AbstractProcessor;
import javax.annotation.processing.Processor;
import javax.annotation.processing.RoundEnvironment;
import javax.annotation.processing.SupportedAnnotationTypes;
import javax.lang.model.SourceVersion;
import javax.lang.model.element.Element;
import javax.lang.model.element.ElementKind;
import javax.lang.model.element.TypeElement;
import javax.tools.Diagnostic;

/**
 * Compiles {@code @Model} declarations: read (javac trees to IR), check (shapes through the dsl's
 * rules), generate ({@code Kiln<Name>} with JavaPoet). Errors go to javac's diagnostics, all of a
 * model's at once; no exception ever reaches javac.
 */
@AutoService(Processor.class)
@SupportedAnnotationTypes("dev.kiln.dsl.Model")
public final class ModelProcessor extends AbstractProcessor {
  @Override
  public SourceVersion getSupportedSourceVersion() {
    return SourceVersion.latestSupported();
  }

  @Override
  public boolean process(Set<? extends TypeElement> annotations, RoundEnvironment round) {
    TypeElement model = processingEnv.getElementUtils().getTypeElement("dev.kiln.dsl.Model");
    if (model == null) {
      return false;
    }
    Trees trees;
    try {
      trees = Trees.instance(processingEnv);
    } catch (IllegalArgumentException e) {
      processingEnv.getMessager().printMessage(Diagnostic.Kind.ERROR,
          "Kiln's processor needs javac (the Tree API); this compiler is not supported: " + e.getMessage());
      return false;
    }
    Diagnostics diagnostics = new Diagnostics(trees, processingEnv.getMessager());
    Set<Element> models = new LinkedHashSet<>(round.getElementsAnnotatedWith(model));
    for (String key : List.copyOf(deferred)) {
      Element again = lookUp(key, model);
      if (again != null) {
        models.add(again);
      }
    }
    deferred.clear();
    for (Element element : models) {
      noteJavacBugs(element, trees);
      diagnostics.hold();
      int before = diagnostics.count();
      try {
        new DeclarationReader(trees, processingEnv.getElementUtils(), processingEnv.getTypeUtils(), diagnostics)
            .read(element)
            .flatMap(ir -> new ShapeChecker(diagnostics).check(ir, diagnostics.count() > before))
            .filter(checked -> diagnostics.count() == before)
            .ifPresent(checked -> {
              write(Generator.generate(checked, ModelProcessor.class.getName()), element, diagnostics);
              generated.add(key(element));
            });
      } catch (RuntimeException e) {
        StringWriter trace = new StringWriter();
        e.printStackTrace(new PrintWriter(trace));
        diagnostics.error(element, Message.INTERNAL_ERROR, trace);
      }
      // javac's own errors in the model (a type mismatch, a missing return) say more than ours about
      // the same lines, and javac drops them once a processor has reported an error. A name javac
      // cannot resolve yet may be a class a processor writes in this round (KilnOther, say): such a
      // model is read again in the next round, and its messages dropped only in the last one
      boolean javacSpeaks = diagnostics.holding() && javacReports(element, trees);
      // nothing said (not even advice on javac's error) and nothing written: a name not resolved yet
      boolean silent = diagnostics.count() == before && !generated.contains(key(element));
      if ((javacSpeaks || silent) && !round.processingOver()) {
        deferred.add(key(element));
      }
      diagnostics.release(javacSpeaks);
    }
    return false; // leave @Model visible to other processors

  }

  /**
   * Models to read again in the next round: their messages were dropped because javac may report
   * errors in them, or they were left without a message or a class because a name in them did not
   * resolve (a constant of a class another processor writes in this round, say).
   */
  private final Set<String> deferred = new LinkedHashSet<>();

  /** Models whose class was written. */
  private final Set<String> generated = new LinkedHashSet<>();

  /** A model's name that outlives its round's elements: its class, or its factory method's class and name. */
  private static String key(Element element) {
    return element instanceof TypeElement type
        ? type.getQualifiedName().toString()
        : ((TypeElement) element.getEnclosingElement()).getQualifiedName() + "#" + element.getSimpleName();
  }

  /** The element {@link #key} names in this round, or null when it is gone. */
  private Element lookUp(String key, TypeElement model) {
    int hash = key.indexOf('#');
    TypeElement type = processingEnv.getElementUtils().getTypeElement(hash < 0 ? key : key.substring(0, hash));
    if (type == null || hash < 0) {
      return type;
    }
    String method = key.substring(hash + 1);
    for (Element member : type.getEnclosedElements()) {
      if (member.getKind() == ElementKind.METHOD && member.getSimpleName().contentEquals(method)
          && member.getAnnotationMirrors().stream().anyMatch(m -> m.getAnnotationType().asElement().equals(model))) {
        return member;
      }
    }
    return null;
  }

  /** Constructs already explained by a note, by file and position. */
  private final Set<String> noted = new LinkedHashSet<>();

  /**
   * A note beside each construct javac will wrongly reject because this processor has it attribute
   * the class ({@link JavacBugs}), so that the error javac prints next is explained.
   */
  private void noteJavacBugs(Element element, Trees trees) {
    try {
      for (JavacBugs.Found f : JavacBugs.in(element, trees)) {
        if (noted.add(f.unit().getSourceFile().toUri() + "@" + trees.getSourcePositions().getStartPosition(f.unit(), f.tree()))) {
          trees.printMessage(Diagnostic.Kind.NOTE, "Kiln: " + f.note(), f.tree(), f.unit());
        }
      }
    } catch (RuntimeException e) {
      // a note only: never let it stop the model being read
    }
  }

  /** {@link JavacErrors#in}, false should the tree API fail on some construct (our messages then stay). */
  private boolean javacReports(Element element, Trees trees) {
    try {
      return JavacErrors.in(element, trees, processingEnv.getTypeUtils());
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** Generated class names so far, with the declaration each came from. */
  private final java.util.Map<String, Element> written = new java.util.HashMap<>();

  private static String describe(Element element) {
    return element.getKind() == javax.lang.model.element.ElementKind.METHOD
        ? element.getEnclosingElement().getSimpleName() + "." + element.getSimpleName() + "()"
        : element.getSimpleName().toString();
  }

  private void write(com.palantir.javapoet.JavaFile file, Element element, Diagnostics diagnostics) {
    String name = file.packageName().isEmpty() ? file.typeSpec().name() : file.packageName() + "." + file.typeSpec().name();
    Element first = written.putIfAbsent(name, element);
    if (first != null) { // two factory methods net() in one package, say
      diagnostics.error(element, Message.GENERATED_NAME_TAKEN, describe(element), name, describe(first));
      return;
    }
    try {
      file.writeTo(processingEnv.getFiler());
    } catch (IOException e) {
      diagnostics.error(element, Message.INTERNAL_ERROR, "could not write " + file.packageName() + "." + file.typeSpec().name() + ": " + e);
    }
  }
}
