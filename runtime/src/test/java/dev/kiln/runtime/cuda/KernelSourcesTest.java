package dev.kiln.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The runtime's CUDA kernel families compile with NVRTC for Ampere (sm_80) and Hopper (sm_90), and
 * each cubin holds every {@code extern "C"} function the launchers ask for. Needs NVRTC, not a
 * GPU ({@code eval "$(scripts/cuda-dev-env)"}; run with {@code -Dgroups=nvrtc}).
 */
@Tag("nvrtc")
class KernelSourcesTest {
  private static final int[][] ARCHITECTURES = {{8, 0}, {9, 0}};
  private static final Pattern DEFINED = Pattern.compile("extern \"C\" __global__ void (\\w+)\\s*\\(");
  private static final Pattern LAUNCHED = Pattern.compile("kernel\\(\"(\\w+)\"\\)");

  @Test
  void coreKernelsCompile() {
    checkFamily("kiln_core.cu", CoreKernels.SOURCE, List.of("kiln_fill", "kiln_add_into", "kiln_add"));
  }

  @Test
  void elementwiseKernelsCompile() {
    checkFamily("kiln_elementwise.cu", ElementwiseKernels.SOURCE, List.of(
        "kiln_relu_forward", "kiln_relu_backward",
        "kiln_sigmoid_forward", "kiln_sigmoid_backward",
        "kiln_tanh_forward", "kiln_tanh_backward", "kiln_gelu_forward", "kiln_gelu_backward", "kiln_gelu_tanh_forward", "kiln_gelu_tanh_backward", "kiln_silu_forward", "kiln_silu_backward",
        "kiln_leaky_relu_forward", "kiln_leaky_relu_backward",
        "kiln_exp_forward", "kiln_log_forward", "kiln_log_backward", "kiln_sin_forward", "kiln_sin_backward", "kiln_cos_forward", "kiln_cos_backward", "kiln_sqrt_forward", "kiln_sqrt_backward",
        "kiln_std_backward",
        "kiln_abs_forward", "kiln_abs_backward", "kiln_neg", "kiln_pow_forward", "kiln_pow_backward",
        "kiln_transpose", "kiln_permute", "kiln_where", "kiln_where_backward", "kiln_where_lines_backward", "kiln_compare", "kiln_sum_along", "kiln_sum_lines", "kiln_spread_along", "kiln_variance_over", "kiln_variance_lines", "kiln_variance_backward", "kiln_dropout", "kiln_mul", "kiln_div", "kiln_div_backward", "kiln_add_repeated", "kiln_mul_repeated", "kiln_scale", "kiln_fill_scaled",
        "kiln_sum_partials", "kiln_sum_finish", "kiln_sum_rows",
        "kiln_softmax_rows_forward", "kiln_softmax_rows_backward",
        "kiln_softmax_strided_forward", "kiln_softmax_strided_backward",
        "kiln_cross_entropy_forward", "kiln_cross_entropy_lines_forward", "kiln_cross_entropy_backward",
        "kiln_l1_forward", "kiln_l1_backward", "kiln_mse_forward", "kiln_mse_backward",
        "kiln_max_pool2d_forward", "kiln_max_pool2d_backward", "kiln_avg_pool2d_forward", "kiln_avg_pool2d_backward",
        "kiln_clamp_forward", "kiln_clamp_backward"));
  }

  @Test
  void indexKernelsCompile() {
    checkFamily("kiln_index.cu", IndexKernels.SOURCE, List.of(
        "kiln_index_map", "kiln_roll", "kiln_cumsum", "kiln_cumsum_block", "kiln_logsumexp_forward", "kiln_logsumexp_backward", "kiln_norm_forward", "kiln_norm_backward",
        "kiln_prod_forward", "kiln_prod_backward", "kiln_softmax_lines_forward", "kiln_softmax_lines_backward"));
  }

  @Test
  void sortKernelsCompile() {
    checkFamily("kiln_sort.cu", SortKernels.SOURCE, List.of(
        "kiln_sort_chunks", "kiln_sort_merge", "kiln_extremum_along", "kiln_line_scatter", "kiln_count_ties", "kiln_share_ties",
        "kiln_one_hot"));
  }

  @Test
  void piecewiseKernelsCompile() {
    checkFamily("kiln_piecewise.cu", PiecewiseKernels.SOURCE, List.of(
        "kiln_softplus_forward", "kiln_softplus_backward", "kiln_elu_forward", "kiln_elu_backward", "kiln_hardtanh_backward",
        "kiln_smooth_l1_forward", "kiln_smooth_l1_backward"));
  }

  @Test
  void activationCodeKernelsCompile() {
    checkFamily("kiln_activation_code.cu", ActivationCodeKernels.SOURCE, List.of("kiln_activation_code_forward", "kiln_activation_code_backward"));
  }

  @Test
  void preluKernelsCompile() {
    checkFamily("kiln_prelu.cu", PReluKernels.SOURCE, List.of("kiln_prelu_forward", "kiln_prelu_backward", "kiln_prelu_slope_backward"));
  }

  @Test
  void pointwiseKernelsCompile() {
    checkFamily("kiln_pointwise.cu", PointwiseKernels.SOURCE, List.of(
        "kiln_pointwise_forward", "kiln_pointwise_backward", "kiln_binary_forward", "kiln_binary_backward"));
  }

  @Test
  void scatterKernelsCompile() {
    checkFamily("kiln_scatter.cu", ScatterKernels.SOURCE, List.of("kiln_place_set", "kiln_place_add", "kiln_place_gather"));
  }

