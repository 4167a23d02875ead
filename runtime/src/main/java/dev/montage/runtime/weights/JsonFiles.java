package dev.montage.runtime.weights;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;

/** Reads the JSON files of model folders, with errors that name the file. */
final class JsonFiles {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private JsonFiles() {
    }

    /**
     * Reads a JSON object.
     *
     * @throws IllegalArgumentException naming the file when it is missing, unreadable, not JSON, or not an object
     */
    @SuppressWarnings("unchecked")
    static Map<String, Object> readObject(Path file) {
        try {
            Object value = MAPPER.readValue(Files.readAllBytes(file), Object.class);
            if (!(value instanceof Map)) {
                throw new IllegalArgumentException(file + ": expected a JSON object, found "
                        + (value == null ? "null" : value.getClass().getSimpleName()));
            }
            return (Map<String, Object>) value;
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + " is missing", e);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + " is not valid JSON: " + e.getOriginalMessage()
                    + " (line " + e.getLocation().getLineNr() + ")", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
