package dev.kiln.runtime.data;

import java.util.LinkedHashMap;
import java.util.Map;

/** Sets system properties for a test and restores the previous values on close. */
final class SystemProperties implements AutoCloseable {
  private final Map<String, String> previous = new LinkedHashMap<>();

  private SystemProperties() {}

  /** Sets each key to the value after it: {@code set("kiln.data", dir, "kiln.home", home)}. */
  static SystemProperties set(Object... keysAndValues) {
    var p = new SystemProperties();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      String key = keysAndValues[i].toString();
      p.previous.put(key, System.getProperty(key));
      System.setProperty(key, keysAndValues[i + 1].toString());
    }
    return p;
  }

  @Override
  public void close() {
    previous.forEach((key, value) -> {
      if (value == null) {
        System.clearProperty(key);
      } else {
        System.setProperty(key, value);
      }
    });
  }
}
