package dev.montage.plugins.ipadapter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.SubjectResampler;
import dev.montage.nn.IpProjections;
import dev.montage.plugins.unet.SdxlUNetFactory;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.RandomTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.RandomCheckpoint;
import dev.montage.runtime.weights.TensorDType;
import dev.montage.runtime.weights.TensorSource;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * IP-Adapter Plus' perceiver resampler on a random checkpoint in the published layout, against the official
 * {@code Resampler} written out in plain arithmetic ({@code ip_adapter/resampler.py}: {@code proj_in}, Perceiver
 * layers with residuals, {@code proj_out}, {@code norm_out}).
 */
class PerceiverProjectionTest {
    private static final int EMBEDDING = 32;
    private static final int DIM = 24;
    private static final int HEADS = 3;
    private static final int DIM_HEAD = 8;
    private static final int QUERIES = 4;
    private static final int DEPTH = 2;
    private static final int FF = 48;
    private static final int WIDTH = 64;
    private static final int TOKENS = 5;

    @TempDir
    Path dir;

    @Test
    void resamplesAsTheOfficialResamplerAndTakesABlankPictureForTheUnconditionalRows() throws Exception {
        Path file = writePlusCheckpoint();
        try (FolderComponentContext context = context(file, Map.of("heads", String.valueOf(HEADS)));
                TensorSource source = TensorSource.open(file); NDManager m = TestEngine.manager().newSubManager()) {
            SubjectResampler plus = new IpAdapterProjectionFactory().create(
                    context.forComponent("subject resampler 'ip-adapter'", Map.of("heads", String.valueOf(HEADS))));
            assertEquals(ImageEncoder.Features.PENULTIMATE_HIDDEN_STATES, plus.imageFeatures());
            assertEquals(SubjectResampler.Unconditional.BLANK_PICTURE_FEATURES, plus.unconditional());
            assertEquals(QUERIES, plus.tokensPerSubject());
            assertEquals(WIDTH, plus.outputDim());
            NDArray features = RandomTensors.gaussian(m, new Random(7), 2, TOKENS, EMBEDDING);
            float[] actual = plus.resample(m, features, null, null, null).toFloatArray();
            float[] x = features.toFloatArray();
            float[] expected = new float[2 * QUERIES * WIDTH];
            for (int b = 0; b < 2; b++) {
                float[] one = new float[TOKENS * EMBEDDING];
                System.arraycopy(x, b * one.length, one, 0, one.length);
                System.arraycopy(reference(source, one), 0, expected, b * QUERIES * WIDTH, QUERIES * WIDTH);
            }
            double error = GoldenTensors.maxAbsDiff(expected, actual);
            System.out.printf("IP-Adapter Plus resampler vs the official formula: max-abs error %.3g%n", error);
            assertTrue(error < 1e-4, "off by " + error);
            ((AutoCloseable) plus).close();
        }
    }

