package dev.montage.dist;

import dev.montage.api.Box;
import dev.montage.api.Subject;
import dev.montage.dist.record.GenerationRecord;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import javax.imageio.ImageIO;

/**
 * Parses {@code image=dog.png,phrase=dog,box=0.1,0.2,0.5,0.9[,scale=0.7][,drop=true]} as given to
 * {@code --subject}. Values may contain commas (the box does): a part without '=' continues the previous value.
 */
final class SubjectSpec {
    private static final Set<String> KEYS = Set.of("image", "phrase", "box", "scale", "drop");

    private SubjectSpec() {
    }

    static Map<String, String> parts(String spec, String option, Set<String> keys) {
        Map<String, String> parts = new LinkedHashMap<>();
        String last = null;
        for (String token : spec.split(",")) {
            int eq = token.indexOf('=');
            if (eq > 0 && keys.contains(token.substring(0, eq).trim())) {
                last = token.substring(0, eq).trim();
                if (parts.put(last, token.substring(eq + 1)) != null) {
                    throw new IllegalArgumentException(option + " '" + spec + "': '" + last + "' is given twice");
                }
            } else if (last != null) {
                parts.put(last, parts.get(last) + "," + token);
            } else {
                throw new IllegalArgumentException(option + " '" + spec + "': expected key=value parts with keys "
                        + keys + ", got '" + token + "'");
            }
        }
        return parts;
    }

    /**
     * The key=value parts of a {@code --subject}, with its image present (the phrase is required by adapters that
     * read phrases, which the pipeline checks).
     */
    static Map<String, String> fields(String spec) {
        Map<String, String> p = parts(spec, "--subject", KEYS);
        if (!p.containsKey("image")) {
            throw new IllegalArgumentException("--subject '" + spec + "': 'image=' is required");
        }
        return p;
    }

    static Subject parse(String spec) {
        Map<String, String> p = fields(spec);
        Path file = Path.of(p.get("image"));
        Box box = p.containsKey("box") ? Box.parse(p.get("box")) : Box.NONE;
        Subject s = Subject.of(readImage(file), file.getFileName().toString(), p.get("phrase"), box);
        if (p.containsKey("scale")) {
            s = s.withScale(number(spec, "scale", p.get("scale")));
        }
        if (p.containsKey("drop")) {
            s = s.withDropGrounding(Boolean.parseBoolean(p.get("drop").trim()));
        }
        return s;
    }

    /** How a request gives a picture read from a file again: its file and the SHA-256 of its bytes. */
    static Map<String, Object> source(Path file) {
        try {
            return GenerationRecord.fileSource(file, Files.readAllBytes(file));
        } catch (IOException e) {
            throw new IllegalArgumentException("image " + file + " cannot be read: " + e.getMessage(), e);
        }
    }

    static BufferedImage readImage(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("image " + file + " does not exist");
        }
        try {
            BufferedImage image = ImageIO.read(file.toFile());
            if (image == null) {
                throw new IllegalArgumentException("image " + file + " is not a PNG, JPEG or WebP file that can be read");
            }
            return image;
        } catch (IOException e) {
            throw new IllegalArgumentException("image " + file + " cannot be read: " + e.getMessage(), e);
        }
    }

    static double number(String spec, String key, String value) {
        try {
            return Double.parseDouble(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--subject '" + spec + "': " + key + " must be a number, got '"
                    + value + "'", e);
        }
    }
}
