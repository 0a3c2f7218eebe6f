package dev.kiln.runtime.io;

import dev.kiln.runtime.Tensor;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads the {@code data.pkl} of a PyTorch zip file as {@code torch.load(weights_only=True)} does:
 * a pickle interpreter that knows only the opcodes of protocol 2 (what {@code torch.save} writes)
 * and calls only the few functions a state dict needs. Any other global, {@code os.system} or a
 * user's class, is refused when it is named, before anything could call it; nothing of the file
 * is ever executed.
 *
 * <p>Values: dicts become insertion-ordered {@link Map}s, lists and tuples read-only {@link
 * List}s, {@code int} a {@link Long} (a {@link BigInteger} past 64 bits), {@code float} a {@link
 * Double}, {@code str} a {@link String}, {@code bool} a {@link Boolean}, {@code None} null, and a
 * tensor a Kiln {@link Tensor}, built by {@link Storages} from the persistent id that names its
 * storage.
 */
final class RestrictedUnpickler {
  /** Builds the tensors the pickle describes from the archive's storages. */
  interface Storages {
    /** The storage a persistent id {@code ('storage', type, key, location, numel)} names. */
    Object storage(List<Object> persistentId) throws Problem;

    /** {@code _rebuild_tensor_v2}'s tensor: {@code size} and {@code stride} over {@code storage} from {@code offset}. */
    Tensor tensor(Object storage, long offset, long[] size, long[] stride) throws Problem;
  }

  /** What is wrong with the pickle; the caller adds the file. */
  static final class Problem extends Exception {
    private static final long serialVersionUID = 1L;

    Problem(String message) {
      super(message);
    }
  }

  /** A global the pickle named, once allowed. */
  record Global(String module, String name) {
    @Override
    public String toString() {
      return module + "." + name;
    }
  }

  static final Global ORDERED_DICT = new Global("collections", "OrderedDict");
  static final Global REBUILD_TENSOR = new Global("torch._utils", "_rebuild_tensor_v2");
  static final Global REBUILD_PARAMETER = new Global("torch._utils", "_rebuild_parameter");
  static final Global REBUILD_PARAMETER_WITH_STATE = new Global("torch._utils", "_rebuild_parameter_with_state");
  static final Global TORCH_SIZE = new Global("torch", "Size");

  /** The storage classes a persistent id may name, as {@code torch.<name>}. */
  static final Set<String> STORAGE_TYPES = Set.of("FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage",
      "LongStorage", "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage");

  private static final Set<Global> CALLABLES = Set.of(ORDERED_DICT, REBUILD_TENSOR, REBUILD_PARAMETER,
      REBUILD_PARAMETER_WITH_STATE, TORCH_SIZE);

  /** The allow-list, for messages. */
  static final String ALLOWED = "collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
      + "torch._utils._rebuild_parameter, torch._utils._rebuild_parameter_with_state, torch.Size and the storage "
      + "types torch.FloatStorage, DoubleStorage, HalfStorage, BFloat16Storage, LongStorage, IntStorage, "
      + "ShortStorage, CharStorage, ByteStorage, BoolStorage";

  private static final Object MARK = new Object() {
    @Override
    public String toString() {
      return "MARK";
    }
  };

  private final byte[] in;
  private final Storages storages;
  private int pos;
  private int opStart;
  private final List<Object> stack = new ArrayList<>();
  private final List<Integer> marks = new ArrayList<>();
  private final Map<Long, Object> memo = new HashMap<>();

  private RestrictedUnpickler(byte[] in, Storages storages) {
    this.in = in;
    this.storages = storages;
  }

  /** The object {@code pickle} holds. */
  static Object load(byte[] pickle, Storages storages) throws Problem {
    return new RestrictedUnpickler(pickle, storages).run();
  }

