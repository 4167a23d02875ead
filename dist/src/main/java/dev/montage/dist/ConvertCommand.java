package dev.montage.dist;

import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.MappedTensor;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.SingleFileLayout;
import dev.montage.runtime.output.AtomicFiles;
import dev.montage.runtime.registry.InstalledPlugins;
import dev.montage.runtime.weights.DiffusersPipelineFolder;
import dev.montage.runtime.weights.JsonFiles;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.SingleFile;
import dev.montage.runtime.weights.TensorDType;
import dev.montage.runtime.weights.TensorNames;
import dev.montage.runtime.weights.TensorSource;
import dev.montage.runtime.weights.UnmappedTensorSource;
import dev.montage.runtime.weights.WeightFile;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code montage convert}: a model between a diffusers folder and a single-file checkpoint in the original layout of
 * its training code, both ways, through the installed components' {@link SingleFileLayout}s. Tensors are streamed one
 * at a time from the mapped source files; the output appears whole or not at all and never replaces a file.
 */
@Command(name = "convert", mixinStandardHelpOptions = true, description = {"Convert a model between a diffusers "
        + "folder and a single-file checkpoint in the original layout (the .safetensors files A1111 and ComfyUI "
        + "load), either way; the direction follows from SOURCE.",
    "Folder to file: writes what diffusers' scripts/convert_diffusers_to_original_sdxl.py --use_safetensors writes, "
        + "byte for byte (dtypes kept, the second text encoder's projection as text_projection.weight). Parts of the "
        + "folder a single file does not hold (tokenizers, scheduler, image encoder, adapters, ControlNets) are "
        + "named and left out.",
    "File to folder: writes each model the file holds as diffusers' and transformers' save_pretrained do "
        + "(<model>/diffusion_pytorch_model.safetensors or <model>/model.safetensors), with model_index.json, the "
        + "configuration files, tokenizers and scheduler copied from --config.",
    "TARGET must not exist."})
final class ConvertCommand implements Callable<Integer> {
    /** What save_pretrained writes into the header of every weights file. */
    private static final Map<String, String> SAVE_PRETRAINED = Map.of("format", "pt");
    private static final Pattern WEIGHTS = Pattern.compile(".*\\.(safetensors|bin|pt|pth|ckpt|msgpack|onnx|h5)"
            + "|.*\\.index(\\.[^.]+)?\\.json");

    @Spec
    CommandSpec spec;

    @Mixin
    PluginOptions plugins;

    @Option(names = "--config", paramLabel = "FOLDER", description = "File to folder: a folder laid out as a diffusers "
            + "model of the same architecture (model_index.json, <model>/config.json, tokenizers, scheduler), as "
            + "models.config gives it when a single file is loaded; its weights are not read.")
    Path config;

    @Option(names = "--half", description = "Store every F32 and BF16 tensor as F16 (rounded to nearest even), as "
            + "the diffusers script's --half does.")
    boolean half;

    @Option(names = "--bfloat16", description = "Store every F32 and F16 tensor as BF16 (rounded to nearest even): "
            + "for bf16 compute such a file loads without converting its weights.")
    boolean bfloat16;

    @Option(names = "--variant", paramLabel = "NAME", description = "Folder to file: read the weights of this "
            + "variant (e.g. fp16: diffusion_pytorch_model.fp16.safetensors) where a model folder has them.")
    String variant;

    @Parameters(index = "0", paramLabel = "SOURCE", description = "A diffusers model folder, or a single-file "
            + "checkpoint (.safetensors).")
    Path source;

    @Parameters(index = "1", paramLabel = "TARGET", description = "The single file, or the folder, to write.")
    Path target;

