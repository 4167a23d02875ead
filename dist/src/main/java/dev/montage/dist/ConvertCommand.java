package dev.montage.dist;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.montage.api.host.ModelConfig;
import dev.montage.api.spi.MappedTensor;
import dev.montage.api.spi.ModelFile;
import dev.montage.api.spi.SingleFileLayout;
import dev.montage.runtime.output.AtomicFiles;
import dev.montage.runtime.registry.InstalledPlugins;
import dev.montage.runtime.weights.DiffusersPipelineFolder;
import dev.montage.runtime.weights.JsonFiles;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.ShardedCheckpoint;
import dev.montage.runtime.weights.SingleFile;
import dev.montage.runtime.weights.TensorDType;
import dev.montage.runtime.weights.TensorNames;
import dev.montage.runtime.weights.TensorSource;
import dev.montage.runtime.weights.TorchCheckpointSource;
import dev.montage.runtime.weights.TorchCheckpointWriter;
import dev.montage.runtime.weights.UnmappedTensorSource;
import dev.montage.runtime.weights.WeightFile;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
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
        + "load), either way, or store a folder in another dtype; the direction follows from SOURCE and TARGET.",
    "Folder to file: writes what diffusers' scripts/convert_diffusers_to_original_sdxl.py --use_safetensors writes, "
        + "byte for byte (dtypes kept, the second text encoder's projection as text_projection.weight). Parts of the "
        + "folder a single file does not hold (tokenizers, scheduler, image encoder, adapters, ControlNets) are "
        + "named and left out.",
    "File to folder: writes each model the file holds as diffusers' and transformers' save_pretrained do "
        + "(<model>/diffusion_pytorch_model.safetensors or <model>/model.safetensors), with model_index.json, the "
        + "configuration files, tokenizers and scheduler copied from --config.",
    "Folder to folder (TARGET not a .safetensors file), with --half or --bfloat16: every model the installed "
        + "components read from the folder in that dtype (a model folder's weights as one save_pretrained file, "
        + "ms_adapter.bin and other checkpoint files in their own format), the files that are not weights copied, "
        + "weights no component reads named and left out.",
    "TARGET must not exist."})
