package dev.montage.spark;

import dev.montage.dist.server.ServerSection;
import dev.montage.runtime.config.ProfileCatalog;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The configuration a job ships to its executors: the profile layers (a shipped profile by its name, a file by its
 * text, read on the driver) and the keys set on the command line. Each executor JVM builds one pipeline from it
 * and every task on that JVM shares it.
 *
 * @param layers   the profile layers, weakest first: a shipped name, or the file name of a layer in {@code texts}
 * @param texts    the text of each layer read from a file, by its index in {@code layers}
 * @param settings profile keys set on the command line
 */
record JobProfile(List<String> layers, Map<Integer, String> texts, Map<String, String> settings)
        implements Serializable {
    /** The model of a configuration that names none, as {@code montage generate} runs it: the embedded default. */
    private static final String EMBEDDED_MODEL = "tiny";
    private static final Map<String, MontagePipeline> PIPELINES = new ConcurrentHashMap<>();

    JobProfile {
        layers = List.copyOf(layers);
        texts = Map.copyOf(texts);
        settings = Map.copyOf(settings);
    }

    /** The layers as the driver is given them: files are read here, so executors need not see them. */
    static JobProfile read(List<String> layers, Map<String, String> settings) throws IOException {
        Map<Integer, String> texts = new LinkedHashMap<>();
        List<String> names = new ArrayList<>();
        for (String layer : layers) {
            Path file = Path.of(layer.trim());
            if (Files.isRegularFile(file)) {
                texts.put(names.size(), Files.readString(file));
                names.add(file.getFileName().toString());
            } else {
                names.add(layer.trim());
            }
        }
        return new JobProfile(names, texts, settings);
    }

    /**
     * This JVM's pipeline for the profile, built by the first task that asks (the others wait for it).
     *
     * @param threads the intra-op threads of a generation (the task's CPUs), unless the profile's
     *                {@code engine.threads} is set on the command line
     */
    MontagePipeline pipeline(int threads) {
        return PIPELINES.computeIfAbsent(this + "|threads=" + threads, key -> builder(threads).build());
    }

    /** The pipeline's builder; the driver resolves it to check the configuration before any task runs. */
    MontagePipeline.Builder builder(int threads) {
        ClassLoader loader = JobProfile.class.getClassLoader();
        MontagePipeline.Builder builder = MontagePipeline.builder().catalog(ProfileCatalog.classpath(loader))
                .registry(ComponentRegistry.fromClasspath(loader)).section(ServerSection.PROFILE)
                .environment(System.getenv()).profile(layerArguments());
        builder.setting("engine.threads", threads, "the task's CPUs (spark.task.cpus)");
        settings.forEach((key, value) -> builder.setting(key, value.isEmpty() ? null : value,
                "montage batch --set"));
        if (builder.resolve().profile().models().isEmpty()) {
            builder.setting("models.random", EMBEDDED_MODEL, "the embedded default model");
        }
        return builder;
    }

    /** Each layer as the builder takes it: a name, or a file of this JVM holding the shipped text. */
    private String[] layerArguments() {
        String[] arguments = new String[layers.size()];
        for (int i = 0; i < arguments.length; i++) {
            String text = texts.get(i);
            arguments[i] = text == null ? layers.get(i) : LayerFiles.of(layers.get(i), text).toString();
        }
        return arguments;
    }

    /** The shipped profile files, written once per JVM (the builder reads profiles from files). */
    private static final class LayerFiles {
        private static final Map<String, Path> WRITTEN = new ConcurrentHashMap<>();
        private static final Set<String> EXTENSIONS = Set.of(".yaml", ".yml", ".json");

        static Path of(String name, String text) {
            return WRITTEN.computeIfAbsent(name + "\n" + text, key -> {
                try {
                    String extension = EXTENSIONS.stream().filter(name::endsWith).findFirst().orElse(".yaml");
                    Path dir = Files.createTempDirectory("montage-profile-");
                    dir.toFile().deleteOnExit();
                    Path file = dir.resolve(name.endsWith(extension) ? name : name + extension);
                    Files.writeString(file, text, StandardCharsets.UTF_8);
                    file.toFile().deleteOnExit();
                    return file;
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot write the job's profile " + name, e);
                }
            });
        }
    }
}
