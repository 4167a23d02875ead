package dev.montage.plugins.vae;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The tensors of an {@code AutoencoderKL} checkpoint of a configuration (diffusers names, current layout). */
final class VaeLayout {
    private final Map<String, long[]> shapes = new LinkedHashMap<>();

    private VaeLayout() {
    }

    static Map<String, long[]> shapes(VaeConfig c) {
        VaeLayout l = new VaeLayout();
        List<Integer> ch = c.blockOutChannels();
        int last = ch.get(ch.size() - 1);
        int latent = c.latentChannels();
        l.conv("encoder.conv_in", ch.get(0), c.inChannels(), 3);
        int in = ch.get(0);
        for (int i = 0; i < ch.size(); i++) {
            int out = ch.get(i);
            for (int j = 0; j < c.layersPerBlock(); j++) {
                l.resnet("encoder.down_blocks." + i + ".resnets." + j, j == 0 ? in : out, out);
            }
            if (i < ch.size() - 1) {
                l.conv("encoder.down_blocks." + i + ".downsamplers.0.conv", out, out, 3);
            }
            in = out;
        }
        l.midBlock("encoder.mid_block", last, c.midBlockAttention());
        l.norm("encoder.conv_norm_out", last);
        l.conv("encoder.conv_out", 2 * latent, last, 3);
        if (c.useQuantConv()) {
            l.conv("quant_conv", 2 * latent, 2 * latent, 1);
        }
        if (c.usePostQuantConv()) {
            l.conv("post_quant_conv", latent, latent, 1);
        }
        l.conv("decoder.conv_in", last, latent, 3);
        l.midBlock("decoder.mid_block", last, c.midBlockAttention());
        in = last;
        for (int i = 0; i < ch.size(); i++) {
            int out = ch.get(ch.size() - 1 - i);
            for (int j = 0; j <= c.layersPerBlock(); j++) {
                l.resnet("decoder.up_blocks." + i + ".resnets." + j, j == 0 ? in : out, out);
            }
            if (i < ch.size() - 1) {
                l.conv("decoder.up_blocks." + i + ".upsamplers.0.conv", out, out, 3);
            }
            in = out;
        }
        l.norm("decoder.conv_norm_out", ch.get(0));
        l.conv("decoder.conv_out", c.outChannels(), ch.get(0), 3);
        return l.shapes;
    }

    private void midBlock(String p, int c, boolean attention) {
        resnet(p + ".resnets.0", c, c);
        if (attention) {
            norm(p + ".attentions.0.group_norm", c);
            for (String proj : new String[] {"to_q", "to_k", "to_v", "to_out.0"}) {
                shapes.put(p + ".attentions.0." + proj + ".weight", new long[] {c, c});
                shapes.put(p + ".attentions.0." + proj + ".bias", new long[] {c});
            }
        }
        resnet(p + ".resnets.1", c, c);
    }

    private void resnet(String p, int in, int out) {
        norm(p + ".norm1", in);
        conv(p + ".conv1", out, in, 3);
        norm(p + ".norm2", out);
        conv(p + ".conv2", out, out, 3);
        if (in != out) {
            conv(p + ".conv_shortcut", out, in, 1);
        }
    }

    private void norm(String p, int c) {
        shapes.put(p + ".weight", new long[] {c});
        shapes.put(p + ".bias", new long[] {c});
    }

    private void conv(String p, int out, int in, int k) {
        shapes.put(p + ".weight", new long[] {out, in, k, k});
        shapes.put(p + ".bias", new long[] {out});
    }
}