    @Override
    public Integer call() throws IOException {
        if (half && bfloat16) {
            throw new IllegalArgumentException("--half and --bfloat16 both choose the stored dtype; give one");
        }
        if (!Files.exists(source)) {
            throw new IllegalArgumentException(source + " does not exist; expected a diffusers model folder or a "
                    + "single-file checkpoint");
        }
        if (Files.exists(target)) {
            throw new IllegalArgumentException(target + " exists; the output is never replaced, name a new file or "
                    + "folder");
        }
        Path parent = target.toAbsolutePath().getParent();
        if (!Files.isDirectory(parent)) {
            throw new IllegalArgumentException("the folder of " + target + " (" + parent + ") does not exist");
        }
        PrintWriter out = spec.commandLine().getOut();
        try (InstalledPlugins installed = plugins.load()) {
            PluginOptions.warn(installed, spec.commandLine().getErr());
            Map<String, SingleFileLayout> layouts = installed.registry().singleFileLayouts();
            Map<String, ModelFile> files = installed.registry().modelFiles();
            if (Files.isDirectory(source)) {
                if (config != null) {
                    throw new IllegalArgumentException("--config is for converting a single file; " + source
                            + " is a folder and has its own configuration");
                }
                toSingleFile(layouts, files, out);
            } else {
                if (variant != null) {
                    throw new IllegalArgumentException("--variant is for converting a folder; " + source
                            + " is a file");
                }
                toFolder(layouts, files, out);
            }
        }
        return 0;
    }

    private void toSingleFile(Map<String, SingleFileLayout> layouts, Map<String, ModelFile> files, PrintWriter out)
            throws IOException {
        SafetensorsWriter writer = new SafetensorsWriter();
        List<TensorSource> opened = new ArrayList<>();
        Map<String, Integer> written = new LinkedHashMap<>();
        Set<String> used = new TreeSet<>(Set.of("model_index.json"));
        List<String> absent = new ArrayList<>();
        try {
            for (Map.Entry<String, SingleFileLayout> e : layouts.entrySet()) {
                String key = e.getKey();
                String folderName = folderOf(key, files);
                Path folder = source.resolve(folderName);
                if (!Files.isDirectory(folder)) {
                    absent.add(key);
                    continue;
                }
                ModelConfig modelConfig = configOf(source, folderName);
                Optional<Map<String, long[]>> stored = e.getValue().storedTensors(key, modelConfig);
                if (stored.isEmpty()) {
                    out.println("left out model '" + key + "': its component reads single files but does not write "
                            + "them");
                    continue;
                }
                Map<String, MappedTensor> view = e.getValue().view(key, stored.get(), modelConfig)
                        .orElseThrow(() -> new IllegalStateException("the component of model '" + key + "' does not "
                                + "read the single-file tensors it writes"));
                TensorSource weights = open(WeightFile.find(folder, Optional.ofNullable(variant)).path());
                opened.add(weights);
                Set<String> unread = new TreeSet<>(weights.names());
                unread.removeAll(view.keySet());
                if (!unread.isEmpty()) {
                    out.println("left out " + unread.size() + " tensors of " + weights.path() + " that no installed "
                            + "component reads: " + TensorNames.prefixes(unread));
                }
                TensorSource original = new UnmappedTensorSource(weights, stored.get(), view);
                for (String name : original.names()) {
                    writer.add(original, name, storedAs(original.info(name).dtype()));
                }
                written.put(key, original.names().size());
                used.add(folderName);
            }
            if (written.isEmpty()) {
                throw new IllegalArgumentException(source + " holds none of the models that a single file holds ("
                        + layouts.keySet().stream().map(k -> folderOf(k, files) + "/").collect(Collectors.joining(
                                ", ")) + ")");
            }
            writer.writeNew(target);
        } finally {
            opened.forEach(TensorSource::close);
        }
        out.println("wrote " + target + ": " + written.values().stream().mapToInt(Integer::intValue).sum()
                + " tensors (" + written.entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
                        .collect(Collectors.joining(", ")) + "), " + Files.size(target) + " bytes");
        if (!absent.isEmpty()) {
            out.println("not in " + source + ": " + String.join(", ", absent));
        }
        List<String> left;
        try (Stream<Path> entries = Files.list(source)) {
            left = entries.map(p -> p.getFileName().toString()).filter(n -> !used.contains(n)).sorted().toList();
        }
        if (!left.isEmpty()) {
            out.println("not part of a single file, left out: " + String.join(", ", left) + " (load the file with "
                    + "models.config=" + source + " for its configuration files and tokenizers)");
        }
    }

