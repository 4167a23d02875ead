package dev.montage.dist;

import dev.montage.dist.server.GenerationService;
import dev.montage.dist.server.MontageServer;
import dev.montage.dist.server.ServedModel;
import dev.montage.dist.server.ServerSettings;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.pipeline.AssembledPipeline;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.pipeline.PipelineBuilder;
import dev.montage.runtime.registry.ComponentRegistry;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code montage serve}: loads the model, starts the HTTP server, warms the pipeline up and serves until the process
 * is told to stop (Ctrl-C, SIGTERM), then shuts down gracefully.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Run the headless HTTP server (API description at /openapi.json).",
            "The bearer token, if any, comes from the environment variable " + ServerSettings.TOKEN_ENV
                    + " or --token-file, never from the command line."})
final class ServeCommand implements Callable<Integer> {
    /** How much longer than the grace period the shutdown hook waits for the engine to be released. */
    private static final Duration RELEASE_MARGIN = Duration.ofSeconds(30);

    @Spec
    CommandSpec spec;

    @Option(names = "--model", description = "MS-Diffusion model folder (default: the embedded tiny model with random "
            + "weights).")
    Path model;

    @Option(names = "--host", defaultValue = "${env:MONTAGE_HOST:-127.0.0.1}",
            description = "Interface to listen on (default ${DEFAULT-VALUE}; env MONTAGE_HOST).")
    String host;

    @Option(names = "--port", defaultValue = "${env:MONTAGE_PORT:-8080}",
            description = "Port, 0 for any free one (default ${DEFAULT-VALUE}; env MONTAGE_PORT).")
    int port;

    @Option(names = "--queue-size", description = "Generations that may wait (default 16).")
    Integer queueSize;

    @Option(names = "--concurrency", description = "Generations running at the same time (default 1).")
    Integer concurrency;

    @Option(names = {"-o", "--out"}, description = "Folder of results and uploads (default montage-server-out).")
    Path out;

    @Option(names = "--max-body-bytes", description = "Largest request body (default 32 MiB).")
    Long maxBodyBytes;

    @Option(names = "--max-image-bytes", description = "Largest input picture (default 16 MiB).")
    Long maxImageBytes;

    @Option(names = "--max-size", description = "WIDTHxHEIGHT: largest output size (default 2048x2048).")
    String maxSize;

    @Option(names = "--max-steps", description = "Most steps a request may ask for (default 150).")
    Integer maxSteps;

    @Option(names = "--max-images", description = "Most images per request (default 8).")
    Integer maxImages;

    @Option(names = "--grace", description = "Seconds running generations may finish at shutdown (default 30).")
    Long graceSeconds;

    @Option(names = "--token-file", description = "File holding the bearer token clients must send.")
    Path tokenFile;

    @Option(names = "--device", description = "cpu, cuda, cuda:N or auto (default ${DEFAULT-VALUE}).")
    String device = "auto";

    @Option(names = "--dtype", description = "float32, bfloat16, float16 or auto (default ${DEFAULT-VALUE}).")
    String dtype = "float32";

    @Option(names = "--intra-op-threads", description = "Threads one operator may use; 0 = PyTorch's default (all "
            + "cores). On CPUs serving several workers, cores / workers avoids the threads fighting over cores.")
    int intraOpThreads;

    @Override
    public Integer call() throws IOException, InterruptedException {
        ServerSettings settings = settings();
        CountDownLatch stopRequested = new CountDownLatch(1);
        CountDownLatch released = new CountDownLatch(1);
        // the JVM ends when its shutdown hooks have: this one lets serve() finish the graceful shutdown first
        Thread hook = new Thread(() -> {
            stopRequested.countDown();
            try {
                released.await(settings.shutdownGrace().plus(RELEASE_MARGIN).toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "montage-serve-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            return serve(settings, stopRequested);
        } finally {
            released.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is shutting down: the hook is what ended serve(), and it may now return
            }
        }
    }

    /**
     * Serves until {@code stopRequested} opens, then shuts down gracefully and releases the engine.
     *
     * @param settings {@link #settings()}
     *
     * @throws IllegalArgumentException naming a bad setting or model path
     * @throws IllegalStateException    when the warm-up generation fails
     */
    int serve(ServerSettings settings, CountDownLatch stopRequested) throws IOException, InterruptedException {
        PrintWriter err = spec.commandLine().getErr();
        if (model != null && !Files.isDirectory(model)) {
            throw new IllegalArgumentException("model folder " + model + " does not exist");
        }
        ComponentRegistry registry = ComponentRegistry.fromClasspath(Montage.class.getClassLoader());
        Path folder = model != null ? model : EmbeddedModel.ensure(registry, err);
        ModelPaths paths = ModelPaths.of(folder);
        try (MontageEngine engine = MontageEngine.start(new EngineConfig(device, dtype, intraOpThreads, 0));
                AssembledPipeline assembled = new PipelineBuilder(engine, registry, paths).build();
                GenerationService service = new GenerationService(settings, assembled.pipeline());
                MontageServer server = MontageServer.start(settings, service, registry, new ServedModel(paths,
                        Files.isRegularFile(folder.resolve(RandomModel.MARKER)), engine.describe()))) {
            try {
                service.start().get();
            } catch (ExecutionException e) {
                throw new IllegalStateException("the warm-up generation failed: " + e.getCause().getMessage(),
                        e.getCause());
            }
            err.printf("montage: serving %s on %s (%s; %d worker(s), queue %d, results in %s, auth %s)%n", folder,
                    server.url(), engine.describe(), settings.concurrency(), settings.queueSize(),
                    settings.outputDir().toAbsolutePath(), settings.authToken().isPresent() ? "bearer token" : "off");
            err.flush();
            stopRequested.await();
            err.println("montage: shutting down (running generations may finish for up to "
                    + settings.shutdownGrace().toSeconds() + " s)");
            err.flush();
        }
        return 0;
    }

    /** The defaults, then the environment, then the flags given. */
    ServerSettings settings() throws IOException {
        ServerSettings.Builder b = ServerSettings.builder().host(host).port(port);
        if (queueSize != null) {
            b.queueSize(queueSize);
        }
        if (concurrency != null) {
            b.concurrency(concurrency);
        }
        if (out != null) {
            b.outputDir(out);
        }
        if (maxBodyBytes != null) {
            b.maxBodyBytes(maxBodyBytes);
        }
        if (maxImageBytes != null) {
            b.maxImageBytes(maxImageBytes);
        }
        if (maxSize != null) {
            String[] wh = maxSize.toLowerCase(Locale.ROOT).split("x");
            try {
                b.maxSize(Integer.parseInt(wh[0].trim()), Integer.parseInt(wh[1].trim()));
            } catch (NumberFormatException | ArrayIndexOutOfBoundsException e) {
                throw new IllegalArgumentException("--max-size must be WIDTHxHEIGHT, got '" + maxSize + "'", e);
            }
        }
        if (maxSteps != null) {
            b.maxSteps(maxSteps);
        }
        if (maxImages != null) {
            b.maxImages(maxImages);
        }
        if (graceSeconds != null) {
            b.shutdownGrace(Duration.ofSeconds(graceSeconds));
        }
        ServerSettings settings = b.build().withEnvironment(System.getenv());
        if (tokenFile != null) {
            settings = settings.toBuilder().authToken(Files.readString(tokenFile).trim()).build();
        }
        return settings;
    }
}
