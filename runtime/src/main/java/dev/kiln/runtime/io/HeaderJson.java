package dev.kiln.runtime.io;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A parser for the JSON a safetensors header needs and nothing more: objects (keys unique, order
 * kept), arrays, strings (every JSON escape, UTF-8 checked) and integers that fit a {@code long}.
 * Fractions, exponents, {@code true}, {@code false} and {@code null} are rejected, and so is
 * anything after the top-level object except whitespace (the format pads the header with spaces).
 *
 * <p>Values come back as {@code LinkedHashMap<String, Object>}, {@code List<Object>},
 * {@code String} and {@code Long}. Errors carry the byte offset in the parsed text.
 */
final class HeaderJson {
  /** A syntax error at a byte offset of the parsed text. */
  static final class SyntaxException extends Exception {
    private static final long serialVersionUID = 1L;

    /** Where in the parsed bytes the problem is. */
    final int offset;

    SyntaxException(int offset, String message) {
      super(message);
      this.offset = offset;
    }
  }

  /** Deeper than any header needs (3), shallow enough that no input exhausts the stack. */
  private static final int MAX_DEPTH = 32;

  private final byte[] text;
  private int pos;

  private HeaderJson(byte[] text) {
    this.text = text;
  }

  /** Parses {@code text}, which must hold one JSON object and optional whitespace. */
  static Map<String, Object> parseObject(byte[] text) throws SyntaxException {
    HeaderJson p = new HeaderJson(text);
    p.skipWhitespace();
    if (p.peek() != '{') {
      throw p.error("expected '{' at the start of the header, found " + p.describeNext());
    }
    Map<String, Object> root = p.object(1);
    p.skipWhitespace();
    if (p.pos < text.length) {
      throw p.error("unexpected " + p.describeNext() + " after the header object");
    }
    return root;
  }

  private Object value(int depth) throws SyntaxException {
    skipWhitespace();
    int c = peek();
    if (c == '{') {
      return object(depth + 1);
    } else if (c == '[') {
      return array(depth + 1);
    } else if (c == '"') {
      return string();
    } else if (c == '-' || isDigit(c)) {
      return integer();
    }
    throw error("unexpected " + describeNext() + " (a safetensors header holds only objects, arrays, strings and integers)");
  }

  private Map<String, Object> object(int depth) throws SyntaxException {
    checkDepth(depth);
    pos++; // '{'
    Map<String, Object> out = new LinkedHashMap<>();
    skipWhitespace();
    if (peek() == '}') {
      pos++;
      return out;
    }
    while (true) {
      skipWhitespace();
      int keyOffset = pos;
      if (peek() != '"') {
        throw error("expected a string key, found " + describeNext());
      }
      String key = string();
      if (out.containsKey(key)) {
        throw new SyntaxException(keyOffset, "duplicate key \"" + key + "\"");
      }
      skipWhitespace();
      expect(':');
      out.put(key, value(depth));
      if (endOfList('}')) {
        return out;
      }
    }
  }

  private List<Object> array(int depth) throws SyntaxException {
    checkDepth(depth);
    pos++; // '['
    List<Object> out = new ArrayList<>();
    skipWhitespace();
    if (peek() == ']') {
      pos++;
      return out;
    }
    do {
      out.add(value(depth));
    } while (!endOfList(']'));
    return out;
  }

  /** After a member: consumes ',' (false, more follow) or {@code close} (true). */
  private boolean endOfList(char close) throws SyntaxException {
    skipWhitespace();
    int c = peek();
    if (c == ',' || c == close) {
      pos++;
      return c == close;
    }
    throw error("expected ',' or '" + close + "', found " + describeNext());
  }

  private String string() throws SyntaxException {
    int start = pos++; // the opening quote
    StringBuilder sb = new StringBuilder();
    int run = pos;
    while (true) {
      if (pos >= text.length) {
        throw new SyntaxException(start, "unterminated string");
      }
      int c = text[pos] & 0xFF;
      if (c != '"' && c != '\\' && c >= 0x20) {
        pos++;
        continue;
      }
      appendUtf8(sb, run, pos);
      if (c == '"') {
        pos++;
        return sb.toString();
      }
      if (c != '\\') {
        throw error(String.format("control character 0x%02X in a string (it must be escaped)", c));
      }
      escape(sb);
      run = pos;
    }
  }

