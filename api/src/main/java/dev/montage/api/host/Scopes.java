package dev.montage.api.host;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.function.UnaryOperator;

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

    /**
     * Runs {@code body} with {@code x} temporarily moved into a fresh sub-manager, so every array the body creates
     * from it is freed on return; only the result is attached to {@code x}'s own manager.
     */
    public static NDArray scoped(NDArray x, UnaryOperator<NDArray> body) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            x.tempAttach(scope);
            NDArray out = body.apply(x);
            out.attach(caller);
            return out;
        }
    }

    /** Closes an intermediate that is no longer needed and hands on its successor (keeps peak memory low). */
    public static NDArray replace(NDArray used, NDArray next) {
        used.close();
        return next;
    }
}
