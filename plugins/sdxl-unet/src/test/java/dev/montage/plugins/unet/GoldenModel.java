package dev.montage.plugins.unet;

import dev.montage.api.GenerationContext;
import dev.montage.api.GenerationRequest;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.TestEngine;
import dev.montage.runtime.weights.LocalModelFolder;

/** The golden tiny model's UNet and ControlNet on the shared test engine. */
final class GoldenModel {
    private GoldenModel() {
    }

    /** The tiny UNet, with default attention everywhere. */
    static SdxlUNet unet() {
        return new SdxlUNet(TestEngine.folder(Golden.model().resolve("unet")), TestEngine.manager(),
                TestEngine.kernels(), TestEngine.dtype());
    }

    /** The tiny model's {@code controlnet} folder. */
    static LocalModelFolder controlNetFolder() {
        return TestEngine.folder(Golden.model().resolve("controlnet"));
    }

    /** The tiny ControlNet, serving {@code type}. */
    static SdxlControlNet controlNet(String type) {
        return SdxlControlNet.load(type, controlNetFolder(), TestEngine.manager(), TestEngine.kernels(),
                TestEngine.dtype());
    }

    /** The tiny UNet's configuration. */
    static UNetConfig unetConfig() {
        return UNetConfig.from(TestEngine.folder(Golden.model().resolve("unet")).config());
    }

    /** A generation context for {@code steps} steps. */
    static GenerationContext context(int steps) {
        return new GenerationContext(GenerationRequest.builder("test").steps(steps).build());
    }
}
