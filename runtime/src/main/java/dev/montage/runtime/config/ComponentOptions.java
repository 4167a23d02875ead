package dev.montage.runtime.config;

import dev.montage.api.spi.ComponentKind;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Profile section {@code options}: settings handed to the components of a slot as
 * {@link dev.montage.api.host.ComponentContext#options()}, each checked against the options the slot's components
 * declare ({@link dev.montage.api.spi.ComponentFactory#options()}, e.g. the scheduler's {@code timestep_spacing} or
 * the decoder's {@code upcast}; {@code montage profile check} lists them). Values are text; numbers and booleans are
 * written as text.
 */
public record ComponentOptions(Map<String, String> textEncoder, Map<String, String> imageEncoder,
        Map<String, String> resampler, Map<String, String> unet, Map<String, String> attention,
        Map<String, String> scheduler, Map<String, String> decoder) {

    public ComponentOptions {
        textEncoder = copy(textEncoder);
        imageEncoder = copy(imageEncoder);
        resampler = copy(resampler);
        unet = copy(unet);
        attention = copy(attention);
        scheduler = copy(scheduler);
        decoder = copy(decoder);
    }

    /** The non-empty option maps by the kind of component they go to. */
    public Map<ComponentKind, Map<String, String>> byKind() {
        Map<ComponentKind, Map<String, String>> all = new EnumMap<>(ComponentKind.class);
        all.put(ComponentKind.TEXT_ENCODER, textEncoder);
        all.put(ComponentKind.IMAGE_ENCODER, imageEncoder);
        all.put(ComponentKind.SUBJECT_RESAMPLER, resampler);
        all.put(ComponentKind.DENOISING_MODEL, unet);
        all.put(ComponentKind.ATTENTION_PROCESSOR, attention);
        all.put(ComponentKind.SCHEDULER, scheduler);
        all.put(ComponentKind.LATENT_DECODER, decoder);
        all.values().removeIf(Map::isEmpty);
        return all;
    }

    private static Map<String, String> copy(Map<String, String> map) {
        return Collections.unmodifiableMap(new LinkedHashMap<>(map));
    }
}
