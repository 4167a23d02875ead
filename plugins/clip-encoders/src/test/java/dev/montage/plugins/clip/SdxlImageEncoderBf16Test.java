package dev.montage.plugins.clip;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.montage.api.host.ComputeDType;
import dev.montage.api.spi.ImageEncoder;
import dev.montage.runtime.engine.EngineConfig;
import dev.montage.runtime.engine.MontageEngine;
import dev.montage.runtime.testing.Golden;
import dev.montage.runtime.testing.GoldenTensors;
import dev.montage.runtime.weights.LocalModelFolder;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The subject encoder in bf16: the whole path (float32 pixels moved and cast, bf16 tower) runs without touching
 * a DJL operation that aborts on bf16, and stays near the float32 reference (bf16 keeps 8 bits of mantissa, so
 * the tolerance is 0.1 on values up to 4.8).
 */
class SdxlImageEncoderBf16Test {

    @Test
    void encodesInBf16() {
        try (MontageEngine engine = MontageEngine.start(EngineConfig.of("cpu", "bfloat16"));
                LocalModelFolder folder = new LocalModelFolder(Golden.model().resolve("image_encoder"), Optional.empty(),
                        engine.device(), engine.computeDType(), engine.kernels());
                SdxlImageEncoder encoder = new SdxlImageEncoder(folder, ImagePreparation.OFFICIAL, engine.manager(),
                        engine.kernels(), engine.computeDType());
                GoldenTensors golden = GoldenTensors.open("two_subjects_ddim");
                NDManager m = engine.manager().newSubManager()) {
            NDArray embeds = encoder.encode(m, SdxlImageEncoderGoldenTest.subjects("two_subjects_ddim"),
                    ImageEncoder.Features.PENULTIMATE_HIDDEN_STATES);
            assertEquals(ComputeDType.BFLOAT16, engine.kernels().dtypeOf(embeds));
            golden.assertClose("image_embeds", embeds, 0.1);
        }
    }
}
