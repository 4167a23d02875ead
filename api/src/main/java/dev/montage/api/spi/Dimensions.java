package dev.montage.api.spi;

import dev.montage.api.host.ModelConfig;
import java.util.ArrayList;
import java.util.List;

/**
 * The named sizes a component provides to the other components of a pipeline and the ones it expects from them,
 * read from configuration files only ({@code config.json} and friends), so that a host can tell that an assembly does
 * not fit before any weight is read. The host checks every expected value against every provided value of the same
 * name; a name nobody provides is not checked.
 *
 * <p>The names the built-in components use are the constants of this class; a plugin may use its own.
 */
public final class Dimensions {
    /** Width of the text tokens the denoiser cross-attends to ({@code cross_attention_dim}). */
    public static final String TEXT_HIDDEN = "text.hidden";
    /** Width of the pooled text embedding added to the time embedding. */
    public static final String TEXT_POOLED = "text.pooled";
    /** Number of text tokens at the start of the cross-attention context. */
    public static final String TEXT_TOKENS = "text.tokens";
    /** Width of a subject phrase embedding ({@link TextEncoder#encodePhrases}). */
    public static final String PHRASE_WIDTH = "phrase.width";
    /** Width of the image encoder's subject tokens. */
    public static final String IMAGE_HIDDEN = "image.hidden";
    /** Width of the image encoder's projected image embedding ({@link ImageEncoder.Features#IMAGE_EMBEDS}). */
    public static final String IMAGE_EMBEDS = "image.embeds";
    /** Width of the resampler's subject tokens, which share the cross-attention context with the text tokens. */
    public static final String SUBJECT_WIDTH = "subject.width";
    /** Channels of the latents the denoiser works on and the decoder decodes. */
    public static final String LATENT_CHANNELS = "latent.channels";
    /**
     * Width of the guidance-scale embedding a guidance-distilled denoiser takes ({@code time_cond_proj_dim}, as
     * LCM-SDXL's UNet has it). Where the denoiser provides it, the host runs no classifier-free guidance: one pass per
     * step, and the embedding of (guidance scale − 1) in {@link DenoisingModel.DenoisingInput#guidance()}.
     */
    public static final String GUIDANCE_EMBEDDING = "guidance.embedding";
    /**
     * Channels of the masked picture's latents an inpainting denoiser takes beside the latents and the mask (its
     * {@code in_channels} = 2 × latent channels + 1, as diffusers' inpainting UNets). Where the denoiser provides it,
     * the host hands it the scaled latents, the mask and the masked picture's latents concatenated along the channels.
     */
    public static final String MASKED_IMAGE_CHANNELS = "masked_image.channels";
    /** Channels of a control image as the host hands it to a ControlNet (RGB). */
    public static final String CONTROL_CHANNELS = "control.channels";

    /** What a component that does not describe itself declares: nothing. */
    public static final Dimensions NONE = new Dimensions(List.of(), List.of());

    /**
     * One named size.
     *
     * @param name   e.g. {@link #TEXT_HIDDEN}
     * @param value  the size
     * @param source where it comes from, for messages: a file and key, or a fixed property of the component
     */
    public record Value(String name, int value, String source) {
    }

    private final List<Value> provided;
    private final List<Value> expected;

    private Dimensions(List<Value> provided, List<Value> expected) {
        this.provided = List.copyOf(provided);
        this.expected = List.copyOf(expected);
    }

    /** A builder of a component's dimensions. */
    public static Builder builder() {
        return new Builder();
    }

    /** The sizes the component gives the others. */
    public List<Value> provided() {
        return provided;
    }

    /** The sizes the component needs the others to give. */
    public List<Value> expected() {
        return expected;
    }

    /** Collects provided and expected sizes. */
    public static final class Builder {
        private final List<Value> provided = new ArrayList<>();
        private final List<Value> expected = new ArrayList<>();

        private Builder() {
        }

        /** Provides a size from a fixed property or a computation ({@code source} says which). */
        public Builder provides(String name, int value, String source) {
            provided.add(new Value(name, value, source));
            return this;
        }

        /** Provides the integer under {@code key} of a configuration file. */
        public Builder provides(String name, ModelConfig config, String key) {
            return provides(name, config.getInt(key), describe(config, key));
        }

        /** Expects a size from a fixed property or a computation ({@code source} says which). */
        public Builder expects(String name, int value, String source) {
            expected.add(new Value(name, value, source));
            return this;
        }

        /** Expects the integer under {@code key} of a configuration file. */
        public Builder expects(String name, ModelConfig config, String key) {
            return expects(name, config.getInt(key), describe(config, key));
        }

        /** The collected sizes. */
        public Dimensions build() {
            return new Dimensions(provided, expected);
        }

        /** How a configuration value is named in messages: {@code <file> 'key'}. */
        public static String describe(ModelConfig config, String key) {
            return config.source() + " '" + key + "'";
        }
    }
}
