package dev.montage.runtime.pipeline;

import dev.montage.api.ConfigurationException;
import dev.montage.api.spi.Dimensions;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Checks that the components chosen for a pipeline fit together, from the {@link Dimensions} their factories read
 * from configuration files, before any component is created or any weight read. Every expected size is compared
 * with every provided size of the same name; all mismatches are reported at once.
 */
final class AssemblyCheck {
    private record Declared(String component, Dimensions dimensions) {
    }

    private final List<Declared> declared = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();

    /**
     * Adds what a component declares.
     *
     * @param component  how messages name it, e.g. {@code text encoder 'sdxl-clip'}
     * @param dimensions reads its declaration; a configuration it cannot read becomes one of the problems reported
     */
    void add(String component, Supplier<Dimensions> dimensions) {
        try {
            declared.add(new Declared(component, dimensions.get()));
        } catch (IllegalArgumentException | ConfigurationException | UncheckedIOException e) {
            problems.add(component + ": " + e.getMessage());
        }
    }

    /**
     * @throws ConfigurationException listing every mismatch and unreadable configuration, each naming both
     *     components, where their values come from (file and key) and the two values
     */
    void verify() {
        for (Declared expecting : declared) {
            for (Dimensions.Value wanted : expecting.dimensions().expected()) {
                for (Declared providing : declared) {
                    for (Dimensions.Value given : providing.dimensions().provided()) {
                        if (given.name().equals(wanted.name()) && given.value() != wanted.value()) {
                            problems.add(expecting.component() + " expects " + wanted.name() + " = " + wanted.value()
                                    + " (" + wanted.source() + ") but " + providing.component() + " provides "
                                    + given.value() + " (" + given.source() + ")");
                        }
                    }
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new ConfigurationException("the pipeline's components do not fit together:\n  - "
                    + String.join("\n  - ", problems));
        }
    }
}
