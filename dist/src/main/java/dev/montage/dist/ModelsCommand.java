package dev.montage.dist;

import dev.montage.api.ConfigurationException;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.MappedTensor;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.SingleFileLayout;
import dev.montage.plugins.clip.SdxlTextEncoderFactory;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.registry.InstalledPlugins;
import dev.montage.runtime.weights.JsonFiles;
import dev.montage.runtime.weights.LoraFile;
import dev.montage.runtime.weights.ShardedCheckpoint;
import dev.montage.runtime.weights.TensorInfo;
import dev.montage.runtime.weights.TensorNames;
import dev.montage.runtime.weights.TensorSource;
import dev.montage.runtime.weights.TorchCheckpointSource;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code montage models}: weights files and model folders. */
@Command(name = "models", mixinStandardHelpOptions = true, description = "Weights files and model folders.",
        subcommands = {ModelsCommand.Inspect.class})
final class ModelsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand: inspect");
    }

    /**
     * {@code montage models inspect}: what a weights file is, from its header alone, and which installed components
     * would read it.
     */
    @Command(name = "inspect", mixinStandardHelpOptions = true, description = {"Print what a weights file is from "
            + "its header alone (no tensor data is read): its format, tensor count, dtypes, size, and the "
            + "architecture as the installed components recognise it: the model keys a single-file checkpoint holds, "
            + "or the modules, ranks and model keys of a LoRA (kohya-ss or diffusers format), or else the prefixes of "
            + "its tensor names.",
            "For a model folder, each weights file in it."})
    static final class Inspect implements Callable<Integer> {
        private static final String EXPECTED = "expected a .safetensors file, a torch zip checkpoint (.bin, .pt), a "
                + "sharded checkpoint's .index.json or a model folder";

        @Spec
        CommandSpec spec;

        @Mixin
        PluginOptions plugins;

        @Option(names = "--config", paramLabel = "FOLDER", description = "A folder laid out as a diffusers model "
                + "whose <model>/config.json files give the sizes a single-file checkpoint is checked against "
                + "(default: the published SDXL base configuration shipped with Montage).")
        Path config;

        @Parameters(paramLabel = "FILE", description = "The weights file or model folder.")
        Path file;

        @Override
        public Integer call() throws IOException {
            if (!Files.exists(file)) {
                throw new IllegalArgumentException(file + " does not exist; " + EXPECTED);
            }
            if (config != null && !Files.isDirectory(config)) {
                throw new IllegalArgumentException("--config " + config + " is not a folder; expected a folder laid "
                        + "out as a diffusers model (<model>/config.json)");
            }
            PrintWriter out = spec.commandLine().getOut();
            try (InstalledPlugins installed = plugins.load()) {
                PluginOptions.warn(installed, spec.commandLine().getErr());
                ComponentRegistry registry = installed.registry();
                if (Files.isDirectory(file)) {
                    List<Path> weights = weightsFiles(file);
                    if (weights.isEmpty()) {
                        throw new IllegalArgumentException(file + " holds no weights file; " + EXPECTED);
                    }
                    out.println("file: " + file);
                    out.println("format: folder");
                    for (Path w : weights) {
                        out.println();
                        inspect(w, registry, out);
                    }
                } else {
                    inspect(file, registry, out);
                }
            }
            return 0;
        }

        /** The weights files in a folder and its subfolders, but not the shards a sharded checkpoint lists. */
        private static List<Path> weightsFiles(Path folder) throws IOException {
            try (Stream<Path> all = Files.walk(folder, 2)) {
                List<Path> files = all.filter(Files::isRegularFile).sorted().toList();
                boolean sharded = files.stream().anyMatch(f -> f.toString().endsWith(".index.json"));
                return files.stream().filter(f -> {
                    String name = f.getFileName().toString();
                    return name.endsWith(".index.json") || !sharded && (name.endsWith(".safetensors")
                            || name.endsWith(".bin") || name.endsWith(".pt"));
                }).toList();
            }
        }

        private void inspect(Path path, ComponentRegistry registry, PrintWriter out) {
            try (TensorSource source = open(path)) {
                Map<String, TensorInfo> infos = new LinkedHashMap<>();
                source.names().forEach(n -> infos.put(n, source.info(n)));
                Map<String, Integer> dtypes = new TreeMap<>();
                long bytes = 0;
                for (TensorInfo info : infos.values()) {
                    dtypes.merge(info.dtype().name(), 1, Integer::sum);
                    bytes += info.byteSize();
                }
                out.println("file: " + path);
                out.println("format: " + (source instanceof TorchCheckpointSource ? "torch zip checkpoint"
                        : source instanceof ShardedCheckpoint ? "sharded safetensors" : "safetensors"));
                out.println("tensors: " + infos.size());
                out.println("dtypes: " + dtypes.entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
                        .collect(Collectors.joining(", ")));
                out.println("size: " + bytes + " bytes");
                Map<String, long[]> shapes = new LinkedHashMap<>();
                infos.forEach((n, info) -> shapes.put(n, info.shape()));
                Optional<String> embedding = SdxlTextEncoderFactory.describeEmbedding(shapes);
                if (embedding.isPresent()) {
                    out.println("architecture: " + embedding.get());
                } else if (LoraFile.holdsFactors(infos.keySet())) {
                    lora(path, infos, registry.loraPrefixes(), out);
                } else {
                    checkpoint(infos, registry, out);
                }
            }
        }

        private static TensorSource open(Path path) {
            try {
                return TensorSource.open(path);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("cannot read " + path + " (" + EXPECTED + "): " + e.getMessage(),
                        e);
            }
        }

        /**
         * The modules of a LoRA by prefix, with their ranks and the model key each prefix adapts.
         *
         * @param keys the model key of each installed prefix with its separator ({@code lora_unet_}, {@code unet.})
         */
        private static void lora(Path path, Map<String, TensorInfo> infos, Map<String, String> keys,
                PrintWriter out) {
            Map<String, LoraFile.Factors> factors;
            try {
                factors = LoraFile.modules(path.toString(), infos.keySet());
            } catch (ConfigurationException e) {
                out.println("architecture: LoRA factors, but not a LoRA that can be applied: " + e.getMessage());
                return;
            }
            Map<String, Set<Long>> ranks = new TreeMap<>();
            Map<String, Integer> modules = new TreeMap<>();
            factors.values().forEach(f -> {
                String prefix = prefix(f.name(), keys.keySet());
                modules.merge(prefix, 1, Integer::sum);
                ranks.computeIfAbsent(prefix, p -> new TreeSet<>()).add(infos.get(f.down()).shape()[0]);
            });
            out.println("architecture: " + LoraFile.formats(factors.values()) + " LoRA, " + factors.size()
                    + " modules");
            modules.forEach((prefix, count) -> out.println("  " + prefix + "*: " + count + " modules, rank "
                    + ranks.get(prefix).stream().map(String::valueOf).collect(Collectors.joining(", "))
                    + (keys.containsKey(prefix) ? ", adapts model '" + keys.get(prefix) + "'"
                            : ", adapts no model of the installed components")));
        }

        /**
         * The installed prefix a module name starts with, else its first {@code .}-separated part with the
         * {@code .} or, without one, its first two {@code _}-separated parts with the {@code _}.
         */
        private static String prefix(String module, Set<String> installed) {
            for (String p : installed) {
                if (module.startsWith(p)) {
                    return p;
                }
            }
            int dot = module.indexOf('.');
            if (dot >= 0) {
                return module.substring(0, dot + 1);
            }
            String[] parts = module.split("_", 3);
            return parts.length > 2 ? parts[0] + "_" + parts[1] + "_" : parts[0];
        }

        /**
         * Which model keys the installed components find in the file, each checked against its configuration, and
         * the tensors none of them reads.
         */
        private void checkpoint(Map<String, TensorInfo> infos, ComponentRegistry registry, PrintWriter out) {
            Map<String, long[]> shapes = new LinkedHashMap<>();
            infos.forEach((n, info) -> shapes.put(n, info.shape()));
            Map<String, ModelFile> modelFiles = registry.modelFiles();
            Map<String, Integer> held = new LinkedHashMap<>();
            List<String> refusals = new ArrayList<>();
            List<String> notes = new ArrayList<>();
            Set<String> claimed = new HashSet<>();
            registry.singleFileLayouts().forEach((key, layout) -> {
                String folder = modelFiles.containsKey(key) ? modelFiles.get(key).defaultPath() : key;
                try {
                    ModelConfig given = configOf(key, folder, registry);
                    ModelConfig adapted = layout.adapted(key, shapes, given);
                    if (adapted != given) {
                        notes.add("model '" + key + "': " + adapted.source());
                    }
                    layout.view(key, shapes, adapted).ifPresent(view -> {
                        held.put(key, view.size());
                        view.values().stream().map(MappedTensor::source).forEach(claimed::add);
                    });
                } catch (IllegalArgumentException | ConfigurationException e) {
                    refusals.add("model '" + key + "': " + e.getMessage());
                }
            });
            if (held.isEmpty() && refusals.isEmpty()) {
                out.println("architecture: unknown layout; tensors under " + TensorNames.prefixes(shapes.keySet()));
                return;
            }
            out.println("architecture: " + (held.isEmpty() ? "no model key matches its configuration"
                    : "holds " + held.entrySet().stream().map(e -> "model '" + e.getKey() + "' (" + e.getValue()
                            + " tensors)").collect(Collectors.joining(", "))));
            out.println("configuration: " + (config != null ? config
                    : "the published SDXL base configuration (--config to check against another)"));
            notes.forEach(n -> out.println("  " + n));
            refusals.forEach(r -> out.println("  " + r));
            Set<String> unclaimed = new TreeSet<>(shapes.keySet());
            unclaimed.removeAll(claimed);
            if (!held.isEmpty() && !unclaimed.isEmpty()) {
                out.println("  " + unclaimed.size() + " tensors no installed component reads, under "
                        + TensorNames.prefixes(unclaimed));
            }
        }

        /**
         * A model key's configuration: its {@code config.json} in {@code --config}, else the published one of the
         * component that reads it.
         */
        private ModelConfig configOf(String key, String folder, ComponentRegistry registry) {
            String file = folder + "/config.json";
            if (config == null) {
                ModelConfig published = registry.published(key).get("config.json");
                if (published == null) {
                    throw new IllegalArgumentException("no installed component publishes a configuration of '" + key
                            + "'; give --config");
                }
                return published;
            }
            Path json = config.resolve(file);
            if (!Files.isRegularFile(json)) {
                throw new IllegalArgumentException("no configuration: " + json + " does not exist");
            }
            return new ModelConfig(json.toString(), JsonFiles.readObject(json));
        }
    }
}
