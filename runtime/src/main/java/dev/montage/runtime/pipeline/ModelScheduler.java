package dev.montage.runtime.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.spi.ComponentKind;
import dev.montage.runtime.config.Profile;
import dev.montage.runtime.config.ProfileResolver;
import dev.montage.runtime.config.ResolvedProfile;
import dev.montage.runtime.registry.ComponentRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The default scheduler a model names. diffusers' {@code from_pretrained} creates the scheduler class the model's
 * {@code scheduler/scheduler_config.json} names ({@code _class_name}); where no profile layer names a scheduler, the
 * installed one that ports that class ({@link dev.montage.api.spi.ComponentFactory#diffusersClasses()}) is the
 * default, so a model shipped with, say, UniPC runs UniPC, as it does in diffusers. A class none ports is said (a
 * warning, and the value's origin), and the built-in default runs.
 */
final class ModelScheduler {
    private static final String KEY = "defaults.scheduler";
    private static final String CONFIG = "scheduler_config.json";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Logger LOG = LoggerFactory.getLogger(ModelScheduler.class);

    private ModelScheduler() {
    }

    /**
     * The profile with the model's scheduler as its default, where only the built-in default named one and an
     * installed scheduler ports the model's class; else the profile as it is.
     */
    static ResolvedProfile applied(ResolvedProfile resolved, ComponentRegistry registry) {
        if (!resolved.origin(KEY).equals(ProfileResolver.DEFAULTS_SOURCE)) {
            return resolved;
        }
        Optional<Path> file = resolved.profile().models().toModelPaths().resolve("scheduler")
                .map(folder -> folder.resolve(CONFIG)).filter(Files::isRegularFile);
        if (file.isEmpty()) {
            return resolved;
        }
        String className;
        try {
            className = JSON.readTree(file.get().toFile()).path("_class_name").asText("");
        } catch (IOException e) {
            // the scheduler reads the same file when it is created and names what is wrong with it
            return resolved;
        }
        for (String id : registry.ids(ComponentKind.SCHEDULER)) {
            if (registry.factory(ComponentKind.SCHEDULER, id, Object.class).diffusersClasses().contains(className)) {
                if (id.equals(resolved.profile().defaults().scheduler())) {
                    return resolved;
                }
                return with(resolved, resolved.profile().withDefaultScheduler(id),
                        file.get() + " (_class_name " + className + ")");
            }
        }
        if (className.isBlank()) {
            return resolved;
        }
        String note = file.get() + " names " + className + ", which no installed scheduler ports; "
                + resolved.profile().defaults().scheduler() + " runs instead unless defaults.scheduler or a request "
                + "names another";
        LOG.warn("The model's {}", note);
        return with(resolved, resolved.profile(), ProfileResolver.DEFAULTS_SOURCE + "; " + note);
    }

    /** {@code resolved} with {@code profile} and the default scheduler's origin. */
    private static ResolvedProfile with(ResolvedProfile resolved, Profile profile, String origin) {
        Map<String, String> origins = new LinkedHashMap<>(resolved.origins());
        origins.put(KEY, origin);
        return new ResolvedProfile(profile, resolved.layers(), origins, resolved.sections());
    }
}
