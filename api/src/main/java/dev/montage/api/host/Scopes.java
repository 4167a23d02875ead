package dev.montage.api.host;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * Keeps per-call intermediates in a call's own manager. DJL attaches an op's result to the manager of the array
 * it is called on, so ops on a caller's array would leave their results in the caller's manager until the caller
 * closes it; ops on a borrowed alias leave them in the call's scope, freed when the call ends.
 */
public final class Scopes {
    private Scopes() {
    }

    /** An alias of {@code x} (same storage, no copy) owned by {@code scope}. */
    public static NDArray borrow(NDArray x, NDManager scope) {
        NDArray alias = x.stopGradient();
        alias.attach(scope);
        return alias;
    }
}
