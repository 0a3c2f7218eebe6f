package dev.kiln.processor;

/**
 * Every diagnostic the processor reports, one sentence each saying what is wrong and what to
 * write instead. Tests match on these texts.
 */
public enum Message {
  NOT_A_MODULE("@Model class %s must extend dev.kiln.dsl.Module"),
  AMBIGUOUS_MODULE("@Model class %s: 'extends Module' is ambiguous between dev.kiln.dsl.Module and java.lang.Module when"
      + " dev.kiln.dsl.* is imported; add import dev.kiln.dsl.Module;"),
  FINAL_CLASS("@Model class %s must not be final: Kiln generates %s as its subclass"),
  FINAL_FORWARD("forward of @Model class %s must not be final: the generated %s overrides it with the compiled code"),
  PRIVATE_CLASS("@Model class %s must not be private: the generated %s extends it"),
  CHECKED_CONSTRUCTOR("@Model class %s: the constructor without parameters declares 'throws %s', which %s's constructor"
      + " cannot declare or handle; catch it there, or throw an unchecked exception"),
  ABSTRACT_METHOD("@Model class %s leaves %s() abstract: %s, its generated subclass, must be a class that can be created;"
      + " implement it"),
  NO_DEFAULT_CONSTRUCTOR("@Model class %s needs a constructor without parameters that %s can call"),
  INNER_CLASS("@Model class %s must be top-level or static: the generated class cannot create an inner class"),
  BAD_FACTORY("@Model method %s must be static, take no parameters and return dev.kiln.dsl.Sequential"),
  BAD_INPUT_SHAPE("@Model(input = %s) must list one sample's dimensions, each at least 1"),
  INPUT_TOO_LARGE("@Model(input = %s): one sample would hold more than 2^31-1 values, more than a tensor holds"),
  NO_FORWARD("@Model class %s must implement Tensor forward(Tensor x)"),
  SEVERAL_INPUTS("@Model class %s: forward takes one input tensor (Module's contract), not %d; declare the further"
      + " inputs with their sample shapes in a method of its own, 'public Tensor forwardMasked(Tensor x, @Input({16}) Tensor"
      + " mask)', which the compiled class overrides, or leave out @Model and the model runs eagerly, as written"),
  BAD_INPUTS_METHOD("%s takes further inputs (@Input), so it must be an instance method returning one Tensor (or a record"
      + " of Tensors, Tensor[]) that the"
      + " generated class can override (not static, private or final), its first parameter the @Model input:"
      + " write 'public Tensor %s(Tensor x, @Input({...}) Tensor %s)'"),
  TWO_INPUTS_METHODS("%s: a @Model class may declare one method of several inputs besides forward, and %s is one already;"
      + " keep one (a further input one call does not use may stay out of that call's method)"),
  MISSING_INPUT("parameter %s of %s is a further input, so it needs one sample's shape: write '@Input({...}) Tensor %s'"
      + " (the sizes after the batch dimension, which every input shares)"),
  FIRST_INPUT_ANNOTATED("parameter %s of %s is its first, the tensor @Model(input = ...) describes; drop its @Input (further"
      + " inputs follow it, each with its own @Input)"),
  NON_TENSOR_INPUT("parameter %s of %s is a %s; a method of several inputs takes Tensors only, each further one with"
      + " @Input({...}) giving one sample's shape (write constants as static final fields)"),
  BAD_FURTHER_INPUT_SHAPE("@Input(%s) of %s must list one sample's dimensions (without the batch), each at least 1, at"
      + " most 2^31-1 values in all: @Input({16}) for a padding mask [N, 16], @Input({1}) for one value per sample [N, 1];"
      + " @Input({}) is ids [N] that an Embedding looks up"),
  UNUSED_INPUT("the input %s of %s is never used: use it in the method's body, or drop the parameter"),
  MASK_INPUT_SHAPE("%s: the mask %s from %s does not repeat over %s from %s: %s; a compiled mask of an input or of activations has the value's rank,"
      + " the batch first, and sizes of 1 along one run of the value's dimensions, as PyTorch broadcasts mask[:, None, None, :]"
      + " over attention scores [N, H, S, S] (write mask.reshape(-1, 1, 1, S))"),
  RETURNS_FURTHER_INPUT("%s returns its input %s as it is (or reshaped); return a value computed from the inputs"),
  PRIVATE_LAYER("layer field %s must not be private: the generated subclass reads it"),
  NO_INITIALIZER("layer field %s is given no layer the compiler can read: declare it as 'final %s %s = new %s(...);' or"
      + " assign it once in the constructor without parameters ('%s = new %s(...);')"),
  DELEGATED_CONSTRUCTOR("%s field %s is not assigned in the constructor without parameters, which delegates with %s:"
      + " the compiler reads layers from their initializers and that constructor, whose values it knows; layer sizes"
      + " cannot come from constructor parameters: use static final constants"),
  CONSTRUCTOR_ASSIGNMENT("%s field %s is assigned %s in the constructor: assign it once, as a statement of its own in"
      + " the constructor without parameters, or where it is declared"),
  NON_FINAL_LAYER("layer field %s must be final so that the compiled plan stays valid"),
  UNKNOWN_LAYER("%s: layer type %s is not supported by the Kiln compiler; supported: %s (leave out @Model and the model runs"
      + " eagerly, as written, with every layer)"),
  NON_CONSTANT_ARGUMENT("%s: argument '%s' of %s is not a compile-time constant; use literals, arithmetic, casts, ?:, static final"
      + " constants, Math.sqrt, pow, max, min, abs and round of constants, static methods of this compilation made of locals and"
      + " one return, and final locals with a constant value (final int dim = 1;)"),
  NON_CONSTANT_HELPER("%s: argument '%s' of %s is not a compile-time constant: %s"),
  PARAMETER_SIZE_UNKNOWN("%s: a size of a parameter of %s (%s) that the compiled model does not know; write the size as a"
      + " constant"),
  PARAMETER_ABSENT("%s: %s (%s) has no such parameter (built without it, its accessor returns null); write the size as a"
      + " constant"),
  SIZE_OF_SIDE_EFFECT("%s: its size is read without its value, but computing it runs %s, which %s in eager mode; the compiled"
      + " model computes no value for a size: read the size of a value held in a local, or of the value before that step"),
  SIZE_DIMENSION("%s: dimension %d is out of range for %s, of shape %s (%d dimensions: %d..%d)"),
  BATCH_SIZE_CONSTANT("%s: %s is the batch size, which a compiled model takes from each call (it varies from call to call),"
      + " not a constant; a view or reshape takes it as its first size (x.view(B, T, C), the batch kept), zeros of a"
      + " recurrent layer's initial states as theirs (Tensor.zeros(L, B, H)); elsewhere read a size after the batch"
      + " (x.size(1), x.shape()[1]) or write a constant"),
  NON_TENSOR_LOCAL("%s: a local of %s is a Tensor, or a constant that layer and F arguments may use (final int %s = ...;)"),
  BAD_LAYER_ARGUMENTS("%s: %s"),
  ATTENTION_NOT_COMPILED("%s"),
  ATTENTION_ENCODER_LAYER("%s: %s's layer %s must be written in place, new %s(...) with"
      + " constant arguments, for a compiled model to read it (PyTorch's stack copies it anyway)"),
  UNSUPPORTED_STATEMENT("unsupported statement in %s: %s; write local assignments (Tensor h = fc1.apply(x);) and one return"),
  LAYER_IN_FORWARD("%s creates a layer (%s) on each call: declare it as a final field (final %s name = ...;) and apply it there"),
  UNSUPPORTED_EXPRESSION("unsupported expression in %s: %s; write layer calls (fc1.apply(x)), F functions (relu, flatten) and local variables"),
  EAGER_ONLY_TENSOR_METHOD("%s: Tensor.%s has no compiled form yet (%s): it runs in eager mode only (docs/guide.md, \"What does"
      + " not compile yet\"); leave out @Model and the model runs eagerly, as written"),
  RANDOM_IN_FORWARD("%s: Tensor.%s draws random values of a shape written out, which a compiled forward does not draw (%s);"
      + " draw them of a value's shape, Tensor.randnLike(mu) or Tensor.randLike(mu) for a value mu of the shape wanted (the batch's"
      + " included), or pass them in as a further input (@Input), or leave out @Model and the model runs eagerly, as written"),
  EXPAND_FIELD_BATCH("%s: %s expands the tensor field %s, whose first size must be the batch size (x.size(0), or a local"
      + " holding it: int b = x.size(0)), as ViT's cls_token.expand(b, -1, -1); a compiled forward repeats a field over the"
      + " batch, the other sizes constants (-1 keeps one)"),
  EXPAND_VALUE("%s: Tensor.expand of a value of the batch (%s) has no compiled form yet: x.repeat(1, counts...) tiles one"
      + " (docs/guide.md, \"What does not compile yet\"); a tensor field of the model expands over the batch"
      + " (cls.expand(b, -1, -1)); or leave out @Model and the model runs eagerly, as written"),
  UNKNOWN_VALUE("'%s' is not the input or a local assigned earlier in %s"),
  SELF_CALL("%s: the compiler reads the layer calls %s makes itself, not another forward's (a superclass's, or"
      + " this one again); write the layers out here"),
  STATIC_LAYER("'%s' is a static layer field: a layer's parameters belong to each model instance (PyTorch registers"
      + " attributes of self); drop static"),
  LOCAL_LAYER("'%s' is a local variable holding a layer: apply the layer field itself (fc.apply(x)); the compiler follows"
      + " layer fields, not locals that refer to them"),
  PRIVATE_TENSOR("tensor field %s must not be private: the generated subclass reads it"),
  NON_FINAL_TENSOR("tensor field %s must be final so that the compiled plan stays valid"),
  TENSOR_NO_INITIALIZER("tensor field %s is given no tensor the compiler can read: create it where it is declared, or assign"
      + " it once in the constructor without parameters ('%s = registerParameter(\"%s\", Tensor.zeros(1, S, D).requiresGrad(true));',"
      + " 'registerBuffer(\"%s\", Tensor.ones(S, S).tril())')"),
  TENSOR_SHAPE_UNKNOWN("tensor field %s: the compiler needs its shape at build time and cannot read it from %s; create it"
      + " with constant sizes (Tensor.zeros(1, S, D), Tensor.randn(S, D).mul(0.02), Tensor.ones(S, S).tril(), with"
      + " requiresGrad, view and Init calls) inside registerParameter or registerBuffer, and set its values in the"
      + " constructor afterwards (Init.normal(%s, 0, 0.02), %s.copyFrom(...))"),
  TENSOR_BAD_SIZES("tensor field %s: %s"),
  TENSOR_UNREGISTERED("tensor field %s is neither a parameter nor a buffer, so the state dict and to(device) would not see"
      + " it: create it inside registerParameter(\"%s\", ...requiresGrad(true)) (or end it with requiresGrad(true)) for a"
      + " trained tensor, or inside registerBuffer(\"%s\", ...) for a constant such as a mask"),
  TENSOR_MISUSE("%s: %s is %s; a compiled forward adds a tensor field to a value, subtracts it, or multiplies or divides"
      + " by it (x.add(pos), x.mul(scale)), multiplies a value by it as a matrix (x.matmul(w)) and fills a value where a buffer"
      + " masks it (x.maskedFill(mask.eq(0), value)) or takes it as a or b of a where (Tensor.where(h.gt(0), h, fill)), but"
      + " takes no tensor field as the input of other steps (a where's mask compares one: mask.gt(0)), nor returns one"),
  FIELD_ADD_SHAPES("%s: %s of %s from %s and %s: a tensor field repeats over the batch and the value's leading dimensions,"
      + " so its sizes after any leading 1s are the value's last ones, all of %s or the last few (a position table [S, D] or"
      + " [1, S, D], a bias [D], over [N, S, D])"),
  MASK_NOT_BUFFER("%s: the mask must be a buffer of the model, as it is or compared with a constant (mask.eq(0)), with"
      + " mask created by registerBuffer(\"mask\", Tensor.ones(S, S).tril()), or a further input of a method of several"
      + " inputs (@Input); %s is not"),
  LAYER_AS_VALUE("'%s' is a layer field used as a value in %s: apply it (%s.apply(x)); locals hold tensors, not layers"),
  NOT_A_LAYER("'%s' is not a layer field of %s given a layer where it is declared or in the constructor"),
  INHERITED_TENSOR("'%s' is a tensor field inherited from %s: the compiler reads the tensor fields the @Model class %s declares itself"),
  HIDDEN_TENSOR("'%s' of %s has the name of the tensor field '%s' of %s, which forward reads too (one hides the other):"
      + " eager mode keeps one name per tensor in the state dict, so give them names of their own"),
  INHERITED_LAYER("'%s' is a layer field inherited from %s: the compiler reads the layers the @Model class %s declares itself"),
  ANONYMOUS_LAYER("%s: an anonymous subclass of %s cannot be compiled (its overrides would be lost); use the layer class itself"),
  UNSUPPORTED_FUNCTION("%s"),
  FUNCTIONAL_TENSOR("%s: %s takes its %s from a tensor field of the model (a parameter, final Tensor %s ="
      + " registerParameter(\"%s\", %s.requiresGrad(true)), or a buffer)%s; %s is not one: declare it so, or declare a %s"
      + " field and apply it"),
  FUNCTIONAL_SHAPES("%s: %s"),
  NO_RETURN("forward must end with 'return <tensor>;'"),
  NO_OUTPUTS_RETURN("%s must end with 'return %s;', each output a local or a layer call"),
  BAD_OUTPUTS_METHOD("%s returns several outputs, so it must be an instance method taking one Tensor that the generated class can override (not static, private or final): write '%s %s(Tensor x)'"),
  TWO_OUTPUTS_METHODS("%s: a @Model class may declare one method returning several outputs besides forward, and %s is one already; keep one"),
  NON_TENSOR_COMPONENT("record component %s of %s has type %s, not Tensor: a method returning several outputs returns a record of Tensors"),
  PRIVATE_OUTPUTS_RECORD("record %s must not be private: the generated %s returns it"),
  BAD_OUTPUT_INDEX("index %d is out of range: %s returns %d outputs (0..%d)"),
  FORWARD_CALLS_OUTPUTS("forward may use %s only as its whole body: write 'return %s;' or compute the result with layer calls"),
  SHAPE_MISMATCH("%s: %s, from %s"),
  MERGES_BATCH("%s merges the batch dimension with others (%s -> %s): a compiled model keeps dimension 0 as the batch; flatten from dimension 1 (Flatten(), flatten(x))"),
  EMBEDDING_INPUT("%s: an Embedding takes the model's input, token or category ids (a label tensor, Tensor.labels(...)),"
      + " but receives %s from %s, a float value; apply the Embedding to the input (%s) first"),
  ARGMAX_IDS_READ("%s: %s is ids (indices along a dimension, an argmax's, argmin's, topk's or argsort's, without"
      + " gradient), which a compiled forward reads only as ids an Embedding looks up (emb.apply(logits.argmax(-1)));"
      + " PyTorch's argmax gives an int64 tensor, not values"),
  ID_ARITHMETIC_READ("%s: %s is ids computed in forward (integer arithmetic of ids, without gradient), which a compiled"
      + " forward reads only as ids an Embedding looks up (emb.apply(ids.add(1))); for values, look the ids up first"),
  IDS_MOVED_READ("%s: %s is ids moved or summed in forward (a narrow, flip, roll, pad, where or sum of ids, without gradient), which a compiled"
      + " forward reads only as ids an Embedding looks up (emb.apply(ids.flip(1))); for values, look the ids up first"),
  ID_ARITHMETIC_OF_FLOATS("%s: %s is integer arithmetic, which a compiled forward runs on ids only (the input an Embedding"
      + " looks up, an argmax's indices, or ids so computed), but %s is a float value; %s"),
  IDS_READ_AS_FLOATS("%s: the input %s is ids (%s looks them up), which only Embeddings read in a compiled model; read"
      + " the embedded rows instead"),
  CONSTANT_IDS("%s: %s; the ids an Embedding looks up in a compiled forward are an input (token or category ids), or"
      + " built from constants in forward, GPT-2's positions: Tensor.labels(IntStream.range(0, S).toArray()) or"
      + " Tensor.labels(0, 1, 2), as they are or viewed [1, S] (view(1, S), reshape(1, -1), unsqueeze(0))"),
  CONSTANT_IDS_READ("%s: %s holds ids built in forward (%s), which only an Embedding reads in a compiled model:"
      + " look them up (wpe.apply(%s)) and read the rows"),
  CONSTANT_ROWS_USE("%s: %s is the rows of ids built in forward, eager mode's %s, which a compiled model adds to a value of"
      + " the batch, %s, as GPT-2 adds its positions' rows to its tokens' (tok.apply(ids).add(wpe.apply(pos))); here it is"
      + " read by %s%s"),
  BAG_OFFSETS("%s: a compiled EmbeddingBag takes each sample's ids as one bag, the rows of ids [N, L] (%s.apply(ids),"
      + " PyTorch's 2-D input); bags given by offsets or per-sample weights vary in length, which a compiled plan does not:"
      + " leave out @Model to run them eagerly"),
  INITIAL_STATES("%1$s: %2$s is not an initial state a compiled forward reads: zeros (Tensor.zeros(num_layers * D,"
      + " x.size(0), hidden_size), as PyTorch's tutorials write h0 and c0, or none: %3$s.forwardWithState(x)), another"
      + " run's last states whole (enc.h(), enc.c()), or a value [N, H] as PyTorch's [1, N, H] (h.unsqueeze(0),"
      + " h.view(1, -1, H)) or [N, L * H] as [L, N, H] (f.view(-1, L, H).transpose(0, 1)), element-wise tanh, relu or"
      + " sigmoid of those; leave out @Model to pass others eagerly"),
  CELL_STATE_SHAPE("%1$s: expected %2$s of shape (N, %3$d) (N, hidden_size) for %4$s, got %5$s (PyTorch's \"Expected hidden"
      + " size (N, %3$d)\"): write Tensor.zeros(x.size(0), %3$d)"),
  STATE_SHAPE("%1$s: expected %2$s of shape %3$s (num_layers * D, N, hidden_size) for %4$s, got %5$s from %6$s"
      + " (PyTorch's \"Expected hidden size %3$s, got %5$s\")"),
  STATE_BATCH("%1$s: the batch size of %2$s is a constant, %3$s, but a compiled model's batch varies: write %4$s.size(0),"
      + " Tensor.zeros(%5$d, %4$s.size(0), %6$d)"),
  ZEROS_AS_VALUE("%1$s holds zeros (%2$s), which a compiled %3$s reads only as a recurrent layer's initial states"
      + " (lstm.forwardWithState(x, h0, c0)) or a cell's states (cell.step(x, h, c)); leave out @Model to compute with them"),
  WHOLE_STATE("%1$s: a compiled forward reads a recurrent layer's %2$s one state at a time, as %3$s.select(0, i), [N, H]"
      + " (PyTorch's %2$s[i]; select(0, -1) the last layer's, Tensor.cat(List.of(%3$s.select(0, -2), %3$s.select(0, -1)), 1)"
      + " a bidirectional last layer's two directions): %2$s is [num_layers * D, N, H], the batch in its dimension 1, where"
      + " every compiled value holds it in dimension 0"),
  STATE_INDEX("%1$s: index %2$d is out of range for %3$s of %4$s, whose first dimension, num_layers * D, is %5$d"
      + " (index %6$d..%7$d)"),
  NO_CELL_STATE("%s: %s is %s, which has no cell state: c() is LSTM's c_n; read h(), h_n"),
  UNUSED_VALUE("the value of %s is never used: %s returns %s; use the value or drop the step"),
  ADD_SHAPES("%s: %s of %s from %s and %s from %s: %s; a compiled add, sub, mul or div takes two values of one shape,"
      + " or repeats one over the other along a run of adjacent dimensions, as PyTorch broadcasts a [N, C, 1, 1] scale over [N, C, H, W]"),
  WHOLE_REDUCTION("%s: %s reduces every value of the batch to one, and a compiled forward keeps the batch dimension:"
      + " reduce dimensions after it (%s), or apply %s to the model's output outside forward"),
  MATMUL_SHAPES("%s: matmul of %s from %s and %s from %s: %s"),
  TENSOR_LIST("%s: %s: a list of values in a compiled forward is built by add(value) alone (List<Tensor> %s = new"
      + " ArrayList<>(); then add, a for loop over it, Tensor.cat of it)"),
  TENSOR_LIST_EMPTY("%s: %s reads %s where nothing was added to it yet"),
  CAT_LIST("%s: the compiler reads Tensor.cat(List.of(a, b, ...), dim) with the values listed in the call, or of a list local"
      + " built in forward (List<Tensor> xs = new ArrayList<>(); xs.add(...)), not %s"),
  PIECES_MISUSE("%s holds the pieces of %s, which %s reads one at a time by a constant index (%s[0], %s[1], ...), not as"
      + " an array: %s"),
  PIECES_REASSIGNED("%s holds the pieces of %s and cannot be assigned again in %s (%s): give other pieces a name of their own"),
  PIECE_INDEX("%s: the index of a piece must be a constant int of at least 0 (a literal or a static final field), not %s"),
  UNSUPPORTED_SEQUENTIAL("%s: the compiler reads layers from their initializers (or constructor assignments): write"
      + " new Linear(...) (with builder calls such as .padding(1)), Sequential.of(...) or Sequential.builder().add(...).build()"
      + " there, not another field, a variable or a call to another method"),
  EMPTY_SEQUENTIAL("%s: Sequential needs at least one layer"),
  LAYER_CONDITION("%s: the condition '%s' of a layer's ?: is not a compile-time constant: the compiler reads the layer"
      + " the condition chooses, so it must fold (constants, a block's constructor arguments and the fields set from them)"),
  LAYER_HELPER_STATEMENTS("%s: the compiler reads the layer %s(...) returns only when its body is one return of a layer"
      + " expression (new Conv2d(...).stride(s), Sequential.of(...)); a list of layers filled by statements or a loop"
      + " (torchvision's _make_layer) does not compile yet: write the layers out in Sequential.of(...) at the field, or"
      + " build a ModuleList from IntStream.range(0, n).mapToObj(i -> new Block(...))"),
  LAYER_HELPER_RECURSION("%s: %s(...) calls itself too deeply to be read as a layer (16 helper calls at most)"),
  BAD_CHILD_NAME("%s: '%s' is not a valid child name (non-empty, no dots): the state dict's keys join names with dots"),
  DUPLICATE_CHILD_NAME("%s: the name '%s' is used twice%s; Sequential.builder() refuses it when the model is built"),
  GENERATED_NAME_TAKEN("@Model %s would generate %s, which %s generates already: rename one (a factory method's name,"
      + " or a class's, names its compiled class)"),
  // masks computed in forward (a local holding a comparison of an input or a buffer with a constant)
  COMPARE_SHAPES("%s: a comparison of %s from %s with %s from %s: %s; a compiled comparison of two values takes one shape,"
      + " or repeats one over the other along a run of adjacent dimensions, as an add does (h.lt(h.mean(-1, true)))"),
  POINTWISE_SHAPES("%s: a compiled %s broadcasts its two values as PyTorch does, but one is %s from %s and the other %s from"
      + " %s: %s; a size of 1 repeats, other sizes must agree (and each starts with the batch)"),
  PAIR_FIELD_SHAPE("%s: %s as an operand of a compiled %s must broadcast over the other value without widening it, each of"
      + " its last sizes the value's or 1 (a [T, D], [T, 1] or [D] field over %s); register it at sizes that do, or leave out"
      + " @Model to run it eagerly"),
  WHERE_SHAPES("%s: a compiled where broadcasts a, b and the mask as PyTorch does, but a is %s from %s, b %s from %s and the"
      + " mask %s from %s: %s; a size of 1 repeats, other sizes must agree (and each starts with the batch)"),
  WHERE_FIELD_SHAPE("%s: %s as an operand of a compiled where must broadcast over the result without widening it, each"
      + " of its last sizes the result's or 1 (a [1, T, D], [T, D], [T, 1] or [D] field over %s); register it at sizes"
      + " that do, or leave out @Model to run it eagerly"),
  WHERE_FIELDS_SLICED("%s: %s is a where of tensor fields with a parameter among them, which a compiled forward reads as"
      + " it is; view or slice its operands before the where (Tensor.where(mask.view(...), a.view(...), b.view(...)))"),
  WHERE_ONLY_FIELDS("%s: a (%s), b (%s) and the mask (%s) are all tensor fields, so eager mode's result is %s, without a"
      + " batch; a compiled forward computes such a where when the mask is a buffer and a and b are buffers or whole"
      + " parameters, not with %s: where a value of the batch reads the result, move the where after"
      + " (Tensor.where(mask, h.add(a), h.add(b)) for h.add(Tensor.where(mask, a, b))), or leave out @Model to run it eagerly"),
  MASK_STOPS_GRADIENT("the value of %s is read only as a mask or compared (%s), and a comparison passes no gradient, so"
      + " the steps that compute it would get none, which a compiled backward does not skip; read it as a value too"
      + " (h.mul(h.gt(0))), compare an input or a buffer, or leave out @Model to run it eagerly"),
  ARGMAX_STOPS_GRADIENT("the value of %s is read only by an argmax, argmin, topk's or argsort's indices (%s), which passes no gradient (as PyTorch's, which is"
      + " not differentiable), so the steps that compute it would get none, which a compiled backward does not skip; read"
      + " it as a value too (a loss on the logits, an output), or leave out @Model to run it eagerly"),
  MASK_COMPARED_WITH("%s: a compiled mask compares with a constant (%s.%s(0)), not %s"),
  MASK_COMPARED_TWICE("%s: %s is a mask already (a comparison); compare the input or buffer once (%s)"),
  MASK_REASSIGNED("%s: the mask %s is assigned once, where it is declared (Tensor %s = ...eq(0);), and never reassigned;"
      + " give the other value a local of its own"),
  MASK_UNUSED("the mask %s is never used: %s reads it in no masked fill and no value; use it or drop it"),
  MASK_VIEW("%s: %s"),
  BUFFER_SLICE("%s: %s of %s: %s"),
  PARAMETER_SLICE("%s: %s is neither one run of the parameter's values nor runs of them of one width at one or more"
      + " strides; a compiled forward reads a sliced parameter as eager mode computes it and adds its gradient back to the"
      + " values it came from: narrow or select its dimensions (pos.narrow(1, 0, T) of [1, L, D], grid.narrow(1, 0, 2)"
      + ".narrow(2, 0, 4) of [6, 3, 6]), then view the slice, or declare the parameter at the size forward reads"),
  BUFFER_SLICE_BOUND("%s: argument '%s' of %s is not a compile-time constant; a compiled forward slices a buffer (nanoGPT's"
      + " bias[:, :, :T, :T]) with constant bounds, its sequence length being fixed: write the length as a constant (static final"
      + " int T = ...;), not a size read at run time"),
  // blocks (Module subclasses held as fields, their forward inlined) and ModuleList
  BLOCK_NO_SOURCE("%s: the block %s is a Module whose source is not in this compilation (a class from a jar or another"
      + " module), so the compiler cannot read its layers and its forward; compile its source with the model, or leave out"
      + " @Model and the model runs eagerly"),
  BLOCK_RECURSION("%s: the block %s holds a %s itself (through %s): a block that contains itself never ends; give the"
      + " inner part a class of its own"),
  BLOCK_NO_FORWARD("%s: the block %s declares no forward(Tensor x) of its own, which the compiler inlines where the block"
      + " is applied"),
  BLOCK_SUPERCLASS("%s: the block %s extends %s; the compiler reads a block that extends Module, or another block whose"
      + " source is in this compilation (not a layer, not a class from a jar), as it reads every inherited field then"),
  LIST_ELEMENT("%s: element %d of the ModuleList is %s; the compiler reads each element from a new block or layer written"
      + " in the list (ModuleList.of(new Block(), new Block()))"),
  UNSUPPORTED_MODULE_LIST("%s: the compiler reads a ModuleList written as ModuleList.of(new Block(), ...), new"
      + " ModuleList<>(List.of(new Block(), ...)) or new ModuleList<>(IntStream.range(0, N).mapToObj(i -> new Block())"
      + ".toList()) with a constant N, not %s"),
  LIST_APPLIED("'%s' is a ModuleList, which is not applied as a whole (PyTorch's nn.ModuleList is not callable): apply"
      + " its modules (for (var b : %s) x = b.apply(x);), or hold a Sequential"),
  LOOP_BOUNDS("unsupported loop in %s: %s; the compiler unrolls a loop over a ModuleList or Sequential field (for (Block b : h)) or over"
      + " an int from a constant to a constant or a list's size, counting up (for (int i = 0; i < h.size(); i++)), and a while"
      + " whose condition is a constant at each turn (int i = 0; while (i < h.size()) { ...; i++; })"),
  COUNTER_UPDATE("%s: %s does not fold to a constant; an int local that is not final counts an unrolled loop's turns, each"
      + " update folding from constants (int %3$s = 0; while (%3$s < N) { ...; %3$s++; })"),
  LIST_INDEX("%s: index %d is out of range for the ModuleList %s of %d modules (0..%d, or -%d..-1 from the end)"),
  METHOD_RECURSION("%s: %s calls itself (directly or through another method); the compiler inlines a model's own methods,"
      + " which must end: write the repetition as a loop over a ModuleList or a constant count"),
  MODE_ELSEWHERE("%s: a condition on the training mode compiles in forward and the model's methods and blocks forward"
      + " calls, not in %s; test isTraining() in forward, or leave out @Model and the model runs eagerly, as written"),
  MODE_DELEGATED("forward returns %s, and %s reads the training mode: a compiled forward of one output of a method read"
      + " once per mode is not generated; write forward's own body (the method's steps it needs), or leave out @Model"),
  MODE_METHOD_OUTPUT_SHAPES("%s returns %s as %s in training but %s in evaluation, as this condition on the training mode"
      + " decides; the compiled model returns one shape in both modes (its plans and callers expect it): give both one shape,"
      + " or leave out @Model and the model runs eagerly, as written"),
  MODE_CONDITION_RUN_TIME("unsupported condition on the training mode in %2$s: %1$s reads %3$s, the batch size, which varies"
      + " from call to call; the compiled model plans %2$s once per mode, so the condition must be true or false in each mode"
      + " from the mode, constants and sizes after the batch alone (isTraining() && x.size(1) > 4); test the batch size apart"),
  MODE_CONDITION("unsupported condition on the training mode in %2$s: %1$s; the compiled model plans forward once per mode,"
      + " so the condition must be true or false in each mode from the mode and constants alone (isTraining(),"
      + " !isTraining(), this.isTraining() && P > 0, isTraining() ? a : b); test anything else apart"),
  MODE_SHAPES("%s is %s in training but %s in evaluation after this condition on the training mode; the compiled model"
      + " plans forward (and a method beside it) once per mode, and what follows the condition must fit both: give it one shape in both modes, or"
      + " leave out @Model and the model runs eagerly, as written"),
  MODE_OUTPUT_SHAPES("forward returns %s in training but %s in evaluation, as this condition on the training mode decides;"
      + " the compiled model returns one shape in both modes (its plans and callers expect it): give both one shape, or"
      + " leave out @Model and the model runs eagerly, as written"),
  METHOD_PARAMETER("%s: parameter %s of %s is a %s; a method the compiler inlines takes tensors and compile-time"
      + " constants (int, float, ...)"),
  TIE_FORM("%s: the compiler reads a weight tie of another layer field's weight, a Linear's or an Embedding's in the same"
      + " class (lmHead.weight(wte.weight()), or new Linear(D, V, false).weight(wte.weight()) where the layer is declared),"
      + " not %s; tie to such a field, or leave out @Model and the model runs eagerly, as written"),
  TIE_PLACE("%s: the weight tie %s is inside a block, branch or loop of the constructor; write it as a statement of its own"
      + " at the top level of the constructor without parameters, or where the layer is declared (new Linear(D, V,"
      + " false).weight(wte.weight()))"),
  TIE_SHAPE("%s: the weight of %s is %s and cannot be tied to %s's, %s %s; a tied weight has the shape of the one it"
      + " replaces (an Embedding(V, D)'s [V, D] ties a Linear(D, V, false)'s [V, D])"),
  SCATTER_INDEX("%s: %s; a compiled %s takes %s (docs/guide.md, \"Writes by index in a compiled forward\"), or leave out"
      + " @Model and the model runs eagerly"),
  INTERNAL_ERROR("Kiln's processor failed on this model (please report it): %s");

  private final String format;

  Message(String format) {
    this.format = format;
  }

  public String format(Object... args) {
    return String.format(format, args);
  }
}
