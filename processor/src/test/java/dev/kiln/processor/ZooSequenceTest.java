package dev.kiln.processor;

import com.google.testing.compile.Compilation;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ZooSequenceTest {
  @ParameterizedTest
  @ValueSource(strings = {"WordLstm", "WordGru", "WordRnnTanh", "MnistRnn", "CnnText", "TimeSequence", "TimeSequenceCells", "WordTransformer"})
  void probe(String name) {
    Compilation c = ProcessorTest.compile(ProcessorTest.model("zoo/" + name));
    System.out.println("=== " + name + " " + c.status());
    c.diagnostics().forEach(d -> System.out.println(d.getKind() + " line " + d.getLineNumber() + ": " + d.getMessage(null)));
  }
}
