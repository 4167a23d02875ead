package dev.montage.plugins.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.image.PilResampler;
import dev.montage.api.image.ResampleFilter;
import dev.montage.api.image.RgbImage;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;

/**
 * Subject pictures to CLIP pixel values, as MS-Diffusion's inference script and transformers'
 * {@code CLIPImageProcessor} compute them, value for value.
 *
 * <ol>
 *   <li>RGB as Pillow's {@code convert("RGB")} (or per {@link ImagePreparation}: alpha composited, padded to a
 *       square), then a bicubic resize to {@value #SUBJECT_SIZE}x{@value #SUBJECT_SIZE} (the script's step);</li>
 *   <li>resize so that the shortest side is {@code size.shortest_edge} (or to {@code size.height} x
 *       {@code size.width}) with the configured Pillow filter, on 8-bit pixels;</li>
 *   <li>centre crop to {@code crop_size} (top = (h - crop_h) // 2, left likewise, zero-padded where the picture is
 *       smaller);</li>
 *   <li>{@code v * rescale_factor} in double, rounded to float, then {@code (x - mean) / std} in float.</li>
 * </ol>
 *
 * <p>Settings come from {@code preprocessor_config.json}; absent keys, or the whole file, default to CLIP's
 * (224 px, bicubic, OpenAI CLIP mean and std). Immutable and safe to share between threads.
 */
public final class ClipImageProcessor {
    /** The side of the square subject picture MS-Diffusion's inference script hands to the CLIP processor. */
    public static final int SUBJECT_SIZE = 512;

    /** transformers' {@code OPENAI_CLIP_MEAN}. */
    private static final double[] CLIP_MEAN = {0.48145466, 0.4578275, 0.40821073};
    /** transformers' {@code OPENAI_CLIP_STD}. */
    private static final double[] CLIP_STD = {0.26862954, 0.26130258, 0.27577711};
    private static final String CONFIG_FILE = "preprocessor_config.json";
    private static final int MAX_SIDE = 4096;

    private final ImagePreparation preparation;
    private final boolean resize;
    private final int shortestEdge;
    private final int resizeHeight;
    private final int resizeWidth;
    private final ResampleFilter filter;
    private final boolean centerCrop;
    private final int cropHeight;
    private final int cropWidth;
    private final boolean rescale;
    private final double rescaleFactor;
    private final boolean normalize;
    private final float[] mean;
    private final float[] std;

    private ClipImageProcessor(ModelConfig c, ImagePreparation preparation) {
        this.preparation = preparation;
        this.resize = c.getBoolean("do_resize", true);
        int[] size = size(c, "size", Map.of("shortest_edge", 224), true);
        this.shortestEdge = size.length == 1 ? size[0] : 0;
        this.resizeHeight = size.length == 2 ? size[0] : 0;
        this.resizeWidth = size.length == 2 ? size[1] : 0;
        this.filter = ResampleFilter.fromPilId(c.getInt("resample", 3), c.source());
        this.centerCrop = c.getBoolean("do_center_crop", true);
        int[] crop = size(c, "crop_size", Map.of("height", 224, "width", 224), false);
        this.cropHeight = crop[0];
        this.cropWidth = crop[1];
        this.rescale = c.getBoolean("do_rescale", true);
        this.rescaleFactor = c.getDouble("rescale_factor", 1.0 / 255);
        this.normalize = c.getBoolean("do_normalize", true);
        this.mean = perChannel(c, "image_mean", CLIP_MEAN);
        this.std = perChannel(c, "image_std", CLIP_STD);
    }

    /** CLIP's defaults: shortest side to 224 (bicubic), centre crop 224, 1/255, OpenAI CLIP mean and std. */
    public static ClipImageProcessor clipDefaults(ImagePreparation preparation) {
        return fromConfig(new ModelConfig("CLIP image processor defaults", Map.of()), preparation);
    }

    /** The settings of a {@code preprocessor_config.json}, CLIP's defaults for absent keys. */
    public static ClipImageProcessor fromConfig(ModelConfig config, ImagePreparation preparation) {
        return new ClipImageProcessor(config, preparation);
    }

    /** The model folder's {@code preprocessor_config.json}, or CLIP's defaults when it has none. */
    public static ClipImageProcessor forModel(ModelFolder folder, ImagePreparation preparation) {
        return Files.isRegularFile(folder.path().resolve(CONFIG_FILE))
                ? fromConfig(folder.json(CONFIG_FILE), preparation)
                : clipDefaults(preparation);
    }

    /** Rows of the pixel values. */
    public int height() {
        return centerCrop ? cropHeight : resizedSide(resizeHeight);
    }

    /** Columns of the pixel values. */
    public int width() {
        return centerCrop ? cropWidth : resizedSide(resizeWidth);
    }

    /** A side of the picture after step 2, given the configured side of a fixed-size resize. */
    private int resizedSide(int fixed) {
        if (!resize) {
            return SUBJECT_SIZE;
        }
        return shortestEdge > 0 ? shortestEdge : fixed;
    }

    /** The {@value #SUBJECT_SIZE}-pixel square RGB picture CLIP preprocessing starts from (step 1). */
    public BufferedImage subjectPicture(BufferedImage image) {
        return prepare(image).toBufferedImage();
    }

