package dev.montage.runtime.weights;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.runtime.config.ParserLimits;
import java.io.CharConversionException;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;

/** Reads the JSON files of model folders, with errors that name the file. */
public final class JsonFiles {
    private static final ObjectMapper MAPPER = new ObjectMapper(ParserLimits.json());

    private JsonFiles() {
    }

    /**
     * Reads a JSON object.
     *
     * @throws IllegalArgumentException naming the file when it is missing, unreadable, not JSON, not an object, or
     *     beyond the {@link ParserLimits}
     */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> readObject(Path file) {
        try {
            Object value = MAPPER.readValue(ParserLimits.read(file, "a model configuration"), Object.class);
            if (!(value instanceof Map)) {
                throw new IllegalArgumentException(file + ": expected a JSON object, found "
                        + (value == null ? "null" : value.getClass().getSimpleName()));
            }
            return (Map<String, Object>) value;
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + " is missing", e);
        } catch (JsonProcessingException e) {
            int line = ParserLimits.line(e);
            throw new IllegalArgumentException(file + " is not valid JSON: " + e.getOriginalMessage()
                    + (line > 0 ? " (line " + line + ")" : ""), e);
        } catch (CharConversionException e) {
            throw new IllegalArgumentException(file + " is not valid JSON: " + e.getMessage() + " (UTF-8 expected)", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
