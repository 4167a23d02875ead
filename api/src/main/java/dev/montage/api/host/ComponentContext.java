package dev.montage.api.host;

import ai.djl.Device;

import java.util.Map;

/**
 * What the host gives a component factory: where to compute, in which dtype, with which kernels, and the
 * model files the profile configured for the component.
 */
public interface ComponentContext {

    /** The device every tensor of the component must live on. */
    Device device();

    /** The compute dtype. */
    ComputeDType dtype();

    /** Fused kernels for that device and dtype. */
    Kernels kernels();

    /**
     * A configured model component folder, e.g. {@code "unet"} of the base model or {@code "image_encoder"}.
     *
     * @throws IllegalArgumentException naming the key, and the profile entry that should provide it
     */
    ModelFolder model(String key);

    /** Component-specific settings from the profile (empty when none). */
    Map<String, String> options();
}
