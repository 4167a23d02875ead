package dev.montage.plugins.resampler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/** Helpers that keep per-call intermediates in a call's own manager. */
final class ScopedArrays {
    private ScopedArrays() {
    }

    /**
     * An alias of {@code x} (same storage, no copy) owned by {@code scope}. DJL attaches the result of an op to the
     * manager of its receiver, so ops on a caller's array would otherwise leave their results in the caller's
     * manager; ops on the alias leave them in the scope.
     */
    static NDArray borrow(NDArray x, NDManager scope) {
        NDArray alias = x.stopGradient();
        alias.attach(scope);
        return alias;
    }
}
