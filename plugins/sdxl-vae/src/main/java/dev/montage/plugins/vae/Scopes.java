package dev.montage.plugins.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.function.UnaryOperator;

/**
 * Memory discipline of the VAE blocks. At 1024 x 1024 one activation of the last decoder level is 128
 * channels x 1024 x 1024 (512 MiB in float32), so intermediates are released as soon as the next one exists
 * instead of when the whole decode ends.
 */
final class Scopes {
    private Scopes() {
    }

    /**
     * Runs {@code body} with {@code x} temporarily moved into a fresh sub-manager, so that every array the
     * body creates from it (DJL attaches results to the manager of the first operand) is freed on return;
     * only the result is attached to {@code x}'s own manager.
     */
    static NDArray scoped(NDArray x, UnaryOperator<NDArray> body) {
        NDManager caller = x.getManager();
        try (NDManager scope = caller.newSubManager()) {
            x.tempAttach(scope);
            NDArray out = body.apply(x);
            out.attach(caller);
            return out;
        }
    }

    /** Closes an intermediate that is no longer needed and hands on its successor. */
    static NDArray replace(NDArray used, NDArray next) {
        used.close();
        return next;
    }
}
