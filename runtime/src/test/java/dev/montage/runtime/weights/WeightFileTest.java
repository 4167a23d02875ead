package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WeightFileTest {
    @TempDir
    Path dir;

    private void touch(String... names) throws IOException {
        for (String n : names) {
            Files.writeString(dir.resolve(n), "");
        }
    }

    @Test
    void prefersTheRequestedVariant() throws IOException {
        touch("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors");
        assertEquals(dir.resolve("diffusion_pytorch_model.fp16.safetensors"), WeightFile.find(dir, Optional.of("fp16")).path());
        assertEquals(dir.resolve("diffusion_pytorch_model.safetensors"), WeightFile.find(dir, Optional.empty()).path());
    }

    @Test
    void fallsBackToDefaultWeightsWhenTheVariantIsAbsent() throws IOException {
        touch("model.safetensors");
        WeightFile f = WeightFile.find(dir, Optional.of("fp16"));
        assertEquals(dir.resolve("model.safetensors"), f.path());
        assertEquals(WeightFile.Format.SAFETENSORS, f.format());
    }

    @Test
    void prefersSafetensorsOverPickles() throws IOException {
        touch("pytorch_model.bin", "model.safetensors");
        assertEquals(WeightFile.Format.SAFETENSORS, WeightFile.find(dir, Optional.empty()).format());
    }

    @Test
    void findsShardIndexesAndPickles() throws IOException {
        touch("diffusion_pytorch_model.safetensors.index.fp16.json");
        assertEquals(WeightFile.Format.SAFETENSORS_INDEX, WeightFile.find(dir, Optional.of("fp16")).format());
        Files.delete(dir.resolve("diffusion_pytorch_model.safetensors.index.fp16.json"));
        touch("pytorch_model.bin");
        assertEquals(WeightFile.Format.TORCH_CHECKPOINT, WeightFile.find(dir, Optional.empty()).format());
    }

    @Test
    void namesTheFolderAndWhatWasLookedFor() throws IOException {
        touch("config.json");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WeightFile.find(dir, Optional.of("fp16")));
        assertTrue(e.getMessage().contains(dir.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("diffusion_pytorch_model.fp16.safetensors"), e.getMessage());
        assertTrue(e.getMessage().contains("the folder holds config.json"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> WeightFile.find(dir.resolve("nope"), Optional.empty()));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }
}
