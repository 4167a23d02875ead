package dev.montage.runtime.testing;

import dev.montage.api.MontageApi;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.OptionSpec;
import java.util.List;
import java.util.function.Function;

/**
 * A component factory made in a test: its kind and id, the model files and options it declares, and how it creates
 * its component. It is built for the host's API.
 */
public record TestFactory<T>(ComponentKind kind, String id, List<ModelFile> modelFiles, List<OptionSpec<?>> options,
        Function<ComponentContext, T> creator) implements ComponentFactory<T> {

    /** A factory that declares nothing. */
    public static <T> TestFactory<T> of(ComponentKind kind, String id, Function<ComponentContext, T> creator) {
        return new TestFactory<>(kind, id, List.of(), List.of(), creator);
    }

    /** A factory for checks only, whose creation fails. */
    public static TestFactory<Object> uncreatable(ComponentKind kind, String id) {
        return of(kind, id, context -> {
            throw new UnsupportedOperationException("a test factory for checks only creates nothing");
        });
    }

    public TestFactory<T> withModelFiles(List<ModelFile> files) {
        return new TestFactory<>(kind, id, files, options, creator);
    }

    public TestFactory<T> withOptions(List<OptionSpec<?>> declared) {
        return new TestFactory<>(kind, id, modelFiles, declared, creator);
    }

    @Override
    public String apiVersionRange() {
        return MontageApi.COMPATIBLE_RANGE;
    }

    @Override
    public T create(ComponentContext context) {
        return creator.apply(context);
    }
}
