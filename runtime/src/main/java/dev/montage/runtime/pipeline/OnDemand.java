package dev.montage.runtime.pipeline;

import dev.montage.runtime.engine.NativeMemory;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * A component of a pipeline that is either held for the pipeline's whole life, or created when a generation needs
 * it and closed as soon as no running generation uses it, so that its weights are resident only while it computes
 * (the encoders under {@link PipelineBuilder#releaseEncoders(boolean)}, the denoiser under
 * {@link PipelineBuilder#releaseDenoiser(boolean)}).
 *
 * <p>Thread-safe: concurrent generations share one instance, counted by their open {@link Lease}s.
 */
final class OnDemand<T> implements AutoCloseable {
    private final Supplier<T> create;
    private T instance;
    private int users;

    private OnDemand(T instance, Supplier<T> create) {
        this.instance = instance;
        this.create = create;
    }

    /** A component held for the pipeline's life; it is closed by whoever created it, never here. */
    static <T> OnDemand<T> held(T instance) {
        return new OnDemand<>(Objects.requireNonNull(instance, "instance"), null);
    }

    /** A component created by {@code create} for each use after none remained, and closed when its last use ends. */
    static <T> OnDemand<T> released(Supplier<T> create) {
        return new OnDemand<>(null, Objects.requireNonNull(create, "create"));
    }

    /** One use of the component: {@link Lease#get()} it, then close the lease. */
    synchronized Lease<T> lease() {
        if (instance == null) {
            instance = create.get();
        }
        users++;
        return new Lease<>(this, instance);
    }

    private synchronized void end() {
        users--;
        if (users == 0 && create != null) {
            closeInstance();
        }
    }

    /** Closes a component this holder created that is still open (generations still running lose it). */
    @Override
    public synchronized void close() {
        if (create != null) {
            closeInstance();
        }
    }

    private void closeInstance() {
        T closing = instance;
        instance = null;
        if (closing instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("cannot close " + closing.getClass().getName() + ": "
                        + e.getMessage(), e);
            }
            // the allocator keeps freed blocks for the next step; these weights are not coming back soon
            NativeMemory.releaseFreed();
        }
    }

    /** One use of an {@link OnDemand} component. */
    static final class Lease<T> implements AutoCloseable {
        private final OnDemand<T> owner;
        private final T component;
        private boolean closed;

        private Lease(OnDemand<T> owner, T component) {
            this.owner = owner;
            this.component = component;
        }

        T get() {
            return component;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                owner.end();
            }
        }
    }
}