  /** Decodes {@code text[from, to)} as strict UTF-8 onto {@code sb}. */
  private void appendUtf8(StringBuilder sb, int from, int to) throws SyntaxException {
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder(); // reports malformed input
    ByteBuffer in = ByteBuffer.wrap(text, from, to - from);
    CharBuffer out = CharBuffer.allocate(to - from);
    CoderResult result = decoder.decode(in, out, true);
    if (result.isError()) {
      throw new SyntaxException(in.position(), "invalid UTF-8 in a string");
    }
    sb.append(out.flip());
  }

  /** Reads the escape at {@code pos} (a backslash) onto {@code sb}. */
  private void escape(StringBuilder sb) throws SyntaxException {
    int at = pos++;
    int c = peek();
    pos++;
    switch (c) {
      case '"', '\\', '/' -> sb.append((char) c);
      case 'b' -> sb.append('\b');
      case 'f' -> sb.append('\f');
      case 'n' -> sb.append('\n');
      case 'r' -> sb.append('\r');
      case 't' -> sb.append('\t');
      case 'u' -> {
        char ch = hex4(at);
        if (Character.isHighSurrogate(ch) && peek() == '\\' && peekAt(pos + 1) == 'u') {
          pos += 2;
          char low = hex4(at);
          if (!Character.isLowSurrogate(low)) {
            throw new SyntaxException(at, "\\u escape of a high surrogate not followed by a low surrogate");
          }
          sb.append(ch).append(low);
        } else if (Character.isSurrogate(ch)) {
          throw new SyntaxException(at, "unpaired surrogate in a \\u escape");
        } else {
          sb.append(ch);
        }
      }
      case -1 -> throw new SyntaxException(at, "unterminated string (the header ends in an escape)");
      default -> throw new SyntaxException(at, "invalid escape '\\' followed by " + printable(c));
    }
  }

  private char hex4(int escapeOffset) throws SyntaxException {
    int v = 0;
    for (int i = 0; i < 4; i++) {
      int d = Character.digit(peek(), 16);
      if (d < 0) {
        throw new SyntaxException(escapeOffset, "a \\u escape needs four hex digits");
      }
      v = v * 16 + d;
      pos++;
    }
    return (char) v;
  }

  private Long integer() throws SyntaxException {
    int start = pos;
    boolean negative = peek() == '-';
    if (negative) {
      pos++;
    }
    if (!isDigit(peek())) {
      throw error("expected a digit, found " + describeNext());
    }
    if (peek() == '0' && isDigit(peekAt(pos + 1))) {
      throw new SyntaxException(start, "integer with a leading zero");
    }
    long v = 0;
    while (isDigit(peek())) {
      int d = peek() - '0';
      if (v > (Long.MAX_VALUE - d) / 10) {
        throw new SyntaxException(start, "integer out of range");
      }
      v = v * 10 + d;
      pos++;
    }
    int c = peek();
    if (c == '.' || c == 'e' || c == 'E') {
      throw new SyntaxException(start, "number with a fraction or exponent (only integers are allowed)");
    }
    return negative ? -v : v;
  }

  private void checkDepth(int depth) throws SyntaxException {
    if (depth > MAX_DEPTH) {
      throw error("nested deeper than " + MAX_DEPTH + " levels");
    }
  }

  private void expect(char c) throws SyntaxException {
    if (peek() != c) {
      throw error("expected '" + c + "', found " + describeNext());
    }
    pos++;
  }

  private void skipWhitespace() {
    for (int c = peek(); c == ' ' || c == '\t' || c == '\n' || c == '\r'; c = peek()) {
      pos++;
    }
  }

  /** The byte at {@code pos}, or -1 at the end. */
  private int peek() {
    return peekAt(pos);
  }

  private int peekAt(int i) {
    return i < text.length ? text[i] & 0xFF : -1;
  }

  private static boolean isDigit(int c) {
    return c >= '0' && c <= '9';
  }

  private String describeNext() {
    int c = peek();
    return c < 0 ? "the end of the header" : printable(c);
  }

  private static String printable(int c) {
    return c >= 0x20 && c < 0x7F ? "'" + (char) c + "'" : String.format("byte 0x%02X", c);
  }

  private SyntaxException error(String message) {
    return new SyntaxException(pos, message);
  }
}
