package dev.montage.dist;

import dev.montage.api.spi.Suggestions;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.InstalledPlugins;
import dev.montage.runtime.weights.TensorDType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code montage make-random-model}: a model folder with random weights in the real formats. */
@Command(name = "make-random-model", mixinStandardHelpOptions = true, description = "Write an MS-Diffusion SDXL model "
        + "folder with RANDOM weights in the real formats (diffusers and transformers folders with safetensors, "
        + "ms_adapter.bin, a tokenizer vocabulary of Montage's own), to run and measure the pipeline without "
        + "downloading weights. Its images are noise-like.")
final class MakeRandomModelCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    PluginOptions plugins;

    @Option(names = "--config", description = "One of the recipe's random models: tiny (the embedded default, seconds "
            + "on a CPU) or sdxl (full size, for benchmarks) (default ${DEFAULT-VALUE}).")
    String config = "tiny";

    @Option(names = "--dtype", description = "Storage dtype of the weights: f32, f16 or bf16 (default ${DEFAULT-VALUE}).")
    String dtype = "f32";

    @Option(names = "--seed", description = "Seed of the random weights (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", required = true, description = "The model folder to write (new or empty).")
    Path out;

    @Override
    public Integer call() throws IOException {
        TensorDType storage = switch (dtype.toLowerCase(Locale.ROOT)) {
            case "f32", "float32", "fp32" -> TensorDType.F32;
            case "f16", "float16", "fp16" -> TensorDType.F16;
            case "bf16", "bfloat16" -> TensorDType.BF16;
            default -> throw new IllegalArgumentException("--dtype '" + dtype + "' is not one of f32, f16, bf16");
        };
        if (Files.exists(out) && !isEmptyFolder(out) && !Files.isRegularFile(out.resolve(RandomModel.MARKER))) {
            throw new IllegalArgumentException("--out " + out + " is not empty and holds no random model; expected a "
                    + "new or empty folder (so that no real model is overwritten)");
        }
        try (InstalledPlugins installed = plugins.load()) {
            PluginOptions.warn(installed, spec.commandLine().getErr());
            RandomModel models = RandomModel.of(installed.registry(), Optional.empty());
            if (!models.names().contains(config)) {
                throw new IllegalArgumentException("--config '" + config + "' is not one of "
                        + String.join(", ", models.names()) + Suggestions.didYouMean(config, models.names()));
            }
            models.write(out, config, storage, seed);
        }
        spec.commandLine().getErr().println("montage: wrote a " + config + " model with RANDOM " + dtype
                + " weights; use it with --model " + out + " or models.base in a profile");
        spec.commandLine().getOut().println(out);
        return 0;
    }

    private static boolean isEmptyFolder(Path folder) throws IOException {
        if (!Files.isDirectory(folder)) {
            return false;
        }
        try (Stream<Path> entries = Files.list(folder)) {
            return entries.findAny().isEmpty();
        }
    }
}
