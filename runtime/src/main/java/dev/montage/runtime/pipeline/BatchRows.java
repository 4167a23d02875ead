package dev.montage.runtime.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import java.util.Collections;

/**
 * How the batch of a denoiser call holds a request's images, in parts of one row per image each: with classifier-free
 * guidance the unconditional part first, then the conditional part, and with perturbed-attention guidance the
 * conditional part again, in which the perturbed layers attend with the identity (diffusers' PAG pipelines order them
 * so).
 *
 * @param guided    whether the batch has the unconditional part
 * @param perturbed whether it ends with the perturbed part
 */
record BatchRows(boolean guided, boolean perturbed) {

    /** How many parts: 1 to 3. */
    int parts() {
        return (guided ? 1 : 0) + 1 + (perturbed ? 1 : 0);
    }

    /** Index of the conditional part. */
    int conditional() {
        return guided ? 1 : 0;
    }

    /**
     * The parts of a value that differs between the unconditional and conditional rows.
     *
     * @param uncond the unconditional part, ignored (may be null) without guidance
     */
    NDArray of(NDArray uncond, NDArray cond) {
        NDList parts = new NDList();
        if (guided) {
            parts.add(uncond);
        }
        parts.add(cond);
        if (perturbed) {
            parts.add(cond);
        }
        return parts.size() == 1 ? cond : NDArrays.concat(parts);
    }

    /** The parts of a value that every part holds alike. */
    NDArray repeated(NDArray x) {
        int n = parts();
        return n == 1 ? x : NDArrays.concat(new NDList(Collections.nCopies(n, x)));
    }
}
