package dev.montage.dist;

import dev.montage.api.PerturbedAttention;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Option;

/** The flags of perturbed-attention guidance on {@code generate} and {@code submit}. */
final class PerturbedAttentionOptions {
    @Option(names = "--pag-scale", description = "Perturbed-attention guidance of this scale (diffusers' pag_scale, "
            + "e.g. 3): each step also moves away from a prediction whose chosen self-attention layers attend with the "
            + "identity; one more batch row per image.")
    Double scale;

    @Option(names = "--pag-adaptive-scale", description = "Lower the --pag-scale by this much per timestep below 1000, "
            + "never below 0 (diffusers' pag_adaptive_scale; default 0: the same at every step).")
    Double adaptiveScale;

    @Option(names = "--pag-layer", paramLabel = "PATTERN", description = "A regular expression found in the names of "
            + "the self-attention layers to perturb (repeatable; default: mid, the UNet's middle block).")
    List<String> layers = new ArrayList<>();

    /**
     * The guidance these flags give, laid over what {@code recorded} records (null for no record).
     *
     * @throws IllegalArgumentException naming the flag when an adaptive scale or layers come without a scale
     */
    Optional<PerturbedAttention> over(RecordedRequest recorded) {
        return recorded != null ? recorded.perturbedAttention(scale, adaptiveScale, layers)
                : RecordedRequest.perturbedAttentionOf(scale, adaptiveScale, layers);
    }
}