  @Test
  void idKernelsCompile() {
    checkFamily("kiln_ids.cu", IdKernels.SOURCE, List.of("kiln_ids_constant", "kiln_ids_binary"));
  }

  @Test
  void selectKernelsCompile() {
    checkFamily("kiln_select.cu", SelectKernels.SOURCE, List.of(
        "kiln_mask_counts", "kiln_mask_offsets", "kiln_mask_select", "kiln_mask_scatter", "kiln_nonzero"));
  }

  @Test
  void embeddingKernelsCompile() {
    checkFamily("kiln_embedding.cu", EmbeddingKernels.SOURCE, List.of(
        "kiln_embedding_forward", "kiln_embedding_bag_forward", "kiln_embedding_backward", "kiln_embedding_bag_weights_backward"));
  }

  @Test
  void recurrentCellKernelsCompile() {
    checkFamily("kiln_recurrent.cu", RecurrentCellKernels.SOURCE, List.of("kiln_recurrent_forward", "kiln_recurrent_backward"));
  }

  @Test
  void groupNormKernelsCompile() {
    checkFamily("kiln_group_norm.cu", GroupNormKernels.SOURCE, List.of("kiln_gn_statistics", "kiln_gn_forward",
        "kiln_gn_channel_sums", "kiln_gn_parameter_gradients", "kiln_gn_row_coefficients", "kiln_gn_backward"));
  }

  @Test
  void batchNormKernelsCompile() {
    checkFamily("kiln_batch_norm.cu", BatchNormKernels.SOURCE, List.of(
        "kiln_bn_statistics", "kiln_bn_factors", "kiln_bn_forward", "kiln_bn_backward_reduce", "kiln_bn_backward"));
  }

  @Test
  void optimizerKernelsCompile() {
    checkFamily("kiln_optim.cu", OptimKernels.SOURCE, List.of("kiln_sgd", "kiln_adam", "kiln_rmsprop", "kiln_adagrad", "kiln_adadelta", "kiln_adamax", "kiln_nadam", "kiln_radam", "kiln_rprop", "kiln_asgd"));
  }

  /**
   * Every name a Java launcher passes to {@code kernel("...")} is defined in its family's source: a
   * misspelt name would otherwise only fail on a GPU, at {@code cuModuleGetFunction}. Reads the
   * launchers' source files (Maven runs tests in the module directory).
   */
  @Test
  void everyLaunchedKernelIsDefined() throws IOException {
    checkLaunched("CoreKernels.java", CoreKernels.SOURCE);
    checkLaunched("ElementwiseKernels.java", ElementwiseKernels.SOURCE);
    checkLaunched("OptimKernels.java", OptimKernels.SOURCE);
    checkLaunched("BatchNormKernels.java", BatchNormKernels.SOURCE);
    checkLaunched("GroupNormKernels.java", GroupNormKernels.SOURCE);
    checkLaunched("EmbeddingKernels.java", EmbeddingKernels.SOURCE);
    checkLaunched("RecurrentCellKernels.java", RecurrentCellKernels.SOURCE);
    checkLaunched("IndexKernels.java", IndexKernels.SOURCE);
    checkLaunched("PiecewiseKernels.java", PiecewiseKernels.SOURCE);
    checkLaunched("ActivationCodeKernels.java", ActivationCodeKernels.SOURCE);
    checkLaunched("PReluKernels.java", PReluKernels.SOURCE);
    checkLaunched("SortKernels.java", SortKernels.SOURCE);
    checkLaunched("IdKernels.java", IdKernels.SOURCE);
    checkLaunched("SelectKernels.java", SelectKernels.SOURCE);
  }

  private static void checkFamily(String name, String source, List<String> expected) {
    assertEquals(new TreeSet<>(expected), new TreeSet<>(matches(DEFINED, source)),
        name + ": the kernels defined in the source are not the ones this test expects");
    for (int[] arch : ARCHITECTURES) {
      String target = name + " for sm_" + arch[0] + arch[1];
      byte[] cubin = Nvrtc.compile(name, source, arch[0], arch[1]);
      assertTrue(cubin.length > 0, target + ": empty cubin");
      // The cubin is an ELF file; its symbol table spells each extern "C" name out unmangled.
      String bytes = new String(cubin, StandardCharsets.ISO_8859_1);
      for (String function : expected) {
        assertTrue(bytes.contains(function + "\0"), target + ": the cubin has no symbol " + function);
      }
    }
  }

  private static void checkLaunched(String file, String source) throws IOException {
    Path path = Path.of("src/main/java/dev/kiln/runtime/cuda", file);
    if (!Files.exists(path)) {
      path = Path.of("runtime").resolve(path); // from the repository root (scripts/gpu-check on a lent GPU)
    }
    if (!Files.exists(path)) {
      fail("cannot read " + path.toAbsolutePath() + ": run the tests from the repository root or the runtime module's directory");
    }
    List<String> launched = matches(LAUNCHED, Files.readString(path));
    List<String> defined = matches(DEFINED, source);
    assertTrue(!launched.isEmpty(), file + ": found no kernel(\"...\") calls");
    for (String function : launched) {
      assertTrue(defined.contains(function), file + " launches " + function + ", which its source does not define");
    }
  }

  private static List<String> matches(Pattern pattern, String text) {
    List<String> out = new ArrayList<>();
    Matcher m = pattern.matcher(text);
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }
}