  private Object run() throws Problem {
    while (true) {
      opStart = pos;
      int op = u8();
      switch (op) {
        case 0x80 -> { // PROTO
          int protocol = u8();
          if (protocol > 2) {
            throw fail("pickle protocol " + protocol + "; torch.save writes protocol 2, the one Kiln reads "
                + "(re-save with torch.save's default pickle_protocol)");
          }
        }
        case '.' -> { // STOP
          Object result = pop();
          if (!stack.isEmpty() || !marks.isEmpty()) {
            throw fail("STOP with " + stack.size() + " more values on the stack");
          }
          return result;
        }
        case '(' -> { // MARK
          marks.add(stack.size());
          stack.add(MARK);
        }
        case 'N' -> stack.add(null);
        case 0x88 -> stack.add(Boolean.TRUE); // NEWTRUE
        case 0x89 -> stack.add(Boolean.FALSE); // NEWFALSE
        case 'J' -> stack.add((long) i32()); // BININT
        case 'K' -> stack.add((long) u8()); // BININT1
        case 'M' -> stack.add((long) (u8() | (u8() << 8))); // BININT2
        case 0x8a -> stack.add(longBytes(u8())); // LONG1
        case 0x8b -> stack.add(longBytes(length(i32()))); // LONG4
        case 'G' -> stack.add(Double.longBitsToDouble(bytesBigEndian(8))); // BINFLOAT
        case 'X' -> stack.add(string(length(i32()), StandardCharsets.UTF_8)); // BINUNICODE
        case 'T' -> stack.add(string(length(i32()), StandardCharsets.ISO_8859_1)); // BINSTRING
        case 'U' -> stack.add(string(u8(), StandardCharsets.ISO_8859_1)); // SHORT_BINSTRING
        case ')' -> stack.add(Collections.emptyList()); // EMPTY_TUPLE
        case 0x85 -> stack.add(tuple(1)); // TUPLE1
        case 0x86 -> stack.add(tuple(2)); // TUPLE2
        case 0x87 -> stack.add(tuple(3)); // TUPLE3
        case 't' -> stack.add(Collections.unmodifiableList(new ArrayList<>(popMark()))); // TUPLE
        case ']' -> stack.add(new ArrayList<>()); // EMPTY_LIST
        case 'a' -> { // APPEND
          Object value = pop();
          list(peek()).add(value);
        }
        case 'e' -> { // APPENDS
          List<Object> values = popMark();
          list(peek()).addAll(values);
        }
        case '}' -> stack.add(new LinkedHashMap<>()); // EMPTY_DICT
        case 's' -> { // SETITEM
          Object value = pop();
          Object key = pop();
          put(dict(peek()), key, value);
        }
        case 'u' -> { // SETITEMS
          List<Object> items = popMark();
          if (items.size() % 2 != 0) {
            throw fail("SETITEMS with an odd number of values");
          }
          Map<Object, Object> dict = dict(peek());
          for (int i = 0; i < items.size(); i += 2) {
            put(dict, items.get(i), items.get(i + 1));
          }
        }
        case 'q' -> memo.put((long) u8(), peek()); // BINPUT
        case 'r' -> memo.put(i32() & 0xFFFFFFFFL, peek()); // LONG_BINPUT
        case 'h' -> stack.add(memoGet(u8())); // BINGET
        case 'j' -> stack.add(memoGet(i32() & 0xFFFFFFFFL)); // LONG_BINGET
        case 'c' -> stack.add(global(line(), line())); // GLOBAL
        case 'Q' -> { // BINPERSID
          List<Object> id = persistentId(pop());
          try {
            stack.add(storages.storage(id));
          } catch (Problem e) {
            throw fail(e.getMessage());
          }
        }
        case 'R' -> { // REDUCE
          Object args = pop();
          Object callable = pop();
          stack.add(reduce(callable, args));
        }
        case 'b' -> { // BUILD
          Object state = pop();
          if (!(peek() instanceof Map<?, ?>) || !(state instanceof Map<?, ?>)) {
            throw fail("BUILD of " + describe(peek()) + " with " + describe(state)
                + "; a state dict only sets attributes (_metadata) of its OrderedDict");
          }
          // The OrderedDict's attributes (a state dict's _metadata, module versions): not kept.
        }
        default -> throw fail(opcodeName(op) + " is not an opcode of a state dict pickle (protocol 2, as torch.save "
            + "writes it); Kiln's restricted unpickler does not read it");
      }
    }
  }

  // ---------------------------------------------------------------- globals and calls

  private Object global(String module, String name) throws Problem {
    Global g = new Global(module, name);
    if (CALLABLES.contains(g) || (module.equals("torch") && STORAGE_TYPES.contains(name))) {
      return g;
    }
    throw fail("not a state dict: the pickle refers to the global " + g + ", and Kiln's restricted unpickler refuses "
        + "to run arbitrary code (as torch.load(weights_only=True)); it allows only " + ALLOWED);
  }

