package dev.montage.plugins.msdiffusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.ComponentFactory;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.TensorDType;
import dev.montage.runtime.weights.TorchCheckpointWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The plugin's factories: discovery, and the attention processor bound to the layers of the UNet it serves. */
class MultiSubjectAttentionFactoryTest {

    @Test
    void serviceLoaderFindsTheResamplerTheAttentionAndTheRecipe() {
        Map<String, ComponentKind> found = new TreeMap<>();
        for (ComponentFactory<?> f : ServiceLoader.load(ComponentFactory.class)) {
            if (f.getClass().getPackageName().equals(MultiSubjectAttentionFactory.class.getPackageName())) {
                found.put(f.kind() + " " + f.id(), f.kind());
            }
        }
        assertEquals(Map.of("SUBJECT_RESAMPLER ms-diffusion", ComponentKind.SUBJECT_RESAMPLER,
                "ATTENTION_PROCESSOR ms-diffusion", ComponentKind.ATTENTION_PROCESSOR,
                "RECIPE ms-diffusion-sdxl", ComponentKind.RECIPE), found);
    }

    @Test
    void theProcessorIsBoundToTheLayersOfTheUNetItServes() throws Exception {
        try (FolderComponentContext context = TestContext.model(TestEngine.engine())) {
            DenoisingModel unet = GoldenModel.unet(context);
            AttentionProcessor ms = new MultiSubjectAttentionFactory().create(
                    context.forAttentionProcessor("attention processor 'ms-diffusion'", Map.of(),
                            unet.attentionLayers()));
            assertInstanceOf(MultiSubjectAttention.class, ms);
            unet.useAttentionProcessors(name -> ms);
            ((AutoCloseable) ms).close();
            IllegalStateException outside = assertThrows(IllegalStateException.class,
                    () -> new MultiSubjectAttentionFactory().create(context));
            assertTrue(outside.getMessage().contains("only an attention processor created for a denoising model"),
                    outside.getMessage());
            IllegalArgumentException fewer = assertThrows(IllegalArgumentException.class,
                    () -> new MultiSubjectAttentionFactory().create(context.forAttentionProcessor("test", Map.of(),
                            unet.attentionLayers().subList(0, 12))));
            assertTrue(fewer.getMessage().contains("does not fit the denoising model's 12 attention layers"),
                    fewer.getMessage());
        }
    }

    @Test
    void anAdapterCheckpointWithoutProcessorsIsRefused(@TempDir Path dir) throws Exception {
        Path resamplerOnly = dir.resolve("ms_adapter.bin");
        ByteBuffer data = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        TorchCheckpointWriter.write(resamplerOnly, Map.of("image_proj", Map.of("proj_in.weight",
                new RawTensor("proj_in.weight", TensorDType.F32, new long[] {2, 2}, data))));
        try (FolderComponentContext context = TestContext.of(TestEngine.engine(), resamplerOnly, null)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new MultiSubjectAttentionFactory().create(context.forAttentionProcessor("test", Map.of(),
                            GoldenModel.unetLayers())));
            assertTrue(e.getMessage().contains("has no 'ms_adapter.*' tensors"), e.getMessage());
        }
    }
}