final class ConvertCommand implements Callable<Integer> {
    /** What save_pretrained writes into the header of every weights file. */
    private static final Map<String, String> SAVE_PRETRAINED = Map.of("format", "pt");
    private static final ObjectMapper CONFIG_JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
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
            + "for bf16 compute such a model loads without converting its weights.")
    boolean bfloat16;

    @Option(names = "--variant", paramLabel = "NAME", description = "From a folder: read the weights of this "
            + "variant (e.g. fp16: diffusion_pytorch_model.fp16.safetensors) where a model folder has them.")
    String variant;

    @Parameters(index = "0", paramLabel = "SOURCE", description = "A diffusers model folder, or a single-file "
            + "checkpoint (.safetensors).")
    Path source;

    @Parameters(index = "1", paramLabel = "TARGET", description = "The single file (.safetensors), or the folder, "
            + "to write.")
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
                if (target.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".safetensors")) {
                    toSingleFile(layouts, files, out);
                } else {
                    toFolderInDtype(files, out);
                }
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
                addStored(writer, original);
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
        List<String> adapted = new ArrayList<>();
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
                    addStored(writer, tensors);
                    String folder = folderOf(key, files);
                    ModelConfig given = configOf(config, folder);
                    if (!file.config(key).asMap().equals(given.asMap())) {
                        // the file decided part of its configuration (an inpainting UNet's input channels)
                        Files.write(tmp.resolve(folder).resolve("config.json"), CONFIG_JSON.writeValueAsBytes(
                                file.config(key).asMap()));
                        adapted.add(file.config(key).source());
                    }
                    writer.writeNew(tmp.resolve(folder).resolve(weightsName(given)));
                    written.put(key, tensors.names().size());
                }
            });
        }
        out.println("wrote " + target + ": " + written.entrySet().stream().map(e -> e.getKey() + " ("
                + e.getValue() + " tensors)").collect(Collectors.joining(", ")) + ", configuration from " + config
                + (adapted.isEmpty() ? "" : " (" + String.join("; ", adapted) + ")"));
    }

    /**
     * The folder again, its weights stored in the dtype of --half or --bfloat16: each model the installed components
     * read from it (a model folder's weights, sharded or not, as one save_pretrained file; a checkpoint file in its own
     * format), every other file that is not weights copied, weights no component reads named and left out.
     */
    void toFolderInDtype(Map<String, ModelFile> files, PrintWriter out) throws IOException {
        if (!half && !bfloat16) {
            throw new IllegalArgumentException(target + " is not a .safetensors file, so " + source + " would be "
                    + "written as a folder, which changes only the stored dtype: give --half or --bfloat16, or name a "
                    + ".safetensors file to write a single file");
        }
        if (target.toAbsolutePath().normalize().startsWith(source.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException(target + " is inside " + source + ", whose files are all read; name a "
                    + "folder outside it");
        }
        Map<String, Integer> written = new LinkedHashMap<>();
        Set<Path> read = new HashSet<>();
        List<String> leftOut = new ArrayList<>();
        AtomicFiles.createFolder(target, tmp -> {
            Set<Path> places = new HashSet<>();
            for (ModelFile file : new TreeMap<>(files).values()) {
                Path from = source.resolve(file.defaultPath());
                Path to = tmp.resolve(file.defaultPath());
                if (!places.add(from.toAbsolutePath().normalize())) {
                    continue; // another key reads the same place
                }
                Optional<WeightFile> weights = file.folder()
                        ? WeightFile.lookup(from, Optional.ofNullable(variant)) : Optional.empty();
                if (weights.isPresent()) {
                    Files.createDirectories(to);
                    try (TensorSource tensors = weights.get().open()) {
                        SafetensorsWriter writer = new SafetensorsWriter().metadata(SAVE_PRETRAINED);
                        addStored(writer, tensors);
                        writer.writeNew(to.resolve(weightsName(configOf(source, file.defaultPath()))));
                        written.put(file.key(), tensors.names().size());
                        read.add(weights.get().path().toAbsolutePath().normalize());
                        if (tensors instanceof ShardedCheckpoint sharded) {
                            sharded.shardFiles().forEach(f -> read.add(f.toAbsolutePath().normalize()));
                        }
                    }
                } else if (!file.folder() && Files.isRegularFile(from) && isWeights(from)) {
                    Files.createDirectories(to.getParent());
                    written.put(file.key(), checkpointInDtype(from, to));
                    read.add(from.toAbsolutePath().normalize());
                }
            }
            List<Path> all;
            try (Stream<Path> walk = Files.walk(source)) {
                all = walk.filter(Files::isRegularFile).sorted().toList();
            }
            for (Path p : all) {
                Path copy = tmp.resolve(source.relativize(p).toString());
                if (isWeights(p)) {
                    if (!read.contains(p.toAbsolutePath().normalize())) {
                        leftOut.add(source.relativize(p).toString());
                    }
                } else if (!Files.exists(copy)) {
                    Files.createDirectories(copy.getParent());
                    Files.copy(p, copy);
                }
            }
        });
        out.println("wrote " + target + " in " + (half ? "float16" : "bfloat16") + ": " + written.entrySet().stream()
                .map(e -> e.getKey() + " (" + e.getValue() + " tensors)").collect(Collectors.joining(", ")));
        if (!leftOut.isEmpty()) {
            out.println("left out " + leftOut.size() + " weights files that no installed component reads: "
                    + String.join(", ", leftOut));
        }
    }

    /**
     * A checkpoint file in the dtype of --half or --bfloat16, in its own format: safetensors with its metadata, a torch
     * checkpoint as nested dictionaries of tensors (as {@code torch.save} of state dicts writes them).
     *
     * @return the number of tensors
     */
    private int checkpointInDtype(Path from, Path to) throws IOException {
        try (TensorSource tensors = TensorSource.open(from)) {
            if (tensors instanceof TorchCheckpointSource torch) {
                if (!(torch.root() instanceof Map<?, ?> root)) {
                    throw new IllegalArgumentException(from + " holds " + kind(torch.root()) + "; only a dictionary "
                            + "of tensors (nested dictionaries too) can be stored in another dtype");
                }
                TorchCheckpointWriter.write(to, inDtype(root, from, ""));
            } else {
                SafetensorsWriter writer = new SafetensorsWriter().metadata(tensors.metadata());
                addStored(writer, tensors);
                writer.writeNew(to);
            }
            return tensors.names().size();
        }
    }

    /** A torch checkpoint's dictionary with every tensor in its {@link #storedAs} dtype. */
    private Map<String, Object> inDtype(Map<?, ?> node, Path file, String path) {
        Map<String, Object> copy = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : node.entrySet()) {
            // the checkpoint reader gives every key as a string, as state dicts have them
            String key = (String) e.getKey();
            String at = path.isEmpty() ? key : path + "." + key;
            Object value = e.getValue();
            if (value instanceof RawTensor tensor) {
                TensorDType dtype = storedAs(tensor.dtype());
                copy.put(key, dtype == tensor.dtype() ? tensor : TorchCheckpointWriter.View.narrowed(tensor, dtype));
            } else if (value instanceof Map<?, ?> child) {
                copy.put(key, inDtype(child, file, at));
            } else {
                throw new IllegalArgumentException(file + " holds " + kind(value) + " at '" + at + "'; only "
                        + "dictionaries of tensors (nested dictionaries too) can be stored in another dtype");
            }
        }
        return copy;
    }

    private static String kind(Object value) {
        if (value == null) {
            return "None";
        }
        String shown = String.valueOf(value);
        return "a " + value.getClass().getSimpleName() + " (" + (shown.length() > 60 ? shown.substring(0, 57) + "..."
                : shown) + ")";
    }

    private static boolean isWeights(Path file) {
        return WEIGHTS.matcher(file.getFileName().toString()).matches();
    }

    /** Every tensor of {@code tensors}, in its {@link #storedAs} dtype. */
    private void addStored(SafetensorsWriter writer, TensorSource tensors) {
        for (String name : tensors.names()) {
            writer.add(tensors, name, storedAs(tensors.info(name).dtype()));
        }
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
                    .filter(p -> !isWeights(p)).toList();
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
