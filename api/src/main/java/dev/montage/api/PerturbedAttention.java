package dev.montage.api;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

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
        for (int i = 0; i < layers.size(); i++) {
            String layer = layers.get(i);
            String field = "perturbedAttention.layers[" + i + "]";
            if (layer == null || layer.isBlank()) {
                errors.add(new FieldError(field, "must be a regular expression found in layer names, got "
                        + (layer == null ? "null" : "a blank string")));
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
        return layers.stream().anyMatch(p -> Pattern.compile(p).matcher(layerName).find());
    }
}
