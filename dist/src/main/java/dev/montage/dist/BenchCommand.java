package dev.montage.dist;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.montage.runtime.config.PipelineSettings;
import dev.montage.runtime.pipeline.RandomModel;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.registry.InstalledPlugins;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code montage bench}: per-stage wall time and peak resident memory of the pipeline on a model folder, by default a
 * full-size SDXL + MS-Diffusion model with random fp16 weights written once into the cache folder. Prints a table and
 * optionally writes the figures as JSON. See {@link Benchmark} for what each stage measures.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure the pipeline's load, its encoding (prompt, phrases, subject pictures, resampler), its "
                + "guided UNet steps, its VAE decode and whole generations: median wall time of several runs and peak "
                + "resident memory.")
final class BenchCommand implements Callable<Integer> {
    /** Bump when the sdxl layout or the random writer changes, so old caches are not reused. */
    private static final float GIB = 1 << 30;

    @Spec
    CommandSpec spec;

    @Mixin
    PluginOptions plugins;

    @Option(names = "--model", description = "MS-Diffusion model folder (default: a random model of --config, "
            + "written once into the cache folder).")
    Path model;

    @Option(names = "--config", description = "Random model when no --model is given: sdxl (full size, about 11 GB "
            + "of fp16 weights) or tiny (default ${DEFAULT-VALUE}).")
    String config = "sdxl";

    @Option(names = "--sizes", split = ",", description = "Square image sizes in pixels (default ${DEFAULT-VALUE}).")
    List<Integer> sizes = List.of(512);

    @Option(names = "--subjects", split = ",", description = "Subject counts 0..4; 0 is plain SDXL attention "
            + "(default ${DEFAULT-VALUE}).")
    List<Integer> subjects = List.of(2);

    @Option(names = "--dtypes", split = ",", description = "Compute dtypes: float32, bfloat16, float16, auto "
            + "(default ${DEFAULT-VALUE}).")
    List<String> dtypes = List.of("bfloat16");

    @Option(names = "--runs", description = "Measured runs per figure (for unet: measured steps of one generation); "
            + "the table shows their median (default ${DEFAULT-VALUE}).")
    int runs = 3;

    @Option(names = "--warmup", description = "Untimed runs before the measured ones (for unet: untimed steps before "
            + "them) (default ${DEFAULT-VALUE}).")
    int warmup = 1;

    @Option(names = "--steps", description = "Denoising steps of each whole generation (default ${DEFAULT-VALUE}).")
    int steps = 4;

    @Option(names = "--stages", split = ",", description = "Stages to time: load, encode, unet, decode, generate "
            + "(default: all).")
    List<String> stages = List.of();

    @Option(names = "--device", description = "cpu, cuda, cuda:N or auto (default ${DEFAULT-VALUE}).")
    String device = "auto";

    @Option(names = "--release-encoders", description = "The pipeline loads the encoders per generation and closes "
            + "them once it has encoded (profile key pipeline.release_encoders).")
    boolean releaseEncoders;

    @Option(names = "--release-denoiser", description = "The pipeline loads the UNet when denoising starts and "
            + "closes it before decoding (profile key pipeline.release_denoiser).")
    boolean releaseDenoiser;

    @Option(names = "--cold-cache", description = "Drop the model folder's files from the operating system's page "
            + "cache before the pipeline loads (posix_fadvise), so that they are read from the disk; affects every "
            + "process reading those files.")
    boolean coldCache;

