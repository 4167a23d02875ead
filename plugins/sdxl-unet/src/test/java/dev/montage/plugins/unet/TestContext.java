package dev.montage.plugins.unet;

import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import java.util.Map;

/** The host's component context over the golden model, as a factory gets it. */
final class TestContext {
    private TestContext() {
    }

    /** The golden model, its files where the components on the classpath declare them, and the given options. */
    static FolderComponentContext golden(MontageEngine engine, Map<String, String> options) {
        return new FolderComponentContext(engine, model(), options);
    }

    private static ModelPaths model() {
        return ModelPaths.of(Golden.model()).withDefaults(ComponentRegistry.fromClasspath(
                TestContext.class.getClassLoader()).modelFiles().values());
    }
}
