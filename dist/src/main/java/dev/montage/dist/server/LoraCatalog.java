package dev.montage.dist.server;

import dev.montage.api.spi.Suggestions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The LoRA files requests may name: the {@code .safetensors} files directly in the server's LoRA folder, each by its
 * file name with or without the extension. A request names a file, never a path, so it reaches nothing else.
 */
final class LoraCatalog {
    private static final String EXTENSION = ".safetensors";

    /** Why a request may not name a LoRA when there is no folder. */
    static final String NO_SERVER_FOLDER = "this server takes no LoRAs: it has no LoRA folder (server.lora_dir)";

    private final Optional<Path> folder;
    private final String noFolder;

    /**
     * @param folder   the LoRA folder; empty when requests may name no LoRA
     * @param noFolder what a request naming a LoRA is told when there is no folder
     */
    LoraCatalog(Optional<Path> folder, String noFolder) {
        this.folder = folder;
        this.noFolder = noFolder;
    }

    /** The names requests may use, sorted, without the extension. */
    List<String> names() {
        if (folder.isEmpty()) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(folder.get())) {
            return files.filter(Files::isRegularFile).map(f -> f.getFileName().toString())
                    .filter(n -> n.endsWith(EXTENSION) && !n.startsWith("."))
                    .map(n -> n.substring(0, n.length() - EXTENSION.length())).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the LoRA folder " + folder.get() + ": " + e.getMessage(), e);
        }
    }

    /**
     * The file a request's name stands for.
     *
     * @throws IllegalArgumentException saying what the name should be, with the closest name in the folder, when it
     *     names no file there or the server has no LoRA folder
     */
    Path resolve(String name) {
        if (folder.isEmpty()) {
            throw new IllegalArgumentException(noFolder);
        }
        String base = nameOf(name);
        List<String> names = names();
        if (!names.contains(base)) {
            String expected = names.isEmpty() ? "the server's LoRA folder holds none"
                    : "expected the name of a LoRA of this server" + Suggestions.didYouMean(base, names)
                            + " (GET /v1/models lists them)";
            throw new IllegalArgumentException("unknown LoRA '" + name + "'; " + expected);
        }
        return folder.get().resolve(base + EXTENSION);
    }

    /** The name a request's name stands for: without the extension, as {@link #names()} lists it. */
    static String nameOf(String given) {
        return given.endsWith(EXTENSION) ? given.substring(0, given.length() - EXTENSION.length()) : given;
    }
}