    @Test
    void aHeadCountThatDoesNotSplitTheWidthIsNamed() throws Exception {
        Path file = writePlusCheckpoint();
        try (FolderComponentContext context = context(file, Map.of())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new IpAdapterProjectionFactory().create(context));
            assertTrue(e.getMessage().contains("does not split into 0 heads; set the 'heads' option"), e.getMessage());
        }
    }

    private Path writePlusCheckpoint() throws Exception {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("image_proj.latents", new long[] {1, QUERIES, DIM});
        shapes.put("image_proj.proj_in.weight", new long[] {DIM, EMBEDDING});
        shapes.put("image_proj.proj_in.bias", new long[] {DIM});
        for (int i = 0; i < DEPTH; i++) {
            String a = "image_proj.layers." + i + ".0.";
            shapes.put(a + "norm1.weight", new long[] {DIM});
            shapes.put(a + "norm1.bias", new long[] {DIM});
            shapes.put(a + "norm2.weight", new long[] {DIM});
            shapes.put(a + "norm2.bias", new long[] {DIM});
            shapes.put(a + "to_q.weight", new long[] {HEADS * DIM_HEAD, DIM});
            shapes.put(a + "to_kv.weight", new long[] {2 * HEADS * DIM_HEAD, DIM});
            shapes.put(a + "to_out.weight", new long[] {DIM, HEADS * DIM_HEAD});
            String f = "image_proj.layers." + i + ".1.";
            shapes.put(f + "0.weight", new long[] {DIM});
            shapes.put(f + "0.bias", new long[] {DIM});
            shapes.put(f + "1.weight", new long[] {FF, DIM});
            shapes.put(f + "3.weight", new long[] {DIM, FF});
        }
        shapes.put("image_proj.proj_out.weight", new long[] {WIDTH, DIM});
        shapes.put("image_proj.proj_out.bias", new long[] {WIDTH});
        shapes.put("image_proj.norm_out.weight", new long[] {WIDTH});
        shapes.put("image_proj.norm_out.bias", new long[] {WIDTH});
        IpProjections.weightShapes(new SdxlUNetFactory().attentionLayers(Map.of("unet",
                TestEngine.folder(Golden.model().resolve("unet")).config())))
                .forEach((name, shape) -> shapes.put("ip_adapter." + name, shape));
        Path file = dir.resolve("ip-adapter-plus.safetensors");
        RandomCheckpoint.write(file, shapes, TensorDType.F32, 11);
        return file;
    }

    private static FolderComponentContext context(Path checkpoint, Map<String, String> options) {
        return new FolderComponentContext(TestEngine.engine(), ModelPaths.of(Golden.model())
                .withDefaults(ComponentRegistry.fromClasspath(PerceiverProjectionTest.class.getClassLoader())
                        .modelFiles().values())
                .with(IpAdapterCheckpoint.KEY, checkpoint), options);
    }

    /** The official forward pass for one picture's [TOKENS, EMBEDDING] features, in doubles. */
    private static float[] reference(TensorSource s, float[] features) {
        double[][] x = linear(rows(features, TOKENS, EMBEDDING), w(s, "proj_in.weight", DIM, EMBEDDING),
                v(s, "proj_in.bias"));
        double[][] latents = rows(s.tensor("image_proj.latents").toFloatArray(), QUERIES, DIM);
        for (int i = 0; i < DEPTH; i++) {
            String a = "layers." + i + ".0.";
            double[][] xn = norm(x, v(s, a + "norm1.weight"), v(s, a + "norm1.bias"));
            double[][] ln = norm(latents, v(s, a + "norm2.weight"), v(s, a + "norm2.bias"));
            double[][] q = linear(ln, w(s, a + "to_q.weight", HEADS * DIM_HEAD, DIM), null);
            double[][] kvIn = new double[TOKENS + QUERIES][];
            System.arraycopy(xn, 0, kvIn, 0, TOKENS);
            System.arraycopy(ln, 0, kvIn, TOKENS, QUERIES);
            double[][] kv = linear(kvIn, w(s, a + "to_kv.weight", 2 * HEADS * DIM_HEAD, DIM), null);
            double scale = 1 / Math.sqrt(Math.sqrt(DIM_HEAD));
            double[][] attended = new double[QUERIES][HEADS * DIM_HEAD];
            for (int h = 0; h < HEADS; h++) {
                for (int r = 0; r < QUERIES; r++) {
                    double[] scores = new double[kvIn.length];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int c = 0; c < kvIn.length; c++) {
                        for (int d = 0; d < DIM_HEAD; d++) {
                            scores[c] += q[r][h * DIM_HEAD + d] * scale * kv[c][h * DIM_HEAD + d] * scale;
                        }
                        max = Math.max(max, scores[c]);
                    }
                    double sum = 0;
                    for (int c = 0; c < scores.length; c++) {
                        scores[c] = Math.exp(scores[c] - max);
                        sum += scores[c];
                    }
                    for (int c = 0; c < scores.length; c++) {
                        for (int d = 0; d < DIM_HEAD; d++) {
                            attended[r][h * DIM_HEAD + d] += scores[c] / sum * kv[c][HEADS * DIM_HEAD + h * DIM_HEAD + d];
                        }
                    }
                }
            }
            latents = add(linear(attended, w(s, a + "to_out.weight", DIM, HEADS * DIM_HEAD), null), latents);
            String f = "layers." + i + ".1.";
            double[][] hidden = linear(norm(latents, v(s, f + "0.weight"), v(s, f + "0.bias")),
                    w(s, f + "1.weight", FF, DIM), null);
            for (double[] row : hidden) {
                for (int c = 0; c < row.length; c++) {
                    row[c] = 0.5 * row[c] * (1 + erf(row[c] / Math.sqrt(2)));
                }
            }
            latents = add(linear(hidden, w(s, f + "3.weight", DIM, FF), null), latents);
        }
        double[][] out = norm(linear(latents, w(s, "proj_out.weight", WIDTH, DIM), v(s, "proj_out.bias")),
                v(s, "norm_out.weight"), v(s, "norm_out.bias"));
        float[] flat = new float[QUERIES * WIDTH];
        for (int r = 0; r < QUERIES; r++) {
            for (int c = 0; c < WIDTH; c++) {
                flat[r * WIDTH + c] = (float) out[r][c];
            }
        }
        return flat;
    }

    private static double[][] rows(float[] values, int rows, int cols) {
        double[][] out = new double[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[r][c] = values[r * cols + c];
            }
        }
        return out;
    }

    private static double[][] w(TensorSource s, String name, int out, int in) {
        return rows(s.tensor("image_proj." + name).toFloatArray(), out, in);
    }

    private static double[] v(TensorSource s, String name) {
        float[] f = s.tensor("image_proj." + name).toFloatArray();
        double[] out = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            out[i] = f[i];
        }
        return out;
    }

    /** {@code x W^T + b}. */
    private static double[][] linear(double[][] x, double[][] w, double[] b) {
        double[][] out = new double[x.length][w.length];
        for (int r = 0; r < x.length; r++) {
            for (int o = 0; o < w.length; o++) {
                double sum = b == null ? 0 : b[o];
                for (int i = 0; i < w[o].length; i++) {
                    sum += x[r][i] * w[o][i];
                }
                out[r][o] = sum;
            }
        }
        return out;
    }

    private static double[][] norm(double[][] x, double[] gamma, double[] beta) {
        double[][] out = new double[x.length][];
        for (int r = 0; r < x.length; r++) {
            double mean = 0;
            for (double value : x[r]) {
                mean += value / x[r].length;
            }
            double var = 0;
            for (double value : x[r]) {
                var += (value - mean) * (value - mean) / x[r].length;
            }
            out[r] = new double[x[r].length];
            for (int c = 0; c < x[r].length; c++) {
                out[r][c] = (x[r][c] - mean) / Math.sqrt(var + 1e-5) * gamma[c] + beta[c];
            }
        }
        return out;
    }

    private static double[][] add(double[][] a, double[][] b) {
        double[][] out = new double[a.length][];
        for (int r = 0; r < a.length; r++) {
            out[r] = new double[a[r].length];
            for (int c = 0; c < a[r].length; c++) {
                out[r][c] = a[r][c] + b[r][c];
            }
        }
        return out;
    }

    /** Abramowitz and Stegun 7.1.26 (error below 1.5e-7). */
    private static double erf(double x) {
        double t = 1 / (1 + 0.3275911 * Math.abs(x));
        double y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592)
                * t * Math.exp(-x * x);
        return x >= 0 ? y : -y;
    }
}
