package dev.montage.runtime.config;

import dev.montage.api.spi.ComponentKind;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Profile section {@code components}: which registered component id fills each slot. (Every installed scheduler is
 * available to requests; {@code defaults.scheduler} chooses the one used when a request names none.)
 *
 * @param textEncoder  {@link ComponentKind#TEXT_ENCODER}
 * @param imageEncoder {@link ComponentKind#IMAGE_ENCODER}
 * @param resampler    {@link ComponentKind#SUBJECT_RESAMPLER}
 * @param unet         {@link ComponentKind#DENOISING_MODEL}
 * @param attention    {@link ComponentKind#ATTENTION_PROCESSOR}s by layer
 * @param decoder      {@link ComponentKind#LATENT_DECODER}
 * @param conditioner  {@link ComponentKind#CONDITIONER}: the ControlNet network of control types whose condition
 *                     plugin brings none; empty for the pipeline's default
 */
public record ComponentSettings(String textEncoder, String imageEncoder, String resampler, String unet,
        AttentionSettings attention, String decoder, Optional<String> conditioner) {

    public ComponentSettings {
        conditioner = Objects.requireNonNullElse(conditioner, Optional.empty());
    }

    /** The id of every single-component slot that is set (attention processors are by layer, not here). */
    public Map<ComponentKind, String> ids() {
        Map<ComponentKind, String> ids = new EnumMap<>(ComponentKind.class);
        ids.put(ComponentKind.TEXT_ENCODER, textEncoder);
        ids.put(ComponentKind.IMAGE_ENCODER, imageEncoder);
        ids.put(ComponentKind.SUBJECT_RESAMPLER, resampler);
        ids.put(ComponentKind.DENOISING_MODEL, unet);
        ids.put(ComponentKind.LATENT_DECODER, decoder);
        conditioner.ifPresent(id -> ids.put(ComponentKind.CONDITIONER, id));
        return ids;
    }
}
