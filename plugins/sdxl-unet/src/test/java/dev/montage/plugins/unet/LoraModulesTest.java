package dev.montage.plugins.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The UNet's kohya-ss module names on the layout of SDXL base (three levels, no attention on the first, no
 * downsampler on the last), for the parts the tiny model's LoRA does not reach: samplers, shortcuts, the embeddings,
 * the third level.
 */
class LoraModulesTest {

    @Test
    void sdxlBaseModulesHaveTheirOriginalNumbering() {
        Map<String, String> modules = new SdxlUNetFactory().loraModules(SdxlUNetFactory.MODEL_KEY, sdxlBaseNames());
        Map<String, String> expected = Map.of(
                "input_blocks_3_0_op", "down_blocks.0.downsamplers.0.conv.weight",
                "input_blocks_6_0_op", "down_blocks.1.downsamplers.0.conv.weight",
                "input_blocks_7_1_transformer_blocks_0_attn1_to_q",
                "down_blocks.2.attentions.0.transformer_blocks.0.attn1.to_q.weight",
                "input_blocks_7_0_skip_connection", "down_blocks.2.resnets.0.conv_shortcut.weight",
                "middle_block_2_emb_layers_1", "mid_block.resnets.1.time_emb_proj.weight",
                "output_blocks_2_2_conv", "up_blocks.0.upsamplers.0.conv.weight",
                "output_blocks_5_2_conv", "up_blocks.1.upsamplers.0.conv.weight",
                "output_blocks_8_0_out_layers_3", "up_blocks.2.resnets.2.conv2.weight",
                "time_embed_0", "time_embedding.linear_1.weight",
                "label_emb_0_2", "add_embedding.linear_2.weight");
        expected.forEach((module, tensor) -> assertEquals(tensor, modules.get(module), module));
    }

    /** The weight names of SDXL base's blocks that fix the numbering, one transformer layer each. */
    private static Set<String> sdxlBaseNames() {
        Set<String> names = new LinkedHashSet<>();
        for (int level = 0; level < 3; level++) {
            for (int r = 0; r < 2; r++) {
                names.add("down_blocks." + level + ".resnets." + r + ".conv1.weight");
                names.add("down_blocks." + level + ".resnets." + r + ".conv2.weight");
                if (level > 0) {
                    names.add("down_blocks." + level + ".attentions." + r
                            + ".transformer_blocks.0.attn1.to_q.weight");
                }
            }
            if (level > 0) {
                names.add("down_blocks." + level + ".resnets.0.conv_shortcut.weight");
            }
            if (level < 2) {
                names.add("down_blocks." + level + ".downsamplers.0.conv.weight");
            }
            for (int r = 0; r < 3; r++) {
                names.add("up_blocks." + level + ".resnets." + r + ".conv2.weight");
                if (level < 2) {
                    names.add("up_blocks." + level + ".attentions." + r + ".proj_in.weight");
                }
            }
            if (level < 2) {
                names.add("up_blocks." + level + ".upsamplers.0.conv.weight");
            }
        }
        names.add("mid_block.resnets.1.time_emb_proj.weight");
        names.add("time_embedding.linear_1.weight");
        names.add("add_embedding.linear_2.weight");
        return names;
    }
}
