package dev.montage.plugins.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.WeightLayout;
import dev.montage.nn.DefaultAttention;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.TensorSource;
import java.nio.file.Path;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The plugin's factories: discovery, creation from a component context, declared weight layouts. */
class FactoriesTest {

    @Test
    void serviceLoaderFindsTheUNetTheControlNetAndTheDefaultAttention() {
        Map<String, ComponentKind> found = new TreeMap<>();
        for (ComponentFactory<?> f : ServiceLoader.load(ComponentFactory.class)) {
            if (f.getClass().getPackageName().equals(SdxlUNetFactory.class.getPackageName())) {
                found.put(f.id(), f.kind());
            }
        }
        assertEquals(Map.of("sdxl-unet", ComponentKind.DENOISING_MODEL, "default", ComponentKind.ATTENTION_PROCESSOR,
                "sdxl-controlnet", ComponentKind.CONDITIONER),
                found);
    }

    @Test
    void componentsAreCreatedFromTheContext() throws Exception {
        try (FolderComponentContext context = TestContext.golden(TestEngine.engine(), Map.of())) {
            DenoisingModel unet = new SdxlUNetFactory().create(context);
            assertEquals(24, unet.attentionLayers().size());
            assertEquals(unet.attentionLayers(), new SdxlUNetFactory().attentionLayers(Map.of("unet",
                    context.model("unet").config())));
            assertSame(DefaultAttention.INSTANCE, new DefaultAttentionFactory().create(context));
            ((AutoCloseable) unet).close();
        }
    }

    @Test
    void declaredLayoutsAreExactlyTheGoldenCheckpoints() throws Exception {
        ModelConfig unetConfig = TestEngine.folder(Golden.model().resolve("unet")).config();
        Map<String, long[]> unet = new SdxlUNetFactory().weightShapes(Map.of("unet", unetConfig)).get("unet");
        assertSameLayout(Golden.model().resolve("unet/diffusion_pytorch_model.safetensors"), unet);
        assertThrows(IllegalArgumentException.class, () -> new SdxlUNetFactory().weightShapes(Map.of()));
        assertTrue(new SdxlUNetFactory() instanceof WeightLayout);
    }

    private static void assertSameLayout(Path file, Map<String, long[]> declared) throws Exception {
        try (TensorSource source = TensorSource.open(file)) {
            TreeSet<String> actual = new TreeSet<>(source.names());
            assertEquals(actual, new TreeSet<>(declared.keySet()));
            declared.forEach((name, shape) -> assertArrayEquals(source.info(name).shape(), shape, name));
        }
    }
}
