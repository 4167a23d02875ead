package dev.montage.dist;

import dev.montage.api.AutoLayout;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.Latents;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.output.PngFiles;
import dev.montage.runtime.pipeline.AssembledPipeline;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.pipeline.PipelineBuilder;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsReader;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TensorDType;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code montage generate}: one request, PNGs with their parameters embedded. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate images from a prompt and subject pictures placed in boxes.")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", description = "MS-Diffusion model folder: SDXL diffusers folder with image_encoder/ "
            + "and ms_adapter.bin (default: the embedded tiny model with random weights)")
    Path model;

    @Option(names = {"-p", "--prompt"}, required = true, description = "The prompt.")
    String prompt;

    @Option(names = {"-n", "--negative-prompt"}, description = "Negative prompt (default: MS-Diffusion's).")
    String negativePrompt = GenerationRequest.DEFAULT_NEGATIVE_PROMPT;

    @Option(names = {"-s", "--subject"}, description = "image=FILE,phrase=WORDS,box=x0,y0,x1,y1[,scale=S][,drop=true]"
            + " (repeatable, in order)")
    List<String> subjects = new ArrayList<>();

    @Option(names = "--width", description = "Width in pixels, multiple of 8 (default ${DEFAULT-VALUE}).")
    int width = 1024;

    @Option(names = "--height", description = "Height in pixels, multiple of 8 (default ${DEFAULT-VALUE}).")
    int height = 1024;

    @Option(names = "--steps", description = "Denoising steps (default ${DEFAULT-VALUE}).")
    int steps = 30;

    @Option(names = {"-g", "--guidance"}, description = "Classifier-free guidance scale, 1 = off (default ${DEFAULT-VALUE}).")
    double guidance = 7.5;

    @Option(names = "--scale", description = "Image attention scale of the subjects (default ${DEFAULT-VALUE}).")
    double scale = 0.6;

    @Option(names = "--seed", description = "Seed of the starting noise (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--scheduler", description = "Scheduler id, e.g. euler, ddim, dpmpp-2m.")
    String scheduler;

    @Option(names = "--count", description = "Images to generate (default ${DEFAULT-VALUE}).")
    int count = 1;

    @Option(names = "--auto-layout", description = "THRESHOLD,START_STEP: masks from attention maps after START_STEP.")
    String autoLayout;

    @Option(names = {"-o", "--out"}, description = "Output folder (default ${DEFAULT-VALUE}).")
    Path out = Path.of("montage-out");

    @Option(names = "--init-latents", description = "FILE.safetensors[:tensor]: starting noise instead of the seed.")
    String initLatents;

    @Option(names = "--save-latents", description = "Write the final latents to FILE.safetensors.")
    Path saveLatents;

    @Option(names = "--device", description = "cpu, cuda, cuda:N or auto (default ${DEFAULT-VALUE}).")
    String device = "auto";

    @Option(names = "--dtype", description = "float32, bfloat16, float16 or auto (default ${DEFAULT-VALUE}).")
    String dtype = "float32";

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        GenerationRequest.Builder b = GenerationRequest.builder(prompt).negativePrompt(negativePrompt)
                .size(width, height).steps(steps).guidanceScale(guidance).imageScale(scale).seed(seed).numImages(count)
                .scheduler(scheduler);
        subjects.forEach(s -> b.subject(SubjectSpec.parse(s)));
        if (autoLayout != null) {
            b.autoLayout(autoLayout(autoLayout));
        }
        if (initLatents != null) {
            b.initLatents(readLatents(initLatents));
        }
        GenerationRequest request = b.build();
        ComponentRegistry registry = ComponentRegistry.fromClasspath(Montage.class.getClassLoader());
        Path folder = model != null ? model : EmbeddedModel.ensure(registry, err);
        try (MontageEngine engine = MontageEngine.start(EngineConfig.of(device, dtype));
                AssembledPipeline assembled = new PipelineBuilder(engine, registry, ModelPaths.of(folder)).build()) {
            err.println("montage: " + engine.describe());
            Latents[] finalLatents = new Latents[1];
            GenerationResult result = assembled.pipeline().generate(request, new ProgressBar(err, ""), finalLatents);
            Files.createDirectories(out);
            for (int i = 0; i < result.images().size(); i++) {
                Path file = out.resolve(String.format("montage-%d-%02d.png", seed, i));
                PngFiles.write(file, result.images().get(i), result.parameters());
                spec.commandLine().getOut().println(file);
            }
            if (saveLatents != null) {
                writeLatents(saveLatents, finalLatents[0]);
            }
            err.printf("montage: %d image(s) in %.1f s%n", result.images().size(), result.elapsed().toMillis() / 1000.0);
        }
        return 0;
    }

    /** {@code THRESHOLD,START_STEP} as given to {@code --auto-layout}. */
    static AutoLayout autoLayout(String spec) {
        String[] p = spec.split(",");
        try {
            if (p.length == 2) {
                return new AutoLayout(Double.parseDouble(p[0].trim()), Integer.parseInt(p[1].trim()));
            }
        } catch (NumberFormatException e) {
            // reported below with the expected form
        }
        throw new IllegalArgumentException("--auto-layout must be THRESHOLD,START_STEP, got '" + spec + "'");
    }

    /** {@code FILE[:tensor]}; without a tensor name the file must hold exactly one tensor. */
    static Latents readLatents(String spec) throws IOException {
        int split = spec.indexOf(".safetensors:");
        Path file = Path.of(split < 0 ? spec : spec.substring(0, split + ".safetensors".length()));
        String name = split < 0 ? null : spec.substring(split + ".safetensors:".length());
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            if (name == null) {
                if (reader.names().size() != 1) {
                    throw new IllegalArgumentException("--init-latents " + file + " holds " + reader.names()
                            + "; name one as FILE:tensor");
                }
                name = reader.names().iterator().next();
            }
            RawTensor t = reader.tensor(name);
            return new Latents(t.shape(), t.toFloatArray());
        }
    }

    static void writeLatents(Path file, Latents latents) throws IOException {
        float[] v = latents.values();
        ByteBuffer bytes = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            bytes.putFloat(f);
        }
        SafetensorsWriter.write(file, Map.of("format", "pt"),
                List.of(new RawTensor("latents", TensorDType.F32, latents.shape(), bytes.flip())));
    }
}
