package dev.montage.dist;

import dev.montage.dist.server.GenerationService;
import dev.montage.dist.server.MontageServer;
import dev.montage.dist.server.ServedModel;
import dev.montage.dist.server.ServerSection;
import dev.montage.dist.server.ServerSettings;
import dev.montage.runtime.config.PipelineSettings;
import dev.montage.runtime.config.ResolvedProfile;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import dev.montage.runtime.registry.InstalledPlugins;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code montage serve}: loads the model a profile describes, starts the HTTP server, warms the pipeline up and serves
 * until the process is told to stop (Ctrl-C, SIGTERM), then shuts down gracefully.
 */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run the headless HTTP server (API description at /openapi.json).",
            "Every setting comes from, weakest first: the built-in defaults, the --profile layers (device, dtype, "
                    + "model paths and ControlNet folders, component ids, request defaults, and the server section), "
                    + "MONTAGE_<SECTION>_<KEY> environment variables (e.g. MONTAGE_SERVER_PORT), then the flags "
                    + "(--set and the options below).",
            "Without --profile or models.base it serves the embedded tiny model with random weights.",
            "The bearer token, if any, is read from server.auth_token_file (--token-file), else from the environment "
                    + "variable server.auth_token_env names (default " + ServerSettings.TOKEN_ENV + "); never from "
                    + "the command line."})
final class ServeCommand implements Callable<Integer> {
    /** How much longer than the grace period the shutdown hook waits for the engine to be released. */
    private static final Duration RELEASE_MARGIN = Duration.ofSeconds(30);

    @Spec
    CommandSpec spec;

    @ParentCommand
    Montage montage;

    @Mixin
    ConfigurationOptions configuration;

    @Mixin
    PluginOptions plugins;

    @Option(names = "--host", description = "Interface to listen on (sets server.host; default 127.0.0.1).")
    String host;

    @Option(names = "--port", description = "Port, 0 for any free one (sets server.port; default 8080).")
    Integer port;

    @Option(names = "--queue-size", description = "Generations that may wait (sets server.queue_size).")
    Integer queueSize;

    @Option(names = "--concurrency", description = "Generations running at the same time (sets "
            + "server.concurrency).")
    Integer concurrency;

    @Option(names = {"-o", "--out"}, description = "Folder of results and uploads (sets server.output_dir; default "
            + "montage-server-out).")
    Path out;

    @Option(names = "--max-body-bytes", description = "Largest request body (sets server.max_body_bytes).")
    Integer maxBodyBytes;

    @Option(names = "--max-image-bytes", description = "Largest input picture (sets server.max_image_bytes).")
    Integer maxImageBytes;

    @Option(names = "--max-size", description = "WIDTHxHEIGHT: largest output size (sets server.max_width and "
            + "server.max_height).")
    String maxSize;

    @Option(names = "--max-steps", description = "Most steps a request may ask for (sets server.max_steps).")
    Integer maxSteps;

    @Option(names = "--max-images", description = "Most images per request (sets server.max_images).")
    Integer maxImages;

    @Option(names = "--grace", description = "Seconds running generations may finish at shutdown (sets "
            + "server.shutdown_grace_seconds).")
    Integer graceSeconds;

    @Option(names = "--token-file", description = "File holding the bearer token clients must send (sets "
            + "server.auth_token_file).")
    Path tokenFile;

    @Option(names = "--intra-op-threads", description = "Threads one operator may use; 0 = PyTorch's default (all "
            + "cores). On CPUs serving several workers, cores / workers avoids the threads fighting over cores (sets "
            + "engine.threads).")
    Integer intraOpThreads;

    /**
     * What {@code serve} runs: the pipeline's configuration and the server's settings from it.
     *
     * @param pipeline the configured pipeline builder (models, components, engine)
     * @param profile  the resolved profile, checked except for the model paths
     * @param settings the server's settings from the profile
     */
    record Configuration(MontagePipeline.Builder pipeline, ResolvedProfile profile, ServerSettings settings) {
    }

