package dev.montage.dist;

import com.sun.management.OperatingSystemMXBean;
import dev.montage.api.Box;
import dev.montage.api.GenerationCancelledException;
import dev.montage.api.GenerationRequest;
import dev.montage.api.PerturbedAttention;
import dev.montage.api.ProgressListener;
import dev.montage.api.Subject;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.host.ModelWeights;
import dev.montage.runtime.config.PipelineSettings;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.pipeline.FolderComponentContext;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The measurements behind {@code montage bench}. It assembles the pipeline as {@code montage generate} does
 * ({@link MontagePipeline}) and times its generations through their {@link ProgressListener} calls: the stages the
 * pipeline announces and the end of every denoising step. A step is one guided UNet call on the
 * {@code [uncond, cond]} batch with the guidance and the scheduler's update, which cost next to nothing beside it.
 *
 * <p>Every figure has {@code warmup} untimed runs before its measured ones (kernel compilation, oneDNN primitive
 * creation and the once-per-generation work of the first UNet call happen there; the first run's time is kept in the
 * details). A pipeline whose weights and their working memory would not fit into the memory the machine has available
 * is skipped with a note rather than pushing a shared machine into the out-of-memory killer.
 */
final class Benchmark {
    /** A measurable stage, by its command-line name. */
    enum Stage {
        LOAD, ENCODE, UNET, DECODE, GENERATE;

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
                    + Arrays.stream(values()).map(Stage::id).toList());
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
     * @param stages   the stages to time
     * @param device   engine device
     * @param releaseEncoders whether the pipeline loads and closes the encoders per generation
     * @param releaseDenoiser whether the pipeline loads the denoiser when denoising starts and closes it before
     *                        decoding
     * @param coldCache       whether the pipeline's load starts with the model's files dropped from the page cache, so
     *                        that they come from the disk
     * @param warmUp          the pipeline's warm-up ({@code pipeline.warm_up}), timed as its own row: {@code small}
     *                        once after the load, {@code default_size} before each size's figures at that size,
     *                        {@code none}
     * @param profileSettings further profile keys of the measured pipeline ({@code --set}), e.g. a component option
     */
    record Settings(List<Integer> sizes, List<Integer> subjects, List<String> dtypes, int runs,
            int warmup, int steps, Set<Stage> stages, String device, boolean releaseEncoders,
            boolean releaseDenoiser, boolean coldCache, String warmUp, Map<String, String> profileSettings,
            double pagScale) {
        Settings {
            profileSettings = Map.copyOf(profileSettings);
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
            PipelineSettings.warmUpProblem(warmUp).ifPresent(m -> {
                throw new IllegalArgumentException(m);
            });
            if (!(pagScale >= 0 && Double.isFinite(pagScale))) {
                throw new IllegalArgumentException("the perturbed-attention guidance scale must be a finite number "
                        + ">= 0 (0 for none), got " + pagScale);
            }
            if (coldCache && !PageCache.supported()) {
                throw new IllegalArgumentException("a cold page cache needs posix_fadvise, which this system's C "
                        + "library lacks");
            }
        }

        boolean times(Stage stage) {
            return stages.contains(stage);
        }
    }

