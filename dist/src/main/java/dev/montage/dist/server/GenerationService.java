package dev.montage.dist.server;

import dev.montage.api.Control;
import dev.montage.api.FieldError;
import dev.montage.api.GenerationCancelledException;
import dev.montage.api.GenerationRequest;
import dev.montage.api.GenerationResult;
import dev.montage.api.MontageException;
import dev.montage.api.ProgressListener;
import dev.montage.api.spi.TextEncoder;
import dev.montage.dist.record.ModelHashes;
import dev.montage.runtime.output.PngFiles;
import dev.montage.runtime.pipeline.ControlNets;
import dev.montage.runtime.pipeline.Lora;
import dev.montage.runtime.pipeline.MontagePipeline;
import dev.montage.runtime.pipeline.SubjectFields;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs generation requests on one pipeline with a bounded queue and a fixed number of workers, keeps the state and
 * events of the waiting, running and newest ended jobs, stores results in the output folder and answers for older
 * succeeded ones, of this run or earlier ones, from there. It knows nothing of HTTP; {@link MontageServer} puts it
 * on the network.
 *
 * <p>Cancelling a queued job takes it out of the queue; cancelling a running one makes its progress listener
 * answer {@code false}, so the pipeline stops at the next step and releases everything.
 *
 * <p>A worker whose generation throws an {@link Error} (out of memory, a stack overflow) fails that job, which lets
 * go of its memory, and ends; a fresh thread takes its place, so nothing the Error left half-done on the thread is
 * used again. While no worker runs (a replacement could not be started) the service is not ready and refuses
 * requests.
 */
