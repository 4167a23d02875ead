package dev.montage.plugins.vae;

import static dev.montage.api.host.Scopes.replace;

import ai.djl.ndarray.NDArray;
import dev.montage.nn.Downsample2D;
import dev.montage.nn.ResnetBlock2D;
import dev.montage.nn.Weights;
import java.util.ArrayList;
import java.util.List;

/** {@code encoder.down_blocks.N}: {@code layers} resnets (the first changes the channels), then an optional downsampler. */
final class DownEncoderBlock2D {
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final Downsample2D downsampler;

    DownEncoderBlock2D(Weights w, int in, int out, int layers, boolean downsample, int groups) {
        for (int i = 0; i < layers; i++) {
            resnets.add(new ResnetBlock2D(w.prefixed("resnets." + i), i == 0 ? in : out, out, groups,
                    VaeConfig.NORM_EPS, 0, 1f));
        }
        downsampler = downsample ? new Downsample2D(w.prefixed("downsamplers.0"), out, 0) : null;
    }

    NDArray forward(NDArray x) {
        NDArray h = resnets.get(0).forward(x, null);
        for (int i = 1; i < resnets.size(); i++) {
            h = replace(h, resnets.get(i).forward(h, null));
        }
        return downsampler == null ? h : replace(h, downsampler.forward(h));
    }
}
