package dev.montage.dist.server;

import java.time.Duration;
import java.util.ArrayDeque;

/**
 * The events of one job for one listener, buffered so the generating thread never waits for a slow client: a queue
 * position, progress or preview not yet taken is replaced by a newer one, the few lifecycle events are all kept.
 */
final class EventSubscription implements AutoCloseable {
    private final Job job;
    private final ArrayDeque<JobEvent> pending = new ArrayDeque<>();

    EventSubscription(Job job) {
        this.job = job;
    }

    synchronized void offer(JobEvent event) {
        if (event.supersedes()) {
            pending.removeIf(e -> e.type().equals(event.type()));
        }
        pending.addLast(event);
        notifyAll();
    }

    /**
     * The next event, waiting up to {@code timeout} for one.
     *
     * @return the event, or null when none came in time
     */
    synchronized JobEvent next(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (pending.isEmpty()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return null;
            }
            wait(left / 1_000_000, (int) (left % 1_000_000));
        }
        return pending.pollFirst();
    }

    @Override
    public void close() {
        job.unsubscribe(this);
    }
}
