package dev.montage.plugins.unet;

import ai.djl.ndarray.NDArray;

/** Receives intermediate outputs by module name; {@link #NONE} outside conformance tests. */
interface StageRecorder {
    /** Records nothing. */
    StageRecorder NONE = (name, value) -> { };

    /** @param value the output of module {@code name}; must not be modified or closed by the recorder */
    void record(String name, NDArray value);
}
