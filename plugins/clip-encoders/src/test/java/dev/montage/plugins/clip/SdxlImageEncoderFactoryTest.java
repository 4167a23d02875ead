package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ComponentContext;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelFolder;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.Options;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The factory as the host finds and calls it, and the checks that run when the encoder is built. */
class SdxlImageEncoderFactoryTest {

    @Test
    void foundByServiceLoader() {
        ComponentFactory<?> factory = ServiceLoader.load(ComponentFactory.class).stream()
                .map(ServiceLoader.Provider::get)
                .filter(f -> f.kind() == ComponentKind.IMAGE_ENCODER && f.id().equals("clip-vision"))
                .findFirst()
                .orElseThrow();
        assertEquals(SdxlImageEncoderFactory.class, factory.getClass());
        assertEquals(List.of("alpha_background", "pad_to_square"),
                factory.options().stream().map(OptionSpec::name).toList());
    }

    @Test
    void buildsFromTheContextsImageEncoderWithItsOptions() {
        Path folder = Golden.model().resolve("image_encoder");
        try (NDManager weights = TestEngine.manager().newSubManager();
                NDManager m = TestEngine.manager().newSubManager()) {
            ImageEncoder encoder = new SdxlImageEncoderFactory().create(
                    new Context(weights, folder, Options.of("options.image_encoder",
                            Map.of("pad_to_square", "#000000", "alpha_background", "#ffffff"))));
            NDArray out = encoder.encode(m, List.of(ClipImageProcessorTest.filled(90, 30, Color.RED)),
                    ImageEncoder.Features.PENULTIMATE_HIDDEN_STATES);
            assertArrayEquals(new long[] {1, 65, 32}, out.getShape().getShape());
            ((AutoCloseable) encoder).close();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void aBadOptionIsNamedBeforeAnyWeightIsRead(@TempDir Path empty) {
        try (NDManager weights = TestEngine.manager().newSubManager()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new SdxlImageEncoderFactory().create(new Context(weights, empty,
                            Options.of("options.image_encoder", Map.of("alpha_background", "transparent")))));
            assertTrue(e.getMessage().contains("alpha_background"), e.getMessage());
        }
    }

    @Test
    void aConfigThatDisagreesWithTheCheckpointIsNamed(@TempDir Path dir) throws IOException {
        Path golden = Golden.model().resolve("image_encoder");
        Files.createSymbolicLink(dir.resolve("model.safetensors"), golden.resolve("model.safetensors"));
        Files.createSymbolicLink(dir.resolve("preprocessor_config.json"), golden.resolve("preprocessor_config.json"));
        String config = Files.readString(golden.resolve("config.json"));
        Files.writeString(dir.resolve("config.json"), config.replace("\"num_hidden_layers\": 3", "\"num_hidden_layers\": 2"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> build(dir));
        assertTrue(e.getMessage().contains("num_hidden_layers is 2") && e.getMessage().contains("3 encoder layers"),
                e.getMessage());

        Files.writeString(dir.resolve("config.json"), config);
        Files.delete(dir.resolve("preprocessor_config.json"));
        Files.writeString(dir.resolve("preprocessor_config.json"), "{\"size\": 40, \"crop_size\": 40}");
        e = assertThrows(IllegalArgumentException.class, () -> build(dir));
        assertTrue(e.getMessage().contains("40x40") && e.getMessage().contains("image_size is 32"), e.getMessage());
    }

    private static void build(Path folder) {
        try (NDManager weights = TestEngine.manager().newSubManager()) {
            new SdxlImageEncoderFactory().create(new Context(weights, folder, Options.NONE));
        }
    }

    /** The little of a host context the factory uses. */
    private record Context(NDManager manager, Path imageEncoder, Options options)
            implements ComponentContext {
        @Override
        public Device device() {
            return manager.getDevice();
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
            if (!key.equals("image_encoder")) {
                throw new IllegalArgumentException("no model '" + key + "' in this test");
            }
            return TestEngine.folder(imageEncoder);
        }

        @Override
        public ModelWeights checkpoint(String key) {
            throw new IllegalArgumentException("no checkpoint '" + key + "' in this test");
        }

        @Override
        public Optional<Path> path(String key) {
            return Optional.empty();
        }

        @Override
        public ModelConfig pipelineConfig() {
            return new ModelConfig("model_index.json", Map.of());
        }
    }
}
