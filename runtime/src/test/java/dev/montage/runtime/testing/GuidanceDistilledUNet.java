package dev.montage.runtime.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsReader;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TensorDType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A guidance-distilled variant of a diffusers UNet folder, as LCM-SDXL's UNet is one of SDXL's: the configuration with
 * {@code time_cond_proj_dim}, the weights with a random {@code time_embedding.cond_proj.weight} added.
 */
public final class GuidanceDistilledUNet {
    /** The tensor the variant adds. */
    public static final String COND_PROJ = "time_embedding.cond_proj.weight";

    private GuidanceDistilledUNet() {
    }

    /**
     * Writes the variant of {@code unet} into {@code target} (a new folder).
     *
     * @param width the guidance embedding width ({@code time_cond_proj_dim})
     * @param seed  of the added weight's values (normal, standard deviation 0.5)
     */
    public static void write(Path unet, Path target, int width, long seed) throws IOException {
        Files.createDirectories(target);
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(unet.resolve("config.json").toFile());
        config.put("time_cond_proj_dim", width);
        json.writeValue(target.resolve("config.json").toFile(), config);
        int channels = config.get("block_out_channels").get(0).asInt();
        Path weights = unet.resolve("diffusion_pytorch_model.safetensors");
        List<RawTensor> tensors = new ArrayList<>();
        try (SafetensorsReader reader = SafetensorsReader.open(weights)) {
            for (String name : reader.names()) {
                tensors.add(reader.tensor(name));
            }
        }
        Random random = new Random(seed);
        ByteBuffer data = ByteBuffer.allocate(channels * width * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < channels * width; i++) {
            data.putFloat((float) (random.nextGaussian() * 0.5));
        }
        data.flip();
        tensors.add(new RawTensor(COND_PROJ, TensorDType.F32, new long[] {channels, width}, data));
        SafetensorsWriter.write(target.resolve("diffusion_pytorch_model.safetensors"), Map.of(), tensors);
    }
}