    private void toFolder(Map<String, SingleFileLayout> layouts, Map<String, ModelFile> files, PrintWriter out)
            throws IOException {
        if (config == null) {
            throw new IllegalArgumentException("converting the single file " + source + " into a folder needs "
                    + "--config FOLDER: a single file holds no configuration files or tokenizers");
        }
        DiffusersPipelineFolder pipeline = DiffusersPipelineFolder.open(config);
        Map<String, Integer> written = new LinkedHashMap<>();
        try (SingleFile file = SingleFile.open(source, layouts,
                (key, shapes) -> configOf(config, folderOf(key, files)))) {
            Set<String> folders = new LinkedHashSet<>(pipeline.components().keySet());
            file.keys().forEach(k -> folders.add(folderOf(k, files)));
            AtomicFiles.createFolder(target, tmp -> {
                Files.copy(config.resolve("model_index.json"), tmp.resolve("model_index.json"));
                for (String folder : folders) {
                    copyConfiguration(config.resolve(folder), tmp.resolve(folder));
                }
                for (String key : file.keys()) {
                    TensorSource tensors = file.tensors(key).orElseThrow();
                    SafetensorsWriter writer = new SafetensorsWriter().metadata(SAVE_PRETRAINED);
                    for (String name : tensors.names()) {
                        writer.add(tensors, name, storedAs(tensors.info(name).dtype()));
                    }
                    String folder = folderOf(key, files);
                    writer.writeNew(tmp.resolve(folder).resolve(weightsName(configOf(config, folder))));
                    written.put(key, tensors.names().size());
                }
            });
        }
        out.println("wrote " + target + ": " + written.entrySet().stream().map(e -> e.getKey() + " ("
                + e.getValue() + " tensors)").collect(Collectors.joining(", ")) + ", configuration from " + config);
    }

    /** The dtype a tensor stored as {@code own} is written in: --half and --bfloat16 narrow floating point ones. */
    private TensorDType storedAs(TensorDType own) {
        if (!own.isFloating() || own == TensorDType.F64) {
            return own;
        }
        return half ? TensorDType.F16 : bfloat16 ? TensorDType.BF16 : own;
    }

    /** The files of a model or tokenizer folder that are not weights. */
    private static void copyConfiguration(Path from, Path to) throws IOException {
        if (!Files.isDirectory(from)) {
            return;
        }
        Files.createDirectories(to);
        List<Path> all;
        try (Stream<Path> walk = Files.walk(from)) {
            all = walk.filter(Files::isRegularFile)
                    .filter(p -> !WEIGHTS.matcher(p.getFileName().toString()).matches()).toList();
        }
        for (Path p : all) {
            Path copy = to.resolve(from.relativize(p).toString());
            Files.createDirectories(copy.getParent());
            Files.copy(p, copy);
        }
    }

    /** diffusers names its weights files as its own, transformers as its own; only diffusers' configs have a class. */
    private static String weightsName(ModelConfig config) {
        return config.has("_class_name") ? "diffusion_pytorch_model.safetensors"
                : "model.safetensors";
    }

    private static String folderOf(String key, Map<String, ModelFile> files) {
        ModelFile file = files.get(key);
        return file != null ? file.defaultPath() : key;
    }

    private static ModelConfig configOf(Path root, String folder) {
        Path json = root.resolve(folder).resolve("config.json");
        if (!Files.isRegularFile(json)) {
            throw new IllegalArgumentException("no configuration of model '" + folder + "': " + json + " does not "
                    + "exist; expected a folder laid out as a diffusers model");
        }
        return new ModelConfig(json.toString(), JsonFiles.readObject(json));
    }

    private static TensorSource open(Path file) {
        try {
            return TensorSource.open(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
