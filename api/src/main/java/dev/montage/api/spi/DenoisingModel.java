package dev.montage.api.spi;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.GenerationContext;

import java.util.List;
import java.util.function.Function;

/** The noise predictor (SDXL UNet). */
public interface DenoisingModel {

    /**
     * Latent channels it predicts (4 for SDXL); an inpainting denoiser takes more in (see
     * {@link Dimensions#MASKED_IMAGE_CHANNELS}).
     */
    int latentChannels();

    /** Width of the cross-attention context tokens (2048 for SDXL). */
    int crossAttentionDim();

    /** Every attention layer, in the order of the model's attention processors. */
    List<AttentionLayerSpec> attentionLayers();

    /**
     * Installs a processor per attention layer; called while a pipeline is assembled, before any generation.
     *
     * @param chooser layer name to processor
     */
    void useAttentionProcessors(Function<String, AttentionProcessor> chooser);

    /**
     * Predicts the noise of one step.
     *
     * @return [B, latentChannels, h, w]
     */
    NDArray predictNoise(NDManager manager, DenoisingInput input, GenerationContext ctx);

    /**
     * Called once per generation before its first {@link #predictNoise}, with the context every step passes: the
     * model prepares its attention processors for it ({@link AttentionProcessor#prepare}), so that the first step
     * costs what the later ones do.
     */
    default void prepare(EncoderContext context, GenerationContext ctx) {
    }

    /**
     * The inputs of one UNet call. CFG batches are {@code [uncond, cond]}.
     *
     * @param latents  [B, 4, h, w] scaled model input; an inpainting denoiser's [B, 9, h, w]: the scaled latents, the
     *                 mask (1 where it repaints) and the masked picture's latents
     * @param timestep the scheduler's timestep
     * @param context  what the cross-attention layers attend to: text tokens, and the subjects when present
     * @param pooled   [B, P] pooled text embedding
     * @param timeIds  [B, 6] SDXL micro-conditioning (original size, crop top-left, target size)
     * @param control  ControlNet residuals to add, or {@code null}
     * @param guidance [B, D] the embedding of the guidance scale a guidance-distilled model takes instead of
     *                 classifier-free guidance (D its {@link Dimensions#GUIDANCE_EMBEDDING}), or {@code null}
     */
    record DenoisingInput(NDArray latents, float timestep, EncoderContext context, NDArray pooled, NDArray timeIds,
            ControlResiduals control, NDArray guidance) {

        /** The inputs of a model that takes no guidance embedding (the constructor of API 0.2.4 and before). */
        public DenoisingInput(NDArray latents, float timestep, EncoderContext context, NDArray pooled,
                NDArray timeIds, ControlResiduals control) {
            this(latents, timestep, context, pooled, timeIds, control, null);
        }
    }

    /**
     * Residuals added to the UNet's skip connections and mid block output.
     *
     * @param down one per down-block skip, in order
     * @param mid  added to the mid block output
     */
    record ControlResiduals(List<NDArray> down, NDArray mid) {
        public ControlResiduals {
            down = List.copyOf(down);
        }
    }
}
