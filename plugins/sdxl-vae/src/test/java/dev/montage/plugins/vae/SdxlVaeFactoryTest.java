package dev.montage.plugins.vae;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.LatentDecoder;
import dev.montage.api.spi.Options;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/** The factory as the host finds and calls it. */
class SdxlVaeFactoryTest {

    /** A context with only the {@code vae} model and the given options. */
    private record VaeContext(NDManager manager, Options options) implements ComponentContext {
        @Override
        public Device device() {
            return TestEngine.engine().device();
        }

        @Override
        public ComputeDType dtype() {
            return TestEngine.dtype();
        }

        @Override
        public Kernels kernels() {
            return TestEngine.kernels();
        }

        @Override
        public ModelFolder model(String key) {
            if (!key.equals("vae")) {
                throw new IllegalArgumentException("no model '" + key + "' in this test context");
            }
            return TestEngine.folder(Golden.model().resolve("vae"));
        }

        @Override
        public ModelWeights checkpoint(String key) {
            throw new IllegalArgumentException("no checkpoint '" + key + "' in this test context");
        }

        @Override
        public Optional<Path> path(String key) {
            return Optional.empty();
        }

        @Override
        public ModelConfig pipelineConfig() {
            return new ModelConfig("none", Map.of());
        }
    }

    private static ComponentFactory<?> registered() {
        return ServiceLoader.load(ComponentFactory.class).stream()
                .map(ServiceLoader.Provider::get)
                .filter(f -> f.kind() == ComponentKind.LATENT_DECODER && f.id().equals("sdxl-vae"))
                .findFirst()
                .orElseThrow(() -> new AssertionError("sdxl-vae is not registered in META-INF/services"));
    }

    @Test
    void declaresItsOptionsWithTheirDefaults() {
        assertEquals(List.of("upcast (enum auto|always|never, default auto)", "slicing (boolean, default false)",
                "tiling (boolean, default false)", "tile_size (integer 0..65536, default 0)"),
                registered().options().stream().map(o -> o.describe().substring(0, o.describe().indexOf(')') + 1))
                        .toList());
    }

    @Test
    void registeredFactoryBuildsADecoderFromTheVaeFolder() {
        try (NDManager weights = TestEngine.manager().newSubManager();
                NDManager m = TestEngine.manager().newSubManager()) {
            Object component = registered().create(new VaeContext(weights, Options.of("options.decoder",
                    Map.of("slicing", "true"))));
            assertTrue(component instanceof LatentDecoder);
            LatentDecoder decoder = (LatentDecoder) component;
            assertEquals(8, decoder.scaleFactor());
            Shape shape = decoder.decode(m, SdxlVaeShapeTest.gaussian(m, 2, 2, 4, 4, 6)).getShape();
            assertEquals(new Shape(2, 3, 32, 48), shape);
        }
    }

    @Test
    void badOptionsAreRejectedBeforeLoading() {
        try (NDManager weights = TestEngine.manager().newSubManager()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> registered().create(new VaeContext(weights, Options.of("options.decoder",
                            Map.of("upcast", "half")))));
            assertEquals("options.decoder.upcast: expected one of auto, always, never, got 'half'", e.getMessage());
        }
    }
}
