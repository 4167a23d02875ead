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
import java.util.Optional;

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
    private final VaeConfig config;
    private final VaeOptions options;
    private final ComputeDType dtype;
    private final Kernels kernels;
    private final ModelWeights weights;
    private final NDManager weightsManager;
    private final Conv2d postQuantConv;
    private final Decoder decoder;
    private EncodePath encodePath;

    /** The encoder half, built when first needed: text-to-image never encodes. */
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
        NDArray decoded = replace(z, decoder.forward(z, probe));
        probe.stage("decoder", decoded);
        return decoded.toType(DataType.FLOAT32, false).div(2).add(0.5).clip(0, 1);
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
     * Encodes images for image-to-image.
     *
     * @param images [B, 3, H, W] in 0..1 (H, W multiples of {@link #scaleFactor()})
     * @return the posterior, attached to {@code manager}
     */
    LatentDistribution encode(NDManager manager, NDArray images) {
        requireImageBatch(images, config.inChannels(), scaleFactor(), "images");
        EncodePath path = encodePath();
        try (NDManager scope = manager.newSubManager()) {
            NDArray x = kernels.cast(Scopes.borrow(images, scope), dtype);
            x = replace(x, x.mul(2).sub(1));
            NDArray moments = replace(x, path.forward(x)).toType(DataType.FLOAT32, false);
            NDList halves = moments.split(2, 1);
            NDArray mean = halves.get(0);
            NDArray std = halves.get(1).clip(-30, 20).mul(0.5).exp();
            mean.attach(manager);
            std.attach(manager);
            return new LatentDistribution(mean, std, config.scalingFactor());
        }
    }

    private synchronized EncodePath encodePath() {
        if (encodePath == null) {
            Weights w = Weights.loading(weights, weightsManager, kernels).castTo(dtype);
            int moments = 2 * config.latentChannels();
            Conv2d quantConv = config.useQuantConv() ? Conv2d.pointwise(w, "quant_conv", moments, moments) : null;
            Encoder encoder = new Encoder(w.prefixed("encoder"), config);
            w.requireAllUsed("encoder", "quant_conv");
            encodePath = new EncodePath(encoder, quantConv);
        }
        return encodePath;
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
