package dev.kiln.dsl;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a network declaration for Kiln's annotation processor: a {@link Module} subclass, or a
 * static method returning a {@link Sequential}. The processor checks its shapes at compile time
 * and generates {@code Kiln<Name>} with fused forward and backward code. Without the processor
 * the declaration still runs in eager mode.
 */
@Retention(RetentionPolicy.RUNTIME) // so that the eager declaration's summary() knows its input shape too
@Target({ElementType.TYPE, ElementType.METHOD})
public @interface Model {
  /** One sample's shape, without the batch dimension, e.g. {@code {1, 28, 28}} or {@code {784}}. */
  int[] input();
}
