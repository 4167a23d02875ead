package dev.montage.runtime.registry;

import dev.montage.api.spi.ComponentFactory;
import java.util.List;

/**
 * What a plugin source found in one plugin, before the registry checks its components.
 *
 * @param name      {@code osgi:<bsn>}, {@code pf4j:<id>}, ...
 * @param location  where it was loaded from
 * @param about     its version and description, as its manifest or descriptor gives them
 * @param started   whether it started
 * @param factories its component factories (empty when it did not start)
 * @param problems  why it did not start, or which of its factories could not be made
 */
record LoadedPlugin(String name, String location, PluginReport.About about, boolean started,
        List<ComponentFactory<?>> factories, List<String> problems) {

    static LoadedPlugin failed(String name, String location, PluginReport.About about, String problem) {
        return new LoadedPlugin(name, location, about, false, List.of(), List.of(problem));
    }

    static LoadedPlugin started(String name, String location, PluginReport.About about,
            ProviderFiles.Found found) {
        return new LoadedPlugin(name, location, about, true, found.factories(), found.problems());
    }
}
