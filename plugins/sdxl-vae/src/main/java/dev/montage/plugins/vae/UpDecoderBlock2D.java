package dev.montage.plugins.vae;

import static dev.montage.api.host.Scopes.replace;

import ai.djl.ndarray.NDArray;
import dev.montage.nn.ResnetBlock2D;
import dev.montage.nn.Upsample2D;
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.List;

/** {@code decoder.up_blocks.N}: {@code layers} resnets (the first changes the channels), then an optional upsampler. */
final class UpDecoderBlock2D {
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final Upsample2D upsampler;

    UpDecoderBlock2D(Weights w, int in, int out, int layers, boolean upsample, int groups) {
        for (int i = 0; i < layers; i++) {
            resnets.add(new ResnetBlock2D(w.prefixed("resnets." + i), i == 0 ? in : out, out, groups,
                    VaeConfig.NORM_EPS, 0, 1f));
        }
        upsampler = upsample ? new Upsample2D(w.prefixed("upsamplers.0"), out) : null;
    }

    NDArray forward(NDArray x) {
        NDArray h = resnets.get(0).forward(x, null);
        for (int i = 1; i < resnets.size(); i++) {
            h = replace(h, resnets.get(i).forward(h, null));
        }
        return upsampler == null ? h : replace(h, upsampler.forward(h, null));
    }
}
