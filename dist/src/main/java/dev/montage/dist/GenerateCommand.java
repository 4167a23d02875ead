package dev.montage.dist;

import dev.montage.api.AutoLayout;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.Latents;
import dev.montage.runtime.MontagePipeline;
import dev.montage.runtime.config.Profile;
import dev.montage.runtime.output.PngFiles;
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
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code montage generate}: one request, PNGs with their parameters embedded. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate images from a prompt and subject pictures placed in boxes.")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @ParentCommand
    Montage montage;

    @Mixin
    ConfigurationOptions configuration;

    @Option(names = {"-p", "--prompt"}, required = true, description = "The prompt.")
    String prompt;

    @Option(names = {"-n", "--negative-prompt"}, description = "Negative prompt (default: the profile's, else "
            + "MS-Diffusion's).")
    String negativePrompt;

    @Option(names = {"-s", "--subject"}, description = "image=FILE,phrase=WORDS,box=x0,y0,x1,y1[,scale=S][,drop=true]"
            + " (repeatable, in order)")
    List<String> subjects = new ArrayList<>();

    @Option(names = "--width", description = "Width in pixels, multiple of 8 (default: the profile's, else 1024).")
    Integer width;

    @Option(names = "--height", description = "Height in pixels, multiple of 8 (default: the profile's, else 1024).")
    Integer height;

    @Option(names = "--steps", description = "Denoising steps (default: the profile's, else 30).")
    Integer steps;

    @Option(names = {"-g", "--guidance"}, description = "Classifier-free guidance scale, 1 = off (default: the "
            + "profile's, else 7.5).")
    Double guidance;

    @Option(names = "--scale", description = "Image attention scale of the subjects (default: the profile's, else "
            + "0.6).")
    Double scale;

    @Option(names = "--seed", description = "Seed of the starting noise (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--scheduler", description = "Scheduler id, e.g. euler, ddim, dpmpp-2m (default: the profile's, "
            + "else euler).")
    String scheduler;

    @Option(names = "--count", description = "Images to generate (default: the profile's, else 1).")
    Integer count;

    @Option(names = "--auto-layout", description = "THRESHOLD,START_STEP: masks from attention maps after START_STEP.")
    String autoLayout;

    @Option(names = {"-o", "--out"}, description = "Output folder (default ${DEFAULT-VALUE}).")
    Path out = Path.of("montage-out");

    @Option(names = "--init-latents", description = "FILE.safetensors[:tensor]: starting noise instead of the seed.")
    String initLatents;

    @Option(names = "--save-latents", description = "Write the final latents to FILE.safetensors.")
    Path saveLatents;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        ComponentRegistry registry = ComponentRegistry.fromClasspath(Montage.class.getClassLoader());
        MontagePipeline.Builder pipeline = configuration.builder(montage.environment(), registry);
        ConfigurationOptions.flag(pipeline, "defaults.width", width, "--width");
        ConfigurationOptions.flag(pipeline, "defaults.height", height, "--height");
        ConfigurationOptions.flag(pipeline, "defaults.steps", steps, "--steps");
        ConfigurationOptions.flag(pipeline, "defaults.guidance", guidance, "--guidance");
        ConfigurationOptions.flag(pipeline, "defaults.scale", scale, "--scale");
        ConfigurationOptions.flag(pipeline, "defaults.scheduler", scheduler, "--scheduler");
        ConfigurationOptions.flag(pipeline, "defaults.negative_prompt", negativePrompt, "--negative-prompt");
        ConfigurationOptions.flag(pipeline, "defaults.count", count, "--count");
        // the whole configuration and the request are checked before any weight is read
        Profile profile = pipeline.resolve().profile();
        GenerationRequest.Builder b = profile.defaults().request(prompt).seed(seed);
        subjects.forEach(s -> b.subject(SubjectSpec.parse(s)));
        if (autoLayout != null) {
            String[] p = autoLayout.split(",");
            if (p.length != 2) {
                throw new IllegalArgumentException("--auto-layout must be THRESHOLD,START_STEP, got '" + autoLayout + "'");
            }
            b.autoLayout(new AutoLayout(Double.parseDouble(p[0].trim()), Integer.parseInt(p[1].trim())));
        }
        if (initLatents != null) {
            b.initLatents(readLatents(initLatents));
        }
        GenerationRequest request = b.build();
        if (profile.models().isEmpty()) {
            pipeline.setting("models.base", EmbeddedModel.ensure(registry, err), "the embedded default model");
        }
        try (MontagePipeline assembled = pipeline.build()) {
            err.println("montage: " + assembled.engine().describe());
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
