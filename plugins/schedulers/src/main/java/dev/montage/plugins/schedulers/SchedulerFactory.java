package dev.montage.plugins.schedulers;

import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.PublishedConfiguration;
import dev.montage.api.spi.Scheduler;
import java.net.URL;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * What the scheduler factories share: the settings come from the base model's
 * {@code scheduler/scheduler_config.json} (as diffusers' {@code from_config}: unknown keys ignored, defaults
 * for missing ones), then the profile's options for this component (the {@link SchedulerOptions} its scheduler
 * reads), then the settings the id itself fixes (e.g. Karras sigmas); a request can override further with
 * {@link Scheduler#withOverrides}.
 */
abstract class SchedulerFactory implements ComponentFactory<Scheduler>, PublishedConfiguration {
    private final String id;
    private final String description;
    private final List<OptionSpec<?>> options;
    private final Map<String, ?> fixed;
    private final Function<SchedulerSettings, Scheduler> build;
    private final Set<String> ports;

    /**
     * A factory of a variant of a diffusers scheduler, which a model's own configuration never names.
     *
     * @param options what the scheduler reads of the settings, which a profile may give
     * @param fixed   the settings the id fixes
     */
    SchedulerFactory(String id, String description, List<OptionSpec<?>> options, Map<String, ?> fixed,
            Function<SchedulerSettings, Scheduler> build) {
        this(id, description, options, fixed, build, null);
    }

    /**
     * @param ported the diffusers class the scheduler ports with the settings its configuration gives, or null
     */
    SchedulerFactory(String id, String description, List<OptionSpec<?>> options, Map<String, ?> fixed,
            Function<SchedulerSettings, Scheduler> build, String ported) {
        this.id = id;
        this.description = description;
        this.options = options;
        this.fixed = fixed;
        this.build = build;
        this.ports = ported == null ? Set.of() : Set.of(ported);
    }

    @Override
    public final Set<String> diffusersClasses() {
        return ports;
    }

    @Override
    public List<ModelFile> modelFiles() {
        return List.of(ModelFile.folder("scheduler", "scheduler",
                "a diffusers scheduler folder (scheduler_config.json)"));
    }

    @Override
    public final ComponentKind kind() {
        return ComponentKind.SCHEDULER;
    }

    @Override
    public final String id() {
        return id;
    }

    @Override
    public final String description() {
        return description;
    }

    @Override
    public final List<OptionSpec<?>> options() {
        return options;
    }

    @Override
    public final Scheduler create(ComponentContext context) {
        Map<String, Object> given = new LinkedHashMap<>();
        for (OptionSpec<?> option : options) {
            context.options().find(option).ifPresent(value -> given.put(option.name(), value));
        }
        SchedulerSettings settings = SchedulerSettings.of(context.model("scheduler").json("scheduler_config.json"))
                .with("profile options of scheduler '" + id + "'", given)
                .forScheduler("scheduler id '" + id + "'", fixed, options);
        return build.apply(settings);
    }

    @Override
    public String publishedModel() {
        return "SDXL base 1.0 (stabilityai/stable-diffusion-xl-base-1.0)";
    }

    @Override
    public Map<String, URL> publishedFiles(String key) {
        return PublishedConfiguration.resources(SchedulerFactory.class, "sdxl-base", Set.of("scheduler"), key,
                "scheduler_config.json");
    }
}
