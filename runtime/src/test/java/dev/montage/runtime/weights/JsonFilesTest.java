package dev.montage.runtime.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonFilesTest {
    @TempDir
    Path dir;

    @Test
    void readsAnObject() throws IOException {
        Path file = Files.writeString(dir.resolve("config.json"), "{\"layers\": [1, 2], \"name\": \"unet\"}");
        assertEquals(Map.of("layers", List.of(1, 2), "name", "unet"), JsonFiles.readObject(file));
    }

    @Test
    void deepNestingIsRefusedNamingTheFile() throws IOException {
        Path file = Files.writeString(dir.resolve("config.json"),
                "{\"a\": " + "[".repeat(5000) + "]".repeat(5000) + "}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JsonFiles.readObject(file));
        assertTrue(e.getMessage().startsWith(file + " is not valid JSON"), e.getMessage());
        assertTrue(e.getMessage().contains("nesting depth"), e.getMessage());
    }

    @Test
    void anOversizedFileIsRefusedBeforeItIsRead() throws IOException {
        Path file = Files.writeString(dir.resolve("config.json"), "{\"a\": \"" + "x".repeat(17 << 20) + "\"}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JsonFiles.readObject(file));
        assertTrue(e.getMessage().startsWith(file + " is larger than"), e.getMessage());
    }
}
