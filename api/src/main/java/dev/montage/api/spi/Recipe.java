package dev.montage.api.spi;

import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Which components make a pipeline of one model family, declared by the plugin that knows the family (a
 * {@link ComponentFactory} of kind {@link ComponentKind#RECIPE}). The host knows no model: a pipeline takes its
 * component ids, attention processors and ControlNet network from its recipe unless the application or profile
 * chooses others. Its factory is created without a component context (the recipe reads no model).
 *
 * @param components       the component id of each slot: text encoder, image encoder, subject resampler, denoising
 *                         model, latent decoder and default scheduler
 * @param attention        attention processor ids by layer-name pattern (regular expression on the dotted name),
 *                         first match first; the last should match every layer
 * @param subjectAttention the processors of the layers where the subjects act, tried before {@code attention} when
 *                         the pipeline takes subjects
 * @param conditioner      the conditioner id of control types whose condition plugin brings no network of its own
 */
public record Recipe(Map<ComponentKind, String> components, Map<String, String> attention,
        Map<String, String> subjectAttention, String conditioner) {

    /** The slots a recipe fills. */
    public static final Set<ComponentKind> SLOTS = Collections.unmodifiableSet(EnumSet.of(ComponentKind.TEXT_ENCODER,
            ComponentKind.IMAGE_ENCODER, ComponentKind.SUBJECT_RESAMPLER, ComponentKind.DENOISING_MODEL,
            ComponentKind.LATENT_DECODER, ComponentKind.SCHEDULER));

    public Recipe {
        if (!components.keySet().equals(SLOTS)) {
            throw new IllegalArgumentException("a recipe names a component for each of " + SLOTS + ", got "
                    + components.keySet());
        }
        components = Collections.unmodifiableMap(new LinkedHashMap<>(components));
        attention = Collections.unmodifiableMap(new LinkedHashMap<>(attention));
        subjectAttention = Collections.unmodifiableMap(new LinkedHashMap<>(subjectAttention));
        Objects.requireNonNull(conditioner, "conditioner");
    }
}
