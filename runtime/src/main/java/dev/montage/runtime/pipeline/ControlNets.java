package dev.montage.runtime.pipeline;

import dev.montage.api.Control;
import dev.montage.api.ControlNetContext;
import dev.montage.api.GenerationRequest;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.Conditioner;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The ControlNets a pipeline can run: one {@link Conditioner} per control type, the preprocessors of the types that
 * have one, and the cross-attention context a control gets when it does not choose one itself.
 *
 * @param conditioners   control type to network
 * @param preprocessors  control type to preprocessor (a type without one takes its picture as it is)
 * @param defaultContext the context of controls without a {@value Control#CONTEXT_OPTION} option
 */
public record ControlNets(Map<String, Conditioner> conditioners, Map<String, ConditionPreprocessor> preprocessors,
        ControlNetContext defaultContext) {

    /** No ControlNets: requests with controls are refused. */
    public static final ControlNets NONE = new ControlNets(Map.of(), Map.of(), ControlNetContext.TEXT_ONLY);

    public ControlNets {
        conditioners = Map.copyOf(conditioners);
        preprocessors = Map.copyOf(preprocessors);
        Objects.requireNonNull(defaultContext, "defaultContext");
    }

    /** Control types this pipeline serves, sorted. */
    public List<String> types() {
        List<String> types = new ArrayList<>(conditioners.keySet());
        types.sort(null);
        return types;
    }

    /**
     * Checks that every control of a request has a ControlNet.
     *
     * @throws IllegalArgumentException naming the first control whose type has none, and the types there are
     */
    void check(GenerationRequest request) {
        List<Control> controls = request.controls();
        for (int i = 0; i < controls.size(); i++) {
            String type = controls.get(i).type();
            if (!conditioners.containsKey(type)) {
                throw new IllegalArgumentException("control " + i + " has type '" + type + "', for which this "
                        + "pipeline has no ControlNet; " + (conditioners.isEmpty() ? "it has none configured"
                        : "it has " + types()) + " (configure controlnet." + type + ", e.g. model=DIR in the "
                        + "control or controlnets." + type + " in the profile)");
            }
        }
    }

    /** The context a control's ControlNet cross-attends to. */
    ControlNetContext contextOf(Control control) {
        return control.context().orElse(defaultContext);
    }
}
