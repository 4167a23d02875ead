package dev.montage.api.host;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * The one scope idiom for call-local arrays. DJL attaches an op's result to the manager of the array it is called
 * on, so ops on a caller's array would leave their results in the caller's manager until the caller closes it. A
 * call that computes intermediates therefore
 * <ol>
 *   <li>opens a sub-manager of its input's manager: {@code try (NDManager scope = caller.newSubManager())};
 *   <li>{@linkplain #borrow borrows} every caller-owned array it operates on into that scope, so results of ops on
 *       them land there;
 *   <li>attaches its result to the caller's manager and returns it; closing the scope frees every intermediate.
 * </ol>
 * An intermediate too large to wait for the end of the call is closed once used ({@link #replace}). Arrays that must
 * outlive the call belong to a manager that lives long enough: a component's weights to its own, a generation's state
 * to the generation's.
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

    /** Closes an intermediate that is no longer needed and hands on its successor (keeps peak memory low). */
    public static NDArray replace(NDArray used, NDArray next) {
        used.close();
        return next;
    }
}