    /**
     * Pixel values of one picture.
     *
     * @return [3, {@link #height()}, {@link #width()}] row-major
     */
    public float[] pixelValues(BufferedImage image) {
        RgbImage rgb = clipResize(prepare(image));
        int h = height();
        int w = width();
        int top = centerCrop ? Math.floorDiv(rgb.height() - h, 2) : 0;
        int left = centerCrop ? Math.floorDiv(rgb.width() - w, 2) : 0;
        float[] out = new float[3 * h * w];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int sy = top + y;
                    int sx = left + x;
                    // transformers pads a picture smaller than the crop with zeros (before rescaling)
                    boolean inside = sy >= 0 && sy < rgb.height() && sx >= 0 && sx < rgb.width();
                    out[(c * h + y) * w + x] = value(inside ? rgb.get(sx, sy, c) : 0, c);
                }
            }
        }
        return out;
    }

    /**
     * Pixel values of a batch, in float32.
     *
     * @return [N, 3, {@link #height()}, {@link #width()}] on the manager's device
     */
    public NDArray pixelValues(NDManager manager, List<BufferedImage> images) {
        if (images.isEmpty()) {
            throw new IllegalArgumentException("no pictures to preprocess");
        }
        int per = 3 * height() * width();
        float[] all = new float[images.size() * per];
        for (int i = 0; i < images.size(); i++) {
            float[] one;
            try {
                one = pixelValues(images.get(i));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("subject picture " + i + ": " + e.getMessage(), e);
            }
            System.arraycopy(one, 0, all, i * per, per);
        }
        return manager.create(all, new Shape(images.size(), 3, height(), width()));
    }

    private RgbImage prepare(BufferedImage image) {
        RgbImage rgb = RgbImage.of(image, preparation.alphaBackground().orElse(null));
        if (preparation.padColor().isPresent()) {
            rgb = rgb.padToSquare(preparation.padColor().get());
        }
        return PilResampler.resize(rgb, SUBJECT_SIZE, SUBJECT_SIZE, ResampleFilter.BICUBIC);
    }

    private RgbImage clipResize(RgbImage square) {
        // step 1 made the picture square, so resizing its shortest edge resizes both
        return resize ? PilResampler.resize(square, resizedSide(resizeWidth), resizedSide(resizeHeight), filter) : square;
    }

    private float value(int v, int c) {
        float x = rescale ? (float) (v * rescaleFactor) : v;
        return normalize ? (x - mean[c]) / std[c] : x;
    }

    /**
     * A size as transformers' {@code get_size_dict} reads it: an integer (the shortest edge for {@code size},
     * both sides for {@code crop_size}), {@code {shortest_edge}} or {@code {height, width}}.
     *
     * @return {shortest edge} or {height, width}
     */
    private static int[] size(ModelConfig c, String key, Map<String, Object> defaults, boolean shortestEdgeAllowed) {
        Object raw = c.asMap().get(key);
        if (raw instanceof Number) {
            int n = c.getInt(key);
            return positive(c, key, shortestEdgeAllowed ? new int[] {n} : new int[] {n, n});
        }
        ModelConfig s = c.getObject(key).orElseGet(() -> new ModelConfig(c.source() + "#" + key, defaults));
        if (s.has("height") && s.has("width")) {
            return positive(c, key, new int[] {s.getInt("height"), s.getInt("width")});
        }
        if (shortestEdgeAllowed && s.has("shortest_edge")) {
            return positive(c, key, new int[] {s.getInt("shortest_edge")});
        }
        throw new IllegalArgumentException(c.source() + ": '" + key + "' must be an integer or an object with "
                + (shortestEdgeAllowed ? "'shortest_edge' or " : "") + "'height' and 'width', got " + raw);
    }

    /** Sides up to {@value #MAX_SIDE} pixels: CLIP's are 224 or 336, and pictures are resized to them first. */
    private static int[] positive(ModelConfig c, String key, int[] sides) {
        for (int side : sides) {
            c.inRange(key, side, 1, MAX_SIDE);
        }
        return sides;
    }

    /** mean / std: a number for every channel or a list of 3, as float32 like transformers' normalize. */
    private static float[] perChannel(ModelConfig c, String key, double[] defaults) {
        Object raw = c.asMap().get(key);
        double[] values = defaults;
        if (raw instanceof Number n) {
            values = new double[] {n.doubleValue(), n.doubleValue(), n.doubleValue()};
        } else if (raw instanceof List<?> list && list.size() == 3 && list.stream().allMatch(Number.class::isInstance)) {
            values = list.stream().mapToDouble(o -> ((Number) o).doubleValue()).toArray();
        } else if (raw != null) {
            throw new IllegalArgumentException(c.source() + ": '" + key + "' must be a number or a list of 3 numbers, "
                    + "got " + raw);
        }
        float[] out = new float[3];
        for (int i = 0; i < 3; i++) {
            out[i] = (float) values[i];
            if (key.equals("image_std") && out[i] == 0f) {
                throw new IllegalArgumentException(c.source() + ": 'image_std' must not contain 0");
            }
        }
        return out;
    }
}
