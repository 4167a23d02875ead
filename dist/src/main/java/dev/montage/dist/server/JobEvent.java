package dev.montage.dist.server;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One server-sent event of a generation.
 *
 * @param sequence increasing per job, sent as the event id so a reconnecting client can say what it has seen
 * @param type     {@code queued}, {@code started}, {@code progress}, {@code preview}, {@code finished},
 *                 {@code failed} or {@code cancelled}
 * @param data     the event's JSON object
 */
record JobEvent(long sequence, String type, Map<String, Object> data) {
    static final String QUEUED = "queued";
    static final String STARTED = "started";
    static final String PROGRESS = "progress";
    static final String PREVIEW = "preview";
    static final String FINISHED = "finished";
    static final String FAILED = "failed";
    static final String CANCELLED = "cancelled";

    JobEvent {
        data = Collections.unmodifiableMap(new LinkedHashMap<>(data));
    }

    /** Whether this event makes the earlier ones of its type out of date (a queue position, progress, preview). */
    boolean supersedes() {
        return type.equals(QUEUED) || type.equals(PROGRESS) || type.equals(PREVIEW);
    }

    /** Whether this is the job's last event. */
    boolean terminal() {
        return type.equals(FINISHED) || type.equals(FAILED) || type.equals(CANCELLED);
    }
}
