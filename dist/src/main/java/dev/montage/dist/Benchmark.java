package dev.montage.dist;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.sun.management.OperatingSystemMXBean;
import dev.montage.api.Box;
import dev.montage.api.GenerationContext;
import dev.montage.api.GenerationRequest;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.api.SubjectConditioning;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.Kernels;
import dev.montage.api.host.ModelWeights;
import dev.montage.api.host.Scopes;
import dev.montage.api.spi.AttentionProcessor;
import dev.montage.api.spi.ComponentKind;
import dev.montage.api.spi.DenoisingModel;
import dev.montage.api.spi.EncoderContext;
import dev.montage.api.spi.Recipe;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.api.spi.LatentDecoder;
import dev.montage.api.spi.SubjectResampler;
import dev.montage.api.spi.TextEncoder;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.pipeline.AssembledPipeline;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.pipeline.PipelineBuilder;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.weights.ShardedCheckpoint;
import dev.montage.runtime.weights.WeightFile;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.IntStream;
import java.util.OptionalLong;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * The measurements behind {@code montage bench}. The component stages load one component at a time through its
 * registered factory, time it through its SPI (prompt and phrase encoding, subject encoding, resampling, one
 * classifier-free-guidance UNet call, VAE decoding) and close it again, so each stage's memory figure holds only
 * its own component. The {@code generate} stage assembles the whole pipeline and times complete generations,
 * reading per-step times and resident memory from the pipeline's {@link ProgressListener}.
 *
 * <p>Every timed run is preceded by {@code warmup} untimed ones (kernel compilation, oneDNN primitive creation and
 * the once-per-generation work of the first UNet call happen there; the first run's time is kept in the details).
 * A stage whose weights and their working memory would not fit into the memory the machine has available is
 * skipped with a note rather than pushing a shared machine into the out-of-memory killer.
 */
final class Benchmark {
    /** A measurable stage, by its command-line name. */
    enum Stage {
        LOAD, PROMPT, SUBJECTS, RESAMPLER, UNET, DECODE, GENERATE;

        String id() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** @throws IllegalArgumentException naming the stages there are */
        static Stage parse(String name) {
            for (Stage s : values()) {
                if (s.id().equals(name.trim().toLowerCase(Locale.ROOT))) {
                    return s;
                }
            }
            throw new IllegalArgumentException("unknown stage '" + name + "', expected some of "
                    + java.util.Arrays.stream(values()).map(Stage::id).toList());
        }
    }

    /**
     * What to measure.
     *
     * @param sizes    square image sides in pixels
     * @param subjects subject counts (0 = plain SDXL attention)
     * @param dtypes   compute dtypes, by engine configuration name
     * @param runs     measured runs per figure
     * @param warmup   untimed runs before them
     * @param steps    denoising steps of each whole generation
     * @param stages   the stages to time; earlier stages whose outputs later ones need still run, untimed
     * @param device   engine device
     * @param releaseEncoders whether whole generations load and close the encoders per generation
     * @param releaseDenoiser whether whole generations load the denoiser when denoising starts and close it before
     *                        decoding
     * @param coldCache       whether each timed load and file read starts with the files it reads dropped from the
     *                        page cache, so that they come from the disk
     */
    record Settings(List<Integer> sizes, List<Integer> subjects, List<String> dtypes, int runs,
            int warmup, int steps, Set<Stage> stages, String device, boolean releaseEncoders,
            boolean releaseDenoiser, boolean coldCache) {
        Settings {
            sizes = List.copyOf(sizes);
            subjects = List.copyOf(subjects);
            dtypes = List.copyOf(dtypes);
            stages = Set.copyOf(stages);
            if (runs < 1 || warmup < 0 || steps < 1) {
                throw new IllegalArgumentException("runs and steps must be at least 1 and warmup at least 0, got runs "
                        + runs + ", steps " + steps + ", warmup " + warmup);
            }
            for (int n : subjects) {
                if (n < 0 || n > PHRASES.length) {
                    throw new IllegalArgumentException("subject counts must be 0.." + PHRASES.length + ", got " + n);
                }
            }
            for (int s : sizes) {
                if (s <= 0 || s % 8 != 0) {
                    throw new IllegalArgumentException("sizes must be positive multiples of 8, got " + s);
                }
            }
            if (coldCache && !PageCache.supported()) {
                throw new IllegalArgumentException("a cold page cache needs posix_fadvise, which this system's C "
                        + "library lacks");
            }
        }

        boolean times(Stage stage) {
            return stages.contains(stage);
        }

        int maxSubjects() {
            return subjects.stream().mapToInt(Integer::intValue).max().orElse(0);
        }
    }

    private static final String PROMPT = "best quality, a dog and a cat and a ball and a cube on the beach";
    private static final String[] PHRASES = {"dog", "cat", "ball", "cube"};
    private static final Color[] COLORS = {Color.RED, Color.BLUE, Color.GREEN, Color.ORANGE};
    /** Subject pictures are resized to 512 px by MS-Diffusion before CLIP preprocessing anyway. */
    private static final int PICTURE_SIZE = 512;
    private static final float TIMESTEP = 500;
    private static final double IMAGE_SCALE = 0.6;
    private static final float GIB = 1 << 30;
    /** What a stage needs beyond its weights, as a factor of them (see {@link #shortfall}). */
    static final double WORKING_MEMORY_FACTOR = 1.5;

    private final Path model;
    private final Settings settings;
    private final ComponentRegistry registry;
    private final PrintWriter log;
    private final List<BenchResult> results = new ArrayList<>();

    /** @param model an MS-Diffusion model folder ({@link ModelPaths#of}) */
    Benchmark(Path model, Settings settings, ComponentRegistry registry, PrintWriter log) {
        this.model = model;
        this.settings = settings;
        this.registry = registry;
        this.log = log;
    }

    /** Runs every selected stage for every dtype; progress goes to the log. */
    List<BenchResult> run() {
        for (String dtype : settings.dtypes()) {
            try (MontageEngine engine = MontageEngine.start(EngineConfig.of(settings.device(), dtype))) {
                log.println("montage bench: " + engine.describe());
                log.flush();
                new DTypeRun(engine).run();
            }
        }
        return Collections.unmodifiableList(results);
    }

    /** Thrown to end the stages of one dtype when a component does not fit into memory. */
    private static final class DoesNotFit extends RuntimeException {
        private static final long serialVersionUID = 1L;

        DoesNotFit(String message) {
            super(message);
        }
    }

    /**
     * Why a stage holding {@code weightBytes} of weights should not start with {@code available} bytes free, or empty
     * when it fits (or nothing is known). The weights are not all it needs: measured peaks were 1.28 (a 512² float32
     * UNet step) to 1.43 (a 1024² float32 generation) times the weights held, for activations, the allocator's kept
     * blocks and packed weights; a whole 512² float32 generation whose weights alone fitted was killed for memory.
     */
    static Optional<String> shortfall(String what, long weightBytes, String dtypeName, OptionalLong available) {
        long needed = (long) (weightBytes * WORKING_MEMORY_FACTOR);
        if (available.isEmpty() || needed <= available.getAsLong()) {
            return Optional.empty();
        }
        return Optional.of(String.format(Locale.ROOT, "skipped: %s needs about %.1f GiB (%.1f GiB of weights in %s "
                + "and their working memory), the machine has %.1f GiB available", what, needed / GIB,
                weightBytes / GIB, dtypeName, available.getAsLong() / GIB));
    }

    /** The measured runs, the first run's wall seconds, and what the last run returned (when kept). */
    private record Timing(Runs runs, double first, NDList kept) {
    }

    /** Wall and process CPU seconds of the measured runs of one figure. */
    private static final class Runs {
        private static final OperatingSystemMXBean OS = ManagementFactory.getPlatformMXBean(
                OperatingSystemMXBean.class);
        final List<Double> wall = new ArrayList<>();
        final List<Double> cpu = new ArrayList<>();
        private long wallStart;
        private long cpuStart;

        void start() {
            wallStart = System.nanoTime();
            cpuStart = OS.getProcessCpuTime();
        }

        /**
         * Ends a run and keeps its figures when it is a measured one (not a warm-up).
         *
         * @return its wall seconds
         */
        double stop(boolean measured) {
            double seconds = (System.nanoTime() - wallStart) / 1e9;
            long cpuEnd = OS.getProcessCpuTime();
            if (measured) {
                wall.add(seconds);
                if (cpuStart >= 0 && cpuEnd >= 0) {
                    cpu.add((cpuEnd - cpuStart) / 1e9);
                }
            }
            return seconds;
        }
    }

    /** The stages of one compute dtype on one engine. */
    private final class DTypeRun {
        private final MontageEngine engine;
        private final Kernels kernels;
        private final ComputeDType dtype;
        private final String dtypeName;
        /** The resampler's tokens per subject, known once it ran. */
        private int tokensPerSubject;

        DTypeRun(MontageEngine engine) {
            this.engine = engine;
            this.kernels = engine.kernels();
            this.dtype = engine.computeDType();
            this.dtypeName = dtype.configName();
        }

        void run() {
            boolean anySubjects = settings.maxSubjects() > 0;
            boolean unet = settings.times(Stage.UNET);
            try (NDManager kept = engine.manager().newSubManager()) {
                int scaleFactor = decodeStage();
                NDList text = null;
                NDArray phrases = null;
                if (settings.times(Stage.PROMPT) || unet || settings.times(Stage.RESAMPLER)) {
                    NDList[] out = textStage(kept);
                    text = out[0];
                    phrases = out[1] == null ? null : out[1].head();
                }
                Map<Integer, NDArray> imageEmbeds = Map.of();
                if (settings.times(Stage.SUBJECTS) || (anySubjects && (unet || settings.times(Stage.RESAMPLER)))) {
                    imageEmbeds = subjectStage(kept);
                }
                Map<Integer, NDArray> tokens = Map.of();
                if (anySubjects && (unet || settings.times(Stage.RESAMPLER))) {
                    tokens = resamplerStage(kept, imageEmbeds, phrases);
                }
                if (unet) {
                    unetStage(text, tokens, scaleFactor);
                }
                if (settings.times(Stage.GENERATE)) {
                    generateStage();
                }
            } catch (DoesNotFit e) {
                log.println("montage bench: " + dtypeName + ": " + e.getMessage());
            }
        }

        /** VAE decoding of random latents per size; also tells the latent scale factor the other stages need. */
        private int decodeStage() {
            try (FolderComponentContext context = context()) {
                LatentDecoder decoder = load("vae", context, List.of("vae"), List.of(),
                        () -> create(ComponentKind.LATENT_DECODER, LatentDecoder.class, context));
                try {
                    int factor = decoder.scaleFactor();
                    if (settings.times(Stage.DECODE)) {
                        for (int size : settings.sizes()) {
                            long side = size / factor;
                            Timing t = time(null, scope -> new NDList(decoder.decode(scope,
                                    random(scope, 0, 1, 4, side, side))));
                            record("vae decode", size, null, t);
                        }
                    }
                    return factor;
                } finally {
                    close(decoder);
                }
            }
        }

        /**
         * Prompt encoding (prompt and negative prompt, as a guided generation does) and phrase encoding.
         *
         * @return {@code [uncond tokens, uncond pooled, cond tokens, cond pooled]} and the phrase embeddings
         *     (null without subjects), attached to {@code kept}
         */
        private NDList[] textStage(NDManager kept) {
            try (FolderComponentContext context = context()) {
                TextEncoder encoder = load("text encoders", context, List.of("text_encoder", "text_encoder_2"),
                        List.of(), () -> create(ComponentKind.TEXT_ENCODER, TextEncoder.class, context));
                try {
                    Timing prompt = time(kept, scope -> {
                        TextEncoder.PromptEmbeddings cond = encoder.encode(scope, List.of(PROMPT));
                        TextEncoder.PromptEmbeddings uncond = encoder.encodeNegative(scope,
                                List.of(GenerationRequest.DEFAULT_NEGATIVE_PROMPT));
                        return new NDList(uncond.tokens(), uncond.pooled(), cond.tokens(), cond.pooled());
                    });
                    if (settings.times(Stage.PROMPT)) {
                        record("prompt encoding", null, null, prompt);
                    }
                    int n = settings.maxSubjects();
                    NDList phrases = null;
                    if (n > 0) {
                        Timing t = time(kept, scope -> new NDList(encoder.encodePhrases(scope, phrases(n))));
                        if (settings.times(Stage.PROMPT)) {
                            record("phrase encoding", null, n, t);
                        }
                        phrases = t.kept();
                    }
                    return new NDList[] {prompt.kept(), phrases};
                } finally {
                    close(encoder);
                }
            }
        }

        /** The image encoder on 1..N subject pictures; the embeddings per subject count, attached to {@code kept}. */
        private Map<Integer, NDArray> subjectStage(NDManager kept) {
            Map<Integer, NDArray> embeds = new LinkedHashMap<>();
            try (FolderComponentContext context = context()) {
                ImageEncoder encoder = load("image encoder", context, List.of("image_encoder"), List.of(),
                        () -> create(ComponentKind.IMAGE_ENCODER, ImageEncoder.class, context));
                try {
                    for (int n : subjectCounts()) {
                        Timing t = time(kept, scope -> new NDList(encoder.encode(scope, pictures(n))));
                        if (settings.times(Stage.SUBJECTS)) {
                            record("subject encoding", null, n, t);
                        }
                        embeds.put(n, t.kept().head());
                    }
                } finally {
                    close(encoder);
                }
            }
            return embeds;
        }

        /** The resampler per subject count: {@code [1, dummy + N·Q, D]} subject tokens, attached to {@code kept}. */
        private Map<Integer, NDArray> resamplerStage(NDManager kept, Map<Integer, NDArray> imageEmbeds,
                NDArray phrases) {
            Map<Integer, NDArray> tokens = new LinkedHashMap<>();
            try (FolderComponentContext context = context()) {
                SubjectResampler resampler = load("resampler", context, List.of(), List.of("ms_adapter"),
                        () -> create(ComponentKind.SUBJECT_RESAMPLER, SubjectResampler.class, context));
                try {
                    tokensPerSubject = resampler.tokensPerSubject();
                    for (int n : subjectCounts()) {
                        float[] boxes = new float[n * 4];
                        for (int j = 0; j < n; j++) {
                            System.arraycopy(box(j, n).toArray(), 0, boxes, j * 4, 4);
                        }
                        Timing t = time(kept, scope -> {
                            NDArray b = toCompute(scope.create(boxes, new Shape(n, 4)));
                            NDArray own = resampler.resample(scope, Scopes.borrow(imageEmbeds.get(n), scope),
                                    Scopes.borrow(phrases, scope).get("0:" + n), b, new boolean[n]);
                            long[] s = own.getShape().getShape();
                            return new NDList(resampler.dummyTokens(scope).concat(own.reshape(1, s[0] * s[1], s[2]),
                                    1));
                        });
                        if (settings.times(Stage.RESAMPLER)) {
                            record("resampler", null, n, t);
                        }
                        tokens.put(n, t.kept().head());
                    }
                } finally {
                    close(resampler);
                }
            }
            return tokens;
        }

        /** One guided UNet call ([uncond, cond] batch) per size and subject count, MS-Diffusion attention. */
        private void unetStage(NDList text, Map<Integer, NDArray> tokens, int scaleFactor) {
            try (FolderComponentContext context = context()) {
                DenoisingModel unet = load("unet", context, List.of("unet"), List.of(),
                        () -> create(ComponentKind.DENOISING_MODEL, DenoisingModel.class, context));
                AttentionProcessor multiSubject = null;
                try {
                    if (settings.times(Stage.LOAD)) {
                        readFile("read unet file", WeightFile.find(context.model("unet").path(), Optional.empty())
                                .path());
                    }
                    multiSubject = load("ms-adapter", context, List.of(), List.of("ms_adapter"),
                            () -> create(ComponentKind.ATTENTION_PROCESSOR, "ms-diffusion", AttentionProcessor.class,
                                    context));
                    AttentionProcessor plain = create(ComponentKind.ATTENTION_PROCESSOR, "default",
                            AttentionProcessor.class, context);
                    AttentionProcessor crossAttention = multiSubject;
                    // as PipelineBuilder installs them: MS-Diffusion on every cross-attention, plain elsewhere
                    unet.useAttentionProcessors(layer -> layer.endsWith(".attn2") ? crossAttention : plain);
                    for (int size : settings.sizes()) {
                        for (int n : settings.subjects()) {
                            unetStep(unet, text, n == 0 ? null : tokens.get(n), size, n, scaleFactor);
                        }
                    }
                } finally {
                    close(multiSubject);
                    close(unet);
                }
            }
        }

        private void unetStep(DenoisingModel unet, NDList text, NDArray subjectTokens, int size, int n,
                int scaleFactor) {
            GenerationRequest request = GenerationRequest.builder(PROMPT).size(size, size).build();
            GenerationContext ctx = new GenerationContext(request);
            try (NDManager call = engine.manager().newSubManager()) {
                NDArray uncond = Scopes.borrow(text.get(0), call);
                NDArray cond = Scopes.borrow(text.get(2), call);
                EncoderContext contextTokens = EncoderContext.text(uncond.concat(cond, 0));
                if (subjectTokens != null) {
                    int dummy = (int) subjectTokens.getShape().get(1) - n * tokensPerSubject;
                    NDArray rows = kernels.zeros(call, subjectTokens.getShape(), dtype)
                            .concat(Scopes.borrow(subjectTokens, call), 0);
                    contextTokens = new EncoderContext(contextTokens.text(), Optional.of(new SubjectConditioning(rows,
                            1, dummy, tokensPerSubject, IntStream.range(0, n).mapToObj(j -> box(j, n)).toList(),
                            IMAGE_SCALE, Optional.empty(), List.of(), 0, Optional.empty())));
                }
                NDArray pooled = Scopes.borrow(text.get(1), call).concat(Scopes.borrow(text.get(3), call), 0);
                float[] ids = {size, size, 0, 0, size, size, size, size, 0, 0, size, size};
                NDArray timeIds = toCompute(call.create(ids, new Shape(2, 6)));
                long side = size / scaleFactor;
                NDArray latents = toCompute(random(call, size, 2, unet.latentChannels(), side, side));
                DenoisingModel.DenoisingInput input = new DenoisingModel.DenoisingInput(latents, TIMESTEP,
                        contextTokens, pooled, timeIds, null);
                // one generation context for all runs: later runs are later steps of the same generation
                Timing t = time(null, scope -> new NDList(unet.predictNoise(scope, input, ctx)));
                record("unet step (cfg)", size, n, t);
            }
        }

        /** Whole generations through the assembled pipeline. */
        private void generateStage() {
            try (FolderComponentContext context = context()) {
                fits("the whole pipeline", residentAtOnce(context));
            }
            if (settings.coldCache()) {
                evict(modelFiles());
            }
            ProcessMemory.resetPeak();
            Runs load = new Runs();
            load.start();
            try (AssembledPipeline assembled = new PipelineBuilder(engine, registry, ModelPaths.of(model))
                    .releaseEncoders(settings.releaseEncoders()).releaseDenoiser(settings.releaseDenoiser())
                    .build()) {
                load.stop(true);
                if (settings.times(Stage.LOAD)) {
                    add(new BenchResult("load pipeline", dtypeName, null, null, load.wall, load.cpu, peak(), Map.of(),
                            coldNote()));
                }
                for (int size : settings.sizes()) {
                    for (int n : settings.subjects()) {
                        generate(assembled, size, n);
                    }
                }
            }
        }

        private void generate(AssembledPipeline assembled, int size, int n) {
            GenerationRequest.Builder b = GenerationRequest.builder(PROMPT).size(size, size).steps(settings.steps())
                    .seed(1).imageScale(IMAGE_SCALE);
            List<BufferedImage> pictures = pictures(n);
            for (int j = 0; j < n; j++) {
                b.subject(Subject.of(pictures.get(j), PHRASES[j] + ".png", PHRASES[j], box(j, n)));
            }
            GenerationRequest request = b.build();
            ProcessMemory.resetPeak();
            Runs runs = new Runs();
            List<Double> steps = new ArrayList<>();
            List<Double> encode = new ArrayList<>();
            List<Double> decode = new ArrayList<>();
            double first = Double.NaN;
            StepRecorder last = null;
            for (int run = -settings.warmup(); run < settings.runs(); run++) {
                StepRecorder recorder = new StepRecorder();
                runs.start();
                assembled.pipeline().generate(request, recorder);
                double s = runs.stop(run >= 0);
                first = Double.isNaN(first) ? s : first;
                if (run >= 0) {
                    steps.addAll(recorder.stepSeconds().subList(Math.min(1, settings.steps() - 1), settings.steps()));
                    encode.add(recorder.encodeSeconds());
                    decode.add(recorder.decodeSecondsUntil(System.nanoTime()));
                    last = recorder;
                }
            }
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("steps", settings.steps());
            details.put("first_run_s", first);
            details.put("step_s_median", BenchResult.median(steps));
            details.put("first_step_s", last.stepSeconds().get(0));
            details.put("encode_s_median", BenchResult.median(encode));
            details.put("decode_s_median", BenchResult.median(decode));
            details.put("rss_after_step_bytes", last.residentAfterStep());
            add(new BenchResult("generate", dtypeName, size, n, runs.wall, runs.cpu, peak(), details,
                    settings.steps() + " steps"));
        }

        /** Loads a component, timed as {@code load <name>} ({@code runs} loads) when the load stage is on. */
        private <T> T load(String name, FolderComponentContext context, List<String> models, List<String> checkpoints,
                Supplier<T> create) {
            fits(name, bytes(context, models, checkpoints));
            if (!settings.times(Stage.LOAD)) {
                return create.get();
            }
            List<Path> files = settings.coldCache() ? componentFiles(context, models, checkpoints) : List.of();
            ProcessMemory.resetPeak();
            Runs runs = new Runs();
            T loaded = null;
            for (int i = 0; i < settings.runs(); i++) {
                close(loaded);
                evict(files);
                runs.start();
                loaded = create.get();
                runs.stop(true);
            }
            add(new BenchResult("load " + name, dtypeName, null, null, runs.wall, runs.cpu, peak(), Map.of(),
                    coldNote()));
            return loaded;
        }

        /** The files of the named model folders and checkpoints (the folders' regular files, not descending). */
        private List<Path> componentFiles(FolderComponentContext context, List<String> models,
                List<String> checkpoints) {
            List<Path> files = new ArrayList<>();
            for (String key : models) {
                Path folder = context.path(key).orElseThrow();
                try (Stream<Path> entries = Files.list(folder)) {
                    entries.filter(Files::isRegularFile).sorted().forEach(files::add);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot list " + folder, e);
                }
            }
            for (String key : checkpoints) {
                files.add(context.path(key).orElseThrow());
            }
            return files;
        }

        /** Every regular file below the model folder (links followed, as the pipeline follows them). */
        private List<Path> modelFiles() {
            try (Stream<Path> entries = Files.walk(model, FileVisitOption.FOLLOW_LINKS)) {
                return entries.filter(Files::isRegularFile).sorted().toList();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + model, e);
            }
        }

        private static void evict(List<Path> files) {
            for (Path file : files) {
                try {
                    PageCache.evict(file);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }

        private String coldNote() {
            return settings.coldCache() ? "cold: files dropped from the page cache first" : null;
        }

        /**
         * Reads a weight file once from start to end, every shard of a sharded one, as the baseline of loading it
         * ({@code runs} times).
         */
        private void readFile(String stage, Path weightFile) {
            List<Path> files = shards(weightFile);
            Runs runs = new Runs();
            ByteBuffer buffer = ByteBuffer.allocateDirect(8 << 20);
            long bytes = 0;
            for (int i = 0; i < settings.runs(); i++) {
                if (settings.coldCache()) {
                    evict(files);
                }
                runs.start();
                bytes = 0;
                for (Path file : files) {
                    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                        for (int n = channel.read(buffer.clear()); n > 0; n = channel.read(buffer.clear())) {
                            bytes += n;
                        }
                    } catch (IOException e) {
                        throw new UncheckedIOException("cannot read " + file, e);
                    }
                }
                runs.stop(true);
            }
            add(new BenchResult(stage, dtypeName, null, null, runs.wall, runs.cpu, null,
                    Map.of("file", weightFile.toString(), "bytes", bytes), coldNote()));
        }

        private static List<Path> shards(Path weightFile) {
            if (!weightFile.getFileName().toString().endsWith(".index.json")) {
                return List.of(weightFile);
            }
            try (ShardedCheckpoint sharded = ShardedCheckpoint.open(weightFile)) {
                return sharded.shardFiles();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the shard index " + weightFile, e);
            }
        }

        /**
         * Runs {@code body} warm-up plus measured times, each run in its own sub-manager; what the last run returns is
         * kept in {@code keep} (freed when {@code keep} is null). Reading one element of the first result waits for
         * devices that compute asynchronously.
         */
        private Timing time(NDManager keep, Function<NDManager, NDList> body) {
            ProcessMemory.resetPeak();
            Runs runs = new Runs();
            double first = Double.NaN;
            NDList kept = null;
            for (int run = -settings.warmup(); run < settings.runs(); run++) {
                try (NDManager scope = engine.manager().newSubManager()) {
                    runs.start();
                    NDList out = body.apply(scope);
                    out.head().flatten().get(0).toType(DataType.FLOAT32, false).getFloat();
                    double s = runs.stop(run >= 0);
                    first = Double.isNaN(first) ? s : first;
                    if (run == settings.runs() - 1 && keep != null) {
                        out.attach(keep);
                        kept = out;
                    }
                }
            }
            return new Timing(runs, first, kept);
        }

        private void record(String stage, Integer size, Integer subjects, Timing t) {
            add(new BenchResult(stage, dtypeName, size, subjects, t.runs().wall, t.runs().cpu, peak(),
                    Map.of("first_run_s", t.first()), null));
        }

        /** Keeps a figure and reports it on the log right away (a full-size run takes many minutes). */
        private void add(BenchResult r) {
            results.add(r);
            log.printf(Locale.ROOT, "montage bench: %-18s %-9s %5s %3s  %8.3f s (cpu %.3f s)  peak RSS %s%n",
                    r.stage(), r.dtype(), r.size() == null ? "" : r.size(), r.subjects() == null ? "" : r.subjects(),
                    r.median(), BenchResult.median(r.cpuSeconds()),
                    r.peakRss() == null ? "?" : String.format(Locale.ROOT, "%.2f GiB", r.peakRss() / GIB));
            log.flush();
        }

        /**
         * @throws DoesNotFit when the weights in the compute dtype and their working memory exceed the memory the
         *     machine has available
         */
        private void fits(String what, long bytes) {
            Optional<String> why = shortfall(what, bytes, dtypeName, ProcessMemory.availableBytes());
            if (why.isPresent()) {
                add(BenchResult.skipped("load " + what, dtypeName, null, null, why.get()));
                throw new DoesNotFit(why.get());
            }
        }

        /**
         * The most weight bytes a whole generation holds at once: the held components, plus the largest of the
         * released ones (encoders one after the other, then the UNet) when the settings release them.
         */
        private long residentAtOnce(FolderComponentContext context) {
            long text = bytes(context, List.of("text_encoder", "text_encoder_2"), List.of());
            long image = bytes(context, List.of("image_encoder"), List.of());
            long unet = bytes(context, List.of("unet"), List.of());
            long held = bytes(context, List.of("vae"), List.of("ms_adapter"));
            long encoders = settings.releaseEncoders() ? Math.max(text, image) : text + image;
            if (settings.releaseDenoiser()) {
                return held + (settings.releaseEncoders() ? Math.max(encoders, unet) : encoders + unet);
            }
            return held + unet + encoders;
        }

        private long bytes(FolderComponentContext context, List<String> models, List<String> checkpoints) {
            long bytes = 0;
            for (String key : models) {
                bytes += weightBytes(context.model(key).weights());
            }
            for (String key : checkpoints) {
                bytes += weightBytes(context.checkpoint(key));
            }
            return bytes;
        }

        private long weightBytes(ModelWeights weights) {
            long bytes = 0;
            int element = dtype == ComputeDType.FLOAT32 ? 4 : 2;
            for (String name : weights.names()) {
                long n = 1;
                for (long d : weights.shape(name)) {
                    n *= d;
                }
                bytes += n * element;
            }
            return bytes;
        }

        private FolderComponentContext context() {
            return new FolderComponentContext(engine, ModelPaths.of(model).withDefaults(registry.modelFiles().values()),
                    Map.of());
        }

        private NDArray toCompute(NDArray f32) {
            if (dtype == ComputeDType.FLOAT32) {
                return f32;
            }
            NDArray cast = kernels.cast(f32, dtype);
            f32.close();
            return cast;
        }

        /** Standard normal values, float32, from a fixed seed. */
        private NDArray random(NDManager manager, long seed, long... shape) {
            Random r = new Random(seed);
            float[] values = new float[Math.toIntExact(new Shape(shape).size())];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) r.nextGaussian();
            }
            return manager.create(values, new Shape(shape));
        }
    }

    /** The subject counts that need subject encoding and resampling. */
    private List<Integer> subjectCounts() {
        return settings.subjects().stream().filter(n -> n > 0).distinct().sorted().toList();
    }

    private <T> T create(ComponentKind kind, Class<T> type, FolderComponentContext context) {
        return create(kind, registry.factory(ComponentKind.RECIPE, "ms-diffusion-sdxl", Recipe.class).create(null)
                .components().get(kind), type, context);
    }

    private <T> T create(ComponentKind kind, String id, Class<T> type, FolderComponentContext context) {
        return registry.factory(kind, id, type).create(context);
    }

    /** Subject {@code j} of {@code n}: equal columns side by side, the middle 60 % of the height. */
    private static Box box(int j, int n) {
        return new Box((double) j / n, 0.2, (double) (j + 1) / n, 0.8);
    }

    private static List<String> phrases(int n) {
        return List.of(PHRASES).subList(0, n);
    }

    private static List<BufferedImage> pictures(int n) {
        List<BufferedImage> pictures = new ArrayList<>();
        for (int j = 0; j < n; j++) {
            BufferedImage image = new BufferedImage(PICTURE_SIZE, PICTURE_SIZE, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = image.createGraphics();
            g.setColor(COLORS[j]);
            g.fillOval(PICTURE_SIZE / 8, PICTURE_SIZE / 8, PICTURE_SIZE * 3 / 4, PICTURE_SIZE * 3 / 4);
            g.dispose();
            pictures.add(image);
        }
        return pictures;
    }

    private static Long peak() {
        OptionalLong peak = ProcessMemory.peakResidentBytes();
        return peak.isPresent() ? peak.getAsLong() : null;
    }

    private static void close(Object component) {
        if (component instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("cannot close " + component, e);
            }
        }
        // the weights' memory maps go with their buffers; collect them now, not in the middle of the next stage
        System.gc();
    }

    /** Per-step wall time and resident memory of one generation, from the pipeline's progress calls. */
    private static final class StepRecorder implements ProgressListener {
        private final long start = System.nanoTime();
        private long denoising;
        private long decoding;
        private final List<Double> stepSeconds = new ArrayList<>();
        private final List<Long> resident = new ArrayList<>();
        private Duration previous = Duration.ZERO;

        @Override
        public void onStage(String stage) {
            if (stage.equals("denoising")) {
                denoising = System.nanoTime();
            } else if (stage.equals("decoding")) {
                decoding = System.nanoTime();
            }
        }

        @Override
        public boolean onStep(int step, int total, Duration elapsed) {
            // the first step counts from the start of denoising, not from the start of the generation
            Duration from = step == 1 ? Duration.ofNanos(denoising - start) : previous;
            stepSeconds.add(elapsed.minus(from).toNanos() / 1e9);
            previous = elapsed;
            ProcessMemory.residentBytes().ifPresent(resident::add);
            return true;
        }

        List<Double> stepSeconds() {
            return stepSeconds;
        }

        List<Long> residentAfterStep() {
            return resident;
        }

        double encodeSeconds() {
            return (denoising - start) / 1e9;
        }

        double decodeSecondsUntil(long end) {
            return (end - decoding) / 1e9;
        }
    }
}
