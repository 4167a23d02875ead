package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.Cancellation;
import dev.montage.api.GenerationContext;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.Conditioner;
import dev.montage.api.spi.DenoisingModel.ControlResiduals;
import dev.montage.api.spi.DenoisingModel.DenoisingInput;
import dev.montage.api.spi.EncoderContext;
import dev.montage.nn.Conv2d;
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * diffusers' SDXL {@code ControlNetModel}, driven by its folder's {@code config.json}: the UNet's time and
 * {@code text_time} embeddings, {@code conv_in(latents) + controlnet_cond_embedding(control image)}, a copy of the
 * UNet's down blocks and mid block, and one 1x1 "zero" convolution per skip connection
 * ({@code controlnet_down_blocks.<j>}) and for the mid block ({@code controlnet_mid_block}); every residual is
 * multiplied by the conditioning scale.
 *
 * <p>The network cross-attends to whatever context it is given: the pipeline decides whether that is the text
 * tokens only or the text and image tokens (see {@link dev.montage.api.ControlNetContext}). Its attention is plain
 * scaled dot-product attention.
 *
 * <p>Owns its weights (in its own manager); {@link #close()} releases them. Stateless per generation.
 */
public final class SdxlControlNet implements Conditioner, AutoCloseable {
    /** Where a conformance test puts a {@link StageCapture} to receive this network's stage outputs. */
    static final GenerationContext.Key<StageCapture> STAGES = GenerationContext.Key.of("controlnet.stageCapture",
            StageCapture.class);

    private final String type;
    private final ControlNetConfig config;
    private final NDManager weightsManager;
    private final Kernels kernels;
    private final ComputeDType dtype;
    private final TimeConditioning time;
    private final Conv2d convIn;
    private final ControlNetConditioningEmbedding condEmbedding;
    private final List<DownBlock> downBlocks = new ArrayList<>();
    private final MidBlock midBlock;
    private final List<Conv2d> controlnetDownBlocks = new ArrayList<>();
    private final Conv2d controlnetMidBlock;

    private SdxlControlNet(String type, ControlNetConfig config, ModelWeights weights, NDManager parent,
            Kernels kernels, ComputeDType dtype) {
        this.type = type;
        this.config = config;
        this.kernels = kernels;
        this.dtype = dtype;
        weights.requireExactly(weightShapes(config, kernels).keySet());
        this.weightsManager = parent.newSubManager();
        try {
            Weights p = Weights.loading(weights, weightsManager, kernels).preparingLinears();
            UNetConfig unet = config.encoder();
            time = new TimeConditioning(p, unet, kernels);
            convIn = convIn(p, unet);
            condEmbedding = new ControlNetConditioningEmbedding(p.prefixed("controlnet_cond_embedding"), config,
                    unet.blockOutChannels().get(0), kernels);
            for (int level = 0; level < unet.levels(); level++) {
                downBlocks.add(new DownBlock(p.prefixed("down_blocks." + level), level, unet, kernels));
            }
            midBlock = new MidBlock(p.prefixed("mid_block"), unet, kernels);
            List<Integer> skipChannels = skipChannels(unet);
            for (int j = 0; j < skipChannels.size(); j++) {
                controlnetDownBlocks.add(zeroConv(p, "controlnet_down_blocks." + j, skipChannels.get(j)));
            }
            controlnetMidBlock = zeroConv(p, "controlnet_mid_block", unet.blockOutChannels().get(unet.levels() - 1));
        } catch (RuntimeException e) {
            weightsManager.close();
            throw e;
        }
    }

    /**
     * Loads the ControlNet of a diffusers {@code ControlNetModel} folder.
     *
     * @param type    the control type it serves, e.g. {@code canny}
     * @param folder  the folder ({@code config.json} and weights, fp16 variants included)
     * @param parent  the weights live in a sub-manager of it until {@link #close()}
     * @param kernels the host's kernels
     * @param dtype   the compute dtype
     * @throws IllegalArgumentException naming the file and key of an unsupported configuration, or listing the
     *     tensors the checkpoint lacks or has beyond this architecture
     */
    public static SdxlControlNet load(String type, ModelFolder folder, NDManager parent, Kernels kernels,
            ComputeDType dtype) {
        if (type == null || type.isBlank()) {
            throw new IllegalArgumentException("a ControlNet needs the control type it serves (e.g. canny); "
                    + folder.path() + " was given none");
        }
        return new SdxlControlNet(type, ControlNetConfig.from(folder.config()), folder.weights(), parent, kernels,
                dtype);
    }

    /**
     * Every tensor of a ControlNet checkpoint with this configuration: name to shape.
     *
     * @throws IllegalArgumentException naming the file and key of an unsupported configuration
     */
    static Map<String, long[]> weightShapes(ControlNetConfig config, Kernels kernels) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Weights p = Weights.shapesInto(shapes);
        UNetConfig unet = config.encoder();
        new TimeConditioning(p, unet, kernels);
        convIn(p, unet);
        new ControlNetConditioningEmbedding(p.prefixed("controlnet_cond_embedding"), config,
                unet.blockOutChannels().get(0), kernels);
        for (int level = 0; level < unet.levels(); level++) {
            new DownBlock(p.prefixed("down_blocks." + level), level, unet, kernels);
        }
        new MidBlock(p.prefixed("mid_block"), unet, kernels);
        List<Integer> skipChannels = skipChannels(unet);
        for (int j = 0; j < skipChannels.size(); j++) {
            zeroConv(p, "controlnet_down_blocks." + j, skipChannels.get(j));
        }
        zeroConv(p, "controlnet_mid_block", unet.blockOutChannels().get(unet.levels() - 1));
        return shapes;
    }

    /** diffusers' ControlNet always builds a 3x3 {@code conv_in}, whatever {@code conv_in_kernel} says. */
    private static Conv2d convIn(Weights p, UNetConfig unet) {
        return Conv2d.same(p, "conv_in", unet.inChannels(), unet.blockOutChannels().get(0), 3);
    }

    private static Conv2d zeroConv(Weights p, String name, int channels) {
        return Conv2d.load(p, name, channels, channels, 1, 1, 0);
    }

    /**
     * Channels of the skip connections the down path collects, in order: {@code conv_in}, each resnet (+ attention)
     * of each level, and each level's downsampler except the coarsest's. The same as the UNet's.
     */
    private static List<Integer> skipChannels(UNetConfig unet) {
        List<Integer> out = new ArrayList<>();
        out.add(unet.blockOutChannels().get(0));
        for (int level = 0; level < unet.levels(); level++) {
            int channels = unet.blockOutChannels().get(level);
            for (int i = 0; i < unet.layersPerBlock().get(level); i++) {
                out.add(channels);
            }
            if (level < unet.levels() - 1) {
                out.add(channels);
            }
        }
        return out;
    }

    @Override
    public String type() {
        return type;
    }

    ControlNetConfig config() {
        return config;
    }

    @Override
    public void prepare(EncoderContext context, GenerationContext ctx) {
        downBlocks.forEach(b -> b.attentionLayers().forEach(a -> a.prepare(context, ctx)));
        midBlock.attentionLayers().forEach(a -> a.prepare(context, ctx));
    }

    /**
     * @param controlImage [B, conditioning channels, 8h, 8w] (for SDXL's embedding) in 0..1, RGB, rows as the
     *                     latents' rows
     * @throws IllegalArgumentException when an input's shape does not fit this network or the latents
     */
    @Override
    public ControlResiduals residuals(NDManager manager, DenoisingInput input, NDArray controlImage, float scale,
            GenerationContext ctx) {
        UNetConfig unet = config.encoder();
        Shape latents = input.latents().getShape();
        if (latents.dimension() != 4 || latents.get(1) != unet.inChannels()) {
            throw new IllegalArgumentException("ControlNet '" + type + "': latents must be [B, " + unet.inChannels()
                    + ", h, w], got " + latents);
        }
        long batch = latents.get(0);
        int factor = config.imageToLatentFactor();
        Shape expectedImage = new Shape(batch, config.conditioningChannels(), latents.get(2) * factor,
                latents.get(3) * factor);
        if (!controlImage.getShape().equals(expectedImage)) {
            throw new IllegalArgumentException("ControlNet '" + type + "': control image must be " + expectedImage
                    + " for latents " + latents + ", got " + controlImage.getShape());
        }
        Shape context = input.context().text().getShape();
        long contextDim = unet.crossAttentionDims().get(unet.levels() - 1);
        if (context.dimension() != 3 || context.get(0) != batch || context.get(2) != contextDim) {
            throw new IllegalArgumentException("ControlNet '" + type + "': context must be [" + batch + ", S, "
                    + contextDim + "], got " + context);
        }
        StageCapture capture = ctx.get(STAGES);
        StageRecorder recorder = capture == null ? StageRecorder.NONE : capture;
        try (NDManager scope = manager.newSubManager()) {
            NDArray emb = time.forward(scope, input.timestep(), batch, input.pooled(), input.timeIds(), null,
                    dtype, recorder);
            UNetPass pass = new UNetPass(kernels.silu(emb), input.context(), ctx, recorder);
            NDArray sample = toCompute(Scopes.borrow(input.latents(), scope));
            pass.record("sample_in", sample);
            NDArray h = convIn.forward(sample);
            pass.record("conv_in", h);
            NDArray image = toCompute(Scopes.borrow(controlImage, scope));
            NDArray cond = condEmbedding.forward(config.bgr() ? image.flip(1) : image);
            pass.record("controlnet_cond_embedding", cond);
            h = h.add(cond);
            List<NDArray> skips = new ArrayList<>();
            skips.add(h);
            for (DownBlock block : downBlocks) {
                Cancellation.checkpoint();
                h = block.forward(h, pass, skips);
            }
            h = midBlock.forward(h, pass);
            List<NDArray> down = new ArrayList<>();
            for (int j = 0; j < skips.size(); j++) {
                NDArray r = controlnetDownBlocks.get(j).forward(skips.get(j)).mul(scale);
                pass.record("down." + j, r);
                down.add(r);
            }
            NDArray mid = controlnetMidBlock.forward(h).mul(scale);
            pass.record("mid", mid);
            down.forEach(r -> r.attach(manager));
            mid.attach(manager);
            return new ControlResiduals(down, mid);
        }
    }

    private NDArray toCompute(NDArray x) {
        return kernels.dtypeOf(x) == dtype ? x : kernels.cast(x, dtype);
    }

    @Override
    public void close() {
        weightsManager.close();
    }
}
