package dev.montage.dist;

import dev.montage.api.AutoLayout;
import dev.montage.api.Control;
import dev.montage.api.ControlNetContext;
import dev.montage.api.GenerationRequest;
import dev.montage.api.Hires;
import dev.montage.api.InitImage;
import dev.montage.api.GenerationResult;
import dev.montage.api.Latents;
import dev.montage.api.ProgressListener;
import dev.montage.api.spi.ComponentKind;
import dev.montage.dist.record.GenerationRecord;
import dev.montage.dist.record.ModelHashes;
import dev.montage.runtime.config.Profile;
import dev.montage.runtime.output.PngFiles;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.registry.InstalledPlugins;
import dev.montage.runtime.registry.SlotOptions;
import dev.montage.runtime.weights.RawTensor;
import dev.montage.runtime.weights.SafetensorsReader;
import dev.montage.runtime.weights.SafetensorsWriter;
import dev.montage.runtime.weights.TensorDType;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code montage generate}: one request, PNGs with their parameters embedded. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate images from a prompt and subject pictures placed in boxes, optionally guided by "
                + "ControlNets.")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    PluginOptions plugins;

    @ParentCommand
    Montage montage;

    @Mixin
    ConfigurationOptions configuration;

    @Mixin
    HiresOptions hires;

    @Option(names = "--no-hires", description = "Leave out the hires pass that the PNG of --from records.")
    boolean noHires;

    @Mixin
    VariationOptions variation;

    @Mixin
    PerturbedAttentionOptions perturbedAttention;

    @Option(names = {"-p", "--prompt"}, description = "The prompt (required unless --from gives it).")
    String prompt;

    @Option(names = "--from", paramLabel = "PNG", description = "Run again the request a PNG records (Montage's, or "
            + "AUTOMATIC1111's prompt, negative prompt, steps, guidance, seed and size); every other option given "
            + "wins over the PNG's value, and --subject / --control replace its subjects / controls.")
    Path from;

    @Option(names = {"-n", "--negative-prompt"}, description = "Negative prompt (default: the profile's, else "
            + "MS-Diffusion's).")
    String negativePrompt;

    @Option(names = {"-s", "--subject"}, description = "image=FILE,phrase=WORDS,box=x0,y0,x1,y1[,scale=S][,drop=true]"
            + " (repeatable, in order)")
    List<String> subjects = new ArrayList<>();

    @Option(names = {"-c", "--control"}, description = "type=canny|depth|pose,image=FILE|keypoints=FILE[,scale=S]"
            + "[,start=A][,end=B][,model=DIR][,preprocess=none][,context=text-only|full][,key=value...] (repeatable; "
            + "keypoints: OpenPose JSON the pose preprocessor renders; ControlNet from model=DIR, else the model "
            + "folder's controlnet/)")
    List<String> controls = new ArrayList<>();

    @Option(names = "--controlnet-context", description = "What ControlNets cross-attend to: text-only (the text "
            + "tokens, as MS-Diffusion intends) or full (text and subject tokens, as its ControlNet script runs) "
            + "(default ${DEFAULT-VALUE}).")
    String controlNetContext = ControlNetContext.TEXT_ONLY.configName();

    @Option(names = "--save-control-images", description = "Write each control's conditioning image (after "
            + "preprocessing and resizing) to DIR.")
    Path saveControlImages;

    @Option(names = "--width", description = "Width in pixels, multiple of 8 (default: the profile's, else 1024).")
    Integer width;

    @Option(names = "--height", description = "Height in pixels, multiple of 8 (default: the profile's, else 1024).")
    Integer height;

    @Option(names = "--steps", description = "Denoising steps (default: the profile's, else 30).")
    Integer steps;

    @Option(names = {"-g", "--guidance"}, description = "Classifier-free guidance scale, 1 = off (default: the "
            + "profile's, else 7.5).")
    Double guidance;

    @Option(names = "--guidance-rescale", description = "Rescale the guided prediction towards the conditional one's "
            + "standard deviation by this share, 0 to 1 (diffusers' guidance_rescale; e.g. 0.7 for v-prediction "
            + "models; default: none).")
    Double guidanceRescale;

    @Option(names = "--scale", description = "Image attention scale of the subjects (default: the profile's, else "
            + "0.6).")
    Double scale;

    @Option(names = "--seed", description = "Seed of the starting noise (default: drawn at random; printed and "
            + "stored in the PNG either way).")
    Long seed;

    @Option(names = "--scheduler", description = "Scheduler id, e.g. euler, ddim, dpmpp-2m (default: the profile's, "
            + "else the one the model's scheduler_config.json names, else euler).")
    String scheduler;

    /** What {@code --scheduler-option} is, on every command that sends a request. */
    static final String SCHEDULER_OPTION_HELP = "A setting of the scheduler for this request, laid over the profile's "
            + "options.scheduler (diffusers' names, e.g. eta=0.3 for DDIM, timestep_spacing=trailing) (repeatable).";

    @Option(names = "--scheduler-option", paramLabel = "NAME=VALUE", description = SCHEDULER_OPTION_HELP
            + " `montage profile check` lists what each scheduler reads.")
    Map<String, String> schedulerOptions = new LinkedHashMap<>();

    @Option(names = "--count", description = "Images to generate (default: the profile's, else 1).")
    Integer count;

    @Option(names = "--auto-layout", description = "THRESHOLD,START_STEP: masks from attention maps after START_STEP.")
    String autoLayout;

    @Option(names = {"-o", "--out"}, description = "Output folder (default ${DEFAULT-VALUE}).")
    Path out = Path.of("montage-out");

    @Option(names = "--init-image", paramLabel = "FILE", description = "Start from this picture (image-to-image), "
            + "resized to the output size; see --strength.")
    Path initImage;

    @Option(names = "--strength", description = "How much of the --init-image is replaced, in (0, 1]: of the steps, "
            + "the last steps x STRENGTH run (default: the PNG's of --from, else 0.3, or 1 with --mask).")
    Double strength;

    @Option(names = "--mask", paramLabel = "FILE", description = "Repaint the --init-image only where this picture is "
            + "white (inpainting); black is kept.")
    Path mask;

    @Option(names = "--init-latents", description = "FILE.safetensors[:tensor]: starting noise instead of the seed.")
    String initLatents;

    @Option(names = "--save-latents", description = "Write the final latents to FILE.safetensors.")
    Path saveLatents;

    @Option(names = {"-q", "--quiet"}, description = "Print only the paths of the images written (standard output) "
            + "and errors: no progress, engine or seed lines.")
    boolean quiet;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        if (quiet && montage.verbose) {
            throw new IllegalArgumentException("--quiet and --verbose ask for opposite things; give one of them");
        }
        PrintWriter notes = quiet ? new PrintWriter(Writer.nullWriter()) : err;
        // plugin components run plugin code: the plugins stay loaded until the images are written
        try (InstalledPlugins installed = plugins.load()) {
            PluginOptions.warn(installed, err);
            ComponentRegistry registry = installed.registry();
            MontagePipeline.Builder pipeline = configuration.builder(montage.environment(), registry);
            Set<String> given = new HashSet<>();
            if (prompt != null) {
                given.add("prompt");
            }
            if (negativePrompt != null) {
                given.add("negativePrompt");
            }
            RecordedRequest recorded = from == null ? null : RecordedRequest.read(from, given);
            if (prompt == null && recorded == null) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "Missing required option: '--prompt=<prompt>' (or --from PNG)");
            }
            requestFlag(pipeline, recorded, "width", width, "--width");
            requestFlag(pipeline, recorded, "height", height, "--height");
            requestFlag(pipeline, recorded, "steps", steps, "--steps");
            requestFlag(pipeline, recorded, "guidance", guidance, "--guidance");
            requestFlag(pipeline, recorded, "scale", scale, "--scale");
            if (recorded != null && scheduler == null && recorded.unmatchedSampler().isPresent()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--from " + from + ": its sampler "
                        + recorded.unmatchedSampler().get() + " is none of Montage's schedulers; name one with "
                        + "--scheduler");
            }
            requestFlag(pipeline, recorded, "scheduler", scheduler, "--scheduler");
            requestFlag(pipeline, recorded, "negativePrompt", negativePrompt, "--negative-prompt");
            requestFlag(pipeline, recorded, "count", count, "--count");
            // the whole configuration and the request are checked before any weight is read
            Profile profile = pipeline.resolve().profile();
            Object recordedSeed = recorded == null ? null : recorded.get("seed");
            long noiseSeed = seed != null ? seed : recordedSeed != null ? ((Number) recordedSeed).longValue()
                    : new SecureRandom().nextLong() & Long.MAX_VALUE;
            GenerationRequest request = request(profile, noiseSeed, recorded);
            if (recorded != null) {
                differingOptions(recorded, profile).ifPresent(notes::println);
                if (!recorded.unapplied().isEmpty()) {
                    notes.println("montage: " + from + " has settings nothing here corresponds to, which this run "
                            + "does not apply: " + String.join(", ", recorded.unapplied()));
                }
                recordedLoras(recorded).ifPresent(notes::println);
                if (initImage == null && recorded.pictureStrength().isPresent()) {
                    notes.println("montage: " + from + " ran from a picture at strength "
                            + recorded.pictureStrength().get() + ", which the PNG does not store: this run starts "
                            + "from noise; --init-image gives the picture");
                }
            }
            if (recorded != null && recorded.get(GenerationRecord.MONTAGE) == null && prompt == null
                    && A1111_EMPHASIS.matcher(request.prompt() + request.negativePrompt()).find()
                    && !"a1111".equals(profile.options().byKind().getOrDefault(ComponentKind.TEXT_ENCODER, Map.of())
                            .get("prompt_weighting"))) {
                notes.println("montage: the A1111 prompt weighs words with brackets, which are read as text here; "
                        + "--set options.text_encoder.prompt_weighting=a1111 reads them as A1111 does");
            }
            if (profile.models().isEmpty()) {
                pipeline.setting("models.random", EmbeddedModel.NAME, "the embedded default model");
            }
            pipeline.onRandomModelWrite(EmbeddedModel.announceWrite(notes));
            controlNetFolders.forEach((type, folder) ->
                    pipeline.setting("models.controlnets." + type, folder, "--control model="));
            ControlNetContext context = ControlNetContext.parse(controlNetContext);
            pipeline.controlTypes(request.controls().stream().map(Control::type).toList())
                    .controlNetContext(context);
            ProgressBar progress = new ProgressBar(notes, "");
            long loading = System.nanoTime();
            try (MontagePipeline assembled = pipeline.build()) {
                progress.message(String.format(Locale.ROOT, "loading models %.1f s",
                        (System.nanoTime() - loading) / 1e9));
                EmbeddedModel.warnIfRandom(assembled, notes);
                notes.println("montage: " + assembled.engine().describe());
                notes.println("montage: seed " + noiseSeed);
                Latents[] finalLatents = new Latents[1];
                GenerationResult result = assembled.generate(request, listener(progress), finalLatents);
                progress.finish();
                Map<String, Object> record = GenerationRecord.of(GenerationRecord.request(request, subjectSources,
                        controlSources, initImageSource, GenerationRecord.loras(result.parameters())),
                        result.parameters(),
                        new ModelHashes(ModelHashes.cacheFolder()), Map.of());
                Map<String, String> chunks = GenerationRecord.pngChunks(request, record);
                for (BufferedImage image : result.images()) {
                    Path file = PngFiles.writeNumbered(out, noiseSeed + ".png", image, chunks);
                    spec.commandLine().getOut().println(file);
                }
                if (saveLatents != null) {
                    writeLatents(saveLatents, finalLatents[0]);
                }
                notes.printf("montage: %d image(s) in %.1f s%n", result.images().size(),
                        result.elapsed().toMillis() / 1000.0);
            }
        }
        return 0;
    }

    /**
     * The note on the component options the PNG's pipeline was built with that this run's profile sets otherwise (they
     * change the pixels), with the flags that run it as made; empty when they agree.
     */
    private Optional<String> differingOptions(RecordedRequest recorded, Profile profile) {
        Map<String, String> current = new TreeMap<>();
        profile.options().byKind().forEach((kind, given) -> given.forEach((key, value) ->
                current.put(SlotOptions.key(kind) + "." + key, value)));
        Map<String, String> made = recorded.componentOptions();
        Set<String> keys = new TreeSet<>(made.keySet());
        keys.addAll(current.keySet());
        List<String> differ = keys.stream().filter(k -> !Objects.equals(made.get(k), current.get(k))).toList();
        if (made.isEmpty() && recorded.get(GenerationRecord.MONTAGE) == null || differ.isEmpty()) {
            return Optional.empty();
        }
        String flags = differ.stream().filter(made::containsKey).map(k -> "--set " + k + "=" + made.get(k))
                .collect(Collectors.joining(" "));
        return Optional.of("montage: " + from + " was made with other component options ("
                + differ.stream().map(k -> k + " " + Optional.ofNullable(made.get(k)).orElse("unset") + " there, "
                        + Optional.ofNullable(current.get(k)).orElse("unset") + " here")
                        .collect(Collectors.joining("; "))
                + ")" + (flags.isEmpty() ? "" : "; " + flags + " sets them as they were"));
    }

    /**
     * The note on the LoRAs the PNG records, by name and scale, where no {@code --lora} is given: the PNG says nothing
     * of where their files are, so the run applies the profile's.
     */
    private Optional<String> recordedLoras(RecordedRequest recorded) {
        if (!(recorded.get("loras") instanceof List<?> loras) || loras.isEmpty() || !configuration.loras.isEmpty()) {
            return Optional.empty();
        }
        String named = loras.stream().map(l -> (Map<?, ?>) l).map(l -> l.get("name") + " at " + l.get("scale"))
                .collect(Collectors.joining(", "));
        return Optional.of("montage: " + from + " was made with LoRAs (" + named + "), which this run applies only "
                + "where the profile does: --lora FILE:SCALE gives each");
    }

    /** A1111's emphasis: a round or square bracket that is not escaped. */
    private static final Pattern A1111_EMPHASIS = Pattern.compile("(?<!\\\\)[(\\[]");

    /** The refusal of {@code --strength} or {@code --mask} given without a picture to start from. */
    static String withoutPicture(Double strength, Path mask) {
        return (strength != null ? "--strength " + strength : "--mask " + mask)
                + " applies to a picture to start from: give --init-image";
    }

    /** ControlNet folders named by {@code --control model=DIR}, by control type. */
    private final Map<String, Path> controlNetFolders = new LinkedHashMap<>();

    /** How each subject's and control's input is given again, in the request's order, and the init image's. */
    private final List<Map<String, Object>> subjectSources = new ArrayList<>();
    private final List<Map<String, Object>> controlSources = new ArrayList<>();
    private Map<String, Object> initImageSource = Map.of();

    /**
     * A request field set by its flag, else by the PNG of {@code --from}, else left to the profile. The profile's
     * {@code defaults} have the API's names, in snake case as every profile key.
     */
    private void requestFlag(MontagePipeline.Builder pipeline, RecordedRequest recorded, String field, Object value,
            String flag) {
        String key = "defaults." + field.replaceAll("([A-Z])", "_$1").toLowerCase(Locale.ROOT);
        if (value != null || recorded == null) {
            ConfigurationOptions.flag(pipeline, key, value, flag);
        } else if (recorded.get(field) != null) {
            pipeline.setting(key, recorded.get(field), "--from " + from);
        }
    }

    private GenerationRequest request(Profile profile, long noiseSeed, RecordedRequest recorded) throws IOException {
        GenerationRequest.Builder b = profile.defaults().request(prompt != null ? prompt
                : (String) recorded.get("prompt")).seed(noiseSeed);
        if (subjects.isEmpty() && recorded != null) {
            recorded.subjects().forEach(b::subject);
            recorded.subjectSources().forEach(subjectSources::add);
        }
        for (String s : subjects) {
            b.subject(SubjectSpec.parse(s));
            subjectSources.add(SubjectSpec.source(Path.of(SubjectSpec.fields(s).get("image"))));
        }
        if (controls.isEmpty() && recorded != null) {
            recorded.controls().forEach(b::control);
            recorded.controlSources().forEach(controlSources::add);
        }
        for (String c : controls) {
            ControlSpec parsed = ControlSpec.parse(c);
            b.control(parsed.control());
            controlSources.add(parsed.source());
            String type = parsed.control().type();
            parsed.model().ifPresent(folder -> {
                Path known = controlNetFolders.putIfAbsent(type, folder);
                if (known != null && !known.equals(folder)) {
                    throw new IllegalArgumentException("two '" + type + "' controls name different ControlNets ("
                            + known + ", " + folder + "); one folder serves every control of a type");
                }
            });
        }
        // the recorded scheduler's settings go with it: another scheduler may not read them
        if (recorded != null && (scheduler == null || scheduler.equals(recorded.get("scheduler")))) {
            b.schedulerOptions(recorded.schedulerOptions());
        }
        schedulerOptions.forEach(b::schedulerOption);
        if (autoLayout == null && recorded != null && recorded.autoLayout() != null) {
            b.autoLayout(recorded.autoLayout());
        }
        if (autoLayout != null) {
            b.autoLayout(autoLayout(autoLayout));
        }
        if (initLatents != null) {
            b.initLatents(readLatents(initLatents));
        }
        b.initImage(initImage(recorded));
        b.variation((recorded != null ? recorded.variation(variation.seed, variation.strength)
                : RecordedRequest.variationOf(variation.seed, variation.strength)).orElse(null));
        b.perturbedAttention(perturbedAttention.over(recorded).orElse(null));
        b.seedResizeFrom(variation.resize(recorded).orElse(null));
        // a PNG without one records a request without it; otherwise the profile's default where guided
        Object recordedRescale = recorded == null ? null : recorded.get("guidanceRescale");
        if (guidanceRescale != null || recorded != null) {
            b.guidanceRescale(guidanceRescale != null ? guidanceRescale
                    : recordedRescale != null ? ((Number) recordedRescale).doubleValue() : 0);
        }
        GenerationRequest request = b.build();
        if (noHires) {
            if (hires.any()) {
                throw new IllegalArgumentException("--no-hires leaves the hires pass out, so no --hires-* flag "
                        + "applies");
            }
            return request;
        }
        Optional<Hires> pass;
        try {
            Map<String, Object> given = hires.given();
            pass = recorded != null ? recorded.hires(given, request.width(), request.height())
                    : RecordedRequest.hiresOf(given, request.width(), request.height());
        } catch (IllegalArgumentException e) {
            String field = e.getMessage().substring(0, e.getMessage().indexOf(' '));
            throw new IllegalArgumentException(e.getMessage() + (field.startsWith("hires.") ? " ("
                    + HiresOptions.flag(field) + ")" : ""), e);
        }
        return pass.isEmpty() ? request : request.toBuilder().hires(pass.get()).build();
    }

    /**
     * The picture to start from: {@code --init-image} with {@code --mask} at {@code --strength} (else the strength the
     * PNG of {@code --from} records, else the default strength), else the PNG's (at {@code --strength} where given,
     * with {@code --mask} where given); null for none.
     *
     * @throws IllegalArgumentException for a {@code --strength} or {@code --mask} without a picture to start from
     */
    private InitImage initImage(RecordedRequest recorded) throws IOException {
        InitImage init;
        if (initImage != null) {
            Double recordedStrength = recorded == null ? null : recorded.initImageStrength();
            init = new InitImage(SubjectSpec.readImage(initImage), initImage.getFileName().toString(),
                    strength != null ? strength : recordedStrength != null ? recordedStrength
                            : InitImage.defaultStrength(mask != null));
            initImageSource = new LinkedHashMap<>(SubjectSpec.source(initImage));
        } else {
            init = recorded == null ? null : recorded.initImage(strength);
            if (init == null) {
                if (strength != null || mask != null) {
                    throw new IllegalArgumentException(withoutPicture(strength, mask)
                            + (recorded == null ? "" : " (" + from + " records none)"));
                }
                return null;
            }
            initImageSource = new LinkedHashMap<>(recorded.initImageSource());
        }
        if (mask != null) {
            init = init.withMask(SubjectSpec.readImage(mask), mask.getFileName().toString());
            initImageSource.put("mask", SubjectSpec.source(mask));
        }
        return init;
    }

    /** The progress printer, also saving the control images when asked to. */
    private ProgressListener listener(ProgressBar progress) throws IOException {
        if (saveControlImages == null) {
            return progress;
        }
        Files.createDirectories(saveControlImages);
        return new ProgressListener() {
            @Override
            public boolean onStep(int step, int total, Duration elapsed) {
                return progress.onStep(step, total, elapsed);
            }

            @Override
            public void onStage(String stage) {
                progress.onStage(stage);
            }

            @Override
            public void onControlImage(int index, Control control, BufferedImage image) {
                Path file = saveControlImages.resolve(String.format("control-%02d-%s.png", index, control.type()));
                try {
                    PngFiles.write(file, image, Map.of("control", control.type()));
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot write control image " + file, e);
                }
                progress.message("control image " + file);
            }
        };
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
