package dev.montage.runtime.registry;

import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Options;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * The options of a slot (profile section {@code options.<slot>}) against what the components that receive them
 * declare ({@link dev.montage.api.spi.ComponentFactory#options()}). Every component of a slot receives the slot's
 * options (the processors of every attention layer, every installed scheduler) and reads those it declares, so an
 * option is valid when one of them declares it and its value fits every declaration of its name.
 */
public final class SlotOptions {

    /**
     * One option a slot's components refuse.
     *
     * @param key     its dotted key, e.g. {@code options.scheduler.timestep_spacing}
     * @param message what is wrong and what was expected
     */
    public record Problem(String key, String message) {
    }

    private SlotOptions() {
    }

    /** The dotted key of a slot's options, e.g. {@code options.decoder} for the latent decoder. */
    public static String key(ComponentKind kind) {
        String slot = switch (kind) {
            case SUBJECT_RESAMPLER -> "resampler";
            case DENOISING_MODEL -> "unet";
            case ATTENTION_PROCESSOR -> "attention";
            case LATENT_DECODER -> "decoder";
            default -> kind.name().toLowerCase(Locale.ROOT);
        };
        return "options." + slot;
    }

    /**
     * What the components that receive a slot's options declare, by how messages name them (e.g.
     * {@code latent decoder 'sdxl-vae'}); ids that are not registered are left out (the id check names them).
     */
    public static Map<String, List<OptionSpec<?>>> declared(ComponentRegistry registry, ComponentKind kind,
            Collection<String> ids) {
        List<String> registered = registry.ids(kind);
        Map<String, List<OptionSpec<?>>> declared = new LinkedHashMap<>();
        ids.stream().distinct().filter(registered::contains).forEach(id -> declared.put(
                ComponentRegistry.describe(kind, id), registry.factory(kind, id, Object.class).options()));
        return declared;
    }

    /**
     * Checks the options given to a slot.
     *
     * @param ids the components that receive them; none when the slot is filled by an instance, which receives no
     *            options
     * @return each option that none of them declares (with the declared one it is likely a typo of) and each value
     *     a declaration refuses, in name order; nothing when one of the ids is not registered (the id check names it,
     *     and what it would declare is unknown)
     */
    public static List<Problem> check(ComponentRegistry registry, ComponentKind kind, Collection<String> ids,
            Map<String, String> given) {
        if (!registry.ids(kind).containsAll(ids)) {
            return List.of();
        }
        List<Problem> problems = new ArrayList<>();
        if (ids.isEmpty()) {
            new TreeSet<>(given.keySet()).forEach(name -> problems.add(new Problem(key(kind) + "." + name,
                    "no registered component of the slot receives options (an instance fills it)")));
            return problems;
        }
        Map<String, List<OptionSpec<?>>> declared = declared(registry, kind, ids);
        List<OptionSpec<?>> all = declared.values().stream().flatMap(List::stream).toList();
        for (Options.Problem p : Options.check(all, given, String.join(" or ", declared.keySet()))) {
            problems.add(new Problem(key(kind) + "." + p.name(), p.message()));
        }
        return problems;
    }

    /**
     * Checks the options of every slot.
     *
     * @param receivers the registered components that receive a slot's options
     * @throws IllegalArgumentException listing every problem, each with its key
     */
    public static void verify(ComponentRegistry registry, Map<ComponentKind, Map<String, String>> options,
            Function<ComponentKind, Collection<String>> receivers) {
        List<String> problems = new ArrayList<>();
        options.forEach((kind, given) -> check(registry, kind, receivers.apply(kind), given)
                .forEach(p -> problems.add(p.key() + ": " + p.message())));
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("the components' options are not valid:\n  - "
                    + String.join("\n  - ", problems));
        }
    }
}