    @Override
    public Integer call() throws IOException, InterruptedException {
        // plugin components run plugin code: the plugins stay loaded while the server runs
        try (InstalledPlugins installed = plugins.load()) {
            PluginOptions.warn(installed, spec.commandLine().getErr());
            Configuration configured = configure(installed.registry());
            CountDownLatch stopRequested = new CountDownLatch(1);
            CountDownLatch released = new CountDownLatch(1);
            Duration grace = configured.settings().shutdownGrace();
            // the JVM ends when its shutdown hooks have: this one lets serve() finish the graceful shutdown first
            Thread hook = new Thread(() -> {
                stopRequested.countDown();
                try {
                    released.await(grace.plus(RELEASE_MARGIN).toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "montage-serve-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            try {
                return serve(configured, installed.registry(), stopRequested);
            } finally {
                released.countDown();
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException e) {
                    // the JVM is shutting down: the hook is what ended serve(), and it may now return
                }
            }
        }
    }

    /**
     * The profile layers, environment and flags resolved and checked (all but the model paths, which
     * {@link #serve} checks before reading a weight), and the server's settings from them.
     *
     * @throws dev.montage.runtime.config.ProfileException listing every problem of the configuration
     * @throws IllegalArgumentException                    naming a malformed flag or an unreadable token
     */
    Configuration configure(ComponentRegistry registry) {
        MontagePipeline.Builder pipeline = configuration.builder(montage.environment(), registry);
        ConfigurationOptions.flag(pipeline, "server.host", host, "--host");
        ConfigurationOptions.flag(pipeline, "server.port", port, "--port");
        ConfigurationOptions.flag(pipeline, "server.queue_size", queueSize, "--queue-size");
        ConfigurationOptions.flag(pipeline, "server.concurrency", concurrency, "--concurrency");
        ConfigurationOptions.flag(pipeline, "server.output_dir", out, "--out");
        ConfigurationOptions.flag(pipeline, "server.max_body_bytes", maxBodyBytes, "--max-body-bytes");
        ConfigurationOptions.flag(pipeline, "server.max_image_bytes", maxImageBytes, "--max-image-bytes");
        if (maxSize != null) {
            String[] wh = maxSize.toLowerCase(Locale.ROOT).split("x");
            try {
                pipeline.setting("server.max_width", Integer.parseInt(wh[0].trim()), "command line --max-size");
                pipeline.setting("server.max_height", Integer.parseInt(wh[1].trim()), "command line --max-size");
            } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
                throw new IllegalArgumentException("--max-size must be WIDTHxHEIGHT, got '" + maxSize + "'", e);
            }
        }
        ConfigurationOptions.flag(pipeline, "server.max_steps", maxSteps, "--max-steps");
        ConfigurationOptions.flag(pipeline, "server.max_images", maxImages, "--max-images");
        ConfigurationOptions.flag(pipeline, "server.shutdown_grace_seconds", graceSeconds, "--grace");
        if (tokenFile != null) {
            // the file named on the command line wins over a variable a profile names
            pipeline.setting("server.auth_token_env", null, "command line --token-file");
            pipeline.setting("server.auth_token_file", tokenFile, "command line --token-file");
        }
        ConfigurationOptions.flag(pipeline, "engine.threads", intraOpThreads, "--intra-op-threads");
        ResolvedProfile profile = pipeline.resolve();
        return new Configuration(pipeline, profile,
                ServerSettings.fromProfile(profile.section(ServerSection.PROFILE), montage.environment()));
    }

    /**
     * Loads the model (after checking its paths), serves until {@code stopRequested} opens, then shuts down
     * gracefully and releases the engine.
     *
     * @param configured {@link #configure}
     * @throws dev.montage.runtime.config.ProfileException naming a missing or malformed model path
     * @throws IllegalStateException                       when the warm-up generation fails
     */
    int serve(Configuration configured, ComponentRegistry registry, CountDownLatch stopRequested)
            throws IOException, InterruptedException {
        PrintWriter err = spec.commandLine().getErr();
        ServerSettings settings = configured.settings();
        MontagePipeline.Builder pipeline = configured.pipeline();
        if (configured.profile().profile().models().isEmpty()) {
            pipeline.setting("models.random", EmbeddedModel.NAME, "the embedded default model");
        }
        pipeline.onRandomModelWrite(EmbeddedModel.announceWrite(err));
        try (MontagePipeline assembled = pipeline.build();
                GenerationService service = new GenerationService(settings, assembled);
                MontageServer server = MontageServer.start(settings, service, registry, served(assembled))) {
            try {
                service.start().get();
            } catch (ExecutionException e) {
                throw new IllegalStateException("the warm-up generation failed: " + e.getCause().getMessage(),
                        e.getCause());
            }
            List<String> controls = assembled.controlTypes();
            // before the serving line, which clients and tests wait for
            warnAboutReleasedComponents(assembled.profile().profile().pipeline(), err);
            err.printf("montage: serving %s on %s (profile %s; %s; controls %s; %d worker(s), queue %d, results in "
                    + "%s, auth %s)%n", assembled.profile().profile().models().base().orElseThrow(), server.url(),
                    assembled.profile().layers().isEmpty() ? "built-in defaults"
                            : String.join(",", assembled.profile().layers()),
                    assembled.engine().describe(), controls.isEmpty() ? "none" : String.join(",", controls),
                    settings.concurrency(), settings.queueSize(), settings.outputDir().toAbsolutePath(),
                    settings.authToken().isPresent() ? "bearer token" : "off");
            err.flush();
            stopRequested.await();
            err.println("montage: shutting down (running generations may finish for up to "
                    + settings.shutdownGrace().toSeconds() + " s)");
            err.flush();
        }
        return 0;
    }

    private static ServedModel served(MontagePipeline assembled) {
        ModelPaths paths = assembled.profile().profile().models().toModelPaths();
        return new ServedModel(paths, EmbeddedModel.random(assembled).isPresent(), assembled.engine().describe(), assembled.request("").build());
    }

    /** A profile meant for one generation per process (such as cpu) makes a server reload weights per request. */
    private static void warnAboutReleasedComponents(PipelineSettings pipeline, PrintWriter err) {
        List<String> released = new ArrayList<>();
        if (pipeline.releaseEncoders()) {
            released.add("pipeline.release_encoders");
        }
        if (pipeline.releaseDenoiser()) {
            released.add("pipeline.release_denoiser");
        }
        if (!released.isEmpty()) {
            err.printf("montage: warning: %s on: every request loads those weights again; layer the server profile "
                    + "over this one or set them to false to keep them loaded%n", String.join(" and ", released));
        }
    }
}