  private Object reduce(Object callable, Object argsObject) throws Problem {
    if (!(callable instanceof Global g) || !CALLABLES.contains(g)) {
      throw fail("REDUCE calls " + describe(callable) + ", not one of the functions a state dict needs");
    }
    if (!(argsObject instanceof List<?> args)) {
      throw fail("REDUCE of " + g + " with " + describe(argsObject) + " instead of an argument tuple");
    }
    if (g.equals(ORDERED_DICT)) {
      arity(g, args, 0, 0);
      return new LinkedHashMap<>();
    }
    if (g.equals(TORCH_SIZE)) {
      arity(g, args, 1, 1);
      return Collections.unmodifiableList(new ArrayList<>(list(args.get(0), g + "'s argument")));
    }
    if (g.equals(REBUILD_PARAMETER) || g.equals(REBUILD_PARAMETER_WITH_STATE)) {
      // (data, requires_grad, backward_hooks[, state]): the tensor itself, as a state dict holds it
      arity(g, args, g.equals(REBUILD_PARAMETER) ? 3 : 4, g.equals(REBUILD_PARAMETER) ? 3 : 4);
      if (!(args.get(0) instanceof Tensor t)) {
        throw fail(g + " of " + describe(args.get(0)) + " instead of a tensor");
      }
      return t;
    }
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    arity(g, args, 6, 7);
    long offset = integer(args.get(1), "the storage offset");
    long[] size = integers(args.get(2), "the size");
    long[] stride = integers(args.get(3), "the stride");
    if (size.length != stride.length) {
      throw fail(g + " with size " + text(size) + " and stride " + text(stride) + " of different lengths");
    }
    try {
      return storages.tensor(args.get(0), offset, size, stride);
    } catch (Problem e) {
      throw fail(e.getMessage());
    }
  }

  private void arity(Global g, List<?> args, int min, int max) throws Problem {
    if (args.size() < min || args.size() > max) {
      throw fail(g + " with " + args.size() + " arguments, expected " + (min == max ? min : min + " to " + max));
    }
  }

  private List<Object> persistentId(Object pid) throws Problem {
    if (!(pid instanceof List<?> t) || t.size() != 5 || !"storage".equals(t.get(0))) {
      throw fail("persistent id " + describe(pid) + "; expected ('storage', type, key, location, numel)");
    }
    @SuppressWarnings("unchecked")
    List<Object> id = (List<Object>) t;
    return id;
  }

  private long integer(Object value, String what) throws Problem {
    if (!(value instanceof Long n) || n < 0) {
      throw fail(what + " is " + describe(value) + ", not a non-negative integer");
    }
    return n;
  }

  private long[] integers(Object value, String what) throws Problem {
    List<Object> items = list(value, what);
    long[] out = new long[items.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = integer(items.get(i), what + "[" + i + "]");
    }
    return out;
  }

  // ---------------------------------------------------------------- stack

  private Object pop() throws Problem {
    if (stack.isEmpty() || stack.get(stack.size() - 1) == MARK) {
      throw fail(stack.isEmpty() ? "the stack is empty" : "a MARK where a value was expected");
    }
    return stack.remove(stack.size() - 1);
  }

  private Object peek() throws Problem {
    if (stack.isEmpty()) {
      throw fail("the stack is empty");
    }
    return stack.get(stack.size() - 1);
  }

  /** The values above the last MARK, which is removed with them. */
  private List<Object> popMark() throws Problem {
    if (marks.isEmpty()) {
      throw fail("no MARK to collect values from");
    }
    int mark = marks.remove(marks.size() - 1);
    List<Object> top = stack.subList(mark + 1, stack.size());
    List<Object> values = new ArrayList<>(top);
    stack.subList(mark, stack.size()).clear();
    return values;
  }

  private List<Object> tuple(int n) throws Problem {
    Object[] items = new Object[n];
    for (int i = n - 1; i >= 0; i--) {
      items[i] = pop();
    }
    return Collections.unmodifiableList(java.util.Arrays.asList(items));
  }

  private Object memoGet(long index) throws Problem {
    if (!memo.containsKey(index)) {
      throw fail("memo entry " + index + " read before it was stored");
    }
    return memo.get(index);
  }

  private List<Object> list(Object value) throws Problem {
    if (!(value instanceof ArrayList<?>)) {
      throw fail("appends to " + describe(value) + ", not a list");
    }
    @SuppressWarnings("unchecked")
    List<Object> list = (List<Object>) value;
    return list;
  }

  private List<Object> list(Object value, String what) throws Problem {
    if (!(value instanceof List<?> l)) {
      throw fail(what + " is " + describe(value) + ", not a tuple");
    }
    @SuppressWarnings("unchecked")
    List<Object> list = (List<Object>) l;
    return list;
  }

