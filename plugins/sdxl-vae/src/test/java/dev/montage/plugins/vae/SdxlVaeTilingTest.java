package dev.montage.plugins.vae;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.LocalModelFolder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Tiled decoding: diffusers' {@code tiled_decode} written out in plain loops over the untiled decoder's output of each
 * tile, on the golden tiny VAE (scale factor 8).
 */
class SdxlVaeTilingTest {
    private static final float TOLERANCE = 1e-5f;

    private static SdxlVae vae(boolean tiling, int tileSize) {
        return new SdxlVae(TestEngine.folder(Golden.model().resolve("vae")), TestEngine.manager(), TestEngine.kernels(),
                TestEngine.dtype(), new VaeOptions(VaeOptions.Upcast.AUTO, false, tiling, tileSize));
    }

    private static NDArray latents(NDManager m, int height, int width) {
        Random random = new Random(11);
        float[] values = new float[4 * height * width];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return m.create(values, new Shape(1, 4, height, width));
    }

    @Test
    void tilesBlendAsDiffusersTiledDecodeDoes() {
        try (NDManager m = TestEngine.manager().newSubManager();
                SdxlVae plain = vae(false, 0);
                SdxlVae tiled = vae(true, 32)) {
            // a 10 x 12 latent in tiles of 4 every 3: rows and columns of 4 tiles, the last ones cut short
            NDArray z = latents(m, 10, 12);
            float[] expected = reference(plain, z, 32);
            NDArray image = tiled.decode(m, z);
            assertEquals(new Shape(1, 3, 80, 96), image.getShape());
            float[] actual = image.toFloatArray();
            double diff = GoldenTensors.maxAbsDiff(expected, actual);
            assertTrue(diff <= TOLERANCE, "tiled decode differs from diffusers' loops by " + diff);
            assertTrue(GoldenTensors.maxAbsDiff(plain.decode(m, z).toFloatArray(), actual) > 1e-3,
                    "tiles of 32 pixels decode otherwise than the whole picture");
        }
    }

    /** In bf16 (whose casts go through the host's kernels) the tiles blend as in float32, to bf16's precision. */
    @Test
    void bfloat16TilesStayCloseToFloat32Tiles() {
        Kernels kernels = TestEngine.kernels();
        Path folder = Golden.model().resolve("vae");
        VaeOptions tiles = new VaeOptions(VaeOptions.Upcast.AUTO, false, true, 32);
        try (LocalModelFolder f32Folder = new LocalModelFolder(folder, Optional.empty(), TestEngine.engine().device(),
                ComputeDType.FLOAT32, kernels);
                LocalModelFolder bf16Folder = new LocalModelFolder(folder, Optional.empty(),
                        TestEngine.engine().device(), ComputeDType.BFLOAT16, kernels);
                SdxlVae f32 = new SdxlVae(f32Folder, TestEngine.manager(), kernels, ComputeDType.FLOAT32, tiles);
                SdxlVae bf16 = new SdxlVae(bf16Folder, TestEngine.manager(), kernels, ComputeDType.BFLOAT16, tiles);
                NDManager m = TestEngine.manager().newSubManager()) {
            NDArray z = latents(m, 10, 12);
            NDArray expected = f32.decode(m, z);
            NDArray image = bf16.decode(m, kernels.cast(z, ComputeDType.BFLOAT16));
            assertEquals(expected.getShape(), image.getShape());
            double err = GoldenTensors.maxAbsDiff(expected.toFloatArray(), image.toFloatArray());
            assertTrue(err < SdxlVaeDTypeTest.BF16_ATOL, "bf16 tiled decode off by " + err);
        }
    }

    @Test
    void anImageNoLargerThanATileIsDecodedWhole() {
        try (NDManager m = TestEngine.manager().newSubManager();
                SdxlVae plain = vae(false, 0);
                SdxlVae tiled = vae(true, 0)) {
            // the golden VAE's sample_size 128 is the tile: a 128² picture fits it
            NDArray z = latents(m, 16, 16);
            assertArrayEquals(plain.decode(m, z).toFloatArray(), tiled.decode(m, z).toFloatArray());
        }
    }

