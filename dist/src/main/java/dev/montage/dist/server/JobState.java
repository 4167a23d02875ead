package dev.montage.dist.server;

import java.util.Locale;

/** Where a generation is in its life; the last three are final. */
enum JobState {
    QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED;

    /** Whether nothing more happens to a job in this state. */
    boolean terminal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }

    /** The name clients see, e.g. {@code succeeded}. */
    String apiName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
