package dev.montage.runtime.weights;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The weights file of one model component folder, chosen the way diffusers and transformers choose it:
 * the requested variant (e.g. {@code fp16}) first, safetensors before pickled {@code .bin}, a single file
 * before a sharded index.
 *
 * @param path   the file (a weights file or a {@code *.index*.json} shard index)
 * @param format how to read it
 */
public record WeightFile(Path path, Format format) {

    /** On-disk formats of a weights file. */
    public enum Format {
        SAFETENSORS,
        SAFETENSORS_INDEX,
        TORCH_CHECKPOINT,
        TORCH_CHECKPOINT_INDEX
    }

    /** Base names the two libraries use: diffusers models, then transformers models. */
    private static final List<String[]> BASE_NAMES = List.of(
            new String[] {"diffusion_pytorch_model", "diffusion_pytorch_model"},
            new String[] {"model", "pytorch_model"});

    /**
     * Finds the weights of a component folder.
     *
     * @param folder  a diffusers or transformers component folder
     * @param variant the variant to prefer (e.g. {@code "fp16"}), or empty for the default weights; when the
     *                variant is absent the default weights are used, as diffusers does for such folders
     * @throws IllegalArgumentException naming the folder and every file name that was looked for
     */
    public static WeightFile find(Path folder, Optional<String> variant) {
        if (!Files.isDirectory(folder)) {
            throw new IllegalArgumentException("model folder " + folder + " does not exist or is not a folder");
        }
        List<String> tried = new ArrayList<>();
        return search(folder, variant, tried).orElseThrow(() -> new IllegalArgumentException("no weights in " + folder
                + ": looked for " + String.join(", ", tried) + "; the folder holds " + listing(folder)));
    }

    /**
     * Opens the weights with the reader their format needs, all shards of an index as one source.
     *
     * @throws IOException when a file cannot be read
     * @throws WeightFormatException when a file is malformed
     */
    public TensorSource open() throws IOException {
        return WeightSources.open(this);
    }

    /** As {@link #find}, empty for a folder without weights (a tokenizer's, a scheduler's) or no folder. */
    public static Optional<WeightFile> lookup(Path folder, Optional<String> variant) {
        return Files.isDirectory(folder) ? search(folder, variant, new ArrayList<>()) : Optional.empty();
    }

    private static Optional<WeightFile> search(Path folder, Optional<String> variant, List<String> tried) {
        List<Optional<String>> variants = variant.isPresent() ? List.of(variant, Optional.empty()) : List.of(variant);
        for (Optional<String> v : variants) {
            for (String[] base : BASE_NAMES) {
                for (Candidate c : candidates(base[0], base[1], v)) {
                    Path p = folder.resolve(c.fileName);
                    tried.add(c.fileName);
                    if (Files.isRegularFile(p)) {
                        return Optional.of(new WeightFile(p, c.format));
                    }
                }
            }
        }
        return Optional.empty();
    }

    private record Candidate(String fileName, Format format) {
    }

    private static List<Candidate> candidates(String safetensorsBase, String binBase, Optional<String> variant) {
        String v = variant.map(s -> "." + s).orElse("");
        return List.of(
                new Candidate(safetensorsBase + v + ".safetensors", Format.SAFETENSORS),
                new Candidate(safetensorsBase + ".safetensors.index" + v + ".json", Format.SAFETENSORS_INDEX),
                new Candidate(binBase + v + ".bin", Format.TORCH_CHECKPOINT),
                new Candidate(binBase + ".bin.index" + v + ".json", Format.TORCH_CHECKPOINT_INDEX));
    }

    private static String listing(Path folder) {
        try (Stream<Path> files = Files.list(folder)) {
            String names = files.map(p -> p.getFileName().toString()).sorted().collect(Collectors.joining(", "));
            return names.isEmpty() ? "nothing" : names;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + folder, e);
        }
    }
}
