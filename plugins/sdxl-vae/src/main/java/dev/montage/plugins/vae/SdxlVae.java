package dev.montage.plugins.vae;

import static dev.montage.api.host.Scopes.replace;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.LatentDecoder;
import dev.montage.nn.Conv2d;
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * diffusers' {@code AutoencoderKL} (the SDXL VAE) from a {@code vae/} folder: {@code post_quant_conv} and the
 * decoder for {@link #decode}, and, loaded on first use, the encoder and {@code quant_conv} for
 * {@link #encode} (image-to-image).
 *
 * <p>It computes in the pipeline's dtype unless {@link VaeOptions.Upcast} says float32 (by default: float16
 * compute with {@code force_upcast}, as diffusers 0.23's SDXL pipelines do). Upcast weights are the host's
 * compute-dtype tensors widened to float32, which is exactly what diffusers' {@code upcast_vae} does with a
 * pipeline loaded in float16. Owns its weights; {@link #close()} releases them. Stateless per call, so
 * concurrent generations may share it.
 */
final class SdxlVae implements LatentDecoder, AutoCloseable {
    /** The share of a tile that overlaps its neighbours in a tiled decode, diffusers' {@code tile_overlap_factor}. */
    private static final double TILE_OVERLAP = 0.25;
    private final VaeConfig config;
    private final VaeOptions options;
    private final ComputeDType dtype;
    private final Kernels kernels;
    private final ModelWeights weights;
    private final NDManager weightsManager;
    private final Conv2d postQuantConv;
    private final Decoder decoder;

    /**
     * The encoder half, loaded for each encoding into the call's scope: text-to-image never encodes, and the
     * component's manager holds the decoder's weights alone.
     */
    private record EncodePath(Encoder encoder, Conv2d quantConv) {
        NDArray forward(NDArray x) {
            NDArray h = encoder.forward(x);
            return quantConv == null ? h : replace(h, quantConv.forward(h));
        }
    }

    /**
     * @param folder       the {@code vae/} component folder
     * @param parent       the weights' manager becomes a sub-manager of it
     * @param computeDType the pipeline's compute dtype (the folder hands out weights in it)
     */
    SdxlVae(ModelFolder folder, NDManager parent, Kernels kernels, ComputeDType computeDType, VaeOptions options) {
        this.config = VaeConfig.from(folder.config());
        this.options = options;
        this.dtype = options.upcast().dtypeFor(computeDType, config.forceUpcast());
        this.kernels = kernels;
        this.weights = folder.weights();
        this.weightsManager = parent.newSubManager();
        try {
            Weights w = Weights.loading(weights, weightsManager, kernels).castTo(dtype);
            int latent = config.latentChannels();
            postQuantConv = config.usePostQuantConv() ? Conv2d.pointwise(w, "post_quant_conv", latent, latent) : null;
            decoder = new Decoder(w.prefixed("decoder"), config);
            w.requireAllUsed("decoder", "post_quant_conv");
        } catch (RuntimeException e) {
            weightsManager.close();
            throw e;
        }
    }

    VaeConfig config() {
        return config;
    }

    /** The dtype this VAE computes in. */
    ComputeDType dtype() {
        return dtype;
    }

    @Override
    public int scaleFactor() {
        return config.scaleFactor();
    }

    @Override
    public NDArray decode(NDManager manager, NDArray latents) {
        return decode(manager, latents, StageProbe.NONE);
    }

    /**
     * {@link #decode(NDManager, NDArray)} reporting {@code z} (latents / scaling factor, in the VAE's dtype),
     * {@code post_quant_conv}, the decoder's stages and {@code decoder} (its raw output, about -1..1).
     */
    NDArray decode(NDManager manager, NDArray latents, StageProbe probe) {
        requireImageBatch(latents, config.latentChannels(), 1, "latents");
        long batch = latents.getShape().get(0);
        try (NDManager scope = manager.newSubManager()) {
            NDArray input = Scopes.borrow(latents, scope);
            NDArray image;
            if (options.slicing() && batch > 1) {
                NDList images = new NDList();
                for (long i = 0; i < batch; i++) {
                    images.add(decodeBatch(input.get(new NDIndex("{}:{}", i, i + 1)), probe));
                }
                image = NDArrays.concat(images, 0);
            } else {
                image = decodeBatch(input, probe);
            }
            image.attach(manager);
            return image;
        }
    }

    private NDArray decodeBatch(NDArray latents, StageProbe probe) {
        NDArray z = kernels.cast(latents, dtype);
        z = replace(z, z.div(config.scalingFactor()));
        probe.stage("z", z);
        if (postQuantConv != null) {
            z = replace(z, postQuantConv.forward(z));
            probe.stage("post_quant_conv", z);
        }
        int latentTile = tileSize() / config.scaleFactor();
        NDArray decoded = replace(z, exceeds(z, latentTile)
                ? tiled(z, latentTile, tileSize(), tile -> decoder.forward(tile, StageProbe.NONE))
                : decoder.forward(z, probe));
        probe.stage("decoder", decoded);
        return decoded.toType(DataType.FLOAT32, false).div(2).add(0.5).clip(0, 1);
    }

    /** The side of a tile in pixels: the option's, else the VAE's {@code sample_size}. */
    private int tileSize() {
        int tile = options.tileSize() > 0 ? options.tileSize() : config.sampleSize();
        if (tile % config.scaleFactor() != 0) {
            throw new IllegalArgumentException("options.decoder.tile_size " + tile + " is not a multiple of the VAE's "
                    + "scale factor " + config.scaleFactor());
        }
        return tile;
    }

    /** Whether the options ask for tiles and an image batch exceeds one tile of {@code tile} along either side. */
    private boolean exceeds(NDArray x, int tile) {
        Shape shape = x.getShape();
        return options.tiling() && (shape.get(2) > tile || shape.get(3) > tile);
    }

    /**
     * diffusers' {@code AutoencoderKL.tiled_decode} and {@code tiled_encode}: input tiles of {@code inTile} a quarter
     * overlapping, each run through {@code forward} alone to a tile of {@code outTile}; each output tile blended into
     * the one above and the one to its left over a quarter of {@code outTile}, then cut to {@code outTile - blend} and
     * laid side by side. The output tiles are kept (the output's size); the activations are those of one tile.
     */
    private NDArray tiled(NDArray input, int inTile, int outTile, UnaryOperator<NDArray> forward) {
        int stride = (int) (inTile * (1 - TILE_OVERLAP));
        int blend = (int) (outTile * TILE_OVERLAP);
        int limit = outTile - blend;
        long height = input.getShape().get(2);
        long width = input.getShape().get(3);
        NDManager caller = input.getManager();
        List<List<NDArray>> rows = new ArrayList<>();
        NDList stripes = new NDList();
        try {
            for (long i = 0; i < height; i += stride) {
                List<NDArray> row = new ArrayList<>();
                for (long j = 0; j < width; j += stride) {
                    try (NDManager scope = caller.newSubManager()) {
                        NDArray out = forward.apply(Scopes.borrow(input, scope).get(new NDIndex(
                                ":, :, {}:{}, {}:{}", i, Math.min(i + inTile, height), j, Math.min(j + inTile, width))));
                        out.attach(caller);
                        row.add(out);
                    }
                }
                rows.add(row);
            }
            for (int i = 0; i < rows.size(); i++) {
                List<NDArray> row = rows.get(i);
                for (int j = 0; j < row.size(); j++) {
                    // the blended tile replaces the tile: the next row and tile blend with it, as diffusers' in-place
                    // blends do
                    if (i > 0) {
                        row.set(j, replace(row.get(j), blend(rows.get(i - 1).get(j), row.get(j), blend, 2)));
                    }
                    if (j > 0) {
                        row.set(j, replace(row.get(j), blend(row.get(j - 1), row.get(j), blend, 3)));
                    }
                }
                try (NDManager scope = caller.newSubManager()) {
                    NDList cut = new NDList();
                    row.forEach(t -> cut.add(Scopes.borrow(t, scope).get(new NDIndex(":, :, :{}, :{}", limit, limit))));
                    NDArray stripe = NDArrays.concat(cut, 3);
                    stripe.attach(caller);
                    stripes.add(stripe);
                }
            }
            return NDArrays.concat(stripes, 2);
        } finally {
            rows.forEach(row -> row.forEach(NDArray::close));
            stripes.forEach(NDArray::close);
        }
    }

    /**
     * {@code b} with its first {@code extent} rows ({@code axis} 2) or columns (3) faded in from the last ones of
     * {@code a}, diffusers' {@code blend_v} and {@code blend_h}: {@code b}'s row {@code y} weighs {@code y / extent},
     * {@code a}'s the rest.
     */
    private NDArray blend(NDArray a, NDArray b, int extent, int axis) {
        int e = (int) Math.min(Math.min(a.getShape().get(axis), b.getShape().get(axis)), extent);
        if (e == 0) {
            return b.duplicate();
        }
        NDManager caller = b.getManager();
        try (NDManager scope = caller.newSubManager()) {
            float[] ours = new float[e];
            float[] theirs = new float[e];
            for (int y = 0; y < e; y++) {
                ours[y] = (float) (y / (double) e);
                theirs[y] = (float) (1 - y / (double) e);
            }
            Shape weights = axis == 2 ? new Shape(1, 1, e, 1) : new Shape(1, 1, 1, e);
            NDArray bs = Scopes.borrow(b, scope);
            // the host's cast: DJL cannot be handed bf16
            NDArray faded = Scopes.borrow(a, scope).get(along(axis, "{}:"), a.getShape().get(axis) - e)
                    .mul(kernels.cast(scope.create(theirs, weights), dtype))
                    .add(bs.get(along(axis, ":{}"), e).mul(kernels.cast(scope.create(ours, weights), dtype)));
            NDArray blended = NDArrays.concat(new NDList(faded, bs.get(along(axis, "{}:"), e)), axis);
            blended.attach(caller);
            return blended;
        }
    }

    /** An index of an image batch taking {@code range} along {@code axis} (2 or 3) and everything else. */
    private static String along(int axis, String range) {
        return axis == 2 ? ":, :, " + range + ", :" : ":, :, :, " + range;
    }

    /** SDXL's linear latent-to-RGB map ({@link LatentPreview}), for latents of its four channels. */
    @Override
    public Optional<NDArray> preview(NDManager manager, NDArray latents) {
        if (config.latentChannels() != LatentPreview.CHANNELS) {
            return Optional.empty();
        }
        requireImageBatch(latents, LatentPreview.CHANNELS, 1, "latents");
        return Optional.of(LatentPreview.rgb(manager, latents));
    }

    /**
     * Computed in the dtype decoding uses (the upcast policy applies alike), the moments in float32; the encoder's
     * weights are read for the call and released with it. The decoder's options apply as diffusers' {@code encode}
     * applies them: with tiling, pictures larger than a tile are encoded in tiles ({@code tiled_encode}); with
     * slicing, the images of a batch one by one.
     */
    @Override
    public LatentDecoder.Posterior encode(NDManager manager, NDArray images) {
        requireImageBatch(images, config.inChannels(), scaleFactor(), "images");
        try (NDManager scope = manager.newSubManager()) {
            EncodePath path = encodePath(scope);
            NDArray x = kernels.cast(Scopes.borrow(images, scope), dtype);
            x = replace(x, x.mul(2).sub(1));
            long batch = x.getShape().get(0);
            NDArray encoded;
            if (exceeds(x, tileSize())) {
                encoded = tiled(x, tileSize(), tileSize() / config.scaleFactor(), path::forward);
            } else if (options.slicing() && batch > 1) {
                NDList slices = new NDList();
                for (long i = 0; i < batch; i++) {
                    slices.add(path.forward(x.get(new NDIndex("{}:{}", i, i + 1))));
                }
                encoded = NDArrays.concat(slices, 0);
            } else {
                encoded = path.forward(x);
            }
            NDArray moments = replace(x, encoded).toType(DataType.FLOAT32, false);
            NDList halves = moments.split(2, 1);
            NDArray mean = halves.get(0);
            NDArray std = halves.get(1).clip(-30, 20).mul(0.5).exp();
            mean.attach(manager);
            std.attach(manager);
            return new LatentDecoder.Posterior(mean, std, config.scalingFactor());
        }
    }

    private EncodePath encodePath(NDManager scope) {
        Weights w = Weights.loading(weights, scope, kernels).castTo(dtype);
        int moments = 2 * config.latentChannels();
        Conv2d quantConv = config.useQuantConv() ? Conv2d.pointwise(w, "quant_conv", moments, moments) : null;
        Encoder encoder = new Encoder(w.prefixed("encoder"), config);
        w.requireAllUsed("encoder", "quant_conv");
        return new EncodePath(encoder, quantConv);
    }

    private static void requireImageBatch(NDArray x, int channels, int multiple, String what) {
        Shape s = x.getShape();
        if (s.dimension() != 4 || s.get(1) != channels || s.get(0) < 1 || s.get(2) % multiple != 0
                || s.get(3) % multiple != 0) {
            throw new IllegalArgumentException(what + " must be [B, " + channels + ", H, W]"
                    + (multiple > 1 ? " with H and W multiples of " + multiple : "") + ", got " + s);
        }
    }

    @Override
    public void close() {
        weightsManager.close();
    }
}