public final class GenerationService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GenerationService.class);
    private static final String SHUTTING_DOWN = "the server is shutting down";

    /** Runs one generation: the pipeline in production, a stand-in where tests need one. */
    @FunctionalInterface
    interface Generator {
        /** @param loras the LoRAs to run with, besides the pipeline's own */
        GenerationResult generate(GenerationRequest request, List<Lora> loras, ProgressListener listener);
    }

    /**
     * A job taken into the queue.
     *
     * @param id       the job's id
     * @param position its place in the queue, 1 = next
     */
    public record Submission(String id, int position) {
    }

    /** What a cancel request did. */
    enum CancelOutcome {
        /** The job was queued and left the queue. */
        CANCELLED,
        /** The job is running and stops at its next step. */
        STOPPING,
        /** The job had already ended. */
        ALREADY_ENDED
    }

    /** The queue is full; try again after {@link #retryAfterSeconds()}. */
    static final class QueueFullException extends RejectedExecutionException {
        private final long retryAfterSeconds;

        QueueFullException(int queueSize, long retryAfterSeconds) {
            super("the queue is full (" + queueSize + " waiting); try again in " + retryAfterSeconds + " s");
            this.retryAfterSeconds = retryAfterSeconds;
        }

        long retryAfterSeconds() {
            return retryAfterSeconds;
        }
    }

    private final ServerSettings settings;
    private final Generator generator;
    private final MontagePipeline pipeline;
    private final List<String> schedulers;
    private final String defaultScheduler;
    private final ControlNets controlNets;
    private final Optional<SubjectFields> subjectFields;
    private final ResultStore results;
    private final ServerMetrics metrics = new ServerMetrics();
    private final Map<String, Job> jobs = new ConcurrentHashMap<>();
    /** The ended jobs still in {@link #jobs}, oldest first. */
    private final ArrayDeque<Job> ended = new ArrayDeque<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<Job> queue = new ArrayDeque<>();
    private final Set<Job> running = new LinkedHashSet<>();
    private final List<Thread> threads = new ArrayList<>();
    private final ThreadFactory workerThreads;
    private final AtomicInteger workers = new AtomicInteger();
    private volatile String noWorker = "no worker can take a job";
    private boolean accepting = true;
    private boolean stopping;
    private volatile boolean ready;
    private volatile String notReady = "warming up";

    /**
     * A service on an assembled pipeline; earlier results in the output folder are listed at once.
     *
     * @throws IOException when the output folder cannot be created or read
     */
    public GenerationService(ServerSettings settings, MontagePipeline pipeline) throws IOException {
        this(settings, new LoraVariants(pipeline, settings.loraVariants())::generate, pipeline, workerThreads());
    }

    /** A service whose generations run through {@code generator}; the rest of what it serves is the pipeline's. */
    GenerationService(ServerSettings settings, Generator generator, MontagePipeline pipeline) throws IOException {
        this(settings, generator, pipeline, workerThreads());
    }

    /** A service whose workers run on the threads {@code workerThreads} makes. */
    GenerationService(ServerSettings settings, Generator generator, MontagePipeline pipeline,
            ThreadFactory workerThreads) throws IOException {
        this.settings = settings;
        this.workerThreads = workerThreads;
        this.generator = generator;
        this.pipeline = pipeline;
        this.schedulers = List.copyOf(pipeline.schedulerIds());
        this.defaultScheduler = pipeline.defaultSchedulerId();
        this.controlNets = pipeline.controlNets();
        this.subjectFields = pipeline.subjectFields();
        this.results = new ResultStore(settings.outputDir(), new ModelHashes(ModelHashes.cacheFolder()));
        results.load().forEach(this::retire);
    }

    private static ThreadFactory workerThreads() {
        AtomicInteger n = new AtomicInteger();
        return task -> {
            Thread worker = new Thread(task, "montage-worker-" + n.getAndIncrement());
            worker.setDaemon(true);
            return worker;
        };
    }

    /**
     * Warms the pipeline up with its {@linkplain MontagePipeline#warmUpRequest() warm-up generation} (profile key
     * {@code pipeline.warm_up}), then starts the workers.
     * Requests are queued meanwhile.
     *
     * @return completes when the service is ready, or exceptionally with what made the warm-up fail
     */
    public CompletableFuture<Void> start() {
        CompletableFuture<Void> warm = new CompletableFuture<>();
        Thread warmUp = new Thread(() -> {
            try {
                pipeline.warmUpRequest().ifPresent(r -> generator.generate(r, List.of(), ProgressListener.NONE));
                startWorkers();
                warm.complete(null);
            } catch (RuntimeException e) {
                notReady = "the warm-up generation failed: " + e.getMessage();
                LOG.error("Warm-up generation failed", e);
                warm.completeExceptionally(e);
            }
        }, "montage-warm-up");
        warmUp.setDaemon(true);
        lock.lock();
        try {
            threads.add(warmUp);
        } finally {
            lock.unlock();
        }
        warmUp.start();
        return warm;
    }

    private void startWorkers() {
        lock.lock();
        try {
            if (stopping) {
                return;
            }
            for (int i = 0; i < settings.concurrency(); i++) {
                startWorker();
            }
            ready = true;
        } finally {
            lock.unlock();
        }
    }

    /** Starts a worker; when no thread can be had, the service does without it (and with none is not ready). */
    private void startWorker() {
        try {
            Thread worker = workerThreads.newThread(this::work);
            worker.start();
            threads.add(worker);
            workers.incrementAndGet();
        } catch (RuntimeException | Error e) {
            noWorker = "no worker can take a job: a worker thread could not be started: " + e;
            LOG.error("Cannot start a worker thread", e);
        }
    }

    /** Whether the pipeline is warm, requests are taken and a worker is there to run them. */
    public boolean isReady() {
        return ready && workers.get() > 0;
    }

    /** Why the service is not ready (only meaningful while {@link #isReady()} is false). */
    String notReadyReason() {
        return ready ? noWorker : notReady;
    }

    List<String> schedulerIds() {
        return schedulers;
    }

    String defaultScheduler() {
        return defaultScheduler;
    }

    /** What the pipeline's components refuse in a request. */
    List<FieldError> requestProblems(GenerationRequest request) {
        return pipeline.requestProblems(request);
    }

    /** What is wrong with a request's scheduler id and settings. */
    List<FieldError> schedulerProblems(String id, Map<String, String> options) {
        return pipeline.schedulerProblems(id, options);
    }

    /** The pipeline's ControlNets, which check the controls of requests. */
    ControlNets controlNets() {
        return controlNets;
    }

    /** What the pipeline's subject adapter reads, which checks the subjects of requests. */
    Optional<SubjectFields> subjectFields() {
        return subjectFields;
    }

    ResultStore results() {
        return results;
    }

    /** Where each phrase sits in the prompt's tokens, as auto layout finds it ({@link MontagePipeline#locatePhrases}). */
    List<TextEncoder.TokenSpan> locatePhrases(String prompt, List<String> phrases) {
        return pipeline.locatePhrases(prompt, phrases);
    }

    /** The picture a control's ControlNet receives in a generation of this size ({@link MontagePipeline#controlImage}). */
    BufferedImage controlImage(Control control, int width, int height) {
        return pipeline.controlImage(control, width, height);
    }

    /**
     * Queues a validated request.
     *
     * @param loras      the LoRAs it runs with
     * @param parameters its effective parameters in the API's names
     * @throws QueueFullException when {@link ServerSettings#queueSize()} jobs are waiting
     * @throws RejectedExecutionException when the service is shutting down
     */
    Submission submit(GenerationRequest request, List<Lora> loras, Map<String, Object> parameters) {
        lock.lock();
        try {
            if (!accepting) {
                throw new RejectedExecutionException(SHUTTING_DOWN);
            }
            if (ready && workers.get() == 0) {
                throw new RejectedExecutionException(noWorker);
            }
            if (queue.size() >= settings.queueSize()) {
                metrics.rejected();
                throw new QueueFullException(queue.size(), retryAfterSeconds());
            }
            Job job = new Job(Ids.next(), request, loras, parameters, Instant.now());
            jobs.put(job.id(), job);
            queue.addLast(job);
            metrics.submitted();
            job.queued(queue.size());
            changed.signalAll();
            return new Submission(job.id(), queue.size());
        } finally {
            lock.unlock();
        }
    }

    /** A free queue place is expected when a worker finishes: about one mean generation over the workers. */
    private long retryAfterSeconds() {
        double seconds = metrics.meanGenerationSeconds() / settings.concurrency();
        return Math.max(1, Math.min(600, (long) Math.ceil(seconds)));
    }

    /** A job in memory, or an older succeeded one read back from its result. */
    Optional<Job> job(String id) {
        Job job = jobs.get(id);
        return job != null ? Optional.of(job) : results.find(id);
    }

    /**
     * Keeps an ended job among the newest {@link ServerSettings#maxFinishedJobs()} ended ones and forgets the oldest
     * beyond them. Called with the lock held, or from the constructor.
     */
    private void retire(Job job) {
        jobs.put(job.id(), job);
        ended.addLast(job);
        while (ended.size() > settings.maxFinishedJobs()) {
            jobs.remove(ended.pollFirst().id());
        }
    }

    /** The job's view with its current queue position. */
    Map<String, Object> view(Job job) {
        return job.view(position(job));
    }

    private int position(Job job) {
        lock.lock();
        try {
            int i = 1;
            for (Job queued : queue) {
                if (queued == job) {
                    return i;
                }
                i++;
            }
            return 0;
        } finally {
            lock.unlock();
        }
    }

    /** Views of the newest {@code limit} jobs in {@code state} (any when empty), newest first. */
    List<Map<String, Object>> list(Optional<JobState> state, int limit) {
        return jobs.values().stream().filter(job -> state.isEmpty() || job.state() == state.get())
                .sorted(Comparator.comparing(Job::createdAt).reversed()).limit(limit).map(this::view).toList();
    }

    /** Tells every waiting job its place after the queue moved. Called with the lock held. */
    private void queueMoved() {
        int position = 1;
        for (Job job : queue) {
            job.queued(position++);
        }
    }

    /** What is waiting and what is running. */
    Map<String, Object> queueView() {
        lock.lock();
        try {
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("workers", settings.concurrency());
            v.put("queueSize", settings.queueSize());
            List<Map<String, Object>> waiting = new ArrayList<>();
            int position = 1;
            for (Job job : queue) {
                waiting.add(Job.ordered("id", job.id(), "position", position++, "createdAt",
                        job.createdAt().toString()));
            }
            v.put("queued", waiting);
            v.put("running", runningNow().stream().map(job -> job.view(0)).map(view -> Job.ordered("id",
                    view.get("id"), "step", view.get("step"), "total", view.get("total"), "startedAt",
                    view.get("startedAt"))).toList());
            return v;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The jobs being generated, under the lock. A job has ended, and told its clients so, a moment before its worker
     * lets go of it; it is no longer counted from then on.
     */
    private List<Job> runningNow() {
        return running.stream().filter(job -> !job.state().terminal()).toList();
    }

    /** Cancels a job: a queued one leaves the queue, a running one stops at its next step. */
    CancelOutcome cancel(Job job) {
        lock.lock();
        try {
            if (queue.remove(job)) {
                queueMoved();
                job.cancelled(Instant.now(), "cancelled by the client while queued");
                metrics.ended(JobState.CANCELLED, 0);
                retire(job);
                return CancelOutcome.CANCELLED;
            }
            return job.requestCancel("cancelled by the client") ? CancelOutcome.STOPPING : CancelOutcome.ALREADY_ENDED;
        } finally {
            lock.unlock();
        }
    }

    /** The Prometheus text of {@code GET /metrics}. */
    String metricsText() {
        lock.lock();
        try {
            return metrics.render(queue.size(), runningNow().size(), settings.concurrency(), settings.queueSize(),
                    ready);
        } finally {
            lock.unlock();
        }
    }

    private void work() {
        boolean replace = false;
        try {
            for (Job job = next(); job != null; job = next()) {
                try {
                    run(job);
                } finally {
                    lock.lock();
                    try {
                        running.remove(job);
                        retire(job);
                        changed.signalAll();
                    } finally {
                        lock.unlock();
                    }
                }
            }
        } catch (Error e) {
            noWorker = "no worker can take a job: the last one stopped after " + e;
            replace = true;
        } finally {
            lock.lock();
            try {
                workers.decrementAndGet();
                threads.remove(Thread.currentThread());
                if (replace && !stopping) {
                    LOG.warn("Replacing worker {} after an error", Thread.currentThread().getName());
                    startWorker();
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /** The next queued job, marked running; null when the service stops. */
    private Job next() {
        lock.lock();
        try {
            while (queue.isEmpty() && !stopping) {
                changed.awaitUninterruptibly();
            }
            Job job = queue.pollFirst();
            if (job != null) {
                running.add(job);
                job.started(Instant.now());
                queueMoved();
            }
            return job;
        } finally {
            lock.unlock();
        }
    }

    private void run(Job job) {
        long start = System.nanoTime();
        try {
            GenerationResult result = generator.generate(job.request(), job.loras(), new JobListener(job, start));
            if (job.cancelReason() != null) {
                // asked to stop while the images were decoded: the client no longer wants them
                throw new GenerationCancelledException(job.cancelReason());
            }
            Instant finished = Instant.now();
            results.save(job, result, finished);
            job.succeeded(finished, result.images().size());
            metrics.ended(JobState.SUCCEEDED, (System.nanoTime() - start) / 1e9);
        } catch (GenerationCancelledException e) {
            job.cancelled(Instant.now(), job.cancelReason() != null ? job.cancelReason() : e.getMessage());
            metrics.ended(JobState.CANCELLED, 0);
        } catch (IOException e) {
            fail(job, "cannot store the result in " + results.dir() + ": " + e.getMessage(), e);
        } catch (MontageException e) {
            // the request, the models or a plugin: the message says what to change, a stack trace would not
            fail(job, e.getMessage(), null);
        } catch (RuntimeException e) {
            fail(job, e.getClass().getSimpleName() + ": " + e.getMessage(), e);
        } catch (Error e) {
            fail(job, "internal error: " + e, e);
            throw e;
        }
    }

    private void fail(Job job, String reason, Throwable cause) {
        if (cause != null) {
            LOG.error("Generation {} failed", job.id(), cause);
        }
        job.failed(Instant.now(), reason);
        metrics.ended(JobState.FAILED, 0);
    }

    /**
     * Feeds a job's progress, previews, the step-time histogram and the cancel request into the running pipeline.
     */
    private final class JobListener implements ProgressListener {
        private final Job job;
        private final long start;
        private long last;
        private long denoisingStart;

        JobListener(Job job, long start) {
            this.job = job;
            this.start = start;
            this.last = start;
        }

        @Override
        public int previewEvery() {
            return settings.previewEvery();
        }

        @Override
        public void onPreview(int step, int total, BufferedImage preview) {
            try {
                job.preview(step, total, PngFiles.encode(preview, Map.of()));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot encode the preview of step " + step, e);
            }
        }

        @Override
        public void onStage(String stage) {
            if (job.cancelReason() != null) {
                throw new GenerationCancelledException(job.cancelReason());
            }
            last = System.nanoTime();
        }

        @Override
        public boolean cancelRequested() {
            return job.cancelReason() != null;
        }

        @Override
        public boolean onStep(int step, int total, Duration elapsed) {
            long now = System.nanoTime();
            if (step == 1) {
                denoisingStart = last;
            }
            metrics.step((now - last) / 1e9);
            last = now;
            double perStep = (now - denoisingStart) / 1e9 / step;
            job.progress(step, total, (now - start) / 1e9, perStep * (total - step));
            return job.cancelReason() == null;
        }
    }

    /**
     * Stops taking requests, cancels the queued ones, lets running ones finish for up to {@code grace}, then asks
     * them to stop and waits until every worker has ended. Calling it again does nothing more.
     */
    public void shutdown(Duration grace) {
        List<Thread> toJoin;
        boolean interrupted = false;
        lock.lock();
        try {
            if (!accepting) {
                return;
            }
            accepting = false;
            ready = false;
            notReady = SHUTTING_DOWN;
            Instant now = Instant.now();
            for (Job job : queue) {
                job.cancelled(now, SHUTTING_DOWN);
                metrics.ended(JobState.CANCELLED, 0);
                retire(job);
            }
            queue.clear();
            long left = grace.toNanos();
            while (!running.isEmpty() && left > 0 && !interrupted) {
                try {
                    left = changed.awaitNanos(left);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            for (Job job : running) {
                job.requestCancel(SHUTTING_DOWN + " and the grace period of " + grace.toSeconds() + " s is over");
            }
            stopping = true;
            changed.signalAll();
            toJoin = new ArrayList<>(threads);
        } finally {
            lock.unlock();
        }
        // the workers stop at their next step; they must be gone before the engine under them is closed
        for (Thread t : toJoin) {
            while (t.isAlive()) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** {@link #shutdown(Duration)} with the configured grace period. */
    @Override
    public void close() {
        shutdown(settings.shutdownGrace());
    }
}
