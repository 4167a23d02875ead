package dev.montage.api;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import java.util.stream.IntStream;

/**
 * Perturbed-attention guidance (Ahn et al. 2024; diffusers' PAG pipelines, ComfyUI's PerturbedAttentionGuidance): each
 * step also predicts the noise with the self-attention of the chosen layers replaced by the identity (each position
 * attends to itself alone, so a layer gives its value projection), and moves the prediction away from that perturbed
 * one: ε = ε_cfg + s_t · (ε_cond − ε_perturbed), where ε_cfg is the classifier-free guided prediction (the conditional
 * one without guidance) and s_t = max(0, scale − adaptiveScale · (1000 − t)) at timestep t. It costs one batch row per
 * image more in every step.
 *
 * @param scale         s, &gt; 0 (diffusers' {@code pag_scale}, 3 by default there)
 * @param adaptiveScale how much s shrinks per unit of timestep below 1000, &ge; 0; 0 keeps s at every step
 *                      (diffusers' {@code pag_adaptive_scale})
 * @param layers        the self-attention layers perturbed: regular expressions, each found in the dotted name of at
 *                      least one self-attention layer of the denoiser (diffusers' {@code pag_applied_layers});
 *                      {@link #DEFAULT_LAYERS} when empty
 */
public record PerturbedAttention(double scale, double adaptiveScale, List<String> layers) {

    /** diffusers' default: the self-attention layers of the UNet's middle block. */
    public static final List<String> DEFAULT_LAYERS = List.of("mid");

    /** The most patterns: a model has fewer self-attention layers than this. */
    public static final int MAX_LAYERS = 256;

    /** The longest pattern, in characters: far longer than a dotted layer name. */
    public static final int MAX_PATTERN_LENGTH = 256;

    /**
     * @throws InvalidRequestException naming {@code perturbedAttention.scale}, {@code .adaptiveScale} or
     *     {@code .layers[i]}
     */
    public PerturbedAttention {
        layers = Objects.requireNonNullElse(layers, List.of());
        List<FieldError> errors = new ArrayList<>();
        if (!(scale > 0 && Double.isFinite(scale))) {
            errors.add(new FieldError("perturbedAttention.scale", "must be a finite number > 0, got " + scale));
        }
        if (!(adaptiveScale >= 0 && Double.isFinite(adaptiveScale))) {
            errors.add(new FieldError("perturbedAttention.adaptiveScale", "must be a finite number >= 0 (0 for a "
                    + "constant scale), got " + adaptiveScale));
        }
        if (layers.size() > MAX_LAYERS) {
            errors.add(new FieldError("perturbedAttention.layers", "must be at most " + MAX_LAYERS + " patterns, got "
                    + layers.size()));
        }
        for (int i = 0; i < Math.min(layers.size(), MAX_LAYERS); i++) {
            String layer = layers.get(i);
            String field = "perturbedAttention.layers[" + i + "]";
            if (layer == null || layer.isBlank()) {
                errors.add(new FieldError(field, "must be a regular expression found in layer names, got "
                        + (layer == null ? "null" : "a blank string")));
                continue;
            }
            if (layer.length() > MAX_PATTERN_LENGTH) {
                errors.add(new FieldError(field, "must be at most " + MAX_PATTERN_LENGTH + " characters, got "
                        + layer.length()));
                continue;
            }
            try {
                Pattern.compile(layer);
            } catch (PatternSyntaxException e) {
                errors.add(new FieldError(field, "is not a regular expression: " + e.getDescription() + " in '"
                        + layer + "'"));
            }
        }
        if (!errors.isEmpty()) {
            throw new InvalidRequestException(errors);
        }
        layers = layers.isEmpty() ? DEFAULT_LAYERS : List.copyOf(layers);
    }

    /** Guidance of {@code scale} on {@link #DEFAULT_LAYERS}, the same at every step. */
    public static PerturbedAttention of(double scale) {
        return new PerturbedAttention(scale, 0, List.of());
    }

    /** s_t: the scale at timestep {@code t}, never below 0. */
    public double scaleAt(double t) {
        return adaptiveScale == 0 ? scale : Math.max(0, scale - adaptiveScale * (1000 - t));
    }

    /** Whether a self-attention layer of this name is perturbed: one of {@link #layers} is found in it. */
    public boolean perturbs(String layerName) {
        return IntStream.range(0, layers.size()).anyMatch(i -> finds(i, layerName));
    }

    /**
     * Whether pattern {@code index} of {@link #layers} is found in a layer's name.
     *
     * @throws InvalidRequestException naming {@code perturbedAttention.layers[index]} when the pattern backtracks
     *     past a bound on the name (a pattern such as {@code (.*)*x} would take exponential time)
     */
    public boolean finds(int index, String layerName) {
        String pattern = layers.get(index);
        try {
            return Pattern.compile(pattern).matcher(new BoundedText(layerName)).find();
        } catch (BoundedText.Exhausted e) {
            throw new InvalidRequestException(List.of(new FieldError("perturbedAttention.layers[" + index + "]",
                    "'" + pattern + "' backtracks past " + BoundedText.READS + " character reads on the layer name '"
                            + layerName + "'; write it without nested repetition")));
        }
    }

    /** A name whose characters the matcher may read a bounded number of times in all. */
    private static final class BoundedText implements CharSequence {
        /** Far above what a pattern without catastrophic backtracking reads on a layer name. */
        static final int READS = 1_000_000;

        private final String text;
        private final int[] reads;

        BoundedText(String text) {
            this(text, new int[1]);
        }

        private BoundedText(String text, int[] reads) {
            this.text = text;
            this.reads = reads;
        }

        @Override
        public char charAt(int index) {
            if (++reads[0] > READS) {
                throw new Exhausted();
            }
            return text.charAt(index);
        }

        @Override
        public int length() {
            return text.length();
        }

        @Override
        public CharSequence subSequence(int start, int end) {
            return new BoundedText(text.substring(start, end), reads);
        }

        @Override
        public String toString() {
            return text;
        }

        /** Thrown when the reads are used up. */
        static final class Exhausted extends RuntimeException {
            Exhausted() {
                super(null, null, false, false);
            }
        }
    }
}
