package dev.montage.runtime.config;

import dev.montage.api.spi.ComponentKind;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Profile section {@code components}: which registered component id fills each slot; an unset slot takes the
 * recipe's component. (Every installed scheduler is available to requests; {@code defaults.scheduler} chooses the one
 * used when a request names none.)
 *
 * @param recipe       the {@link ComponentKind#RECIPE} the unset slots come from; empty for the only one installed
 * @param textEncoder  {@link ComponentKind#TEXT_ENCODER}
 * @param imageEncoder {@link ComponentKind#IMAGE_ENCODER}
 * @param resampler    {@link ComponentKind#SUBJECT_RESAMPLER}
 * @param unet         {@link ComponentKind#DENOISING_MODEL}
 * @param attention    {@link ComponentKind#ATTENTION_PROCESSOR}s by layer
 * @param decoder      {@link ComponentKind#LATENT_DECODER}
 * @param conditioner  {@link ComponentKind#CONDITIONER}: the ControlNet network of control types whose condition
 *                     plugin brings none
 */
public record ComponentSettings(Optional<String> recipe, Optional<String> textEncoder, Optional<String> imageEncoder,
        Optional<String> resampler, Optional<String> unet, AttentionSettings attention, Optional<String> decoder,
        Optional<String> conditioner) {

    public ComponentSettings {
        recipe = Objects.requireNonNullElse(recipe, Optional.empty());
        textEncoder = Objects.requireNonNullElse(textEncoder, Optional.empty());
        imageEncoder = Objects.requireNonNullElse(imageEncoder, Optional.empty());
        resampler = Objects.requireNonNullElse(resampler, Optional.empty());
        unet = Objects.requireNonNullElse(unet, Optional.empty());
        decoder = Objects.requireNonNullElse(decoder, Optional.empty());
        conditioner = Objects.requireNonNullElse(conditioner, Optional.empty());
    }

    /** The id of every single-component slot that is set (attention processors are by layer, not here). */
    public Map<ComponentKind, String> ids() {
        Map<ComponentKind, String> ids = new EnumMap<>(ComponentKind.class);
        textEncoder.ifPresent(id -> ids.put(ComponentKind.TEXT_ENCODER, id));
        imageEncoder.ifPresent(id -> ids.put(ComponentKind.IMAGE_ENCODER, id));
        resampler.ifPresent(id -> ids.put(ComponentKind.SUBJECT_RESAMPLER, id));
        unet.ifPresent(id -> ids.put(ComponentKind.DENOISING_MODEL, id));
        decoder.ifPresent(id -> ids.put(ComponentKind.LATENT_DECODER, id));
        conditioner.ifPresent(id -> ids.put(ComponentKind.CONDITIONER, id));
        return ids;
    }
}
