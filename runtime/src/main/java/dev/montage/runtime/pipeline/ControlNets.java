package dev.montage.runtime.pipeline;

import dev.montage.api.Control;
import dev.montage.api.ControlNetContext;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationRequest;
import dev.montage.api.InvalidRequestException;
import dev.montage.api.spi.ConditionPreprocessor;
import dev.montage.api.spi.Conditioner;
import dev.montage.api.spi.Options;
import dev.montage.api.spi.Suggestions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * The ControlNets a pipeline can run: one {@link Conditioner} per control type, the preprocessors of the types that
 * have one, and the cross-attention context a control gets when it does not choose one itself.
 *
 * <p>A control runs its type's preprocessor unless it says {@code preprocess=none}; a type without an installed
 * preprocessor (a misspelt type, or one whose plugin did not load) is refused then rather than giving its ControlNet
 * the raw picture and dropping its options.
 *
 * @param conditioners   control type to network
 * @param preprocessors  control type to preprocessor, for the types served that have one
 * @param installedTypes the control types of every installed preprocessor, served or not (what a misspelt type is
 *                       likely a typo of)
 * @param defaultContext the context of controls that do not choose one
 */
public record ControlNets(Map<String, Conditioner> conditioners, Map<String, ConditionPreprocessor> preprocessors,
        Set<String> installedTypes, ControlNetContext defaultContext) {

    /** No ControlNets: requests with controls are refused. */
    public static final ControlNets NONE = new ControlNets(Map.of(), Map.of(), Set.of(), ControlNetContext.TEXT_ONLY);

    public ControlNets {
        conditioners = Map.copyOf(conditioners);
        preprocessors = Map.copyOf(preprocessors);
        installedTypes = Set.copyOf(installedTypes);
        Objects.requireNonNull(defaultContext, "defaultContext");
    }

    /** Control types this pipeline serves, sorted. */
    public List<String> types() {
        List<String> types = new ArrayList<>(conditioners.keySet());
        types.sort(null);
        return types;
    }

    /**
     * Checks every control of a request before any of its work is done.
     *
     * @throws InvalidRequestException naming each control ({@code controls[i].type}, {@code controls[i].options})
     *     whose type has no ControlNet, or no preprocessor while it is to be preprocessed, or whose options its
     *     preprocessor does not declare or accept ({@code controls[i].options.<name>}) or {@code preprocess=none}
     *     would ignore
     */
    void check(GenerationRequest request) {
        List<FieldError> problems = new ArrayList<>();
        List<Control> controls = request.controls();
        for (int i = 0; i < controls.size(); i++) {
            problems.addAll(problems(controls.get(i), "controls[" + i + "]"));
        }
        if (!problems.isEmpty()) {
            throw new InvalidRequestException(problems);
        }
    }

    /**
     * What is wrong with one control, as {@link #check} reports it.
     *
     * @param path the control's field path in messages, e.g. {@code controls[0]}
     */
    public List<FieldError> problems(Control control, String path) {
        String type = control.type();
        if (!conditioners.containsKey(type)) {
            return List.of(new FieldError(path + ".type", "no ControlNet serves '" + type + "'"
                    + Suggestions.didYouMean(type, types()) + " (this pipeline has " + (conditioners.isEmpty()
                    ? "none configured" : String.join(", ", types())) + "; configure controlnet." + type
                    + ", e.g. model=DIR in the control or controlnets." + type + " in the profile)"));
        }
        ConditionPreprocessor preprocessor = preprocessors.get(type);
        if (control.preprocess() && preprocessor == null) {
            List<String> known = installedTypes.stream().sorted().toList();
            return List.of(new FieldError(path + ".type", "unknown control type '" + type + "'"
                    + Suggestions.didYouMean(type, known) + " (expected a type with an installed preprocessor: "
                    + (known.isEmpty() ? "none is installed" : String.join(", ", known)) + "; preprocess=none gives "
                    + "a ready-made control picture to the '" + type + "' ControlNet as it is)"));
        }
        return optionProblems(control, preprocessor, path + ".options");
    }

    /**
     * What is wrong with a control's options: any at all when it says {@code preprocess=none}, else each that its
     * preprocessor does not declare or accept.
     *
     * @param preprocessor the control type's preprocessor; may be null when the control says {@code preprocess=none}
     * @param field        how the control's options are named, e.g. {@code controls[0].options}; one option is
     *                     {@code <field>.<name>}
     */
    public static List<FieldError> optionProblems(Control control, ConditionPreprocessor preprocessor, String field) {
        if (!control.preprocess()) {
            Set<String> ignored = new TreeSet<>(control.options().keySet());
            return ignored.isEmpty() ? List.of() : List.of(new FieldError(field, String.join(", ", ignored)
                    + ": preprocess=none gives the picture to the ControlNet as it is, so it takes no preprocessor "
                    + "options"));
        }
        return Options.check(preprocessor.options(), control.options(), "preprocessor '" + control.type() + "'")
                .stream().map(p -> new FieldError(field + "." + p.name(), p.message())).toList();
    }

    /** The context a control's ControlNet cross-attends to. */
    ControlNetContext contextOf(Control control) {
        return control.context().orElse(defaultContext);
    }
}
