package dev.montage.plugins.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.montage.api.host.ModelConfig;
import dev.montage.api.host.ModelFolder;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.testing.TestEngine;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full-size SDXL single file without {@code models.config}: its UNet is checked against the published SDXL base
 * configuration from the header alone. The files declare full-size float16 tensors over a sparse data region, so
 * nothing of gigabytes is written or read.
 */
class PublishedConfigurationTest {
    private final ComponentRegistry registry = ComponentRegistry.fromClasspath(getClass().getClassLoader());

    @TempDir
    Path dir;

    private FolderComponentContext context(ModelPaths paths) {
        return new FolderComponentContext(TestEngine.engine(), paths.withDefaults(registry.modelFiles().values()),
                Map.of(), registry.singleFileLayouts(), registry::published);
    }

    private ModelConfig publishedUNet() {
        return registry.published(SdxlUNetFactory.MODEL_KEY).get("config.json");
    }

    @Test
    void aFullSizeUNetMapsAgainstThePublishedConfigurationFromItsHeader() throws IOException {
        Map<String, long[]> diffusers = SdxlUNet.weightShapes(UNetConfig.from(publishedUNet()));
        OriginalUNetLayout layout = new OriginalUNetLayout(diffusers.keySet());
        Map<String, long[]> original = new LinkedHashMap<>();
        diffusers.forEach((name, shape) -> original.put(OriginalUNetLayout.PREFIX + layout.original(name), shape));
        Path file = sparse("sd_xl_base_1.0.safetensors", original);

        try (FolderComponentContext context = context(new ModelPaths(Optional.of(file), Map.of(),
                Optional.empty()))) {
            ModelFolder unet = context.model(SdxlUNetFactory.MODEL_KEY);
            assertTrue(unet.config().source().contains("the published SDXL base 1.0"), unet.config().source());
            assertEquals(diffusers.keySet(), unet.weights().names());
            assertEquals(2816, UNetConfig.from(unet.config()).additionInputDim());
            String message = assertThrows(IllegalArgumentException.class, () -> context.model("tokenizer"))
                    .getMessage();
            assertTrue(message.contains("single-file checkpoint, which holds weights only, no tokenizer")
                    && message.contains("set models.config to a folder laid out as a diffusers model that has "
                            + "'tokenizer/'") && message.contains("set models.tokenizer"), message);
        }
    }

    /**
     * SDXL's inpainting checkpoint as a single file ({@code sd_xl_base_1.0_inpainting_0.1.safetensors}: conv_in of nine
     * input channels) takes the published configuration with the file's input channels; a file with SDXL base's own
     * four keeps the published configuration as it is.
     */
    @Test
    void aFullSizeInpaintingUNetTakesItsInputChannelsFromItsFirstConvolution() throws IOException {
        Map<String, long[]> diffusers = SdxlUNet.weightShapes(UNetConfig.from(publishedUNet()));
        OriginalUNetLayout layout = new OriginalUNetLayout(diffusers.keySet());
        Map<String, long[]> original = new LinkedHashMap<>();
        diffusers.forEach((name, shape) -> original.put(OriginalUNetLayout.PREFIX + layout.original(name),
                name.equals("conv_in.weight") ? new long[] {shape[0], 9, shape[2], shape[3]} : shape));
        Path file = sparse("sd_xl_base_1.0_inpainting_0.1.safetensors", original);

        try (FolderComponentContext context = context(new ModelPaths(Optional.of(file), Map.of(),
                Optional.empty()))) {
            ModelFolder unet = context.model(SdxlUNetFactory.MODEL_KEY);
            UNetConfig config = UNetConfig.from(unet.config());
            assertEquals(9, config.inChannels());
            assertTrue(config.inpainting());
            assertTrue(unet.config().source().contains("the published SDXL base 1.0") && unet.config().source()
                    .endsWith("with in_channels 9 as model.diffusion_model.input_blocks.0.0.weight has them"),
                    unet.config().source());
            assertEquals(diffusers.keySet(), unet.weights().names());
        }
        ModelConfig published = publishedUNet();
        assertEquals(4, UNetConfig.from(published).inChannels());
        assertSame(published, OriginalUNetLayout.adapted(Map.of(OriginalUNetLayout.PREFIX
                + "input_blocks.0.0.weight", new long[] {320, 4, 3, 3}), published));
    }

    @Test
    void aFullSizeControlNetFileTakesThePublishedUNetsConfiguration() throws IOException {
        ModelConfig published = registry.published(SdxlControlNetFactory.GENERIC_MODEL_KEY).get("config.json");
        Map<String, long[]> shapes = SdxlControlNet.weightShapes(ControlNetConfig.from(published), null);
        Path base = sparse("base.safetensors", Map.of(OriginalUNetLayout.PREFIX + "label_emb.0.0.weight",
                new long[] {1280, 2816}));
        Path controlNet = sparse("controlnet-canny-sdxl.safetensors", shapes);
        ModelPaths paths = new ModelPaths(Optional.of(base), Map.of(SdxlControlNetFactory.modelKey("canny"),
                controlNet), Optional.empty());
        try (FolderComponentContext context = context(paths)) {
            ModelFolder folder = context.model(SdxlControlNetFactory.modelKey("canny"));
            assertEquals(shapes.keySet(), folder.weights().names());
            ControlNetConfig derived = ControlNetConfig.from(folder.config());
            String source = folder.config().source();
            assertTrue(source.contains("the published SDXL base 1.0") && source.contains("unet/config.json"), source);
            ControlNetConfig expected = ControlNetConfig.from(published);
            assertEquals(expected.embeddingChannels(), derived.embeddingChannels());
            assertEquals(expected.conditioningChannels(), derived.conditioningChannels());
            assertEquals(expected.encoder().blockOutChannels(), derived.encoder().blockOutChannels());
        }
    }

    /** A safetensors file declaring float16 tensors of these shapes, whose data region is a hole. */
    private Path sparse(String name, Map<String, long[]> shapes) throws IOException {
        StringBuilder header = new StringBuilder("{");
        long offset = 0;
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long bytes = 2 * Arrays.stream(e.getValue()).reduce(1, Math::multiplyExact);
            header.append(header.length() > 1 ? "," : "").append('"').append(e.getKey()).append("\":{\"dtype\":\"F16\","
                    + "\"shape\":").append(Arrays.toString(e.getValue()).replace(" ", "")).append(",\"data_offsets\":[")
                    .append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
        }
        byte[] json = header.append('}').toString().getBytes(StandardCharsets.UTF_8);
        Path file = dir.resolve(name);
        try (RandomAccessFile out = new RandomAccessFile(file.toFile(), "rw")) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).array());
            out.write(json);
            out.setLength(8 + json.length + offset);
        }
        return file;
    }
}
