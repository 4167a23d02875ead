package dev.montage.plugins.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.OptionSpec;
import dev.montage.api.spi.WeightLayout;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.TensorSource;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.TensorDType;
import dev.montage.runtime.weights.TorchCheckpointWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The plugin's factories: discovery, creation from a component context, declared weight layouts. */
class FactoriesTest {

    @Test
    void serviceLoaderFindsTheUNetTheControlNetAndTheThreeAttentionProcessors() {
        Map<String, ComponentKind> found = new TreeMap<>();
        for (ComponentFactory<?> f : ServiceLoader.load(ComponentFactory.class)) {
            if (f.getClass().getPackageName().equals(SdxlUNetFactory.class.getPackageName())) {
                found.put(f.id(), f.kind());
            }
        }
        assertEquals(Map.of("sdxl-unet", ComponentKind.DENOISING_MODEL, "default", ComponentKind.ATTENTION_PROCESSOR,
                "ms-diffusion", ComponentKind.ATTENTION_PROCESSOR,
                "sdxl-controlnet", ComponentKind.CONDITIONER),
                found);
    }

    @Test
    void componentsAreCreatedFromTheContext() throws Exception {
        try (FolderComponentContext context = TestContext.golden(TestEngine.engine(), Map.of())) {
            DenoisingModel unet = new SdxlUNetFactory().create(context);
            assertEquals(24, unet.attentionLayers().size());
            AttentionProcessor ms = new MultiSubjectAttentionFactory().create(context);
            assertInstanceOf(MultiSubjectAttention.class, ms);
            unet.useAttentionProcessors(name -> ms);
            assertSame(DefaultAttention.INSTANCE, new DefaultAttentionFactory().create(context));
            ((AutoCloseable) unet).close();
            ((AutoCloseable) ms).close();
        }
    }

    @Test
    void anAdapterCheckpointWithoutProcessorsIsRefused(@TempDir Path dir) throws Exception {
        Golden.model(); // the factory reads the golden UNet's configuration: skip without the fixtures
        Path resamplerOnly = dir.resolve("ms_adapter.bin");
        ByteBuffer data = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        TorchCheckpointWriter.write(resamplerOnly, Map.of("image_proj", Map.of("proj_in.weight",
                new RawTensor("proj_in.weight", TensorDType.F32, new long[] {2, 2}, data))));
        try (FolderComponentContext context = TestContext.withAdapter(TestEngine.engine(), resamplerOnly)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new MultiSubjectAttentionFactory().create(context));
            assertTrue(e.getMessage().contains("has no 'ms_adapter.*' tensors"), e.getMessage());
        }
    }

    @Test
    void declaredLayoutsAreExactlyTheGoldenCheckpoints() throws Exception {
        ModelConfig unetConfig = TestEngine.folder(Golden.model().resolve("unet")).config();
        Map<String, long[]> unet = new SdxlUNetFactory().weightShapes(Map.of("unet", unetConfig)).get("unet");
        assertSameLayout(Golden.model().resolve("unet/diffusion_pytorch_model.safetensors"), unet, "");
        Map<String, long[]> adapter = new MultiSubjectAttentionFactory().weightShapes(Map.of("unet", unetConfig))
                .get("ms_adapter");
        assertSameLayout(Golden.model().resolve("ms_adapter.bin"), adapter, "ms_adapter.");
        assertThrows(IllegalArgumentException.class, () -> new SdxlUNetFactory().weightShapes(Map.of()));
        assertTrue(new SdxlUNetFactory() instanceof WeightLayout);
    }

    private static void assertSameLayout(Path file, Map<String, long[]> declared, String prefix) throws Exception {
        try (TensorSource source = TensorSource.open(file)) {
            TreeSet<String> actual = source.names().stream().filter(n -> n.startsWith(prefix))
                    .collect(Collectors.toCollection(TreeSet::new));
            assertEquals(actual, new TreeSet<>(declared.keySet()));
            declared.forEach((name, shape) -> assertArrayEquals(source.info(name).shape(), shape, name));
        }
    }
}
