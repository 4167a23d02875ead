package dev.montage.dist.server;

import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.ProgressListener;
import dev.montage.dist.TinyModel;
import dev.montage.runtime.pipeline.ModelPaths;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.registry.ComponentRegistry;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A server on loopback (port 0) over the tiny random model, with a client for it. Generations whose prompt contains
 * {@link #HOLD} wait after their first step until {@link #release()}, so tests can keep a worker busy without
 * depending on how fast the machine is.
 */
final class TestServer implements AutoCloseable {
    static final String HOLD = "[hold]";
    private static final long HOLD_LIMIT_SECONDS = 120;

    final GenerationService service;
    final MontageServer server;
    final MontageClient client;
    final ServerSettings settings;
    private final CountDownLatch released = new CountDownLatch(1);

    private TestServer(ServerSettings settings, GenerationService.Generator around, MontagePipeline pipeline,
            ComponentRegistry registry, Path model) throws IOException {
        this.settings = settings;
        LoraVariants variants = new LoraVariants(pipeline, settings.loraVariants());
        GenerationService.Generator held = (request, loras, listener) -> variants.generate(request, loras,
                request.prompt().contains(HOLD) ? holding(listener) : listener);
        this.service = new GenerationService(settings, around == null ? held : around, pipeline);
        this.server = MontageServer.start(settings, service, registry,
                new ServedModel(ModelPaths.of(model), true, "test engine"));
        service.start().join();
        this.client = new MontageClient(URI.create(server.url()), settings.authToken());
    }

    /** Settings for tests: loopback, any free port, results in {@code out}, small bounds. */
    static ServerSettings.Builder settings(Path out) {
        return ServerSettings.builder().port(0).outputDir(out).maxSteps(500).maxSize(256, 256)
                .shutdownGrace(Duration.ofSeconds(30));
    }

    static TestServer start(ServerSettings settings) throws IOException {
        return new TestServer(settings, null, TinyModel.pipeline(), TinyModel.registry(), TinyModel.folder());
    }

    /** A server whose generations run through {@code generator} instead of the tiny pipeline. */
    static TestServer start(ServerSettings settings, GenerationService.Generator generator) throws IOException {
        return new TestServer(settings, generator, TinyModel.pipeline(), TinyModel.registry(), TinyModel.folder());
    }

    /** A server on another pipeline (which the caller closes) of a model folder. */
    static TestServer start(ServerSettings settings, MontagePipeline pipeline, ComponentRegistry registry, Path model)
            throws IOException {
        return new TestServer(settings, null, pipeline, registry, model);
    }

    /** A server on another pipeline (which the caller closes) whose generations run through {@code generator}. */
    static TestServer start(ServerSettings settings, GenerationService.Generator generator, MontagePipeline pipeline,
            ComponentRegistry registry, Path model) throws IOException {
        return new TestServer(settings, generator, pipeline, registry, model);
    }

    /** Lets held generations go on. */
    void release() {
        released.countDown();
    }

    private ProgressListener holding(ProgressListener listener) {
        return new ProgressListener() {
            @Override
            public boolean onStep(int step, int total, Duration elapsed) {
                boolean go = listener.onStep(step, total, elapsed);
                if (step == 1) {
                    await();
                }
                return go;
            }

            @Override
            public void onStage(String stage) {
                listener.onStage(stage);
            }
        };
    }

    private void await() {
        try {
            if (!released.await(HOLD_LIMIT_SECONDS, TimeUnit.SECONDS)) {
                throw new IllegalStateException("a held generation was never released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A service running the tiny pipeline as it is, not yet started. */
    static GenerationService plainService(ServerSettings settings) throws IOException {
        MontagePipeline pipeline = TinyModel.pipeline();
        return new GenerationService(settings, (request, loras, listener) -> plain(request, listener), pipeline);
    }

    static GenerationResult plain(GenerationRequest request, ProgressListener listener) {
        return TinyModel.pipeline().generate(request, listener);
    }

    @Override
    public void close() {
        release();
        server.close();
    }

    /** For tests that pass a token. */
    MontageClient client(Optional<String> token) {
        return new MontageClient(URI.create(server.url()), token);
    }
}
