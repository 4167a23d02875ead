package dev.montage.dist.record;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.montage.runtime.output.AtomicFiles;
import dev.montage.runtime.pipeline.Lora;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.weights.TensorSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.stream.Stream;

/**
 * SHA-256 of model files, remembered in a cache file by path, size and modification time, so a file of several
 * gigabytes is read once, not for every result.
 */
public final class ModelHashes {
    /** The key of the base model in a pipeline's description; its hash is A1111's {@code Model hash}. */
    static final String BASE = "model";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BUFFER = 8 << 20;

    private final Path cacheFile;
    private Map<String, String> cache;

    /** Hashes remembered in {@code hashes.json} of {@code cacheFolder}. */
    public ModelHashes(Path cacheFolder) {
        this.cacheFile = cacheFolder.resolve("hashes.json");
    }

    /** Montage's cache folder: {@code $MONTAGE_HOME}, default {@code ~/.cache/montage}. */
    public static Path cacheFolder() {
        return RandomModel.cacheFolder(System.getenv());
    }

    /** The SHA-256 of a file's bytes, in lower-case hex. */
    public synchronized String sha256(Path file) throws IOException {
        Path absolute = file.toAbsolutePath().normalize();
        BasicFileAttributes a = Files.readAttributes(absolute, BasicFileAttributes.class);
        String key = a.size() + ":" + a.lastModifiedTime().toMillis() + ":" + absolute;
        Map<String, String> known = cache();
        String hash = known.get(key);
        if (hash == null) {
            hash = digest(absolute);
            known.put(key, hash);
            Files.createDirectories(cacheFile.getParent());
            // a concurrent writer's entries may be lost: they are hashed again, never wrong
            AtomicFiles.write(cacheFile, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(new TreeMap<>(known)));
        }
        return hash;
    }

    private Map<String, String> cache() {
        if (cache == null) {
            cache = new LinkedHashMap<>();
            try {
                if (Files.isRegularFile(cacheFile)) {
                    cache.putAll(JSON.readValue(cacheFile.toFile(), new TypeReference<Map<String, String>>() { }));
                }
            } catch (IOException e) {
                // an unreadable cache is rebuilt
            }
        }
        return cache;
    }

    /** The SHA-256 of bytes, in lower-case hex. */
    public static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(digest().digest(bytes));
    }

    private static String digest(Path file) throws IOException {
        MessageDigest sha = digest();
        ByteBuffer buffer = ByteBuffer.allocateDirect(BUFFER);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            while (channel.read(buffer) >= 0) {
                buffer.flip();
                sha.update(buffer);
                buffer.clear();
            }
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }

    /**
     * The weights file of each model a pipeline read, by its key in the pipeline's description ({@code model},
     * {@code model.<key>}, {@code controlnet.<type>}, {@code lora.<n>}): a file as it is; for a folder, the one
     * weights file of its denoising model (the base folder's {@code unet/}, a ControlNet folder itself); a folder
     * that is no model (no {@code config.json}), such as one of textual inversion embeddings, each of its weights files
     * by {@code <key>.<file name without extension>}. A folder of sharded weights has no single file and is left out.
     */
    static Map<String, Path> weightFiles(Map<String, String> pipeline) {
        Optional<String> variant = Optional.ofNullable(pipeline.get("model.variant"));
        Map<String, Path> files = new LinkedHashMap<>();
        pipeline.forEach((key, value) -> {
            Optional<Path> file = Optional.empty();
            if (key.equals(BASE)) {
                Path base = Path.of(value);
                file = Files.isDirectory(base) ? weightsIn(base.resolve("unet"), variant) : Optional.of(base);
            } else if (key.startsWith("lora.")) {
                file = Optional.of(Lora.parse(value).file());
            } else if ((key.startsWith("model.") && !key.equals("model.variant")) || key.startsWith("controlnet.")) {
                Path p = Path.of(value);
                if (Files.isDirectory(p) && !Files.isRegularFile(p.resolve("config.json"))) {
                    eachWeightsFile(p).forEach((name, f) -> files.put(key + "." + name, f));
                } else {
                    file = Files.isDirectory(p) ? weightsIn(p, variant) : Optional.of(p);
                }
            }
            file.filter(Files::isRegularFile).ifPresent(f -> files.put(key, f));
        });
        return files;
    }

    /** The weights files of a folder that is no model, by file name without extension. */
    private static Map<String, Path> eachWeightsFile(Path folder) {
        Map<String, Path> files = new TreeMap<>();
        try (Stream<Path> list = Files.list(folder)) {
            list.filter(Files::isRegularFile).forEach(f -> {
                Matcher m = TensorSource.WEIGHTS_FILE_NAME.matcher(f.getFileName().toString());
                if (m.matches()) {
                    files.put(m.group(1), f);
                }
            });
        } catch (IOException e) {
            return Map.of();
        }
        return files;
    }

    /** The folder's one {@code .safetensors} file of the variant (or without one). */
    private static Optional<Path> weightsIn(Path folder, Optional<String> variant) {
        if (!Files.isDirectory(folder)) {
            return Optional.empty();
        }
        try (Stream<Path> list = Files.list(folder)) {
            List<Path> all = list.filter(p -> p.getFileName().toString().endsWith(".safetensors")).toList();
            List<Path> ofVariant = all.stream().filter(p -> variant.map(v -> p.getFileName().toString()
                    .endsWith("." + v + ".safetensors")).orElse(false)).toList();
            List<Path> plain = all.stream().filter(p -> p.getFileName().toString().split("\\.").length == 2).toList();
            List<Path> chosen = ofVariant.isEmpty() ? plain : ofVariant;
            return chosen.size() == 1 ? Optional.of(chosen.get(0)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