    @Test
    void aTileThatIsNoMultipleOfTheScaleFactorIsNamed() {
        try (NDManager m = TestEngine.manager().newSubManager();
                SdxlVae tiled = vae(true, 36)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> tiled.decode(m, latents(m, 10, 10)));
            assertEquals("options.decoder.tile_size 36 is not a multiple of the VAE's scale factor 8", e.getMessage());
        }
    }

    /**
     * diffusers 0.23's {@code tiled_decode} loop for loop, in place on float arrays, over the untiled decoder's raw
     * output of each tile; then the image mapping of {@code decode}.
     */
    private static float[] reference(SdxlVae vae, NDArray z, int tileSample) {
        int tileLatent = tileSample / 8;
        int overlap = (int) (tileLatent * (1 - 0.25));
        int blendExtent = (int) (tileSample * 0.25);
        int rowLimit = tileSample - blendExtent;
        long height = z.getShape().get(2);
        long width = z.getShape().get(3);
        List<List<float[][][]>> rows = new ArrayList<>();
        for (long i = 0; i < height; i += overlap) {
            List<float[][][]> row = new ArrayList<>();
            for (long j = 0; j < width; j += overlap) {
                NDArray tile = z.get(new NDIndex(":, :, {}:{}, {}:{}", i, Math.min(i + tileLatent, height), j,
                        Math.min(j + tileLatent, width)));
                row.add(raw(vae, tile));
            }
            rows.add(row);
        }
        List<float[][][]> stripes = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            List<float[][][]> row = rows.get(i);
            List<float[][][]> cut = new ArrayList<>();
            for (int j = 0; j < row.size(); j++) {
                float[][][] tile = row.get(j);
                if (i > 0) {
                    blendV(rows.get(i - 1).get(j), tile, blendExtent);
                }
                if (j > 0) {
                    blendH(row.get(j - 1), tile, blendExtent);
                }
                cut.add(crop(tile, rowLimit));
            }
            stripes.add(concatWidth(cut));
        }
        List<Float> out = new ArrayList<>();
        float[][][] image = concatHeight(stripes);
        for (float[][] channel : image) {
            for (float[] line : channel) {
                for (float v : line) {
                    out.add(Math.min(1f, Math.max(0f, v / 2 + 0.5f)));
                }
            }
        }
        float[] result = new float[out.size()];
        for (int k = 0; k < result.length; k++) {
            result[k] = out.get(k);
        }
        return result;
    }

    /** The decoder's raw output (about -1..1) of latents, channel x row x column. */
    private static float[][][] raw(SdxlVae vae, NDArray latents) {
        float[][][][] captured = new float[1][][][];
        try (NDManager m = TestEngine.manager().newSubManager()) {
            vae.decode(m, latents, (name, value) -> {
                if (name.equals("decoder")) {
                    Shape s = value.getShape();
                    float[] v = value.toType(DataType.FLOAT32, false).toFloatArray();
                    int c = (int) s.get(1);
                    int h = (int) s.get(2);
                    int w = (int) s.get(3);
                    float[][][] t = new float[c][h][w];
                    for (int k = 0; k < v.length; k++) {
                        t[k / (h * w)][(k / w) % h][k % w] = v[k];
                    }
                    captured[0] = t;
                }
            });
        }
        return captured[0];
    }

    private static void blendV(float[][][] a, float[][][] b, int extent) {
        int e = Math.min(Math.min(a[0].length, b[0].length), extent);
        for (int c = 0; c < b.length; c++) {
            for (int y = 0; y < e; y++) {
                for (int x = 0; x < b[c][y].length; x++) {
                    b[c][y][x] = a[c][a[c].length - e + y][x] * (float) (1 - y / (double) e)
                            + b[c][y][x] * (float) (y / (double) e);
                }
            }
        }
    }

    private static void blendH(float[][][] a, float[][][] b, int extent) {
        int e = Math.min(Math.min(a[0][0].length, b[0][0].length), extent);
        for (int c = 0; c < b.length; c++) {
            for (int y = 0; y < b[c].length; y++) {
                for (int x = 0; x < e; x++) {
                    b[c][y][x] = a[c][y][a[c][y].length - e + x] * (float) (1 - x / (double) e)
                            + b[c][y][x] * (float) (x / (double) e);
                }
            }
        }
    }

    private static float[][][] crop(float[][][] t, int limit) {
        int h = Math.min(limit, t[0].length);
        int w = Math.min(limit, t[0][0].length);
        float[][][] out = new float[t.length][h][w];
        for (int c = 0; c < t.length; c++) {
            for (int y = 0; y < h; y++) {
                System.arraycopy(t[c][y], 0, out[c][y], 0, w);
            }
        }
        return out;
    }

    private static float[][][] concatWidth(List<float[][][]> tiles) {
        int channels = tiles.get(0).length;
        int h = tiles.get(0)[0].length;
        int w = tiles.stream().mapToInt(t -> t[0][0].length).sum();
        float[][][] out = new float[channels][h][w];
        int x0 = 0;
        for (float[][][] t : tiles) {
            for (int c = 0; c < channels; c++) {
                for (int y = 0; y < h; y++) {
                    System.arraycopy(t[c][y], 0, out[c][y], x0, t[c][y].length);
                }
            }
            x0 += t[0][0].length;
        }
        return out;
    }

    private static float[][][] concatHeight(List<float[][][]> stripes) {
        float[][][] out = new float[stripes.get(0).length][][];
        for (int c = 0; c < out.length; c++) {
            int channel = c;
            out[c] = stripes.stream().flatMap(s -> Arrays.stream(s[channel])).toArray(float[][]::new);
        }
        return out;
    }
}
