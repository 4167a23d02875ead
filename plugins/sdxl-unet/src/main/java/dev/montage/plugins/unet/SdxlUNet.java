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
import dev.montage.api.spi.AttentionLayerSpec;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.EncoderContext;
import dev.montage.nn.Attention;
import dev.montage.nn.Conv2d;
import dev.montage.nn.GroupNorm;
import dev.montage.nn.Weights;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * diffusers' {@code UNet2DConditionModel} as SDXL uses it, driven by the model folder's {@code config.json}:
 * sinusoidal time embedding plus the {@code text_time} embedding of the pooled prompt and the six micro-conditioning
 * ids, {@code conv_in}, down blocks collecting skip connections, the cross-attention mid block, up blocks consuming
 * the skips, {@code conv_norm_out}/SiLU/{@code conv_out}.
 *
 * <p>ControlNet residuals enter as diffusers adds them: the down path runs unchanged, then residual {@code j} is
 * added to skip connection {@code j} and the mid residual to the mid block's output, before the up path.
 *
 * <p>Owns its weights (in its own manager); {@link #close()} releases them. Stateless per generation: every
 * per-call value lives in the call's managers or the {@link GenerationContext}.
 */
public final class SdxlUNet implements DenoisingModel, AutoCloseable {
    private final UNetConfig config;
    /** FreeU's scales, or null for the plain network. */
    private final FreeU freeU;
    private final NDManager weightsManager;
    private final Kernels kernels;
    private final ComputeDType dtype;
    private final Modules modules;
    private final List<Attention> attentionLayers;

    /** The module tree, in diffusers' registration order. */
    private record Modules(TimeConditioning time, Conv2d convIn, List<DownBlock> downBlocks, List<UpBlock> upBlocks,
            MidBlock midBlock, GroupNorm convNormOut, Conv2d convOut) {

        static Modules build(Weights p, UNetConfig config, Kernels kernels) {
            int first = config.blockOutChannels().get(0);
            TimeConditioning time = new TimeConditioning(p, config, kernels);
            Conv2d convIn = Conv2d.same(p, "conv_in", config.inChannels(), first, config.convInKernel());
            List<DownBlock> down = new ArrayList<>();
            List<UpBlock> up = new ArrayList<>();
            for (int level = 0; level < config.levels(); level++) {
                down.add(new DownBlock(p.prefixed("down_blocks." + level), level, config, kernels));
            }
            for (int i = 0; i < config.levels(); i++) {
                up.add(new UpBlock(p.prefixed("up_blocks." + i), i, config, kernels));
            }
            MidBlock mid = new MidBlock(p.prefixed("mid_block"), config, kernels);
            GroupNorm convNormOut = GroupNorm.load(p, "conv_norm_out", first, config.normGroups(),
                    config.normEps());
            Conv2d convOut = Conv2d.same(p, "conv_out", first, config.outChannels(), config.convOutKernel());
            return new Modules(time, convIn, List.copyOf(down), List.copyOf(up), mid, convNormOut, convOut);
        }

        /**
         * Attention layers in diffusers' {@code attn_processors} order, which is module registration order: down
         * blocks, then up blocks, then the mid block (diffusers registers {@code up_blocks} before it assigns
         * {@code mid_block}); inside a transformer block {@code attn1} before {@code attn2}.
         */
        List<Attention> attentionLayers() {
            List<Attention> layers = new ArrayList<>();
            downBlocks.forEach(b -> layers.addAll(b.attentionLayers()));
            upBlocks.forEach(b -> layers.addAll(b.attentionLayers()));
            layers.addAll(midBlock.attentionLayers());
            return List.copyOf(layers);
        }
    }

    /**
     * Loads the UNet of a diffusers {@code unet} folder.
     *
     * @throws IllegalArgumentException naming the file and key of an unsupported or inconsistent configuration, or
     *     listing the tensors the checkpoint lacks or has beyond this architecture
     */
    SdxlUNet(ModelFolder folder, NDManager parent, Kernels kernels, ComputeDType dtype) {
        this(folder, parent, kernels, dtype, null);
    }

    /**
     * Loads the UNet of a diffusers {@code unet} folder.
     *
     * @param freeU FreeU's scales, or null for the plain network
     * @throws IllegalArgumentException as {@link #SdxlUNet(ModelFolder, NDManager, Kernels, ComputeDType)}
     */
    SdxlUNet(ModelFolder folder, NDManager parent, Kernels kernels, ComputeDType dtype, FreeU freeU) {
        this.freeU = freeU;
        this.config = UNetConfig.from(folder.config());
        this.kernels = kernels;
        this.dtype = dtype;
        ModelWeights weights = folder.weights();
        weights.requireExactly(weightShapes(config).keySet());
        this.weightsManager = parent.newSubManager();
        try {
            this.modules = Modules.build(Weights.loading(weights, weightsManager, kernels).preparingLinears(), config,
                    kernels);
        } catch (RuntimeException e) {
            weightsManager.close();
            throw e;
        }
        this.attentionLayers = modules.attentionLayers();
    }

    /**
     * Every tensor of a UNet checkpoint with this configuration, name to shape: the module tree built without
     * weights (and without kernels, which only a forward pass would use).
     */
    static Map<String, long[]> weightShapes(UNetConfig config) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Modules.build(Weights.shapesInto(shapes), config, null);
        return shapes;
    }

    /** The attention layers of a UNet with this configuration, in diffusers' {@code attn_processors} order. */
    static List<AttentionLayerSpec> attentionLayers(UNetConfig config) {
        return Modules.build(Weights.shapesInto(new LinkedHashMap<>()), config, null).attentionLayers().stream()
                .map(Attention::spec).toList();
    }

    UNetConfig config() {
        return config;
    }

    @Override
    public int latentChannels() {
        return config.outChannels();
    }

    @Override
    public int crossAttentionDim() {
        return config.crossAttentionDims().get(config.levels() - 1);
    }

    @Override
    public List<AttentionLayerSpec> attentionLayers() {
        return attentionLayers.stream().map(Attention::spec).toList();
    }

    /**
     * @throws NullPointerException naming the layer for which {@code chooser} returned null
     */
    @Override
    public void useAttentionProcessors(Function<String, AttentionProcessor> chooser) {
        List<AttentionProcessor> chosen = attentionLayers.stream().map(a -> chooser.apply(a.name())).toList();
        for (int i = 0; i < chosen.size(); i++) {
            attentionLayers.get(i).use(chosen.get(i));
        }
    }

    @Override
    public void prepare(EncoderContext context, GenerationContext ctx) {
        attentionLayers.forEach(a -> a.prepare(context, ctx));
    }

    /**
     * @throws IllegalArgumentException when an input's shape does not fit this UNet, or the ControlNet residuals do
     *     not match the skip connections
     */
    @Override
    public NDArray predictNoise(NDManager manager, DenoisingInput input, GenerationContext ctx) {
        Shape latentShape = input.latents().getShape();
        if (latentShape.dimension() != 4 || latentShape.get(1) != config.inChannels()) {
            throw new IllegalArgumentException("UNet latents must be [B, " + config.inChannels() + ", h, w], got "
                    + latentShape);
        }
        long batch = latentShape.get(0);
        Shape contextShape = input.context().text().getShape();
        if (contextShape.dimension() != 3 || contextShape.get(0) != batch
                || contextShape.get(2) != crossAttentionDim()) {
            throw new IllegalArgumentException("UNet text context must be [" + batch + ", S, " + crossAttentionDim()
                    + "], got " + contextShape);
        }
        StageCapture capture = ctx.get(StageCapture.KEY);
        StageRecorder recorder = capture == null ? StageRecorder.NONE : capture;
        try (NDManager scope = manager.newSubManager()) {
            NDArray emb = modules.time().forward(scope, input.timestep(), batch, input.pooled(), input.timeIds(),
                    input.guidance(), dtype, recorder);
            UNetPass pass = new UNetPass(kernels.silu(emb), input.context(), ctx, recorder);

            NDArray h = modules.convIn().forward(toCompute(Scopes.borrow(input.latents(), scope)));
            pass.record("conv_in", h);
            List<NDArray> skips = new ArrayList<>();
            skips.add(h);
            for (DownBlock block : modules.downBlocks()) {
                Cancellation.checkpoint();
                h = block.forward(h, pass, skips);
            }
            h = modules.midBlock().forward(h, pass);
            if (input.control() != null) {
                addResiduals(scope, skips, input.control().down());
                h = h.add(residual(scope, input.control().mid(), h, "mid"));
            }
            Deque<NDArray> remaining = new ArrayDeque<>(skips);
            List<UpBlock> upBlocks = modules.upBlocks();
            for (int i = 0; i < upBlocks.size(); i++) {
                Cancellation.checkpoint();
                UpBlock block = upBlocks.get(i);
                long[] outputSize = null;
                boolean last = i == upBlocks.size() - 1;
                if (!last && !divisibleByTotalDownsampling(latentShape)) {
                    NDArray target = skips.get(remaining.size() - block.skipCount() - 1);
                    outputSize = new long[] {target.getShape().get(2), target.getShape().get(3)};
                }
                h = block.forward(h, remaining, outputSize, pass, freeU);
            }
            h = modules.convNormOut().forward(h);
            pass.record("conv_norm_out", h);
            NDArray out = modules.convOut().forward(kernels.silu(h));
            out.attach(manager);
            return out;
        }
    }

    /** diffusers forwards explicit upsample sizes only when the latents are not a multiple of 2^upsamplers. */
    private boolean divisibleByTotalDownsampling(Shape latents) {
        long factor = 1L << (config.levels() - 1);
        return latents.get(2) % factor == 0 && latents.get(3) % factor == 0;
    }

    private void addResiduals(NDManager scope, List<NDArray> skips, List<NDArray> residuals) {
        if (residuals.size() != skips.size()) {
            throw new IllegalArgumentException("ControlNet gave " + residuals.size()
                    + " down residuals, this UNet has " + skips.size() + " skip connections");
        }
        for (int j = 0; j < skips.size(); j++) {
            NDArray skip = skips.get(j);
            skips.set(j, skip.add(residual(scope, residuals.get(j), skip, "down[" + j + "]")));
        }
    }

    /** The residual in the compute dtype, checked against the tensor it is added to. */
    private NDArray residual(NDManager scope, NDArray residual, NDArray target, String what) {
        if (!residual.getShape().equals(target.getShape())) {
            throw new IllegalArgumentException("ControlNet residual " + what + " has shape " + residual.getShape()
                    + ", the UNet's tensor there is " + target.getShape());
        }
        return toCompute(Scopes.borrow(residual, scope));
    }

    private NDArray toCompute(NDArray x) {
        return kernels.dtypeOf(x) == dtype ? x : kernels.cast(x, dtype);
    }

    @Override
    public void close() {
        weightsManager.close();
    }
}
