package dev.montage.plugins.msdiffusion;

import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.Golden;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/** The host's component context over the golden model, or an adapter checkpoint and a resampler configuration. */
final class TestContext {
    private TestContext() {
    }

    /** The whole golden model, its files where the components on the classpath declare them. */
    static FolderComponentContext model(MontageEngine engine) {
        return new FolderComponentContext(engine, ModelPaths.of(Golden.model()).withDefaults(
                ComponentRegistry.fromClasspath(TestContext.class.getClassLoader()).modelFiles().values()), Map.of());
    }

    /** The golden model's {@code ms_adapter.bin}, with {@code resampler_config} set when a file is given. */
    static FolderComponentContext golden(MontageEngine engine, Path resamplerConfig) {
        return of(engine, Golden.model().resolve("ms_adapter.bin"), resamplerConfig);
    }

    /** An adapter checkpoint, with {@code resampler_config} set when a file is given. */
    static FolderComponentContext of(MontageEngine engine, Path adapter, Path resamplerConfig) {
        Map<String, Path> paths = new HashMap<>();
        paths.put(MsDiffusionResamplerFactory.CHECKPOINT_KEY, adapter);
        if (resamplerConfig != null) {
            paths.put(MsDiffusionResamplerFactory.CONFIG_KEY, resamplerConfig);
        }
        return new FolderComponentContext(engine, new ModelPaths(Optional.empty(), paths, Optional.empty()), Map.of());
    }
}