    @Option(names = "--warm-up", description = "The pipeline's warm-up (profile key pipeline.warm_up), timed as its "
            + "own row: small (once, after the load), default_size (before each size's figures, at that size) or "
            + "none (default ${DEFAULT-VALUE}).")
    String warmUp = PipelineSettings.NONE;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Set a profile key of the measured pipeline, e.g. "
            + "--set options.unet.freeu=0.9,0.2,1.3,1.4 (repeatable).")
    Map<String, String> set = new LinkedHashMap<>();

    @Option(names = "--pag-scale", description = "Perturbed-attention guidance of this scale on the measured "
            + "requests' middle block, one more batch row per image (default: none).")
    double pagScale;

    @Option(names = "--json", description = "Also write the figures to this JSON file.")
    Path json;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        Set<Benchmark.Stage> selected = EnumSet.allOf(Benchmark.Stage.class);
        if (!stages.isEmpty()) {
            selected = EnumSet.noneOf(Benchmark.Stage.class);
            for (String s : stages) {
                selected.add(Benchmark.Stage.parse(s));
            }
        }
        // checked before a model is written: that may take minutes
        Benchmark.Settings settings = new Benchmark.Settings(sizes, subjects, dtypes, runs, warmup, steps, selected,
                device, releaseEncoders, releaseDenoiser, coldCache, warmUp, set, pagScale);
        Path folder;
        List<BenchResult> results;
        String loadBefore;
        String loadAfter;
        try (InstalledPlugins installed = plugins.load()) {
            PluginOptions.warn(installed, err);
            ComponentRegistry registry = installed.registry();
            if (model != null) {
                folder = model;
            } else {
                RandomModel models = RandomModel.of(registry, Optional.empty());
                folder = models.cached(RandomModel.cacheFolder(System.getenv()), config, models.storage(config),
                        EmbeddedModel.announceWrite(err));
            }
            loadBefore = MachineInfo.loadAverage();
            results = new Benchmark(folder, settings, registry, err).run();
            loadAfter = MachineInfo.loadAverage();
        }
        PrintWriter out = spec.commandLine().getOut();
        out.print(table(results));
        out.printf("machine: %s; load average before %s, after %s%n", MachineInfo.describe(), loadBefore, loadAfter);
        out.flush();
        if (json != null) {
            writeJson(json, folder, settings, results, loadBefore, loadAfter);
        }
        return 0;
    }

    /**
     * One line per figure: stage, dtype, size, subjects, median / min / max wall seconds, median process CPU seconds,
     * runs, peak RSS, note.
     */
    static String table(List<BenchResult> results) {
        StringBuilder b = new StringBuilder();
        String format = "%-18s %-9s %5s %4s %10s %10s %10s %10s %4s %10s  %s%n";
        b.append(String.format(Locale.ROOT, format, "stage", "dtype", "size", "subj", "median s", "min s", "max s",
                "cpu s", "runs", "peak RSS", "note"));
        for (BenchResult r : results) {
            boolean ran = !r.seconds().isEmpty();
            b.append(String.format(Locale.ROOT, format, r.stage(), r.dtype(), r.size() == null ? "-" : r.size(),
                    r.subjects() == null ? "-" : r.subjects(), ran ? seconds(r.median()) : "-",
                    ran ? seconds(r.seconds().stream().mapToDouble(Double::doubleValue).min().orElseThrow()) : "-",
                    ran ? seconds(r.seconds().stream().mapToDouble(Double::doubleValue).max().orElseThrow()) : "-",
                    r.cpuSeconds().isEmpty() ? "-" : seconds(BenchResult.median(r.cpuSeconds())), r.seconds().size(), r.peakRss() == null ? "-"
                            : String.format(Locale.ROOT, "%.2f GiB", r.peakRss() / GIB),
                    r.note() == null ? "" : r.note()));
        }
        return b.toString();
    }

    private static String seconds(double s) {
        return String.format(Locale.ROOT, "%.3f", s);
    }

    private static void writeJson(Path file, Path model, Benchmark.Settings settings, List<BenchResult> results,
            String loadBefore, String loadAfter) throws IOException {
        Map<String, Object> root = new LinkedHashMap<>();
        Map<String, Object> machine = new LinkedHashMap<>(MachineInfo.facts());
        machine.put("load_average_before", loadBefore);
        machine.put("load_average_after", loadAfter);
        root.put("machine", machine);
        root.put("model", model.toString());
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("sizes", settings.sizes());
        s.put("subjects", settings.subjects());
        s.put("dtypes", settings.dtypes());
        s.put("runs", settings.runs());
        s.put("warmup", settings.warmup());
        s.put("steps", settings.steps());
        s.put("stages", settings.stages().stream().map(Benchmark.Stage::id).sorted().toList());
        s.put("device", settings.device());
        s.put("release_encoders", settings.releaseEncoders());
        s.put("release_denoiser", settings.releaseDenoiser());
        s.put("cold_cache", settings.coldCache());
        s.put("warm_up", settings.warmUp());
        s.put("set", settings.profileSettings());
        s.put("pag_scale", settings.pagScale());
        root.put("settings", s);
        List<Map<String, Object>> rows = new ArrayList<>();
        for (BenchResult r : results) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("stage", r.stage());
            row.put("dtype", r.dtype());
            row.put("size", r.size());
            row.put("subjects", r.subjects());
            row.put("median_s", r.seconds().isEmpty() ? null : r.median());
            row.put("seconds", r.seconds());
            row.put("median_cpu_s", r.cpuSeconds().isEmpty() ? null : BenchResult.median(r.cpuSeconds()));
            row.put("cpu_seconds", r.cpuSeconds());
            row.put("peak_rss_bytes", r.peakRss());
            row.put("details", r.details());
            row.put("note", r.note());
            rows.add(row);
        }
        root.put("results", rows);
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), root);
    }
}
