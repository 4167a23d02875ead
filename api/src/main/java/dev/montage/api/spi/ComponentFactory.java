package dev.montage.api.spi;

import dev.montage.api.host.ComponentContext;
import java.util.List;
import java.util.Set;

/**
 * The one thing a plugin exports: a factory of one component, registered under ({@link #kind()}, {@link #id()}).
 * A plugin lists its factories (public classes with a public no-argument constructor) in
 * {@code META-INF/services/dev.montage.api.spi.ComponentFactory}; the host reads that file whether the jar is on the
 * classpath ({@link java.util.ServiceLoader}), installed as an OSGi bundle or loaded as a PF4J plugin (an OSGi
 * bundle may also register factories as OSGi services). This interface is also the PF4J extension point, without
 * extending PF4J's marker interface: the api knows no plugin framework.
 *
 * @param <T> the component interface, {@code kind().type()}
 */
public interface ComponentFactory<T> {

    /** Which slot this component fills. */
    ComponentKind kind();

    /** Id unique within its kind, lower-case with dashes, e.g. {@code "euler"} or {@code "sdxl-unet"}. */
    String id();

    /** One line for listings. */
    default String description() {
        return id();
    }

    /**
     * The range of {@link dev.montage.api.MontageApi#VERSION} this plugin was built for, in OSGi/Maven range syntax,
     * e.g. {@code "[0.2,0.3)"}, or null when it declares none. The host refuses a plugin whose range excludes its API
     * or that declares none. The default reads {@link BuiltFor} from the factory's class, else from its package, where
     * the compiler fixed the value when the plugin was built.
     */
    default String apiVersionRange() {
        BuiltFor declared = getClass().getAnnotation(BuiltFor.class);
        if (declared == null && getClass().getPackage() != null) {
            declared = getClass().getPackage().getAnnotation(BuiltFor.class);
        }
        return declared == null ? null : declared.value();
    }

    /**
     * The model files and folders the component reads, by the keys it asks its context for; the host checks them
     * before any weight is read and resolves a key that the profile does not set to its default inside the base model
     * folder.
     */
    default List<ModelFile> modelFiles() {
        return List.of();
    }

    /**
     * The options the component takes, which it reads with {@code context.options().get(spec)}: those of the profile
     * section {@code options.<slot>} of its slot, or those the host gives (such as
     * {@link Conditioner#CONTROL_TYPE}). The host refuses, before anything is built, a profile or pipeline that gives
     * a component an option it does not declare or a value its declaration does not accept. The default declares
     * none.
     */
    default List<OptionSpec<?>> options() {
        return List.of();
    }

    /**
     * The diffusers classes this component is a port of, as the {@code _class_name} of their configuration files
     * names them (e.g. {@code UniPCMultistepScheduler}). A scheduler whose class a model's
     * {@code scheduler/scheduler_config.json} names is that model's default scheduler where a profile names none, as
     * diffusers' {@code from_pretrained} creates that class. The default ports none.
     */
    default Set<String> diffusersClasses() {
        return Set.of();
    }

    /**
     * The sizes the component would provide to and expect from the others of a pipeline, read from configuration
     * files only ({@link dev.montage.api.host.ModelFolder#config()}, {@link dev.montage.api.host.ModelFolder#json},
     * {@link ComponentContext#path}; never weights or checkpoints), so the host can check an assembly before any
     * weight is loaded. The default declares nothing, and nothing is checked.
     *
     * @throws IllegalArgumentException naming the file and key that is missing or wrong
     */
    default Dimensions dimensions(ComponentContext context) {
        return Dimensions.NONE;
    }

    /**
     * Builds the component: reads its configuration and weights through {@code context}.
     *
     * @throws IllegalArgumentException naming the file, key or tensor that is missing or wrong
     */
    T create(ComponentContext context);
}
