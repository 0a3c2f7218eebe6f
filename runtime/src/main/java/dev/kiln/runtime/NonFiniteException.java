package dev.kiln.runtime;

/**
 * A NaN or infinite value found by {@link Kiln#setDetectAnomaly anomaly detection}: a loss that
 * {@code backward()} started from, or a gradient an operation's backward returned. The message
 * names what held it, the first such value and where, and the backward call (the training step)
 * it happened in.
 */
public final class NonFiniteException extends ArithmeticException {
  private static final long serialVersionUID = 1L;

  private final long backwardCall;

  private NonFiniteException(String message, long backwardCall) {
    super(message);
    this.backwardCall = backwardCall;
  }

  /** Which backward call, counted from 1 since anomaly detection was turned on, found the value. */
  public long backwardCall() {
    return backwardCall;
  }

  /** Throws when {@code t} holds a NaN or an infinity; {@code what} names it in the message. */
  static void check(String what, Tensor t, long backwardCall) {
    float[] values = t.toFloatArray();
    for (int i = 0; i < values.length; i++) {
      if (!Float.isFinite(values[i])) {
        String where = values.length == 1 ? "" : " at flat index " + i + " of " + values.length;
        throw new NonFiniteException("backward(): " + what + " is " + values[i] + where + " (backward call "
            + backwardCall + " since anomaly detection was turned on; in a training loop, that step)", backwardCall);
      }
    }
  }
}
