package dev.montage.runtime.registry;

import dev.montage.api.spi.ComponentFactory;
import java.util.List;

/**
 * What a plugin source found in one plugin, before the registry checks its components.
 *
 * @param name      {@code osgi:<bsn>}, {@code pf4j:<id>}, ...
 * @param location  where it was loaded from
 * @param started   whether it started
 * @param factories its component factories (empty when it did not start)
 * @param problems  why it did not start, or which of its factories could not be made
 */
record LoadedPlugin(String name, String location, boolean started, List<ComponentFactory<?>> factories,
        List<String> problems) {

    static LoadedPlugin failed(String name, String location, String problem) {
        return new LoadedPlugin(name, location, false, List.of(), List.of(problem));
    }

    static LoadedPlugin started(String name, String location, ProviderFiles.Found found) {
        return new LoadedPlugin(name, location, true, found.factories(), found.problems());
    }
}
