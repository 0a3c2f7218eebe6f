package dev.kiln.processor;

import com.google.auto.service.AutoService;
import com.sun.source.util.Trees;
import dev.kiln.processor.check.ShapeChecker;
import dev.kiln.processor.gen.Generator;
import dev.kiln.processor.read.DeclarationReader;
import dev.kiln.processor.read.JavacErrors;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Set;
import javax.annotation.processing.AbstractProcessor;
import javax.annotation.processing.Processor;
import javax.annotation.processing.RoundEnvironment;
import javax.annotation.processing.SupportedAnnotationTypes;
import javax.lang.model.SourceVersion;
import javax.lang.model.element.Element;
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
    for (Element element : round.getElementsAnnotatedWith(model)) {
      diagnostics.hold();
      try {
        int before = diagnostics.count();
        new DeclarationReader(trees, processingEnv.getElementUtils(), processingEnv.getTypeUtils(), diagnostics)
            .read(element)
            .flatMap(ir -> new ShapeChecker(diagnostics).check(ir, diagnostics.count() > before))
            .filter(checked -> diagnostics.count() == before)
            .ifPresent(checked -> write(Generator.generate(checked, ModelProcessor.class.getName()), element, diagnostics));
      } catch (RuntimeException e) {
        StringWriter trace = new StringWriter();
        e.printStackTrace(new PrintWriter(trace));
        diagnostics.error(element, Message.INTERNAL_ERROR, trace);
      }
      // javac's own errors in the model (a type mismatch, a missing return) say more than ours about
      // the same lines, and javac drops them once a processor has reported an error
      diagnostics.release(diagnostics.holding() && javacReports(element, trees));
    }
    return false; // leave @Model visible to other processors

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