    private static final String PROMPT = "best quality, a dog and a cat and a ball and a cube on the beach";
    private static final String[] PHRASES = {"dog", "cat", "ball", "cube"};
    private static final Color[] COLORS = {Color.RED, Color.BLUE, Color.GREEN, Color.ORANGE};
    /** Subject pictures are resized to 512 px by MS-Diffusion before CLIP preprocessing anyway. */
    private static final int PICTURE_SIZE = 512;
    private static final double IMAGE_SCALE = 0.6;
    /** The pipeline's announcements ({@link ProgressListener#onStage}) that bound the figures. */
    private static final String DENOISING = "denoising";
    private static final String DECODING = "decoding";
    private static final float GIB = 1 << 30;
    /** What a pipeline needs beyond its weights, as a factor of them (see {@link #shortfall}). */
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
                run(engine);
            }
            // the closed weights' memory maps go with their buffers: collect them before the next dtype loads its own
            System.gc();
        }
        return Collections.unmodifiableList(results);
    }

    /**
     * Why a pipeline holding {@code weightBytes} of weights should not start with {@code available} bytes free, or
     * empty when it fits (or nothing is known). The weights are not all it needs: measured peaks were 1.28 (a 512²
     * float32 UNet step) to 1.43 (a 1024² float32 generation) times the weights held, for activations, the
     * allocator's kept blocks and packed weights; a whole 512² float32 generation whose weights alone fitted was
     * killed for memory.
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

    /** The stages of one compute dtype, on one pipeline. */
    private void run(MontageEngine engine) {
        String dtype = engine.computeDType().configName();
        Optional<String> why = shortfall("the whole pipeline", residentAtOnce(engine), dtype,
                ProcessMemory.availableBytes());
        if (why.isPresent()) {
            add(BenchResult.skipped("load pipeline", dtype, null, null, why.get()));
            log.println("montage bench: " + dtype + ": " + why.get());
            return;
        }
        if (settings.coldCache()) {
            modelFiles().forEach(Benchmark::evict);
        }
        ProcessMemory.resetPeak();
        Mark before = Mark.now();
        MontagePipeline.Builder builder = MontagePipeline.builder().registry(registry).engine(engine)
                .setting("models.base", model, "montage bench --model")
                .setting("pipeline.release_encoders", settings.releaseEncoders(), "montage bench --release-encoders")
                .setting("pipeline.release_denoiser", settings.releaseDenoiser(), "montage bench --release-denoiser")
                .setting("pipeline.warm_up", settings.warmUp(), "montage bench --warm-up");
        settings.profileSettings().forEach((key, value) -> builder.setting(key, value, "montage bench --set"));
        try (MontagePipeline pipeline = builder.build()) {
            if (settings.times(Stage.LOAD)) {
                Figure load = new Figure();
                load.add(before, Mark.now());
                Map<String, Double> components = new LinkedHashMap<>();
                pipeline.componentLoadTimes().forEach((name, took) -> components.put(name, took.toNanos() / 1e9));
                add(load.result("load pipeline", dtype, null, null, Map.of("component_load_s", components),
                        settings.coldCache() ? "cold: files dropped from the page cache first" : null));
                components.forEach((name, seconds) -> log.printf(Locale.ROOT, "montage bench:   %s %.3f s%n", name,
                        seconds));
            }
            if (settings.warmUp().equals(PipelineSettings.SMALL)) {
                warmUp(pipeline, dtype, null);
            }
            for (int size : settings.sizes()) {
                if (settings.warmUp().equals(PipelineSettings.DEFAULT_SIZE)) {
                    warmUp(pipeline, dtype, size);
                }
                for (int n : settings.subjects()) {
                    if (settings.times(Stage.UNET)) {
                        steps(pipeline, dtype, size, n);
                    }
                    if (settings.times(Stage.ENCODE) || settings.times(Stage.DECODE)
                            || settings.times(Stage.GENERATE)) {
                        generations(pipeline, dtype, size, n);
                    }
                }
            }
        }
    }

    /** The {@code warm-up} figure: the pipeline's warm-up generation, at {@code size} unless that is null. */
    private void warmUp(MontagePipeline pipeline, String dtype, Integer size) {
        GenerationRequest request = pipeline.warmUpRequest().orElseThrow();
        if (size != null) {
            request = request.toBuilder().size(size, size).build();
        }
        Figure figure = new Figure();
        Mark start = Mark.now();
        pipeline.generate(request);
        figure.add(start, Mark.now());
        add(figure.result("warm-up", dtype, request.width(), null, Map.of(), settings.warmUp()));
    }

    /**
     * The {@code unet step (cfg)} figure: one generation whose first {@code warmup} steps are untimed and whose next
     * {@code runs} steps are the measured runs, ended there, before it decodes.
     */
    private void steps(MontagePipeline pipeline, String dtype, int size, int n) {
        int steps = settings.warmup() + settings.runs();
        Clock clock = new Clock(steps);
        ProcessMemory.resetPeak();
        try {
            // one step more than are timed, so that ending it after the last timed one leaves the decode out
            pipeline.generate(request(size, n, steps + 1), clock);
        } catch (GenerationCancelledException ended) {
            // what the clock asked for after the last timed step
        }
        Figure figure = new Figure();
        for (int i = settings.warmup(); i < steps; i++) {
            figure.add(clock.stepStart(i), clock.step(i));
        }
        add(figure.result(settings.pagScale() > 0 ? "unet step (cfg+pag)" : "unet step (cfg)", dtype, size, n,
                Map.of("first_run_s", clock.stepSeconds(0)), null));
    }

    /** Whole generations of {@code steps} steps: the {@code encode}, {@code vae decode} and {@code generate} rows. */
    private void generations(MontagePipeline pipeline, String dtype, int size, int n) {
        GenerationRequest request = request(size, n, settings.steps());
        Figure encode = new Figure();
        Figure decode = new Figure();
        Figure whole = new Figure();
        List<Double> steps = new ArrayList<>();
        double first = Double.NaN;
        Clock last = null;
        ProcessMemory.resetPeak();
        for (int run = -settings.warmup(); run < settings.runs(); run++) {
            Clock clock = new Clock(Integer.MAX_VALUE);
            pipeline.generate(request, clock);
            Mark end = Mark.now();
            first = Double.isNaN(first) ? Mark.seconds(clock.start, end) : first;
            if (run >= 0) {
                encode.add(clock.start, clock.stage(DENOISING));
                decode.add(clock.stage(DECODING), end);
                whole.add(clock.start, end);
                // the first step of a generation does once-per-generation work; the later ones are the step's cost
                for (int i = Math.min(1, settings.steps() - 1); i < settings.steps(); i++) {
                    steps.add(clock.stepSeconds(i));
                }
                last = clock;
            }
        }
        if (settings.times(Stage.ENCODE)) {
            add(encode.result("encode", dtype, size, n, Map.of(), null));
        }
        if (settings.times(Stage.DECODE)) {
            add(decode.result("vae decode", dtype, size, n, Map.of(), null));
        }
        if (settings.times(Stage.GENERATE)) {
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("steps", settings.steps());
            details.put("first_run_s", first);
            details.put("step_s_median", BenchResult.median(steps));
            details.put("first_step_s", last.stepSeconds(0));
            details.put("encode_s_median", BenchResult.median(encode.wall));
            details.put("decode_s_median", BenchResult.median(decode.wall));
            details.put("rss_after_step_bytes", last.resident);
            add(whole.result("generate", dtype, size, n, details, settings.steps() + " steps"));
        }
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
     * A request of {@code n} subjects side by side, each a coloured disc with its phrase, with the settings'
     * perturbed-attention guidance.
     */
    private GenerationRequest request(int size, int n, int steps) {
        GenerationRequest.Builder b = GenerationRequest.builder(PROMPT).size(size, size).steps(steps).seed(1)
                .imageScale(IMAGE_SCALE).perturbedAttention(settings.pagScale() > 0
                        ? PerturbedAttention.of(settings.pagScale()) : null);
        for (int j = 0; j < n; j++) {
            BufferedImage picture = new BufferedImage(PICTURE_SIZE, PICTURE_SIZE, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = picture.createGraphics();
            g.setColor(COLORS[j]);
            g.fillOval(PICTURE_SIZE / 8, PICTURE_SIZE / 8, PICTURE_SIZE * 3 / 4, PICTURE_SIZE * 3 / 4);
            g.dispose();
            // equal columns side by side, the middle 60 % of the height
            Box box = new Box((double) j / n, 0.2, (double) (j + 1) / n, 0.8);
            b.subject(Subject.of(picture, PHRASES[j] + ".png", PHRASES[j], box));
        }
        return b.build();
    }

    /**
     * The most weight bytes a whole generation holds at once: the held components, plus the largest of the released
     * ones (encoders one after the other, then the UNet) when the settings release them.
     */
    private long residentAtOnce(MontageEngine engine) {
        int element = engine.computeDType() == ComputeDType.FLOAT32 ? 4 : 2;
        try (FolderComponentContext context = new FolderComponentContext(engine,
                ModelPaths.of(model).withDefaults(registry.modelFiles().values()), Map.of())) {
            long text = bytes(context.model("text_encoder").weights(), element)
                    + bytes(context.model("text_encoder_2").weights(), element);
            long image = bytes(context.model("image_encoder").weights(), element);
            long unet = bytes(context.model("unet").weights(), element);
            long held = bytes(context.model("vae").weights(), element)
                    + bytes(context.checkpoint("ms_adapter"), element);
            long encoders = settings.releaseEncoders() ? Math.max(text, image) : text + image;
            if (settings.releaseDenoiser()) {
                return held + (settings.releaseEncoders() ? Math.max(encoders, unet) : encoders + unet);
            }
            return held + unet + encoders;
        }
    }

    private static long bytes(ModelWeights weights, int element) {
        long bytes = 0;
        for (String name : weights.names()) {
            long n = element;
            for (long d : weights.shape(name)) {
                n *= d;
            }
            bytes += n;
        }
        return bytes;
    }

    /** Every regular file below the model folder (links followed, as the pipeline follows them). */
    private List<Path> modelFiles() {
        try (Stream<Path> entries = Files.walk(model, FileVisitOption.FOLLOW_LINKS)) {
            return entries.filter(Files::isRegularFile).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + model, e);
        }
    }

    private static void evict(Path file) {
        try {
            PageCache.evict(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The wall clock and the CPU time of the whole process (all threads; negative when unknown) at one moment. */
    private record Mark(long wall, long cpu) {
        private static final OperatingSystemMXBean OS = ManagementFactory.getPlatformMXBean(
                OperatingSystemMXBean.class);

        static Mark now() {
            return new Mark(System.nanoTime(), OS.getProcessCpuTime());
        }

        static double seconds(Mark from, Mark to) {
            return (to.wall - from.wall) / 1e9;
        }
    }

    /** The measured runs of one figure: wall and process CPU seconds of each. */
    private static final class Figure {
        final List<Double> wall = new ArrayList<>();
        final List<Double> cpu = new ArrayList<>();

        void add(Mark from, Mark to) {
            wall.add(Mark.seconds(from, to));
            if (from.cpu() >= 0 && to.cpu() >= 0) {
                cpu.add((to.cpu() - from.cpu()) / 1e9);
            }
        }

        /** The figure, with the peak resident memory since the last reset. */
        BenchResult result(String stage, String dtype, Integer size, Integer subjects, Map<String, Object> details,
                String note) {
            OptionalLong peak = ProcessMemory.peakResidentBytes();
            return new BenchResult(stage, dtype, size, subjects, wall, cpu, peak.isPresent() ? peak.getAsLong() : null,
                    details, note);
        }
    }

    /**
     * The clocks of one generation, from its progress calls: at its start, at each stage the pipeline announces and
     * after each step, with the resident memory after each step. It ends the generation after {@code stopAfter} steps.
     */
    private static final class Clock implements ProgressListener {
        final Mark start = Mark.now();
        final List<Long> resident = new ArrayList<>();
        private final Map<String, Mark> stages = new HashMap<>();
        private final List<Mark> steps = new ArrayList<>();
        private final int stopAfter;

        Clock(int stopAfter) {
            this.stopAfter = stopAfter;
        }

        @Override
        public void onStage(String stage) {
            stages.put(stage, Mark.now());
        }

        @Override
        public boolean onStep(int step, int total, Duration elapsed) {
            steps.add(Mark.now());
            ProcessMemory.residentBytes().ifPresent(resident::add);
            return step < stopAfter;
        }

        /** @throws IllegalStateException when the pipeline did not announce it */
        Mark stage(String name) {
            Mark mark = stages.get(name);
            if (mark == null) {
                throw new IllegalStateException("the pipeline announced no stage '" + name + "', only "
                        + stages.keySet() + "; expected the stages " + DENOISING + " and " + DECODING);
            }
            return mark;
        }

        /** The end of step {@code i} (from 0). */
        Mark step(int i) {
            return steps.get(i);
        }

        /** The start of step {@code i}: the end of the one before, the first's at the start of denoising. */
        Mark stepStart(int i) {
            return i == 0 ? stage(DENOISING) : steps.get(i - 1);
        }

        double stepSeconds(int i) {
            return Mark.seconds(stepStart(i), step(i));
        }
    }
}