  private Map<Object, Object> dict(Object value) throws Problem {
    if (!(value instanceof LinkedHashMap<?, ?>)) {
      throw fail("sets an item of " + describe(value) + ", not a dict");
    }
    @SuppressWarnings("unchecked")
    Map<Object, Object> dict = (Map<Object, Object>) value;
    return dict;
  }

  private void put(Map<Object, Object> dict, Object key, Object value) throws Problem {
    boolean hashable = isScalar(key) || (key instanceof List<?> tuple && !(key instanceof ArrayList<?>)
        && tuple.stream().allMatch(RestrictedUnpickler::isScalar));
    if (!hashable) { // Python refuses lists and dicts; deeper tuples would cost a recursive hash
      throw fail("a dict key that is " + describe(key) + "; Kiln reads keys that are strings, numbers, booleans, "
          + "None, or tuples of these");
    }
    dict.put(key, value);
  }

  private static boolean isScalar(Object value) {
    return value == null || value instanceof String || value instanceof Long || value instanceof BigInteger
        || value instanceof Double || value instanceof Boolean;
  }

  // ---------------------------------------------------------------- bytes

  private int u8() throws Problem {
    need(1);
    return in[pos++] & 0xFF;
  }

  private int i32() throws Problem {
    need(4);
    int v = (in[pos] & 0xFF) | (in[pos + 1] & 0xFF) << 8 | (in[pos + 2] & 0xFF) << 16 | (in[pos + 3] & 0xFF) << 24;
    pos += 4;
    return v;
  }

  private long bytesBigEndian(int n) throws Problem {
    need(n);
    long v = 0;
    for (int i = 0; i < n; i++) {
      v = (v << 8) | (in[pos++] & 0xFF);
    }
    return v;
  }

  /** A length read from the pickle: non-negative, and what remains must hold it. */
  private int length(int n) throws Problem {
    if (n < 0) {
      throw fail("a negative length " + n);
    }
    return n;
  }

  /** A little-endian two's complement integer of {@code n} bytes. */
  private Object longBytes(int n) throws Problem {
    need(n);
    byte[] bigEndian = new byte[Math.max(n, 1)];
    for (int i = 0; i < n; i++) {
      bigEndian[n - 1 - i] = in[pos + i];
    }
    pos += n;
    BigInteger v = n == 0 ? BigInteger.ZERO : new BigInteger(bigEndian);
    return v.bitLength() < 64 ? (Object) v.longValue() : v;
  }

  private String string(int n, java.nio.charset.Charset charset) throws Problem {
    need(n);
    String s = new String(in, pos, n, charset);
    pos += n;
    return s;
  }

  /** A newline-terminated ASCII line (GLOBAL's module and name). */
  private String line() throws Problem {
    int start = pos;
    while (pos < in.length && in[pos] != '\n') {
      if (pos - start > 256) {
        throw fail("a GLOBAL name longer than 256 bytes");
      }
      pos++;
    }
    need(1);
    return new String(in, start, pos++ - start, StandardCharsets.ISO_8859_1);
  }

  private void need(int n) throws Problem {
    if (n > in.length - pos) {
      throw fail("truncated: the pickle ends at byte " + in.length + " where " + n + " more bytes were expected");
    }
  }

  // ---------------------------------------------------------------- messages

  private Problem fail(String problem) {
    return new Problem("data.pkl, opcode at offset " + opStart + ": " + problem);
  }

  private static String opcodeName(int op) {
    String printable = op >= 0x20 && op < 0x7f ? " '" + (char) op + "'" : "";
    return String.format("opcode 0x%02x%s", op, printable);
  }

  static String describe(Object value) {
    if (value == null) {
      return "None";
    }
    if (value == MARK) {
      return "a MARK";
    }
    if (value instanceof Global g) {
      return g.toString();
    }
    if (value instanceof String s) {
      return "'" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "'";
    }
    if (value instanceof Map<?, ?>) {
      return "a dict";
    }
    if (value instanceof ArrayList<?>) {
      return "a list";
    }
    if (value instanceof List<?> l) {
      return "a tuple of " + l.size();
    }
    if (value instanceof Tensor) {
      return "a tensor";
    }
    return value.toString();
  }

  static String text(long[] values) {
    StringBuilder sb = new StringBuilder("(");
    for (int i = 0; i < values.length; i++) {
      sb.append(i == 0 ? "" : ", ").append(values[i]);
    }
    return sb.append(values.length == 1 ? ",)" : ")").toString();
  }
}
