package dev.montage.dist.server;

import dev.montage.api.GenerationRequest;
import dev.montage.runtime.pipeline.Lora;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One generation the server took on: its state, progress, timings, effective parameters and the events told so
 * far. All methods are safe to call from any thread; state changes publish their event to every subscriber.
 *
 * <p>The request (with its subject pictures) is released when the job ends; what remains is small.
 */
final class Job {
    private final String id;
    private final Instant createdAt;
    private final List<Lora> loras;
    private final Map<String, Object> parameters;
    private GenerationRequest request;
    private JobState state = JobState.QUEUED;
    private int step;
    private int total;
    private Instant startedAt;
    private Instant finishedAt;
    private String reason;
    private int images;
    private String cancelReason;
    private long sequence;
    private final List<JobEvent> history = new ArrayList<>();
    private final List<EventSubscription> subscribers = new ArrayList<>();

    /**
     * @param loras      the LoRAs it runs with
     * @param parameters the effective parameters in the API's names, as the client sees them
     */
    Job(String id, GenerationRequest request, List<Lora> loras, Map<String, Object> parameters, Instant createdAt) {
        this(id, request, loras, parameters, createdAt, request.steps());
    }

    private Job(String id, GenerationRequest request, List<Lora> loras, Map<String, Object> parameters,
            Instant createdAt, int total) {
        this.id = id;
        this.request = request;
        this.loras = List.copyOf(loras);
        this.parameters = parameters;
        this.createdAt = createdAt;
        this.total = total;
    }

    /** A job that succeeded before a restart, as its sidecar tells it. */
    static Job restored(String id, Map<String, Object> parameters, Instant createdAt, Instant startedAt,
            Instant finishedAt, int steps, int images) {
        Job job = new Job(id, null, List.of(), parameters, createdAt, steps);
        job.startedAt = startedAt;
        job.finishedAt = finishedAt;
        job.step = steps;
        job.images = images;
        job.state = JobState.SUCCEEDED;
        job.publish(JobEvent.FINISHED, job.finishedData());
        return job;
    }

    String id() {
        return id;
    }

    synchronized JobState state() {
        return state;
    }

    /** The request to run; null once the job ended. */
    synchronized GenerationRequest request() {
        return request;
    }

    synchronized int images() {
        return images;
    }

    Instant createdAt() {
        return createdAt;
    }

    /** The LoRAs it runs with. */
    List<Lora> loras() {
        return loras;
    }

    /** The effective parameters in the API's names. */
    Map<String, Object> parameters() {
        return parameters;
    }

    synchronized Instant startedAt() {
        return startedAt;
    }

    synchronized void queued(int position) {
        publish(JobEvent.QUEUED, ordered("id", id, "position", position));
    }

    synchronized void started(Instant now) {
        state = JobState.RUNNING;
        startedAt = now;
        publish(JobEvent.STARTED, ordered("id", id, "total", total));
    }

    /**
     * @param elapsedSeconds seconds since the generation started running
     * @param etaSeconds     estimated seconds until the last step is done
     */
    synchronized void progress(int step, int total, double elapsedSeconds, double etaSeconds) {
        this.step = step;
        this.total = total;
        publish(JobEvent.PROGRESS, ordered("id", id, "step", step, "total", total, "elapsedSeconds",
                round(elapsedSeconds), "etaSeconds", round(etaSeconds)));
    }

    /** @param png the preview of the image after {@code step}, a PNG */
    synchronized void preview(int step, int total, byte[] png) {
        publish(JobEvent.PREVIEW, ordered("id", id, "step", step, "total", total, "image", "data:image/png;base64,"
                + Base64.getEncoder().encodeToString(png)));
    }

    synchronized void succeeded(Instant now, int images) {
        this.images = images;
        end(JobState.SUCCEEDED, now, null);
        publish(JobEvent.FINISHED, finishedData());
    }

    synchronized void failed(Instant now, String why) {
        end(JobState.FAILED, now, why);
        publish(JobEvent.FAILED, ordered("id", id, "reason", why));
    }

    synchronized void cancelled(Instant now, String why) {
        end(JobState.CANCELLED, now, why);
        publish(JobEvent.CANCELLED, ordered("id", id, "reason", why));
    }

    private void end(JobState to, Instant now, String why) {
        state = to;
        finishedAt = now;
        reason = why;
        request = null;
    }

    /**
     * Asks a running job to stop at its next step.
     *
     * @return false when the job has already ended
     */
    synchronized boolean requestCancel(String why) {
        if (state.terminal()) {
            return false;
        }
        if (cancelReason == null) {
            cancelReason = why;
        }
        return true;
    }

    /** Why the job was asked to stop, or null when it was not. */
    synchronized String cancelReason() {
        return cancelReason;
    }

    /**
     * Events after {@code afterSequence} (0 for all) are delivered at once, later ones as they happen. A queue
     * position, progress or preview that has been superseded is not replayed.
     */
    synchronized EventSubscription subscribe(long afterSequence) {
        EventSubscription subscription = new EventSubscription(this);
        history.stream().filter(e -> e.sequence() > afterSequence).forEach(subscription::offer);
        if (!state.terminal()) {
            subscribers.add(subscription);
        }
        return subscription;
    }

    synchronized void unsubscribe(EventSubscription subscription) {
        subscribers.remove(subscription);
    }

    private void publish(String type, Map<String, Object> data) {
        JobEvent event = new JobEvent(++sequence, type, data);
        if (event.supersedes()) {
            history.removeIf(e -> e.type().equals(type));
        }
        history.add(event);
        subscribers.forEach(s -> s.offer(event));
        if (event.terminal()) {
            subscribers.clear();
        }
    }

    private Map<String, Object> finishedData() {
        return ordered("id", id, "images", imagePaths(), "seconds", round(seconds(startedAt, finishedAt)));
    }

    /**
     * What {@code GET /v1/generations/{id}} answers.
     *
     * @param position place in the queue (1 = next), or 0 when not waiting
     */
    synchronized Map<String, Object> view(int position) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("id", id);
        v.put("state", state.apiName());
        v.put("position", position);
        v.put("step", step);
        v.put("total", total);
        v.put("createdAt", createdAt.toString());
        v.put("startedAt", startedAt == null ? null : startedAt.toString());
        v.put("finishedAt", finishedAt == null ? null : finishedAt.toString());
        Map<String, Object> timings = new LinkedHashMap<>();
        timings.put("queuedSeconds", startedAt == null ? null : round(seconds(createdAt, startedAt)));
        timings.put("runSeconds", finishedAt == null || startedAt == null ? null
                : round(seconds(startedAt, finishedAt)));
        v.put("timings", timings);
        v.put("parameters", parameters);
        v.put("images", imagePaths());
        if (reason != null) {
            v.put("reason", reason);
        }
        return v;
    }

    private List<String> imagePaths() {
        List<String> paths = new ArrayList<>();
        for (int n = 0; n < images; n++) {
            paths.add("/v1/generations/" + id + "/images/" + n + ".png");
        }
        return paths;
    }

    /** A JSON object with its keys in the order given, so answers and streams read the same every time. */
    static Map<String, Object> ordered(Object... keysAndValues) {
        Map<String, Object> data = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            data.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return data;
    }

    /** The file name of image {@code n} of a job in the output folder. */
    static String imageFile(String id, int n) {
        return ResultFiles.image(id, n);
    }

    private static double seconds(Instant from, Instant to) {
        return Duration.between(from, to).toNanos() / 1e9;
    }

    private static double round(double seconds) {
        return Math.round(seconds * 1000) / 1000.0;
    }
}
